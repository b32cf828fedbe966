/**
 * modprobe.d content, pure (no I/O): render vfioctl's own file and edit existing ones.
 *
 * What vfioctl puts there (SEED-NOTES "Binding"):
 *   options vfio-pci ids=10de:1b80,10de:10f0      claim every device with these IDs at vfio-pci load
 *   softdep nouveau pre: vfio-pci                 load vfio-pci before the host driver can grab the card
 *   options vfio_iommu_type1 allow_unsafe_interrupts=1   (only on explicit request: a security downgrade)
 *
 * The syntax is modprobe.d(5): one command per line, a trailing backslash continues a line, `#` starts a
 * comment line, module names treat `-` and `_` alike. Lines vfioctl does not change are kept byte for
 * byte; a changed line is written as one line with single spaces. A file whose vfio-pci `ids=` or softdep
 * lines cannot be understood is refused.
 */
import { type Result, ok, err } from '../model/errors.js';

export const MANAGED_HEADER = '# Managed by vfioctl: changes here are kept, but `vfioctl unpersist` removes the lines vfioctl added.';

/** A PCI ID for vfio-pci ids=: vendor:device[:subvendor[:subdevice[:class[:class_mask]]]] in hex. */
const PCI_ID = /^[0-9a-f]{4}:[0-9a-f]{4}(?::[0-9a-f]{4}(?::[0-9a-f]{4}(?::[0-9a-f]{1,6}(?::[0-9a-f]{1,6})?)?)?)?$/;

export function isPciIdSpec(id: string): boolean {
  return PCI_ID.test(id.toLowerCase());
}

export function normalizeModuleName(m: string): string {
  return m.replace(/-/g, '_');
}

const MODULE_NAME = /^[A-Za-z0-9_-]+$/;

export interface ModprobeEdit {
  /** vfio-pci ids= entries to add / remove (vendor:device, lowercase hex) */
  readonly addIds?: readonly string[];
  readonly removeIds?: readonly string[];
  /** host drivers that must load after vfio-pci (`softdep DRIVER pre: vfio-pci`) */
  readonly addSoftdeps?: readonly string[];
  readonly removeSoftdeps?: readonly string[];
  /** other module options to set / remove, e.g. {module:'vfio_iommu_type1', key:'allow_unsafe_interrupts', value:'1'} */
  readonly setOptions?: readonly ModuleOption[];
  readonly removeOptions?: readonly ModuleOption[];
}

export interface ModuleOption {
  readonly module: string;
  readonly key: string;
  readonly value?: string;
}

export interface ModprobeEditResult {
  readonly text: string;
  readonly changed: boolean;
  readonly changes: string[];
}

interface Logical {
  /** index of the first physical line and count */
  first: number;
  count: number;
  tokens: string[];
  comment: boolean;
}

function splitLogical(text: string): Result<{ lines: string[]; logical: Logical[]; trailingNewline: boolean }> {
  const trailingNewline = text.endsWith('\n');
  const lines = text.length ? (trailingNewline ? text.slice(0, -1) : text).split('\n') : [];
  const logical: Logical[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = i;
    const line = lines[i]!;
    if (/^\s*#/.test(line) || /^\s*$/.test(line)) {
      logical.push({ first, count: 1, tokens: [], comment: true });
      continue;
    }
    let joined = line;
    while (joined.endsWith('\\')) {
      if (i + 1 >= lines.length) return err({ message: `line ${first + 1} ends with a backslash but no line follows` });
      joined = joined.slice(0, -1) + ' ' + lines[++i]!;
    }
    logical.push({ first, count: i - first + 1, tokens: joined.trim().split(/\s+/), comment: false });
  }
  return ok({ lines, logical, trailingNewline });
}

const isVfioPci = (m: string | undefined): boolean => m !== undefined && normalizeModuleName(m) === 'vfio_pci';

/** The vfio-pci ids and softdeps a modprobe.d file declares (for status and checks). */
export interface ModprobeFacts {
  ids: string[];
  /** drivers with `softdep X pre: ... vfio-pci ...` */
  softdeps: string[];
  options: ModuleOption[];
}

export function parseModprobeConf(text: string): Result<ModprobeFacts> {
  const s = splitLogical(text);
  if (!s.ok) return s;
  const facts: ModprobeFacts = { ids: [], softdeps: [], options: [] };
  for (const l of s.value.logical) {
    if (l.comment) continue;
    const [cmd, mod, ...rest] = l.tokens;
    if (cmd === 'options' && mod) {
      for (const t of rest) {
        const eq = t.indexOf('=');
        const key = eq < 0 ? t : t.slice(0, eq);
        const value = eq < 0 ? undefined : t.slice(eq + 1);
        facts.options.push(value === undefined ? { module: mod, key } : { module: mod, key, value });
        if (isVfioPci(mod) && key === 'ids') {
          const ids = (value ?? '').split(',').filter(Boolean);
          const bad = ids.find((id) => !isPciIdSpec(id));
          if (bad) return err({ message: `line ${l.first + 1}: ${JSON.stringify(bad)} is not a vendor:device ID`, remedy: 'fix the ids= list (hex vendor:device pairs, comma separated)' });
          facts.ids = ids.map((x) => x.toLowerCase()); // the last ids= wins
        }
      }
    } else if (cmd === 'softdep' && mod) {
      const pre = preList(rest);
      if (pre === null) return err({ message: `line ${l.first + 1}: softdep ${mod} has no pre:/post: list`, remedy: 'write it as `softdep MODULE pre: vfio-pci`' });
      if (pre.some(isVfioPci)) facts.softdeps.push(mod);
    }
  }
  return ok(facts);
}

