/**
 * Host specs for the other virtual IOMMUs, shaped after what Debian 12's 6.1 kernel showed under QEMU 7.2
 * in the real-kernel harness (test/kernel/iommus.test.ts): a q35 VM with QEMU's AMD IOMMU (the unit
 * ivhd0 under its own PCI function 00:01.0, which has no group; an IVRS table) with and without interrupt
 * remapping, and a q35 VM with virtio-iommu-pci (a VIOT table; the unit, named after the PCI function,
 * under its virtio device) whose kernel has or lacks the driver.
 */
import type { FnSpec, HostSpec } from './host-tree.js';
import { RELEASE, cpuinfo, hostFiles } from './doctor-hosts.js';

/** /proc/interrupts of a 2-CPU guest, remapped (IR-) chips or not, as the harness's guests showed. */
export function procInterrupts(remapped: boolean, extraMsi: string[] = []): string {
  const io = remapped ? 'IR-IO-APIC' : ' IO-APIC';
  const msi = remapped ? 'IR-PCI-MSI' : ' PCI-MSI';
  return [
    '           CPU0       CPU1       ',
    `  0:         97          0  ${io}   2-edge      timer`,
    `  1:          9          0  ${io}   1-edge      i8042`,
    `  4:          8          0  ${io}   4-edge      ttyS0`,
    `  9:          0          0  ${io}   9-fasteoi   acpi`,
    ...extraMsi,
    ` 25:          0          0  ${msi} 32768-edge      PCIe PME, aerdrv`,
    ` 32:        461          0  ${msi} 425985-edge      virtio0-requests`,
    ` 34:         35          0  ${msi} 442369-edge      enp3s0`,
    'NMI:          0          0   Non-maskable interrupts',
    'LOC:       2090       2458   Local timer interrupts',
    'ERR:          0',
    'MIS:          0',
    '',
  ].join('\n');
}

const vmFiles = (): Record<string, string> => ({
  ...hostFiles({ vendor: 'amd', params: '' }),
  // QEMU's default TCG CPU (qemu64) says AuthenticAMD and has no svm
  'proc/cpuinfo': cpuinfo('amd', { hypervisor: true, virt: false }),
  'sys/class/dmi/id/sys_vendor': 'QEMU\n',
  'sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n',
  'sys/class/dmi/id/board_vendor': '',
});

const hostBridge: FnSpec = { address: '0000:00:00.0', vendor: 0x8086, device: 0x29c0, subVendor: 0x1af4, subDevice: 0x1100, classCode: 0x060000, iommuGroup: 0 };
const nic = (group: number | null): FnSpec => ({
  address: '0000:00:04.0', vendor: 0x8086, device: 0x10d3, subVendor: 0x8086, subDevice: 0x0000, classCode: 0x020000, driver: 'e1000e', iommuGroup: group,
  caps: { pm: {}, msi: { vectors: 1, addr64: true } },
});

/** q35 + `-device amd-iommu,intremap=on|off`: IVRS, ivhd0 under 00:01.0, /proc/interrupts with or without IR- chips. */
export function amdIommuVm(o: { intremap: boolean; interrupts?: boolean; log?: string[] }): HostSpec {
  const files: Record<string, string> = { ...vmFiles() };
  if (o.interrupts !== false) files['proc/interrupts'] = procInterrupts(o.intremap, [' 24:          0          0   PCI-MSI 16384-edge      AMD-Vi']);
  if (o.log) files['var/log/dmesg'] = [`[    0.000000] Linux version ${RELEASE} (debian-kernel@lists.debian.org)`, ...o.log, ''].join('\n');
  return {
    iommu: 'amd',
    functions: [
      hostBridge,
      // the AMD IOMMU's own function: no group (it does not translate for itself), no driver
      { address: '0000:00:01.0', vendor: 0x1022, device: 0x0008, subVendor: 0x1af4, subDevice: 0x1100, classCode: 0x080600, iommuGroup: null },
      nic(1),
    ],
    files,
  };
}

/**
 * q35 + `-device virtio-iommu-pci`: VIOT; with `driver` the kernel registered the unit and made groups
 * (CONFIG_VIRTIO_IOMMU=y), without it neither (Debian 12's 6.1: CONFIG_VIRTIO_IOMMU is not set).
 */
export function virtioIommuVm(o: { driver: boolean; config?: 'y' | 'm' | 'n' }): HostSpec {
  const files: Record<string, string> = { ...vmFiles(), 'proc/interrupts': procInterrupts(false) };
  const config = o.config ?? (o.driver ? 'y' : 'n');
  const cfgFile = `boot/config-${RELEASE}`;
  if (config === 'm') files[`lib/modules/${RELEASE}/modules.dep`] += 'kernel/drivers/iommu/virtio-iommu.ko: \n';
  files[cfgFile] = `${files[cfgFile]!}${config === 'n' ? '# CONFIG_VIRTIO_IOMMU is not set\n' : `CONFIG_VIRTIO_IOMMU=${config}\nCONFIG_ACPI_VIOT=y\n`}`;
  return {
    iommu: 'virtio',
    virtioIommuUnit: o.driver,
    functions: [
      { ...hostBridge, iommuGroup: o.driver ? 0 : null },
      { address: '0000:00:02.0', vendor: 0x1af4, device: 0x1057, subVendor: 0x1af4, subDevice: 0x1100, classCode: 0x00ff00, driver: 'virtio-pci', iommuGroup: null },
      nic(o.driver ? 1 : null),
    ],
    files,
  };
}
