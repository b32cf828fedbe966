/**
 * Kernel command line editing, pure (no I/O).
 *
 * Two layers:
 * - `parseKernelCmdline` / `editKernelCmdline` work on a kernel command line as the kernel reads it
 *   (kernel/params.c next_arg): words separated by white space, double quotes group white space
 *   (`foo="a b"` or `"foo=a b"`), a bare `--` ends the kernel's parameters (the rest goes to init).
 *   Parameter names compare with `-` and `_` as the same character, like the kernel's parameq().
 * - `editGrubDefaults` edits GRUB_CMDLINE_LINUX (or another variable) in a shell-syntax grub defaults
 *   file (/etc/default/grub, /etc/sysconfig/grub) by changing only the words that must change: comments,
 *   other variables, the quoting style (double, single, unquoted, concatenated), line continuations, line
 *   endings (CR LF stays CR LF), a byte order mark and every other parameter stay as they were. Duplicate
 *   assignments are honoured (the last one wins, and a later `VAR="$VAR more"` appends). Command
 *   substitutions (`$(...)`) and other variables are kept verbatim and never edited. A file it cannot
 *   understand (assignments inside if/case/loops, `+=`, unbalanced quotes) is refused, never guessed at.
 * - Text is handled as one char per byte (files may be read latin1-decoded): nothing is normalised and
 *   nothing assumes valid UTF-8.
 */
import { type Result, ok, err } from './errors.js';

export interface CmdlineParam {
  /** the name as written (before `=`) */
  readonly key: string;
  /** value without the kernel's double quotes, or undefined for a bare flag */
  readonly value: string | undefined;
  /** the word as written */
  readonly raw: string;
  /** offsets of the word in the text */
  readonly start: number;
  readonly end: number;
}

export interface ParsedCmdline {
  /** the text the words were read from */
  readonly text: string;
  readonly params: CmdlineParam[];
  /** offset of a bare `--` word, or -1; words after it belong to init and are never edited */
  readonly initSeparator: number;
}

/** A parameter to set (`key=value` or a bare `flag`). */
export interface ParamSpec {
  readonly key: string;
  readonly value: string | undefined;
}

export interface CmdlineEdit {
  /** `key=value` or `flag`: its last (effective) occurrence has this value afterwards */
  readonly set?: readonly string[];
  /** `key` (any value) or `key=value` (only that value): absent afterwards */
  readonly remove?: readonly string[];
}

const WS = /[ \t\n\r\f\v]/;

/** Kernel parameter names: `-` and `_` are the same (kernel parameq). */
export function normalizeParamKey(key: string): string {
  return key.replace(/-/g, '_');
}

export function parseParamSpec(text: string): ParamSpec {
  const t = text.trim();
  const eq = t.indexOf('=');
  if (eq < 0) return { key: t, value: undefined };
  let value = t.slice(eq + 1);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return { key: t.slice(0, eq), value };
}

export function formatParam(p: ParamSpec): string {
  if (p.value === undefined) return p.key;
  return WS.test(p.value) ? `${p.key}="${p.value}"` : `${p.key}=${p.value}`;
}

/** Split a kernel command line into words the way the kernel does. */
export function parseKernelCmdline(text: string): ParsedCmdline {
  const params: CmdlineParam[] = [];
  let initSeparator = -1;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && WS.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    let inQuote = false;
    while (i < text.length && (inQuote || !WS.test(text[i]!))) {
      if (text[i] === '"') inQuote = !inQuote;
      i++;
    }
    const raw = text.slice(start, i);
    if (raw === '--') {
      initSeparator = start;
      break;
    }
    const unquoted = raw.replace(/"/g, '');
    const eq = unquoted.indexOf('=');
    params.push({
      key: eq < 0 ? unquoted : unquoted.slice(0, eq),
      value: eq < 0 ? undefined : unquoted.slice(eq + 1),
      raw,
      start,
      end: i,
    });
  }
  return { text, params, initSeparator };
}

/**
 * A kernel command line, parsed: the one form every reader and check uses (host facts, host impact,
 * the boot-loader adapters' configured line, the planner).
 */
export type KernelCmdline = ParsedCmdline;

/** The effective (last) occurrence of a parameter on a parsed line, or undefined. */
export function findParam(cmdline: KernelCmdline, key: string): CmdlineParam | undefined {
  const k = normalizeParamKey(key);
  return cmdline.params.findLast((p) => normalizeParamKey(p.key) === k);
}

/** Does the command line hold this parameter (with this value, when one is given)? */
export function hasParam(text: string, spec: string): boolean {
  const want = parseParamSpec(spec);
  return parseKernelCmdline(text).params.some((p) => matches(p, want, want.value !== undefined));
}

/** The effective value of a parameter (the last occurrence wins), null when absent. */
export function paramValue(text: string, key: string): { value: string | undefined } | null {
  const k = normalizeParamKey(key);
  const hits = parseKernelCmdline(text).params.filter((p) => normalizeParamKey(p.key) === k);
  const last = hits[hits.length - 1];
  return last ? { value: last.value } : null;
}

