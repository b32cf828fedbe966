/**
 * grub2: GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub (Debian, Ubuntu) or
 * grub2-mkconfig / grub-mkconfig -o OUTPUT (RHEL 7 BIOS /etc/grub2.cfg, RHEL 7 UEFI /etc/grub2-efi.cfg,
 * otherwise /boot/grub2/grub.cfg or /boot/grub/grub.cfg: chosen by src/host/detect-boot.ts).
 */
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { grubDefaultsAdapter } from './file-based.js';
import type { BootLoaderAdapter } from './types.js';

export function grub2Adapter(info: BootLoaderInfo & { cmdline: { via: 'grub-defaults'; file: string } }): BootLoaderAdapter {
  return grubDefaultsAdapter(info, info.cmdline.file);
}
