import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { desktopGpu, sriovNic, noIommu, hostileDeviceEntries, chipsetShared } from '../support/topologies.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));
function read(spec: HostSpec) {
  const t = makeTempHostTree(spec);
  cleanups.push(t.cleanup);
  return readInventory(new HostRoot(t.root), { names: false });
}
const fn = (inv: ReturnType<typeof read>, a: string) => {
  const f = inv.functions.find((x) => x.address === a);
  assert.ok(f, `missing ${a}`);
  return f;
};

test('desktop GPU host: IDs, drivers, topology, groups as the kernel lays them out', () => {
  const inv = read(desktopGpu());
  assert.equal(inv.problems.length, 0, JSON.stringify(inv.problems));
  assert.equal(inv.iommu.enabled, true);
  assert.deepEqual(inv.iommu.units, ['dmar0']);
  const gpu = fn(inv, '0000:01:00.0');
  assert.equal(gpu.vendorId, '10de');
  assert.equal(gpu.deviceId, '1b80');
  assert.equal(gpu.subsystemVendorId, '1458');
  assert.equal(gpu.class, '030000');
  assert.equal(gpu.revision, 'a1');
  assert.equal(gpu.driver, 'nouveau');
  assert.equal(gpu.driverOverride, null);
  assert.equal(gpu.iommuGroup, 1);
  assert.deepEqual(gpu.parentChain, ['0000:00:01.0']);
  assert.equal(gpu.rootBus, 'pci0000:00');
  assert.equal(gpu.bootVga, true);
  assert.equal(gpu.hasRom, true);
  assert.deepEqual(gpu.resetMethods, ['bus']);
  assert.equal(gpu.flr, false);
  assert.equal(gpu.multifunction, true);
  assert.equal(gpu.capabilities.pcie?.portType, 'endpoint');
  const nvme = fn(inv, '0000:02:00.0');
  assert.equal(nvme.flr, true);
  assert.deepEqual(nvme.resetMethods, ['flr', 'bus']);
  assert.equal(fn(inv, '0000:00:01.0').capabilities.acs, null, 'the CPU root port has no ACS');
  assert.equal(fn(inv, '0000:00:1b.0').capabilities.acs?.control.rr, true);
  assert.equal(fn(inv, '0000:00:1b.0').isBridge, true);
  const g1 = inv.groups.find((g) => g.id === 1)!;
  assert.deepEqual(g1.members, [
    { address: '0000:00:01.0', role: 'bridge' },
    { address: '0000:01:00.0', role: 'endpoint' },
    { address: '0000:01:00.1', role: 'endpoint' },
  ]);
  assert.equal(g1.isolation, 'isolated');
  assert.equal(g1.type, 'DMA');
  const platform = inv.groups.find((g) => g.id === 8)!;
  assert.deepEqual(platform.hostCritical.map((h) => h.address), ['0000:00:1f.0', '0000:00:1f.4']);
});

test('chipset switch without ACS: one shared group holding NIC, USB and SATA', () => {
  const inv = read(chipsetShared());
  const g = inv.groups.find((x) => x.id === 10)!;
  assert.equal(g.isolation, 'shared');
  assert.deepEqual(g.members.filter((m) => m.role === 'endpoint').map((m) => m.address), ['0000:04:00.0', '0000:05:00.0', '0000:06:00.0']);
  assert.equal(g.members.filter((m) => m.role === 'bridge').length, 4);
  assert.deepEqual(fn(inv, '0000:06:00.0').parentChain, ['0000:00:01.2', '0000:02:00.0', '0000:03:09.0']);
});

test('SR-IOV: PF lists its VFs, VFs name their PF', () => {
  const inv = read(sriovNic());
  const pf = inv.functions.find((f) => f.sriov);
  assert.ok(pf);
  assert.equal(pf.sriov!.totalVfs, 8);
  assert.equal(pf.sriov!.numVfs, 2);
  assert.equal(pf.sriov!.vfs.length, 2);
  for (const vf of pf.sriov!.vfs) assert.equal(fn(inv, vf).physfn, pf.address);
  assert.ok(pf.capabilities.sriov, 'the SR-IOV extended capability is decoded too');
});

