/** The explain catalogue: one realistic message per family, multi-message pastes, unrecognised lines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainError, explainText, knownMessages } from '../../src/core/explain.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { intelReady } from '../support/doctor-hosts.js';

/** [message as a person would paste it, family id] */
const SAMPLES: [string, string][] = [
  ['vfio-pci 0000:0b:00.0: vfio 0000:0b:00.0: group 19 is not viable', 'group-not-viable'],
  ['kvm: -device vfio-pci,host=0000:04:00.0: vfio 0000:04:00.0: error getting device from group 11: Invalid argument. Verify all devices in group 11 are bound to vfio-<bus> or pci-stub and not already in use', 'group-not-viable'],
  ['qemu-system-x86_64: -device vfio-pci,host=0000:09:00.1,bus=pci.6,addr=0x0: vfio 0000:09:00.1: group 21 used in multiple address spaces', 'group-multiple-address-spaces'],
  ["[    4.102931] vfio-pci 0000:0a:00.0: BAR 0: can't reserve [mem 0xe0000000-0xefffffff 64bit pref]", 'bar-cant-reserve'],
  ['[  912.551020] vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param "allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform', 'no-interrupt-remapping'],
  ['kvm: -device vfio-pci,host=0000:03:00.0,id=hostpci0: vfio 0000:03:00.0: failed to setup container for group 5: Failed to set iommu for container: Operation not permitted', 'no-interrupt-remapping'],
  ['[  133.400123] vfio-pci 0000:05:00.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.', 'rmrr-ineligible'],
  ['[ 5521.003112] vfio-pci 0000:02:00.0: Unable to change power state from D3cold to D0, device inaccessible', 'stuck-in-d3'],
  ['[  201.334512] vfio-pci 0000:07:00.0: Refused to change power state from D0 to D3hot', 'stuck-in-d3'],
  ["error: internal error: Unable to reset PCI device 0000:06:00.0: no FLR, PM reset or bus reset available", 'no-reset'],
  ['qemu-system-x86_64: vfio: Cannot reset device 0000:0c:00.3, depends on group 24 which is not owned.', 'hot-reset-group-not-owned'],
  ['qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: failed to open /dev/vfio/14: No such file or directory', 'vfio-group-missing'],
  ['qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: failed to open /dev/vfio/14: Device or resource busy', 'vfio-group-busy'],
  ["qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: failed to open /dev/vfio/14: Permission denied", 'vfio-permission'],
  ["qemu-kvm: -device vfio-pci,host=0e:00.0: vfio: failed to open /dev/vfio/vfio: Operation not permitted", 'vfio-permission'],
  ['qemu-system-x86_64: -device vfio-pci,host=0000:08:00.0: vfio 0000:08:00.0: error getting device from group 17: No such device', 'device-not-on-host'],
  ['qemu-system-x86_64: VFIO_MAP_DMA failed: Cannot allocate memory', 'memlock'],
  ["error: internal error: cannot limit locked memory of process 4242 to 17179869184: Operation not permitted", 'memlock'],
  ['qemu-system-x86_64: vfio_dma_map(0x5581f0a3c4d0, 0x8000000000, 0x10000000, 0x7f2b9c000000) = -22 (Invalid argument)', 'dma-map-einval'],
  ['qemu-system-x86_64: vfio_dma_map(0x55c1, 0x1c0000000, 0x200000, 0x7f8c4a000000) = -28 (No space left on device)', 'dma-entry-limit'],
  ['[  410.220817] genirq: Flags mismatch irq 17. 00000000 (vfio-intx(0000:05:00.0)) vs. 00000080 (ehci_hcd:usb2)', 'intx-irq-shared'],
  ['[  377.909911] vfio-pci 0000:01:00.0: vfio_ecap_init: 0000:01:00.0 hiding ecap 0x1e@0x258', 'vfio-hiding-ecap'],
  ['[    2.841102] vfio-pci: probe of 0000:00:1f.3 failed with error -22', 'vfio-pci-probe-failed'],
  ['error: Failed to load PCI stub module vfio-pci', 'vfio-module-missing'],
  ['bash: echo: write error: Device or resource busy', 'sysfs-bind-error'],
  ["error: internal error: Unknown PCI header type '127' for device '0000:0d:00.0'", 'pci-header-type-127'],
  ['[ 1204.889012] vfio-pci 0000:0d:00.0: not ready 65535ms after bus reset; giving up', 'not-ready-after-reset'],
  ['[ 8812.112233] pcieport 0000:00:03.1: AER: Uncorrected (Fatal) error received: 0000:0d:00.0', 'aer-fatal'],
  ['[ 8812.112240] pcieport 0000:00:01.2: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)', 'aer-corrected'],
  ['[  120.554102] vfio-pci 0000:01:00.0: Invalid PCI ROM header signature: expecting 0xaa55, got 0xffff', 'rom-invalid-signature'],
  ['qemu-system-x86_64: vfio-pci: Cannot read device rom at 0000:01:00.0', 'qemu-rom-unreadable'],
  ['qemu-system-x86_64: vfio-pci 0000:04:00.0: Failed to mmap 0000:04:00.0 BAR 2. Performance may be slow', 'mmap-bar-slow'],
  ['[ 3301.223344] DMAR: [DMA Write NO_PASID] Request device [02:00.0] fault addr 0xf7e00000 [fault reason 0x05] PTE Write access is not set', 'dmar-fault'],
  ['[    7.201101] amdgpu 0000:0c:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0012 address=0xfffffff0 flags=0x0030]', 'amd-vi-page-fault'],
  ['[   14.002211] AMD-Vi: Completion-Wait loop timed out', 'amd-vi-completion-wait'],
  ['[   66.104450] arm-smmu-v3 arm-smmu-v3.2.auto: event 0x10 received:', 'smmu-fault'],
  ['[    0.021120] DMAR: [Firmware Bug]: No firmware reserved region can cover this RMRR [0x000000007b800000-0x000000007fffffff], contact BIOS vendor for fixes', 'dmar-firmware-bug'],
  ['[    0.331200] pci 0000:00:1c.0: Warning: PCIe ACS overrides enabled; This may allow non-IOMMU protected peer-to-peer DMA', 'acs-override-warning'],
  ['error: unsupported configuration: host doesn\'t support passthrough of host PCI devices', 'no-iommu'],
  ['[ 2211.556677] kvm [4411]: vcpu3, guest rIP: 0xfffff8011c2d3e4f ignored rdmsr: 0x3a data 0x0', 'kvm-ignored-msr'],
  ['[   12.003456] NVRM: GPU 0000:01:00.0 is already bound to vfio-pci.', 'nvrm-bound-to-vfio'],
  ['error: Requested operation is not valid: PCI device 0000:01:00.0 is in use by driver QEMU, domain gaming', 'libvirt-device-in-use'],
  ['error: Requested operation is not valid: domain has assigned non-USB host devices', 'migration-hostdev'],
  ["error: internal error: Failed to bind PCI device '0000:01:00.0' to vfio-pci", 'libvirt-bind-failed'],
  ['error: unsupported configuration: host device requires an IOMMU but the guest does not have one', 'libvirt-virtio-iommu-hostdev'],
  ['Warning  FailedScheduling  12s  default-scheduler  0/3 nodes are available: 3 Insufficient nvidia.com/TU104GL_Tesla_T4.', 'kubevirt-insufficient-devices'],
  ['admission webhook "virtualmachine-validator.kubevirt.io" denied the request: HostDevices feature gate is not enabled in kubevirt-config', 'kubevirt-feature-gate'],
  ['TASK ERROR: Cannot open iommu_group: No such file or directory', 'proxmox-iommu-group'],
  ['TASK ERROR: timeout waiting on systemd', 'proxmox-systemd-timeout'],
  ['libxl: error: libxl_pci.c:1521:libxl__device_pci_add: Domain 3:xc_assign_device failed: no IOMMU?', 'xen-no-iommu'],
  ['libxl: error: libxl_pci.c:1486:libxl__device_pci_add: Domain 5:PCI device 0000:03:00.0 is not assignable', 'xen-not-assignable'],
  ['Windows has stopped this device because it has reported problems. (Code 43)', 'windows-code-43'],
  ['This device cannot start. (Code 10) STATUS_DEVICE_POWER_FAILURE', 'windows-code-10'],
  ['This device cannot find enough free resources that it can use. (Code 12) If you want to use this device, you will need to disable one of the other devices on this system.', 'windows-code-12'],
  ['The drivers for this device are not installed. (Code 28)', 'windows-code-28'],
  ['Stop code: VIDEO_TDR_FAILURE  What failed: nvlddmkm.sys', 'windows-video-tdr'],
];

