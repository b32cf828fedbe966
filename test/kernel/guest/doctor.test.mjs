// vfioctl doctor on a real kernel: with intel_iommu=on (q35 + intel-iommu,intremap=on) the host is ready;
// with intel_iommu=off (on a machine without the emulated IOMMU) it is not, and the kernel IOMMU finding
// says why. The boot is told apart by the
// running command line, which is what doctor itself reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { vfioctl, kernelGroups, saveResult } from './lib/guest.mjs';

const cmdline = readFileSync('/proc/cmdline', 'utf8');
const iommuOff = /(^|\s)intel_iommu=off(\s|$)/.test(cmdline);

function byId(report, id) {
  const f = report.findings.find((x) => x.id === id);
  assert.ok(f, `finding ${id} missing: ${report.findings.map((x) => `${x.id}:${x.severity}`).join(' ')}`);
  return f;
}

test(`vfioctl doctor --json on the live kernel (${iommuOff ? 'intel_iommu=off' : 'intel_iommu=on'})`, () => {
  const r = vfioctl(['doctor', '--json', '--no-libvirt']);
  saveResult(iommuOff ? 'doctor-off.json' : 'doctor-on.json', r.json);
  const fails = r.json.findings.filter((f) => f.severity === 'fail').map((f) => `${f.id}: ${f.summary}`);
  if (iommuOff) {
    // this boot's machine has no intel-iommu device either: no DMAR table, no virtual IOMMU
    assert.equal(byId(r.json, 'iommu-firmware').severity, 'fail');
    assert.equal(byId(r.json, 'viommu').severity, 'fail');
    assert.equal(kernelGroups().size, 0);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.json.verdict, 'not-ready');
    const k = byId(r.json, 'iommu-kernel');
    assert.equal(k.severity, 'fail');
    assert.match(k.summary, /intel_iommu=off/);
    assert.equal(byId(r.json, 'security-iommu-off').severity, 'warn');
  } else {
    assert.ok(kernelGroups().size > 0);
    assert.equal(byId(r.json, 'iommu-firmware').severity, 'ok', 'q35 with intel-iommu has a DMAR table');
    assert.equal(byId(r.json, 'viommu').severity, 'ok', 'the guest has a virtual IOMMU unit (caching-mode=on)');
    assert.equal(r.json.verdict, 'ready', `not ready: ${fails.join('; ')}`);
    assert.equal(r.status, 0);
    assert.match(byId(r.json, 'iommu-kernel').summary, new RegExp(`${kernelGroups().size} IOMMU groups`));
    assert.equal(byId(r.json, 'interrupt-remapping').severity, 'ok', 'intremap=on gives the DMAR unit the IR capability');
    assert.equal(byId(r.json, 'virtual-machine').severity, 'info');
  }
});
