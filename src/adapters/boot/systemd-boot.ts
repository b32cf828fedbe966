/**
 * systemd-boot: the one line in /etc/kernel/cmdline, then kernel-install add for the running kernel
 * (when the host root names it), which rebuilds its boot entry.
 */
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { cmdlineFileAdapter } from './file-based.js';
import type { BootLoaderAdapter } from './types.js';

export function systemdBootAdapter(info: BootLoaderInfo & { cmdline: { via: 'kernel-cmdline'; file: string } }): BootLoaderAdapter {
  return cmdlineFileAdapter(info, info.cmdline.file);
}