function matches(p: { key: string; value: string | undefined }, want: ParamSpec, withValue: boolean): boolean {
  if (normalizeParamKey(p.key) !== normalizeParamKey(want.key)) return false;
  return !withValue || p.value === want.value;
}

/** One change to the text: replace [start,end) with `text`. */
interface Splice {
  start: number;
  end: number;
  text: string;
}

/** A word an edit may act on. `owner` says which text (assignment) it is in; opaque words are never matched. */
interface EditWord {
  readonly p: CmdlineParam;
  readonly owner: number;
  readonly idx: number;
  readonly opaque: boolean;
}

interface EditDecision {
  /** words whose text is replaced */
  readonly replace: Map<EditWord, string>;
  /** words that go, with the white space before them */
  readonly doomed: Set<EditWord>;
  /** parameters no word holds yet */
  readonly append: ParamSpec[];
  readonly changes: string[];
  /** the previous effective word of each rewritten parameter (what setting it back restores) */
  readonly replaced: { from: string; to: string }[];
}

/**
 * What an edit does to a sequence of words (one command line, or the assignments that make up one grub
 * variable, in order). The kernel uses the LAST occurrence of a parameter, so:
 * - `set key=value`: when the last occurrence already has the value nothing changes; otherwise the last
 *   occurrence is rewritten in place (earlier ones are overridden by it and stay as they are, so that
 *   setting the old value back gives the original bytes); when there is none, the parameter is appended.
 * - `remove key` / `remove key=value`: every matching occurrence goes, so no earlier one takes over.
 */
function decideEdit(words: readonly EditWord[], edit: CmdlineEdit): EditDecision {
  const replace = new Map<EditWord, string>();
  const doomed = new Set<EditWord>();
  const append: ParamSpec[] = [];
  const changes: string[] = [];
  const replaced: { from: string; to: string }[] = [];
  const live = words.filter((w) => !w.opaque);
  for (const r of edit.remove ?? []) {
    const want = parseParamSpec(r);
    for (const w of live) if (matches(w.p, want, want.value !== undefined)) doomed.add(w);
  }
  for (const s of edit.set ?? []) {
    const want = parseParamSpec(s);
    const same = live.filter((w) => matches(w.p, want, false) && !doomed.has(w));
    const last = same[same.length - 1];
    if (!last) {
      if (!append.some((a) => normalizeParamKey(a.key) === normalizeParamKey(want.key))) append.push(want);
      continue;
    }
    if (last.p.value !== want.value) {
      replace.set(last, formatParam(want));
      replaced.push({ from: formatParam(last.p), to: formatParam(want) });
    }
  }
  for (const [w, text] of replace) changes.push(`${w.p.raw} -> ${text}`);
  for (const w of doomed) changes.push(`removed ${w.p.raw}`);
  for (const a of append) changes.push(`added ${formatParam(a)}`);
  return { replace, doomed, append, changes, replaced };
}

/**
 * For a variable that comes later on the generated line than the one that receives the parameter
 * (GRUB_CMDLINE_LINUX_DEFAULT after GRUB_CMDLINE_LINUX): a conflicting effective value there would win,
 * so when its last occurrence differs, every differing occurrence goes. `remove` items go everywhere.
 */
function decideScrub(words: readonly EditWord[], set: readonly ParamSpec[], remove: readonly string[]): EditDecision {
  const doomed = new Set<EditWord>();
  const live = words.filter((w) => !w.opaque);
  for (const r of remove) {
    const want = parseParamSpec(r);
    for (const w of live) if (matches(w.p, want, want.value !== undefined)) doomed.add(w);
  }
  for (const want of set) {
    const same = live.filter((w) => matches(w.p, want, false) && !doomed.has(w));
    const last = same[same.length - 1];
    if (last && last.p.value !== want.value) for (const w of same) if (w.p.value !== want.value) doomed.add(w);
  }
  return { replace: new Map(), doomed, append: [], changes: [...doomed].map((w) => `removed ${w.p.raw}`), replaced: [] };
}

/** The splices (in the owner's own text) for one owner's words. */
function ownerSplices(params: readonly CmdlineParam[], owner: number, d: EditDecision): Splice[] {
  const splices: Splice[] = [];
  const doomedIdx = new Set<number>();
  for (const w of d.doomed) if (w.owner === owner) doomedIdx.add(w.idx);
  for (const [w, text] of d.replace) if (w.owner === owner) splices.push({ start: w.p.start, end: w.p.end, text });
  // Remove a doomed word with the white space before it (after it when every word before it goes too).
  for (const idx of [...doomedIdx].sort((a, b) => a - b)) {
    const p = params[idx]!;
    const prev = params[idx - 1];
    const next = params[idx + 1];
    const leading = params.slice(0, idx).every((_, k) => doomedIdx.has(k));
    if (prev && !leading) splices.push({ start: prev.end, end: p.end, text: '' });
    else splices.push({ start: p.start, end: next ? next.start : p.end, text: '' });
  }
  return splices;
}