/** Modules listed after `pre:` in a softdep's tail, or null when the tail is malformed. */
function preList(rest: string[]): string[] | null {
  if (!rest.length || (rest[0] !== 'pre:' && rest[0] !== 'post:')) return null;
  const out: string[] = [];
  let inPre = false;
  for (const t of rest) {
    if (t === 'pre:') inPre = true;
    else if (t === 'post:') inPre = false;
    else if (inPre) out.push(t);
  }
  return out;
}

/** vfioctl's own modprobe.d file. */
export function renderVfioModprobeConf(opts: { ids?: readonly string[]; softdeps?: readonly string[]; options?: readonly ModuleOption[] }): string {
  const r = editModprobeConf(`${MANAGED_HEADER}\n`, {
    addIds: opts.ids ?? [],
    addSoftdeps: opts.softdeps ?? [],
    setOptions: opts.options ?? [],
  });
  if (!r.ok) throw new Error(`internal: ${r.error.message}`);
  return r.value.text;
}

/**
 * Edit modprobe.d content. ids are merged into the effective (last) `options vfio-pci ids=` entry, or
 * appended to the last `options vfio-pci` line, or written as a new line. Softdeps gain `vfio-pci` in
 * their pre: list. Removal takes out exactly the named entries and drops lines left empty. Idempotent.
 */
