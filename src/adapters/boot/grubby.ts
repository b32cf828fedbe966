/**
 * grubby (Fedora, RHEL/CentOS/Rocky/Alma 8+, BLS entries): `grubby --update-kernel=ALL --args=...` /
 * `--remove-args=...` changes every boot entry; the grub defaults file, when there is one, is edited too
 * so that kernels installed later inherit the change.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { hostCommand } from '../../model/host-command.js';
import { parseParamSpec } from '../../model/kernel-cmdline.js';
import { adapterBase, editGrubFile, emptyPlan, pushRegenerate, readGrubConfigured, readRunningConfigured } from './common.js';
import type { BootEditPlan, BootLoaderAdapter, CmdlineEditRequest, ConfiguredCmdline, PlanEditOptions } from './types.js';

const WHY = 'grubby updates every boot entry';

export function grubbyAdapter(info: BootLoaderInfo, alsoFile: string | undefined): BootLoaderAdapter {
  return {
    ...adapterBase(info),
    readConfigured(host: HostRoot): ConfiguredCmdline {
      if (alsoFile) return readGrubConfigured(host, alsoFile);
      return readRunningConfigured(host, 'the boot entries are grubby\'s: the running command line stands for them');
    },
    planEdit(host: HostRoot, edit: CmdlineEditRequest, opts: PlanEditOptions = {}): BootEditPlan {
      const plan = emptyPlan('tool:grubby');
      const set = edit.set ?? [];
      const remove = edit.remove ?? [];
      if (alsoFile && opts.files !== false) editGrubFile(host, plan, alsoFile, edit, opts);
      else if (!alsoFile) plan.added.push(...set);
      if (opts.commands !== false) {
        const prev = opts.previous;
        // the undo: the word the line held before (previous), or the inverse of the command
        const undo = (inverse: readonly string[], keys: readonly string[]) =>
          prev === undefined ? inverse : prev ? hostCommand.grubbyArgs(prev) : hostCommand.grubbyRemoveArgs(keys.join(' '));
        if (set.length) {
          plan.commands.push({ argv: hostCommand.grubbyArgs(set.join(' ')), undoArgv: undo(hostCommand.grubbyRemoveArgs(set.join(' ')), set.map((s) => parseParamSpec(s).key)), regenerate: false, why: WHY });
        }
        if (remove.length) {
          plan.commands.push({ argv: hostCommand.grubbyRemoveArgs(remove.join(' ')), undoArgv: undo(hostCommand.grubbyArgs(remove.join(' ')), remove), regenerate: false, why: WHY });
        }
      }
      pushRegenerate(plan, info);
      return plan;
    },
  };
}
