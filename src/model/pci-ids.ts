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
 * The database, read lazily: building it indexes where each vendor's block and the class section start
 * (one pattern scan of the text), and a vendor's devices and subsystems are parsed the first time one
 * of them is looked up. An inventory looks up a few dozen vendors of the two thousand in the file, so
 * this costs a few milliseconds where parsing every line cost about sixty (docs/performance.md). Lookups
 * answer exactly what a full parse would: the last entry wins where one is listed twice.
 */
export function parsePciIds(text: string, source: string | null = null): PciIds {
  /** vendor id -> offsets of its vendor lines (a vendor listed twice has two blocks) */
  let vendorAt: Map<number, number[]> | null = null;
  const classStarts: number[] = [];
  const blocks = new Map<number, VendorBlock>();
  let classes: ClassTables | null = null;

  const index = (): Map<number, number[]> => {
    if (vendorAt) return vendorAt;
    vendorAt = new Map();
    // one pass over line starts: a vendor line is four lowercase hex digits and a space, a class "C "
    const n = text.length;
    for (let at = 0; at < n; ) {
      const c = text.charCodeAt(at);
      if (c === 67 /* C */ && text.charCodeAt(at + 1) === 32) classStarts.push(at);
      else if (isHex(c) && isHex(text.charCodeAt(at + 1)) && isHex(text.charCodeAt(at + 2)) && isHex(text.charCodeAt(at + 3)) && text.charCodeAt(at + 4) === 32) {
        const v = parseInt(text.slice(at, at + 4), 16);
        const list = vendorAt.get(v);
        if (list) list.push(at);
        else vendorAt.set(v, [at]);
      }
      const end = text.indexOf('\n', at);
      if (end < 0) break;
      at = end + 1;
    }
    return vendorAt;
  };

  const block = (v: number): VendorBlock | null => {
    const hit = blocks.get(v);
    if (hit) return hit;
    const starts = index().get(v);
    if (!starts) return null;
    const b: VendorBlock = { name: '', deviceAt: new Map(), subsystems: new Map() };
    for (const start of starts) {
      const eol = lineEnd(text, start);
      b.name = text.slice(start + 4, eol).trim();
      // device lines only ("\tdddd  name"); their subsystems are read when asked for
      for (let at = eol + 1; at < text.length; ) {
        const end = lineEnd(text, at);
        const c = text.charCodeAt(at);
        if (c === 9) {
          if (text.charCodeAt(at + 1) !== 9) {
            const d = parseInt(text.slice(at + 1, at + 5), 16);
            const list = b.deviceAt.get(d);
            if (list) list.push(at);
            else b.deviceAt.set(d, [at]);
          }
        } else if (end > at && c !== 35 /* # */) break;
        at = end + 1;
      }
    }
    blocks.set(v, b);
    return b;
  };

  const deviceName = (v: number, d: number): string | null => {
    const at = block(v)?.deviceAt.get(d);
    if (!at) return null;
    const last = at[at.length - 1]!;
    return text.slice(last + 5, lineEnd(text, last)).trim();
  };

  const subsystemName = (v: number, d: number, key: string): string | null => {
    const b = block(v);
    const at = b?.deviceAt.get(d);
    if (!b || !at) return null;
    let subs = b.subsystems.get(d);
    if (!subs) {
      subs = new Map();
      for (const start of at) {
        for (let pos = lineEnd(text, start) + 1; pos < text.length; ) {
          const end = lineEnd(text, pos);
          const c = text.charCodeAt(pos);
          if (c === 9 && text.charCodeAt(pos + 1) === 9) {
            // "\t\tssss dddd  name"
            subs.set(text.slice(pos + 2, pos + 11), text.slice(pos + 11, end).trim());
          } else if (end > pos && c !== 35) break;
          pos = end + 1;
        }
      }
      b.subsystems.set(d, subs);
    }
    return subs.get(key) ?? null;
  };

  const classTables = (): ClassTables => {
    if (classes) return classes;
    index();
    const t: ClassTables = { classes: new Map(), subclasses: new Map(), progifs: new Map() };
    for (const start of classStarts) {
      const eol = lineEnd(text, start);
      const cls = parseInt(text.slice(start + 2, start + 4), 16);
      t.classes.set(cls, text.slice(start + 4, eol).trim());
      let sub = -1;
      for (let pos = eol + 1; pos < text.length; ) {
        const end = lineEnd(text, pos);
        const c = text.charCodeAt(pos);
        if (c === 9) {
          const two = text.charCodeAt(pos + 1) === 9;
          const body = text.slice(pos + (two ? 2 : 1), end);
          if (!two) {
            sub = parseInt(body.slice(0, 2), 16);
            t.subclasses.set(cls * 256 + sub, body.slice(2).trim());
          } else t.progifs.set((cls * 256 + sub) * 256 + parseInt(body.slice(0, 2), 16), body.slice(2).trim());
        } else if (end > pos && c !== 35) break;
        pos = end + 1;
      }
    }
    return (classes = t);
  };

  const hex4 = (x: number): string => x.toString(16).padStart(4, '0');
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
  /** device id -> offsets of its device lines (the last one names it) */
  deviceAt: Map<number, number[]>;
  /** device id -> "ssss dddd" (as written) -> name, parsed when first asked for */
  subsystems: Map<number, Map<string, string>>;
}

interface ClassTables {
  classes: Map<number, string>;
  subclasses: Map<number, string>;
  progifs: Map<number, string>;
}

/** 0-9 or a-f (pci.ids writes IDs in lower case). */
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
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
