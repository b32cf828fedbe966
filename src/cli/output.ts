/** Human output helpers: colour (off for NO_COLOR, --no-color, non-terminals), tables, JSON. */
import pc from 'picocolors';
import Table from 'cli-table3';
import { escapeControl } from '../model/shell-quote.js';

export type Colors = ReturnType<typeof pc.createColors>;

export function makeColors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

export function colorEnabled(opts: { color?: boolean }, isTTY: boolean, env: Record<string, string | undefined>): boolean {
  if (opts.color === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY && env.TERM !== 'dumb';
}

/** A borderless table that reads well in a terminal and in a pasted bug report. */
export function renderTable(head: string[], rows: string[][], c: Colors): string {
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    wordWrap: false,
  });
  for (const r of rows) t.push(r);
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n') + '\n';
}

/** JSON text (src/model/json-text.ts): the CLI and the web server print the same bytes. */
export { toJson } from '../model/json-text.js';

/** The colour and weight sequences vfioctl's own colours use (picocolors); no others reach the terminal. */
// eslint-disable-next-line no-control-regex
const OWN_SGR = /\x1b\[(?:0|1|2|3|4|22|23|24|3[0-7]|39|4[0-7]|49|9[0-7]|10[0-7])m/y;

/**
 * The single sanitising point of human output (every ctx.out / ctx.err): host names, guest names, device
 * names and listings come from other people, so control characters (C0 but tab and newline, DEL, C1,
 * ESC sequences such as OSC titles and cursor moves, bidi overrides) are shown escaped (`\e]0;x\x07`),
 * except the plain colour sequences vfioctl itself emits.
 */
export function sanitizeTerminal(text: string): string {
  let out = '';
  let at = 0;
  for (let i = text.indexOf('\x1b'); i >= 0; i = text.indexOf('\x1b', i + 1)) {
    OWN_SGR.lastIndex = i;
    const m = OWN_SGR.exec(text);
    if (!m) continue;
    out += escapeControl(text.slice(at, i), { keepNewlines: true }) + m[0];
    at = i + m[0].length;
    i = at - 1;
  }
  return out + escapeControl(text.slice(at), { keepNewlines: true });
}
