/**
 * Host specs for `vfioctl doctor` scenarios: the board topologies of topologies.ts plus the non-PCI files
 * doctor reads (cpuinfo, ACPI tables, command lines, kernel config, modules, modprobe.d, kernel log, DMI,
 * boot tooling). One function per scenario of docs/doctor.md; each returns a fresh spec.
 */
import assert from 'node:assert/strict';
import type { HostSpec } from './host-tree.js';
import type { Finding } from '../../src/model/finding.js';
import { chipsetShared, desktopGpu } from './topologies.js';

export const RELEASE = '6.1.0-18-amd64';

const INTEL_FLAGS = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch ept vpid';
const AMD_FLAGS = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt npt lbrv svm_lock nrip_save';

export function cpuinfo(vendor: 'intel' | 'amd', opts: { hypervisor?: boolean; virt?: boolean } = {}): string {
  const flags = (vendor === 'intel' ? INTEL_FLAGS : AMD_FLAGS).split(' ').filter((f) => opts.virt !== false || (f !== 'vmx' && f !== 'svm'));
  if (opts.hypervisor) flags.push('hypervisor');
  const block = (n: number): string => [
    `processor\t: ${n}`,
    `vendor_id\t: ${vendor === 'intel' ? 'GenuineIntel' : 'AuthenticAMD'}`,
    `cpu family\t: ${vendor === 'intel' ? 6 : 23}`,
    `model name\t: ${vendor === 'intel' ? 'Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz' : 'AMD Ryzen 9 3900X 12-Core Processor'}`,
    `flags\t\t: ${flags.join(' ')}`,
    '',
  ].join('\n');
  return `${block(0)}\n${block(1)}\n`;
}

function procModules(names: string[]): string {
  return names.map((n) => `${n} 45056 0 - Live 0x0000000000000000`).join('\n') + '\n';
}

const BUILTIN_BASE = ['kernel/drivers/iommu/intel/iommu.ko', 'kernel/drivers/pci/pcieport.ko', 'kernel/drivers/video/fbdev/efifb.ko'];
const MODULES_DEP = [
  'kernel/arch/x86/kvm/kvm.ko: ',
  'kernel/arch/x86/kvm/kvm-intel.ko: kernel/arch/x86/kvm/kvm.ko',
  'kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko',
  'kernel/drivers/vfio/vfio.ko: kernel/drivers/iommu/iommufd/iommufd.ko',
  'kernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko',
  'kernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio.ko',
  'kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko',
  'kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko: ',
];

const CONFIG = (intelDefaultOn: boolean): string => [
  '#',
  `# Automatically generated file; DO NOT EDIT.`,
  `# Linux/x86 ${RELEASE} Kernel Configuration`,
  'CONFIG_IOMMU_SUPPORT=y',
  'CONFIG_AMD_IOMMU=y',
  'CONFIG_INTEL_IOMMU=y',
  intelDefaultOn ? 'CONFIG_INTEL_IOMMU_DEFAULT_ON=y' : '# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set',
  'CONFIG_IRQ_REMAP=y',
  'CONFIG_VFIO=m',
  'CONFIG_VFIO_IOMMU_TYPE1=m',
  'CONFIG_VFIO_PCI=m',
  'CONFIG_KVM=m',
  '',
].join('\n');

const DEBIAN_OS = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
export const grubDefaults = (linuxDefault: string, linux = ''): string =>
  '# If you change this file, run \'update-grub\' afterwards to update\n# /boot/grub/grub.cfg.\n\n' +
  'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n' +
  `GRUB_CMDLINE_LINUX_DEFAULT="${linuxDefault}"\nGRUB_CMDLINE_LINUX="${linux}"\n`;

const cmdline = (extra: string): string => `BOOT_IMAGE=/boot/vmlinuz-${RELEASE} root=UUID=6a1d2f0e-3c57-4b7e-9d0a-2f5c1e8b9a44 ro quiet${extra ? ` ${extra}` : ''}\n`;

export interface BaseOptions {
  vendor: 'intel' | 'amd';
  /** running command line extra parameters */
  params: string;
  /** GRUB_CMDLINE_LINUX_DEFAULT (Debian grub); null: no grub defaults file */
  grub?: string | null;
  intelDefaultOn?: boolean;
  loaded?: string[];
  builtinExtra?: string[];
  hypervisor?: boolean;
}

