/**
 * How a person changes the kernel command line on this host's boot loader: the one description the
 * doctor's remedies (src/core/doctor-remedy.ts), `render host-config` (src/adapters/render/host-config.ts)
 * and the plan's steps (src/core/plan.ts) present, each in its own words. The boot-loader adapters
 * (src/adapters/boot/) plan the same change as file edits and commands; `describe` is their text.
 *
 *   grub defaults file   edit GRUB_CMDLINE_LINUX, then the regeneration (update-grub, grub2-mkconfig -o ...,
 *                        proxmox-boot-tool refresh)
 *   /etc/kernel/cmdline  edit the one line, then the regeneration (kernel-install add, proxmox-boot-tool refresh)
 *   grubby               grubby --update-kernel=ALL --args=... / --remove-args=..., and the grub defaults
 *                        file for future kernels when there is one
 *   kernelstub           kernelstub --add-options ... / --delete-options ...
 * Pure: BootLoaderInfo (src/host/detect-boot.ts) and the parameters in, text out. The commands here are
 * for a person to paste (any parameter); the ones vfioctl runs are built by the adapters through the host
 * command table (src/model/host-command.ts).
 */
import type { Argv } from '../model/command.js';
import type { BootLoaderInfo, BootLoaderKind } from '../model/boot-tooling.js';
import type { CmdlineEdit } from '../model/kernel-cmdline.js';

/** Parameters a change sets (`key=value`, `flag`) and removes (`key` or `key=value`): the editor's edit. */
export type CmdlineEditRequest = CmdlineEdit;

/** How the line is kept, as far as a person changing it needs to know. */
export type CmdlineVia = 'grub-defaults' | 'kernel-cmdline' | 'grubby' | 'kernelstub' | 'none';

export interface CmdlineHow {
  readonly loader: BootLoaderKind;
  readonly via: CmdlineVia;
  /** the file a person edits (absolute), or null when a tool takes the parameters */
  readonly file: string | null;
  /** grubby: the grub defaults file edited too, so that future kernels inherit the change (absolute) */
  readonly alsoFile: string | null;
  /** the tool's own commands with the parameters (grubby, kernelstub), to paste */
  readonly commands: readonly Argv[];
  /** the commands that write the boot entries from an edited file, in order */
  readonly regenerate: readonly Argv[];
  /** the steps as one remedy text, one step per line, ending with the reboot */
  readonly text: string;
}

/** Display a root-relative path as the absolute path on the host it belongs to. */
export function hostPath(rel: string): string {
  return rel.startsWith('/') ? rel : `/${rel}`;
}

/** A command as a person types it (the regeneration commands: plain words). */
export function pasteArgv(argv: Argv): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./$()"-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** A tool command with its parameter list in double quotes, as a person types it: --args="a b", "a b". */
function pasteTool(argv: Argv): string {
  return argv.map((a, i) => {
    if (i === 0 || a === '--update-kernel=ALL' || a === '--add-options' || a === '--delete-options') return a;
    if (/["$`\\]/.test(a)) return `'${a.replace(/'/g, `'\\''`)}'`;
    const eq = a.indexOf('=');
    return a.startsWith('--') && eq > 0 ? `${a.slice(0, eq + 1)}"${a.slice(eq + 1)}"` : `"${a}"`;
  }).join(' ');
}

/** Where the configured line lives: the file (root-relative) and the tool, as detected. */
export function cmdlineLocation(bl: BootLoaderInfo): { via: CmdlineVia; file: string | null; alsoFile: string | null } {
  const c = bl.cmdline;
  if (c.via === 'grub-defaults' || c.via === 'kernel-cmdline') return { via: c.via, file: c.file, alsoFile: null };
  if (c.via === 'tool') return { via: c.tool, file: null, alsoFile: c.alsoFile ?? null };
  return { via: 'none', file: null, alsoFile: null };
}

/** The tool commands of a change (display argv: a person may paste any parameter). */
function toolCommands(via: CmdlineVia, set: readonly string[], remove: readonly string[]): Argv[] {
  if (via === 'grubby') {
    const args = [...(set.length ? [`--args=${set.join(' ')}`] : []), ...(remove.length ? [`--remove-args=${remove.join(' ')}`] : [])];
    return args.length ? [['grubby', '--update-kernel=ALL', ...args]] : [];
  }
  if (via === 'kernelstub') {
    return [...(set.length ? [['kernelstub', '--add-options', set.join(' ')]] : []), ...(remove.length ? [['kernelstub', '--delete-options', remove.join(' ')]] : [])];
  }
  return [];
}

/** The steps that change the kernel command line on this boot loader, for a person. */
export function describeCmdlineEdit(bl: BootLoaderInfo, edit: CmdlineEditRequest): CmdlineHow {
  const set = edit.set ?? [];
  const remove = edit.remove ?? [];
  const loc = cmdlineLocation(bl);
  const file = loc.file ? hostPath(loc.file) : null;
  const alsoFile = loc.alsoFile ? hostPath(loc.alsoFile) : null;
  const commands = toolCommands(loc.via, set, remove);
  const what = [set.length ? `add ${set.join(' ')}` : '', remove.length ? `remove ${remove.join(' ')}` : ''].filter(Boolean).join(' and ');
  const regen = bl.regenerate.map((c) => `then run: ${pasteArgv(c)}`);
  const lines: string[] = [];
  switch (loc.via) {
    case 'grub-defaults':
      lines.push(`edit ${file}: in GRUB_CMDLINE_LINUX, ${what} (keep the other parameters and the quotes)`);
      lines.push(...(regen.length ? regen : ['then regenerate the grub configuration']));
      break;
    case 'kernel-cmdline':
      lines.push(`edit ${file}: ${what} (one line, keep the other parameters)`);
      lines.push(...(regen.length ? regen : ['then reinstall the boot entries (kernel-install add "$(uname -r)" /lib/modules/"$(uname -r)"/vmlinuz)']));
      break;
    case 'grubby':
      lines.push(...commands.map((c) => `run: ${pasteTool(c)}`));
      if (alsoFile) lines.push(`and in ${alsoFile} GRUB_CMDLINE_LINUX, ${what} (so that future kernels inherit it)`);
      break;
    case 'kernelstub':
      lines.push(...commands.map((c) => `run: ${pasteTool(c)}`));
      break;
    case 'none':
      lines.push(`${what} on the kernel command line of your boot loader (no grub defaults, /etc/kernel/cmdline, grubby, kernelstub or proxmox-boot-tool found)`);
      break;
  }
  lines.push('then reboot');
  return { loader: bl.kind, via: loc.via, file, alsoFile, commands, regenerate: bl.regenerate, text: lines.join('\n') };
}

/** The commands of a change as one line (tool commands, then the regeneration), or null when there are none. */
export function cmdlineCommandLine(how: CmdlineHow, format: (argv: Argv) => string): string | null {
  const all = [...how.commands, ...how.regenerate];
  return all.length ? all.map(format).join(' && ') : null;
}
