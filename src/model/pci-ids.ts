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

/** How a caller that read the file as Latin-1 (one char per byte) gets a name's real text back. */
export interface PciIdsTextOptions {
  /** Applied to each name that contains a byte above 0x7f (e.g. Latin-1 text holding UTF-8 bytes). */
  decodeName?: (raw: string) => string;
}

/**
 * The database, read lazily: nothing is scanned up front. A vendor's block is found by searching the
 * text for its vendor line ("\nvvvv "), the class section by searching for its "C " lines, and a
 * vendor's devices and subsystems are parsed the first time one of them is looked up. An inventory
 * looks up a few dozen vendors of the two thousand in the file, so this costs well under a millisecond
 * where parsing every line cost about sixty (docs/performance.md). Lookups answer exactly what a full
 * parse would: the last entry wins where one is listed twice.
 *
 * The host layer hands the file over as Latin-1 text with `decodeName` turning the UTF-8 bytes of a
 * name back into characters: decoding the whole 1.4 MB file as UTF-8 cost more than all the lookups.
 */
export function parsePciIds(text: string, source: string | null = null, options: PciIdsTextOptions = {}): PciIds {
  const blocks = new Map<number, VendorBlock | null>();
  let classes: ClassTables | null = null;
  const decode = options.decodeName;
  const name = (raw: string): string => {
    const t = raw.trim();
    // eslint-disable-next-line no-control-regex
    return decode && /[^\x00-\x7f]/.test(t) ? decode(t).trim() : t;
  };

  /** Offsets of every line that starts with `prefix` (a line start: offset 0 or after a \n). */
  const linesStartingWith = (prefix: string): number[] => {
    const out: number[] = [];
    if (text.startsWith(prefix)) out.push(0);
    const needle = `\n${prefix}`;
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) out.push(at + 1);
    return out;
  };

  const vendorStarts = (v: number): number[] => linesStartingWith(`${hex4(v)} `);

  /**
   * Offsets of `needle` in text[from, to): searched in that slice only (a search of the whole text for
   * an ID a block does not list would run on to the end of the 1.4 MB file).
   */
  const within = (from: number, to: number, needle: string): number[] => {
    const part = text.slice(from, to);
    const out: number[] = [];
    for (let p = part.indexOf(needle); p >= 0; p = part.indexOf(needle, p + 1)) out.push(from + p);
    return out;
  };

  /** Where a run of lines ends: the first line after `from` that `stop` matches (or the text's end). */
  const runEnd = (stop: RegExp, from: number): number => {
    stop.lastIndex = from;
    const m = stop.exec(text);
    return m ? m.index + 1 : text.length;
  };

  const block = (v: number): VendorBlock | null => {
    const hit = blocks.get(v);
    if (hit !== undefined) return hit;
    const starts = vendorStarts(v);
    if (!starts.length) {
      blocks.set(v, null);
      return null;
    }
    const b: VendorBlock = { name: '', ranges: [], devices: new Map() };
    for (const start of starts) {
      const eol = lineEnd(text, start);
      b.name = name(text.slice(start + 4, eol));
      // the block is its device and subsystem lines (tab-indented), comments and empty lines
      b.ranges.push([eol, runEnd(BLOCK_END, eol)]);
    }
    blocks.set(v, b);
    return b;
  };

  /** Offsets of the device's lines ("\tdddd  name") in every block of the vendor, in file order. */
  const deviceLines = (v: number, d: number): number[] => {
    const b = block(v);
    if (!b) return [];
    let at = b.devices.get(d);
    if (!at) {
      at = [];
      const needle = `\n\t${hex4(d)} `;
      for (const [from, to] of b.ranges) for (const p of within(from, to, needle)) at.push(p + 1);
      b.devices.set(d, at);
    }
    return at;
  };

  const deviceName = (v: number, d: number): string | null => {
    const at = deviceLines(v, d);
    if (!at.length) return null;
    const last = at[at.length - 1]!;
    return name(text.slice(last + 5, lineEnd(text, last)));
  };

  const subsystemName = (v: number, d: number, key: string): string | null => {
    let found: string | null = null;
    const needle = `\n\t\t${key}`;
    for (const start of deviceLines(v, d)) {
      // "\t\tssss dddd  name" lines follow their device line
      const eol = lineEnd(text, start);
      for (const p of within(eol, runEnd(SUBSYSTEMS_END, eol), needle)) found = name(text.slice(p + 1 + 2 + key.length, lineEnd(text, p + 1)));
    }
    return found;
  };

  const classTables = (): ClassTables => {
    if (classes) return classes;
    const t: ClassTables = { classes: new Map(), subclasses: new Map(), progifs: new Map() };
    for (const start of linesStartingWith('C ')) {
      const eol = lineEnd(text, start);
      const cls = parseInt(text.slice(start + 2, start + 4), 16);
      t.classes.set(cls, name(text.slice(start + 4, eol)));
      let sub = -1;
      for (let pos = eol + 1; pos < text.length; ) {
        const end = lineEnd(text, pos);
        const c = text.charCodeAt(pos);
        if (c === 9) {
          const two = text.charCodeAt(pos + 1) === 9;
          const body = text.slice(pos + (two ? 2 : 1), end);
          if (!two) {
            sub = parseInt(body.slice(0, 2), 16);
            t.subclasses.set(cls * 256 + sub, name(body.slice(2)));
          } else t.progifs.set((cls * 256 + sub) * 256 + parseInt(body.slice(0, 2), 16), name(body.slice(2)));
        } else if (end > pos && c !== 35) break;
        pos = end + 1;
      }
    }
    return (classes = t);
  };

  return {
    source,
    vendor: (v) => block(v)?.name ?? null,
    device: deviceName,
    subsystem: (v, d, sv, sd) => subsystemName(v, d, `${hex4(sv)} ${hex4(sd)}`),
    className: (c) => classTables().classes.get(c) ?? FALLBACK_CLASS_NAMES[c] ?? null,
    subclassName: (c, s) => classTables().subclasses.get(c * 256 + s) ?? null,
    progIfName: (c, s, p) => classTables().progifs.get((c * 256 + s) * 256 + p) ?? null,
  };
}

interface VendorBlock {
  name: string;
  /** [from, to) of each of the vendor's blocks (a vendor listed twice has two) */
  ranges: [number, number][];
  /** device id -> offsets of its device lines (the last one names it), found when first asked for */
  devices: Map<number, number[]>;
}

/** The line that ends a vendor's block: one that is not indented, not a comment and not empty. */
const BLOCK_END = /\n[^\t#\n]/g;
/** The line that ends a device's subsystems: one that is not doubly indented, a comment or empty. */
const SUBSYSTEMS_END = /\n(?!\t\t|#|\n)/g;

interface ClassTables {
  classes: Map<number, string>;
  subclasses: Map<number, string>;
  progifs: Map<number, string>;
}

/** An ID as pci.ids writes it: four lower-case hex digits. */
function hex4(x: number): string {
  return x.toString(16).padStart(4, '0');
}

/** Offset of the \n ending the line that starts at `pos` (or the text's length). */
function lineEnd(text: string, pos: number): number {
  const end = text.indexOf('\n', pos);
  return end < 0 ? text.length : end;
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