/** The non-PCI files of a Debian 12 host booted with `params`, with update-grub and initramfs-tools. */
export function hostFiles(o: BaseOptions): Record<string, string> {
  const files: Record<string, string> = {
    'proc/cpuinfo': cpuinfo(o.vendor, { hypervisor: !!o.hypervisor }),
    'proc/cmdline': cmdline(o.params),
    'proc/sys/kernel/osrelease': `${RELEASE}\n`,
    'proc/modules': procModules(o.loaded ?? ['kvm', o.vendor === 'intel' ? 'kvm_intel' : 'kvm_amd', 'e1000e']),
    [`boot/config-${RELEASE}`]: CONFIG(o.intelDefaultOn ?? false),
    [`lib/modules/${RELEASE}/modules.builtin`]: [...BUILTIN_BASE, ...(o.builtinExtra ?? [])].join('\n') + '\n',
    [`lib/modules/${RELEASE}/modules.dep`]: MODULES_DEP.join('\n') + '\n',
    'dev/kvm': '',
    'etc/os-release': DEBIAN_OS,
    'usr/sbin/update-grub': '#!/bin/sh\n',
    'usr/sbin/mkinitramfs': '#!/bin/sh\n',
    'etc/security/limits.conf': '# /etc/security/limits.conf\n#<domain> <type> <item> <value>\n',
    'sys/class/dmi/id/sys_vendor': 'ASUSTeK COMPUTER INC.\n',
    'sys/class/dmi/id/product_name': 'System Product Name\n',
    'sys/class/dmi/id/board_vendor': 'ASUSTeK COMPUTER INC.\n',
  };
  if (o.grub !== null) files['etc/default/grub'] = grubDefaults(o.grub ?? `quiet ${o.params}`.trim());
  return files;
}

function withFiles(spec: HostSpec, files: Record<string, string>): HostSpec {
  return { ...spec, files: { ...(spec.files ?? {}), ...files } };
}

/** Intel desktop, VT-d on, intel_iommu=on iommu=pt, Debian grub: ready. */
export function intelReady(): HostSpec {
  return withFiles(desktopGpu(), hostFiles({ vendor: 'intel', params: 'intel_iommu=on iommu=pt' }));
}

/**
 * AMD X570 board, IVRS present, iommu=pt only (AMD needs no parameter), Fedora with grubby and BLS
 * entries, kernel log shows interrupt remapping enabled: ready.
 */
export function amdReady(): HostSpec {
  const release = '6.5.6-300.fc39.x86_64';
  const base = hostFiles({ vendor: 'amd', params: 'iommu=pt', grub: null });
  delete base['usr/sbin/update-grub'];
  delete base['usr/sbin/mkinitramfs'];
  const cl = `BOOT_IMAGE=(hd0,gpt2)/vmlinuz-${release} root=UUID=0f3b6a2c-91d4-4e0b-8c7a-5d2e4f1a6b39 ro rhgb quiet iommu=pt\n`;
  return withFiles(chipsetShared(), {
    ...base,
    'proc/cmdline': cl,
    'proc/sys/kernel/osrelease': `${release}\n`,
    [`boot/config-${release}`]: CONFIG(false),
    [`lib/modules/${release}/modules.builtin`]: 'kernel/drivers/iommu/amd/iommu.ko\n',
    [`lib/modules/${release}/modules.dep`]: MODULES_DEP.join('\n') + '\n',
    'etc/os-release': 'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\nPRETTY_NAME="Fedora Linux 39 (Workstation Edition)"\n',
    'etc/default/grub': 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet iommu=pt"\nGRUB_ENABLE_BLSCFG=true\n',
    'usr/sbin/grubby': '#!/bin/sh\n',
    'usr/bin/dracut': '#!/bin/sh\n',
    [`boot/loader/entries/3c1f5e0b2a6d4f7e8b9c0d1e2f3a4b5c-${release}.conf`]: `title Fedora Linux (${release}) 39\nversion ${release}\nlinux /vmlinuz-${release}\ninitrd /initramfs-${release}.img\noptions root=UUID=0f3b6a2c-91d4-4e0b-8c7a-5d2e4f1a6b39 ro rhgb quiet iommu=pt\n`,
    'var/log/dmesg': [
      '[    0.000000] Linux version 6.5.6-300.fc39.x86_64 (mockbuild@fedoraproject.org)',
      `[    0.000000] Command line: ${cl.trim()}`,
      '[    0.512345] pci 0000:00:00.2: AMD-Vi: IOMMU performance counters supported',
      '[    0.523456] AMD-Vi: Interrupt remapping enabled',
      '[    0.523470] AMD-Vi: Virtual APIC enabled',
      '[    0.534567] perf/amd_iommu: Detected AMD IOMMU #0 (2 banks, 4 counters/bank).',
      '',
    ].join('\n'),
    'sys/class/dmi/id/sys_vendor': 'Micro-Star International Co., Ltd.\n',
    'sys/class/dmi/id/board_vendor': 'Micro-Star International Co., Ltd.\n',
  });
}

