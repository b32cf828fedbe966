/**
 * doctor's IOMMU and interrupt-remapping findings for the other virtual IOMMUs (AMD-Vi and virtio-iommu),
 * on fixture trees shaped after what the real kernel showed in the harness (test/support/iommu-hosts.ts):
 * the IOMMU is named, /proc/interrupts decides whether interrupts are remapped, an AMD unit alone does not
 * prove remapping, a VIOT table without the virtio-iommu driver is said as such, and virtio-iommu's lack
 * of interrupt remapping on x86 is a failure until allow_unsafe_interrupts is set (then a warning).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { checkHost, summarize } from '../../src/core/doctor.js';
import type { Finding } from '../../src/model/finding.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { getFinding as get } from '../support/doctor-hosts.js';
import { amdIommuVm, virtioIommuVm } from '../support/iommu-hosts.js';

function doctor(spec: HostSpec): { findings: Finding[]; verdict: string } {
  const t = makeTempHostTree(spec);
  try {
    const host = new HostRoot(t.root);
    const findings = checkHost(readHostFacts(host), readInventory(host, { names: false }));
    return { findings, verdict: summarize(findings).verdict };
  } finally {
    t.cleanup();
  }
}

function withFiles(spec: HostSpec, files: Record<string, string>): HostSpec {
  return { ...spec, files: { ...(spec.files ?? {}), ...files } };
}

test('AMD-Vi with interrupt remapping: the IOMMU is named, remapping is read from /proc/interrupts', () => {
  const { findings, verdict } = doctor(amdIommuVm({ intremap: true }));
  assert.equal(verdict, 'ready');
  const k = get(findings, 'iommu-kernel');
  assert.equal(k.severity, 'ok');
  assert.match(k.summary, /2 IOMMU groups \(AMD-Vi: ivhd0\)/);
  assert.match(get(findings, 'iommu-firmware').summary, /AMD IOMMU \(ACPI IVRS table\)/);
  assert.match(get(findings, 'viommu').summary, /AMD-Vi: ivhd0/);
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'ok');
  assert.match(ir.summary, /IR-IO-APIC, IR-PCI-MSI in \/proc\/interrupts/);
  assert.ok(ir.evidence.some((e) => e.source === '/proc/interrupts' && /IR-IO-APIC IR-PCI-MSI/.test(e.value)), JSON.stringify(ir.evidence));
});

test('AMD-Vi without interrupt remapping (QEMU intremap=off): /proc/interrupts has no IR- chip, vfio would refuse', () => {
  // before: "AMD IOMMUs provide interrupt remapping and nothing turns it off" (ok) on the same machine
  const { findings, verdict } = doctor(amdIommuVm({ intremap: false }));
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail', ir.summary);
  assert.match(ir.summary, /disabled .*no IR- chip.*No interrupt remapping support/);
  assert.match(ir.remedy ?? '', /this is a VM: .*amd-iommu,intremap=on/);
  assert.match(ir.remedy ?? '', /--allow-unsafe-interrupts/);
  assert.equal(verdict, 'not-ready');
});

test('AMD-Vi without interrupt remapping, allow_unsafe_interrupts set at run time: works, with the security warning', () => {
  const { findings, verdict } = doctor(withFiles(amdIommuVm({ intremap: false }), { 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts': 'Y\n' }));
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'warn');
  assert.match(ir.summary, /works only because allow_unsafe_interrupts is set/);
  assert.equal(get(findings, 'security-unsafe-interrupts').severity, 'warn');
  assert.equal(verdict, 'ready');
});

test('an AMD unit alone (no /proc/interrupts, no kernel log) leaves interrupt remapping unknown', () => {
  // before: enabled, by assumption
  const { findings } = doctor(amdIommuVm({ intremap: false, interrupts: false }));
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'info');
  assert.match(ir.summary, /unknown/);
});

test('a kernel log copy saying "AMD-Vi: Disabling interrupt remapping" (IOAPIC not in IVRS) is read as unsupported', () => {
  const log = [
    '[    0.016000] AMD-Vi: [Firmware Bug]: : IOAPIC[0] not in IVRS table',
    '[    0.016000] AMD-Vi: [Firmware Bug]: : No southbridge IOAPIC found',
    '[    0.016000] AMD-Vi: Disabling interrupt remapping',
    '[    2.791272] pci 0000:00:01.0: AMD-Vi: Found IOMMU cap 0x40',
  ];
  const { findings } = doctor(amdIommuVm({ intremap: false, interrupts: false, log }));
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail');
  assert.match(ir.summary, /unsupported \(kernel log\)/);
});

test('virtio-iommu described (VIOT) but the kernel has no driver (CONFIG_VIRTIO_IOMMU not set): said so, with the remedy', () => {
  // before: "the IOMMU is enabled in firmware and on the command line, yet the kernel created no groups"
  const { findings, verdict } = doctor(virtioIommuVm({ driver: false }));
  assert.equal(verdict, 'not-ready');
  assert.match(get(findings, 'iommu-firmware').summary, /virtio-iommu \(ACPI VIOT table\)/);
  const k = get(findings, 'iommu-kernel');
  assert.equal(k.severity, 'fail');
  assert.match(k.summary, /only a virtio-iommu \(ACPI VIOT\).*CONFIG_VIRTIO_IOMMU is not set/);
  assert.match(k.remedy ?? '', /CONFIG_VIRTIO_IOMMU and CONFIG_ACPI_VIOT/);
  assert.match(k.remedy ?? '', /intel-iommu,intremap=on/);
  const v = get(findings, 'viommu');
  assert.equal(v.severity, 'warn');
  assert.match(v.summary, /virtio-iommu.*registered no IOMMU unit/);
});

test('virtio-iommu as a module that is not loaded: the remedy loads it early', () => {
  const { findings } = doctor(virtioIommuVm({ driver: false, config: 'm' }));
  const k = get(findings, 'iommu-kernel');
  assert.match(k.summary, /virtio_iommu module\) is not loaded/);
  assert.match(k.remedy ?? '', /initramfs/);
});

test('virtio-iommu with its driver: named, and no interrupt remapping on x86 fails until allow_unsafe_interrupts', () => {
  const { findings, verdict } = doctor(virtioIommuVm({ driver: true }));
  const k = get(findings, 'iommu-kernel');
  assert.equal(k.severity, 'ok');
  assert.match(k.summary, /\(virtio-iommu: 0000:00:02\.0\)/);
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail');
  assert.match(ir.summary, /unsupported \(virtio-iommu does not remap interrupts on x86/);
  assert.match(ir.remedy ?? '', /virtio-iommu cannot remap interrupts on x86/);
  assert.equal(verdict, 'not-ready');

  const unsafe = doctor(withFiles(virtioIommuVm({ driver: true }), { 'etc/modprobe.d/vfio.conf': 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n' }));
  const ir2 = get(unsafe.findings, 'interrupt-remapping');
  assert.equal(ir2.severity, 'warn');
  assert.match(ir2.summary, /virtio-iommu does not remap interrupts.*works only because allow_unsafe_interrupts is set/);
  assert.equal(unsafe.verdict, 'ready');
});

test('the virtio-iommu unit without /proc/interrupts is still known not to remap', () => {
  const spec = virtioIommuVm({ driver: true });
  delete spec.files!['proc/interrupts'];
  const ir = get(doctor(spec).findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail');
  assert.match(ir.summary, /the only IOMMU is a virtio-iommu/);
});

test('plan on the VM whose only IOMMU is a virtio-iommu the kernel cannot drive: the remedy says so, not "no virtual IOMMU"', async () => {
  // before: "this is a virtual machine without a virtual IOMMU" (the real kernel boot showed it)
  const { openSession } = await import('../../src/service/session.js');
  const t = makeTempHostTree(virtioIommuVm({ driver: false }));
  try {
    const s = openSession({ root: t.root, env: { PATH: process.env.PATH } });
    const plan = await s.plan({ addresses: ['00:04.0'] });
    const f = plan.findings.find((x) => x.id === 'iommu-not-enabled');
    assert.ok(f, plan.findings.map((x) => x.id).join(' '));
    assert.match(f.remedy ?? '', /this VM has a virtio-iommu \(ACPI VIOT table\), but the kernel made no groups/);
    assert.match(f.remedy ?? '', /CONFIG_VIRTIO_IOMMU/);
    assert.doesNotMatch(f.remedy ?? '', /without a virtual IOMMU/);
  } finally {
    t.cleanup();
  }
});