function applySplices(text: string, splices: readonly Splice[]): string {
  // Splices never overlap except removals that share a boundary; apply from the end.
  const ordered = [...splices].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = Infinity;
  for (const s of ordered) {
    const end = Math.min(s.end, limit);
    if (s.start > end) continue;
    out = out.slice(0, s.start) + s.text + out.slice(end);
    limit = s.start;
  }
  return out;
}

export interface CmdlineEditResult {
  readonly text: string;
  readonly changed: boolean;
  /** human lines: "added intel_iommu=on", "intel_iommu=off -> intel_iommu=on", "removed iommu=pt" */
  readonly changes: string[];
  /** parameters the edit appended (removing them undoes that part) */
  readonly added: string[];
  /** effective words the edit rewrote (setting `from` back undoes that part, byte for byte) */
  readonly replaced: { from: string; to: string }[];
}

/** A UTF-8 byte order mark at the start, as decoded text (U+FEFF) or as bytes read one char per byte. */
function bomLength(text: string): number {
  if (text.startsWith('\uFEFF')) return 1;
  if (text.startsWith('\xEF\xBB\xBF')) return 3;
  return 0;
}

/**
 * /etc/kernel/cmdline as the words the tools read: a byte order mark and lines whose first non-blank
 * character is `#` become blanks (same length, so offsets stay those of the file).
 */
function maskCmdlineFile(text: string): string {
  const bom = bomLength(text);
  let out = ' '.repeat(bom);
  let i = bom;
  while (i < text.length) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    const line = text.slice(i, nl);
    out += /^[ \t]*#/.test(line) ? line.replace(/[^\r]/g, ' ') : line;
    if (nl < text.length) out += '\n';
    i = nl + 1;
  }
  return out;
}

function lineEnding(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/**
 * Edit a kernel command line (or /etc/kernel/cmdline): every other word, the spacing between untouched
 * words, line endings, comment lines, a byte order mark and anything after a bare `--` are kept. New words
 * go after the last kernel word. Idempotent; removing what an edit added gives back the original text.
 */
export function editKernelCmdline(text: string, edit: CmdlineEdit): CmdlineEditResult {
  const masked = maskCmdlineFile(text);
  const parsed = parseKernelCmdline(masked);
  const words = parsed.params.map((p, idx): EditWord => ({ p, owner: 0, idx, opaque: false }));
  const d = decideEdit(words, edit);
  let out = applySplices(text, ownerSplices(parsed.params, 0, d));
  if (d.append.length) {
    const add = d.append.map(formatParam).join(' ');
    const m = maskCmdlineFile(out);
    const reparsed = parseKernelCmdline(m);
    const last = reparsed.params[reparsed.params.length - 1];
    if (last) out = `${out.slice(0, last.end)} ${add}${out.slice(last.end)}`;
    else if (reparsed.initSeparator >= 0) out = `${out.slice(0, reparsed.initSeparator)}${add} ${out.slice(reparsed.initSeparator)}`;
    else {
      // no words: at the start of the first line that is not a comment, or a new line at the end
      let at = -1;
      for (let k = bomLength(out); k <= out.length; ) {
        const nl = out.indexOf('\n', k);
        const end = nl < 0 ? out.length : nl;
        if (!/^[ \t]*#/.test(out.slice(k, end))) {
          at = k + /^[ \t]*/.exec(out.slice(k, end))![0].length;
          break;
        }
        if (nl < 0) break;
        k = nl + 1;
      }
      if (at >= 0 && at === out.length && out.length > 0) out = `${out}${add}${lineEnding(out)}`;
      else if (at >= 0) out = `${out.slice(0, at)}${add}${out.slice(at)}`;
      else out = `${out}${lineEnding(out)}${add}${lineEnding(out)}`;
    }
  }
  return { text: out, changed: out !== text, changes: d.changes, added: d.append.map(formatParam), replaced: d.replaced };
}

// ---------------------------------------------------------------------------------------------------
// Shell-syntax grub defaults files
// ---------------------------------------------------------------------------------------------------

type SegKind = 'dq' | 'sq' | 'bare';
interface Segment {
  kind: SegKind;
  /** file offsets of the content (inside the quotes) */
  start: number;
  end: number;
}

/** Stands in the decoded value for an expansion whose text vfioctl does not know ($(...), `...`, ${x:-y}). */
const OPAQUE = '\x01';

interface Assignment {
  name: string;
  /** offsets of the value (all segments, quotes included) in the file */
  valueStart: number;
  valueEnd: number;
  segments: Segment[];
  /** decoded value; decoded char i comes from file text [from[i], to[i]) in segment segOf[i] */
  decoded: string;
  from: number[];
  to: number[];
  segOf: number[];
  /** the source text of each OPAQUE char in `decoded`, in order */
  opaque: string[];
  /** contains $(...) or `...` */
  hasCommand: boolean;
  /** contains an unescaped $ expansion */
  hasExpansion: boolean;
  /** the value holds a raw \x01 byte (which vfioctl uses as a marker): refused */
  rawMarker: boolean;
  /** inside if/case/a loop/a function/( ), or after && / || / |: whether it runs depends on the host */
  nested: boolean;
  line: number;
}

interface ShellFile {
  assignments: Assignment[];
  /** non-assignment, non-comment statements */
  others: { line: number; text: string; bom?: boolean }[];
  /** if/case/loop/brace/subshell nesting left open at the end of the file (0 for a well-formed file) */
  openAtEnd: number;
  /** a here-document (`<<`): its body lines are not statements, which this parser cannot tell */
  heredoc: boolean;
}

export interface GrubEditResult extends CmdlineEditResult {
  /** the effective value of the variable before and after (after $VAR expansion, as grub-mkconfig sees it) */
  readonly before: string;
  readonly after: string;
  /** what the edit could not know: command substitutions and references to other variables it kept as they are */
  readonly notes: string[];
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

class ShellParseError extends Error {}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') n++;
  return n;
}

/** `\r` that ends a line (CR LF, or CR at the very end): part of the line ending, never of a value. */
function isLineEndCr(text: string, i: number): boolean {
  return text[i] === '\r' && (i + 1 === text.length || text[i + 1] === '\n');
}

/** Offset just past a `$(...)` starting at `i` (text[i] === '$'), honouring nesting and quotes. */
function scanDollarParen(text: string, i: number): number {
  let depth = 0;
  let j = i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\') j += 2;
    else if (c === "'") {
      const e = text.indexOf("'", j + 1);
      if (e < 0) break;
      j = e + 1;
    } else if (c === '"') j = scanDoubleQuoted(text, j);
    else if (c === '`') j = scanBacktick(text, j);
    else if (c === '$' && text[j + 1] === '(') j = scanDollarParen(text, j);
    else if (c === '(') {
      depth++;
      j++;
    } else if (c === ')') {
      depth--;
      j++;
      if (depth === 0) return j;
    } else j++;
  }
  throw new ShellParseError(`unterminated $( starting on line ${lineOf(text, i)}`);
}

