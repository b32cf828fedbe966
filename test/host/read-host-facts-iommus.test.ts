/**
 * The host-fact readers for the other IOMMUs: /proc/interrupts' chips (remapped IR- chips exist only while
 * interrupt remapping is on), a virtio-iommu unit recognised from where the kernel registers it, and
 * CONFIG_ACPI_VIOT kept from the kernel config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { parseInterruptChips } from '../../src/model/host-facts.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { amdIommuVm, procInterrupts, virtioIommuVm } from '../support/iommu-hosts.js';

function facts(spec: HostSpec): ReturnType<typeof readHostFacts> {
  const t = makeTempHostTree(spec);
  try {
    return readHostFacts(new HostRoot(t.root));
  } finally {
    t.cleanup();
  }
}

test('parseInterruptChips: the chip column after the per-CPU counts, remapped ones apart', () => {
  assert.deepEqual(parseInterruptChips(procInterrupts(true, [' 24:          0          0   PCI-MSI 16384-edge      AMD-Vi'])), {
    chips: ['IR-IO-APIC', 'IR-PCI-MSI', 'PCI-MSI'], remapped: ['IR-IO-APIC', 'IR-PCI-MSI'],
  });
  assert.deepEqual(parseInterruptChips(procInterrupts(false)), { chips: ['IO-APIC', 'PCI-MSI'], remapped: [] });
  // 4 CPUs, a 6.2+ per-device MSI chip name, an arm64 GIC line, junk
  const text = [
    '           CPU0       CPU1       CPU2       CPU3',
    ' 40:          0          0          0          5  IR-PCI-MSIX-0000:03:00.0    0-edge      nvme0q0',
    ' 11:       1234          0          0          0     GICv3  27 Level     arch_timer',
    'garbage line',
    ' 99: 1 2',
    'NMI:          0          0          0          0   Non-maskable interrupts',
  ].join('\n');
  assert.deepEqual(parseInterruptChips(text), { chips: ['GICv3', 'IR-PCI-MSIX-0000:03:00.0'], remapped: ['IR-PCI-MSIX-0000:03:00.0'] });
});

test('readHostFacts reads /proc/interrupts; absent stays absent', () => {
  const f = facts(amdIommuVm({ intremap: true }));
  assert.equal(f.interrupts.state, 'ok');
  assert.deepEqual(f.interrupts.state === 'ok' ? f.interrupts.value.remapped : null, ['IR-IO-APIC', 'IR-PCI-MSI']);
  assert.equal(f.interrupts.source, '/proc/interrupts');
  assert.equal(facts(amdIommuVm({ intremap: true, interrupts: false })).interrupts.state, 'absent');
});

test('an AMD unit under its own PCI function is kind amd; a virtio-iommu unit under its virtio device is kind virtio', () => {
  assert.deepEqual(facts(amdIommuVm({ intremap: true })).iommuUnits.map((u) => [u.name, u.kind]), [['ivhd0', 'amd']]);
  const v = facts(virtioIommuVm({ driver: true }));
  assert.deepEqual(v.iommuUnits.map((u) => [u.name, u.kind]), [['0000:00:02.0', 'virtio']]);
  assert.equal(v.acpi.viot, true);
  assert.equal(v.kernel.config.state === 'ok' ? v.kernel.config.value.CONFIG_ACPI_VIOT : null, 'y');
  assert.deepEqual(facts(virtioIommuVm({ driver: false })).iommuUnits, []);
});
