/**
 * Read a host's PCI functions and IOMMU groups from its sysfs (live, or a captured tree under --root).
 * Mandatory attributes (vendor, device, class) fall back to the config header; optional ones that are
 * absent are listed in `missing`; files that exist but cannot be read are reported as problems, never
 * treated as absent.
 */
import { HostRoot, type ReadResult } from './host-root.js';
import { readPciIds } from './read-pci-ids.js';
import { type PciAddress, type PciAddressString, formatPciAddress, canonicalPciAddress, comparePciAddress, comparePciAddressStrings, sysfsPciAddress } from '../model/pci-address.js';
import { decodeConfigSpace, decodeHeaderIds, emptyCapabilities } from '../model/pci-config.js';
import { isBridgeClass } from '../model/pci-class.js';
import { assembleGroup } from '../model/groups.js';
import type { PciIds } from '../model/pci-ids.js';
import { type AttributeProblem, type FunctionFact, type IommuGroup, type PciFunction, type PciInventory, type UnknownFact, unknownFact } from '../model/pci-function.js';

const ROOT_BUS = /^pci[0-9a-f]{4,8}:[0-9a-f]{2}$/;
const OPTIONAL_ATTRS = ['boot_vga', 'reset_method', 'd3cold_allowed', 'power_state', 'numa_node', 'driver_override'] as const;

export interface ReadInventoryOptions {
  /** Look names up in pci.ids (default true). */
  names?: boolean;
  ids?: PciIds;
  /**
   * 'full' (default): read sys/kernel/iommu_groups (members and each group's type). 'none': skip the
   * group directories (for output that shows no groups); `groups` is then empty and `iommu` counts the
   * group directories only.
   */
  groups?: 'full' | 'none';
}

