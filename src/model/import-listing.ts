/**
 * Read a host from text users post instead of a tree: `lspci -nn`, `lspci -nnk` (optionally with -D), and
 * the two common IOMMU group listings:
 *   one line per device:  IOMMU Group 1 00:01.0 PCI bridge [0604]: Intel Corporation ... [8086:1901] (rev 07)
 *   heading + indented:   IOMMU Group 1:
 *                             00:01.0 PCI bridge [0604]: Intel Corporation ... [8086:1901] (rev 07)
 * The format is detected; what the text cannot tell (drivers, groups, topology, capabilities) is listed in
 * `source.unknown` so output can say so instead of guessing.
 */
import { type PciAddressString, formatPciAddress, parsePciAddress, comparePciAddressStrings } from './pci-address.js';
import { isBridgeClass } from './pci-class.js';
import { emptyCapabilities } from './pci-config.js';
import { assembleGroup } from './groups.js';
import type { PciIds } from './pci-ids.js';
import type { PciFunction, PciInventory } from './pci-function.js';
import { UsageError } from './errors.js';

const DEVICE_LINE =
  /^((?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(.+?)\s+\[([0-9a-fA-F]{4})\]:\s+(.*)\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\](.*)$/;
const GROUP_INLINE = /^\s*IOMMU\s+group\s+(\d+)\s*:?\s+(\S.*)$/i;
const GROUP_HEADING = /^\s*IOMMU\s+group\s+(\d+)\s*:?\s*$/i;

export type ListingFormat = 'iommu-groups-inline' | 'iommu-groups-heading' | 'lspci-nnk' | 'lspci-nn';

interface Parsed {
  address: PciAddressString;
  classText: string;
  cls: string;
  namesText: string;
  vendorId: string;
  deviceId: string;
  revision: string | null;
  progIf: string | null;
  group: number | null;
  driver: string | null;
  driverSeen: boolean;
  subsystem: { vendorId: string; deviceId: string; name: string } | null;
}

function parseDeviceLine(text: string, lineNo: number): Omit<Parsed, 'group' | 'driver' | 'driverSeen' | 'subsystem'> | null {
  const m = DEVICE_LINE.exec(text.trim());
  if (!m) return null;
  const addr = parsePciAddress(m[1]!);
  if (!addr.ok) throw new UsageError('bad-listing', `line ${lineNo}: ${addr.error.message}`, addr.error.remedy);
  const tail = m[7] ?? '';
  const rev = /\(rev ([0-9a-fA-F]{2})\)/.exec(tail);
  const progIf = /\(prog-if ([0-9a-fA-F]{2})/.exec(tail);
  return {
    address: formatPciAddress(addr.value),
    classText: m[2]!.trim(),
    cls: (m[3]! + (progIf ? progIf[1]! : '00')).toLowerCase(),
    namesText: m[4]!.trim(),
    vendorId: m[5]!.toLowerCase(),
    deviceId: m[6]!.toLowerCase(),
    revision: rev ? rev[1]!.toLowerCase() : null,
    progIf: progIf ? progIf[1]!.toLowerCase() : null,
  };
}

export function detectListingFormat(text: string): ListingFormat | null {
  const lines = text.split(/\r?\n/);
  if (lines.some((l) => GROUP_INLINE.test(l) && DEVICE_LINE.test((GROUP_INLINE.exec(l)?.[2] ?? '').trim()))) return 'iommu-groups-inline';
  if (lines.some((l) => GROUP_HEADING.test(l))) return 'iommu-groups-heading';
  if (!lines.some((l) => DEVICE_LINE.test(l.trim()))) return null;
  if (lines.some((l) => /^\s+(Kernel driver in use|Kernel modules|Subsystem):/.test(l))) return 'lspci-nnk';
  return 'lspci-nn';
}

export function importListing(text: string, file: string, ids: PciIds | null): PciInventory {
  const format = detectListingFormat(text);
  if (!format) {
    throw new UsageError(
      'bad-listing',
      `${file}: not a listing vfioctl can read (no "01:00.0 Class [cccc]: Name [vvvv:dddd]" lines found)`,
      'paste the output of `lspci -nn`, `lspci -nnk`, or an IOMMU group listing (`IOMMU Group N 01:00.0 ...` lines, or `IOMMU Group N:` headings with indented device lines); lspci needs -nn for the [vvvv:dddd] IDs',
    );
  }
  const parsed = new Map<string, Parsed>();
  let current: Parsed | null = null;
  let group: number | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    let line = raw;
    if (format === 'iommu-groups-inline') {
      const g = GROUP_INLINE.exec(raw);
      if (!g) continue;
      group = Number(g[1]);
      line = g[2]!;
    } else if (format === 'iommu-groups-heading') {
      const g = GROUP_HEADING.exec(raw);
      if (g) {
        group = Number(g[1]);
        continue;
      }
    }
    const dev = parseDeviceLine(line, i + 1);
    if (dev) {
      if (parsed.has(dev.address)) {
        throw new UsageError('bad-listing', `line ${i + 1}: ${dev.address} is listed twice`, 'paste one listing of one host');
      }
      current = { ...dev, group: format.startsWith('iommu') ? group : null, driver: null, driverSeen: false, subsystem: null };
      parsed.set(dev.address, current);
      continue;
    }
    if (!current) continue;
    const drv = /^\s+Kernel driver in use:\s*(\S+)\s*$/.exec(raw);
    if (drv) {
      current.driver = drv[1]!;
      continue;
    }
    const sub = /^\s+Subsystem:\s*(.*?)\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]\s*$/.exec(raw);
    if (sub) current.subsystem = { name: sub[1]!, vendorId: sub[2]!.toLowerCase(), deviceId: sub[3]!.toLowerCase() };
  }
  const withDrivers = format === 'lspci-nnk';
  const functions: PciFunction[] = [...parsed.values()]
    .sort((a, b) => comparePciAddressStrings(a.address, b.address))
    .map((p) => toFunction(p, ids, withDrivers));
  const byAddress = new Map<string, PciFunction>(functions.map((f) => [f.address, f]));
  const groupMembers = new Map<number, PciAddressString[]>();
  for (const f of functions) if (f.iommuGroup !== null) groupMembers.set(f.iommuGroup, [...(groupMembers.get(f.iommuGroup) ?? []), f.address]);
  const groups = [...groupMembers.entries()].sort((a, b) => a[0] - b[0]).map(([id, m]) => assembleGroup(id, null, m, byAddress));

  const unknown = ['topology (parent bridges)', 'capabilities (FLR, ACS, SR-IOV, ATS, Resizable BAR)', 'expansion ROM', 'boot VGA', 'reset methods', 'driver_override', 'NUMA node'];
  if (!withDrivers) unknown.unshift('drivers in use');
  if (!format.startsWith('iommu')) unknown.unshift('IOMMU groups');
  if (functions.some((f) => f.class.endsWith('00'))) unknown.push('programming interface (prog-if) of each class');
  return {
    source: { kind: 'import', format, file, unknown },
    iommu: { enabled: groups.length > 0, units: [], groupCount: groups.length },
    functions,
    groups,
    problems: [],
  };
}

