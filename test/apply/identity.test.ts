import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { HostRoot } from '../../src/host/host-root.js';
import { StateStore } from '../../src/apply/state.js';
import { parseHostState } from '../../src/apply/journal-schema.js';
import { SPEC, useFakeApplyRuntime } from './helpers.js';

const runtime = useFakeApplyRuntime(['udevadm', 'systemctl', 'update-initramfs']);
const env = (root: string): Record<string, string> => ({ PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: path.join(root, 'fake.log'), NO_COLOR: '1' });

const GPU = '0000:02:00.0';
/** SPEC with the GPU and its audio carrying subsystem IDs, the GPU a Device Serial Number. */
function spec(gpu: { vendor: number; device: number; dsn?: string; subDevice?: number }): HostSpec {
  return {
    ...SPEC,
    functions: SPEC.functions.map((f) => {
      if (f.address === GPU) return { ...f, vendor: gpu.vendor, device: gpu.device, subVendor: 0x1462, subDevice: gpu.subDevice ?? 0x3364, caps: { pcie: { portType: 'endpoint' as const }, ...(gpu.dsn ? { dsn: gpu.dsn } : {}) } };
      if (f.address === '0000:02:00.1') return { ...f, subVendor: 0x1462, subDevice: 0x3364 };
      return f;
    }),
  };
}
const ORIGINAL = { vendor: 0x10de, device: 0x1b80, dsn: '0011223344556677' };

/** Copy vfioctl's state and the boot-time files from one tree to another (the same host after a hardware change). */
function carry(from: string, to: string): void {
  for (const rel of ['var/lib/vfioctl', 'etc']) fs.cpSync(path.join(from, rel), path.join(to, rel), { recursive: true });
}

/** Run the early unit's script against the tree (its /sys paths moved under the root), as systemd would at boot. */
function runBindUnit(root: string): string {
  const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/vfioctl-bind.service'), 'utf8');
  const script = /ExecStart=\/bin\/sh -c '(.*)'$/m.exec(unit)![1]!.replaceAll('/sys/', `${root}/sys/`);
  return execFileSync('sh', ['-c', `exec 2>&1; ${script}`], { encoding: 'utf8' });
}
const override = (root: string, a: string): string => fs.readFileSync(path.join(root, 'sys/bus/pci/devices', a, 'driver_override'), 'utf8').trim();

