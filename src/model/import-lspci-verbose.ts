/**
 * The indented detail lines under a function in `lspci -k`/`-v`/`-vv`/`-vvv` output. Only lines whose
 * meaning is certain are read: Subsystem, Kernel driver in use, NUMA node, IOMMU group, Expansion ROM,
 * and the capability list (Express port type and DevCap FLReset, MSI, MSI-X, Power Management NoSoftRst,
 * ACSCap/ACSCtl, Advanced Features, AER). Other lspci detail lines (Region, Latency, LnkCtl...) are
 * recognised as belonging to the function and left unread; what was not read stays unknown.
 */
import { type AcsBits, type PciCapabilities, type PciePortType, emptyCapabilities } from './pci-config.js';

export interface VerboseBlock {
  subsystem: { vendorId: string; deviceId: string; name: string } | null;
  /** a Kernel driver / Kernel modules line was seen (the listing was made with -k or -v) */
  kernelLines: boolean;
  driver: string | null;
  numaNode: number | null;
  iommuGroup: number | null;
  /** -v lines (Flags/Control/Region/Capabilities) were seen: the block is verbose */
  verbose: boolean;
  hasRom: boolean;
  /** capability lines seen (null: none, so nothing is known about capabilities) */
  caps: PciCapabilities | null;
  capsDenied: boolean;
  /** an Express capability was listed but its DevCap line (FLReset) was not */
  flrUnknown: boolean;
  /** SR-IOV, ATS or Resizable BAR were listed; their details are not read from text */
  detailsUnread: string[];
}

export function emptyBlock(): VerboseBlock {
  return { subsystem: null, kernelLines: false, driver: null, numaNode: null, iommuGroup: null, verbose: false, hasRom: false, caps: null, capsDenied: false, flrUnknown: false, detailsUnread: [] };
}

const PORT: Record<string, PciePortType> = {
  'endpoint': 'endpoint', 'legacy endpoint': 'legacy-endpoint', 'root port': 'root-port', 'upstream port': 'upstream-port',
  'downstream port': 'downstream-port', 'pci-express to pci/pci-x bridge': 'pcie-to-pci-bridge', 'pci/pci-x to pci-express bridge': 'pci-to-pcie-bridge',
  'root complex integrated endpoint': 'rc-integrated-endpoint', 'root complex event collector': 'rc-event-collector',
};

/** lspci capability names -> [id, extended]. */
const CAP_IDS: [RegExp, number, boolean, string][] = [
  [/^Power Management/, 0x01, false, 'Power Management'],
  [/^Vital Product Data/, 0x03, false, 'Vital Product Data'],
  [/^MSI-X/, 0x11, false, 'MSI-X'],
  [/^MSI\b/, 0x05, false, 'MSI'],
  [/^Vendor Specific/, 0x09, false, 'Vendor Specific'],
  [/^Express/, 0x10, false, 'PCI Express'],
  [/^PCI Advanced Features/, 0x13, false, 'PCI Advanced Features'],
  [/^Subsystem/, 0x0d, false, 'Bridge subsystem vendor/device ID'],
  [/^HyperTransport/, 0x08, false, 'HyperTransport'],
  [/^Advanced Error Reporting/, 0x0001, true, 'Advanced Error Reporting'],
  [/^Virtual Channel/, 0x0002, true, 'Virtual Channel'],
  [/^Device Serial Number/, 0x0003, true, 'Device Serial Number'],
  [/^Power Budgeting/, 0x0004, true, 'Power Budgeting'],
  [/^Access Control Services/, 0x000d, true, 'Access Control Services'],
  [/^Alternative Routing-ID Interpretation/, 0x000e, true, 'Alternative Routing-ID Interpretation'],
  [/^Address Translation Service/, 0x000f, true, 'Address Translation Services'],
  [/^Single Root I\/O Virtualization/, 0x0010, true, 'Single Root I/O Virtualization'],
  [/^Page Request Interface/, 0x0013, true, 'Page Request Interface'],
  [/^(?:Physical )?Resizable BAR/, 0x0015, true, 'Resizable BAR'],
  [/^Latency Tolerance Reporting/, 0x0018, true, 'Latency Tolerance Reporting'],
  [/^Secondary PCI Express/, 0x0019, true, 'Secondary PCI Express'],
  [/^Process Address Space ID/, 0x001b, true, 'Process Address Space ID'],
  [/^Downstream Port Containment/, 0x001d, true, 'Downstream Port Containment'],
  [/^L1 PM Substates/, 0x001e, true, 'L1 PM Substates'],
  [/^Precision Time Measurement/, 0x001f, true, 'Precision Time Measurement'],
  [/^Data Link Feature/, 0x0025, true, 'Data Link Feature'],
  [/^Physical Layer 16\.0 GT\/s/, 0x0026, true, 'Physical Layer 16.0 GT/s'],
  [/^Lane Margining/, 0x0027, true, 'Lane Margining at the Receiver'],
];

