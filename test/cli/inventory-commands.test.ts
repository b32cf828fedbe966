import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { desktopGpu, sriovNic, noIommu } from '../support/topologies.js';
import { runCli } from '../support/cli.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));
function tree(spec = desktopGpu()): string {
  const t = makeTempHostTree(spec);
  cleanups.push(t.cleanup);
  return t.root;
}
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'vfioctl-cli-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const noIds = { VFIOCTL_PCI_IDS: '' };
const ANSI = new RegExp(String.fromCharCode(27) + '\\[');

test('ls --json: every function, stable fields', async () => {
  const root = tree();
  const r = await runCli(['ls', '--json', '--root', root], { env: noIds });
  assert.equal(r.code, 0, r.stderr);
  const out = r.json<{ version: number; functions: { address: string; vendorId: string; driver: string | null; iommuGroup: number | null }[] }>();
  assert.equal(out.version, 1);
  assert.equal(out.functions.length, desktopGpu().functions.length);
  const gpu = out.functions.find((f) => f.address === '0000:01:00.0')!;
  assert.deepEqual([gpu.vendorId, gpu.driver, gpu.iommuGroup], ['10de', 'nouveau', 1]);
});

test('ls human: table with IDs, drivers, groups and flags; no colour when not a terminal', async () => {
  const r = await runCli(['ls', '--root', tree()], { env: noIds });
  assert.equal(r.code, 0);
  const line = r.stdout.split('\n').find((l) => l.startsWith('01:00.0'))!;
  assert.match(line, /\[10de:1b80\]/);
  assert.match(line, /nouveau/);
  assert.match(line, /boot-vga/);
  assert.match(line, /rom/);
  assert.doesNotMatch(r.stdout, ANSI);
});

test('colour follows the terminal and NO_COLOR / --no-color', async () => {
  const root = tree();
  assert.match((await runCli(['groups', '--root', root], { env: noIds, isTTY: true })).stdout, ANSI);
  assert.doesNotMatch((await runCli(['groups', '--root', root], { env: { ...noIds, NO_COLOR: '1' }, isTTY: true })).stdout, ANSI);
  assert.doesNotMatch((await runCli(['groups', '--no-color', '--root', root], { env: noIds, isTTY: true })).stdout, ANSI);
});

test('groups: members with roles; shared platform group flagged host-critical', async () => {
  const root = tree();
  const j = (await runCli(['groups', '--json', '--root', root], { env: noIds })).json<{ groups: { id: number; isolation: string; hostCritical: unknown[]; members: { address: string; role: string }[] }[] }>();
  const g1 = j.groups.find((g) => g.id === 1)!;
  assert.deepEqual(g1.members.map((m) => m.role), ['bridge', 'endpoint', 'endpoint']);
  assert.equal(j.groups.find((g) => g.id === 8)!.hostCritical.length, 2);
  const human = (await runCli(['groups', '--root', root], { env: noIds })).stdout;
  assert.match(human, /group 8.*host-critical: ISA\/LPC bridge, SMBus controller/);
  assert.match(human, /group 1 \(DMA\)\s+isolated/);
});

test('groups on a host without an IOMMU says so and points to doctor', async () => {
  const r = await runCli(['groups', '--root', tree(noIommu())], { env: noIds });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /no IOMMU groups/);
  assert.match(r.stdout, /vfioctl doctor/);
});

test('show: any address spelling, topology and group mates', async () => {
  const root = tree();
  for (const spelling of ['01:00.0', '0000:01:00.0', 'pci_0000_01_00_0']) {
    const j = (await runCli(['show', spelling, '--json', '--root', root], { env: noIds })).json<{ function: { address: string }; group: { members: unknown[] }; topology: { path: { address: string }[] } }>();
    assert.equal(j.function.address, '0000:01:00.0');
    assert.deepEqual(j.topology.path.map((p) => p.address), ['0000:00:01.0', '0000:01:00.0']);
    assert.equal(j.group.members.length, 3);
  }
  const human = (await runCli(['show', '01:00.0', '--root', root], { env: noIds })).stdout;
  assert.match(human, /expansion rom\s+present/);
  assert.match(human, /<- this function/);
});

test('show SR-IOV PF lists VFs', async () => {
  const r = await runCli(['show', '03:00.0', '--root', tree(sriovNic())], { env: noIds });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /physical function: 2 of 8 VFs/);
});