/** Intel desktop with VT-d off in the firmware: no DMAR table, no groups, although intel_iommu=on is set. */
export function firmwareOff(): HostSpec {
  const base = desktopGpu();
  return {
    functions: base.functions.map((f) => ({ ...f, iommuGroup: null })),
    iommu: 'none',
    emptyIommuGroupsDir: true,
    files: { ...hostFiles({ vendor: 'intel', params: 'intel_iommu=on iommu=pt' }), 'sys/firmware/acpi/tables/APIC': 'APIC', 'sys/firmware/acpi/tables/DSDT': 'DSDT' },
  };
}

/**
 * Intel RHEL 7 UEFI host: VT-d on in firmware (DMAR present) but the kernel (default off) booted without
 * intel_iommu=on: no groups. grub2-mkconfig with the RHEL 7 UEFI output path.
 */
export function kernelOff(): HostSpec {
  const base = desktopGpu();
  const files = hostFiles({ vendor: 'intel', params: '', grub: null });
  delete files['usr/sbin/update-grub'];
  delete files['usr/sbin/mkinitramfs'];
  return {
    functions: base.functions.map((f) => ({ ...f, iommuGroup: null })),
    iommu: 'none',
    emptyIommuGroupsDir: true,
    files: {
      ...files,
      'sys/firmware/acpi/tables/DMAR': 'DMAR',
      'sys/firmware/efi/runtime': '',
      'etc/os-release': 'NAME="Red Hat Enterprise Linux Server"\nVERSION="7.9 (Maipo)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="7.9"\nPRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"\n',
      'etc/default/grub': 'GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\nGRUB_DEFAULT=saved\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet"\n',
      'usr/sbin/grub2-mkconfig': '#!/bin/sh\n',
      'usr/sbin/dracut': '#!/bin/sh\n',
      'sys/class/dmi/id/sys_vendor': 'Dell Inc.\n',
      'sys/class/dmi/id/board_vendor': 'Dell Inc.\n',
    },
    links: { 'etc/sysconfig/grub': '../default/grub' },
  };
}

/** intel_iommu=on was added to /etc/default/grub but the host has not been rebooted yet. */
export function pendingReboot(): HostSpec {
  const base = desktopGpu();
  return {
    functions: base.functions.map((f) => ({ ...f, iommuGroup: null })),
    iommu: 'none',
    emptyIommuGroupsDir: true,
    files: { ...hostFiles({ vendor: 'intel', params: '', grub: 'quiet intel_iommu=on iommu=pt' }), 'sys/firmware/acpi/tables/DMAR': 'DMAR' },
  };
}

/** The DMAR unit's ecap without IR (bit 3): the QEMU default ecap f050da with bit 3 cleared. */
const ECAP_NO_IR = 'f050d2\n';

/** Intel host whose IOMMU lacks interrupt remapping; allow_unsafe_interrupts not set: vfio refuses. */
export function noInterruptRemapping(): HostSpec {
  return withFiles(intelReady(), {
    'sys/devices/virtual/iommu/dmar0/intel-iommu/ecap': ECAP_NO_IR,
    'var/log/kern.log': [
      `Nov 21 08:00:01 host kernel: [    0.000000] Linux version ${RELEASE} (debian-kernel@lists.debian.org)`,
      'Nov 21 08:00:01 host kernel: [    0.118000] DMAR: Host address width 39',
      'Nov 21 08:00:01 host kernel: [    0.118500] DMAR-IR: IOAPIC id 2 under DRHD base  0xfed91000 IOMMU 1',
      'Nov 21 08:00:01 host kernel: [    0.119000] DMAR-IR: This system BIOS has enabled interrupt remapping on a chipset that contains an erratum making that feature unstable.',
      'Nov 21 08:00:01 host kernel: [    0.119100] DMAR-IR: Failed to enable irq remapping',
      '',
    ].join('\n'),
  });
}