function flag(text: string, name: string): boolean | null {
  const m = new RegExp(`(?:^|[\\s,(])${name}([+-])`).exec(text);
  return m ? m[1] === '+' : null;
}

function acsBits(text: string): AcsBits {
  const f = (n: string): boolean => flag(text, n) ?? false;
  return { sv: f('SrcValid'), tb: f('TransBlk'), rr: f('ReqRedir'), cr: f('CmpltRedir'), uf: f('UpstreamFwd'), ec: f('EgressCtrl'), dt: f('DirectTrans') };
}

/** Per-block reader state: the capability and register line being continued. */
export class VerboseReader {
  private cap: string | null = null;
  private key: string | null = null;
  private acsCap: AcsBits | null = null;

  constructor(readonly block: VerboseBlock) {}

  /** Read one detail line (indentation removed). false: not an lspci detail line. */
  read(line: string): boolean {
    const b = this.block;
    let m: RegExpExecArray | null;
    if ((m = /^Subsystem:\s*(.*?)\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]\s*$/.exec(line))) {
      b.subsystem = { name: m[1]!, vendorId: m[2]!.toLowerCase(), deviceId: m[3]!.toLowerCase() };
      return true;
    }
    if ((m = /^Kernel driver in use:\s*(\S+)\s*$/.exec(line))) {
      b.kernelLines = true;
      b.driver = m[1]!;
      this.cap = null;
      return true;
    }
    if (/^Kernel modules:/.test(line)) {
      b.kernelLines = true;
      this.cap = null;
      return true;
    }
    if ((m = /^NUMA node:\s*(-?\d+)\s*$/.exec(line))) {
      b.numaNode = Number(m[1]);
      return true;
    }
    if ((m = /^IOMMU group:\s*(\d+)\s*$/.exec(line))) {
      b.iommuGroup = Number(m[1]);
      return true;
    }
    if (/^Flags:/.test(line) && this.cap === null) {
      b.verbose = true;
      const g = /IOMMU group (\d+)/.exec(line);
      if (g) b.iommuGroup = Number(g[1]);
      const n = /NUMA node (\d+)/.exec(line);
      if (n) b.numaNode = Number(n[1]);
      return true;
    }
    if (/^Expansion ROM at\b/.test(line)) {
      b.verbose = true;
      b.hasRom = true;
      return true;
    }
    if (/^Capabilities:\s*<access denied>/.test(line)) {
      b.verbose = true;
      b.capsDenied = true;
      return true;
    }
    if ((m = /^Capabilities:\s*\[([0-9a-fA-F]{1,3})(?:\s+v(\d+))?\]\s*(.*)$/.exec(line))) {
      b.verbose = true;
      this.capability(parseInt(m[1]!, 16), m[3]!.trim());
      return true;
    }
    if (/^(?:Control|Status|Latency|Interrupt|Region \d+|Memory at|I\/O ports at|Bus|I\/O behind bridge|Memory behind bridge|Prefetchable memory behind bridge|Secondary status|BridgeCtl|Physical Slot|DeviceName|Product Name|Read-only fields|Read\/write fields|End)\b/.test(line) && this.cap === null) {
      b.verbose = true;
      return true;
    }
    // under a capability: lspci register lines ("DevCap:\t...", "ExtTag+ RBE+", "Count=4", "MaxPayload 256 bytes"), not prose
    if (this.cap !== null && /:|\w[+-](?=[\s,)]|$)|=|\d/.test(line)) {
      this.capabilityDetail(line);
      return true;
    }
    return false;
  }

  private capability(offset: number, text: string): void {
    const b = this.block;
    const caps = (b.caps ??= { ...emptyCapabilities(0), standardReadable: true });
    const known = CAP_IDS.find(([re]) => re.test(text));
    const extended = offset >= 0x100;
    if (extended) caps.extendedReadable = true;
    caps.list.push({ id: known?.[1] ?? -1, name: known?.[3] ?? text.split(/[:(,]/)[0]!.trim(), offset, extended });
    this.key = null;
    let m: RegExpExecArray | null;
    if ((m = /^Express \(v(\d+)\) (.+?)(?: \(Slot([+-])\))?(?:, (?:MSI|IntMsgNum) [0-9a-fA-F]+)?$/.exec(text))) {
      caps.pcie = { version: Number(m[1]), portType: PORT[m[2]!.toLowerCase()] ?? 'unknown', slot: m[3] === '+', flr: false, maxLinkSpeed: null, maxLinkWidth: null, linkSpeed: null, linkWidth: null };
      b.flrUnknown = true;
      this.cap = 'express';
    } else if ((m = /^MSI-X: Enable([+-]) Count=(\d+) Masked([+-])/.exec(text))) {
      caps.msix = { tableSize: Number(m[2]), enabled: m[1] === '+' };
      this.cap = 'msix';
    } else if ((m = /^MSI: Enable([+-]) Count=(\d+)\/(\d+) Maskable([+-]) 64bit([+-])/.exec(text))) {
      caps.msi = { vectors: Number(m[3]), addr64: m[5] === '+', maskable: m[4] === '+', enabled: m[1] === '+' };
      this.cap = 'msi';
    } else if ((m = /^Power Management version (\d+)/.exec(text))) {
      // without the Status line NoSoftRst is unknown: count it as set (no PM reset claimed)
      caps.pm = { version: Number(m[1]), d1: false, d2: false, noSoftReset: true, powerState: 'unknown' };
      this.cap = 'pm';
    } else if (/^Access Control Services/.test(text)) {
      // known only once its ACSCtl line is read (lspci -vv); until then the control bits stay unknown
      b.detailsUnread.push('Access Control Services');
      this.acsCap = null;
      this.cap = 'acs';
    } else if (/^PCI Advanced Features/.test(text)) {
      caps.af = { flr: false, tp: false };
      this.cap = 'af';
    } else if (/^Advanced Error Reporting/.test(text)) {
      caps.aer = true;
      this.cap = 'other';
    } else {
      if (/^(?:Single Root I\/O Virtualization|Address Translation Service|(?:Physical )?Resizable BAR)/.test(text)) b.detailsUnread.push(text.split(/ \(/)[0]!);
      this.cap = 'other';
    }
  }

  private capabilityDetail(line: string): void {
    const caps = this.block.caps!;
    const k = /^([A-Za-z][A-Za-z0-9]*):/.exec(line);
    if (k) this.key = k[1]!;
    const key = this.key;
    if (this.cap === 'express') {
      if (key === 'DevCap') {
        const f = flag(line, 'FLReset');
        if (f !== null) {
          caps.pcie!.flr = f;
          this.block.flrUnknown = false;
        } else if (k) {
          // DevCap seen: the FLReset flag is on its continuation line (or absent: no FLR for this type)
          this.block.flrUnknown = true;
        }
      } else if (key === 'LnkCap' && k) {
        const s = /Speed ([\d.]+GT\/s)/.exec(line);
        const w = /Width x(\d+)/.exec(line);
        caps.pcie!.maxLinkSpeed = s ? s[1]! : null;
        caps.pcie!.maxLinkWidth = w ? Number(w[1]) : null;
      } else if (key === 'LnkSta' && k) {
        const s = /Speed ([\d.]+GT\/s)/.exec(line);
        const w = /Width x(\d+)/.exec(line);
        caps.pcie!.linkSpeed = s ? s[1]! : null;
        caps.pcie!.linkWidth = w ? Number(w[1]) : null;
      } else if (k && key !== 'DevCap' && this.block.flrUnknown && caps.pcie!.portType !== 'endpoint' && caps.pcie!.portType !== 'rc-integrated-endpoint' && caps.pcie!.portType !== 'legacy-endpoint') {
        // lspci prints FLReset in DevCap only for endpoints: for ports and bridges, no FLReset means none
        caps.pcie!.flr = false;
        this.block.flrUnknown = false;
      }
    } else if (this.cap === 'pm') {
      const nsr = flag(line, 'NoSoftRst');
      if (nsr !== null) caps.pm!.noSoftReset = nsr;
      const ps = /^Status:\s*(D[0-3](?:hot|cold)?)\b/.exec(line);
      if (ps) caps.pm!.powerState = ps[1]!;
      if (key === 'Flags' && k) {
        caps.pm!.d1 = flag(line, 'D1') ?? false;
        caps.pm!.d2 = flag(line, 'D2') ?? false;
      }
    } else if (this.cap === 'acs') {
      if (key === 'ACSCap') this.acsCap = acsBits(line);
      else if (key === 'ACSCtl' && this.acsCap) {
        caps.acs = { capabilities: this.acsCap, control: acsBits(line), egressVectorSize: 0 };
        this.block.detailsUnread = this.block.detailsUnread.filter((d) => d !== 'Access Control Services');
      }
    } else if (this.cap === 'af') {
      if (key === 'AFCap') caps.af = { flr: flag(line, 'FLR') ?? false, tp: flag(line, 'TP') ?? false };
    }
  }
}
