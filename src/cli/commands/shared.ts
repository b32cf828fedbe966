/** Output fragments several commands share. */
import type { PciInventory } from '../../model/pci-function.js';
import type { Colors } from '../output.js';
import { shortAddr } from '../describe.js';

/** What an imported listing could not tell. */
export function importNotes(inv: PciInventory, c: Colors): string {
  if (inv.source.kind !== 'import') return '';
  return c.yellow(`note: read from ${inv.source.file} (${inv.source.format}); not known from this listing: ${inv.source.unknown.join(', ')}\n`);
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
