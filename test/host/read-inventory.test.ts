import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { desktopGpu, sriovNic, noIommu, hostileDeviceEntries, chipsetShared } from '../support/topologies.js';
import { HostRoot, newAccessLog } from '../../src/host/host-root.js';
import { FILL_ALL, FILL_GROUPS, FILL_LS_JSON, fillOf, readInventory } from '../../src/host/read-inventory.js';

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


test('fill flags: groups reads the IDs, class, driver and group only; the facts it leaves are unknown, not absent', () => {
  const t = makeTempHostTree(desktopGpu());
  cleanups.push(t.cleanup);
  const full = new HostRoot(t.root);
  full.accessLog = newAccessLog();
  const all = readInventory(full, { names: false });
  const some = new HostRoot(t.root);
  some.accessLog = newAccessLog();
  const inv = readInventory(some, { names: false, fill: FILL_GROUPS });
  const read = (h: HostRoot, attr: string): string[] => [...h.accessLog!.files].filter((f) => f.endsWith(`/${attr}`));
  // the full read opens these files; the groups read does not open one of them
  for (const attr of ['reset_method', 'numa_node', 'd3cold_allowed', 'power_state', 'boot_vga']) {
    assert.ok(read(full, attr).length > 0, `the full read reads ${attr}`);
    assert.deepEqual(read(some, attr), [], `groups does not read ${attr}`);
  }
  assert.ok(read(some, 'config').length === inv.functions.length, 'config space is read once per function');
  const gpu = fn(inv, '0000:01:00.0');
  const gpuAll = all.functions.find((f) => f.address === '0000:01:00.0')!;
  // what groups shows is the same as the full read
  for (const k of ['vendorId', 'deviceId', 'class', 'driver', 'driverOverride', 'iommuGroup', 'parentChain', 'physfn'] as const) assert.deepEqual(gpu[k], gpuAll[k], k);
  assert.deepEqual(inv.groups, all.groups);
  // the rest is unknown with a reason, never a placeholder passing for a fact
  assert.deepEqual(gpuAll.resetMethods, ['bus']);
  assert.equal(gpu.resetMethods, null);
  const unknown = new Set(gpu.unknown.map((u) => u.fact));
  for (const f of ['resetMethods', 'numaNode', 'bootVga', 'd3coldAllowed', 'powerState', 'hasRom', 'flr', 'capabilities', 'sriov']) assert.ok(unknown.has(f), `${f} is unknown`);
  assert.ok(gpu.unknown.every((u) => /^not read/.test(u.reason)), JSON.stringify(gpu.unknown));
  assert.deepEqual(gpu.missing, [], 'a fact not read is not reported missing');
  assert.deepEqual(gpuAll.unknown, [], 'the full read knows every fact of this tree');
});

test('fill flags: the ls --json mask reads every fact of a function (the same functions as a full read)', () => {
  const t = makeTempHostTree(sriovNic());
  cleanups.push(t.cleanup);
  const all = readInventory(new HostRoot(t.root), { names: false });
  const ls = readInventory(new HostRoot(t.root), { names: false, fill: FILL_LS_JSON });
  assert.deepEqual(ls.functions, all.functions);
  assert.deepEqual(ls.groups, [], 'no group directories for ls');
  assert.equal(ls.iommu.groupCount, all.groups.length);
  assert.equal(fillOf({ groups: 'none' }), FILL_LS_JSON);
  assert.equal(fillOf({}), FILL_ALL);
});
