import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { expectGolden } from '../support/golden.js';
import { HostRoot } from '../../src/host/host-root.js';
import { StateStore } from '../../src/apply/state.js';
import { applyMdev } from '../../src/apply/mdev.js';
import { envFor, useFakeApplyRuntime } from './helpers.js';

const runtime = useFakeApplyRuntime(['udevadm']);
const env = (root: string): Record<string, string> => ({ PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: path.join(root, 'fake.log'), NO_COLOR: '1' });

const IGD = '0000:00:02.0';
const TYPE = 'i915-GVTg_V5_4';
const U = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001';

/** An Intel iGPU with GVT-g types, an NVIDIA PF with two SR-IOV VFs (vGPU), an Intel Xe PF with one VF. */
const SPEC: HostSpec = {
  functions: [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x3e30, classCode: 0x060000, iommuGroup: 0 },
    { address: IGD, vendor: 0x8086, device: 0x3e92, classCode: 0x030000, driver: 'i915', iommuGroup: 1, bootVga: true },
    { address: '0000:00:01.0', vendor: 0x8086, device: 0x1901, classCode: 0x060400, driver: 'pcieport', iommuGroup: 2, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:01:00.0', vendor: 0x10de, device: 0x20b5, classCode: 0x030200, driver: 'nvidia', iommuGroup: 3, parent: '0000:00:01.0', sriov: { totalVfs: 16, numVfs: 2 }, caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:01:00.4', vendor: 0x10de, device: 0x20b5, classCode: 0x030200, driver: 'nvidia', iommuGroup: 4, physfn: '0000:01:00.0', caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:01:00.5', vendor: 0x10de, device: 0x20b5, classCode: 0x030200, driver: 'nvidia', iommuGroup: 5, physfn: '0000:01:00.0', caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:00:03.0', vendor: 0x8086, device: 0x1901, classCode: 0x060400, driver: 'pcieport', iommuGroup: 6, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:03:00.0', vendor: 0x8086, device: 0x56c0, classCode: 0x030000, driver: 'xe', iommuGroup: 7, parent: '0000:00:03.0', sriov: { totalVfs: 7, numVfs: 1 }, caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:03:00.1', vendor: 0x8086, device: 0x56c0, classCode: 0x030000, driver: 'xe-vfio-pci', iommuGroup: 8, physfn: '0000:03:00.0', caps: { pcie: { portType: 'endpoint' } } },
  ],
  iommu: 'intel',
};

function tree(available = 2): { root: string; cleanup(): void } {
  const t = makeTempHostTree(SPEC);
  const dev = (a: string): string => fs.realpathSync(path.join(t.root, 'sys/bus/pci/devices', a));
  const ty = path.join(dev(IGD), 'mdev_supported_types', TYPE);
  fs.mkdirSync(path.join(ty, 'devices'), { recursive: true });
  fs.writeFileSync(path.join(ty, 'name'), 'GVTg_V5_4\n');
  fs.writeFileSync(path.join(ty, 'available_instances'), `${available}\n`);
  fs.writeFileSync(path.join(ty, 'device_api'), 'vfio-pci\n');
  fs.writeFileSync(path.join(ty, 'description'), 'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n');
  fs.writeFileSync(path.join(ty, 'create'), '');
  for (const [vf, cur] of [['0000:01:00.4', '0'], ['0000:01:00.5', '552']] as const) {
    fs.mkdirSync(path.join(dev(vf), 'nvidia'), { recursive: true });
    fs.writeFileSync(path.join(dev(vf), 'nvidia/creatable_vgpu_types'), 'ID    : vGPU Name\n552   : NVIDIA A100-4C\n553   : NVIDIA A100-5C\n');
    fs.writeFileSync(path.join(dev(vf), 'nvidia/current_vgpu_type'), `${cur}\n`);
  }
  return t;
}
const avail = (root: string): string => fs.readFileSync(path.join(fs.realpathSync(path.join(root, 'sys/bus/pci/devices', IGD)), 'mdev_supported_types', TYPE, 'available_instances'), 'utf8');
const CONF = `etc/mdevctl.d/${IGD}/${U}`;