/** Offset just past a double-quoted string starting at `i` (text[i] === '"'). */
function scanDoubleQuoted(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\') j += 2;
    else if (c === '"') return j + 1;
    else if (c === '`') j = scanBacktick(text, j);
    else if (c === '$' && text[j + 1] === '(') j = scanDollarParen(text, j);
    else j++;
  }
  throw new ShellParseError(`unterminated double quote starting on line ${lineOf(text, i)}`);
}

function scanBacktick(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    if (text[j] === '\\') j += 2;
    else if (text[j] === '`') return j + 1;
    else j++;
  }
  throw new ShellParseError(`unterminated backquote starting on line ${lineOf(text, i)}`);
}

/** Offset just past `${...}` starting at `i`. */
function scanBraceExpansion(text: string, i: number): number {
  let j = i + 2;
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\') j += 2;
    else if (c === '}') return j + 1;
    else if (c === "'") {
      const e = text.indexOf("'", j + 1);
      if (e < 0) break;
      j = e + 1;
    } else if (c === '"') j = scanDoubleQuoted(text, j);
    else if (c === '$' && text[j + 1] === '(') j = scanDollarParen(text, j);
    else if (c === '`') j = scanBacktick(text, j);
    else j++;
  }
  throw new ShellParseError(`unterminated \${ starting on line ${lineOf(text, i)}`);
}

const OPENERS = new Set(['if', 'case', 'for', 'while', 'until', 'select', '{']);
const CLOSERS = new Set(['fi', 'esac', 'done', '}']);
/** reserved words after which the next word is again a command */
const COMMAND_FOLLOWS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', 'time']);

/**
 * How a statement changes the nesting of compound commands (if/case/loops/braces/subshells), and whether
 * it ends with `&&`, `||` or `|` (so the next line runs only conditionally). Quotes and substitutions are
 * skipped; reserved words count only where a command starts.
 */
