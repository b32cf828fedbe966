/**
 * Remedy text for doctor findings: "this parameter must be on the kernel command line" as the boot
 * loader's own description (src/core/boot-loader.ts, which render host-config and the plan use too), the
 * initramfs tool's command (from BootFacts, which src/host/detect-boot.ts detects), and "enable the IOMMU
 * in firmware" as the menu names the board's vendor uses. Pure.
 */
import type { BootFacts, HostFacts } from '../model/host-facts.js';
import { cmdlineLocation, describeCmdlineEdit, hostPath, pasteArgv } from './boot-loader.js';

export { hostPath };

export interface CmdlineChange {
  add?: readonly string[];
  remove?: readonly string[];
}

/**
 * Steps that change the kernel command line on this host, one per line, ending with the reboot: the
 * boot loader's own description (src/core/boot-loader.ts, the text of the adapters in src/adapters/boot/).
 */
export function cmdlineRemedy(boot: BootFacts, change: CmdlineChange): string {
  return describeCmdlineEdit(boot.bootLoader, { set: change.add ?? [], remove: change.remove ?? [] }).text;
}

/** The command that rebuilds the initramfs, or a generic hint. */
export function initramfsCommand(boot: BootFacts): string {
  return boot.initramfs.regenerate ? pasteArgv(boot.initramfs.regenerate) : "your distribution's initramfs rebuild command";
}

/** A one-line description of the boot tooling for the boot-tooling finding. */
export function describeBoot(boot: BootFacts): string {
  const bl = boot.bootLoader;
  const loc = cmdlineLocation(bl);
  const where = loc.file ? ` (command line in ${hostPath(loc.file)})` : loc.via !== 'none' ? ` (command line through ${loc.via})` : '';
  return `${bl.kind}${where}, initramfs: ${boot.initramfs.kind}, ${boot.uefi ? 'UEFI' : 'BIOS or unknown firmware'}`;
}

type Board = 'asus' | 'asrock' | 'gigabyte' | 'msi' | 'dell' | 'hp' | 'lenovo' | 'supermicro' | null;

/** What DMI says about the machine (sys_vendor, board_vendor): enough to name the firmware menus. */
export interface Dmi {
  sysVendor: string | null;
  boardVendor: string | null;
}

function boardOf(dmi: Dmi): Board {
  const v = `${dmi.sysVendor ?? ''} ${dmi.boardVendor ?? ''}`.toLowerCase();
  if (v.includes('asustek') || v.includes('asus')) return 'asus';
  if (v.includes('asrock')) return 'asrock';
  if (v.includes('gigabyte')) return 'gigabyte';
  if (v.includes('micro-star') || /\bmsi\b/.test(v)) return 'msi';
  if (v.includes('dell')) return 'dell';
  if (v.includes('hewlett') || /\bhp\b/.test(v) || v.includes('hpe')) return 'hp';
  if (v.includes('lenovo')) return 'lenovo';
  if (v.includes('supermicro')) return 'supermicro';
  return null;
}

const BOARD_NAMES: Record<NonNullable<Board>, string> = {
  asus: 'ASUS', asrock: 'ASRock', gigabyte: 'Gigabyte', msi: 'MSI', dell: 'Dell', hp: 'HP', lenovo: 'Lenovo', supermicro: 'Supermicro',
};
const INTEL_MENUS: Record<NonNullable<Board>, string> = {
  asus: 'Advanced > System Agent (SA) Configuration > VT-d',
  asrock: 'Advanced > Chipset Configuration > VT-d',
  gigabyte: 'Settings > Miscellaneous > Intel VT-d Technology (or Chipset > VT-d)',
  msi: 'OC > CPU Features > Intel VT-D Tech',
  dell: 'Virtualization Support > VT for Direct I/O',
  hp: 'System Configuration > Device Configurations > VT-d (or Advanced > System Options > Virtualization Technology for Directed I/O)',
  lenovo: 'Security > Virtualization > Intel VT-d Feature',
  supermicro: 'Advanced > Chipset Configuration > North Bridge > IIO Configuration > Intel VT for Directed I/O (VT-d)',
};
const AMD_MENUS: Record<NonNullable<Board>, string> = {
  asus: 'Advanced > AMD CBS > NBIO Common Options > IOMMU (and Advanced > CPU Configuration > SVM Mode)',
  asrock: 'Advanced > AMD CBS > NBIO Common Options > IOMMU (and Advanced > CPU Configuration > SVM Mode)',
  gigabyte: 'Settings > Miscellaneous > IOMMU (and Tweaker > Advanced CPU Settings > SVM Mode)',
  msi: 'OC > Advanced CPU Configuration > IOMMU (and SVM Mode)',
  dell: 'Virtualization Support > VT for Direct I/O (AMD-Vi)',
  hp: 'System Configuration > Device Configurations > AMD-Vi / IOMMU',
  lenovo: 'Security > Virtualization > AMD IOMMU (or "AMD-Vi")',
  supermicro: 'Advanced > NB Configuration > IOMMU',
};

