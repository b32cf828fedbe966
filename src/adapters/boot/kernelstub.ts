/**
 * kernelstub (Pop!_OS): the tool owns the command line (`kernelstub --add-options` /
 * `--delete-options`); its configured options are user.kernel_options in /etc/kernelstub/configuration
 * (JSON). vfioctl edits no file here.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { hostCommand } from '../../model/host-command.js';
import { parseKernelCmdline } from '../../model/kernel-cmdline.js';
import { adapterBase, emptyPlan, readConfigFile, readRunningConfigured } from './common.js';
import type { BootEditPlan, BootLoaderAdapter, CmdlineEditRequest, ConfiguredCmdline, PlanEditOptions } from './types.js';

export const KERNELSTUB_CONFIG = 'etc/kernelstub/configuration';
const WHY = 'kernelstub owns the command line';

/** kernelstub's configured options (user.kernel_options), or null when the file is absent or not that shape. */
export function kernelstubOptions(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const opts = (JSON.parse(text) as { user?: { kernel_options?: unknown } }).user?.kernel_options;
    return Array.isArray(opts) && opts.every((o) => typeof o === 'string') ? opts : null;
  } catch {
    return null;
  }
}

export function kernelstubAdapter(info: BootLoaderInfo): BootLoaderAdapter {
  return {
    ...adapterBase(info),
    readConfigured(host: HostRoot): ConfiguredCmdline {
      const options = kernelstubOptions(readConfigFile(host, KERNELSTUB_CONFIG));
      if (options) return { source: KERNELSTUB_CONFIG, cmdline: parseKernelCmdline(options.join(' ')), unknown: [] };
      return readRunningConfigured(host, `${KERNELSTUB_CONFIG} has no user.kernel_options: the running command line stands for them`);
    },
    planEdit(_host: HostRoot, edit: CmdlineEditRequest, opts: PlanEditOptions = {}): BootEditPlan {
      const plan = emptyPlan('tool:kernelstub');
      const set = edit.set ?? [];
      const remove = edit.remove ?? [];
      plan.added.push(...set);
      if (opts.commands === false) return plan;
      // kernelstub deletes options by their exact text: the word the line holds goes first
      const prev = opts.previous;
      if (prev) plan.commands.push({ argv: hostCommand.kernelstubDelete(prev), undoArgv: hostCommand.kernelstubAdd(prev), regenerate: false, why: WHY });
      if (set.length) plan.commands.push({ argv: hostCommand.kernelstubAdd(set.join(' ')), undoArgv: hostCommand.kernelstubDelete(set.join(' ')), regenerate: false, why: WHY });
      if (remove.length && prev === undefined) plan.commands.push({ argv: hostCommand.kernelstubDelete(remove.join(' ')), undoArgv: hostCommand.kernelstubAdd(remove.join(' ')), regenerate: false, why: WHY });
      return plan;
    },
  };
}