/** As noInterruptRemapping, with allow_unsafe_interrupts set (modprobe.d and at runtime). */
export function unsafeInterrupts(): HostSpec {
  return withFiles(noInterruptRemapping(), {
    'etc/modprobe.d/iommu_unsafe_interrupts.conf': 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n',
    'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts': 'Y\n',
  });
}

/** AMD X570 on Proxmox VE (systemd-boot, /etc/kernel/cmdline) with the ACS override patch in use. */
export function acsOverride(): HostSpec {
  const params = 'iommu=pt pcie_acs_override=downstream,multifunction';
  const files = hostFiles({ vendor: 'amd', params, grub: null });
  return withFiles(chipsetShared(), {
    ...files,
    'proc/cmdline': `initrd=\\EFI\\proxmox\\${RELEASE}\\initrd.img-${RELEASE} root=ZFS=rpool/ROOT/pve-1 boot=zfs ${params}\n`,
    'etc/kernel/cmdline': `root=ZFS=rpool/ROOT/pve-1 boot=zfs ${params}\n`,
    'etc/kernel/proxmox-boot-uuids': 'A1B2-C3D4\n',
    'usr/sbin/proxmox-boot-tool': '#!/bin/sh\n',
  });
}

/** vfio-pci built into the kernel, with vfio-pci ids= in modprobe.d (ignored). */
export function vfioBuiltin(): HostSpec {
  return withFiles(intelReady(), {
    [`lib/modules/${RELEASE}/modules.builtin`]: [...BUILTIN_BASE, 'kernel/drivers/vfio/vfio.ko', 'kernel/drivers/vfio/vfio_iommu_type1.ko', 'kernel/drivers/vfio/pci/vfio-pci-core.ko', 'kernel/drivers/vfio/pci/vfio-pci.ko'].join('\n') + '\n',
    [`lib/modules/${RELEASE}/modules.dep`]: MODULES_DEP.filter((l) => !l.includes('vfio')).join('\n') + '\n',
    'etc/modprobe.d/vfio.conf': '# GTX 1080 and its audio\noptions vfio-pci ids=10de:1b80,10de:10f0\nsoftdep nouveau pre: vfio-pci\n',
  });
}

/** A QEMU q35 guest without a virtual IOMMU. */
export function vmWithoutViommu(): HostSpec {
  const base = desktopGpu();
  return {
    functions: base.functions.map((f) => ({ ...f, iommuGroup: null })),
    iommu: 'none',
    files: {
      ...hostFiles({ vendor: 'intel', params: 'console=ttyS0', hypervisor: true }),
      'sys/firmware/acpi/tables/FACP': 'FACP',
      'sys/firmware/acpi/tables/APIC': 'APIC',
      'sys/class/dmi/id/sys_vendor': 'QEMU\n',
      'sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n',
      'sys/class/dmi/id/board_vendor': '',
    },
  };
}

/** A QEMU q35 guest with -device intel-iommu,intremap=on,caching-mode=on and intel_iommu=on. */
export function vmWithViommu(): HostSpec {
  return withFiles(intelReady(), {
    'proc/cpuinfo': cpuinfo('intel', { hypervisor: true }),
    'sys/class/dmi/id/sys_vendor': 'QEMU\n',
    'sys/class/dmi/id/product_name': 'Standard PC (Q35 + ICH9, 2009)\n',
    'sys/class/dmi/id/board_vendor': '',
    // QEMU 7.2 intel-iommu with caching-mode=on: CM is cap bit 7.
    'sys/devices/virtual/iommu/dmar0/intel-iommu/cap': 'd2008c406604e2\n',
  });
}

/** The finding with this id, failing the test (with the ids that were found) when it is missing. */
export function getFinding(findings: Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  assert.ok(f, `finding ${id} missing; have: ${findings.map((x) => `${x.id}:${x.severity}`).join(' ')}`);
  return f;
}
