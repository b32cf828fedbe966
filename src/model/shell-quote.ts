/**
 * The one place generated shell text is quoted (pure). Every word vfioctl puts into a script, a command
 * line it prints, or a comment of a generated file goes through here.
 *
 * - `shellQuote(word)`: POSIX single-quote quoting. Words made only of `A-Z a-z 0-9 _ @ % + = : , . / -`
 *   stay bare (and are not empty); anything else becomes `'...'` with each `'` written as `'\''`. Inside
 *   single quotes a POSIX shell takes every byte literally (newlines, `$`, backquotes, `\`), so the word
 *   reaches the program exactly. Quoting does not stop a program from reading a word that starts with `-`
 *   as an option: callers put such values after `--name=` / `--domain` (see `isOptionLike`).
 * - `shellJoin(argv)`: one command line.
 * - `shellComment(text)`: text made safe for the rest of a `#` comment line (or any one-line human
 *   context): control characters are escaped so that nothing can end the line or the comment.
 * - `escapeControl(text)`: the same escaping, shared with the CLI's human output.
 * - `heredoc(head, body)`: `head <<'DELIM'` … `DELIM` with a delimiter that does not occur as a line of body.
 */

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(word: string): string {
  return SAFE_WORD.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** A value a program would take for an option (`-x`, `--x`): pass it as `--opt=VALUE`. */
export function isOptionLike(word: string): boolean {
  return word.startsWith('-');
}

/**
 * C0 controls (except tab and, when `keepNewlines`, newline), DEL, C1 controls, and the Unicode
 * characters that reorder or break lines on display (bidi embeddings/overrides/isolates, U+2028/U+2029):
 * written as `\xHH` / `\uHHHH`. A backslash stays a backslash (the escaping is for display, not reversible).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_KEEP_NL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\x1b') return '\\e';
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

export function escapeControl(text: string, opts: { keepNewlines?: boolean } = {}): string {
  return text.replace(opts.keepNewlines ? CONTROL_KEEP_NL : CONTROL, escapeChar);
}

export function shellComment(text: string): string {
  return escapeControl(text);
}

export function heredoc(head: string, body: string): string[] {
  const lines = body.replace(/\n$/, '').split('\n');
  let delim = 'EOF';
  for (let k = 1; lines.includes(delim); k++) delim = `EOF_${k}`;
  return [`${head} <<'${delim}'`, ...lines, delim];
}

/** A sysfs attribute write as the shell command a person would run: `echo VALUE > PATH`, both quoted. */
export function sysfsWriteCommand(path: string, value: string): string {
  return `echo ${shellQuote(value)} > ${shellQuote(path)}`;
}
