// The guest really has the topology the host asked for: each feature the topology claims is found in the
// kernel's sysfs (read directly, no vfioctl). Without this, a QEMU change could silently shrink coverage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import {
  runInfo, pciAddresses, classOf, kernelGroups, groupOf, parentOf, configFacts, attr, movableEndpoints, saveResult, driverOf, readText,
} from './lib/guest.mjs';

const groups = kernelGroups();
const movable = new Set(movableEndpoints());
const facts = Object.fromEntries(pciAddresses().map((a) => [a, configFacts(a)]));
const membersOf = (a) => groups.get(groupOf(a)) ?? [];

const detectors = {
  rootBusEndpoint: () => [...movable].find((a) => a.startsWith('0000:00:') && membersOf(a).length === 1),
  acsRootPortEndpoint: () => [...movable].find((a) => {
    const p = parentOf(a);
    return p && facts[p].portType === 4 && facts[p].hasAcs && membersOf(a).length === 1;
  }),
  multifunctionGroup: () => [...groups.values()].find((m) => m.length >= 2 && m.every((x) => movable.has(x)) && new Set(m.map((x) => x.slice(0, -2))).size === 1),
  noAcsRootPort: () => pciAddresses().find((a) => {
    if (facts[a].portType !== 4 || facts[a].hasAcs) return false;
    const below = pciAddresses().filter((b) => parentOf(b) === a);
    return below.length > 0 && below.every((b) => groupOf(b) === groupOf(a));
  }),
  pcieSwitch: () => {
    const up = pciAddresses().find((a) => facts[a].portType === 5);
    if (!up) return undefined;
    const downs = pciAddresses().filter((a) => facts[a].portType === 6 && parentOf(a) === up);
    if (downs.length < 2) return undefined;
    // each downstream port is grouped with the endpoints behind it, and apart from its sibling ports
    const ok = downs.every((d) => {
      const below = pciAddresses().filter((b) => parentOf(b) === d);
      return below.length > 0 && below.every((b) => groupOf(b) === groupOf(d)) && downs.every((o) => o === d || groupOf(o) !== groupOf(d));
    });
    return ok ? up : undefined;
  },
  conventionalBridge: () => pciAddresses().find((a) => {
    if (facts[a].portType !== 7) return false;
    const below = pciAddresses().filter((b) => parentOf(b) === a);
    return below.length >= 2 && below.every((b) => !facts[b].hasPcie && groupOf(b) === groupOf(a));
  }),
  nvme: () => pciAddresses().find((a) => classOf(a) === '010802'),
  sriov: () => pciAddresses().find((a) => Number(attr(a, 'sriov_totalvfs') ?? 0) > 0 && facts[a].hasSriov),
  noIommuGroups: () => (groups.size === 0 && pciAddresses().every((a) => groupOf(a) === null) ? 'none' : undefined),
};

saveResult('guest-pci.json', pciAddresses().map((a) => ({
  address: a, class: classOf(a), group: groupOf(a), driver: driverOf(a), parent: parentOf(a), ...facts[a],
})));

for (const feature of runInfo().topology.features) {
  test(`topology has ${feature}`, () => {
    const detect = detectors[feature];
    assert.ok(detect, `no detector for feature ${feature}`);
    const found = detect();
    assert.ok(found, `feature ${feature} not found in the guest's sysfs; groups: ${JSON.stringify([...groups])}`);
  });
}

test('every PCI function has an IOMMU group exactly when the IOMMU is on', () => {
  const iommuOn = (runInfo().topology.expectGroups ?? runInfo().topology.intelIommu) && !/intel_iommu=off/.test(readCmdline());
  // An IOMMU that is itself a PCI function (AMD's, at 00:01.0 on q35) translates for the others, not for itself.
  const units = iommuUnitFunctions();
  for (const a of pciAddresses()) {
    if (iommuOn && units.has(a)) assert.equal(groupOf(a), null, `${a} is an IOMMU unit and has an iommu_group`);
    else if (iommuOn) assert.notEqual(groupOf(a), null, `${a} has no iommu_group`);
    else assert.equal(groupOf(a), null, `${a} has an iommu_group without an IOMMU`);
  }
  const listed = [...groups.values()].flat().sort();
  assert.deepEqual(listed, iommuOn ? pciAddresses().filter((a) => !units.has(a)) : []);
});

/** PCI functions that hold a /sys/class/iommu unit (the unit's device path runs through them). */
function iommuUnitFunctions() {
  const out = new Set();
  if (!existsSync('/sys/class/iommu')) return out;
  for (const u of readdirSync('/sys/class/iommu')) {
    const m = /\/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\/iommu\//.exec(readlinkSync(`/sys/class/iommu/${u}`));
    if (m) out.add(m[1]);
  }
  return out;
}

function readCmdline() {
  return readText('/proc/cmdline') ?? '';
}
