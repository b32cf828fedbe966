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

const key2 = (a: number, b: number): number => a * 0x10000 + b;

export function parsePciIds(text: string, source: string | null = null): PciIds {
  const vendors = new Map<number, string>();
  const devices = new Map<number, string>();
  const subsystems = new Map<string, string>();
  const classes = new Map<number, string>();
  const subclasses = new Map<number, string>();
  const progifs = new Map<number, string>();

  let mode: 'vendor' | 'class' | 'other' = 'other';
  let vendor = -1;
  let device = -1;
  let cls = -1;
  let sub = -1;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) continue;
    const tabs = line.charCodeAt(0) === 9 ? (line.charCodeAt(1) === 9 ? 2 : 1) : 0;
    if (tabs === 0) {
      if (line.startsWith('C ')) {
        mode = 'class';
        cls = parseInt(line.slice(2, 4), 16);
        classes.set(cls, line.slice(4).trim());
      } else if (/^[0-9a-f]{4} /.test(line)) {
        mode = 'vendor';
        vendor = parseInt(line.slice(0, 4), 16);
        vendors.set(vendor, line.slice(4).trim());
      } else {
        mode = 'other'; // device-class-independent lists (e.g. "X" extra sections) are not used
      }
      continue;
    }
    const body = line.slice(tabs);
    if (mode === 'vendor') {
      if (tabs === 1) {
        device = parseInt(body.slice(0, 4), 16);
        devices.set(key2(vendor, device), body.slice(4).trim());
      } else {
        // "ssss dddd  name"
        const sv = body.slice(0, 4);
        const sd = body.slice(5, 9);
        subsystems.set(`${vendor.toString(16)}:${device.toString(16)}:${sv}:${sd}`, body.slice(9).trim());
      }
    } else if (mode === 'class') {
      if (tabs === 1) {
        sub = parseInt(body.slice(0, 2), 16);
        subclasses.set(cls * 256 + sub, body.slice(2).trim());
      } else {
        const pi = parseInt(body.slice(0, 2), 16);
        progifs.set((cls * 256 + sub) * 256 + pi, body.slice(2).trim());
      }
    }
  }
  const hex4 = (x: number): string => x.toString(16).padStart(4, '0');
  return {
    source,
    vendor: (v) => vendors.get(v) ?? null,
    device: (v, d) => devices.get(key2(v, d)) ?? null,
    subsystem: (v, d, sv, sd) => subsystems.get(`${v.toString(16)}:${d.toString(16)}:${hex4(sv)}:${hex4(sd)}`) ?? null,
    className: (c) => classes.get(c) ?? FALLBACK_CLASS_NAMES[c] ?? null,
    subclassName: (c, s) => subclasses.get(c * 256 + s) ?? null,
    progIfName: (c, s, p) => progifs.get((c * 256 + s) * 256 + p) ?? null,
  };
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
