/** Output fragments and options several commands share (kept light: no libvirt XML or host readers here). */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Finding } from '../../model/finding.js';
import type { Virsh } from '../../adapters/libvirt/virsh.js';
import type { PciInventory } from '../../model/pci-function.js';
import type { Colors } from '../output.js';
import { shortAddr } from '../describe.js';

/** What an imported listing could not tell. */
export function importNotes(inv: PciInventory, c: Colors): string {
  if (inv.source.kind !== 'import') return '';
  let out = c.yellow(`note: read from ${inv.source.file} (${inv.source.format}); not known from this listing: ${inv.source.unknown.join(', ')}\n`);
  const skipped = inv.source.skipped ?? [];
  if (skipped.length) {
    const counted = skipped.filter((s) => s.line > 0).length + Number(/^and (\d+) more/.exec(skipped[skipped.length - 1]!.reason)?.[1] ?? 0);
    const shown = skipped.filter((s) => s.line > 0).slice(0, 3).map((s) => `  line ${s.line}: ${s.text.length > 60 ? `${s.text.slice(0, 60)}...` : s.text}  (${s.reason})`);
    out += c.yellow(`${counted} line${counted === 1 ? '' : 's'} not understood${counted > shown.length ? ` (first ${shown.length}; all in --json source.skipped)` : ''}:\n${shown.join('\n')}\n`);
  }
  return out;
}

/** Files that exist but could not be read, per function and globally. */
export function problemLines(inv: PciInventory, c: Colors): string {
  const lines: string[] = [];
  for (const p of inv.problems) lines.push(`${p.path}: ${p.message}`);
  for (const f of inv.functions) for (const p of f.problems) lines.push(`${shortAddr(f.address)}: ${p.message}`);
  if (!lines.length) return '';
  const shown = lines.slice(0, 20);
  const more = lines.length > shown.length ? [`... and ${lines.length - shown.length} more (see --json)`] : [];
  return c.yellow(['warnings:', ...shown.map((l) => `  ${l}`), ...more].join('\n') + '\n');
}

export interface ConnectOptions {
  connect?: string;
}

export function withConnect(cmd: Command): Command {
  return cmd.option('--connect <uri>', 'libvirt connection URI (default: $LIBVIRT_DEFAULT_URI, else libvirt\'s own default)');
}

/** A virsh runner for this invocation: --connect, else the environment's LIBVIRT_DEFAULT_URI. */
export function virshFor(ctx: CliContext, opts: ConnectOptions): Virsh {
  return ctx.session().virsh(opts.connect);
}

const MARK: Record<Finding['severity'], string> = { ok: 'ok  ', info: 'info', warn: 'warn', fail: 'FAIL' };

export function renderFindings(findings: Finding[], c: Colors, opts: { hideOk?: boolean } = {}): string {
  const color = (s: Finding['severity'], t: string) => (s === 'fail' ? c.red(t) : s === 'warn' ? c.yellow(t) : s === 'ok' ? c.green(t) : c.cyan(t));
  const lines: string[] = [];
  for (const f of findings) {
    if (opts.hideOk && f.severity === 'ok') continue;
    lines.push(`  ${color(f.severity, MARK[f.severity])}  ${f.summary}`);
    if (f.detail && f.severity !== 'ok') lines.push(`        ${c.dim(f.detail)}`);
    if (f.remedy && f.severity !== 'ok') lines.push(`        remedy: ${f.remedy}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