describe('stable identity of persisted devices', () => {
  it('persist records IDs, subsystem, serial number and topology path; the boot-time files match only that device', async () => {
    const t = makeTempHostTree(spec(ORIGINAL));
    try {
      const r = await runCli(['persist', '02:00.0', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(r.code, 0, r.stderr);
      const rec = new StateStore(new HostRoot(t.root)).readState().persisted[`address:${GPU}`]!;
      assert.deepEqual(rec.identity, { vendorId: '10de', deviceId: '1b80', subsystemVendorId: '1462', subsystemDeviceId: '3364', serial: '0011223344556677', serialKnown: true, path: 'pci0000:00/0000:00:02.0/0000:02:00.0' });
      const rules = fs.readFileSync(path.join(t.root, 'etc/udev/rules.d/61-vfioctl.rules'), 'utf8');
      assert.match(rules, /KERNEL=="0000:02:00\.0", DEVPATH=="\/devices\/pci0000:00\/0000:00:02\.0\/0000:02:00\.0", ATTR\{vendor\}=="0x10de", ATTR\{device\}=="0x1b80", ATTR\{subsystem_vendor\}=="0x1462", ATTR\{subsystem_device\}=="0x3364", ATTR\{driver_override\}="vfio-pci"/);
      // the boot-time unit, run on the unchanged host, binds it
      runBindUnit(t.root);
      assert.equal(override(t.root, GPU), 'vfio-pci');
      const st = (await runCli(['status', '--json', '--root', t.root])).json<{ identity: { address: string; verdict: string }[] }>();
      assert.deepEqual(st.identity.map((i) => [i.address, i.verdict]), [[GPU, 'same'], ['0000:02:00.1', 'same']]);
    } finally {
      t.cleanup();
    }
  });

  it('another card at the persisted address: status and doctor say so, the boot-time unit leaves it alone, --acknowledge re-pins', async () => {
    const a = makeTempHostTree(spec(ORIGINAL));
    const b = makeTempHostTree(spec({ vendor: 0x10de, device: 0x1e84, dsn: '8899aabbccddeeff', subDevice: 0x3fff }));
    try {
      assert.equal((await runCli(['persist', '02:00.0', '--yes', '--root', a.root], { env: env(a.root) })).code, 0);
      carry(a.root, b.root);
      const st = await runCli(['status', '--json', '--root', b.root]);
      const gpu = st.json<{ identity: { address: string; verdict: string; differences: { field: string; recorded: string; now: string }[] }[] }>().identity.find((i) => i.address === GPU)!;
      assert.equal(gpu.verdict, 'different');
      assert.deepEqual(gpu.differences.map((d) => [d.field, d.recorded, d.now]), [['ids', '10de:1b80', '10de:1e84'], ['subsystem', '1462:3364', '1462:3fff'], ['serial', '0011223344556677', '8899aabbccddeeff']]);
      const human = await runCli(['status', '--root', b.root]);
      assert.match(human.stdout, /changed device 0000:02:00\.0: holds another device than the one persisted \(IDs 10de:1b80 -> 10de:1e84; subsystem 1462:3364 -> 1462:3fff; serial number 0011223344556677 -> 8899aabbccddeeff\)/);
      const doc = (await runCli(['doctor', '--json', '--no-libvirt', '--root', b.root])).json<{ findings: { id: string; severity: string; subjects?: string[]; remedy?: string }[] }>();
      const f = doc.findings.find((x) => x.id === 'persisted-device-changed')!;
      assert.equal(f.severity, 'fail');
      assert.deepEqual(f.subjects, [GPU]);
      assert.match(f.remedy!, /vfioctl persist --acknowledge 0000:02:00\.0/);
      // at boot: the unit refuses the other card (the audio function, unchanged, is still taken)
      const out = runBindUnit(b.root);
      assert.match(out, /vfioctl: 0000:02:00\.0 holds another device than the one persisted: left on its host driver/);
      assert.equal(override(b.root, GPU), '(null)');
      assert.equal(override(b.root, '0000:02:00.1'), 'vfio-pci');
      // acknowledged: recorded again, the files name the new card, status agrees
      const ack = await runCli(['persist', '02:00.0', '--acknowledge', '--yes', '--root', b.root], { env: env(b.root) });
      assert.equal(ack.code, 0, ack.stderr);
      assert.match(fs.readFileSync(path.join(b.root, 'etc/udev/rules.d/61-vfioctl.rules'), 'utf8'), /KERNEL=="0000:02:00\.0", [^\n]*ATTR\{device\}=="0x1e84"/);
      const again = (await runCli(['status', '--json', '--root', b.root])).json<{ identity: { address: string; verdict: string }[] }>();
      assert.equal(again.identity.find((i) => i.address === GPU)!.verdict, 'same');
      runBindUnit(b.root);
      assert.equal(override(b.root, GPU), 'vfio-pci');
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });

  it('a state file written before identities were kept still loads: unknown, never "different"', async () => {
    const t = makeTempHostTree(spec(ORIGINAL));
    try {
      const old = { version: 1, bound: {}, sriov: {}, persisted: { [`address:${GPU}`]: { mode: 'per-address', addresses: [GPU], ids: [], created: [], edits: [], softdeps: ['nouveau'], runId: 'r1', at: '2025-01-01T00:00:00Z' } } };
      assert.ok(parseHostState(JSON.stringify(old)).ok);
      fs.mkdirSync(path.join(t.root, 'var/lib/vfioctl'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(t.root, 'var/lib/vfioctl/state.json'), JSON.stringify(old));
      const st = (await runCli(['status', '--json', '--root', t.root])).json<{ identity: { verdict: string; recorded: unknown }[] }>();
      assert.deepEqual(st.identity.map((i) => [i.verdict, i.recorded]), [['unknown', null]]);
      const doc = (await runCli(['doctor', '--json', '--no-libvirt', '--root', t.root])).json<{ findings: { id: string; severity: string }[] }>();
      assert.equal(doc.findings.some((x) => x.id === 'persisted-device-changed'), false);
      assert.equal(doc.findings.find((x) => x.id === 'persisted-device-unpinned')?.severity, 'info');
      // a tampered identity (a path that climbs out) is refused as a whole
      const bad = structuredClone(old) as { persisted: Record<string, Record<string, unknown>> };
      bad.persisted[`address:${GPU}`]!.identity = { vendorId: '10de', deviceId: '1b80', subsystemVendorId: null, subsystemDeviceId: null, serial: null, serialKnown: false, path: 'pci0000:00/../../etc' };
      assert.equal(parseHostState(JSON.stringify(bad)).ok, false);
    } finally {
      t.cleanup();
    }
  });
});
