/**
 * The inventory model: what vfioctl knows about each PCI function and IOMMU group. Pure data; produced by
 * src/host/read-inventory.ts (live or captured trees) or src/model/import-listing.ts (pasted text).
 * The JSON output of `ls`, `groups` and `show` is this model (docs/json.md).
 */
import type { PciAddressString } from './pci-address.js';
import type { PciCapabilities } from './pci-config.js';

export interface PciNames {
  vendor: string | null;
  device: string | null;
  subsystem: string | null;
  /** Class and subclass names, e.g. "Display controller" / "VGA compatible controller". */
  className: string | null;
  subclassName: string | null;
  progIfName: string | null;
}

export interface SriovInfo {
  totalVfs: number;
  numVfs: number;
  /** Addresses of the virtual functions currently created (virtfn* links). */
  vfs: PciAddressString[];
}

/** A file that exists but could not be read, or a value that could not be parsed. */
export interface AttributeProblem {
  attribute: string;
  code: string;
  message: string;
}

export interface PciFunction {
  address: PciAddressString;
  /** 4 lowercase hex digits. */
  vendorId: string;
  deviceId: string;
  subsystemVendorId: string | null;
  subsystemDeviceId: string | null;
  /** 6 lowercase hex digits: class, subclass, prog-if. */
  class: string;
  revision: string | null;
  names: PciNames;
  /** The bound driver; null when none is bound, or when `unknown` names "driver" (not read). */
  driver: string | null;
  /** null when unset (sysfs shows "(null)"); undefined-equivalent "absent" is reported in `missing`. */
  driverOverride: string | null;
  iommuGroup: number | null;
  numaNode: number | null;
  /** Upstream bridges from the root complex down to the direct parent (canonical addresses). */
  parentChain: PciAddressString[];
  /** Host bridge / root bus this function hangs off, e.g. "pci0000:00". */
  rootBus: string | null;
  /** PCI-to-PCI bridge or port (class 0604xx / 0609xx): stays on the host, never blocks assignment. */
  isBridge: boolean;
  /** Header type bit 7 (multifunction device), when the config header was readable. */
  multifunction: boolean | null;
  bootVga: boolean | null;
  resetMethods: string[] | null;
  d3coldAllowed: boolean | null;
  powerState: string | null;
  sriov: SriovInfo | null;
  /** For a virtual function: its physical function. */
  physfn: PciAddressString | null;
  /** An expansion ROM is present. Known only when `unknown` does not name "hasRom" (then false means "not read"). */
  hasRom: boolean;
  /**
   * Any reset usable by vfio-pci's FLR path: PCIe FLR or AF FLR. Known only when `unknown` does not name
   * "flr" (then false means "not read", never "no FLR").
   */
  flr: boolean;
  capabilities: PciCapabilities;
  /** Optional attributes that were absent (informational; e.g. "reset_method" on older kernels). */
  missing: string[];
  problems: AttributeProblem[];
  /**
   * The facts of this function that were not read (a pasted listing that does not tell, an unreadable file,
   * a short config space): the field they leave at a placeholder value, why, and where they would be read.
   * A field named here is unknown whatever its value says (docs/json.md: tri-state facts).
   */
  unknown: UnknownFact[];
}

/**
 * The facts a function can leave unknown, named by the PciFunction field they fill ("capabilities.extended":
 * ACS, SR-IOV, ATS, Resizable BAR and AER, behind the first 256 bytes of config space; "capabilities.details":
 * capabilities seen but whose registers were not read, e.g. ACS control in `lspci -v`).
 */
export type FunctionFact =
  | 'driver' | 'driverOverride' | 'iommuGroup' | 'numaNode' | 'parentChain' | 'multifunction' | 'bootVga'
  | 'resetMethods' | 'd3coldAllowed' | 'powerState' | 'hasRom' | 'flr' | 'capabilities' | 'capabilities.extended'
  | 'capabilities.details' | 'sriov';

/** A fact that was not read. */
export interface UnknownFact {
  /** the field it leaves unknown (FunctionFact; an open list: consumers ignore names they do not know) */
  fact: string;
  /** why it is unknown, e.g. "the pasted lspci -nn listing does not tell", "config is 64 bytes (read without root?)" */
  reason: string;
  /** where it would be read, root-relative, e.g. "sys/bus/pci/devices/0000:01:00.0/config (capabilities)" */
  source: string;
}

