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
 *   other variables, the quoting style (double, single, unquoted, concatenated), line continuations and
 *   every other parameter stay as they were. Duplicate assignments are honoured (the last one wins, and a
 *   later `VAR="$VAR more"` appends). A file it cannot understand is refused, never guessed at.
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
  /** `key=value` or `flag`: present afterwards exactly once with this value */
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
  return { params, initSeparator };
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

/**
 * The splices that turn a command line (given as parsed words over some text) into the edited one.
 * `render` turns a new word into the text to insert (callers escape for their quoting context).
 * Returns the splices plus whether an append is still needed for each `set` item not found.
 */
function planEdit(
  parsed: ParsedCmdline,
  edit: CmdlineEdit,
  opts: { allowAppend: boolean },
): { splices: Splice[]; append: ParamSpec[]; changes: string[] } {
  const splices: Splice[] = [];
  const append: ParamSpec[] = [];
  const changes: string[] = [];
  const doomed = new Set<number>();
  const replaced = new Map<number, string>();
  const params = parsed.params;

  for (const r of edit.remove ?? []) {
    const want = parseParamSpec(r);
    params.forEach((p, idx) => {
      if (matches(p, want, want.value !== undefined)) doomed.add(idx);
    });
  }
  for (const s of edit.set ?? []) {
    const want = parseParamSpec(s);
    const same = params.map((p, idx) => ({ p, idx })).filter(({ p, idx }) => matches(p, want, false) && !doomed.has(idx));
    if (same.length === 0) {
      append.push(want);
      continue;
    }
    // Keep the first occurrence (in place), fix its value if needed; drop later duplicates so the
    // kernel cannot see a conflicting later value.
    const [first, ...rest] = same;
    if (first!.p.value !== want.value) replaced.set(first!.idx, formatParam(want));
    for (const r of rest) doomed.add(r.idx);
  }

  for (const [idx, text] of replaced) {
    const p = params[idx]!;
    splices.push({ start: p.start, end: p.end, text });
    changes.push(`${p.raw} -> ${text}`);
  }
  // Remove a doomed word with the white space before it (after it when it is the first word).
  for (const idx of [...doomed].sort((a, b) => a - b)) {
    const p = params[idx]!;
    const prev = params[idx - 1];
    const next = params[idx + 1];
    const leading = params.slice(0, idx).every((_, k) => doomed.has(k));
    if (prev && !leading) splices.push({ start: prev.end, end: p.end, text: '' });
    else splices.push({ start: p.start, end: next ? next.start : p.end, text: '' });
    changes.push(`removed ${p.raw}`);
  }
  if (opts.allowAppend) for (const a of append) changes.push(`added ${formatParam(a)}`);
  return { splices, append, changes };
}

function applySplices(text: string, splices: Splice[]): string {
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
}

/**
 * Edit a kernel command line: every other word, the spacing between untouched words and anything after a
 * bare `--` are kept. New words go at the end of the kernel part. Idempotent.
 */
export function editKernelCmdline(text: string, edit: CmdlineEdit): CmdlineEditResult {
  const parsed = parseKernelCmdline(text);
  const { splices, append, changes } = planEdit(parsed, edit, { allowAppend: true });
  let out = applySplices(text, splices);
  if (append.length) {
    const words = append.map(formatParam).join(' ');
    // insert after the last kernel word (before `--` and before trailing white space / newline)
    const reparsed = parseKernelCmdline(out);
    const last = reparsed.params[reparsed.params.length - 1];
    if (last) out = `${out.slice(0, last.end)} ${words}${out.slice(last.end)}`;
    else if (reparsed.initSeparator >= 0) out = `${out.slice(0, reparsed.initSeparator)}${words} ${out.slice(reparsed.initSeparator)}`;
    else {
      const lead = /^[ \t]*/.exec(out)![0];
      out = `${lead}${words}${out.slice(lead.length)}`;
    }
  }
  return { text: out, changed: out !== text, changes };
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
  /** contains $(...) or `...` */
  hasCommand: boolean;
  /** contains an unescaped $ expansion */
  hasExpansion: boolean;
  line: number;
}

interface ShellFile {
  assignments: Assignment[];
  /** non-assignment, non-comment statements */
  others: { line: number; text: string }[];
}

export interface GrubEditResult extends CmdlineEditResult {
  /** the effective value of the variable before and after (after $VAR expansion, as grub-mkconfig sees it) */
  readonly before: string;
  readonly after: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

class ShellParseError extends Error {}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') n++;
  return n;
}

/** Parse the subset of POSIX shell that grub defaults files use: assignments, comments, other statements. */
function parseShellFile(text: string): ShellFile {
  const assignments: Assignment[] = [];
  const others: { line: number; text: string }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    const c = text[i]!;
    if (c === '\n' || c === ';') {
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
      i = a.valueEnd;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (i < n && text[i] !== '\n' && text[i] !== ';' && text[i] !== '#') {
        // `VAR=value command ...` sets VAR for one command only: not an assignment of the file
        const end = statementEnd(text, stmtStart);
        others.push({ line: a.line, text: text.slice(stmtStart, end) });
        i = end;
      } else {
        assignments.push(a);
      }
      continue;
    }
    const end = statementEnd(text, stmtStart);
    others.push({ line: lineOf(text, stmtStart), text: text.slice(stmtStart, end) });
    i = end;
  }
  return { assignments, others };
}