export function readInventory(host: HostRoot, opts: ReadInventoryOptions = {}): PciInventory {
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
    const fn = readFunction(host, addr, ids, problems);
    if (fn) functions.push(fn);
  }
  const byAddress = new Map<string, PciFunction>(functions.map((f) => [f.address, f]));
  let groups: IommuGroup[] = [];
  let groupCount: number;
  if (opts.groups === 'none') {
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

function trimmed(r: ReadResult<string | Buffer>): string | null {
  return r.state === 'ok' ? String(r.value).trim() : null;
}

function hexValue(text: string | null, width: number): string | null {
  if (text === null) return null;
  const m = /^(?:0x)?([0-9a-fA-F]+)$/.exec(text);
  if (!m) return null;
  return parseInt(m[1]!, 16).toString(16).padStart(width, '0').slice(-width);
}

function readFunction(host: HostRoot, addr: PciAddress, ids: PciIds | null, problems: PciInventory['problems']): PciFunction | null {
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
  const fnProblems: AttributeProblem[] = [];
  /** attributes present but unreadable: attribute -> why */
  const unreadable = new Map<string, string>();
  const listing = host.listAttrsIn(dir);
  if (listing.state !== 'ok') {
    problems.push({ path: host.pciDeviceRel(addr), code: listing.state === 'absent' ? 'ENOENT' : listing.code, message: listing.state === 'absent' ? `${address}: device directory is missing` : listing.message });
    return null;
  }
  const present = new Set(listing.value);
  if (!present.has('config') && !present.has('vendor')) {
    problems.push({ path: host.pciDeviceRel(addr), code: 'ENODEV', message: `${address}: not a PCI device directory (no config or vendor attribute)` });
    return null;
  }

  const text = (attr: string, mandatory = false): string | null => {
    if (!present.has(attr)) {
      if (mandatory) fnProblems.push({ attribute: attr, code: 'ENOENT', message: `${attr} is missing` });
      return null;
    }
    const r = host.readAttrIn(dir, attr);
    if (r.state === 'unreadable') {
      fnProblems.push({ attribute: attr, code: r.code, message: `${attr} is unreadable: ${r.message}` });
      unreadable.set(attr, `${attr} is unreadable (${r.code})`);
      return null;
    }
    return trimmed(r);
  };
  const link = (attr: string): string | null => {
    if (!present.has(attr)) return null;
    const r = host.linkAttrIn(dir, attr);
    if (r.state === 'unreadable') {
      fnProblems.push({ attribute: attr, code: r.code, message: `${attr} link is unreadable: ${r.message}` });
      unreadable.set(attr, `the ${attr} link is unreadable (${r.code})`);
      return null;
    }
    return r.state === 'ok' ? r.value : null;
  };
  const base = (l: string | null): string | null => (l === null ? null : (l.split('/').filter(Boolean).pop() ?? null));

  // config space
  let configBytes: Buffer | null = null;
  if (present.has('config')) {
    const r = host.readAttrIn(dir, 'config', null);
    if (r.state === 'ok') configBytes = r.value as Buffer;
    else if (r.state === 'unreadable') {
      fnProblems.push({ attribute: 'config', code: r.code, message: `config is unreadable: ${r.message}` });
      unreadable.set('config', `config is unreadable (${r.code})`);
    }
  } else {
    fnProblems.push({ attribute: 'config', code: 'ENOENT', message: 'config is missing' });
    unreadable.set('config', 'config is missing');
  }
  const capabilities = configBytes ? decodeConfigSpace(configBytes) : emptyCapabilities(0);
  const header = configBytes ? decodeHeaderIds(configBytes) : null;

  const hdr = (v: number | undefined, w: number): string | null => (v === undefined ? null : v.toString(16).padStart(w, '0'));
  // The kernel's ID files mirror the config header, except for SR-IOV VFs (whose hardware header reads
  // 0xffff) and a header the kernel could not fully read. Taking the IDs from the header that is read
  // anyway saves five file reads per function; `class` is always read because kernel quirks rewrite it.
  const isVf = present.has('physfn');
  const typeZero = header !== null && capabilities.headerType !== null && (capabilities.headerType & 0x7f) === 0;
  const trustHeader = header !== null && !isVf && header.vendor !== 0xffff;
  const vendorId = (trustHeader ? hdr(header.vendor, 4) : null) ?? hexValue(text('vendor', !header), 4) ?? hdr(header?.vendor, 4) ?? 'ffff';
  const deviceId = (trustHeader ? hdr(header.device, 4) : null) ?? hexValue(text('device', !header), 4) ?? hdr(header?.device, 4) ?? 'ffff';
  const cls = hexValue(text('class', !header), 6) ?? hdr(header?.classCode, 6) ?? 'ff0000';
  const revision = (trustHeader ? hdr(header.revision, 2) : null) ?? hexValue(text('revision'), 2) ?? hdr(header?.revision, 2);
  const sub = trustHeader && typeZero && configBytes && configBytes.length >= 0x30 ? { v: configBytes.readUInt16LE(0x2c), d: configBytes.readUInt16LE(0x2e) } : null;
  const subsystemVendorId = sub ? hdr(sub.v, 4) : hexValue(text('subsystem_vendor'), 4);
  const subsystemDeviceId = sub ? hdr(sub.d, 4) : hexValue(text('subsystem_device'), 4);

  if (configBytes && configBytes.length < 0x100) {
    fnProblems.push({ attribute: 'config', code: 'ESHORT', message: `config is ${configBytes.length} bytes (read without root?): capabilities and extended capabilities not readable` });
  } else if (configBytes && capabilities.pcie && !capabilities.extendedReadable) {
    fnProblems.push({ attribute: 'config', code: 'ESHORT', message: `config is ${configBytes.length} bytes: extended capabilities not readable` });
  }
  for (const e of capabilities.errors) fnProblems.push({ attribute: 'config', code: 'EBADCAP', message: e });

  const driver = base(link('driver'));
  const overrideText = text('driver_override');
  const driverOverride = overrideText === null || overrideText === '(null)' || overrideText === '' ? null : overrideText;
  const groupText = base(link('iommu_group'));
  const iommuGroup = groupText !== null && /^\d+$/.test(groupText) ? Number(groupText) : null;
  const numaText = text('numa_node');
  const numaNode = numaText !== null && /^-?\d+$/.test(numaText) && Number(numaText) >= 0 ? Number(numaText) : null;
  const bootVgaText = text('boot_vga');
  const resetText = text('reset_method');
  const d3Text = text('d3cold_allowed');

  let sriov: PciFunction['sriov'] = null;
  const totalText = text('sriov_totalvfs');
  if (totalText !== null) {
    const vfs: PciAddressString[] = [];
    for (const name of listing.value) {
      if (!/^virtfn\d+$/.test(name)) continue;
      const t = base(link(name));
      const vf = t ? canonicalPciAddress(t) : null;
      if (vf) vfs.push(vf);
    }
    vfs.sort(comparePciAddressStrings);
    const numText = text('sriov_numvfs');
    sriov = { totalVfs: Number(totalText) || 0, numVfs: numText !== null ? Number(numText) || 0 : vfs.length, vfs };
  }
  const physText = base(link('physfn'));

  const parentChain: PciAddressString[] = [];
  let rootBus: string | null = null;
  for (const part of linkParts.slice(0, -1)) {
    if (ROOT_BUS.test(part)) {
      rootBus = part;
      parentChain.length = 0;
      continue;
    }
    const a = sysfsPciAddress(part);
    if (a) parentChain.push(a);
  }

  const missing = OPTIONAL_ATTRS.filter((a) => !present.has(a));
  const unknown = unknownFacts(address, unreadable, configBytes?.length ?? null, capabilities);
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
    bootVga: bootVgaText === null ? null : bootVgaText === '1',
    resetMethods: resetText === null ? null : resetText.split(/\s+/).filter(Boolean),
    d3coldAllowed: d3Text === null ? null : d3Text === '1',
    powerState: text('power_state'),
    sriov,
    physfn: physText ? canonicalPciAddress(physText) : null,
    hasRom: present.has('rom'),
    flr: !!(capabilities.pcie?.flr || capabilities.af?.flr),
    capabilities,
    missing: [...missing],
    problems: fnProblems,
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
function unknownFacts(address: string, unreadable: Map<string, string>, configSize: number | null, caps: PciFunction['capabilities']): UnknownFact[] {
  const out: UnknownFact[] = [];
  for (const [attr, fact] of FACT_ATTRS) {
    const why = unreadable.get(attr);
    if (why) out.push(unknownFact(address, fact, why));
  }
  const configWhy = unreadable.get('config') ?? (configSize !== null && configSize < 0x100 ? `config is only ${configSize} bytes: read without root?` : null);
  if (configWhy) {
    if (caps.headerType === null) out.push(unknownFact(address, 'multifunction', configWhy));
    out.push(unknownFact(address, 'flr', configWhy), unknownFact(address, 'capabilities', configWhy));
  } else if (caps.pcie && !caps.extendedReadable) {
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
          const a = sysfsPciAddress(d);
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