function statementStructure(stmt: string, parens: ('sub' | 'other')[]): { delta: number; continues: boolean; heredoc: boolean } {
  let heredoc = false;
  let delta = 0;
  let cmdPos = true;
  let lastOp = '';
  let i = 0;
  const n = stmt.length;
  while (i < n) {
    const c = stmt[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '#') break;
    if (c === ';' || c === '&' || c === '|') {
      let j = i;
      while (j < n && (stmt[j] === ';' || stmt[j] === '&' || stmt[j] === '|')) j++;
      lastOp = stmt.slice(i, j);
      cmdPos = true;
      i = j;
      continue;
    }
    lastOp = '';
    if (c === '(') {
      parens.push(cmdPos ? 'sub' : 'other');
      if (cmdPos) delta++;
      cmdPos = true;
      i++;
      continue;
    }
    if (c === ')') {
      if (parens.pop() === 'sub') delta--;
      cmdPos = true;
      i++;
      continue;
    }
    let j = i;
    while (j < n && !' \t\r\n;&|()'.includes(stmt[j]!)) {
      const d = stmt[j]!;
      if (d === '\\') j += 2;
      else if (d === "'") {
        const e = stmt.indexOf("'", j + 1);
        j = e < 0 ? n : e + 1;
      } else if (d === '"') j = scanDoubleQuoted(stmt, j);
      else if (d === '`') j = scanBacktick(stmt, j);
      else if (d === '$' && stmt[j + 1] === '(') j = scanDollarParen(stmt, j);
      else if (d === '$' && stmt[j + 1] === '{') j = scanBraceExpansion(stmt, j);
      else j++;
    }
    const word = stmt.slice(i, j);
    if (/^\d*<</.test(word) || (word === '' && stmt.startsWith('<<', i))) heredoc = true;
    if (cmdPos) {
      if (OPENERS.has(word)) delta++;
      else if (CLOSERS.has(word)) delta--;
      cmdPos = COMMAND_FOLLOWS.has(word) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word);
    }
    i = Math.max(j, i + 1);
  }
  return { delta, continues: lastOp === '&&' || lastOp === '||' || lastOp === '|', heredoc };
}

/** Parse the subset of POSIX shell that grub defaults files use: assignments, comments, other statements. */
function parseShellFile(text: string): ShellFile {
  const assignments: Assignment[] = [];
  const others: { line: number; text: string; bom?: boolean }[] = [];
  let i = bomLength(text);
  const n = text.length;
  let depth = 0;
  let conditional = false;
  let heredoc = false;
  const parens: ('sub' | 'other')[] = [];
  const other = (start: number, end: number): void => {
    const t = text.slice(start, end);
    others.push({ line: lineOf(text, start), text: t });
    const s = statementStructure(t, parens);
    depth += s.delta;
    conditional = s.continues;
    heredoc ||= s.heredoc;
  };
  if (i > 0 && text[i] !== '#') {
    // /bin/sh does not skip a byte order mark: the first line is one command whose name starts with it
    const end = statementEnd(text, 0);
    others.push({ line: 1, text: text.slice(0, end), bom: true });
    i = end;
  }
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || isLineEndCr(text, i))) i++;
    if (i >= n) break;
    const c = text[i]!;
    if (c === '\n' || c === ';') {
      if (c === ';') conditional = false;
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    const stmtStart = i;
    let j = i;
    if (text.startsWith('export', j) && (text[j + 6] === ' ' || text[j + 6] === '\t')) {
      j += 6;
      while (text[j] === ' ' || text[j] === '\t') j++;
    }
    NAME.lastIndex = j;
    const m = NAME.exec(text);
    if (m && text[j + m[0].length] === '=') {
      const a = parseValue(text, j + m[0].length + 1, m[0]);
      a.line = lineOf(text, stmtStart);
      a.nested = depth > 0 || conditional;
      i = a.valueEnd;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (i < n && text[i] !== '\n' && text[i] !== ';' && text[i] !== '#' && !isLineEndCr(text, i)) {
        // `VAR=value command ...` sets VAR for one command only: not an assignment of the file
        const end = statementEnd(text, stmtStart);
        other(stmtStart, end);
        i = end;
      } else {
        assignments.push(a);
        conditional = false;
      }
      continue;
    }
    const end = statementEnd(text, stmtStart);
    other(stmtStart, end);
    i = end;
  }
  return { assignments, others, openAtEnd: depth, heredoc };
}

/** End of a non-assignment statement: the end of its line, honouring quotes, substitutions and continuations. */
function statementEnd(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') i += 2;
    else if (c === "'") {
      const e = text.indexOf("'", i + 1);
      if (e < 0) throw new ShellParseError(`unterminated single quote starting on line ${lineOf(text, i)}`);
      i = e + 1;
    } else if (c === '"') i = scanDoubleQuoted(text, i);
    else if (c === '`') i = scanBacktick(text, i);
    else if (c === '$' && text[i + 1] === '(') i = scanDollarParen(text, i);
    else if (c === '\n') return i;
    else i++;
  }
  return Math.min(i, text.length);
}