/** End of a non-assignment statement: the end of its line, honouring quotes and continuations. */
function statementEnd(text: string, start: number): number {
  let i = start;
  let q: '"' | "'" | null = null;
  while (i < text.length) {
    const c = text[i]!;
    if (q === "'") {
      if (c === "'") q = null;
    } else if (q === '"') {
      if (c === '\\') i++;
      else if (c === '"') q = null;
    } else if (c === '\\') i++;
    else if (c === '"' || c === "'") q = c;
    else if (c === '\n') return i;
    i++;
  }
  if (q) throw new ShellParseError(`unterminated ${q === '"' ? 'double' : 'single'} quote starting on line ${lineOf(text, start)}`);
  return i;
}

function parseValue(text: string, start: number, name: string): Assignment {
  const a: Assignment = {
    name, valueStart: start, valueEnd: start, segments: [], decoded: '', from: [], to: [], segOf: [],
    hasCommand: false, hasExpansion: false, line: 0,
  };
  const push = (ch: string, at: number, len: number): void => {
    a.decoded += ch;
    a.from.push(at);
    a.to.push(at + len);
    a.segOf.push(a.segments.length - 1);
  };
  const dollar = (at: number): void => {
    const nx = text[at + 1] ?? '';
    if (nx === '(') a.hasCommand = true;
    else if (/[A-Za-z_{0-9@*#?$!-]/.test(nx)) a.hasExpansion = true;
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
        if (d === '`') a.hasCommand = true;
        if (d === '$') dollar(i);
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
    if (' \t\n;&|<>()'.includes(c)) break;
    const last = a.segments[a.segments.length - 1];
    if (!last || last.kind !== 'bare' || last.end !== i) a.segments.push({ kind: 'bare', start: i, end: i });
    const seg = a.segments[a.segments.length - 1]!;
    if (c === '\\' && i + 1 < n) {
      if (text[i + 1] !== '\n') push(text[i + 1]!, i, 2);
      i += 2;
      seg.end = i;
      continue;
    }
    if (c === '`') a.hasCommand = true;
    if (c === '$') dollar(i);
    push(c, i, 1);
    i++;
    seg.end = i;
  }
  a.valueEnd = i;
  return a;
}

const EXPANSION = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Effective value after all assignments, expanding `$name`/`${name}` self references. */
function effectiveValue(assigns: Assignment[]): string {
  let v = '';
  for (const a of assigns) {
    const prev = v;
    v = a.decoded.replace(EXPANSION, (all, b: string | undefined, u: string | undefined) => ((b ?? u) === a.name ? prev : all));
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
 * Apply a command-line edit to one assignment's value; returns the new raw value text (quotes included)
 * or null when nothing changes. Words change in place; a change that would cross a quoting boundary
 * (`"a "'b'`) rewrites the value as one double-quoted string (refused when it holds $ expansions, whose
 * meaning a rewrite could change).
 */
function editAssignment(text: string, a: Assignment, edit: CmdlineEdit, allowAppend: boolean): { raw: string; changes: string[] } | null {
  const parsed = parseKernelCmdline(a.decoded);
  const plan = planEdit(parsed, edit, { allowAppend });
  const appending = allowAppend && plan.append.length > 0;
  if (!plan.splices.length && !appending) return null;
  const rawValue = text.slice(a.valueStart, a.valueEnd);
  const whole = (): { raw: string; changes: string[] } => {
    if (a.hasExpansion) {
      throw new ShellParseError(`${a.name} on line ${a.line} mixes quoting styles and $ expansions; vfioctl will not rewrite it`);
    }
    const keep = allowAppend ? edit.set ?? [] : (edit.set ?? []).filter((s) => paramValue(a.decoded, parseParamSpec(s).key) !== null);
    const r = editKernelCmdline(a.decoded, { set: keep, remove: edit.remove ?? [] });
    return { raw: quoteWhole(r.text), changes: r.changes };
  };
  const fileSplices: Splice[] = [];
  for (const s of plan.splices) {
    const segA = a.segOf[s.start];
    const segB = a.segOf[s.end - 1];
    if (segA === undefined || segA !== segB) return whole();
    const seg = a.segments[segA]!;
    const esc = escapeFor(seg.kind, s.text);
    if (esc === null) return whole();
    fileSplices.push({ start: a.from[s.start]! - a.valueStart, end: a.to[s.end - 1]! - a.valueStart, text: esc });
  }
  let raw = applySplices(rawValue, fileSplices);
  if (appending) {
    const lastSeg = a.segments[a.segments.length - 1];
    if (!lastSeg || lastSeg.kind === 'bare') return whole();
    const esc = plan.append.map((w) => escapeFor(lastSeg.kind, formatParam(w)));
    if (esc.some((w) => w === null)) return whole();
    // before the closing quote of the last segment, after its last non-blank character
    const close = raw.length - 1;
    let k = close;
    while (/[ \t]/.test(raw[k - 1] ?? '')) k--;
    const contentEmpty = k === lastSeg.start - a.valueStart || raw[k - 1] === '\n';
    raw = `${raw.slice(0, k)}${contentEmpty ? '' : ' '}${esc.join(' ')}${raw.slice(k)}`;
  }
  return { raw, changes: plan.changes };
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
 * removed. `remove` applies to the variable and the scrubbed ones. Idempotent.
 */
export function editGrubDefaults(text: string, edit: CmdlineEdit, opts: GrubEditOptions = {}): Result<GrubEditResult> {
  try {
    return ok(editGrubDefaultsOrThrow(text, edit, opts));
  } catch (e) {
    if (e instanceof ShellParseError) {
      return err({ message: `cannot edit the grub defaults file: ${e.message}`, remedy: 'edit the kernel command line by hand, or simplify the file (plain VAR="..." assignments)' });
    }
    throw e;
  }
}

function editGrubDefaultsOrThrow(text: string, edit: CmdlineEdit, opts: GrubEditOptions): GrubEditResult {
  const variable = opts.variable ?? 'GRUB_CMDLINE_LINUX';
  const scrub = opts.scrub ?? ['GRUB_CMDLINE_LINUX_DEFAULT'];
  const file = parseShellFile(text);
  const names = [variable, ...scrub];
  for (const o of file.others) {
    for (const nm of names) {
      if (new RegExp(`\\b${nm}\\b`).test(o.text)) {
        throw new ShellParseError(`line ${o.line} sets or uses ${nm} in a statement vfioctl does not edit: ${JSON.stringify(o.text.trim().slice(0, 120))}`);
      }
    }
  }
  const byName = (f: ShellFile, nm: string): Assignment[] => f.assignments.filter((a) => a.name === nm);
  for (const nm of names) {
    const bad = byName(file, nm).find((a) => a.hasCommand);
    if (bad) throw new ShellParseError(`${nm} on line ${bad.line} runs a command ($(...) or backticks); its value cannot be known without running it`);
  }
  const before = effectiveValue(byName(file, variable));
  const setSpecs = (edit.set ?? []).map(parseParamSpec);
  const splices: Splice[] = [];
  const changes: string[] = [];

  for (const nm of scrub) {
    for (const a of byName(file, nm)) {
      const conflicting = parseKernelCmdline(a.decoded).params
        .filter((p) => setSpecs.some((s) => matches(p, s, false) && p.value !== s.value))
        .map((p) => formatParam(p));
      const r = editAssignment(text, a, { remove: [...(edit.remove ?? []), ...conflicting] }, false);
      if (r) {
        splices.push({ start: a.valueStart, end: a.valueEnd, text: r.raw });
        changes.push(...r.changes.map((c) => `${nm}: ${c}`));
      }
    }
  }
  for (const a of byName(file, variable)) {
    const r = editAssignment(text, a, { set: edit.set ?? [], remove: edit.remove ?? [] }, false);
    if (r) {
      splices.push({ start: a.valueStart, end: a.valueEnd, text: r.raw });
      changes.push(...r.changes.map((c) => `${variable}: ${c}`));
    }
  }
  let out = applySplices(text, splices);
  let f = parseShellFile(out);
  const eff = effectiveValue(byName(f, variable));
  const missing = setSpecs.filter((s) => !hasParam(eff, formatParam(s))).map(formatParam);
  if (missing.length) {
    const assigns = byName(f, variable);
    const last = assigns[assigns.length - 1];
    if (last) {
      const r = editAssignment(out, last, { set: missing }, true);
      if (r) {
        out = out.slice(0, last.valueStart) + r.raw + out.slice(last.valueEnd);
        changes.push(...r.changes.map((c) => `${variable}: ${c}`));
      }
    } else {
      const line = `${variable}=${quoteWhole(missing.join(' '))}\n`;
      out = out.length === 0 || out.endsWith('\n') ? out + line : `${out}\n${line}`;
      changes.push(`${variable}: added line ${line.trim()}`);
    }
    f = parseShellFile(out);
  }
  const after = effectiveValue(byName(f, variable));
  return { text: out, changed: out !== text, changes, before, after };
}

/** The effective value of a variable in a grub defaults file (null when unset), or why it cannot be known. */
export function readGrubVariable(text: string, variable = 'GRUB_CMDLINE_LINUX'): Result<string | null> {
  let file: ShellFile;
  try {
    file = parseShellFile(text);
  } catch (e) {
    return err({ message: `cannot parse the grub defaults file: ${(e as Error).message}` });
  }
  const assigns = file.assignments.filter((a) => a.name === variable);
  if (assigns.some((a) => a.hasCommand)) return err({ message: `${variable} runs a command; its value is not known without running it` });
  if (file.others.some((o) => new RegExp(`\\b${variable}\\b`).test(o.text))) return err({ message: `${variable} is set inside a statement vfioctl does not evaluate` });
  if (!assigns.length) return ok(null);
  return ok(effectiveValue(assigns));
}
