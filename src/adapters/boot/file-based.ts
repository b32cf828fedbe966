/**
 * The adapters whose command line lives in a file vfioctl edits: a grub defaults file or a whole-file
 * command line (/etc/kernel/cmdline), followed by the boot loader's regeneration commands.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { describeCmdlineEdit } from '../../core/boot-loader.js';
import { editCmdlineFile, editGrubFile, emptyPlan, pushRegenerate, readCmdlineFileConfigured, readGrubConfigured } from './common.js';
import type { BootEditPlan, BootLoaderAdapter, CmdlineEditRequest, ConfiguredCmdline, PlanEditOptions } from './types.js';

/** A boot loader configured through a grub defaults file (GRUB_CMDLINE_LINUX) and a regeneration command. */
export function grubDefaultsAdapter(info: BootLoaderInfo, file: string): BootLoaderAdapter {
  return {
    kind: info.kind,
    info,
    readConfigured: (host: HostRoot): ConfiguredCmdline => readGrubConfigured(host, file),
    planEdit(host: HostRoot, edit: CmdlineEditRequest, opts: PlanEditOptions = {}): BootEditPlan {
      const plan = emptyPlan(file);
      if (opts.files !== false) editGrubFile(host, plan, file, edit, opts);
      pushRegenerate(plan, info);
      return plan;
    },
    describe: (edit) => describeCmdlineEdit(info, edit),
  };
}

/** A boot loader configured through a whole-file command line and a command that rebuilds the entries. */
export function cmdlineFileAdapter(info: BootLoaderInfo, file: string): BootLoaderAdapter {
  return {
    kind: info.kind,
    info,
    readConfigured: (host: HostRoot): ConfiguredCmdline => readCmdlineFileConfigured(host, file),
    planEdit(host: HostRoot, edit: CmdlineEditRequest, opts: PlanEditOptions = {}): BootEditPlan {
      const plan = emptyPlan(file);
      if (opts.files !== false) editCmdlineFile(host, plan, file, edit);
      pushRegenerate(plan, info);
      return plan;
    },
    describe: (edit) => describeCmdlineEdit(info, edit),
  };
}