function toFunction(p: Parsed, ids: PciIds | null, withDrivers: boolean): PciFunction {
  const v = parseInt(p.vendorId, 16);
  const d = parseInt(p.deviceId, 16);
  const c = parseInt(p.cls, 16);
  const vendorName = ids?.vendor(v) ?? null;
  let deviceName = ids?.device(v, d) ?? null;
  if (!deviceName) deviceName = vendorName && p.namesText.startsWith(vendorName) ? p.namesText.slice(vendorName.length).trim() || null : p.namesText || null;
  const sv = p.subsystem ? parseInt(p.subsystem.vendorId, 16) : null;
  const sd = p.subsystem ? parseInt(p.subsystem.deviceId, 16) : null;
  return {
    address: p.address,
    vendorId: p.vendorId,
    deviceId: p.deviceId,
    subsystemVendorId: p.subsystem?.vendorId ?? null,
    subsystemDeviceId: p.subsystem?.deviceId ?? null,
    class: p.cls,
    revision: p.revision,
    names: {
      vendor: vendorName,
      device: deviceName,
      subsystem: (ids && sv !== null && sd !== null ? ids.subsystem(v, d, sv, sd) : null) ?? p.subsystem?.name ?? null,
      className: ids?.className(c >> 16) ?? null,
      subclassName: ids?.subclassName(c >> 16, (c >> 8) & 0xff) ?? p.classText,
      progIfName: p.progIf !== null ? (ids?.progIfName(c >> 16, (c >> 8) & 0xff, c & 0xff) ?? null) : null,
    },
    driver: withDrivers ? p.driver : null,
    driverOverride: null,
    iommuGroup: p.group,
    numaNode: null,
    parentChain: [],
    rootBus: null,
    isBridge: isBridgeClass(p.cls),
    multifunction: null,
    bootVga: null,
    resetMethods: null,
    d3coldAllowed: null,
    powerState: null,
    sriov: null,
    physfn: null,
    hasRom: false,
    flr: false,
    capabilities: emptyCapabilities(0),
    missing: [],
    problems: [],
  };
}