test('the catalogue has at least 40 families from every source, each with cause, confirmation and ranked fixes', () => {
  const known = knownMessages();
  assert.ok(known.length >= 40, `${known.length} families`);
  assert.equal(new Set(known.map((k) => k.id)).size, known.length, 'ids are unique');
  for (const s of ['kernel', 'qemu', 'libvirt', 'kubevirt', 'proxmox', 'xen', 'windows']) assert.ok(known.some((k) => k.source === s), s);
  assert.deepEqual([...new Set(SAMPLES.map(([, id]) => id))].sort(), known.map((k) => k.id).sort(), 'every family has a sample message here');
});

for (const [text, id] of SAMPLES) {
  test(`${id}: ${text.slice(0, 70)}`, () => {
    const r = explainError(text);
    assert.equal(r[0]?.id, id, `got ${r.map((e) => e.id).join(',') || 'nothing'}`);
    const e = r[0]!;
    assert.ok(e.cause.length > 40, 'a cause');
    assert.ok(e.fixes.length >= 1 && e.fixes.every((f) => f.length > 10), 'ranked fixes');
    assert.ok(e.confirm.length >= 1, 'how to confirm it');
    assert.equal(e.line, 1);
    assert.deepEqual(e.facts, []);
  });
}

test('every title is a message of its own family (the contract test explains each title)', () => {
  assert.deepEqual(knownMessages().filter((k) => !explainError(k.title).some((e) => e.id === k.id)).map((k) => k.id), []);
});

