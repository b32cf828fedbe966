// A host without an IOMMU (intel_iommu=off), on a real kernel: vfioctl sees no IOMMU and no groups, and
// the kernel itself refuses vfio-pci (no group to attach to), which is why the tool must say so first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  vfioctl, kernelGroups, pciAddresses, movableEndpoints, driverOf, overrideDriver, restoreDriver, modprobe, saveResult,
} from './lib/guest.mjs';

test('vfioctl groups --json reports the IOMMU as not enabled and no groups', () => {
  assert.equal(kernelGroups().size, 0, 'the kernel has groups although intel_iommu=off');
  const r = vfioctl(['groups', '--json']);
  saveResult('live-groups.json', r.json);
  assert.equal(r.json.iommu.enabled, false);
  assert.equal(r.json.iommu.groupCount, 0);
  assert.deepEqual(r.json.groups, []);
});

test('vfioctl ls --json shows every function without a group', () => {
  const r = vfioctl(['ls', '--json']);
  assert.equal(r.status, 0, r.stderr);
  saveResult('live-ls.json', r.json);
  assert.deepEqual(r.json.functions.map((f) => f.address).sort(), pciAddresses());
  for (const f of r.json.functions) assert.equal(f.iommuGroup, null, `${f.address} has a group`);
  assert.equal(r.json.iommu.enabled, false);
});

test('the kernel refuses vfio-pci without an IOMMU, and the device goes back to its driver', () => {
  const addr = movableEndpoints().find((a) => driverOf(a));
  assert.ok(addr, 'no endpoint with a driver');
  const original = driverOf(addr);
  modprobe('vfio-pci');
  const before = overrideDriver(addr, 'vfio-pci');
  try {
    assert.equal(driverOf(addr), null, `${addr} was bound to vfio-pci without an IOMMU`);
    assert.equal(existsSync('/dev/vfio/0'), false);
  } finally {
    restoreDriver(before);
  }
  assert.equal(driverOf(addr), original);
});
