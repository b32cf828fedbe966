/**
 * Decode a PCI function's configuration space (the sysfs `config` file) into the capabilities vfioctl
 * needs: the standard list (PM, MSI, MSI-X, PCI Express, Advanced Features) and the extended list (ACS,
 * SR-IOV, ATS, Resizable BAR, AER). Pure: takes bytes, returns data. Non-root reads of sysfs `config`
 * return only the first 64 bytes (the header); the capability lists are then reported as not readable
 * rather than absent.
 */

export type PciePortType =
  | 'endpoint' | 'legacy-endpoint' | 'root-port' | 'upstream-port' | 'downstream-port'
  | 'pcie-to-pci-bridge' | 'pci-to-pcie-bridge' | 'rc-integrated-endpoint' | 'rc-event-collector' | 'unknown';

const PORT_TYPES: Record<number, PciePortType> = {
  0x0: 'endpoint', 0x1: 'legacy-endpoint', 0x4: 'root-port', 0x5: 'upstream-port', 0x6: 'downstream-port',
  0x7: 'pcie-to-pci-bridge', 0x8: 'pci-to-pcie-bridge', 0x9: 'rc-integrated-endpoint', 0xa: 'rc-event-collector',
};

export interface AcsBits {
  /** Source Validation */ sv: boolean;
  /** Translation Blocking */ tb: boolean;
  /** P2P Request Redirect */ rr: boolean;
  /** P2P Completion Redirect */ cr: boolean;
  /** Upstream Forwarding */ uf: boolean;
  /** P2P Egress Control */ ec: boolean;
  /** Direct Translated P2P */ dt: boolean;
}

export interface CapabilityEntry {
  id: number;
  name: string;
  offset: number;
  extended: boolean;
}

/**
 * A capability that is null (or `aer` false) is absent only where its list was read: the standard list
 * when `standardReadable`, the extended one (acs, sriov, ats, rebar, aer) when `extendedReadable`. Otherwise
 * it is unknown, and the function's `unknown` says so ("capabilities", "capabilities.extended").
 */
export interface PciCapabilities {
  /** Bytes available in the config file (64 for unprivileged reads, 256 conventional, 4096 PCIe). */
  configSize: number;
  /** The standard capability list could be walked (needs at least 256 bytes... or the cap pointer inside). */
  standardReadable: boolean;
  /** The extended list (offset 0x100+) could be read. False for configSize <= 256. */
  extendedReadable: boolean;
  headerType: number | null;
  pm: { version: number; d1: boolean; d2: boolean; noSoftReset: boolean; powerState: string } | null;
  msi: { vectors: number; addr64: boolean; maskable: boolean; enabled: boolean } | null;
  msix: { tableSize: number; enabled: boolean } | null;
  pcie: {
    version: number;
    portType: PciePortType;
    slot: boolean;
    flr: boolean;
    maxLinkSpeed: string | null;
    maxLinkWidth: number | null;
    linkSpeed: string | null;
    linkWidth: number | null;
  } | null;
  af: { flr: boolean; tp: boolean } | null;
  acs: { capabilities: AcsBits; control: AcsBits; egressVectorSize: number } | null;
  sriov: {
    totalVfs: number; initialVfs: number; numVfs: number; vfOffset: number; vfStride: number;
    vfDeviceId: string; enabled: boolean; ariHierarchy: boolean;
  } | null;
  ats: { queueDepth: number; enabled: boolean; pageAligned: boolean } | null;
  rebar: { bars: { bar: number; sizes: string[]; current: string }[] } | null;
  aer: boolean;
  /** Every capability met, in list order (standard then extended). */
  list: CapabilityEntry[];
  /** Structural problems met while walking (loops, pointers out of range). */
  errors: string[];
}

