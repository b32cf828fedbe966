/**
 * The man page vfioctl(8) and the bash, zsh and fish completions, generated from the commander program
 * itself (every command registered, as src/cli/main.ts builds it), so they list exactly the commands,
 * arguments and options this version accepts.
 *   node --import tsx packaging/gen-docs.ts OUTDIR     writes vfioctl.8, vfioctl.bash, _vfioctl, vfioctl.fish
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, Option } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { CliContext } from '../src/cli/context.js';
import { VERSION } from '../src/model/version.js';

export interface CmdInfo {
  /** Words after `vfioctl` (["host", "enable-iommu"]). */
  path: string[];
  description: string;
  args: { name: string; required: boolean; variadic: boolean }[];
  options: { flags: string; long: string | null; short: string | null; takesValue: boolean; description: string }[];
  subcommands: CmdInfo[];
}

function optionsOf(cmd: Command): CmdInfo['options'] {
  return (cmd.options as Option[])
    .filter((o) => !o.hidden)
    .map((o) => ({ flags: o.flags, long: o.long ?? null, short: o.short ?? null, takesValue: o.required || o.optional, description: o.description }));
}

function infoOf(cmd: Command, parents: string[]): CmdInfo {
  const p = cmd.parent ? [...parents, cmd.name()] : [];
  return {
    path: p,
    description: cmd.description(),
    args: cmd.registeredArguments.map((a) => ({ name: a.name(), required: a.required, variadic: a.variadic })),
    options: optionsOf(cmd),
    subcommands: cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => infoOf(c, p)),
  };
}

export async function programInfo(): Promise<CmdInfo> {
  const ctx = new CliContext({ stdout: { write: () => true }, stderr: { write: () => true }, isTTY: false, env: {} });
  return infoOf(await buildProgram(ctx, []), []);
}

function flatten(c: CmdInfo): CmdInfo[] {
  return [c, ...c.subcommands.flatMap(flatten)];
}

// ---------- man page ----------

