// `vfioctl ls --json` on a real kernel agrees with the guest's sysfs and config space (read here
// independently): IDs, class, drivers, driver_override, groups, bridges, PCIe port types, ACS, FLR,
// reset methods, parent chains and SR-IOV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  vfioctlOnce, pciAddresses, hexAttr, classOf, isBridgeClass, driverOf, attr, groupOf, configFacts, parentOf, saveResult,
} from './lib/guest.mjs';

const PORT_NAMES = {
  0: /^endpoint$/, 1: /legacy/, 4: /root/, 5: /up/, 6: /down/, 7: /pcie-to-pci|pcie.*pci.*bridge/i, 8: /pci-to-pcie/i, 9: /integrated|rc/i, 10: /event|collector/i,
};

function ls() {
  const r = vfioctlOnce(['ls', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return r.json;
}

test('vfioctl ls --json lists exactly the kernel\'s PCI functions with their IDs, drivers and groups', () => {
  const out = ls();
  saveResult('live-ls.json', out);
  assert.deepEqual(out.functions.map((f) => f.address).sort(), pciAddresses());
  for (const f of out.functions) {
    const a = f.address;
    assert.equal(f.vendorId, hexAttr(a, 'vendor').padStart(4, '0'), `vendorId of ${a}`);
    assert.equal(f.deviceId, hexAttr(a, 'device').padStart(4, '0'), `deviceId of ${a}`);
    assert.equal(f.subsystemVendorId, hexAttr(a, 'subsystem_vendor').padStart(4, '0'), `subsystemVendorId of ${a}`);
    assert.equal(f.subsystemDeviceId, hexAttr(a, 'subsystem_device').padStart(4, '0'), `subsystemDeviceId of ${a}`);
    assert.equal(f.class, classOf(a), `class of ${a}`);
    assert.equal(f.driver, driverOf(a), `driver of ${a}`);
    const ov = attr(a, 'driver_override');
    assert.equal(f.driverOverride, ov === '(null)' || ov === '' ? null : ov, `driverOverride of ${a}`);
    assert.equal(f.iommuGroup, groupOf(a), `iommuGroup of ${a}`);
    assert.equal(f.isBridge, isBridgeClass(classOf(a)), `isBridge of ${a}`);
  }
  assert.equal(out.iommu.enabled, true);
});

test('vfioctl ls: PCIe port types, ACS, FLR and reset methods agree with config space', () => {
  const out = ls();
  const seen = { acs: 0, noAcsPort: 0, flr: 0, ports: new Set() };
  for (const f of out.functions) {
    const a = f.address;
    const c = configFacts(a);
    assert.equal(f.capabilities.pcie !== null, c.hasPcie, `PCIe capability of ${a}`);
    if (c.hasPcie) {
      assert.match(f.capabilities.pcie.portType, PORT_NAMES[c.portType] ?? /unknown/, `portType of ${a} (kernel type ${c.portType})`);
      assert.equal(f.capabilities.pcie.flr, c.pcieFlr, `PCIe FLR of ${a}`);
      seen.ports.add(c.portType);
    }
    assert.equal(f.capabilities.acs !== null, c.hasAcs, `ACS capability of ${a}`);
    if (c.hasAcs) seen.acs++;
    if (c.portType === 4 && !c.hasAcs) seen.noAcsPort++;
    assert.equal(f.capabilities.af !== null, c.hasAf, `AF capability of ${a}`);
    assert.equal(f.flr, c.flr, `flr of ${a}`);
    if (c.flr) seen.flr++;
    // The kernel's own list of usable reset methods is a second opinion on FLR.
    const rm = attr(a, 'reset_method');
    if (rm !== null && f.resetMethods !== null) assert.deepEqual(f.resetMethods, rm.split(/\s+/).filter(Boolean), `resetMethods of ${a}`);
    if (rm !== null && c.flr) assert.ok(rm.split(/\s+/).includes('flr'), `${a}: config space offers FLR but the kernel's reset_method is "${rm}"`);
  }
  assert.ok(seen.acs >= 4, `ACS found on ${seen.acs} functions`);
  assert.ok(seen.noAcsPort >= 1, 'the root port without ACS was not seen');
  assert.ok(seen.flr >= 1, 'no function with FLR (QEMU\'s nvme has it)');
  for (const t of [0, 4, 5, 6, 7]) assert.ok(seen.ports.has(t), `PCIe port type ${t} not present`);
});

test('vfioctl ls: parent chains follow the kernel\'s device tree', () => {
  const out = ls();
  for (const f of out.functions) {
    const chain = [];
    for (let p = parentOf(f.address); p; p = parentOf(p)) chain.unshift(p);
    const got = (f.parentChain ?? []).map((x) => (typeof x === 'string' ? x : x.address));
    assert.deepEqual(got, chain, `parentChain of ${f.address}`);
  }
});

test('vfioctl ls: SR-IOV totals of physical functions (no VFs yet)', () => {
  const out = ls();
  const pfs = pciAddresses().filter((a) => Number(attr(a, 'sriov_totalvfs') ?? 0) > 0);
  assert.ok(pfs.length >= 1, 'no SR-IOV physical function in the topology');
  for (const f of out.functions) {
    const total = attr(f.address, 'sriov_totalvfs');
    if (total === null) {
      assert.equal(f.sriov, null, `sriov of ${f.address}`);
    } else {
      assert.equal(f.sriov.totalVfs, Number(total));
      assert.equal(f.sriov.numVfs, Number(attr(f.address, 'sriov_numvfs')));
      assert.deepEqual(f.sriov.vfs, []);
    }
  }
});
