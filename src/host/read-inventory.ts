/**
 * Read a host's PCI functions and IOMMU groups from its sysfs (live, or a captured tree under --root).
 * Mandatory attributes (vendor, device, class) fall back to the config header; optional ones that are
 * absent are listed in `missing`; files that exist but cannot be read are reported as problems, never
 * treated as absent.
 */
import { HostRoot } from './host-root.js';
import { readPciIds } from './read-pci-ids.js';
import { type PciAddress, type PciAddressString, formatPciAddress, canonicalPciAddress, comparePciAddress, comparePciAddressStrings, sysfsPciAddress } from '../model/pci-address.js';
import { type PciCapabilities, decodeConfigSpace, decodeHeaderIds, emptyCapabilities } from '../model/pci-config.js';
import { isBridgeClass } from '../model/pci-class.js';
import { assembleGroup } from '../model/groups.js';
import type { PciIds } from '../model/pci-ids.js';
import { type AttributeProblem, type FunctionFact, type IommuGroup, type PciFunction, type PciInventory, type UnknownFact, unknownFact } from '../model/pci-function.js';

const ROOT_BUS = /^pci[0-9a-f]{4,8}:[0-9a-f]{2}$/;

/**
 * What a command needs read, per function (pciutils' fill_info flags): a command asks for the facts it
 * shows, and the reader opens only the files behind them. The IDs, class, names, topology (the device
 * link) and VF status (physfn) are always read; every other fact has a bit. A fact whose bit is not set
 * is not read and is named in the function's `unknown` ("not read: ..."), so it can never pass for a
 * known value (docs/json.md, tri-state facts).
 *
 * A new per-function fact gets a new bit here, the masks of the commands that show it (below and in
 * the session) get the bit, and its reader (src/host/read-<topic>.ts) reads it only when the session's
 * mask has the bit, through `host.resolvePciDevice` and `host.readAttrIn` (docs/performance.md).
 */
export const Fill = {
  /** the `driver` link and `driver_override` */
  driver: 1 << 0,
  /** the `iommu_group` link */
  iommuGroup: 1 << 1,
  /** the capability lists of config space: capabilities, flr, (multifunction comes with the header) */
  capabilities: 1 << 2,
  /** `boot_vga` */
  bootVga: 1 << 3,
  /** `power_state` and `d3cold_allowed` */
  power: 1 << 4,
  /** `reset_method` */
  reset: 1 << 5,
  /** `numa_node` */
  numa: 1 << 6,
  /** `sriov_totalvfs`, `sriov_numvfs` and the `virtfn*` links */
  sriov: 1 << 7,
  /** whether a `rom` attribute exists */
  rom: 1 << 8,
  /** sys/kernel/iommu_groups: each group's members and type (not a per-function fact) */
  groups: 1 << 9,
} as const;

/** A set of Fill bits. */
export type FillMask = number;
/** Every fact this reader knows: the default, and what snapshots, show, plan and doctor read. */
export const FILL_ALL: FillMask = Object.values(Fill).reduce((a, b) => a | b, 0);
/** `ls --json`: every fact of a function (the document prints them all), no group directories. */
export const FILL_LS_JSON: FillMask = FILL_ALL & ~Fill.groups;
/** `ls` (the table): address, class, names, driver (and override), group, flags. */
export const FILL_LS: FillMask = Fill.driver | Fill.iommuGroup | Fill.capabilities | Fill.bootVga | Fill.sriov | Fill.rom;
/** `groups` (table and --json): members with class, names and driver, group type and isolation. */
export const FILL_GROUPS: FillMask = Fill.driver | Fill.iommuGroup | Fill.groups;

/** Optional attributes reported in `missing` when absent, with the bit that reads each. */
const OPTIONAL_ATTRS: readonly (readonly [string, number])[] = [
  ['boot_vga', Fill.bootVga], ['reset_method', Fill.reset], ['d3cold_allowed', Fill.power], ['power_state', Fill.power],
  ['numa_node', Fill.numa], ['driver_override', Fill.driver],
];

export interface ReadInventoryOptions {
  /** Look names up in pci.ids (default true). */
  names?: boolean;
  ids?: PciIds;
  /**
   * 'full': read sys/kernel/iommu_groups (members and each group's type). 'none': skip the group
   * directories (for output that shows no groups); `groups` is then empty and `iommu` counts the group
   * directories only. Shorthand for `fill` with or without Fill.groups (`fill` wins when both are given).
   */
  groups?: 'full' | 'none';
  /** The facts to read (Fill bits; default FILL_ALL, or FILL_ALL without Fill.groups for groups: 'none'). */
  fill?: FillMask;
}

