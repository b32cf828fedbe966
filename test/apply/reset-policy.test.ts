import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { HostRoot } from '../../src/host/host-root.js';
import { StateStore } from '../../src/apply/state.js';
import { applyResetMethod } from '../../src/apply/reset-policy.js';
import { parseJournal } from '../../src/apply/journal-schema.js';
import { SPEC, envFor, useFakeApplyRuntime } from './helpers.js';

const runtime = useFakeApplyRuntime(['udevadm']);

/** SPEC with a Polaris 10 GPU (1002:67df, no FLR: bus reset only) behind 00:04.0, reset_method "bus", and an NVMe with FLR. */
const RESET_SPEC: HostSpec = {
  ...SPEC,
  functions: [
    ...SPEC.functions.filter((f) => f.address !== '0000:04:00.0' && f.address !== '0000:02:00.0'),
    { address: '0000:02:00.0', vendor: 0x10de, device: 0x1b80, classCode: 0x030000, driver: 'nouveau', iommuGroup: 2, parent: '0000:00:02.0', resetMethod: ['flr', 'bus'], caps: { pcie: { portType: 'endpoint', flr: true }, pm: { noSoftReset: true } } },
    { address: '0000:04:00.0', vendor: 0x1002, device: 0x67df, classCode: 0x030000, driver: 'amdgpu', iommuGroup: 4, parent: '0000:00:04.0', resetMethod: ['bus'], caps: { pcie: { portType: 'endpoint' }, pm: { noSoftReset: true } } },
  ],
};

const env = (root: string): Record<string, string> => ({ PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: path.join(root, 'fake.log'), NO_COLOR: '1' });
const rules = (root: string): string | null => {
  const p = path.join(root, 'etc/udev/rules.d/63-vfioctl-reset.rules');
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
};
const resetOf = (root: string, a: string): string => fs.readFileSync(path.join(root, 'sys/bus/pci/devices', a, 'reset_method'), 'utf8');