function parseValue(text: string, start: number, name: string): Assignment {
  const a: Assignment = {
    name, valueStart: start, valueEnd: start, segments: [], decoded: '', from: [], to: [], segOf: [], opaque: [],
    hasCommand: false, hasExpansion: false, rawMarker: false, nested: false, line: 0,
  };
  const push = (ch: string, at: number, len: number): void => {
    if (ch === OPAQUE) a.rawMarker = true;
    a.decoded += ch;
    a.from.push(at);
    a.to.push(at + len);
    a.segOf.push(a.segments.length - 1);
  };
  const opaque = (at: number, end: number): void => {
    a.opaque.push(text.slice(at, end));
    a.decoded += OPAQUE;
    a.from.push(at);
    a.to.push(end);
    a.segOf.push(a.segments.length - 1);
  };
  /** a `$` or backquote at `at`: returns the offset after what it starts (pushed), or -1 for a plain char */
  const expansion = (at: number): number => {
    const c = text[at];
    if (c === '`') {
      const end = scanBacktick(text, at);
      a.hasCommand = true;
      opaque(at, end);
      return end;
    }
    const nx = text[at + 1] ?? '';
    if (nx === '(') {
      const end = scanDollarParen(text, at);
      a.hasCommand = true;
      opaque(at, end);
      return end;
    }
    if (nx === '{') {
      const end = scanBraceExpansion(text, at);
      a.hasExpansion = true;
      if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(text.slice(at, end))) for (let k = at; k < end; k++) push(text[k]!, k, 1);
      else opaque(at, end);
      return end;
    }
    if (/[A-Za-z_0-9@*#?$!-]/.test(nx)) a.hasExpansion = true;
    return -1;
  };
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      a.segments.push({ kind: 'dq', start: i + 1, end: -1 });
      i++;
      for (;;) {
        if (i >= n) throw new ShellParseError(`unterminated double quote in ${name} (line ${lineOf(text, start)})`);
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < n) {
          const e = text[i + 1]!;
          if (e === '\n') {
            i += 2; // line continuation: removed by the shell
            continue;
          }
          if (e === '"' || e === '\\' || e === '$' || e === '`') {
            push(e, i, 2);
            i += 2;
            continue;
          }
          push('\\', i, 1);
          i++;
          continue;
        }
        if (d === '$' || d === '`') {
          const end = expansion(i);
          if (end >= 0) {
            i = end;
            continue;
          }
        }
        push(d, i, 1);
        i++;
      }
      a.segments[a.segments.length - 1]!.end = i;
      i++;
      continue;
    }
    if (c === "'") {
      a.segments.push({ kind: 'sq', start: i + 1, end: -1 });
      i++;
      while (i < n && text[i] !== "'") {
        push(text[i]!, i, 1);
        i++;
      }
      if (i >= n) throw new ShellParseError(`unterminated single quote in ${name} (line ${lineOf(text, start)})`);
      a.segments[a.segments.length - 1]!.end = i;
      i++;
      continue;
    }
    if (' \t\n;&|<>()'.includes(c) || isLineEndCr(text, i)) break;
    const last = a.segments[a.segments.length - 1];
    if (!last || last.kind !== 'bare' || last.end !== i) a.segments.push({ kind: 'bare', start: i, end: i });
    const seg = a.segments[a.segments.length - 1]!;
    if (c === '\\' && i + 1 < n) {
      if (text[i + 1] === '\r' && text[i + 2] === '\n') {
        throw new ShellParseError(`${name} on line ${lineOf(text, start)} ends a line with a backslash before CR LF, which the shell does not read as a continuation`);
      }
      if (text[i + 1] !== '\n') push(text[i + 1]!, i, 2);
      i += 2;
      seg.end = i;
      continue;
    }
    if (c === '$' || c === '`') {
      const end = expansion(i);
      if (end >= 0) {
        i = end;
        seg.end = i;
        continue;
      }
    }
    push(c, i, 1);
    i++;
    seg.end = i;
  }
  a.valueEnd = i;
  return a;
}

const EXPANSION = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

function refersToSelf(a: Assignment): boolean {
  for (const m of a.decoded.matchAll(EXPANSION)) if ((m[1] ?? m[2]) === a.name) return true;
  return false;
}

/** The assignments that make up the final value: the last one, and the ones before it it appends to. */
function liveAssignments(all: readonly Assignment[]): Assignment[] {
  const out: Assignment[] = [];
  for (let k = all.length - 1; k >= 0; k--) {
    out.unshift(all[k]!);
    if (!refersToSelf(all[k]!)) break;
  }
  return out;
}

/** Effective value after all assignments: self references (`$name`/`${name}`) expanded, opaque expansions shown as written. */
function effectiveValue(assigns: readonly Assignment[]): string {
  let v = '';
  for (const a of assigns) {
    let out = '';
    let at = 0;
    let k = 0;
    const show = (s: string): string => s.split(OPAQUE).reduce((acc, part) => `${acc}${a.opaque[k++] ?? ''}${part}`);
    for (const m of a.decoded.matchAll(EXPANSION)) {
      if ((m[1] ?? m[2]) !== a.name) continue;
      out += show(a.decoded.slice(at, m.index)) + v;
      at = m.index + m[0].length;
    }
    v = out + show(a.decoded.slice(at));
  }
  return v;
}

function escapeFor(kind: SegKind, word: string): string | null {
  if (kind === 'dq') return word.replace(/([\\"$`])/g, '\\$1');
  if (kind === 'sq') return word.includes("'") ? null : word;
  return /\s/.test(word) ? null : word.replace(/([^A-Za-z0-9_.,:=+@%/-])/g, '\\$1');
}

function quoteWhole(value: string): string {
  return `"${value.replace(/([\\"$`])/g, '\\$1')}"`;
}