/** Where to switch the IOMMU on in firmware, by CPU vendor and (when DMI names it) board vendor. */
export function firmwareRemedy(facts: HostFacts, vendor: 'intel' | 'amd' | 'other'): string {
  return firmwareRemedyFor(vendor, facts.virt);
}

/** The same, from the DMI identity alone (the plan has no full host facts). */
export function firmwareRemedyFor(vendor: 'intel' | 'amd' | 'other', dmi: Dmi): string {
  const board = boardOf(dmi);
  if (vendor === 'intel') {
    const menu = board ? `on this ${BOARD_NAMES[board]} board typically ${INTEL_MENUS[board]}` : 'usually under Advanced > Chipset / System Agent / North Bridge / CPU Configuration';
    return `enable "Intel Virtualization Technology for Directed I/O" (VT-d) in the firmware setup, ${menu}; also keep "Intel Virtualization Technology" (VT-x) on. Firmware updates often reset it: check again after every BIOS update`;
  }
  if (vendor === 'amd') {
    const menu = board ? `on this ${BOARD_NAMES[board]} board typically ${AMD_MENUS[board]}` : 'usually named "IOMMU" or "AMD-Vi" under Advanced > AMD CBS > NBIO Common Options (set Enabled, not Auto)';
    return `enable the AMD IOMMU (AMD-Vi) in the firmware setup, ${menu}; also keep SVM on. Firmware updates often reset it: check again after every BIOS update`;
  }
  return 'enable the platform IOMMU in the firmware (ARM: SMMU described by the ACPI IORT table or the device tree; POWER has it on by default)';
}

/** What the outer host must give a VM so that the VM can assign devices onward. */
export const VIOMMU_REMEDY = [
  'on the outer host, give this VM a virtual IOMMU with interrupt remapping and caching mode:',
  '  QEMU:    -machine q35,kernel_irqchip=split -device intel-iommu,intremap=on,caching-mode=on',
  "  libvirt: <features><ioapic driver='qemu'/></features> and <devices><iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu></devices>",
  'then boot this VM with intel_iommu=on',
].join('\n');

/** The platform a plan runs on, as far as the IOMMU remedy needs it. */
export interface Platform extends Dmi {
  /** a virtual machine: its IOMMU is the one the outer host gives it */
  vm: boolean;
  /** the ACPI tables that describe an IOMMU (DMAR, IVRS, VIOT, IORT), when they were read */
  iommuTables?: string[];
}

/** A VM whose only virtual IOMMU is a virtio-iommu (VIOT) and whose kernel made no groups of it. */
export const VIRTIO_IOMMU_NO_DRIVER_REMEDY = [
  'this VM has a virtio-iommu (ACPI VIOT table), but the kernel made no groups: it has no virtio-iommu driver (see vfioctl doctor, iommu-kernel)',
  'boot a kernel built with CONFIG_VIRTIO_IOMMU and CONFIG_ACPI_VIOT, or give this VM an IOMMU the kernel drives, on the outer host:',
  '  QEMU:    -machine q35,kernel_irqchip=split -device intel-iommu,intremap=on,caching-mode=on',
  "  libvirt: <features><ioapic driver='qemu'/></features> and <devices><iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu></devices>",
].join('\n');

/**
 * The one remedy for "the kernel has no IOMMU": in a VM the virtual IOMMU from the outer host; on bare
 * metal the firmware setting for this vendor and board (as the doctor's iommu-firmware finding says).
 * Null when the vendor is unknown and no platform was read (the caller keeps its generic text).
 */
export function iommuOffRemedy(vendor: 'intel' | 'amd' | 'other' | null, platform: Platform | undefined): string | null {
  const t = platform?.iommuTables ?? [];
  if (platform?.vm && t.includes('VIOT') && !t.includes('DMAR') && !t.includes('IVRS')) return VIRTIO_IOMMU_NO_DRIVER_REMEDY;
  if (platform?.vm) return VIOMMU_REMEDY;
  if (vendor === 'intel' || vendor === 'amd') return firmwareRemedyFor(vendor, platform ?? { sysVendor: null, boardVendor: null });
  return null;
}

