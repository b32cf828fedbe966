// What the guest kernel itself shows for a non-Intel virtual IOMMU (read directly, no vfioctl): the ACPI
// table that describes it, its units in /sys/class/iommu, whether /proc/interrupts has remapped (IR-)
// interrupt chips, what the kernel log says, and whether groups exist. The host's run.json says what the
// boot is (data.expect: { model, intremap, groups }); every signal must agree with it, so a QEMU or
// kernel change that alters one shows up here before the doctor tests judge vfioctl against them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInfo, saveResult } from './lib/guest.mjs';
import { iommuSignals } from './lib/iommu.mjs';

const expect = runInfo().data.expect ?? {};
const s = iommuSignals();
saveResult('iommu-signals.json', s);
saveResult('proc-interrupts.txt', s.interrupts);

test(`the firmware table for ${expect.model} is there, and no other IOMMU table`, () => {
  const table = { amd: 'IVRS', virtio: 'VIOT', intel: 'DMAR' }[expect.model];
  assert.ok(table, `unknown model ${expect.model}`);
  assert.deepEqual(s.tables, [table], `IOMMU tables: ${s.tables.join(' ')}`);
});

test('IOMMU units in /sys/class/iommu and groups as the model and this kernel give them', () => {
  if (expect.model === 'amd') {
    assert.ok(s.units.length >= 1 && s.units.every((u) => /^ivhd\d+$/.test(u)), `units: ${s.units.join(' ')}`);
    assert.ok(s.groups > 0, 'AMD-Vi on but no groups');
  } else if (expect.model === 'virtio') {
    if (expect.groups) {
      assert.ok(s.units.length >= 1, 'no virtio-iommu unit registered');
      assert.ok(s.groups > 0);
    } else {
      assert.deepEqual(s.units, [], 'an IOMMU unit without the virtio-iommu driver');
      assert.equal(s.groups, 0, 'groups without an IOMMU driver');
    }
  }
});

test(`/proc/interrupts: remapped (IR-) chips ${expect.intremap ? 'present' : 'absent'}`, () => {
  assert.ok(s.chips.some((c) => /IO-APIC|PCI-MSI/.test(c)), `no IO-APIC/MSI chip at all: ${s.chips.join(' ')}`);
  if (expect.intremap) assert.ok(s.irChips.length > 0, `no IR- chip: ${s.chips.join(' ')}`);
  else assert.deepEqual(s.irChips, [], `remapped chips although remapping is off: ${s.irChips.join(' ')}`);
});

test('the kernel log agrees', () => {
  assert.ok(s.logHits.length > 0 || expect.model === 'virtio', 'no IOMMU line in dmesg');
  const enabled = s.logHits.some((l) => /AMD-Vi: Interrupt remapping enabled|Enabled IRQ remapping/i.test(l));
  assert.equal(enabled, Boolean(expect.intremap), s.logHits.join('\n'));
  if (expect.model === 'amd') assert.ok(s.logHits.some((l) => /AMD-Vi: Found IOMMU/.test(l)), s.logHits.join('\n'));
});