/**
 * Turn edits of one assignment's decoded value into its new raw value text (quotes included). Words change
 * in place; a change that would cross a quoting boundary (`"a "'b'`) rewrites the value as one
 * double-quoted string (refused when it holds expansions, whose meaning a rewrite could change).
 */
function rewriteValue(text: string, a: Assignment, splices: readonly Splice[], append: readonly string[]): string {
  const rawValue = text.slice(a.valueStart, a.valueEnd);
  const whole = (): string => {
    if (a.hasExpansion || a.hasCommand || a.opaque.length) {
      throw new ShellParseError(`${a.name} on line ${a.line} mixes quoting styles and $ expansions or commands; vfioctl will not rewrite it`);
    }
    let v = applySplices(a.decoded, splices);
    if (append.length) {
      const last = parseKernelCmdline(v).params.at(-1);
      v = last ? `${v.slice(0, last.end)} ${append.join(' ')}${v.slice(last.end)}` : `${append.join(' ')}${v}`;
    }
    return quoteWhole(v);
  };
  const fileSplices: Splice[] = [];
  for (const s of splices) {
    const segA = a.segOf[s.start];
    const segB = a.segOf[s.end - 1];
    if (segA === undefined || segA !== segB) return whole();
    const seg = a.segments[segA]!;
    const esc = escapeFor(seg.kind, s.text);
    if (esc === null) return whole();
    fileSplices.push({ start: a.from[s.start]! - a.valueStart, end: a.to[s.end - 1]! - a.valueStart, text: esc });
  }
  let raw = applySplices(rawValue, fileSplices);
  if (append.length) {
    const lastSeg = a.segments[a.segments.length - 1];
    if (!lastSeg || lastSeg.kind === 'bare') return whole();
    const esc = append.map((w) => escapeFor(lastSeg.kind, w));
    if (esc.some((w) => w === null)) return whole();
    // before the closing quote of the last segment, after its last non-blank character
    let k = raw.length - 1;
    while (/[ \t]/.test(raw[k - 1] ?? '')) k--;
    const contentEmpty = k === lastSeg.start - a.valueStart || raw[k - 1] === '\n';
    raw = `${raw.slice(0, k)}${contentEmpty ? '' : ' '}${esc.join(' ')}${raw.slice(k)}`;
  }
  return raw;
}

export interface GrubEditOptions {
  /** the variable that receives new parameters; default GRUB_CMDLINE_LINUX */
  readonly variable?: string;
  /** variables whose conflicting values are removed too; default [GRUB_CMDLINE_LINUX_DEFAULT] */
  readonly scrub?: readonly string[];
}

/**
 * Edit a grub defaults file. `set` parameters end up in `variable` (default GRUB_CMDLINE_LINUX, which
 * grub-mkconfig puts on every entry, recovery included); a conflicting value of the same parameter in a
 * scrubbed variable (GRUB_CMDLINE_LINUX_DEFAULT comes later on the generated line, so it would win) is
 * removed. `remove` applies to the variable and the scrubbed ones. Idempotent. The rules (what is edited,
 * what is refused) are in docs/apply.md, "Kernel command line".
 */
export function editGrubDefaults(text: string, edit: CmdlineEdit, opts: GrubEditOptions = {}): Result<GrubEditResult> {
  try {
    return ok(editGrubDefaultsOrThrow(text, edit, opts));
  } catch (e) {
    if (e instanceof ShellParseError) {
      return err({ message: `cannot edit the grub defaults file: ${e.message}`, remedy: 'edit the kernel command line by hand, or simplify the file (plain VAR="..." assignments outside if/case, one per line)' });
    }
    throw e;
  }
}

/** Refuse what cannot be edited (or read) safely; the checks shared by the editor and the reader. */
function checkEditable(file: ShellFile, names: readonly string[]): void {
  for (const o of file.others) {
    for (const nm of names) {
      if (o.bom && new RegExp(`${nm}([^A-Za-z0-9_]|$)`).test(o.text)) {
        throw new ShellParseError(`the file starts with a byte order mark, so /bin/sh reads line 1 as a command, not as the assignment of ${nm} it looks like; remove the mark (the first bytes before ${nm})`);
      }
      if (new RegExp(`(^|[^A-Za-z0-9_])${nm}\\+=`).test(o.text)) {
        throw new ShellParseError(`line ${o.line} appends to ${nm} with +=, which only some shells understand (grub-mkconfig reads the file with /bin/sh); use ${nm}="$${nm} ..."`);
      }
      if (new RegExp(`(^|[^A-Za-z0-9_])${nm}([^A-Za-z0-9_]|$)`).test(o.text)) {
        throw new ShellParseError(`line ${o.line} sets or uses ${nm} in a statement vfioctl does not edit: ${JSON.stringify(o.text.trim().slice(0, 120))}`);
      }
    }
  }
  for (const nm of names) {
    const as = file.assignments.filter((a) => a.name === nm);
    for (const a of as) {
      if (a.nested) throw new ShellParseError(`${nm} on line ${a.line} is set inside if/case/a loop/a function/( ) or after && or ||, so whether it applies depends on the host when grub-mkconfig runs`);
      if (a.rawMarker) throw new ShellParseError(`${nm} on line ${a.line} holds a control character (\\x01)`);
    }
    if (as.length && file.heredoc) throw new ShellParseError(`the file holds a here-document (<<), whose lines vfioctl cannot tell from the assignments of ${nm}`);
    if (as.length && file.openAtEnd !== 0) throw new ShellParseError(`the file's if/fi, case/esac, loops or braces do not balance, so where ${nm} is set cannot be told`);
  }
}

