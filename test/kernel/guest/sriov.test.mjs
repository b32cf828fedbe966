// SR-IOV on a real kernel: virtual functions created through sriov_numvfs appear in `vfioctl ls --json`
// under their physical function, with their own groups; then they are removed again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { vfioctl, pciAddresses, attr, groupOf, saveResult, PCI } from './lib/guest.mjs';

function writeAttr(a, name, v) {
  writeFileSync(`${PCI}/${a}/${name}`, v);
}
function vfLinks(pf) {
  return readdirSync(`${PCI}/${pf}`).filter((n) => /^virtfn\d+$/.test(n))
    .map((n) => basename(readlinkSync(`${PCI}/${pf}/${n}`))).sort();
}

test('vfioctl ls: virtual functions once enabled, then gone', () => {
  const pf = pciAddresses().find((a) => Number(attr(a, 'sriov_totalvfs') ?? 0) > 0);
  assert.ok(pf, 'no SR-IOV physical function in the topology');
  const total = Number(attr(pf, 'sriov_totalvfs'));
  // Create the VFs without binding a driver to them, look, then remove them.
  writeAttr(pf, 'sriov_drivers_autoprobe', '0');
  writeAttr(pf, 'sriov_numvfs', String(total));
  try {
    const vfs = vfLinks(pf);
    assert.equal(vfs.length, total, 'the kernel created no VFs');
    const r = vfioctl(['ls', '--json']);
    assert.equal(r.status, 0, r.stderr);
    saveResult('live-ls-sriov.json', r.json);
    const pfOut = r.json.functions.find((f) => f.address === pf);
    assert.equal(pfOut.sriov.numVfs, total);
    assert.deepEqual([...pfOut.sriov.vfs].sort(), vfs);
    for (const vf of vfs) {
      const vfOut = r.json.functions.find((f) => f.address === vf);
      assert.ok(vfOut, `VF ${vf} missing from ls`);
      assert.equal(vfOut.physfn, pf, `physfn of ${vf}`);
      assert.equal(vfOut.iommuGroup, groupOf(vf), `iommuGroup of ${vf}`);
      assert.equal(vfOut.driver, null, `${vf} was probed although autoprobe is off`);
    }
  } finally {
    writeAttr(pf, 'sriov_numvfs', '0');
    writeAttr(pf, 'sriov_drivers_autoprobe', '1');
  }
  assert.deepEqual(vfLinks(pf), []);
});