/** The mask readInventory uses for these options. */
export function fillOf(opts: Pick<ReadInventoryOptions, 'groups' | 'fill'>): FillMask {
  if (opts.fill !== undefined) return opts.fill;
  return opts.groups === 'none' ? FILL_ALL & ~Fill.groups : FILL_ALL;
}

export function readInventory(host: HostRoot, opts: ReadInventoryOptions = {}): PciInventory {
  const fill = fillOf(opts);
  const ids = opts.names === false ? null : (opts.ids ?? readPciIds(host));
  const problems: PciInventory['problems'] = [];
  const listing = host.listPciAddresses();
  let addresses: PciAddress[] = [];
  if (listing.state === 'ok') {
    addresses = listing.value.addresses;
    for (const name of listing.value.rejected) {
      problems.push({ path: HostRoot.PCI_DEVICES, code: 'EBADNAME', message: `ignored entry ${JSON.stringify(name)}: not a PCI address` });
    }
  } else if (listing.state === 'unreadable') {
    problems.push({ path: HostRoot.PCI_DEVICES, code: listing.code, message: `cannot list PCI devices: ${listing.message}` });
  } else {
    problems.push({ path: HostRoot.PCI_DEVICES, code: 'ENOENT', message: 'no PCI bus in this host root (sys/bus/pci/devices is missing)' });
  }
  addresses.sort(comparePciAddress);

  const functions: PciFunction[] = [];
  for (const addr of addresses) {
    const fn = readFunction(host, addr, ids, fill, problems);
    if (fn) functions.push(fn);
  }
  const byAddress = new Map<string, PciFunction>(functions.map((f) => [f.address, f]));
  let groups: IommuGroup[] = [];
  let groupCount: number;
  if (!(fill & Fill.groups)) {
    const dirs = host.listDir(HostRoot.IOMMU_GROUPS);
    groupCount = dirs.state === 'ok' ? dirs.value.filter((n) => /^\d{1,9}$/.test(n)).length : 0;
  } else {
    groups = readGroups(host, functions, byAddress, problems);
    groupCount = groups.length;
  }
  const units = host.listDir('sys/class/iommu');
  return {
    source: { kind: 'sysfs', root: host.root },
    iommu: { enabled: groupCount > 0, units: units.state === 'ok' ? units.value.sort() : [], groupCount },
    functions,
    groups,
    problems,
  };
}