function editGrubDefaultsOrThrow(text: string, edit: CmdlineEdit, opts: GrubEditOptions): GrubEditResult {
  const variable = opts.variable ?? 'GRUB_CMDLINE_LINUX';
  const scrub = opts.scrub ?? ['GRUB_CMDLINE_LINUX_DEFAULT'];
  const file = parseShellFile(text);
  const names = [variable, ...scrub];
  checkEditable(file, names);
  const byName = (f: ShellFile, nm: string): Assignment[] => f.assignments.filter((a) => a.name === nm);
  const before = effectiveValue(liveAssignments(byName(file, variable)));
  const setSpecs = (edit.set ?? []).map(parseParamSpec);
  const notes: string[] = [];

  const owners: { a: Assignment; params: CmdlineParam[] }[] = [];
  const collect = (as: readonly Assignment[]): EditWord[] => {
    const words: EditWord[] = [];
    for (const a of as) {
      const owner = owners.length;
      const params = parseKernelCmdline(a.decoded).params;
      owners.push({ a, params });
      params.forEach((p, idx) => words.push({ p, owner, idx, opaque: p.raw.includes(OPAQUE) || p.raw.includes('$') }));
      for (const o of a.opaque) {
        notes.push(`${a.name} on line ${a.line} holds ${o.slice(0, 100)}: its output is only known when grub-mkconfig runs; it is kept as it is, and whether it adds or changes kernel parameters cannot be told`);
      }
      for (const m of a.decoded.matchAll(EXPANSION)) {
        const ref = m[1] ?? m[2]!;
        if (ref !== a.name) notes.push(`${a.name} on line ${a.line} includes $${ref}, whose value vfioctl does not evaluate; it is kept as it is`);
      }
    }
    return words;
  };
  const varLive = liveAssignments(byName(file, variable));
  const decisions: EditDecision[] = [];
  const labels: string[] = [];
  for (const nm of scrub) {
    decisions.push(decideScrub(collect(liveAssignments(byName(file, nm))), setSpecs, edit.remove ?? []));
    labels.push(nm);
  }
  const main = decideEdit(collect(varLive), { set: edit.set ?? [], remove: edit.remove ?? [] });
  decisions.push(main);
  labels.push(variable);
  const changes = decisions.flatMap((d, k) => d.changes.map((c) => `${labels[k]}: ${c}`));

  const appendWords = main.append.map(formatParam);
  const lastOwner = owners.findLastIndex((o) => o.a.name === variable);
  const splices: Splice[] = [];
  owners.forEach((o, idx) => {
    const own = decisions.flatMap((d) => ownerSplices(o.params, idx, d));
    const add = idx === lastOwner ? appendWords : [];
    if (!own.length && !add.length) return;
    splices.push({ start: o.a.valueStart, end: o.a.valueEnd, text: rewriteValue(text, o.a, own, add) });
  });
  let out = applySplices(text, splices);
  if (appendWords.length && lastOwner < 0) {
    const eol = lineEnding(text);
    const line = `${variable}=${quoteWhole(appendWords.join(' '))}`;
    out = out.length === 0 ? line + eol : out.endsWith('\n') ? out + line + eol : `${out}${eol}${line}`;
    changes.push(`${variable}: added line ${line}`);
  }
  const after = effectiveValue(liveAssignments(byName(parseShellFile(out), variable)));
  return { text: out, changed: out !== text, changes, added: appendWords, replaced: main.replaced, before, after, notes: [...new Set(notes)] };
}

/** The effective value of a variable in a grub defaults file (null when unset), or why it cannot be known. */
export function readGrubVariable(text: string, variable = 'GRUB_CMDLINE_LINUX'): Result<string | null> {
  let file: ShellFile;
  try {
    file = parseShellFile(text);
    checkEditable(file, [variable]);
  } catch (e) {
    if (e instanceof ShellParseError) return err({ message: `cannot read ${variable} from the grub defaults file: ${e.message}` });
    throw e;
  }
  const assigns = liveAssignments(file.assignments.filter((a) => a.name === variable));
  if (assigns.some((a) => a.hasCommand)) return err({ message: `${variable} runs a command; its value is not known without running it` });
  if (!assigns.length) return ok(null);
  return ok(effectiveValue(assigns));
}