test('no IOMMU: functions are read, no groups, iommu disabled', () => {
  const inv = read(noIommu());
  assert.ok(inv.functions.length > 0);
  assert.equal(inv.iommu.enabled, false);
  assert.deepEqual(inv.groups, []);
  assert.ok(inv.functions.every((f) => f.iommuGroup === null));
});

test('hostile entries are rejected and escaping links are never followed', () => {
  const base = desktopGpu();
  const hostile = hostileDeviceEntries();
  const inv = read({ ...base, files: { ...base.files, ...hostile.files }, links: { ...base.links, ...hostile.links } });
  const msgs = inv.problems.map((p) => `${p.code} ${p.message}`);
  assert.ok(msgs.some((m) => m.startsWith('EBADNAME') && m.includes('"foo"')));
  assert.ok(msgs.some((m) => m.startsWith('EBADNAME') && m.includes('0000:00:1F.0')));
  assert.ok(msgs.some((m) => m.startsWith('EESCAPE') && m.includes('0000:0e:00.0')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('ENODEV') && m.includes('0000:0f:00.0')), 'an absolute link means ROOT/etc inside the tree, which is not a device');
  assert.ok(msgs.some((m) => m.startsWith('ENOENT') && m.includes('0000:0d:00.0')), 'dangling link');
  assert.ok(!inv.functions.some((f) => ['0000:0e:00.0', '0000:0f:00.0', '0000:0d:00.0'].includes(f.address)));
  assert.equal(inv.functions.length, desktopGpu().functions.length, 'the real functions are all still read');
});

test('unreadable attributes are reported as such, never as absent', () => {
  const spec = desktopGpu();
  const gpu = spec.functions.find((f) => f.address === '0000:01:00.0')!;
  gpu.unreadable = ['driver_override', 'config', 'reset_method'];
  const inv = read(spec);
  const f = fn(inv, '0000:01:00.0');
  const attrs = f.problems.map((p) => `${p.attribute}:${p.code}`);
  assert.ok(attrs.includes('driver_override:EISDIR'), attrs.join(' '));
  assert.ok(attrs.includes('config:EISDIR'));
  assert.ok(attrs.includes('reset_method:EISDIR'));
  assert.equal(f.resetMethods, null);
  assert.equal(f.vendorId, '10de', 'IDs still come from the sysfs files');
  assert.ok(!f.missing.includes('driver_override'), 'present-but-unreadable is not "missing"');
});

test('short config space (non-root read) is reported: capabilities not readable', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:02:00.0')!.configSize = 64;
  spec.functions.find((f) => f.address === '0000:03:00.0')!.configSize = 256;
  const inv = read(spec);
  const nvme = fn(inv, '0000:02:00.0');
  assert.ok(nvme.problems.some((p) => p.code === 'ESHORT' && /extended capabilities not readable/.test(p.message)));
  assert.equal(nvme.capabilities.pcie, null);
  assert.equal(nvme.vendorId, '144d');
  const nic = fn(inv, '0000:03:00.0');
  assert.equal(nic.capabilities.pcie?.portType, 'endpoint');
  assert.ok(nic.problems.some((p) => p.code === 'ESHORT' && p.message === 'config is 256 bytes: extended capabilities not readable'));
});

test('mandatory IDs fall back to the config header when the files are missing', () => {
  const t = makeTempHostTree(desktopGpu());
  cleanups.push(t.cleanup);
  const dev = new HostRoot(t.root).resolvePciDevice({ domain: 0, bus: 1, slot: 0, fn: 0 });
  assert.equal(dev.state, 'ok');
  if (dev.state !== 'ok') return;
  rmSync(`${dev.value.dir}/vendor`);
  rmSync(`${dev.value.dir}/class`);
  const f = fn(readInventory(new HostRoot(t.root), { names: false }), '0000:01:00.0');
  assert.equal(f.vendorId, '10de');
  assert.equal(f.class, '030000');
});