export function editModprobeConf(text: string, edit: ModprobeEdit): Result<ModprobeEditResult> {
  const checkIds = [...(edit.addIds ?? []), ...(edit.removeIds ?? [])].find((id) => !isPciIdSpec(id));
  if (checkIds !== undefined) return err({ message: `not a PCI ID: ${JSON.stringify(checkIds)}`, remedy: 'write IDs as vendor:device in hex, e.g. 10de:1b80' });
  const badMod = [...(edit.addSoftdeps ?? []), ...(edit.removeSoftdeps ?? []), ...(edit.setOptions ?? []).map((o) => o.module)].find((m) => !MODULE_NAME.test(m));
  if (badMod !== undefined) return err({ message: `not a module name: ${JSON.stringify(badMod)}` });
  const facts = parseModprobeConf(text);
  if (!facts.ok) return err({ message: `cannot edit the modprobe.d file: ${facts.error.message}`, remedy: facts.error.remedy ?? 'fix the file by hand first' });
  const s = splitLogical(text);
  if (!s.ok) return s;
  const { lines, logical, trailingNewline } = s.value;
  const changes: string[] = [];
  /** replacement tokens per logical line; [] deletes the line */
  const replaced = new Map<number, string[]>();
  const appended: string[] = [];
  const tokensOf = (i: number): string[] => replaced.get(i) ?? logical[i]!.tokens;

  // ---- ids
  const addIds = (edit.addIds ?? []).map((x) => x.toLowerCase());
  const removeIds = new Set((edit.removeIds ?? []).map((x) => x.toLowerCase()));
  const optionLines = logical.map((l, i) => ({ l, i })).filter(({ l }) => !l.comment && l.tokens[0] === 'options' && isVfioPci(l.tokens[1]));
  const idTokens: { i: number; t: number }[] = [];
  for (const { l, i } of optionLines) l.tokens.forEach((tok, t) => tok.startsWith('ids=') && idTokens.push({ i, t }));
  if (removeIds.size) {
    for (const { i, t } of idTokens) {
      const toks = [...tokensOf(i)];
      const ids = toks[t]!.slice(4).split(',').filter(Boolean);
      const kept = ids.filter((id) => !removeIds.has(id.toLowerCase()));
      if (kept.length !== ids.length) {
        changes.push(`vfio-pci ids: removed ${ids.filter((id) => removeIds.has(id.toLowerCase())).join(',')}`);
        toks[t] = kept.length ? `ids=${kept.join(',')}` : '';
        replaced.set(i, toks);
      }
    }
  }
  const effective = new Set(facts.value.ids.filter((id) => !removeIds.has(id)));
  const missingIds = addIds.filter((id) => !effective.has(id));
  if (missingIds.length) {
    changes.push(`vfio-pci ids: added ${missingIds.join(',')}`);
    const lastTok = idTokens[idTokens.length - 1];
    if (lastTok) {
      const toks = [...tokensOf(lastTok.i)];
      const cur = toks[lastTok.t]!.slice(4).split(',').filter(Boolean);
      toks[lastTok.t] = `ids=${[...cur, ...missingIds].join(',')}`;
      replaced.set(lastTok.i, toks);
    } else if (optionLines.length) {
      const i = optionLines[optionLines.length - 1]!.i;
      replaced.set(i, [...tokensOf(i), `ids=${missingIds.join(',')}`]);
    } else {
      appended.push(`options vfio-pci ids=${missingIds.join(',')}`);
    }
  }

  // ---- other options
  for (const o of edit.removeOptions ?? []) {
    logical.forEach((l, i) => {
      if (l.comment || l.tokens[0] !== 'options' || normalizeModuleName(l.tokens[1] ?? '') !== normalizeModuleName(o.module)) return;
      const toks = [...tokensOf(i)];
      let hit = false;
      toks.forEach((tok, t) => {
        if (t < 2) return;
        const eq = tok.indexOf('=');
        const key = eq < 0 ? tok : tok.slice(0, eq);
        if (key === o.key && (o.value === undefined || tok.slice(eq + 1) === o.value)) {
          toks[t] = '';
          hit = true;
        }
      });
      if (hit) {
        replaced.set(i, toks);
        changes.push(`options ${o.module}: removed ${o.key}`);
      }
    });
  }
  for (const o of edit.setOptions ?? []) {
    const want = o.value === undefined ? o.key : `${o.key}=${o.value}`;
    const lines2 = logical.map((l, i) => ({ l, i })).filter(({ l }) => !l.comment && l.tokens[0] === 'options' && normalizeModuleName(l.tokens[1] ?? '') === normalizeModuleName(o.module));
    let present = false;
    let lastKeyAt: { i: number; t: number } | undefined;
    for (const { i } of lines2) {
      tokensOf(i).forEach((tok, t) => {
        if (t < 2) return;
        const key = tok.split('=')[0];
        if (key === o.key) lastKeyAt = { i, t };
      });
    }
    if (lastKeyAt) present = tokensOf(lastKeyAt.i)[lastKeyAt.t] === want;
    if (present) continue;
    changes.push(`options ${o.module}: set ${want}`);
    if (lastKeyAt) {
      const toks = [...tokensOf(lastKeyAt.i)];
      toks[lastKeyAt.t] = want;
      replaced.set(lastKeyAt.i, toks);
    } else {
      appended.push(`options ${o.module} ${want}`);
    }
  }

  // ---- softdeps
  const softdepLines = (mod: string): number[] =>
    logical.map((l, i) => ({ l, i })).filter(({ l }) => !l.comment && l.tokens[0] === 'softdep' && normalizeModuleName(l.tokens[1] ?? '') === normalizeModuleName(mod)).map(({ i }) => i);
  for (const mod of edit.removeSoftdeps ?? []) {
    for (const i of softdepLines(mod)) {
      const toks = tokensOf(i);
      const pre = preList(toks.slice(2)) ?? [];
      if (!pre.some(isVfioPci)) continue;
      const kept = removeFromPre(toks);
      changes.push(`softdep ${mod}: removed vfio-pci`);
      replaced.set(i, kept);
    }
  }
  for (const mod of edit.addSoftdeps ?? []) {
    const idx = softdepLines(mod);
    if (idx.some((i) => (preList(tokensOf(i).slice(2)) ?? []).some(isVfioPci))) continue;
    changes.push(`softdep ${mod}: added pre: vfio-pci`);
    const i = idx[idx.length - 1];
    if (i === undefined) {
      appended.push(`softdep ${mod} pre: vfio-pci`);
      continue;
    }
    const toks = [...tokensOf(i)];
    const preAt = toks.indexOf('pre:');
    if (preAt >= 0) toks.splice(preAt + 1, 0, 'vfio-pci');
    else toks.splice(2, 0, 'pre:', 'vfio-pci');
    replaced.set(i, toks);
  }

  // ---- render
  const out: string[] = [];
  logical.forEach((l, i) => {
    const r = replaced.get(i);
    if (!r) {
      out.push(...lines.slice(l.first, l.first + l.count));
      return;
    }
    const toks = r.filter(Boolean);
    // an options line with no options left, or a softdep with no modules left, disappears
    if (toks[0] === 'options' && toks.length <= 2) return;
    if (toks[0] === 'softdep' && toks.slice(2).every((t) => t === 'pre:' || t === 'post:')) return;
    out.push(toks.join(' '));
  });
  out.push(...appended);
  let result = out.join('\n');
  if (out.length && (trailingNewline || appended.length || !text.length)) result += '\n';
  return ok({ text: result, changed: result !== text, changes });
}

function removeFromPre(toks: string[]): string[] {
  const out: string[] = [];
  let inPre = false;
  for (const t of toks) {
    if (t === 'pre:') inPre = true;
    else if (t === 'post:') inPre = false;
    else if (inPre && isVfioPci(t)) continue;
    out.push(t);
  }
  // drop an empty `pre:` section
  return out.filter((t, k) => !(t === 'pre:' && (out[k + 1] === undefined || out[k + 1] === 'post:')));
}

/** Is the only meaningful content of a file vfioctl's header (so the file can be deleted)? */
export function isEffectivelyEmpty(text: string): boolean {
  return text.split('\n').every((l) => /^\s*$/.test(l) || /^\s*#/.test(l));
}
