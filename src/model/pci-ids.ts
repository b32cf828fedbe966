/**
 * The pci.ids database (as shipped by pciutils/hwdata): parsed from text into lookup maps. Pure; the host
 * layer finds and reads the file. When no database is available, names are null and output shows IDs only.
 */
export interface PciIds {
  vendor(v: number): string | null;
  device(v: number, d: number): string | null;
  subsystem(v: number, d: number, sv: number, sd: number): string | null;
  className(c: number): string | null;
  subclassName(c: number, s: number): string | null;
  progIfName(c: number, s: number, p: number): string | null;
  /** Where the data came from, for evidence. */
  readonly source: string | null;
}

/**
 * One pass over the top-level lines only (vendors and classes, about one line in ten), recording where
 * each vendor's and class's block of indented lines is; a block is parsed into its devices, subsystems
 * or subclasses the first time a lookup needs it. A command that names a dozen devices so parses a few
 * kilobytes of the 1.3 MiB database instead of all of it (start-up, docs/performance.md).
 */
export function parsePciIds(text: string, source: string | null = null): PciIds {
  const vendors = new Map<number, string>();
  const classes = new Map<number, string>();
  /** id -> [start, end) offsets of its indented lines (several when the id is listed more than once). */
  const vendorBlocks = new Map<number, number[]>();
  const classBlocks = new Map<number, number[]>();

  let open: number[] | null = null;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    const c0 = text.charCodeAt(pos);
    if (end > pos && c0 !== 9 && c0 !== 35 /* # */) {
      if (open) open.push(pos);
      open = null;
      const line = text.slice(pos, end);
      if (line.startsWith('C ')) {
        const cls = parseInt(line.slice(2, 4), 16);
        classes.set(cls, line.slice(4).trim());
        open = blocksOf(classBlocks, cls);
        open.push(end + 1);
      } else if (/^[0-9a-f]{4} /.test(line)) {
        const vendor = parseInt(line.slice(0, 4), 16);
        vendors.set(vendor, line.slice(4).trim());
        open = blocksOf(vendorBlocks, vendor);
        open.push(end + 1);
      }
      // other top-level lines (device-class-independent lists such as "X" sections) are not used
    }
    pos = end + 1;
  }
  if (open) open.push(n);

  /** Indented lines of the blocks, as [tabs, body] (comments and blank lines skipped). */
  function* lines(blocks: number[]): Generator<[1 | 2, string]> {
    for (let i = 0; i < blocks.length; i += 2) {
      const stop = Math.min(blocks[i + 1]!, n);
      let p = blocks[i]!;
      while (p < stop) {
        let e = text.indexOf('\n', p);
        if (e < 0 || e > stop) e = stop;
        if (text.charCodeAt(p) === 9) {
          const tabs = text.charCodeAt(p + 1) === 9 ? 2 : 1;
          yield [tabs, text.slice(p + tabs, e)];
        }
        p = e + 1;
      }
    }
  }

  /** The line from `at` (a line start) to its end. */
  const lineAt = (at: number): string => {
    const e = text.indexOf('\n', at);
    return text.slice(at, e < 0 ? n : e);
  };
  const hex4 = (x: number): string => x.toString(16).padStart(4, '0');

  /**
   * Start offsets of the device lines of `dev` in the vendor's blocks, in file order: a native search
   * for "\n\tdddd " inside each block, so the vendor's other devices are never parsed.
   */
  function deviceLines(vendor: number, dev: number): number[] {
    const out: number[] = [];
    const blocks = vendorBlocks.get(vendor);
    if (!blocks) return out;
    const needle = `\n\t${hex4(dev)} `;
    for (let i = 0; i < blocks.length; i += 2) {
      const stop = blocks[i + 1]!;
      for (let at = text.indexOf(needle, blocks[i]! - 1); at >= 0 && at < stop; at = text.indexOf(needle, at + 1)) out.push(at + 1);
    }
    return out;
  }

  const deviceMemo = new Map<number, string | null>();
  function device(v: number, d: number): string | null {
    const k = v * 0x10000 + d;
    let name = deviceMemo.get(k);
    if (name === undefined) {
      const at = deviceLines(v, d).pop();
      name = at === undefined ? null : lineAt(at).slice(5).trim();
      deviceMemo.set(k, name);
    }
    return name;
  }

  const subsystemMemo = new Map<string, string | null>();
  function subsystem(v: number, d: number, sv: number, sd: number): string | null {
    const want = `${hex4(sv)} ${hex4(sd)}`;
    const key = `${v}:${d}:${want}`;
    const memo = subsystemMemo.get(key);
    if (memo !== undefined) return memo;
    let name: string | null = null;
    for (const at of deviceLines(v, d)) {
      // the subsystem lines ("\t\tssss dddd  name") under this device line, comments skipped
      let p = text.indexOf('\n', at);
      while (p >= 0 && p + 1 < n) {
        const q = p + 1;
        const c0 = text.charCodeAt(q);
        if (c0 === 35 || c0 === 10) {
          p = text.indexOf('\n', q);
          continue;
        }
        if (c0 !== 9 || text.charCodeAt(q + 1) !== 9) break;
        const line = lineAt(q);
        if (line.slice(2, 11) === want) name = line.slice(11).trim();
        p = text.indexOf('\n', q);
      }
    }
    subsystemMemo.set(key, name);
    return name;
  }

  const classCache = new Map<number, { subclasses: Map<number, string>; progifs: Map<number, string> }>();
  function classData(cls: number): { subclasses: Map<number, string>; progifs: Map<number, string> } {
    let hit = classCache.get(cls);
    if (hit) return hit;
    hit = { subclasses: new Map(), progifs: new Map() };
    let sub = -1;
    for (const [tabs, body] of lines(classBlocks.get(cls) ?? [])) {
      if (tabs === 1) {
        sub = parseInt(body.slice(0, 2), 16);
        hit.subclasses.set(sub, body.slice(2).trim());
      } else {
        hit.progifs.set(sub * 256 + parseInt(body.slice(0, 2), 16), body.slice(2).trim());
      }
    }
    classCache.set(cls, hit);
    return hit;
  }

  return {
    source,
    vendor: (v) => vendors.get(v) ?? null,
    device,
    subsystem,
    className: (c) => classes.get(c) ?? FALLBACK_CLASS_NAMES[c] ?? null,
    subclassName: (c, s) => (classBlocks.has(c) ? (classData(c).subclasses.get(s) ?? null) : null),
    progIfName: (c, s, p) => (classBlocks.has(c) ? (classData(c).progifs.get(s * 256 + p) ?? null) : null),
  };
}

function blocksOf(m: Map<number, number[]>, id: number): number[] {
  let b = m.get(id);
  if (!b) m.set(id, (b = []));
  return b;
}

/** Class names (top level only) for hosts without a pci.ids database. */
const FALLBACK_CLASS_NAMES: Record<number, string> = {
  0x00: 'Unclassified device', 0x01: 'Mass storage controller', 0x02: 'Network controller', 0x03: 'Display controller',
  0x04: 'Multimedia controller', 0x05: 'Memory controller', 0x06: 'Bridge', 0x07: 'Communication controller',
  0x08: 'Generic system peripheral', 0x09: 'Input device controller', 0x0a: 'Docking station', 0x0b: 'Processor',
  0x0c: 'Serial bus controller', 0x0d: 'Wireless controller', 0x0e: 'Intelligent controller',
  0x0f: 'Satellite communications controller', 0x10: 'Encryption controller', 0x11: 'Signal processing controller',
  0x12: 'Processing accelerators', 0x13: 'Non-Essential Instrumentation', 0x40: 'Coprocessor', 0xff: 'Unassigned class',
};

export const EMPTY_PCI_IDS: PciIds = parsePciIds('', null);