test('bad input: malformed address, unknown device, missing root — clear errors, no stack, right exit codes', async () => {
  const root = tree();
  const bad = await runCli(['show', '../../etc/passwd', '--root', root]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^vfioctl: not a PCI address/);
  assert.match(bad.stderr, /remedy: /);
  assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/);
  const missing = await runCli(['show', '05:00.0', '--root', root]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no PCI function 0000:05:00.0/);
  const json = await runCli(['show', '01:00.9', '--json', '--root', root]);
  assert.equal(json.code, 2);
  assert.equal(json.json<{ error: { code: string } }>().error.code, 'bad-address');
  const noRoot = await runCli(['ls', '--root', '/nonexistent/vfioctl']);
  assert.equal(noRoot.code, 2);
  assert.match(noRoot.stderr, /host root .* cannot be read/);
  const unknownOpt = await runCli(['ls', '--frobnicate']);
  assert.equal(unknownOpt.code, 2);
});

test('--from: imported listing, with what it cannot know', async () => {
  const dir = tmp();
  const file = join(dir, 'groups.txt');
  writeFileSync(file, 'IOMMU Group 1 01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b80] (rev a1)\nIOMMU Group 1 01:00.1 Audio device [0403]: NVIDIA Corporation GP104 HDA [10de:10f0] (rev a1)\n');
  const r = await runCli(['groups', '--from', file], { env: noIds });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /group 1\s+isolated/);
  assert.match(r.stdout, /not known from this listing: drivers in use/);
  const j = (await runCli(['ls', '--json', '--from', file])).json<{ source: { kind: string; format: string } }>();
  assert.deepEqual([j.source.kind, j.source.format], ['import', 'iommu-groups-inline']);
  const bad = await runCli(['ls', '--from', join(dir, 'nope.txt')]);
  assert.equal(bad.code, 2);
});

for (const archive of [false, true]) {
  test(`snapshot ${archive ? '.tar.gz' : 'directory'} replays to identical ls/groups/show JSON`, async () => {
    const root = tree(sriovNic());
    const out = join(tmp(), archive ? 'host.tar.gz' : 'snap');
    const s = await runCli(['snapshot', out, '--json', '--root', root]);
    assert.equal(s.code, 0, s.stderr);
    for (const cmd of [['ls'], ['groups'], ['show', '03:00.0']]) {
      const live = (await runCli([...cmd, '--json', '--root', root], { env: noIds })).json<{ source: unknown }>();
      const replay = (await runCli([...cmd, '--json', '--root', out], { env: noIds })).json<{ source: unknown }>();
      delete (live as { source?: unknown }).source;
      delete (replay as { source?: unknown }).source;
      assert.deepEqual(replay, live, cmd.join(' '));
    }
    const again = await runCli(['snapshot', out, '--root', root]);
    assert.equal(again.code, 2, 'never overwrites');
  });
}

test('snapshot carries what doctor and plan read: identical doctor/plan JSON on replay', async () => {
  const root = tree(desktopGpu());
  const out = join(tmp(), 'snap');
  assert.equal((await runCli(['snapshot', out, '--root', root])).code, 0);
  for (const cmd of [['doctor'], ['doctor', '01:00.0'], ['plan', '01:00.0'], ['plan', '03:00.0']]) {
    const live = await runCli([...cmd, '--json', '--root', root], { env: noIds });
    const replay = await runCli([...cmd, '--json', '--root', out], { env: noIds });
    assert.equal(replay.code, live.code, cmd.join(' '));
    assert.equal(replay.stdout.split(root).join('ROOT'), live.stdout.split(root).join('ROOT').split(out).join('ROOT'), cmd.join(' '));
  }
});

test('--sample works before or after the command; --sample-host picks another; unknown sample lists them', async () => {
  const before = await runCli(['--sample', 'groups', '--json'], { env: noIds });
  const after_ = await runCli(['groups', '--sample', '--json'], { env: noIds });
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(before.json(), after_.json());
  assert.ok(before.json<{ groups: unknown[] }>().groups.length > 0);
  const named = await runCli(['show', '01:00.0', '--sample-host', 'desktop-gpu', '--json'], { env: noIds });
  assert.equal(named.code, 0, named.stderr);
  const bad = await runCli(['ls', '--sample-host', 'nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /available samples: .*desktop-gpu/);
});

test('VFIOCTL_ROOT selects the host root; an empty value means unset (the live /)', async () => {
  const root = tree();
  const viaEnv = await runCli(['ls', '--json'], { env: { ...noIds, VFIOCTL_ROOT: root } });
  assert.equal(viaEnv.json<{ source: { root: string } }>().source.root, root);
  const empty = await runCli(['ls', '--json'], { env: { ...noIds, VFIOCTL_ROOT: '' } });
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.json<{ source: { root: string } }>().source.root, '/');
});