/** Where each fact is read on a host (root-relative). */
export function factSource(address: string, fact: FunctionFact): string {
  const dev = `sys/bus/pci/devices/${address}`;
  switch (fact) {
    case 'driver': return `${dev}/driver`;
    case 'driverOverride': return `${dev}/driver_override`;
    case 'iommuGroup': return `sys/kernel/iommu_groups (${dev}/iommu_group)`;
    case 'numaNode': return `${dev}/numa_node`;
    case 'parentChain': return `${dev} (the device link's path through its bridges)`;
    case 'multifunction': return `${dev}/config (header)`;
    case 'bootVga': return `${dev}/boot_vga`;
    case 'resetMethods': return `${dev}/reset_method`;
    case 'd3coldAllowed': return `${dev}/d3cold_allowed`;
    case 'powerState': return `${dev}/power_state`;
    case 'hasRom': return `${dev}/rom`;
    case 'flr': return `${dev}/config (capabilities)`;
    case 'capabilities': return `${dev}/config (capabilities)`;
    case 'capabilities.extended': return `${dev}/config (extended capabilities: all 4096 bytes, read as root)`;
    case 'capabilities.details': return `${dev}/config (capability registers)`;
    case 'sriov': return `${dev}/sriov_totalvfs`;
  }
}

export function unknownFact(address: string, fact: FunctionFact, reason: string): UnknownFact {
  return { fact, reason, source: factSource(address, fact) };
}

/** The entry saying `fact` of this function was not read, or null when the fact is known. */
export function factUnknown(f: Pick<PciFunction, 'unknown'>, fact: FunctionFact): UnknownFact | null {
  return f.unknown?.find((u) => u.fact === fact) ?? null;
}

/** "unknown (the pasted lspci -nn listing does not tell; read from sys/.../config (capabilities))" */
export function unknownText(u: UnknownFact): string {
  return `unknown (${u.reason}; read from ${u.source})`;
}

export interface IommuGroupMember {
  address: PciAddressString;
  role: 'bridge' | 'endpoint';
}

export type GroupIsolation = 'isolated' | 'shared' | 'empty';

export interface IommuGroup {
  id: number;
  /** sys/kernel/iommu_groups/N/type: DMA, DMA-FQ, identity, blocked, unmanaged; null when absent. */
  type: string | null;
  members: IommuGroupMember[];
  /** isolated: one endpoint, or all endpoints are functions of one device; shared: several devices. */
  isolation: GroupIsolation;
  /** Members whose class is host-critical (storage, ISA/LPC bridge, SMBus, host bridge...). */
  hostCritical: { address: PciAddressString; reason: string }[];
}

export interface IommuState {
  /** Groups exist (the kernel's IOMMU is on and has grouped devices). */
  enabled: boolean;
  /** IOMMU hardware units the kernel registered (sys/class/iommu entries), e.g. dmar0, ivhd0. */
  units: string[];
  groupCount: number;
}

/** An input line of an imported listing that was not read, and why. */
export interface ImportSkippedLine {
  /** 1-based line number in the pasted text (0 for the closing "N more" entry) */
  line: number;
  /** the line as pasted, control and bidi characters escaped (\\t, \\xNN, \\u{NNNN}), at most 160 characters */
  text: string;
  reason: string;
}

/** A fact the listing tells for some functions only: the ones it does not tell it for. */
export interface ImportUnknownFor {
  /** the entry of `unknown` it refines, e.g. "drivers in use" */
  fact: string;
  addresses: PciAddressString[];
}

export type InventorySource =
  | { kind: 'sysfs'; root: string }
  | {
      kind: 'import';
      /** the forms found, in order, joined by "+": e.g. "iommu-groups-inline+lspci-nnk" */
      format: string;
      file: string;
      /** what the listing cannot tell; a fact known for some functions only reads "FACT (for N of M functions)" */
      unknown: string[];
      /** every input line that was not read (conflicts included), in line order */
      skipped?: ImportSkippedLine[];
      /** per-function detail of the partial entries of `unknown` */
      unknownFor?: ImportUnknownFor[];
    };

export interface PciInventory {
  source: InventorySource;
  iommu: IommuState;
  functions: PciFunction[];
  groups: IommuGroup[];
  /** Directory entries or files that could not be read or were rejected (hostile names). */
  problems: { path: string; code: string; message: string }[];
}
