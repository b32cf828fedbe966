import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderLibvirt, renderLibvirtDomain, renderLibvirtParts } from '../../../src/adapters/render/libvirt.js';
import { parseDomainXml, pciHostdevs } from '../../../src/adapters/libvirt/domain-xml.js';
import { expectGolden } from '../../support/golden.js';
import { hasLibvirtValidator, NO_VALIDATOR, validateDomain } from '../../support/libvirt-schema.js';
import { chipsetPlan, desktopPlan, nestedVfPlan } from './fixtures.js';

test('desktop GPU: multifunction hostdevs behind one root port, hidden KVM features (golden)', () => {
  const plan = desktopPlan();
  const text = renderLibvirt(plan);
  expectGolden('render/libvirt-desktop-gpu.xml', text);
  const parts = renderLibvirtParts(plan);
  assert.equal(parts.hostdevs.length, 2);
  assert.match(parts.hostdevs[0]!.xml, /<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'\/>/);
  assert.match(parts.hostdevs[0]!.xml, /<address type='pci' domain='0x0000' bus='0x10' slot='0x00' function='0x0' multifunction='on'\/>/);
  assert.match(parts.hostdevs[1]!.xml, /bus='0x10' slot='0x00' function='0x1'\/>/);
  assert.doesNotMatch(parts.hostdevs[1]!.xml, /multifunction/);
  assert.deepEqual(parts.controllers, ["<controller type='pci' index='16' model='pcie-root-port'/>\n"]);
  assert.ok(parts.features.some((f) => f.includes("<hidden state='on'/>")));
  assert.ok(parts.features.some((f) => f.includes("<vendor_id state='on' value='vfioctl'/>")));
  assert.equal(parts.iommu, null);
});

test('desktop GPU: the full domain is valid for libvirt and parses back to the claimed functions (golden)', (t) => {
  const xml = renderLibvirtDomain(desktopPlan());
  expectGolden('render/libvirt-desktop-gpu.domain.xml', xml);
  const parsed = parseDomainXml(xml);
  assert.ok(parsed.ok);
  assert.deepEqual(pciHostdevs(parsed.value).map((h) => h.source), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(parsed.value.features.kvmHidden, true);
  assert.equal(parsed.value.features.hypervVendorId, 'vfioctl');
  validateDomain(t, xml);
});

test('ROM BAR off is written only where the plan chose it; --rom-bar off hides the GPU ROM too', (t) => {
  const chip = chipsetPlan();
  const text = renderLibvirt(chip);
  expectGolden('render/libvirt-chipset.xml', text);
  const parts = renderLibvirtParts(chip);
  const nic = parts.hostdevs.find((h) => h.address === '0000:05:00.0')!;
  assert.match(nic.xml, /<rom bar='off'\/>/);
  assert.ok(parts.hostdevs.filter((h) => h.address !== '0000:05:00.0').every((h) => !h.xml.includes('<rom')));
  validateDomain(t, renderLibvirtDomain(chip));
  const off = renderLibvirtParts(desktopPlan({ romBar: 'off' }));
  assert.match(off.hostdevs[0]!.xml, /<rom bar='off'\/>/);
});

test('nested: virtual Intel IOMMU with intremap/caching_mode and a QEMU ioapic, valid for libvirt (golden)', (t) => {
  const plan = nestedVfPlan();
  const parts = renderLibvirtParts(plan);
  assert.match(parts.iommu ?? '', /<iommu model='intel'>\s*<driver intremap='on' caching_mode='on' iotlb='on'\/>/);
  assert.ok(parts.features.includes("<ioapic driver='qemu'/>\n"));
  assert.equal(parts.controllers.length, 0, 'a single function needs no placement');
  const xml = renderLibvirtDomain(plan);
  expectGolden('render/libvirt-nested.domain.xml', xml);
  validateDomain(t, xml);
});

test('i440fx placement: multifunction on bus 0 from slot 0x10, no root ports; valid for libvirt', (t) => {
  const xml = renderLibvirtDomain(desktopPlan(), { machine: 'pc' });
  assert.match(xml, /bus='0x00' slot='0x10' function='0x0' multifunction='on'/);
  assert.doesNotMatch(xml, /pcie-root-port/);
  validateDomain(t, xml);
});

test('the schema check can fail: a broken hostdev is rejected by virt-xml-validate', (t) => {
  if (!hasLibvirtValidator) {
    t.skip(NO_VALIDATOR);
    return;
  }
  const bad = renderLibvirtDomain(desktopPlan()).replace("mode='subsystem'", "mode='bogus'");
  assert.throws(() => validateDomain(t, bad), /rejected/);
});
