// vfioctl doctor under a non-Intel virtual IOMMU, judged against the kernel's own signals read directly
// (lib/iommu.mjs): the firmware table and the IOMMU it names, the units, the groups, and the interrupt
// remapping state /proc/interrupts shows (IR- chips). Then vfio_iommu_type1's allow_unsafe_interrupts is
// set at run time, as an administrator would, and the doctor must say what it changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vfioctl, runInfo, saveResult } from './lib/guest.mjs';
import { iommuSignals, setUnsafeInterrupts } from './lib/iommu.mjs';

const expect = runInfo().data.expect ?? {};
const sig = iommuSignals();
const NAME = { amd: 'AMD-Vi', virtio: 'virtio-iommu', intel: 'Intel VT-d' }[expect.model];

function byId(report, id) {
  const f = report.findings.find((x) => x.id === id);
  assert.ok(f, `finding ${id} missing: ${report.findings.map((x) => `${x.id}:${x.severity}`).join(' ')}`);
  return f;
}

function doctor(file) {
  const r = vfioctl(['doctor', '--json', '--no-libvirt']);
  saveResult(file, r.json);
  return r;
}

test(`doctor names the IOMMU (${NAME}) and its firmware table as the kernel shows them`, () => {
  const r = doctor('doctor-iommu.json');
  const fw = byId(r.json, 'iommu-firmware');
  assert.equal(fw.severity, 'ok');
  assert.match(fw.summary, expect.model === 'amd' ? /AMD IOMMU \(ACPI IVRS table\)/ : /virtio-iommu \(ACPI VIOT table\)/);
  const k = byId(r.json, 'iommu-kernel');
  const v = byId(r.json, 'viommu');
  if (sig.groups > 0) {
    assert.equal(k.severity, 'ok');
    assert.ok(k.summary.includes(`${sig.groups} IOMMU groups (${NAME}: ${sig.units.join(', ')})`), k.summary);
    assert.equal(v.severity, 'ok');
    assert.ok(v.summary.includes(`${NAME}: ${sig.units.join(', ')}`), v.summary);
  } else {
    // Debian 12's 6.1: no virtio-iommu driver, so no unit and no group although VIOT describes one
    assert.equal(k.severity, 'fail');
    assert.match(k.summary, /only a virtio-iommu \(ACPI VIOT\) and this kernel has no driver for it/);
    assert.match(k.remedy, /CONFIG_VIRTIO_IOMMU/);
    assert.equal(v.severity, 'warn');
  }
});

test(`doctor's interrupt remapping state is what /proc/interrupts shows (${sig.irChips.join(', ') || 'no IR- chip'})`, () => {
  const r = doctor('doctor-ir.json');
  const ir = byId(r.json, 'interrupt-remapping');
  const evidence = ir.evidence.find((e) => e.source === '/proc/interrupts');
  assert.ok(evidence, `no /proc/interrupts evidence: ${JSON.stringify(ir.evidence)}`);
  if (sig.irChips.length) {
    assert.equal(ir.severity, 'ok', ir.summary);
    for (const c of sig.irChips) assert.ok(evidence.value.includes(c), evidence.value);
    assert.equal(r.json.verdict, 'ready', r.json.findings.filter((f) => f.severity === 'fail').map((f) => f.summary).join('; '));
    assert.equal(r.status, 0);
  } else if (sig.groups > 0) {
    // groups but nothing remapped: vfio_iommu_type1 refuses ("No interrupt remapping support")
    assert.equal(ir.severity, 'fail', ir.summary);
    assert.match(ir.summary, /no IR- chip.*No interrupt remapping support/);
    assert.match(ir.remedy, /intremap=on/);
    assert.equal(r.json.verdict, 'not-ready');
    assert.equal(r.status, 3);
  } else {
    assert.equal(ir.severity, 'warn', ir.summary);
    assert.match(ir.summary, expect.model === 'virtio' ? /unsupported \(virtio-iommu does not remap interrupts on x86/ : /no IR- chip/);
    assert.equal(r.json.verdict, 'not-ready');
  }
});

test('allow_unsafe_interrupts set at run time: the doctor says what it changes', { skip: sig.groups === 0 ? 'no groups: vfio cannot assign anything either way' : false }, () => {
  assert.equal(setUnsafeInterrupts(true), 'Y');
  try {
    const r = doctor('doctor-unsafe.json');
    const ir = byId(r.json, 'interrupt-remapping');
    const sec = byId(r.json, 'security-unsafe-interrupts');
    assert.equal(sec.severity, 'warn');
    assert.ok(sec.evidence.some((e) => e.source === '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts' && e.value === 'Y'), JSON.stringify(sec.evidence));
    if (sig.irChips.length) {
      assert.equal(ir.severity, 'ok');
      assert.match(sec.summary, /unnecessary security downgrade/);
    } else {
      assert.equal(ir.severity, 'warn');
      assert.match(ir.summary, /works only because allow_unsafe_interrupts is set/);
      assert.equal(r.json.verdict, 'ready');
    }
  } finally {
    assert.equal(setUnsafeInterrupts(false), 'N');
  }
});
