// `vfioctl groups --json` on a real kernel equals the kernel's own view: every group, every member,
// bridge/endpoint roles from the class code, the group type, and the isolation verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  vfioctlOnce, kernelGroups, classOf, isBridgeClass, hexAttr, driverOf, readText, saveResult, GROUPS,
} from './lib/guest.mjs';

test('vfioctl groups --json matches /sys/kernel/iommu_groups', () => {
  const r = vfioctlOnce(['groups', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = r.json;
  saveResult('live-groups.json', out);
  const kernel = kernelGroups();
  assert.ok(kernel.size > 0, 'the guest kernel has no IOMMU groups');
  assert.equal(out.iommu.enabled, true);
  assert.equal(out.iommu.groupCount, kernel.size);
  assert.deepEqual(out.groups.map((g) => g.id).sort((a, b) => a - b), [...kernel.keys()].sort((a, b) => a - b));
  for (const g of out.groups) {
    assert.deepEqual(g.members.map((m) => m.address).sort(), kernel.get(g.id), `members of group ${g.id}`);
  }
  assert.deepEqual(out.problems, []);
});

test('vfioctl groups: roles, classes, IDs, drivers and group types agree with sysfs', () => {
  const out = vfioctlOnce(['groups', '--json']).json;
  let bridges = 0;
  for (const g of out.groups) {
    assert.equal(g.type, readText(`${GROUPS}/${g.id}/type`), `type of group ${g.id}`);
    for (const m of g.members) {
      const cls = classOf(m.address);
      assert.equal(m.role, isBridgeClass(cls) ? 'bridge' : 'endpoint', `role of ${m.address} (class ${cls})`);
      if (m.role === 'bridge') bridges++;
      assert.equal(m.class, cls, `class of ${m.address}`);
      assert.equal(m.vendorId, hexAttr(m.address, 'vendor'));
      assert.equal(m.deviceId, hexAttr(m.address, 'device'));
      assert.equal(m.driver, driverOf(m.address), `driver of ${m.address}`);
    }
  }
  assert.ok(bridges >= 5, `expected the topology's ports and bridges to be marked as bridges, found ${bridges}`);
});

test('vfioctl groups: isolation verdict follows the members (one device / several / bridges only)', () => {
  const out = vfioctlOnce(['groups', '--json']).json;
  const verdicts = new Set();
  for (const g of out.groups) {
    const devices = new Set(g.members.filter((m) => !isBridgeClass(classOf(m.address))).map((m) => m.address.slice(0, -2)));
    const expected = devices.size === 0 ? 'empty' : devices.size === 1 ? 'isolated' : 'shared';
    assert.equal(g.isolation, expected, `isolation of group ${g.id}: ${JSON.stringify(g.members.map((m) => m.address))}`);
    verdicts.add(expected);
  }
  // The main topology has all three: lone ports (empty), single devices, and the conventional bridge group.
  assert.deepEqual([...verdicts].sort(), ['empty', 'isolated', 'shared']);
});
