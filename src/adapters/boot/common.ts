/**
 * What the boot-loader adapters share: reading a configuration file through the host root, the two
 * file editors (grub defaults, /etc/kernel/cmdline: src/model/kernel-cmdline.ts), what an edit added or
 * replaced, the regeneration commands and grub's drop-in files.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { BootLoaderInfo } from '../../model/boot-tooling.js';
import { VfioctlError } from '../../model/errors.js';
import { editGrubDefaults, editKernelCmdline, formatParam, parseKernelCmdline, parseParamSpec, findParam, readGrubVariable, type KernelCmdline } from '../../model/kernel-cmdline.js';
import { describeCmdlineEdit } from '../../core/boot-loader.js';
import type { BootEditPlan, BootLoaderAdapter, ConfiguredCmdline, GrubCmdlineVariable, PlanEditOptions, CmdlineEditRequest } from './types.js';

/** What every adapter is the same in: its detection and its description (src/core/boot-loader.ts). */
export function adapterBase(info: BootLoaderInfo): Pick<BootLoaderAdapter, 'kind' | 'info' | 'describe'> {
  return { kind: info.kind, info, describe: (edit) => describeCmdlineEdit(info, edit) };
}

export function readConfigFile(host: HostRoot, rel: string): string | null {
  const r = host.readConfigText(rel);
  if (r.state === 'ok') return r.value;
  if (r.state === 'absent') return null;
  throw new VfioctlError('unreadable', `cannot read ${host.display(rel)}: ${r.code}`, { remedy: 'run vfioctl as root' });
}

export function emptyPlan(location: string): BootEditPlan {
  return { files: [], commands: [], notes: [], added: [], replaced: [], location };
}

/** What setting these parameters adds (absent before) or replaces (another value before) on `before`. */
export function trackSet(into: BootEditPlan, before: KernelCmdline, set: readonly string[]): void {
  for (const s of set) {
    const want = parseParamSpec(s);
    // the kernel uses the last occurrence: that is the value undo must give back
    const old = findParam(before, want.key);
    const word = formatParam(want);
    if (!old) {
      if (!into.added.includes(word)) into.added.push(word);
    } else if (old.value !== want.value) into.replaced.push({ from: formatParam(old), to: word });
  }
}

/** The configured line of a grub defaults file: GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT. */
export function readGrubConfigured(host: HostRoot, rel: string): ConfiguredCmdline {
  const text = readConfigFile(host, rel) ?? '';
  const unknown: string[] = [];
  const variables: { name: GrubCmdlineVariable; cmdline: KernelCmdline }[] = [];
  for (const name of ['GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT'] as const) {
    const r = readGrubVariable(text, name);
    if (!r.ok) unknown.push(r.error.message);
    else if (r.value !== null) variables.push({ name, cmdline: parseKernelCmdline(r.value) });
  }
  return { source: rel, cmdline: parseKernelCmdline(variables.map((v) => v.cmdline.text).join(' ')), variables, unknown };
}

