/**
 * Read a host from text people paste instead of a tree. Every input line is either read or reported
 * (`source.skipped`: line number, text with control characters escaped, why); nothing is dropped silently.
 *
 * Forms, in any mix and any number of concatenated pastes:
 *   IOMMU group listings   `IOMMU Group 1 00:01.0 ...`, `IOMMU Group 7:00:14.3 ...` (no space),
 *                          `IOMMU Group 1:` / `Group 1:` / `### Group 1 ###` headings with (indented) members,
 *                          `/sys/kernel/iommu_groups/N/devices/ADDR` lines (find output: membership only)
 *   lspci                  -nn, -nnk, -D, -q, and -v/-vv/-vvv fragments (src/model/import-lspci-verbose.ts)
 *   lspci -tv / -tvnn      topology (src/model/import-lspci-tree.ts)
 *   virsh nodedev-dumpxml  (src/model/import-nodedev.ts)
 * around which forum markup and shell prompts are removed first (src/model/import-clean.ts). Facts given
 * twice are merged; facts that disagree are reported as conflicts (the first reading is kept). What the
 * text cannot tell is listed in `source.unknown` (and per function in `source.unknownFor`), so output says
 * so instead of guessing.
 */
import { type PciAddressString, formatPciAddress, parsePciAddress, comparePciAddressStrings, formatShortAddress, pciAddressOf } from './pci-address.js';
import { isBridgeClass } from './pci-class.js';
import { type PciCapabilities, emptyCapabilities } from './pci-config.js';
import { assembleGroup } from './groups.js';
import type { PciIds } from './pci-ids.js';
import { type FunctionFact, type ImportSkippedLine, type ImportUnknownFor, type PciFunction, type PciInventory, unknownFact } from './pci-function.js';
import { UsageError } from './errors.js';
import { cleanLine, escapeLineText, splitPasteLines } from './import-clean.js';
import { LspciTreeReader, isTreeLine } from './import-lspci-tree.js';
import { type VerboseBlock, VerboseReader, emptyBlock } from './import-lspci-verbose.js';
import { NODEDEV_MAX_CHARS, readNodedevXml } from './import-nodedev.js';

export { importFactUnknown } from './import-facts.js';

export type ListingFormat =
  | 'iommu-groups-inline' | 'iommu-groups-heading' | 'iommu-groups-sysfs'
  | 'lspci-nn' | 'lspci-nnk' | 'lspci-vvv' | 'lspci-tree' | 'nodedev-xml';

/** Largest paste read (a full lspci -vvv of a big server is well under 2 MiB). */
export const LISTING_MAX_CHARS = 8 * 1024 * 1024;
/** Skipped lines kept in the model; the rest are counted in one last entry. */
export const SKIPPED_MAX = 500;