describe('vfioctl reset-policy', () => {
  it('show: reset_method, what the kernel would try from config space, and the AMD reset bug with its fix', async () => {
    const t = makeTempHostTree(RESET_SPEC);
    try {
      const r = await runCli(['reset-policy', 'show', '04:00.0', '02:00.0', '--json', '--root', t.root]);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json<{ functions: { address: string; current: string[] | null; settable: boolean; candidates: { method: string; available: string }[]; bug: { family: string; fix: string[]; order: string[] } | null }[] }>();
      const amd = j.functions.find((f) => f.address === '0000:04:00.0')!;
      assert.deepEqual(amd.current, ['bus']);
      assert.equal(amd.bug?.family, 'AMD Polaris 10/11');
      assert.deepEqual(amd.bug?.order, ['device_specific']);
      assert.match(amd.bug!.fix.join('\n'), /vendor-reset/);
      assert.match(amd.bug!.fix.join('\n'), /reset-policy set 0000:04:00\.0 --order device_specific --persist/);
      assert.deepEqual(amd.candidates.map((c) => c.method), ['device_specific', 'acpi', 'bus'], 'no FLR in DevCap, PM with No_Soft_Reset: only the bus reset is certain');
      const nv = j.functions.find((f) => f.address === '0000:02:00.0')!;
      assert.equal(nv.bug, null);
      assert.deepEqual(nv.candidates.filter((c) => c.available === 'yes').map((c) => c.method), ['flr']);
    } finally {
      t.cleanup();
    }
  });

  it('show: without reset_method (kernel before 5.15) the candidates come from config space and the order is not settable', async () => {
    const spec: HostSpec = { ...RESET_SPEC, functions: RESET_SPEC.functions.map((f) => (f.address === '0000:02:00.0' ? { ...f, resetMethod: undefined, caps: { pcie: { portType: 'endpoint', flr: true }, af: { flr: true }, pm: {} } } : f)) };
    const t = makeTempHostTree(spec);
    try {
      const j = (await runCli(['reset-policy', 'show', '02:00.0', '--json', '--root', t.root])).json<{ functions: { current: null; settable: boolean; candidates: { method: string; available: string }[] }[] }>();
      assert.equal(j.functions[0]!.current, null);
      assert.equal(j.functions[0]!.settable, false);
      assert.deepEqual(j.functions[0]!.candidates.map((c) => `${c.method}:${c.available}`), ['acpi:maybe', 'flr:yes', 'af_flr:yes', 'pm:yes', 'bus:maybe']);
      const s = await runCli(['reset-policy', 'set', '02:00.0', '--order', 'flr', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(s.code, 3, s.stderr);
      assert.match(s.stderr, /no reset_method file/);
    } finally {
      t.cleanup();
    }
  });

  it('set --persist: dry run shows the write and the rule; apply writes reset_method (journaled) and the udev rule; default forgets it', async () => {
    const t = makeTempHostTree(RESET_SPEC);
    try {
      const d = await runCli(['reset-policy', 'set', '02:00.0', '--order', 'bus,flr', '--persist', '--dry-run', '--root', t.root], { env: env(t.root) });
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /echo 'bus flr' > .*0000:02:00\.0\/reset_method|echo "bus flr" > .*reset_method|bus flr/);
      assert.match(d.stdout, /\+ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:02:00\.0", ATTR\{reset_method\}="bus flr"/);
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'flr bus\n', 'a dry run changes nothing');
      assert.equal(rules(t.root), null);

      const r = await runCli(['reset-policy', 'set', '02:00.0', '--order', 'bus,flr', '--persist', '--yes', '--json', '--root', t.root], { env: env(t.root) });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json<{ result: { before: string; after: string } }>().result, { runId: r.json<{ result: { runId: string } }>().result.runId, before: 'flr bus', after: 'bus flr' });
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'bus flr\n');
      assert.equal(rules(t.root), '# Managed by vfioctl: regenerated by `vfioctl reset-policy set --persist`; do not edit.\nACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:02:00.0", ATTR{reset_method}="bus flr"\n');
      const state = new StateStore(new HostRoot(t.root)).readState();
      assert.deepEqual(state.persisted['reset:0000:02:00.0']?.resetOrder, ['bus', 'flr']);
      const runs = fs.readdirSync(path.join(t.root, 'var/lib/vfioctl/runs'));
      const journals = runs.map((n) => parseJournal(fs.readFileSync(path.join(t.root, 'var/lib/vfioctl/runs', n), 'utf8')));
      assert.ok(journals.every((j) => j.ok), 'the journals check against the schema');
      assert.ok(journals.some((j) => j.ok && j.value.steps.some((s) => s.type === 'reset-method' && s.before === 'flr bus' && s.after === 'bus flr')));

      const off = await runCli(['reset-policy', 'set', '02:00.0', '--order', 'default', '--persist', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(off.code, 0, off.stderr);
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'flr bus\n', 'default restores the kernel order');
      assert.equal(rules(t.root), null, 'the last kept order gone: the rules file goes');
      assert.equal(new StateStore(new HostRoot(t.root)).readState().persisted['reset:0000:02:00.0'], undefined);
    } finally {
      t.cleanup();
    }
  });

  it('warns on the reset-bug family when the order does not use vendor-reset, and refuses a method the kernel does not offer', async () => {
    const t = makeTempHostTree(RESET_SPEC);
    try {
      const w = await runCli(['reset-policy', 'set', '04:00.0', '--order', 'bus', '--dry-run', '--root', t.root], { env: env(t.root) });
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stderr, /warning: 0000:04:00\.0: AMD Polaris 10\/11 GPUs do not come back/);
      assert.match(w.stderr, /fix: install vendor-reset/);
      const bad = await runCli(['reset-policy', 'set', '04:00.0', '--order', 'flr', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(bad.code, 3, bad.stderr);
      assert.match(bad.stderr, /the kernel does not offer flr for 0000:04:00\.0 \(it offers bus\)/);
      const junk = await runCli(['reset-policy', 'set', '04:00.0', '--order', 'bus;reboot', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(junk.code, 2, junk.stderr);
      assert.match(junk.stderr, /is not a reset method/);
    } finally {
      t.cleanup();
    }
  });

  it('a failed write changes nothing; an interrupted run is undone by recover (the journal gives the order back)', async () => {
    const t = makeTempHostTree(RESET_SPEC);
    try {
      const e = envFor(t.root, { faults: [{ step: 'reset_method', kind: 'EIO' }] });
      await assert.rejects(applyResetMethod(e.ctx, '0000:02:00.0', 'bus flr'), /EIO/);
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'flr bus\n');
      e.kernel.dispose();
      // a run killed after its write: the journal says running, reset_method holds the new order
      new FakeKernel(t.root).writePciAttr({ domain: 0, bus: 2, slot: 0, fn: 0 }, 'reset_method', 'bus\n');
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'bus\n');
      const journal = { version: 1, runId: '20260101T000000Z-abcdef', command: 'reset-policy set', args: ['0000:02:00.0', 'bus'], pid: 999999, startedAt: '2026-01-01T00:00:00Z', status: 'running', steps: [{ seq: 1, type: 'reset-method', address: '0000:02:00.0', before: 'flr bus', after: 'bus', status: 'done' }], commit: {} };
      fs.mkdirSync(path.join(t.root, 'var/lib/vfioctl'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(t.root, 'var/lib/vfioctl/journal.json'), JSON.stringify(journal));
      const p = await runCli(['recover', '--dry-run', '--root', t.root], { env: env(t.root) });
      assert.match(p.stdout, /echo flr bus > .*0000:02:00\.0\/reset_method/);
      const r = await runCli(['recover', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(resetOf(t.root, '0000:02:00.0'), 'flr bus\n');
    } finally {
      t.cleanup();
    }
  });
});
