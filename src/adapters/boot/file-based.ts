/**
 * The adapters whose command line lives in a file vfioctl edits: a grub defaults file or a whole-file
 * command line (/etc/kernel/cmdline), followed by the boot loader's regeneration commands.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { adapterBase, editCmdlineFile, editGrubFile, emptyPlan, pushRegenerate, readCmdlineFileConfigured, readGrubConfigured } from './common.js';
import type { BootEditPlan, BootLoaderAdapter, CmdlineEditRequest, PlanEditOptions } from './types.js';

function fileAdapter(info: BootLoaderInfo, file: string, kind: 'grub-defaults' | 'kernel-cmdline'): BootLoaderAdapter {
  return {
    ...adapterBase(info),
    readConfigured: (host: HostRoot) => (kind === 'grub-defaults' ? readGrubConfigured(host, file) : readCmdlineFileConfigured(host, file)),
    planEdit(host: HostRoot, edit: CmdlineEditRequest, opts: PlanEditOptions = {}): BootEditPlan {
      const plan = emptyPlan(file);
      if (opts.files !== false) {
        if (kind === 'grub-defaults') editGrubFile(host, plan, file, edit, opts);
        else editCmdlineFile(host, plan, file, edit);
      }
      pushRegenerate(plan, info);
      return plan;
    },
  };
}

/** A boot loader configured through a grub defaults file (GRUB_CMDLINE_LINUX) and a regeneration command. */
export function grubDefaultsAdapter(info: BootLoaderInfo, file: string): BootLoaderAdapter {
  return fileAdapter(info, file, 'grub-defaults');
}

/** A boot loader configured through a whole-file command line and a command that rebuilds the entries. */
export function cmdlineFileAdapter(info: BootLoaderInfo, file: string): BootLoaderAdapter {
  return fileAdapter(info, file, 'kernel-cmdline');
}
