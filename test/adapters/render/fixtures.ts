/**
 * Plans and boot tooling the renderer tests share (built through the real planner).
 */
import { planPassthrough } from '../../../src/core/plan.js';
import { canonicalPciAddress, type PciAddressString } from '../../../src/model/pci-address.js';
import type { PassthroughPlan, PlanRequest } from '../../../src/model/plan.js';
import type { BootTooling } from '../../../src/host/detect-boot.js';
import { buildInventory, chipsetShared, desktopGpu, impactFacts, sriovNic } from '../../support/inventory-builder.js';

const A = (s: string): PciAddressString => canonicalPciAddress(s) as PciAddressString;
const req = (addrs: string[], extra: Partial<PlanRequest> = {}): PlanRequest => ({ addresses: addrs.map(A), ...extra });

export const debianBoot: BootTooling = {
  os: { id: 'debian', idLike: [], versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  uefi: true,
  bootLoader: { kind: 'grub2', cmdline: { via: 'grub-defaults', file: 'etc/default/grub' }, regenerate: [['update-grub']], evidence: [] },
  initramfs: { kind: 'initramfs-tools', regenerate: ['update-initramfs', '-u', '-k', 'all'], modulesFile: 'etc/initramfs-tools/modules', evidence: [] },
};

export const fedoraBoot: BootTooling = {
  os: { id: 'fedora', idLike: [], versionId: '40', prettyName: 'Fedora Linux 40' },
  uefi: true,
  bootLoader: { kind: 'grubby', cmdline: { via: 'tool', tool: 'grubby', alsoFile: 'etc/default/grub' }, regenerate: [], evidence: [] },
  initramfs: { kind: 'dracut', regenerate: ['dracut', '-f', '--regenerate-all'], modulesFile: 'etc/dracut.conf.d/vfio.conf', evidence: [] },
};

export const systemdBoot: BootTooling = {
  os: { id: 'arch', idLike: [], versionId: '', prettyName: 'Arch Linux' },
  uefi: true,
  bootLoader: { kind: 'systemd-boot', cmdline: { via: 'kernel-cmdline', file: 'etc/kernel/cmdline' }, regenerate: [['kernel-install', 'add', '6.9.1-arch1-1', '/lib/modules/6.9.1-arch1-1/vmlinuz']], evidence: [] },
  initramfs: { kind: 'mkinitcpio', regenerate: ['mkinitcpio', '-P'], modulesFile: 'etc/mkinitcpio.conf', evidence: [] },
};

/** NVIDIA GPU + HDMI audio for guest win11: multifunction slot, hidden KVM, GPU ROM kept. */
export function desktopPlan(extra: Partial<PlanRequest> = {}): PassthroughPlan {
  return planPassthrough(desktopGpu(), req(['01:00.0'], { guest: 'win11', ...extra }), { impact: impactFacts() });
}

/** Chipset group (USB + SATA of one device, NIC behind the switch), forced: two slots, ROM off on the NIC. */
export function chipsetPlan(): PassthroughPlan {
  const inv = chipsetShared();
  const nic = inv.functions.find((f) => f.address === '0000:05:00.0')!;
  nic.hasRom = true;
  return planPassthrough(inv, req(['05:00.0'], { guest: 'router', force: true }), { impact: impactFacts() });
}

/** One SR-IOV VF for a guest that assigns it onward (nested), per-address binding. */
export function nestedVfPlan(): PassthroughPlan {
  return planPassthrough(sriovNic(), req(['03:10.0'], { guest: 'l1-hypervisor', nested: true }), { impact: impactFacts() });
}

/** An Intel host with the IOMMU off. */
export function iommuOffPlan(vendor: 'intel' | 'amd'): PassthroughPlan {
  const inv = buildInventory([{ addr: '03:00.0', id: '8086:10d3', cls: '020000', driver: 'e1000e', name: '82574L Gigabit' }], { iommu: false });
  return planPassthrough(inv, req(['03:00.0']), { impact: impactFacts({ cpuVendor: vendor }) });
}

/** vfio-pci built into the kernel, with the unsafe-interrupts opt-in. */
export function builtinPlan(): PassthroughPlan {
  return planPassthrough(desktopGpu(), req(['01:00.0'], { allowUnsafeInterrupts: true }), { impact: impactFacts(), vfioPciBuiltin: true });
}