/** The configured line of a whole-file command line (/etc/kernel/cmdline), which must exist. */
export function readCmdlineFileConfigured(host: HostRoot, rel: string): ConfiguredCmdline {
  const text = readConfigFile(host, rel);
  if (text === null) throw new VfioctlError('no-cmdline-file', `${host.display(rel)} does not exist`, { remedy: 'create it with the current command line (cat /proc/cmdline) first' });
  // comment lines are not part of the line the tools read
  const line = text.split('\n').filter((l) => !/^[ \t]*#/.test(l)).join('\n').replace(/^\uFEFF/, '');
  return { source: rel, cmdline: parseKernelCmdline(line), unknown: [] };
}

/** The running command line: what a tool's boot entries hold, as far as the host root can tell. */
export function readRunningConfigured(host: HostRoot, why: string): ConfiguredCmdline {
  const running = readConfigFile(host, 'proc/cmdline');
  return { source: 'proc/cmdline', cmdline: parseKernelCmdline(running ?? ''), unknown: running === null ? ['proc/cmdline is absent'] : [why] };
}

/** Edit a grub defaults file into `plan` (the file, what it added or replaced, the editor's notes). */
export function editGrubFile(host: HostRoot, plan: BootEditPlan, rel: string, edit: CmdlineEditRequest, opts: PlanEditOptions): void {
  const cur = readConfigFile(host, rel);
  const r = editGrubDefaults(cur ?? '', edit, opts.variable === 'GRUB_CMDLINE_LINUX_DEFAULT' ? { variable: 'GRUB_CMDLINE_LINUX_DEFAULT', scrub: ['GRUB_CMDLINE_LINUX'] } : {});
  if (!r.ok) throw new VfioctlError('unparseable-config', `${host.display(rel)}: ${r.error.message}`, { remedy: r.error.remedy ?? 'edit the file by hand' });
  // what the next boot got before: GRUB_CMDLINE_LINUX then _DEFAULT (a value the editor scrubbed from
  // _DEFAULT is what undo must give back); the variable alone when the other cannot be read
  const dflt = readGrubVariable(cur ?? '', opts.variable === 'GRUB_CMDLINE_LINUX_DEFAULT' ? 'GRUB_CMDLINE_LINUX' : 'GRUB_CMDLINE_LINUX_DEFAULT');
  const other = dflt.ok && dflt.value !== null ? dflt.value : '';
  trackSet(plan, parseKernelCmdline(opts.variable === 'GRUB_CMDLINE_LINUX_DEFAULT' ? `${other} ${r.value.before}` : `${r.value.before} ${other}`), edit.set ?? []);
  plan.notes.push(...r.value.notes.map((n) => `${host.display(rel)}: ${n}`));
  if (r.value.changed) plan.files.push({ rel, before: cur, after: r.value.text });
  if (r.value.changed && rel === 'etc/default/grub' && edit.set?.length) plan.notes.push(...grubDropInConflicts(host, edit.set));
}

/** Edit a whole-file command line into `plan`. */
export function editCmdlineFile(host: HostRoot, plan: BootEditPlan, rel: string, edit: CmdlineEditRequest): void {
  const cur = readConfigFile(host, rel);
  if (cur === null) throw new VfioctlError('no-cmdline-file', `${host.display(rel)} does not exist`, { remedy: 'create it with the current command line (cat /proc/cmdline) first' });
  const r = editKernelCmdline(cur, edit);
  trackSet(plan, parseKernelCmdline(cur), edit.set ?? []);
  if (r.changed) plan.files.push({ rel, before: cur, after: r.text });
}

/** After a file edit: the commands that write the boot entries from it. */
export function pushRegenerate(plan: BootEditPlan, info: BootLoaderInfo): void {
  if (plan.files.length) for (const argv of info.regenerate) plan.commands.push({ argv: [...argv], regenerate: true, why: 'write the boot entries from the edited configuration' });
}

/**
 * grub-mkconfig sources /etc/default/grub.d/*.cfg after /etc/default/grub: a drop-in that sets a
 * parameter vfioctl sets, with another value, wins. Reported, not edited (the file is not vfioctl's).
 */
function grubDropInConflicts(host: HostRoot, params: readonly string[]): string[] {
  const dir = host.listDir('etc/default/grub.d');
  if (dir.state !== 'ok') return [];
  const out: string[] = [];
  for (const name of dir.value.filter((n) => n.endsWith('.cfg')).sort()) {
    const text = readConfigFile(host, `etc/default/grub.d/${name}`) ?? '';
    for (const p of params) {
      const want = parseParamSpec(p);
      const re = new RegExp(`(^|[\\s"'])${want.key.replace(/[-_]/g, '[-_]')}=([^\\s"']*)`, 'gm');
      for (const m of text.matchAll(re)) {
        if (m[2] !== want.value) out.push(`${host.display(`etc/default/grub.d/${name}`)} sets ${want.key}=${m[2]}, which overrides ${p}: edit that file`);
      }
    }
  }
  return out;
}