const STD_NAMES: Record<number, string> = {
  0x01: 'Power Management', 0x02: 'AGP', 0x03: 'Vital Product Data', 0x04: 'Slot Identification', 0x05: 'MSI',
  0x06: 'CompactPCI Hot Swap', 0x07: 'PCI-X', 0x08: 'HyperTransport', 0x09: 'Vendor Specific', 0x0a: 'Debug port',
  0x0b: 'CompactPCI central resource control', 0x0c: 'PCI Standard Hot-Plug Controller',
  0x0d: 'Bridge subsystem vendor/device ID', 0x0e: 'AGP 8x', 0x0f: 'Secure Device', 0x10: 'PCI Express',
  0x11: 'MSI-X', 0x12: 'SATA HBA', 0x13: 'PCI Advanced Features', 0x14: 'Enhanced Allocation',
  0x15: 'Flattening Portal Bridge',
};
const EXT_NAMES: Record<number, string> = {
  0x0001: 'Advanced Error Reporting', 0x0002: 'Virtual Channel', 0x0003: 'Device Serial Number',
  0x0004: 'Power Budgeting', 0x0005: 'Root Complex Link Declaration', 0x0006: 'Root Complex Internal Link Control',
  0x0007: 'Root Complex Event Collector Endpoint Association', 0x0008: 'Multi-Function Virtual Channel',
  0x0009: 'Virtual Channel (MFVC)', 0x000a: 'Root Complex Register Block', 0x000b: 'Vendor Specific',
  0x000c: 'Configuration Access Correlation', 0x000d: 'Access Control Services',
  0x000e: 'Alternative Routing-ID Interpretation', 0x000f: 'Address Translation Services',
  0x0010: 'Single Root I/O Virtualization', 0x0011: 'Multi-Root I/O Virtualization', 0x0012: 'Multicast',
  0x0013: 'Page Request Interface', 0x0015: 'Resizable BAR', 0x0016: 'Dynamic Power Allocation',
  0x0017: 'TPH Requester', 0x0018: 'Latency Tolerance Reporting', 0x0019: 'Secondary PCI Express',
  0x001a: 'Protocol Multiplexing', 0x001b: 'Process Address Space ID', 0x001d: 'Downstream Port Containment',
  0x001e: 'L1 PM Substates', 0x001f: 'Precision Time Measurement', 0x0023: 'Designated Vendor-Specific',
  0x0024: 'VF Resizable BAR', 0x0025: 'Data Link Feature', 0x0026: 'Physical Layer 16.0 GT/s',
  0x0027: 'Lane Margining at the Receiver', 0x0029: 'Native PCIe Enclosure Management',
  0x002a: 'Physical Layer 32.0 GT/s', 0x0031: 'Physical Layer 64.0 GT/s',
};

const LINK_SPEEDS: Record<number, string> = { 1: '2.5GT/s', 2: '5GT/s', 3: '8GT/s', 4: '16GT/s', 5: '32GT/s', 6: '64GT/s' };

export function emptyCapabilities(configSize = 0): PciCapabilities {
  return {
    configSize, standardReadable: false, extendedReadable: false, headerType: null, pm: null, msi: null,
    msix: null, pcie: null, af: null, acs: null, sriov: null, ats: null, rebar: null, aer: false, list: [], errors: [],
  };
}

function acsBits(v: number): AcsBits {
  return { sv: !!(v & 1), tb: !!(v & 2), rr: !!(v & 4), cr: !!(v & 8), uf: !!(v & 16), ec: !!(v & 32), dt: !!(v & 64) };
}

function sizeName(log2Mb: number): string {
  // log2Mb: 0 -> 1MB ... 10 -> 1GB ... 19 -> 512GB ...
  if (log2Mb < 10) return `${1 << log2Mb}MB`;
  if (log2Mb < 20) return `${1 << (log2Mb - 10)}GB`;
  return `${2 ** (log2Mb - 20)}TB`;
}