test('a paste of several messages: each explained once, in order, with its line; follow-up lines are not noise; the rest is not recognised', () => {
  const paste = [
    '2026-11-30T20:11:02.311Z qemu-system-x86_64: -device vfio-pci,host=0000:0a:00.0: vfio 0000:0a:00.0: group 21 used in multiple address spaces',
    'qemu-system-x86_64: -device vfio-pci,host=0000:0a:00.0: Device initialization failed',
    '',
    '[ 8812.112240] pcieport 0000:00:01.2: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)',
    '[ 8812.112301] pcieport 0000:00:01.2: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)',
    'my mouse also stopped working',
    "error: internal error: Unknown PCI header type '127' for device '0000:0a:00.0'",
  ].join('\n');
  const r = explainText(paste);
  assert.deepEqual(r.matches.map((m) => [m.id, m.line, m.lines]), [['group-multiple-address-spaces', 1, [1]], ['aer-corrected', 4, [4, 5]], ['pci-header-type-127', 7, [7]]]);
  assert.match(r.matches[2]!.lineText, /^error: internal error: Unknown PCI header type/);
  assert.deepEqual(r.unrecognised, [{ line: 6, text: 'my mouse also stopped working' }]);
});

test('unknown messages: nothing matched, and the lines that were not recognised', () => {
  const r = explainText('qemu-system-x86_64: something entirely new happened\nsecond line');
  assert.deepEqual(r.matches, []);
  assert.deepEqual(r.unrecognised.map((u) => u.line), [1, 2]);
});

test('memlock: says what libvirt does and what it does not, instead of "handled automatically"', () => {
  const [e] = explainError('qemu-system-x86_64: VFIO_MAP_DMA failed: Cannot allocate memory');
  assert.doesNotMatch(e!.cause + e!.fix, /handled automatically/);
  assert.match(e!.cause, /libvirt, when it starts QEMU itself as root, raises that limit for the QEMU process/);
  assert.match(e!.cause, /qemu:\/\/\/session/);
  assert.match(e!.cause, /QEMU then keeps the daemon's own limit, which is the unit's LimitMEMLOCK/);
  assert.match(e!.cause, /QEMU started by hand gets only the limit of the shell or unit/);
  assert.ok(e!.confirm.some((c) => /\/proc\/.*\/limits/.test(c)));
  assert.ok(e!.fixes.some((f) => /systemctl edit/.test(f)));
  assert.deepEqual(e!.related, ['memlock']);
});

test('Code 43: the host framebuffer fix ranks first, then the vBIOS romfile, then hiding KVM, then reset/ROM BAR', () => {
  const [e] = explainError('Windows has stopped this device because it has reported problems. (Code 43)');
  assert.match(e!.fixes[0]!, /initcall_blacklist=sysfb_init.*video=efifb:off/);
  assert.match(e!.fixes[1]!, /<rom file=/);
  assert.match(e!.fixes[2]!, /R465.*<kvm><hidden state='on'\/><\/kvm>/);
  assert.match(e!.fixes[3]!, /rom bar='off'/);
  assert.deepEqual(e!.related, ['device-framebuffer', 'device-rom', 'device-boot-vga', 'device-reset']);
});

test('Code 43 on a host: cites the framebuffer in the GPU BAR and whether the GPU is the boot GPU', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'proc/iomem': 'c0000000-cfffffff : 0000:01:00.0\n  c0000000-c02fffff : BOOTFB\n' };
  const t = makeTempHostTree(spec);
  try {
    const host = new HostRoot(t.root);
    const [e] = explainError('Code 43 on 01:00.0', readHostFacts(host), readInventory(host, { names: false }));
    const v = e!.facts.map((f) => f.value);
    assert.ok(v.some((x) => /0000:01:00\.0: BOOTFB at c0000000-c02fffff/.test(x)), v.join('\n'));
    assert.ok(v.some((x) => /^10de \(NVIDIA\)$/.test(x)), v.join('\n'));
  } finally {
    t.cleanup();
  }
});

test('a long journal is bounded: repeated messages collapse into one explanation with every line', () => {
  const lines = Array.from({ length: 3000 }, () => '[ 1.0] pcieport 0000:00:01.2: AER: Corrected error received: 0000:00:01.2');
  const r = explainText(lines.join('\n'));
  assert.equal(r.matches.length, 1);
  assert.equal(r.matches[0]!.lines.length, 3000);
});