const ADDR = '(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]';
const DEVICE_LINE = new RegExp(
  `^(${ADDR})\\s+(?:-\\s+)?(.+?)\\s+\\[([0-9a-fA-F]{4})\\]:\\s+(.*)\\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\\](.*)$`,
);
const STARTS_WITH_ADDR = new RegExp(`^(${ADDR})(?:\\s|$)`);
const GROUP_HEAD = /^[#=*\-\s]*(?:IOMMU\s*)?group\s*:?\s*#?(\d+)\s*[:#=*\-\s]*$/i;
const GROUP_START = /^[#=*\-\s]*(?:IOMMU\s*)?group\s*:?\s*#?(\d+)(.*)$/i;
/** lspci detail lines recognised even when a forum stripped their indentation. */
const DETAIL_KEY = /^(?:Subsystem:|Kernel driver in use:|Kernel modules:|Flags:|Capabilities:|Control:|Status:|Latency:|Interrupt:|Region \d|Memory at|I\/O ports at|Expansion ROM at|NUMA node:|IOMMU group:|DevCap:|DevCtl:|LnkCap:|LnkSta:|ACSCap:|ACSCtl:)/;
const SYSFS_GROUP = new RegExp(`^(?:/sys)?/kernel/iommu_groups/(\\d+)/devices/(${ADDR})/?$`);

interface Ids {
  vendorId: string;
  deviceId: string;
  /** class and subclass, 4 hex digits */
  cls4: string;
  progIf: string | null;
  classText: string | null;
  namesText: string | null;
  vendorName: string | null;
  deviceName: string | null;
  revision: string | null;
}

interface Fact<T> {
  value: T;
  line: number;
}

interface Rec {
  address: PciAddressString;
  ids: Fact<Ids> | null;
  group: Fact<number> | null;
  driver: Fact<string | null> | null;
  subsystem: Fact<{ vendorId: string; deviceId: string; name: string }> | null;
  caps: Fact<PciCapabilities> | null;
  flrUnknown: boolean;
  detailsUnread: string[];
  hasRom: Fact<boolean> | null;
  numa: Fact<number> | null;
  topology: Fact<{ rootBus: string; parentChain: PciAddressString[] }> | null;
  physfn: PciAddressString | null;
}

interface Block {
  rec: Rec;
  line: number;
  text: string;
  detail: VerboseBlock;
  reader: VerboseReader;
  /** the device line conflicted: its detail lines are recognised but not read into the kept entry */
  discard: boolean;
}

interface Segment {
  blocks: Block[];
  /** device lines of group lines, under a group heading, or of a plain lspci listing */
  kind: 'inline' | 'heading' | 'plain';
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

class ListingReader {
  readonly recs = new Map<string, Rec>();
  readonly skipped: ImportSkippedLine[] = [];
  private skippedOver = 0;
  readonly forms: ListingFormat[] = [];
  private block: Block | null = null;
  private segment: Segment | null = null;
  private groupCtx: { group: number; indent: number | null } | null = null;
  private readonly tree = new LspciTreeReader();
  private treeLines = new Map<number, { text: string; nodes: PciAddressString[] }>();
  private lastWasTree = false;
  readonly lineTexts = new Map<number, string>();

  form(f: ListingFormat): void {
    if (!this.forms.includes(f)) this.forms.push(f);
  }

  skip(line: number, raw: string, reason: string): void {
    if (this.skipped.length >= SKIPPED_MAX) {
      this.skippedOver++;
      return;
    }
    this.skipped.push({ line, text: escapeLineText(raw), reason });
  }

  finishSkipped(): void {
    if (this.skippedOver) this.skipped.push({ line: 0, text: '', reason: `and ${this.skippedOver} more lines not understood (not listed)` });
  }

  rec(address: PciAddressString): Rec {
    let r = this.recs.get(address);
    if (!r) {
      r = { address, ids: null, group: null, driver: null, subsystem: null, caps: null, flrUnknown: false, detailsUnread: [], hasRom: null, numa: null, topology: null, physfn: null };
      this.recs.set(address, r);
    }
    return r;
  }

  /** Set a fact; a different earlier value is a conflict: reported, the first kept. */
  set<K extends 'group' | 'driver' | 'subsystem' | 'hasRom' | 'numa' | 'topology'>(r: Rec, key: K, value: NonNullable<Rec[K]>['value'], line: number, raw: string, what: string, show: (v: NonNullable<Rec[K]>['value']) => string): boolean {
    const prev = r[key] as Fact<unknown> | null;
    if (prev) {
      if (sameJson(prev.value, value)) return true;
      this.skip(line, raw, `conflicts with line ${prev.line}: ${formatShortAddress(pciAddressOf(r.address))} ${what} ${show(prev.value as never)} there, ${show(value)} here (kept line ${prev.line}; are these pastes of one host and one boot?)`);
      return false;
    }
    (r as unknown as Record<string, unknown>)[key] = { value, line };
    return true;
  }

  setIds(r: Rec, ids: Ids, line: number, raw: string): boolean {
    const prev = r.ids;
    if (!prev) {
      r.ids = { value: ids, line };
      return true;
    }
    const p = prev.value;
    const idsOf = (x: Ids) => `[${x.vendorId}:${x.deviceId}] class ${x.cls4}${x.progIf ?? ''}`;
    if (p.vendorId !== ids.vendorId || p.deviceId !== ids.deviceId || p.cls4 !== ids.cls4 || (p.progIf !== null && ids.progIf !== null && p.progIf !== ids.progIf) || (p.revision !== null && ids.revision !== null && p.revision !== ids.revision)) {
      this.skip(line, raw, `conflicts with line ${prev.line}: ${formatShortAddress(pciAddressOf(r.address))} is ${idsOf(p)}${p.revision ? ` rev ${p.revision}` : ''} there, ${idsOf(ids)}${ids.revision ? ` rev ${ids.revision}` : ''} here (kept line ${prev.line}; are these pastes of one host?)`);
      return false;
    }
    for (const k of ['progIf', 'classText', 'namesText', 'vendorName', 'deviceName', 'revision'] as const) if (p[k] === null && ids[k] !== null) p[k] = ids[k];
    return true;
  }

  // ---------- blocks and segments

  private closeBlock(): void {
    const b = this.block;
    if (!b) return;
    this.block = null;
    if (b.discard) return;
    const d = b.detail;
    const r = b.rec;
    if (d.subsystem) this.set(r, 'subsystem', d.subsystem, b.line, b.text, 'subsystem', (v) => `[${v.vendorId}:${v.deviceId}]`);
    if (d.numaNode !== null) this.set(r, 'numa', d.numaNode, b.line, b.text, 'NUMA node', String);
    if (d.iommuGroup !== null) this.set(r, 'group', d.iommuGroup, b.line, b.text, 'IOMMU group', String);
    if (d.verbose) this.set(r, 'hasRom', d.hasRom, b.line, b.text, 'expansion ROM', (v) => (v ? 'present' : 'absent'));
    if (d.caps && !d.capsDenied) {
      if (!r.caps) {
        r.caps = { value: d.caps, line: b.line };
        r.flrUnknown = d.flrUnknown;
        r.detailsUnread = d.detailsUnread;
      }
    }
  }

  private closeSegment(): void {
    this.closeBlock();
    const s = this.segment;
    this.segment = null;
    if (!s || !s.blocks.length) return;
    const k = s.blocks.some((b) => b.detail.kernelLines);
    const v = s.blocks.some((b) => b.detail.verbose);
    if (k || v) {
      // a -k/-v listing prints "Kernel driver in use" for every bound function: no line means no driver
      for (const b of s.blocks) if (b.detail.driver === null) this.set(b.rec, 'driver', null, b.line, b.text, 'driver', (x) => x ?? 'none');
    }
    if (v) this.form('lspci-vvv');
    else if (k) this.form('lspci-nnk');
    else if (s.kind === 'plain') this.form('lspci-nn');
  }

  /** A paste boundary: a prompt, a command, a fence, another form. */
  boundary(): void {
    this.closeSegment();
    this.groupCtx = null;
  }

  private deviceLine(text: string, line: number, raw: string, group: number | null, kind: Segment['kind']): boolean {
    const m = DEVICE_LINE.exec(text.trim());
    if (!m) return false;
    const addr = parsePciAddress(m[1]!);
    if (!addr.ok) {
      this.skip(line, raw, addr.error.message);
      return true;
    }
    const tail = m[7] ?? '';
    const rev = /\(rev ([0-9a-fA-F]{2})\)/.exec(tail);
    const progIf = /\(prog-if ([0-9a-fA-F]{2})/.exec(tail);
    const ids: Ids = {
      vendorId: m[5]!.toLowerCase(),
      deviceId: m[6]!.toLowerCase(),
      cls4: m[3]!.toLowerCase(),
      progIf: progIf ? progIf[1]!.toLowerCase() : null,
      classText: m[2]!.trim(),
      namesText: m[4]!.trim(),
      vendorName: null,
      deviceName: null,
      revision: rev ? rev[1]!.toLowerCase() : null,
    };
    this.closeBlock();
    const r = this.rec(formatPciAddress(addr.value));
    const okIds = this.setIds(r, ids, line, raw);
    if (okIds && group !== null) this.set(r, 'group', group, line, raw, 'IOMMU group', String);
    const detail = emptyBlock();
    this.block = { rec: r, line, text: raw, detail, reader: new VerboseReader(detail), discard: !okIds };
    if (okIds) {
      // a plain lspci paste right after group lines is a paste of its own (its -k lines say nothing of them)
      if (this.segment && this.segment.kind !== kind) {
        const blk = this.block;
        this.block = null;
        this.closeSegment();
        this.block = blk;
      }
      this.segment ??= { blocks: [], kind };
      this.segment.blocks.push(this.block);
    }
    return true;
  }

  // ---------- one line

  readLine(lineNo: number, raw: string): void {
    this.lineTexts.set(lineNo, raw);
    const c = cleanLine(raw);
    if (c.empty) {
      if (c.prompt || /^\s*(?:```|~~~|\[\/?code)/i.test(raw)) this.boundary();
      return;
    }
    if (c.command) {
      this.boundary();
      if (/\blspci\b[^|;]*\s-[a-zA-Z]*t/.test(c.text)) this.tree.reset();
      return;
    }
    const text = c.text;
    const trimmed = text.trim();
    const indent = text.length - text.trimStart().length;

    // lspci -t tree
    if (isTreeLine(text) || (this.lastWasTree && /^[\s|]*[+\\]-/.test(text))) {
      if (!this.lastWasTree) {
        this.boundary();
        if (/^-/.test(trimmed)) this.tree.reset();
      }
      this.lastWasTree = true;
      this.form('lspci-tree');
      const r = this.tree.readLine(text);
      if ('error' in r) {
        this.skip(lineNo, raw, `lspci -t line: ${r.error}`);
        return;
      }
      for (const n of r.nodes) {
        const rec = this.rec(n.address);
        this.set(rec, 'topology', { rootBus: n.rootBus, parentChain: n.parentChain }, lineNo, raw, 'topology', (v) => [v.rootBus, ...v.parentChain.map((a) => formatShortAddress(pciAddressOf(a)))].join(' > '));
      }
      this.treeLines.set(lineNo, { text: raw, nodes: r.nodes.map((n) => n.address) });
      return;
    }
    this.lastWasTree = false;

    // a detail line of the current lspci block ("IOMMU group: 1" under a device is lspci -vv, not a heading)
    if (this.block && indent > 0 && DETAIL_KEY.test(trimmed) && this.block.reader.read(trimmed)) {
      this.detailRead(trimmed, lineNo, raw);
      return;
    }

    // IOMMU group heading
    const head = GROUP_HEAD.exec(trimmed);
    if (head) {
      this.boundary();
      this.groupCtx = { group: Number(head[1]), indent: null };
      this.form('iommu-groups-heading');
      return;
    }
    // IOMMU group line with its device (the digits may run into the address: "IOMMU Group 7:00:14.3")
    const start = GROUP_START.exec(trimmed);
    if (start) {
      this.boundary();
      const digits = start[1]!;
      const splits: { group: number; rest: string }[] = [];
      for (let k = digits.length; k >= 1; k--) {
        const rest = (digits.slice(k) + start[2]!).replace(/^\s*:?\s*/, '');
        if (DEVICE_LINE.test(rest)) splits.push({ group: Number(digits.slice(0, k)), rest });
      }
      if (splits.length === 1) {
        this.form('iommu-groups-inline');
        this.deviceLine(splits[0]!.rest, lineNo, raw, splits[0]!.group, 'inline');
        return;
      }
      if (splits.length > 1) {
        this.skip(lineNo, raw, `ambiguous: the group number runs into the address (${splits.map((x) => `group ${x.group} ${x.rest.split(/\s/)[0]}`).join(' or ')}); put a space after the group number`);
        return;
      }
      this.skip(lineNo, raw, 'IOMMU group line whose device part is not an `lspci -nn` line ("01:00.0 Class [cccc]: Name [vvvv:dddd]")');
      return;
    }
    // /sys/kernel/iommu_groups/N/devices/ADDR (find output)
    const sys = SYSFS_GROUP.exec(trimmed);
    if (sys) {
      this.boundary();
      const a = parsePciAddress(sys[2]!);
      if (!a.ok) {
        this.skip(lineNo, raw, a.error.message);
        return;
      }
      this.form('iommu-groups-sysfs');
      this.set(this.rec(formatPciAddress(a.value)), 'group', Number(sys[1]), lineNo, raw, 'IOMMU group', String);
      return;
    }
    // a device line, perhaps a member under a heading
    if (DEVICE_LINE.test(trimmed)) {
      let group: number | null = null;
      if (this.groupCtx) {
        if (this.groupCtx.indent === null) this.groupCtx.indent = indent;
        if (indent < this.groupCtx.indent) this.boundary();
        else group = this.groupCtx.group;
      }
      this.deviceLine(trimmed, lineNo, raw, group, group === null ? 'plain' : 'heading');
      return;
    }
    // a detail line of the current lspci block
    if (this.block && (indent > 0 || DETAIL_KEY.test(trimmed))) {
      if (this.block.reader.read(trimmed)) {
        this.detailRead(trimmed, lineNo, raw);
        return;
      }
      this.skip(lineNo, raw, 'indented text under a device that is not an lspci detail line');
      return;
    }
    if (STARTS_WITH_ADDR.test(trimmed)) {
      this.skip(lineNo, raw, 'starts with a PCI address but is not an `lspci -nn` line: the [cccc] class and [vvvv:dddd] IDs are missing (use lspci -nn)');
      return;
    }
    if (indent > 0 && /^(?:Subsystem|Kernel driver in use|Kernel modules|Capabilities|Flags|Control|Status):/.test(trimmed)) {
      this.skip(lineNo, raw, 'lspci detail line with no device line above it');
      return;
    }
    this.skip(lineNo, raw, c.prompt ? 'text after a shell prompt that is neither a command nor a listing line' : 'not a line of any listing vfioctl reads');
  }

  private detailRead(trimmed: string, lineNo: number, raw: string): void {
    const b = this.block!;
    if (b.detail.driver !== null && !b.discard && /^Kernel driver in use:/.test(trimmed)) {
      this.set(b.rec, 'driver', b.detail.driver, lineNo, raw, 'driver', (x) => x ?? 'none');
    }
  }

  readNodedev(startLine: number, endLine: number, xml: string): void {
    this.boundary();
    this.lastWasTree = false;
    this.form('nodedev-xml');
    const r = readNodedevXml(xml);
    const first = this.lineTexts.get(startLine) ?? '';
    const range = startLine === endLine ? '' : ` (lines ${startLine}-${endLine})`;
    if (!r.ok) {
      this.skip(startLine, first, `node device XML${range}: ${r.reason}`);
      return;
    }
    const f = r.fn;
    const rec = this.rec(f.address);
    if (f.vendorId && f.deviceId && f.class) {
      this.setIds(rec, { vendorId: f.vendorId, deviceId: f.deviceId, cls4: f.class.slice(0, 4), progIf: f.class.slice(4), classText: null, namesText: null, vendorName: f.vendorName, deviceName: f.productName, revision: null }, startLine, first);
    } else {
      this.skip(startLine, first, `node device XML${range}: ${formatShortAddress(pciAddressOf(f.address))} has no vendor/product id or class`);
    }
    this.set(rec, 'driver', f.driver, startLine, first, 'driver', (x) => x ?? 'none');
    if (f.iommuGroup) {
      this.set(rec, 'group', f.iommuGroup.number, startLine, first, 'IOMMU group', String);
      for (const m of f.iommuGroup.members) if (m !== f.address) this.set(this.rec(m), 'group', f.iommuGroup.number, startLine, first, 'IOMMU group', String);
    }
    if (f.topology) this.set(rec, 'topology', f.topology, startLine, first, 'topology', (v) => [v.rootBus, ...v.parentChain].join(' > '));
    if (f.physFunction) rec.physfn = f.physFunction;
  }

  finish(): void {
    this.boundary();
    // tree lines whose functions are listed nowhere with IDs
    for (const [line, t] of this.treeLines) {
      const missing = t.nodes.filter((a) => !this.recs.get(a)?.ids);
      if (missing.length) this.skip(line, t.text, `lspci -t: ${missing.map((a) => formatShortAddress(pciAddressOf(a))).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not listed with [vvvv:dddd] IDs elsewhere in the paste (add lspci -nn); topology only`);
    }
    this.skipped.sort((a, b) => a.line - b.line);
    this.finishSkipped();
  }
}

function readAll(text: string): ListingReader {
  if (text.length > LISTING_MAX_CHARS) {
    throw new UsageError('bad-listing', `the listing is ${text.length} characters, more than the ${LISTING_MAX_CHARS} vfioctl reads`, 'paste one host\'s `lspci -nnk` and IOMMU group listing, not a whole log');
  }
  const reader = new ListingReader();
  const lines = splitPasteLines(text);
  for (let i = 0; i < lines.length; i++) {
    const { lineNo, raw } = lines[i]!;
    if (/<device[\s>]/.test(raw) && !/^\s*(?:\d|IOMMU)/i.test(raw)) {
      // one <device> document: up to its </device>, bounded
      let xml = '';
      let j = i;
      let closed = false;
      for (; j < lines.length && xml.length <= NODEDEV_MAX_CHARS; j++) {
        const c = cleanLine(lines[j]!.raw);
        reader.lineTexts.set(lines[j]!.lineNo, lines[j]!.raw);
        xml += (j === i ? c.text.slice(Math.max(0, c.text.indexOf('<device'))) : c.text) + '\n';
        if (/<\/device>/.test(c.text)) {
          closed = true;
          break;
        }
      }
      if (!closed) {
        reader.skip(lineNo, raw, j >= lines.length ? `<device> with no </device> before the end of the paste (lines ${lineNo}-${lines[lines.length - 1]!.lineNo})` : `<device> document longer than ${NODEDEV_MAX_CHARS} characters`);
        if (j >= lines.length) break;
        i = j;
        continue;
      }
      reader.readNodedev(lineNo, lines[j]!.lineNo, xml.slice(0, xml.lastIndexOf('</device>') + '</device>'.length));
      const after = cleanLine(lines[j]!.raw).text.split('</device>')[1]?.trim();
      if (after) reader.skip(lines[j]!.lineNo, lines[j]!.raw, 'text after </device> on the same line');
      i = j;
      continue;
    }
    reader.readLine(lineNo, raw);
  }
  reader.finish();
  return reader;
}

/** The forms found in a paste, in order of appearance (null when none). */
export function detectListingFormat(text: string): ListingFormat | null {
  try {
    const r = readAll(text);
    return [...r.recs.values()].some((x) => x.ids) ? (r.forms[0] ?? null) : null;
  } catch {
    return null;
  }
}

export function importListing(text: string, file: string, ids: PciIds | null): PciInventory {
  const reader = readAll(text);
  const recs = [...reader.recs.values()].sort((a, b) => comparePciAddressStrings(a.address, b.address));
  const withIds = recs.filter((r) => r.ids);
  if (!withIds.length) {
    const first = reader.skipped.slice(0, 3).map((s) => `line ${s.line}: ${s.reason}`).join('; ');
    throw new UsageError(
      'bad-listing',
      `${file}: no PCI function with IDs found (${reader.skipped.length ? `${reader.skipped.length} line${reader.skipped.length === 1 ? '' : 's'} not understood${first ? `: ${first}` : ''}` : 'the text is empty'})`,
      'paste the output of `lspci -nn`, `lspci -nnk`, an IOMMU group listing (`IOMMU Group N 01:00.0 ...` lines, or `IOMMU Group N:` headings with indented device lines) or `virsh nodedev-dumpxml`; lspci needs -nn for the [vvvv:dddd] IDs (an lspci -t tree or a find of /sys/kernel/iommu_groups adds topology or groups to one of these, it is not enough alone)',
    );
  }
  const functions = withIds.map((r) => toFunction(r, ids));
  const byAddress = new Map<string, PciFunction>(functions.map((f) => [f.address, f]));
  const groupMembers = new Map<number, PciAddressString[]>();
  for (const r of recs) if (r.group) groupMembers.set(r.group.value, [...(groupMembers.get(r.group.value) ?? []), r.address]);
  const groups = [...groupMembers.entries()].sort((a, b) => a[0] - b[0]).map(([id, m]) => assembleGroup(id, null, m, byAddress));

  const unknown: string[] = [];
  const unknownFor: ImportUnknownFor[] = [];
  // Each entry of `unknown` also marks the fields it leaves unknown on the functions it covers.
  const reason = `the pasted ${listingLabel(reader.forms)} does not tell`;
  const markUnknown = (addresses: PciAddressString[], fields: FunctionFact[]): void => {
    for (const a of addresses) {
      const f = byAddress.get(a)!;
      for (const field of fields) if (!f.unknown.some((u) => u.fact === field)) f.unknown.push(unknownFact(a, field, reason));
    }
  };
  const fact = (name: string, known: (r: Rec) => boolean, fields: FunctionFact[]): void => {
    const missing = withIds.filter((r) => !known(r)).map((r) => r.address);
    if (!missing.length) return;
    markUnknown(missing, fields);
    if (missing.length === withIds.length) unknown.push(name);
    else {
      unknown.push(`${name} (for ${missing.length} of ${withIds.length} functions)`);
      unknownFor.push({ fact: name, addresses: missing });
    }
  };
  fact('IOMMU groups', (r) => r.group !== null, ['iommuGroup']);
  fact('drivers in use', (r) => r.driver !== null, ['driver']);
  fact('topology (parent bridges)', (r) => r.topology !== null, ['parentChain']);
  fact('capabilities (FLR, ACS, SR-IOV, ATS, Resizable BAR)', (r) => r.caps !== null, ['flr', 'capabilities']);
  fact('function-level reset (FLR)', (r) => r.caps === null || !r.flrUnknown, ['flr']);
  fact('capability details (ACS, SR-IOV, ATS, Resizable BAR)', (r) => r.caps === null || !r.detailsUnread.length, ['capabilities.details']);
  fact('expansion ROM', (r) => r.hasRom !== null, ['hasRom']);
  unknown.push('boot VGA', 'reset methods', 'driver_override');
  // no listing form vfioctl reads tells these (lspci -vv's Status line is not read): unknown for every function
  markUnknown(withIds.map((r) => r.address), ['bootVga', 'resetMethods', 'driverOverride', 'multifunction', 'd3coldAllowed', 'powerState']);
  fact('NUMA node', (r) => r.numa !== null, ['numaNode']);
  fact('programming interface (prog-if) of each class', (r) => r.ids!.value.progIf !== null, []);

  return {
    source: { kind: 'import', format: reader.forms.join('+'), file, unknown, skipped: reader.skipped, ...(unknownFor.length ? { unknownFor } : {}) },
    iommu: { enabled: groups.length > 0, units: [], groupCount: groups.length },
    functions,
    groups,
    problems: [],
  };
}

function toFunction(r: Rec, ids: PciIds | null): PciFunction {
  const p = r.ids!.value;
  const cls = p.cls4 + (p.progIf ?? '00');
  const v = parseInt(p.vendorId, 16);
  const d = parseInt(p.deviceId, 16);
  const c = parseInt(cls, 16);
  const vendorName = ids?.vendor(v) ?? p.vendorName ?? null;
  let deviceName = ids?.device(v, d) ?? p.deviceName ?? null;
  if (!deviceName && p.namesText) deviceName = vendorName && p.namesText.startsWith(vendorName) ? p.namesText.slice(vendorName.length).trim() || null : p.namesText || null;
  const sub = r.subsystem?.value ?? null;
  const sv = sub ? parseInt(sub.vendorId, 16) : null;
  const sd = sub ? parseInt(sub.deviceId, 16) : null;
  const caps = r.caps?.value ?? emptyCapabilities(0);
  return {
    address: r.address,
    vendorId: p.vendorId,
    deviceId: p.deviceId,
    subsystemVendorId: sub?.vendorId ?? null,
    subsystemDeviceId: sub?.deviceId ?? null,
    class: cls,
    revision: p.revision,
    names: {
      vendor: vendorName,
      device: deviceName,
      subsystem: (ids && sv !== null && sd !== null ? ids.subsystem(v, d, sv, sd) : null) ?? sub?.name ?? null,
      className: ids?.className(c >> 16) ?? null,
      subclassName: ids?.subclassName(c >> 16, (c >> 8) & 0xff) ?? p.classText,
      progIfName: p.progIf !== null ? (ids?.progIfName(c >> 16, (c >> 8) & 0xff, c & 0xff) ?? null) : null,
    },
    driver: r.driver?.value ?? null,
    driverOverride: null,
    iommuGroup: r.group?.value ?? null,
    numaNode: r.numa?.value ?? null,
    parentChain: r.topology?.value.parentChain ?? [],
    rootBus: r.topology?.value.rootBus ?? null,
    isBridge: isBridgeClass(cls),
    multifunction: null,
    bootVga: null,
    resetMethods: null,
    d3coldAllowed: null,
    powerState: null,
    sriov: null,
    physfn: r.physfn,
    hasRom: r.hasRom?.value ?? false,
    flr: !!(caps.pcie?.flr || caps.af?.flr),
    capabilities: caps,
    missing: [],
    problems: [],
    // filled in by importListing from the same reckoning as source.unknown
    unknown: [],
  };
}

const FORM_LABELS: Record<ListingFormat, string> = {
  'iommu-groups-inline': 'IOMMU group', 'iommu-groups-heading': 'IOMMU group', 'iommu-groups-sysfs': 'iommu_groups find',
  'lspci-nn': 'lspci -nn', 'lspci-nnk': 'lspci -nnk', 'lspci-vvv': 'lspci -vvv', 'lspci-tree': 'lspci -t', 'nodedev-xml': 'nodedev XML',
};

/** "lspci -nn listing", "IOMMU group + lspci -nnk listing" */
function listingLabel(forms: ListingFormat[]): string {
  const labels = [...new Set(forms.map((f) => FORM_LABELS[f]))];
  return `${labels.length ? labels.join(' + ') : 'text'} listing`;
}