/** Decode a config-space image. Never throws: structural problems land in `errors`. */
export function decodeConfigSpace(buf: Uint8Array): PciCapabilities {
  const caps = emptyCapabilities(buf.length);
  const size = buf.length;
  const u8 = (o: number): number => (o < size ? buf[o]! : 0);
  const u16 = (o: number): number => u8(o) | (u8(o + 1) << 8);
  const u32 = (o: number): number => (u16(o) | (u16(o + 2) << 16)) >>> 0;

  if (size < 0x40) {
    caps.errors.push(`config space is ${size} bytes; the 64-byte header is incomplete`);
    return caps;
  }
  caps.headerType = u8(0x0e);
  const status = u16(0x06);
  const layout = caps.headerType & 0x7f;
  const capPtrOffset = layout === 2 ? 0x14 : 0x34;

  // Standard capabilities live between 0x40 and 0xff: readable when the file covers them.
  caps.standardReadable = size >= 0x100;
  if (caps.standardReadable && status & 0x10) {
    let ptr = u8(capPtrOffset) & 0xfc;
    const seen = new Set<number>();
    while (ptr) {
      if (ptr < 0x40 || ptr > 0xfc) {
        caps.errors.push(`capability pointer 0x${ptr.toString(16)} out of range`);
        break;
      }
      if (seen.has(ptr)) {
        caps.errors.push(`capability list loops at 0x${ptr.toString(16)}`);
        break;
      }
      seen.add(ptr);
      const id = u8(ptr);
      caps.list.push({ id, name: STD_NAMES[id] ?? `Unknown (0x${id.toString(16).padStart(2, '0')})`, offset: ptr, extended: false });
      decodeStandard(id, ptr);
      ptr = u8(ptr + 1) & 0xfc;
    }
  }

  caps.extendedReadable = size > 0x100;
  if (caps.extendedReadable) {
    let off = 0x100;
    const seen = new Set<number>();
    while (off) {
      if (off < 0x100 || off > size - 4) {
        caps.errors.push(`extended capability pointer 0x${off.toString(16)} out of range`);
        break;
      }
      if (seen.has(off)) {
        caps.errors.push(`extended capability list loops at 0x${off.toString(16)}`);
        break;
      }
      seen.add(off);
      const header = u32(off);
      if (header === 0 || header === 0xffffffff) break; // no extended capabilities
      const id = header & 0xffff;
      caps.list.push({ id, name: EXT_NAMES[id] ?? `Unknown (0x${id.toString(16).padStart(4, '0')})`, offset: off, extended: true });
      decodeExtended(id, off);
      off = (header >>> 20) & 0xffc;
    }
  }
  return caps;

  function decodeStandard(id: number, p: number): void {
    switch (id) {
      case 0x01: {
        const pmc = u16(p + 2);
        const pmcsr = u16(p + 4);
        caps.pm = {
          version: pmc & 7, d1: !!(pmc & 0x200), d2: !!(pmc & 0x400), noSoftReset: !!(pmcsr & 0x8),
          powerState: `D${pmcsr & 3}`,
        };
        break;
      }
      case 0x05: {
        const ctl = u16(p + 2);
        caps.msi = { vectors: 1 << ((ctl >> 1) & 7), addr64: !!(ctl & 0x80), maskable: !!(ctl & 0x100), enabled: !!(ctl & 1) };
        break;
      }
      case 0x11: {
        const ctl = u16(p + 2);
        caps.msix = { tableSize: (ctl & 0x7ff) + 1, enabled: !!(ctl & 0x8000) };
        break;
      }
      case 0x10: {
        const flags = u16(p + 2);
        const devcap = u32(p + 4);
        const portType = PORT_TYPES[(flags >> 4) & 0xf] ?? 'unknown';
        const hasLink = portType !== 'rc-integrated-endpoint' && portType !== 'rc-event-collector';
        const linkcap = hasLink ? u32(p + 0x0c) : 0;
        const linksta = hasLink ? u16(p + 0x12) : 0;
        caps.pcie = {
          version: flags & 0xf,
          portType,
          slot: !!(flags & 0x100),
          flr: !!(devcap & (1 << 28)),
          maxLinkSpeed: hasLink ? (LINK_SPEEDS[linkcap & 0xf] ?? null) : null,
          maxLinkWidth: hasLink ? (linkcap >> 4) & 0x3f || null : null,
          linkSpeed: hasLink ? (LINK_SPEEDS[linksta & 0xf] ?? null) : null,
          linkWidth: hasLink ? (linksta >> 4) & 0x3f || null : null,
        };
        break;
      }
      case 0x13: {
        const afcap = u8(p + 3);
        caps.af = { tp: !!(afcap & 1), flr: !!(afcap & 2) };
        break;
      }
      default:
        break;
    }
  }

  function decodeExtended(id: number, p: number): void {
    switch (id) {
      case 0x0001:
        caps.aer = true;
        break;
      case 0x000d: {
        const cap = u16(p + 4);
        const ctl = u16(p + 6);
        caps.acs = { capabilities: acsBits(cap), control: acsBits(ctl), egressVectorSize: (cap >> 8) & 0xff };
        break;
      }
      case 0x0010: {
        const ctl = u16(p + 0x08);
        caps.sriov = {
          initialVfs: u16(p + 0x0c), totalVfs: u16(p + 0x0e), numVfs: u16(p + 0x10), vfOffset: u16(p + 0x14),
          vfStride: u16(p + 0x16), vfDeviceId: u16(p + 0x1a).toString(16).padStart(4, '0'), enabled: !!(ctl & 1),
          ariHierarchy: !!(ctl & 0x10),
        };
        break;
      }
      case 0x000f: {
        const cap = u16(p + 4);
        const ctl = u16(p + 6);
        caps.ats = { queueDepth: cap & 0x1f || 32, pageAligned: !!(cap & 0x20), enabled: !!(ctl & 0x8000) };
        break;
      }
      case 0x0015: {
        const firstCtl = u32(p + 8);
        const count = Math.min((firstCtl >> 5) & 7, 6);
        const bars: { bar: number; sizes: string[]; current: string }[] = [];
        for (let i = 0; i < count; i++) {
          const capReg = u32(p + 4 + i * 8);
          const ctlReg = u32(p + 8 + i * 8);
          const sizes: string[] = [];
          for (let bit = 4; bit <= 31; bit++) if (capReg & (1 << bit)) sizes.push(sizeName(bit - 4));
          bars.push({ bar: ctlReg & 7, sizes, current: sizeName((ctlReg >> 8) & 0x3f) });
        }
        caps.rebar = { bars };
        break;
      }
      default:
        break;
    }
  }
}

/** Header fields useful when the sysfs ID files are missing (imports, odd kernels). */
export function decodeHeaderIds(buf: Uint8Array): { vendor: number; device: number; classCode: number; revision: number } | null {
  if (buf.length < 0x10) return null;
  const u16 = (o: number): number => buf[o]! | (buf[o + 1]! << 8);
  return { vendor: u16(0), device: u16(2), classCode: (buf[0x0b]! << 16) | (buf[0x0a]! << 8) | buf[0x09]!, revision: buf[0x08]! };
}
