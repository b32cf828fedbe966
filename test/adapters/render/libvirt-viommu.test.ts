/**
 * The nested guest's virtual IOMMU in libvirt output (`render libvirt|libvirt-domain --nested --viommu
 * intel|virtio|smmuv3`): intel stays the default and byte-identical; virtio and smmuv3 are the bare
 * <iommu model='...'/> libvirt takes (no Intel driver options, no QEMU ioapic), with the note a person
 * needs; every domain is valid for libvirt's own schema (virt-xml-validate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderLibvirt, renderLibvirtDomain, renderLibvirtParts } from '../../../src/adapters/render/libvirt.js';
import { renderPlan } from '../../../src/adapters/render/index.js';
import { planPassthrough } from '../../../src/core/plan.js';
import { canonicalPciAddress, type PciAddressString } from '../../../src/model/pci-address.js';
import { expectGolden } from '../../support/golden.js';
import { validateDomain } from '../../support/libvirt-schema.js';
import { impactFacts, sriovNic } from '../../support/inventory-builder.js';
import { nestedVfPlan } from './fixtures.js';

const A = (s: string): PciAddressString => canonicalPciAddress(s) as PciAddressString;

test('intel is the default: --viommu intel renders exactly what --nested alone did', () => {
  const plan = nestedVfPlan();
  assert.equal(renderLibvirtDomain(plan, { viommu: 'intel' }), renderLibvirtDomain(plan));
  assert.equal(renderLibvirt(plan, { viommu: 'intel' }), renderLibvirt(plan));
  assert.equal(renderPlan('libvirt-domain', plan, { viommu: 'intel' }), renderPlan('libvirt-domain', plan));
  expectGolden('render/libvirt-nested.domain.xml', renderPlan('libvirt-domain', plan, { viommu: 'intel' }));
});

test('virtio: <iommu model=\'virtio\'/> without Intel driver options or a QEMU ioapic, with the interrupt-remapping note (golden, valid for libvirt)', (t) => {
  const plan = nestedVfPlan();
  const parts = renderLibvirtParts(plan, { viommu: 'virtio' });
  assert.equal(parts.iommu, "<iommu model='virtio'/>\n");
  assert.deepEqual(parts.features, [], 'no <ioapic driver=\'qemu\'/>: it serves the Intel IOMMU\'s interrupt remapping');
  const fragment = renderPlan('libvirt', plan, { viommu: 'virtio' });
  expectGolden('render/libvirt-nested-virtio.xml', fragment);
  assert.match(fragment, /<!-- vfioctl: virtio-iommu remaps no interrupts on x86: .*allow_unsafe_interrupts=1/);
  const xml = renderPlan('libvirt-domain', plan, { viommu: 'virtio' });
  expectGolden('render/libvirt-nested-virtio.domain.xml', xml);
  assert.match(xml, /<type arch='x86_64' machine='q35'>hvm<\/type>/);
  validateDomain(t, xml);
});

test('smmuv3: an aarch64 virt domain (GICv3, no x86 APIC) with <iommu model=\'smmuv3\'/> (golden, valid for libvirt)', (t) => {
  const plan = nestedVfPlan();
  const parts = renderLibvirtParts(plan, { viommu: 'smmuv3' });
  assert.equal(parts.iommu, "<iommu model='smmuv3'/>\n");
  assert.deepEqual(parts.features, []);
  const xml = renderPlan('libvirt-domain', plan, { viommu: 'smmuv3' });
  expectGolden('render/libvirt-nested-smmuv3.domain.xml', xml);
  assert.match(xml, /<type arch='aarch64' machine='virt'>hvm<\/type>/);
  assert.match(xml, /<gic version='3'\/>/);
  assert.doesNotMatch(xml, /<apic\/>|ioapic/);
  validateDomain(t, xml);
});

test('--viommu without --nested renders no IOMMU at all', () => {
  const plan = planPassthrough(sriovNic(), { addresses: [A('03:10.0')] }, { impact: impactFacts() });
  for (const viommu of ['virtio', 'smmuv3'] as const) {
    assert.equal(renderLibvirtParts(plan, { viommu }).iommu, null);
    assert.equal(renderLibvirtDomain(plan, { viommu }), renderLibvirtDomain(plan));
  }
});

test('the plan\'s nested-viommu finding names the chosen model (no "Intel IOMMU" for virtio or smmuv3)', () => {
  const plan = (viommuModel?: 'intel' | 'virtio' | 'smmuv3'): ReturnType<typeof planPassthrough> =>
    planPassthrough(sriovNic(), { addresses: [A('03:10.0')], nested: true, ...(viommuModel ? { viommuModel } : {}) }, { impact: impactFacts() });
  const f = (p: ReturnType<typeof planPassthrough>) => p.findings.find((x) => x.id === 'nested-viommu')!;
  assert.deepEqual(f(plan('intel')), f(plan()));
  assert.match(f(plan()).summary, /virtual Intel IOMMU/);
  const v = f(plan('virtio'));
  assert.equal(v.severity, 'warn');
  assert.match(v.summary, /virtio-iommu .*remaps no interrupts on x86/);
  assert.doesNotMatch(v.summary + (v.remedy ?? ''), /intel_iommu=on/);
  const s = f(plan('smmuv3'));
  assert.match(s.summary, /Arm SMMUv3.*aarch64 guests on the virt machine type/);
});
