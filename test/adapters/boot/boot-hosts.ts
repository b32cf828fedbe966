/**
 * One host per boot loader (the doctor hosts' Intel desktop with the IOMMU off in the kernel, VT-d on in
 * the firmware), for the adapter tests and the test that the doctor, render host-config and the plan
 * name the same file and commands.
 */
import type { HostSpec } from '../../support/host-tree.js';
import { hostFiles, kernelOff } from '../../support/doctor-hosts.js';
import { desktopGpu } from '../../support/topologies.js';

const EXE = '#!/bin/sh\n';

function intelIommuOff(files: Record<string, string>, drop: string[] = []): HostSpec {
  const base = desktopGpu();
  const all: Record<string, string> = { ...hostFiles({ vendor: 'intel', params: '', grub: 'quiet' }), 'sys/firmware/acpi/tables/DMAR': 'DMAR', ...files };
  for (const d of drop) delete all[d];
  return { functions: base.functions.map((f) => ({ ...f, iommuGroup: null })), iommu: 'none', emptyIommuGroupsDir: true, files: all };
}

const NO_GRUB = ['etc/default/grub', 'usr/sbin/update-grub'];

export interface BootHost {
  name: string;
  spec: () => HostSpec;
  /** the file a person edits (absolute), or null */
  file: string | null;
  /** the commands every source names: the tool's (program and fixed options) and the regeneration */
  commands: string[];
}

export const BOOT_HOSTS: BootHost[] = [
  { name: 'grub2 (Debian, update-grub)', spec: () => intelIommuOff({}), file: '/etc/default/grub', commands: ['update-grub'] },
  { name: 'grub2 (RHEL 7 UEFI, grub2-mkconfig)', spec: kernelOff, file: '/etc/default/grub', commands: ['grub2-mkconfig -o /etc/grub2-efi.cfg'] },
  {
    name: 'grubby (Fedora, BLS)',
    spec: () => intelIommuOff({
      'etc/os-release': 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\n', 'usr/sbin/grubby': EXE, 'usr/bin/dracut': EXE,
      'etc/default/grub': 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet"\nGRUB_ENABLE_BLSCFG=true\n',
      'boot/loader/entries/abc-6.8.0.conf': 'title Fedora\nversion 6.8.0\nlinux /vmlinuz-6.8.0\noptions root=UUID=abc ro rhgb quiet\n',
    }, ['usr/sbin/update-grub', 'usr/sbin/mkinitramfs']),
    file: '/etc/default/grub',
    commands: ['grubby --update-kernel=ALL'],
  },
  {
    name: 'systemd-boot (kernel-install)',
    spec: () => intelIommuOff({ 'etc/kernel/cmdline': 'root=/dev/nvme0n1p2 rw quiet\n', 'boot/loader/loader.conf': 'timeout 3\n', 'usr/bin/kernel-install': EXE }, NO_GRUB),
    file: '/etc/kernel/cmdline',
    commands: ['kernel-install add 6.1.0-18-amd64 /lib/modules/6.1.0-18-amd64/vmlinuz'],
  },
  {
    name: 'kernelstub (Pop!_OS)',
    spec: () => intelIommuOff({
      'etc/os-release': 'NAME="Pop!_OS"\nID=pop\nID_LIKE="ubuntu debian"\nVERSION_ID="22.04"\n', 'usr/bin/kernelstub': EXE,
      'etc/kernelstub/configuration': JSON.stringify({ default: { kernel_options: ['quiet', 'splash'] }, user: { kernel_options: ['quiet', 'splash', 'loglevel=0'] } }, null, 2) + '\n',
    }, NO_GRUB),
    file: null,
    commands: ['kernelstub --add-options'],
  },
  {
    name: 'proxmox-boot-tool (systemd-boot, /etc/kernel/cmdline)',
    spec: () => intelIommuOff({ 'etc/kernel/proxmox-boot-uuids': 'A1B2-C3D4\n', 'etc/kernel/cmdline': 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n', 'usr/sbin/proxmox-boot-tool': EXE }),
    file: '/etc/kernel/cmdline',
    commands: ['proxmox-boot-tool refresh'],
  },
  {
    name: 'proxmox-boot-tool (grub)',
    spec: () => intelIommuOff({ 'etc/kernel/proxmox-boot-uuids': 'A1B2-C3D4\n', 'usr/sbin/proxmox-boot-tool': EXE }),
    file: '/etc/default/grub',
    commands: ['proxmox-boot-tool refresh'],
  },
];
