/** `vfioctl doctor`, `check` and `explain` in-process on fixture host trees: exit codes, JSON, human output. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { firmwareOff, intelReady, unsafeInterrupts } from '../support/doctor-hosts.js';

const trees: { cleanup(): void }[] = [];
after(() => trees.forEach((t) => t.cleanup()));
function tree(spec: HostSpec): string {
  const t = makeTempHostTree(spec);
  trees.push(t);
  return t.root;
}

interface Report {
  version: number;
  verdict: string;
  summary: { ok: number; info: number; warn: number; fail: number; total: number };
  findings: { id: string; severity: string; summary: string; evidence: unknown[]; remedy?: string; category: string; subjects?: string[] }[];
  devices: { address: string; verdict: string }[];
}

// ANSI colour sequences start with ESC (code 27).
const ESC = String.fromCharCode(27);

const READY = tree(intelReady());
const FW_OFF = tree(firmwareOff());

test('doctor --json on a ready host: exit 0, verdict ready, summary counts the findings', async () => {
  const r = await runCli(['doctor', '--root', READY, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json<Report>();
  assert.equal(j.verdict, 'ready');
  assert.equal(j.version, 1);
  assert.equal(j.summary.total, j.findings.length);
  assert.equal(j.summary.fail, 0);
  assert.equal(j.summary.ok, j.findings.filter((f) => f.severity === 'ok').length);
  assert.ok(j.findings.some((f) => f.id === 'iommu-kernel' && f.severity === 'ok'));
  const lv = j.findings.find((f) => f.id === 'libvirt')!;
  assert.match(lv.summary, /not installed/);
  assert.deepEqual(j.devices, []);
});

test('doctor on a host with VT-d off: exit 3, human checklist with the remedy under the failure, no colour with NO_COLOR', async () => {
  const r = await runCli(['doctor', '--root', FW_OFF], { env: { NO_COLOR: '1' }, isTTY: true });
  assert.equal(r.code, 3);
  assert.ok(!r.stdout.includes(`${ESC}[`));
  const lines = r.stdout.split('\n');
  const i = lines.findIndex((l) => l.includes('[FAIL]') && l.includes('(iommu-firmware)'));
  assert.ok(i >= 0, r.stdout);
  assert.match(lines[i + 1]!, /^\s+remedy: enable "Intel Virtualization Technology for Directed I\/O" \(VT-d\)/);
  assert.match(r.stdout, /^Firmware$/m);
  assert.match(r.stdout, /NOT READY: \d+ fail/);
  const json = await runCli(['doctor', '--root', FW_OFF, '--json']);
  assert.equal(json.code, 3);
  assert.equal(json.json<Report>().verdict, 'not-ready');
});

test('colour on a terminal without NO_COLOR; --verbose shows evidence', async () => {
  const r = await runCli(['doctor', '--root', READY, '--verbose'], { isTTY: true, env: { TERM: 'xterm' } });
  assert.ok(r.stdout.includes(`${ESC}[`));
  assert.match(r.stdout, /\/sys\/class\/iommu\/dmar0\/intel-iommu\/ecap: f050da \(IR bit 3 = 1\)/);
});

test('doctor ADDR adds device findings and a per-device verdict', async () => {
  const r = await runCli(['doctor', '01:00.0', '--root', READY, '--json']);
  const j = r.json<Report>();
  assert.deepEqual(j.devices.map((d) => [d.address, d.verdict]), [['0000:01:00.0', 'ready']]);
  assert.ok(j.findings.some((f) => f.id === 'device-group' && f.subjects?.[0] === '0000:01:00.0'));
  assert.ok(j.findings.some((f) => f.id === 'iommu-firmware'), 'host findings are all there');
});

test('check ADDR: device findings plus only the host findings that warn or fail', async () => {
  const ok = await runCli(['check', 'pci_0000_03_00_0', '--root', READY, '--json']);
  assert.equal(ok.code, 0);
  const j = ok.json<Report>();
  assert.ok(j.findings.every((f) => f.category === 'device' || f.severity === 'warn' || f.severity === 'fail'));
  assert.ok(j.findings.some((f) => f.id === 'device-reset' && f.severity === 'ok'));

  const blocked = await runCli(['check', '03:00.0', '--root', tree(firmwareOff()), '--json']);
  assert.equal(blocked.code, 3);
  const b = blocked.json<Report>();
  assert.equal(b.devices[0]!.verdict, 'not-ready');
  assert.ok(b.findings.some((f) => f.id === 'device-group' && f.severity === 'fail'));
  assert.ok(b.findings.some((f) => f.id === 'iommu-firmware'));
});

test('a malformed address is a usage error (exit 2), never a path', async () => {
  const r = await runCli(['check', '../../etc', '--root', READY, '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.json<{ error: { code: string } }>().error.code, 'bad-address');
});

test('explain: cause, fix and facts of the host; --no-host; unknown text exits 1', async () => {
  const r = await runCli(['explain', 'vfio 0000:01:00.0: group 1 is not viable', '--root', READY, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json<{ matches: { id: string; facts: { value: string }[] }[] }>();
  assert.equal(j.matches[0]!.id, 'group-not-viable');
  assert.ok(j.matches[0]!.facts.some((f) => /BLOCKS: on host driver snd_hda_intel/.test(f.value)));

  const human = await runCli(['explain', 'No', 'interrupt', 'remapping', 'support', '--root', tree(unsafeInterrupts())], { env: { NO_COLOR: '1' } });
  assert.equal(human.code, 0);
  assert.match(human.stdout, /^No interrupt remapping support$/m);
  assert.match(human.stdout, /^ {2}cause: /m);
  assert.match(human.stdout, /^ {2}on this host:$/m);
  assert.match(human.stdout, /allow_unsafe_interrupts: Y/);

  const bare = await runCli(['explain', '--no-host', 'Code 43', '--json']);
  assert.equal(bare.json<{ matches: { facts: unknown[] }[] }>().matches[0]!.facts.length, 0);

  const none = await runCli(['explain', 'nothing to see', '--no-host']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no known message/);
  assert.match(none.stderr, /remedy: vfioctl explain --list/);

  const list = await runCli(['explain', '--list', '--json']);
  assert.ok(list.json<{ known: { id: string }[] }>().known.some((k) => k.id === 'windows-code-43'));
});