describe('vfioctl mdev', () => {
  it('types: mdev types with their instances, NVIDIA vGPU types of SR-IOV VFs, Intel Xe SR-IOV VFs', async () => {
    const t = tree();
    try {
      const r = await runCli(['mdev', 'types', '--json', '--root', t.root]);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json<{ parents: { address: string; types: { id: string; name: string; availableInstances: number; deviceApi: string; description: string; devices: string[] }[] }[]; nvidiaVgpu: { address: string; physfn: string; creatable: { id: number; name: string }[]; current: number }[]; intelSriov: { address: string; driver: string; numVfs: number; vfs: { address: string; driver: string }[] }[] }>();
      assert.deepEqual(j.parents.map((p) => [p.address, p.types.map((x) => [x.id, x.name, x.availableInstances, x.deviceApi])]), [[IGD, [[TYPE, 'GVTg_V5_4', 2, 'vfio-pci']]]]);
      assert.match(j.parents[0]!.types[0]!.description, /resolution: 1920x1200/);
      assert.deepEqual(j.nvidiaVgpu.map((v) => [v.address, v.physfn, v.current, v.creatable.map((c) => `${c.id} ${c.name}`)]), [
        ['0000:01:00.4', '0000:01:00.0', 0, ['552 NVIDIA A100-4C', '553 NVIDIA A100-5C']],
        ['0000:01:00.5', '0000:01:00.0', 552, ['552 NVIDIA A100-4C', '553 NVIDIA A100-5C']],
      ]);
      assert.deepEqual(j.intelSriov, [{ address: '0000:03:00.0', driver: 'xe', totalVfs: 7, numVfs: 1, vfs: [{ address: '0000:03:00.1', driver: 'xe-vfio-pci' }] }]);
      const human = await runCli(['mdev', 'types', '--root', t.root], { env: { NO_COLOR: '1' } });
      assert.match(human.stdout, /0000:00:02\.0 .*i915-GVTg_V5_4 .*GVTg_V5_4 .*2 .*vfio-pci/);
      assert.match(human.stdout, /NVIDIA vGPU VF 0000:01:00\.5 \(PF 0000:01:00\.0\): current type 552/);
    } finally {
      t.cleanup();
    }
  });

  it('create --persist: the mdev appears (journaled), mdevctl defines it; remove --persist takes both away', async () => {
    const t = tree();
    try {
      const d = await runCli(['mdev', 'create', '00:02.0', TYPE, '--uuid', U, '--persist', '--dry-run', '--root', t.root], { env: env(t.root) });
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, new RegExp(`echo ${U} > .*0000:00:02\\.0/mdev_supported_types/${TYPE}/create`));
      assert.match(d.stdout, /\+ {2}"mdev_type": "i915-GVTg_V5_4",\n\+ {2}"start": "auto",/);
      assert.equal(fs.existsSync(path.join(t.root, 'sys/bus/mdev/devices', U)), false, 'a dry run changes nothing');

      const c = await runCli(['mdev', 'create', '00:02.0', TYPE, '--uuid', U, '--persist', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(avail(t.root), '1\n');
      assert.equal(fs.readFileSync(path.join(t.root, CONF), 'utf8'), '{\n  "mdev_type": "i915-GVTg_V5_4",\n  "start": "auto",\n  "attrs": []\n}\n');
      assert.deepEqual(new StateStore(new HostRoot(t.root)).readState().persisted[`mdev:${U}`]?.mdev, { parent: IGD, mdevType: TYPE, uuid: U });
      const ls = (await runCli(['mdev', 'ls', '--json', '--root', t.root])).json<{ devices: { uuid: string; parent: string; mdevType: string }[] }>();
      assert.deepEqual(ls.devices.map((x) => [x.uuid, x.parent, x.mdevType]), [[U, IGD, TYPE]]);

      const again = await runCli(['mdev', 'create', '00:02.0', TYPE, '--uuid', U, '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /exists already/);

      const rm = await runCli(['mdev', 'remove', '--uuid', U, '--persist', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(fs.existsSync(path.join(t.root, 'sys/bus/mdev/devices', U)), false);
      assert.equal(avail(t.root), '2\n');
      assert.equal(fs.existsSync(path.join(t.root, CONF)), false);
      assert.equal(new StateStore(new HostRoot(t.root)).readState().persisted[`mdev:${U}`], undefined);
    } finally {
      t.cleanup();
    }
  });

  it('refuses a type with no instance left and a malformed UUID; a failed create leaves nothing; recover removes an interrupted create', async () => {
    const t = tree(0);
    try {
      const full = await runCli(['mdev', 'create', '00:02.0', TYPE, '--uuid', U, '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(full.code, 3, full.stderr);
      assert.match(full.stderr, /no i915-GVTg_V5_4 instance left/);
      const bad = await runCli(['mdev', 'create', '00:02.0', TYPE, '--uuid', '../../x', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(bad.code, 2);
    } finally {
      t.cleanup();
    }
    const u = tree();
    try {
      const e = envFor(u.root, { faults: [{ step: 'mdev', kind: 'EIO' }] });
      await assert.rejects(applyMdev(e.ctx, { op: 'create', parent: IGD, mdevType: TYPE, uuid: U }), /EIO/);
      assert.equal(fs.existsSync(path.join(u.root, 'sys/bus/mdev/devices', U)), false);
      assert.equal(avail(u.root), '2\n');
      e.kernel.dispose();
      // a run killed after the create: recover removes the mdev again
      const k = envFor(u.root);
      k.kernel.writeMdev({ op: 'create', parent: { domain: 0, bus: 0, slot: 2, fn: 0 }, mdevType: TYPE, uuid: U });
      k.kernel.dispose();
      const journal = { version: 1, runId: '20260101T000000Z-abcdef', command: 'mdev create', args: [IGD, TYPE, U], pid: 999999, startedAt: '2026-01-01T00:00:00Z', status: 'running', steps: [{ seq: 1, type: 'mdev', op: 'create', parent: IGD, mdevType: TYPE, uuid: U, status: 'done' }], commit: {} };
      fs.mkdirSync(path.join(u.root, 'var/lib/vfioctl'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(u.root, 'var/lib/vfioctl/journal.json'), JSON.stringify(journal));
      const r = await runCli(['recover', '--yes', '--root', u.root], { env: env(u.root) });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(fs.existsSync(path.join(u.root, 'sys/bus/mdev/devices', U)), false);
      assert.equal(avail(u.root), '2\n');
    } finally {
      u.cleanup();
    }
  });

  it('a snapshot carries the mdev types and vGPU files: mdev types on the replay reads the same', async () => {
    const t = tree();
    const out = fs.mkdtempSync(path.join(path.dirname(t.root), 'vfioctl-snap-'));
    fs.rmSync(out, { recursive: true });
    try {
      assert.equal((await runCli(['snapshot', out, '--root', t.root])).code, 0);
      const a = (await runCli(['mdev', 'types', '--json', '--root', t.root])).stdout;
      const b = (await runCli(['mdev', 'types', '--json', '--root', out])).stdout;
      assert.equal(b, a);
      assert.match(a, /i915-GVTg_V5_4/);
    } finally {
      t.cleanup();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('render: the libvirt mdev hostdev and the QEMU sysfsdev device', async () => {
    const l = await runCli(['mdev', 'render', U, '--sample']);
    assert.equal(l.code, 0, l.stderr);
    expectGolden('render/mdev-hostdev.xml', l.stdout);
    const q = await runCli(['mdev', 'render', U, '--format', 'qemu', '--sample']);
    assert.equal(q.stdout, `-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/${U}\n`);
    const d = await runCli(['mdev', 'render', U, '--display', '--sample']);
    assert.match(d.stdout, /<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on' ramfb='on'>/);
  });
});
