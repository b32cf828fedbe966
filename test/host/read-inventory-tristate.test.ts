/**
 * Unknown is not false: a fact whose file could not be read, or that lies beyond a short config space, is
 * listed in the function's `unknown` (fact, reason, source) instead of reading as "no".
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';
import type { PciFunction, UnknownFact } from '../../src/model/pci-function.js';

const cleanups: (() => void)[] = [];
/** the function's entry for `fact` (read from the data itself, so the test runs against any version of the model) */
const factUnknown = (f: PciFunction, fact: string): UnknownFact | null => (f.unknown ?? []).find((u) => u.fact === fact) ?? null;
after(() => cleanups.forEach((c) => c()));
function read(spec: HostSpec) {
  const t = makeTempHostTree(spec);
  cleanups.push(t.cleanup);
  return readInventory(new HostRoot(t.root), { names: false });
}
function fn(spec: HostSpec, a: string): PciFunction {
  const f = read(spec).functions.find((x) => x.address === a);
  assert.ok(f, `missing ${a}`);
  return f;
}
const facts = (f: PciFunction) => (f.unknown ?? []).map((u) => u.fact).sort();

test('a full tree: every fact is known (unknown is empty), FLR and ROM read as they are', () => {
  const inv = read(desktopGpu());
  for (const f of inv.functions) assert.deepEqual(f.unknown, [], f.address);
  const gpu = inv.functions.find((f) => f.address === '0000:01:00.0')!;
  assert.equal(gpu.hasRom, true);
  const nvme = inv.functions.find((f) => f.address === '0000:02:00.0')!;
  assert.equal(nvme.flr, true);
  assert.equal(nvme.hasRom, false, 'no rom file on a full tree: known absent');
});

test('an unreadable driver link: the driver is unknown, not "no driver"', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:01:00.0')!.unreadable = ['driver'];
  const f = fn(spec, '0000:01:00.0');
  assert.equal(f.driver, null);
  const u = factUnknown(f, 'driver');
  assert.ok(u, 'driver is listed as unknown');
  assert.equal(u.source, 'sys/bus/pci/devices/0000:01:00.0/driver');
  assert.match(u.reason, /driver link is unreadable/);
});

test('an unreadable config: FLR, capabilities and multifunction are unknown, with config as their source', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:02:00.0')!.unreadable = ['config'];
  const f = fn(spec, '0000:02:00.0');
  assert.equal(f.flr, false);
  assert.deepEqual(facts(f), ['capabilities', 'flr', 'multifunction']);
  assert.equal(factUnknown(f, 'flr')!.source, 'sys/bus/pci/devices/0000:02:00.0/config (capabilities)');
  assert.match(factUnknown(f, 'flr')!.reason, /config is unreadable/);
});

test('unreadable optional attributes: each leaves its own fact unknown', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:01:00.0')!.unreadable = ['reset_method', 'driver_override', 'boot_vga', 'numa_node', 'iommu_group'];
  const f = fn(spec, '0000:01:00.0');
  assert.deepEqual(facts(f), ['bootVga', 'driverOverride', 'iommuGroup', 'numaNode', 'resetMethods']);
  assert.equal(factUnknown(f, 'resetMethods')!.source, 'sys/bus/pci/devices/0000:01:00.0/reset_method');
});

test('a 64-byte config (read without root): FLR and capabilities unknown, the header still read', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:02:00.0')!.configSize = 64;
  const f = fn(spec, '0000:02:00.0');
  assert.deepEqual(facts(f), ['capabilities', 'flr']);
  assert.notEqual(f.multifunction, null, 'the header is inside 64 bytes');
  assert.match(factUnknown(f, 'flr')!.reason, /64 bytes/);
});

test('a 256-byte config of a PCIe function: FLR known, the extended capabilities (ACS...) unknown', () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:02:00.0')!.configSize = 256;
  const f = fn(spec, '0000:02:00.0');
  assert.deepEqual(facts(f), ['capabilities.extended']);
  assert.equal(f.flr, true);
});