const HEX = /^(?:0x)?([0-9a-fA-F]+)$/;
/** The canonical spelling the kernel uses (checked by a pattern; anything else goes through the parser). */
const KERNEL_NAME = /^(?:[0-9a-f]{4}|[1-9a-f][0-9a-f]{4,7}):[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;
const kernelPciName = (name: string): PciAddressString | null => (KERNEL_NAME.test(name) ? (name as PciAddressString) : sysfsPciAddress(name));

function hexValue(text: string | null, width: number): string | null {
  if (text === null) return null;
  const m = HEX.exec(text);
  if (!m) return null;
  return parseInt(m[1]!, 16).toString(16).padStart(width, '0').slice(-width);
}

const hdr = (v: number | undefined, w: number): string | null => (v === undefined ? null : v.toString(16).padStart(w, '0'));
const base = (l: string | null): string | null => {
  if (l === null) return null;
  let end = l.length;
  while (end > 0 && l.charCodeAt(end - 1) === 0x2f) end--;
  const start = l.lastIndexOf('/', end - 1) + 1;
  return end > start ? l.slice(start, end) : null;
};

/**
 * One function's files. The device directory is resolved once (inside the root); each attribute is
 * then one open of a name in it: attributes every kernel has are opened directly, the ones most
 * functions lack (boot_vga, rom, physfn, sriov_*) are probed first (no exception per absent file).
 * The directory is listed only for a PF's virtfn links.
 */
class FunctionReader {
  readonly problems: AttributeProblem[] = [];
  /** attributes present but unreadable: attribute -> why */
  readonly unreadable = new Map<string, string>();
  /** optional attributes found absent */
  readonly absent: string[] = [];

  constructor(
    private readonly host: HostRoot,
    readonly dir: string,
  ) {}

  /** A text attribute, trimmed; null when absent (listed in `absent` when optional) or unreadable. */
  text(attr: string, opts: { mandatory?: boolean; probe?: boolean } = {}): string | null {
    if (opts.probe && this.host.probeIn(this.dir, attr) === null) {
      this.markAbsent(attr, opts.mandatory);
      return null;
    }
    const r = this.host.readAttrIn(this.dir, attr);
    if (r.state === 'absent') {
      this.markAbsent(attr, opts.mandatory);
      return null;
    }
    if (r.state === 'unreadable') {
      this.problems.push({ attribute: attr, code: r.code, message: `${attr} is unreadable: ${r.message}` });
      this.unreadable.set(attr, `${attr} is unreadable (${r.code})`);
      return null;
    }
    return (r.value as string).trim();
  }

  /** A link's target text; null when absent or unreadable (reported). */
  link(attr: string, probe = false): string | null {
    if (probe && this.host.probeIn(this.dir, attr) === null) return null;
    const r = this.host.linkAttrIn(this.dir, attr);
    if (r.state === 'unreadable') {
      this.problems.push({ attribute: attr, code: r.code, message: `${attr} link is unreadable: ${r.message}` });
      this.unreadable.set(attr, `the ${attr} link is unreadable (${r.code})`);
      return null;
    }
    return r.state === 'ok' ? r.value : null;
  }

  private markAbsent(attr: string, mandatory = false): void {
    this.absent.push(attr);
    if (mandatory) this.problems.push({ attribute: attr, code: 'ENOENT', message: `${attr} is missing` });
  }
}

interface DecodedConfig {
  size: number;
  header: ReturnType<typeof decodeHeaderIds>;
  capabilities: PciCapabilities;
  /** subsystem vendor and device of a type-0 header (offsets 0x2c, 0x2e), when the bytes reach them */
  subsystem: { v: number; d: number } | null;
}

/** Everything the inventory takes from config space, decoded while the bytes are at hand. */
function decodeConfig(bytes: Buffer, withCapabilities: boolean): DecodedConfig {
  let capabilities: PciCapabilities;
  if (withCapabilities) capabilities = decodeConfigSpace(bytes);
  else {
    capabilities = emptyCapabilities(bytes.length);
    if (bytes.length >= 0x40) capabilities.headerType = bytes[0x0e]!;
  }
  return {
    size: bytes.length,
    header: decodeHeaderIds(bytes),
    capabilities,
    subsystem: bytes.length >= 0x30 ? { v: bytes.readUInt16LE(0x2c), d: bytes.readUInt16LE(0x2e) } : null,
  };
}

/** Why a fact is unknown when its Fill bit was not asked for. */
const NOT_READ = 'not read: this command does not show it (`vfioctl show ADDR` reads every fact)';

function readFunction(host: HostRoot, addr: PciAddress, ids: PciIds | null, fill: FillMask, problems: PciInventory['problems']): PciFunction | null {
  const address = formatPciAddress(addr);
  const resolved = host.resolvePciDevice(addr);
  if (resolved.state !== 'ok') {
    problems.push({
      path: host.pciDeviceRel(addr),
      code: resolved.state === 'absent' ? 'ENOENT' : resolved.code,
      message: resolved.state === 'absent' ? `${address} vanished while reading (hot-unplug?)` : resolved.message,
    });
    return null;
  }
  const { dir, linkParts } = resolved.value;
  const r = new FunctionReader(host, dir);
  host.prepareDir(dir, namesToAsk(fill));
  try {
    return readFunctionIn(host, r, address, linkParts, ids, fill, problems);
  } finally {
    host.releaseDir();
  }
}

/** About how many names of a device directory a mask asks for (config, class, physfn and one per fact file). */
function namesToAsk(fill: FillMask): number {
  let n = 3;
  if (fill & Fill.driver) n += 2;
  if (fill & Fill.iommuGroup) n += 1;
  if (fill & Fill.bootVga) n += 1;
  if (fill & Fill.power) n += 2;
  if (fill & Fill.reset) n += 1;
  if (fill & Fill.numa) n += 1;
  if (fill & Fill.sriov) n += 1;
  if (fill & Fill.rom) n += 1;
  return n;
}

function readFunctionIn(
  host: HostRoot,
  r: FunctionReader,
  address: PciAddressString,
  linkParts: string[],
  ids: PciIds | null,
  fill: FillMask,
  problems: PciInventory['problems'],
): PciFunction | null {
  const dir = r.dir;
  const deviceRel = `${HostRoot.PCI_DEVICES}/${address}`;

  // config space: read once, first, and decoded where it was read (the bytes are not kept)
  const wantCaps = (fill & Fill.capabilities) !== 0;
  const cr = host.readConfigIn(dir, (bytes) => decodeConfig(bytes, wantCaps));
  let config: DecodedConfig | null = null;
  if (cr.state === 'ok') config = cr.value;
  else {
    // Rare: no readable config. Tell a vanished or foreign directory from a device without config.
    const listing = host.listAttrsIn(dir);
    if (listing.state !== 'ok') {
      problems.push({ path: deviceRel, code: listing.state === 'absent' ? 'ENOENT' : listing.code, message: listing.state === 'absent' ? `${address}: device directory is missing` : listing.message });
      return null;
    }
    if (!listing.value.includes('config') && !listing.value.includes('vendor')) {
      problems.push({ path: deviceRel, code: 'ENODEV', message: `${address}: not a PCI device directory (no config or vendor attribute)` });
      return null;
    }
    if (cr.state === 'unreadable') {
      r.problems.push({ attribute: 'config', code: cr.code, message: `config is unreadable: ${cr.message}` });
      r.unreadable.set('config', `config is unreadable (${cr.code})`);
    } else {
      r.problems.push({ attribute: 'config', code: 'ENOENT', message: 'config is missing' });
      r.unreadable.set('config', 'config is missing');
    }
  }
  const header = config?.header ?? null;
  const capabilities = config?.capabilities ?? emptyCapabilities(0);
  const configSize = config ? config.size : null;

  // The kernel's ID files mirror the config header, except for SR-IOV VFs (whose hardware header reads
  // 0xffff) and a header the kernel could not fully read. Taking the IDs from the header that is read
  // anyway saves five file reads per function; `class` is always read because kernel quirks rewrite it.
  const physText = r.link('physfn', true);
  const isVf = physText !== null || r.unreadable.has('physfn');
  const cls0 = r.text('class', { mandatory: !header });
  const typeZero = header !== null && capabilities.headerType !== null && (capabilities.headerType & 0x7f) === 0;
  const trustHeader = header !== null && !isVf && header.vendor !== 0xffff;
  const vendorId = (trustHeader ? hdr(header.vendor, 4) : null) ?? hexValue(r.text('vendor', { mandatory: !header }), 4) ?? hdr(header?.vendor, 4) ?? 'ffff';
  const deviceId = (trustHeader ? hdr(header.device, 4) : null) ?? hexValue(r.text('device', { mandatory: !header }), 4) ?? hdr(header?.device, 4) ?? 'ffff';
  const cls = hexValue(cls0, 6) ?? hdr(header?.classCode, 6) ?? 'ff0000';
  const revision = (trustHeader ? hdr(header.revision, 2) : null) ?? hexValue(r.text('revision', { probe: true }), 2) ?? hdr(header?.revision, 2);
  const sub = trustHeader && typeZero ? config!.subsystem : null;
  const subsystemVendorId = sub ? hdr(sub.v, 4) : hexValue(r.text('subsystem_vendor', { probe: true }), 4);
  const subsystemDeviceId = sub ? hdr(sub.d, 4) : hexValue(r.text('subsystem_device', { probe: true }), 4);

  if (configSize !== null && configSize < 0x100) {
    r.problems.push({ attribute: 'config', code: 'ESHORT', message: `config is ${configSize} bytes (read without root?): capabilities and extended capabilities not readable` });
  } else if (configSize !== null && capabilities.pcie && !capabilities.extendedReadable) {
    r.problems.push({ attribute: 'config', code: 'ESHORT', message: `config is ${configSize} bytes: extended capabilities not readable` });
  }
  for (const e of capabilities.errors) r.problems.push({ attribute: 'config', code: 'EBADCAP', message: e });

  const notRead: FunctionFact[] = [];
  let driver: string | null = null;
  let driverOverride: string | null = null;
  if (fill & Fill.driver) {
    driver = base(r.link('driver'));
    const overrideText = r.text('driver_override');
    driverOverride = overrideText === null || overrideText === '(null)' || overrideText === '' ? null : overrideText;
  } else notRead.push('driver', 'driverOverride');
  let iommuGroup: number | null = null;
  if (fill & Fill.iommuGroup) {
    const groupText = base(r.link('iommu_group'));
    iommuGroup = groupText !== null && /^\d+$/.test(groupText) ? Number(groupText) : null;
  } else notRead.push('iommuGroup');
  let numaNode: number | null = null;
  if (fill & Fill.numa) {
    const numaText = r.text('numa_node');
    numaNode = numaText !== null && /^-?\d+$/.test(numaText) && Number(numaText) >= 0 ? Number(numaText) : null;
  } else notRead.push('numaNode');
  let bootVga: boolean | null = null;
  if (fill & Fill.bootVga) {
    // only VGA-class functions have boot_vga
    const t = r.text('boot_vga', { probe: true });
    bootVga = t === null ? null : t === '1';
  } else notRead.push('bootVga');
  let resetMethods: string[] | null = null;
  if (fill & Fill.reset) {
    const t = r.text('reset_method');
    resetMethods = t === null ? null : t.split(/\s+/).filter(Boolean);
  } else notRead.push('resetMethods');
  let d3coldAllowed: boolean | null = null;
  let powerState: string | null = null;
  if (fill & Fill.power) {
    const t = r.text('d3cold_allowed');
    d3coldAllowed = t === null ? null : t === '1';
    powerState = r.text('power_state');
  } else notRead.push('d3coldAllowed', 'powerState');
  let hasRom = false;
  if (fill & Fill.rom) hasRom = host.probeIn(dir, 'rom') !== null;
  else notRead.push('hasRom');
  if (!wantCaps) notRead.push('flr', 'capabilities');

  let sriov: PciFunction['sriov'] = null;
  if (fill & Fill.sriov) {
    const totalText = r.text('sriov_totalvfs', { probe: true });
    if (totalText !== null) {
      const vfs: PciAddressString[] = [];
      const names = host.listAttrsIn(dir);
      for (const name of names.state === 'ok' ? names.value : []) {
        if (!/^virtfn\d+$/.test(name)) continue;
        const t = base(r.link(name));
        const vf = t ? canonicalPciAddress(t) : null;
        if (vf) vfs.push(vf);
      }
      vfs.sort(comparePciAddressStrings);
      const numText = r.text('sriov_numvfs');
      sriov = { totalVfs: Number(totalText) || 0, numVfs: numText !== null ? Number(numText) || 0 : vfs.length, vfs };
    }
  } else notRead.push('sriov');

  const parentChain: PciAddressString[] = [];
  let rootBus: string | null = null;
  for (let k = 0; k < linkParts.length - 1; k++) {
    const part = linkParts[k]!;
    if (ROOT_BUS.test(part)) {
      rootBus = part;
      parentChain.length = 0;
      continue;
    }
    const a = kernelPciName(part);
    if (a) parentChain.push(a);
  }

  const missing: string[] = [];
  for (const [attr, bit] of OPTIONAL_ATTRS) if (fill & bit && r.absent.includes(attr)) missing.push(attr);
  const unknown = unknownFacts(address, r.unreadable, configSize, capabilities, wantCaps);
  for (const fact of notRead) if (!unknown.some((u) => u.fact === fact)) unknown.push(unknownFact(address, fact, NOT_READ));
  const v = parseInt(vendorId, 16);
  const d = parseInt(deviceId, 16);
  const c = parseInt(cls, 16);
  const sv = subsystemVendorId ? parseInt(subsystemVendorId, 16) : null;
  const sd = subsystemDeviceId ? parseInt(subsystemDeviceId, 16) : null;

  return {
    address,
    vendorId,
    deviceId,
    subsystemVendorId,
    subsystemDeviceId,
    class: cls,
    revision,
    names: {
      vendor: ids?.vendor(v) ?? null,
      device: ids?.device(v, d) ?? null,
      subsystem: ids && sv !== null && sd !== null ? ids.subsystem(v, d, sv, sd) : null,
      className: ids?.className(c >> 16) ?? null,
      subclassName: ids?.subclassName(c >> 16, (c >> 8) & 0xff) ?? null,
      progIfName: ids?.progIfName(c >> 16, (c >> 8) & 0xff, c & 0xff) ?? null,
    },
    driver,
    driverOverride,
    iommuGroup,
    numaNode,
    parentChain,
    rootBus,
    isBridge: isBridgeClass(cls),
    multifunction: capabilities.headerType === null ? null : (capabilities.headerType & 0x80) !== 0,
    bootVga,
    resetMethods,
    d3coldAllowed,
    powerState,
    sriov,
    physfn: physText ? canonicalPciAddress(base(physText) ?? '') : null,
    hasRom,
    flr: !!(capabilities.pcie?.flr || capabilities.af?.flr),
    capabilities,
    missing,
    problems: r.problems,
    unknown,
  };
}

/** The attribute each fact is read from (the config space is handled on its own). */
const FACT_ATTRS: [string, FunctionFact][] = [
  ['driver', 'driver'], ['driver_override', 'driverOverride'], ['iommu_group', 'iommuGroup'], ['numa_node', 'numaNode'],
  ['boot_vga', 'bootVga'], ['reset_method', 'resetMethods'], ['d3cold_allowed', 'd3coldAllowed'], ['power_state', 'powerState'],
];

/**
 * What this function's files did not tell: an unreadable attribute leaves its fact unknown; a config
 * space that is unreadable or short leaves the header (multifunction), FLR and the capabilities unknown.
 * An attribute that is absent is not unknown: the kernel has nothing to say there (`missing`).
 */
function unknownFacts(address: string, unreadable: Map<string, string>, configSize: number | null, caps: PciFunction['capabilities'], decoded: boolean): UnknownFact[] {
  const out: UnknownFact[] = [];
  for (const [attr, fact] of FACT_ATTRS) {
    const why = unreadable.get(attr);
    if (why) out.push(unknownFact(address, fact, why));
  }
  const configWhy = unreadable.get('config') ?? (configSize !== null && configSize < 0x100 ? `config is only ${configSize} bytes: read without root?` : null);
  if (configWhy) {
    if (caps.headerType === null) out.push(unknownFact(address, 'multifunction', configWhy));
    out.push(unknownFact(address, 'flr', configWhy), unknownFact(address, 'capabilities', configWhy));
  } else if (decoded && caps.pcie && !caps.extendedReadable) {
    out.push(unknownFact(address, 'capabilities.extended', `config is ${configSize} bytes: the extended capabilities were not read`));
  }
  return out;
}

function readGroups(host: HostRoot, functions: PciFunction[], byAddress: Map<string, PciFunction>, problems: PciInventory['problems']): IommuGroup[] {
  const dirs = host.listDir(HostRoot.IOMMU_GROUPS);
  const members = new Map<number, PciAddressString[]>();
  const types = new Map<number, string | null>();
  if (dirs.state === 'unreadable') {
    problems.push({ path: HostRoot.IOMMU_GROUPS, code: dirs.code, message: `cannot list IOMMU groups: ${dirs.message}` });
  }
  if (dirs.state === 'ok') {
    for (const name of dirs.value) {
      if (!/^\d{1,9}$/.test(name)) {
        problems.push({ path: HostRoot.IOMMU_GROUPS, code: 'EBADNAME', message: `ignored entry ${JSON.stringify(name)}: not a group number` });
        continue;
      }
      const id = Number(name);
      const devs = host.listDir(host.iommuGroupDevicesRel(id));
      const list: PciAddressString[] = [];
      if (devs.state === 'ok') {
        for (const d of devs.value) {
          // Groups may hold non-PCI devices (platform devices on ARM); vfioctl models PCI members.
          const a = kernelPciName(d);
          if (a) list.push(a);
        }
      } else if (devs.state === 'unreadable') {
        problems.push({ path: host.iommuGroupDevicesRel(id), code: devs.code, message: devs.message });
      }
      members.set(id, list);
      const t = host.readText(`${HostRoot.IOMMU_GROUPS}/${id}/type`);
      types.set(id, t.state === 'ok' ? t.value.trim() : null);
    }
  }
  // Functions whose iommu_group link names a group the listing did not show (partial captures).
  for (const fn of functions) {
    if (fn.iommuGroup === null) continue;
    const list = members.get(fn.iommuGroup);
    if (!list) {
      members.set(fn.iommuGroup, [fn.address]);
      types.set(fn.iommuGroup, null);
    } else if (!list.includes(fn.address)) {
      list.push(fn.address);
    }
  }
  return [...members.keys()]
    .sort((a, b) => a - b)
    .map((id) => assembleGroup(id, types.get(id) ?? null, members.get(id) ?? [], byAddress));
}