/** Escape text for roff: backslashes, leading dots and apostrophes, hyphens in option names. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

const usageOf = (c: CmdInfo): string =>
  [...c.path, ...c.args.map((a) => (a.required ? `<${a.name}${a.variadic ? '...' : ''}>` : `[${a.name}${a.variadic ? '...' : ''}]`))].join(' ');

export function manPage(top: CmdInfo, date: string): string {
  const out: string[] = [];
  out.push(`.TH VFIOCTL 8 "${date}" "vfioctl ${VERSION}" "System Administration"`);
  out.push('.SH NAME', 'vfioctl \\- safe, reversible, group\\-aware PCI passthrough (VFIO) for KVM guests');
  out.push('.SH SYNOPSIS', '.B vfioctl', '[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR] [\\fIOPTIONS\\fR]');
  out.push('.SH DESCRIPTION');
  out.push(
    roff('vfioctl reads the host (sysfs, procfs and configuration under a host root), says what is ready for passthrough, plans which PCI functions must move to vfio-pci (IOMMU group rules, host impact), applies changes with a journal and rollback, and renders libvirt, QEMU, virt-install and KubeVirt configuration. What a plan or a --dry-run shows is exactly what runs.'),
  );
  out.push('.SH GLOBAL OPTIONS');
  for (const o of top.options) out.push('.TP', `.B ${roff(o.flags)}`, roff(o.description));
  out.push('.SH COMMANDS');
  for (const c of flatten(top).slice(1)) {
    out.push('.TP', `.B ${roff(usageOf(c))}`, roff(c.description || ''));
    for (const o of c.options) out.push('.RS', '.TP', `.B ${roff(o.flags)}`, roff(o.description), '.RE');
  }
  out.push('.SH EXIT STATUS');
  out.push('.TP', '.B 0', 'success; the host or device is ready; the plan is ok or warns');
  out.push('.TP', '.B 1', roff('error: the host could not be read, a command failed, a change was rolled back; for self-check: this copy is damaged'));
  out.push('.TP', '.B 2', 'usage: bad arguments, or a change that was not confirmed');
  out.push('.TP', '.B 3', roff('not ready or blocked: a failing doctor check, a blocked plan, a failing lint finding; for self-check: a required tool is missing'));
  out.push('.TP', '.B 4', 'disk or output error (no space, read-only file system, I/O error)');
  out.push('.SH ENVIRONMENT');
  out.push('.TP', '.B VFIOCTL_ROOT', roff('host root to read when --root is not given'));
  out.push('.TP', '.B NO_COLOR', 'no colour in human output');
  out.push('.TP', '.B VFIOCTL_PCI_IDS', roff('a pci.ids file to use instead of the host\'s (empty: none)'));
  out.push('.SH FILES');
  out.push('.TP', '.I /usr/share/vfioctl/samples', 'captured sample hosts read by \\-\\-sample');
  out.push('.TP', '.I /usr/share/misc/pci.ids', 'device names (pciutils); a copy is embedded as a fallback');
  out.push('.SH EXAMPLES');
  out.push('.nf', 'vfioctl doctor', 'vfioctl groups \\-\\-sample', 'vfioctl plan 0000:01:00.0', 'vfioctl bind 0000:01:00.0 \\-\\-dry\\-run', '.fi');
  out.push('.SH SEE ALSO', '.BR lspci (8),', '.BR virsh (1)');
  return out.join('\n') + '\n';
}

// ---------- completions ----------

const words = (c: CmdInfo): string[] => c.subcommands.map((s) => s.path[s.path.length - 1]!);
const optWords = (c: CmdInfo): string[] => c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)).concat('--help');
const valueOpts = (cs: CmdInfo[]): string[] => [...new Set(cs.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => [o.long, o.short].filter((x): x is string => !!x))))].sort();
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(top: CmdInfo): string {
  const all = flatten(top);
  const cases = all
    .map((c) => `    ${shq(c.path.join(' '))}) subs=${shq(words(c).join(' '))}; opts=${shq([...optWords(c), ...optWords(top)].join(' '))} ;;`)
    .join('\n');
  return `# bash completion for vfioctl (generated from the command definitions; do not edit)
_vfioctl() {
  local cur prev path="" w i subs opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    --root|--sample-host|--from|--connect|-o|--out|--output) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
  esac
  for (( i=1; i<COMP_CWORD; i++ )); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${valueOpts(all).join('|') || '--root'}) (( i++ )); continue ;;
      -*) continue ;;
    esac
    case " $(_vfioctl_subs "$path") " in
      *" $w "*) path="\${path:+$path }$w" ;;
    esac
  done
  _vfioctl_lookup "$path"
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); else COMPREPLY=( $(compgen -W "$subs" -- "$cur") ); fi
}
_vfioctl_lookup() {
  case "$1" in
${cases}
    *) subs=""; opts="" ;;
  esac
}
_vfioctl_subs() { local subs opts; _vfioctl_lookup "$1"; echo "$subs"; }
complete -F _vfioctl vfioctl
`;
}

export function zshCompletion(top: CmdInfo): string {
  // inside zsh single quotes: _arguments' own escapes for [ ] : \, and a quote as '\''
  const zq = (s: string): string => s.replace(/[[\]:\\]/g, (m) => `\\${m}`).replace(/'/g, `'\\''`).replace(/\n/g, ' ');
  const fnName = (c: CmdInfo): string => `_vfioctl${c.path.map((p) => `_${p.replace(/-/g, '_')}`).join('')}`;
  const fns = flatten(top).map((c) => {
    const specs = c.options.map((o) => {
      const names = [o.short, o.long].filter(Boolean) as string[];
      const head = names.length > 1 ? `(${names.join(' ')})'{${names.join(',')}}'` : names[0]!;
      return `    '${head}[${zq(o.description)}]${o.takesValue ? `:${zq(o.flags.replace(/^.*?[<[]|[>\]]$/g, '') || 'value')}:_files` : ''}'`;
    });
    const lines = [`${fnName(c)}() {`];
    if (c.subcommands.length) {
      lines.push('  local -a subcmds', '  subcmds=(');
      for (const s of c.subcommands) lines.push(`    '${zq(s.path[s.path.length - 1]!)}:${zq(s.description)}'`);
      lines.push('  )');
      lines.push('  _arguments -C \\');
      for (const s of specs) lines.push(`${s} \\`);
      lines.push(`    '1: :->cmd' '*:: :->args' && return`);
      lines.push('  case $state in', '    cmd) _describe -t commands command subcmds ;;', '    args)', '      case $words[1] in');
      for (const s of c.subcommands) lines.push(`        ${s.path[s.path.length - 1]}) ${fnName(s)} ;;`);
      lines.push('      esac ;;', '  esac');
    } else {
      lines.push('  _arguments \\');
      for (const s of specs) lines.push(`${s} \\`);
      lines.push(`    '*:argument:_files'`);
    }
    lines.push('}');
    return lines.join('\n');
  });
  return `#compdef vfioctl\n# zsh completion for vfioctl (generated from the command definitions; do not edit)\n\n${fns.join('\n\n')}\n\n_vfioctl "$@"\n`;
}

export function fishCompletion(top: CmdInfo): string {
  const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, ' ')}'`;
  const out = ['# fish completion for vfioctl (generated from the command definitions; do not edit)', 'complete -c vfioctl -f'];
  for (const c of flatten(top)) {
    const cond =
      c.path.length === 0
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${c.path[c.path.length - 1]}${c.path.length > 1 ? `; and __fish_seen_subcommand_from ${c.path[c.path.length - 2]}` : ''}`;
    for (const s of c.subcommands) {
      const subCond = c.path.length === 0 ? cond : `${cond}; and not __fish_seen_subcommand_from ${words(c).join(' ')}`;
      out.push(`complete -c vfioctl -n ${fq(subCond)} -a ${fq(s.path[s.path.length - 1]!)} -d ${fq(s.description)}`);
    }
    for (const o of c.options) {
      const parts = [`complete -c vfioctl`];
      if (c.path.length) parts.push(`-n ${fq(cond)}`);
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.takesValue) parts.push('-r -F');
      parts.push(`-d ${fq(o.description)}`);
      out.push(parts.join(' '));
    }
  }
  return out.join('\n') + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const outDir = path.resolve(process.argv[2] ?? 'dist/pkg/docs');
  const date = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000) : new Date();
  const top = await programInfo();
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'vfioctl.8'), manPage(top, date.toISOString().slice(0, 10)));
  fs.writeFileSync(path.join(outDir, 'vfioctl.bash'), bashCompletion(top));
  fs.writeFileSync(path.join(outDir, '_vfioctl'), zshCompletion(top));
  fs.writeFileSync(path.join(outDir, 'vfioctl.fish'), fishCompletion(top));
  console.log(`wrote vfioctl.8, vfioctl.bash, _vfioctl, vfioctl.fish to ${outDir}`);
}
