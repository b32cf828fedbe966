/**
 * proxmox-boot-tool (Proxmox VE): the line lives in /etc/kernel/cmdline (systemd-boot, ZFS/UEFI installs)
 * or in /etc/default/grub (grub installs); `proxmox-boot-tool refresh` copies the result to every ESP.
 */
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { cmdlineFileAdapter, grubDefaultsAdapter } from './file-based.js';
import type { BootLoaderAdapter } from './types.js';

export function proxmoxBootToolAdapter(info: BootLoaderInfo & { cmdline: { via: 'kernel-cmdline' | 'grub-defaults'; file: string } }): BootLoaderAdapter {
  return info.cmdline.via === 'kernel-cmdline' ? cmdlineFileAdapter(info, info.cmdline.file) : grubDefaultsAdapter(info, info.cmdline.file);
}
