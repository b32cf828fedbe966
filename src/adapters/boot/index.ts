/**
 * Boot-loader adapters: one per boot loader, picked from what src/host/detect-boot.ts detected.
 *
 *   grub2              grub defaults file + update-grub / grub2-mkconfig -o OUTPUT      (grub2.ts)
 *   grubby             grubby --update-kernel=ALL --args/--remove-args (+ grub defaults) (grubby.ts)
 *   systemd-boot       /etc/kernel/cmdline + kernel-install add                         (systemd-boot.ts)
 *   kernelstub         kernelstub --add-options/--delete-options                        (kernelstub.ts)
 *   proxmox-boot-tool  /etc/kernel/cmdline or grub defaults + proxmox-boot-tool refresh (proxmox-boot-tool.ts)
 *   unknown            nothing to edit: planEdit refuses, describe says what to do by hand
 * Every adapter has the interface of ./types.ts; src/apply/persist.ts plans with planEdit, and
 * describe (src/core/boot-loader.ts) is the text the doctor, render host-config and the plan show.
 */
import type { BootLoaderInfo, BootTooling } from '../../model/boot-tooling.js';
import { ExitCode, VfioctlError } from '../../model/errors.js';
import { parseKernelCmdline } from '../../model/kernel-cmdline.js';
import { describeCmdlineEdit } from '../../core/boot-loader.js';
import { grub2Adapter } from './grub2.js';
import { grubbyAdapter } from './grubby.js';
import { kernelstubAdapter } from './kernelstub.js';
import { proxmoxBootToolAdapter } from './proxmox-boot-tool.js';
import { systemdBootAdapter } from './systemd-boot.js';
import { cmdlineFileAdapter, grubDefaultsAdapter } from './file-based.js';
import { adapterBase } from './common.js';
import type { BootLoaderAdapter } from './types.js';

export type * from './types.js';
export { KERNELSTUB_CONFIG } from './kernelstub.js';

function unknownAdapter(info: BootLoaderInfo): BootLoaderAdapter {
  return {
    ...adapterBase(info),
    readConfigured: () => ({ source: '', cmdline: parseKernelCmdline(''), unknown: [`the boot loader was not recognised (evidence: ${info.evidence.join('; ')})`] }),
    planEdit(_host, edit) {
      const how = describeCmdlineEdit(info, edit);
      throw new VfioctlError('no-boot-loader', 'the boot loader of this host was not recognised, so vfioctl cannot change the kernel command line', {
        remedy: `${how.text.split('\n')[0]} (evidence: ${info.evidence.join('; ')})`,
        exitCode: ExitCode.notReady,
      });
    },
  };
}

/** The adapter for this host's boot loader. */
export function bootLoaderAdapter(tooling: BootTooling | BootLoaderInfo): BootLoaderAdapter {
  const info = 'bootLoader' in tooling ? tooling.bootLoader : tooling;
  const c = info.cmdline;
  switch (info.kind) {
    case 'grub2':
      if (c.via === 'grub-defaults') return grub2Adapter({ ...info, cmdline: c });
      break;
    case 'systemd-boot':
      if (c.via === 'kernel-cmdline') return systemdBootAdapter({ ...info, cmdline: c });
      break;
    case 'proxmox-boot-tool':
      if (c.via === 'kernel-cmdline' || c.via === 'grub-defaults') return proxmoxBootToolAdapter({ ...info, cmdline: c });
      break;
    case 'grubby':
      if (c.via === 'tool') return grubbyAdapter(info, c.alsoFile);
      break;
    case 'kernelstub':
      return kernelstubAdapter(info);
    case 'unknown':
      break;
  }
  // a detection this table does not name: follow how the line is kept
  if (c.via === 'grub-defaults') return grubDefaultsAdapter(info, c.file);
  if (c.via === 'kernel-cmdline') return cmdlineFileAdapter(info, c.file);
  if (c.via === 'tool') return c.tool === 'grubby' ? grubbyAdapter(info, c.alsoFile) : kernelstubAdapter(info);
  return unknownAdapter(info);
}
