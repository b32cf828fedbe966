/**
 * Synthetic host trees: a directory that reads like a Linux host's /sys, /proc, /etc and /dev, built from
 * a small declarative spec. Tests (and bench/) point `--root` / `HostRoot` at it and go through the
 * production code path; pciutils reads the same tree with `lspci -O sysfs.path=ROOT/sys/bus/pci`, which is
 * how test/support/host-tree.test.ts checks this builder against an independent reader.
 *
 * Layout reproduced (as drivers/pci/pci-sysfs.c, drivers/pci/iov.c, drivers/iommu/iommu.c and
 * drivers/base lay it out):
 *   sys/devices/pciDDDD:BB/                         root bus of a domain (one per root bus used)
 *   sys/devices/pciDDDD:BB/<bridge>/<fn>/           functions nested under their upstream bridge
 *   sys/bus/pci/devices/<addr>                      -> ../../../devices/pci0000:00/.../<addr>
 *   <fn>/driver                                     -> ../../(...)/bus/pci/drivers/<name>  (depth follows nesting)
 *   sys/bus/pci/drivers/<name>/<addr>               -> ../../../../devices/.../<addr>
 *   <fn>/iommu_group                                -> ../../(...)/kernel/iommu_groups/<n>
 *   sys/kernel/iommu_groups/<n>/devices/<addr>      -> ../../../../devices/.../<addr>
 *   <vf>/physfn -> ../<pf>,  <pf>/virtfnN -> ../<vf>
 *   <fn>/config                                     binary config space (header + capability lists)
 *   attribute files printed like the kernel: "0x8086\n", "(null)\n", "flr bus\n", "-1\n", ...
 * Bridges (class 0x0604/0x0609) get a type 1 header whose secondary/subordinate bus numbers are derived
 * from the functions placed behind them.
 *
 * Unreadable attributes. Tests run as root here, and root ignores file modes, so `chmod 000` alone proves
 * nothing. FnSpec.unreadable (and HostSpec.unreadableFiles) therefore default to the mechanism that fails
 * for every user: the attribute is created as an empty DIRECTORY, so reading it fails with EISDIR (and
 * readlink with EINVAL). `HostSpec.unreadableMode: 'chmod'` instead writes the real content with mode 000,
 * which only stops a non-root reader (run the reader under `setpriv --reuid=nobody` to use it).
 *
 * Departures from a live host, on purpose: `rom` and `resourceN` are empty regular files (the kernel
 * gives them the BAR size); /dev/vfio/N are empty regular files standing in for character devices; the
 * `config` of a VF carries its real IDs (hardware reads 0xffff there; the kernel's vendor/device files
 * carry the IDs either way).
 *
 * Hostile trees: HostSpec.files and HostSpec.links add arbitrary root-relative entries (junk names in
 * sys/bus/pci/devices, names with newlines, links that escape the root); see hostileDeviceEntries() in
 * topologies.ts. The KEY of such an entry must itself stay inside the root; link TARGETS are written as
 * given.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatPciAddress, parsePciAddress, type PciAddress } from '../../src/model/pci-address.js';

export interface BarSpec {
  /** BAR register index 0-5 (a 64-bit BAR also uses index + 1). */
  index: number;
  /** Size in bytes (a power of two). */
  size: number;
  kind: 'mem32' | 'mem64' | 'io';
  prefetch?: boolean;
}

export interface FnSpec {
  /** 'dddd:bb:ss.f' canonical. */
  address: string;
  vendor: number;
  device: number;
  subVendor?: number;
  subDevice?: number;
  /** 24-bit class: 0x030000 VGA, 0x040300 HDA audio, 0x060400 PCI bridge. */
  classCode: number;
  revision?: number;
  /** Bound driver name (creates drivers/NAME and the driver link). */
  driver?: string | null;
  /** driver_override content; absent/null -> "(null)". */
  driverOverride?: string | null;
  /** null/undefined -> no iommu_group link. */
  iommuGroup?: number | null;
  /** Upstream bridge address; absent -> on root bus pciDDDD:BB (VFs default to their PF's parent). */
  parent?: string;
  /** Default -1. */
  numaNode?: number;
  /** local_cpulist content; default "0-7". */
  localCpulist?: string;
  /** boot_vga file (only written for VGA class devices 0x0300xx, like the kernel). */
  bootVga?: boolean;
  /** reset_method content, e.g. ['flr','bus']; undefined -> no file; [] -> a file holding "\n". */
  resetMethod?: string[];
  d3coldAllowed?: boolean;
  /** power_state, e.g. 'D0' (also sets the PM capability's power state bits). */
  powerState?: string;
  /** Creates a 'rom' file and an expansion ROM BAR. */
  rom?: boolean;
  /** PF sysfs attributes; VFs are their own FnSpec with physfn. Implies an SR-IOV capability. */
  sriov?: { totalVfs: number; numVfs?: number };
  /** For VFs: the PF address (physfn link, virtfnN links on the PF). */
  physfn?: string;
  caps?: CapSpec;
  /** Default 4096 with caps.pcie, else 256; 64 simulates an unprivileged read. */
  configSize?: 64 | 256 | 4096;
  /** Attribute names to make unreadable (see the top of this file). */
  unreadable?: string[];
  /** BARs; default: endpoints get one 16 KiB 32-bit memory BAR, bridges and host/ISA bridges none. */
  bars?: BarSpec[];
  /** irq file; default 16 + (slot + fn) % 4 for functions with INTx, 0 for VFs. */
  irq?: number;
  /** enable file; default 1 when a driver is bound, else 0. */
  enabled?: boolean;
  /** Firmware slot label (label file, as ACPI _DSM provides on some boards). */
  label?: string;
}

export type AcsBit = 'sv' | 'tb' | 'rr' | 'cr' | 'uf' | 'ec' | 'dt';

export interface CapSpec {
  pm?: { noSoftReset?: boolean };
  msi?: { vectors?: number; addr64?: boolean; maskable?: boolean };
  msix?: { tableSize: number };
  pcie?: {
    portType: 'endpoint' | 'legacy-endpoint' | 'rc-integrated-endpoint' | 'rc-event-collector' | 'root-port' | 'upstream-port' | 'downstream-port' | 'pcie-to-pci-bridge' | 'pci-to-pcie-bridge';
    flr?: boolean;
    slot?: boolean;
    /** Link in GT/s (2.5, 5, 8, 16, 32) and lanes; default 8 GT/s x1 (current = max). */
    link?: { speedGt: number; width: number; maxSpeedGt?: number; maxWidth?: number };
  };
  /** Advanced Features capability (conventional PCI FLR). */
  af?: { flr: boolean };
  acs?: { sv?: boolean; tb?: boolean; rr?: boolean; cr?: boolean; uf?: boolean; ec?: boolean; dt?: boolean; ctrl?: Partial<Record<AcsBit, boolean>> };
  sriov?: { totalVfs: number; initialVfs?: number; numVfs?: number; vfOffset?: number; vfStride?: number; vfDeviceId?: number };
  ats?: { queueDepth?: number; enabled?: boolean };
  rebar?: { bars: { bar: number; sizesMb: number[]; currentMb: number }[] };
  aer?: boolean;
  /** Device Serial Number extended capability: the 64-bit serial as 16 hex digits (most significant first). */
  dsn?: string;
}

export interface HostSpec {
  functions: FnSpec[];
  /** sys/class/iommu entries (dmar0 / ivhd0 / the virtio-iommu function's name) and ACPI DMAR/IVRS/VIOT
   *  tables; 'none' -> neither. 'virtio' needs a virtio-iommu function (1af4:1057) in `functions`, or
   *  `virtioIommuUnit: false` for a VIOT table the kernel registered no unit for. Default: 'intel' when
   *  any function has a group, else 'none'. */
  iommu?: 'intel' | 'amd' | 'virtio' | 'none';
  /** With iommu 'virtio': whether the kernel registered the unit (default true; false: VIOT table only). */
  virtioIommuUnit?: boolean;
  /** With iommu 'none': also create an EMPTY sys/kernel/iommu_groups (what kernels built with
   *  CONFIG_IOMMU_API show when the IOMMU is off). Default false: no directory at all. */
  emptyIommuGroupsDir?: boolean;
  /** sys/kernel/iommu_groups/N/type (e.g. 'DMA', 'DMA-FQ', 'identity'); default 'DMA'. */
  groupTypes?: Record<number, string>;
  /** Extra root-relative files: 'proc/cmdline', 'etc/default/grub', ... */
  files?: Record<string, string | Buffer>;
  /** Extra root-relative symlinks (targets written as given). */
  links?: Record<string, string>;
  /** Drivers registered but not (necessarily) bound, e.g. ['vfio-pci'] when the module is loaded. */
  drivers?: string[];
  /** Root-relative non-PCI paths to make unreadable (e.g. 'proc/cmdline'). */
  unreadableFiles?: string[];
  /** How unreadable entries are made; default 'eisdir' (works against root too). */
  unreadableMode?: 'eisdir' | 'chmod';
  /** Input devices: written to proc/bus/input/devices and/or sys/class/input (see InputSpec). */
  inputs?: InputSpec[];
  /** Where the input devices appear; default 'both'. */
  inputsIn?: 'procfs' | 'sysfs' | 'both';
}

/**
 * An input device as the kernel shows it. Bitmaps are the hex text of /proc/bus/input/devices B: lines
 * (same as sys/class/input/inputN/capabilities/*): 64-bit words, most significant first.
 */
export interface InputSpec {
  /** "input3" */
  id: string;
  name: string;
  /** Parent device path under sys/, without the trailing input/inputN, e.g.
   *  "devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:046D:C31C.0001" (the USB interface). */
  parent: string;
  /** I: line fields; default Bus=0003 */
  bus?: string;
  handlers?: string[];
  ev: string;
  key?: string;
  rel?: string;
  abs?: string;
  prop?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Config space encoding

const PORT_TYPE_CODE: Record<NonNullable<CapSpec['pcie']>['portType'], number> = {
  'endpoint': 0x0, 'legacy-endpoint': 0x1, 'root-port': 0x4, 'upstream-port': 0x5, 'downstream-port': 0x6,
  'pcie-to-pci-bridge': 0x7, 'pci-to-pcie-bridge': 0x8, 'rc-integrated-endpoint': 0x9, 'rc-event-collector': 0xa,
};
const ACS_BITS: AcsBit[] = ['sv', 'tb', 'rr', 'cr', 'uf', 'ec', 'dt'];
const SPEED_CODE: Record<string, number> = { '2.5': 1, '5': 2, '8': 3, '16': 4, '32': 5, '64': 6 };
const SPEED_TEXT: Record<number, string> = { 1: '2.5 GT/s PCIe', 2: '5.0 GT/s PCIe', 3: '8.0 GT/s PCIe', 4: '16.0 GT/s PCIe', 5: '32.0 GT/s PCIe', 6: '64.0 GT/s PCIe' };

function speedCode(gt: number): number {
  const c = SPEED_CODE[String(gt)];
  if (c === undefined) throw new Error(`host-tree: unknown PCIe link speed ${gt} GT/s (use 2.5, 5, 8, 16, 32, 64)`);
  return c;
}

export function headerTypeOf(classCode: number): 0 | 1 | 2 {
  const cls = classCode >> 8;
  if (cls === 0x0604 || cls === 0x0609) return 1;
  if (cls === 0x0607) return 2;
  return 0;
}

export function isBridgeClass(classCode: number): boolean {
  return headerTypeOf(classCode) === 1;
}

/** Facts about the whole tree the encoder needs beyond the function itself. */
interface EncodeContext {
  multifunction: boolean;
  secondaryBus: number;
  subordinateBus: number;
  bars: PlacedBar[];
  romBase: number | null;
  vfOffset: number;
  vfStride: number;
  vfDeviceId: number;
  numVfs: number;
  irq: number;
  interruptPin: number;
}

interface PlacedBar extends BarSpec {
  base: number;
}

function effectiveSriovCap(fn: FnSpec): CapSpec['sriov'] | undefined {
  if (fn.caps?.sriov) return fn.caps.sriov;
  if (fn.sriov) return { totalVfs: fn.sriov.totalVfs, ...(fn.sriov.numVfs !== undefined ? { numVfs: fn.sriov.numVfs } : {}) };
  return undefined;
}

function defaultConfigSize(fn: FnSpec): 256 | 4096 {
  return fn.caps?.pcie ? 4096 : 256;
}

function powerStateBits(ps: string | undefined): number {
  switch (ps) {
    case 'D1': return 1;
    case 'D2': return 2;
    case 'D3hot': case 'D3cold': case 'D3': return 3;
    default: return 0;
  }
}

/** Encode a function's config space in isolation (no topology: single function, bus numbers 0). */
export function encodeConfigSpace(fn: FnSpec): Buffer {
  const a = requireAddress(fn.address);
  return encodeWith(fn, a, {
    multifunction: false, secondaryBus: 0, subordinateBus: 0, bars: placeBarsStandalone(fn), romBase: fn.rom ? 0xfe000000 : null,
    vfOffset: 0x80, vfStride: 1, vfDeviceId: fn.device, numVfs: 0, irq: fn.irq ?? 16, interruptPin: fn.physfn ? 0 : 1,
  });
}

function placeBarsStandalone(fn: FnSpec): PlacedBar[] {
  const alloc = new BarAllocator();
  return alloc.place(defaultBars(fn));
}

function encodeWith(fn: FnSpec, a: PciAddress, ctx: EncodeContext): Buffer {
  const caps = fn.caps ?? {};
  const size = fn.configSize ?? defaultConfigSize(fn);
  const full = Buffer.alloc(4096);
  const hdr = headerTypeOf(fn.classCode);
  const bound = fn.driver != null;

  full.writeUInt16LE(fn.vendor & 0xffff, 0x00);
  full.writeUInt16LE(fn.device & 0xffff, 0x02);
  const hasIo = ctx.bars.some((b) => b.kind === 'io');
  const command = hdr === 1 ? 0x0007 : bound ? 0x0406 | (hasIo ? 0x1 : 0) : 0x0002;
  full.writeUInt16LE(command, 0x04);
  full.writeUInt8((fn.revision ?? 0) & 0xff, 0x08);
  full.writeUInt8(fn.classCode & 0xff, 0x09);
  full.writeUInt8((fn.classCode >> 8) & 0xff, 0x0a);
  full.writeUInt8((fn.classCode >> 16) & 0xff, 0x0b);
  full.writeUInt8(0x10, 0x0c); // cache line size (64 bytes)
  full.writeUInt8(hdr | (ctx.multifunction ? 0x80 : 0), 0x0e);

  // BARs
  const barRegs = hdr === 0 ? 6 : hdr === 1 ? 2 : 0;
  for (const b of ctx.bars) {
    if (b.index >= barRegs) throw new Error(`host-tree: ${fn.address}: BAR ${b.index} does not exist in a type ${hdr} header`);
    const off = 0x10 + 4 * b.index;
    if (b.kind === 'io') full.writeUInt32LE(((b.base & 0xfffffffc) | 0x1) >>> 0, off);
    else {
      const low = (b.base % 0x100000000) & 0xfffffff0;
      const flags = (b.kind === 'mem64' ? 0x4 : 0) | (b.prefetch ? 0x8 : 0);
      full.writeUInt32LE((low | flags) >>> 0, off);
      if (b.kind === 'mem64') {
        if (b.index + 1 >= barRegs) throw new Error(`host-tree: ${fn.address}: 64-bit BAR ${b.index} needs BAR ${b.index + 1}`);
        full.writeUInt32LE(Math.floor(b.base / 0x100000000) >>> 0, off + 4);
      }
    }
  }

  if (hdr === 0) {
    full.writeUInt16LE((fn.subVendor ?? 0) & 0xffff, 0x2c);
    full.writeUInt16LE((fn.subDevice ?? 0) & 0xffff, 0x2e);
    if (ctx.romBase !== null) full.writeUInt32LE(ctx.romBase >>> 0, 0x30); // enable bit clear: [disabled]
  } else if (hdr === 1) {
    full.writeUInt8(a.bus, 0x18);
    full.writeUInt8(ctx.secondaryBus, 0x19);
    full.writeUInt8(ctx.subordinateBus, 0x1a);
    // Closed windows (base > limit): the bridge forwards nothing the tree needs to show.
    full.writeUInt8(0xf0, 0x1c);
    full.writeUInt8(0x00, 0x1d);
    full.writeUInt16LE(0xfff0, 0x20);
    full.writeUInt16LE(0x0000, 0x22);
    full.writeUInt16LE(0xfff1, 0x24);
    full.writeUInt16LE(0x0001, 0x26);
    if (ctx.romBase !== null) full.writeUInt32LE(ctx.romBase >>> 0, 0x38);
    full.writeUInt16LE(0x0010, 0x3e); // bridge control: VGA16
  }
  full.writeUInt8(ctx.irq & 0xff, 0x3c);
  full.writeUInt8(ctx.interruptPin, 0x3d);

  // ----- standard capability list -----
  const std: { id: number; len: number; fill(o: number): void }[] = [];
  if (caps.pm) {
    const pm = caps.pm;
    std.push({
      id: 0x01, len: 8, fill(o) {
        // PMC: version 3, D1/D2 support, PME from D0/D3hot/D3cold
        full.writeUInt16LE(0x0003 | (1 << 9) | (1 << 10) | (0b11001 << 11), o + 2);
        full.writeUInt16LE((pm.noSoftReset ? 0x0008 : 0) | powerStateBits(fn.powerState), o + 4);
      },
    });
  }
  if (caps.msi) {
    const msi = caps.msi;
    std.push({
      id: 0x05, len: 24, fill(o) {
        const vectors = msi.vectors ?? 1;
        const mmc = Math.min(5, Math.max(0, Math.ceil(Math.log2(Math.max(1, vectors)))));
        if (2 ** mmc !== vectors) throw new Error(`host-tree: ${fn.address}: MSI vectors must be 1, 2, 4, 8, 16 or 32 (got ${vectors})`);
        const ctl = (mmc << 1) | ((msi.addr64 ?? true) ? 0x80 : 0) | (msi.maskable ? 0x100 : 0) | (bound && !caps.msix ? 0x1 : 0);
        full.writeUInt16LE(ctl, o + 2);
      },
    });
  }
  if (caps.pcie) {
    const p = caps.pcie;
    std.push({
      id: 0x10, len: 0x3c, fill(o) {
        const type = PORT_TYPE_CODE[p.portType];
        const slotOk = p.portType === 'root-port' || p.portType === 'downstream-port';
        if (p.slot && !slotOk) throw new Error(`host-tree: ${fn.address}: only root and downstream ports have slots`);
        full.writeUInt16LE(0x0002 | (type << 4) | (p.slot ? 0x100 : 0), o + 2);
        // Device Capabilities: MaxPayload 256, ExtTag, RBE (bit 15), FLR (bit 28)
        const devcap = 0x1 | (1 << 5) | (1 << 15) | (p.flr ? 1 << 28 : 0);
        full.writeUInt32LE(devcap >>> 0, o + 4);
        full.writeUInt16LE(0x2810 | (0 << 5), o + 8); // DevCtl: RlxdOrd, ExtTag, MaxReadReq 512
        const hasLink = p.portType !== 'rc-integrated-endpoint' && p.portType !== 'rc-event-collector';
        if (hasLink) {
          const link = p.link ?? { speedGt: 8, width: 1 };
          const maxS = speedCode(link.maxSpeedGt ?? link.speedGt);
          const curS = speedCode(link.speedGt);
          const maxW = link.maxWidth ?? link.width;
          const portNo = a.slot; // port number: any stable value
          full.writeUInt32LE((maxS | (maxW << 4) | (0x3 << 10) | (portNo << 24)) >>> 0, o + 0x0c);
          full.writeUInt16LE(curS | (link.width << 4), o + 0x12);
          // Link Capabilities 2: supported speeds vector bits 7:1 up to the max speed
          let vec = 0;
          for (let s = 1; s <= maxS; s++) vec |= 1 << s;
          full.writeUInt32LE(vec, o + 0x2c);
          full.writeUInt16LE(maxS, o + 0x30); // Link Control 2: target speed
        }
        if (p.slot) {
          // Slot Capabilities: no hot-plug, physical slot number in bits 31:19
          const slotNo = (a.bus * 8 + a.slot) & 0x1fff;
          full.writeUInt32LE((slotNo << 19) >>> 0, o + 0x14);
          full.writeUInt16LE(0x0040, o + 0x1a); // Slot Status: presence detect state
        }
        full.writeUInt32LE(0x00000010, o + 0x24); // DevCap2: completion timeout disable supported
      },
    });
  }
  if (caps.msix) {
    const mx = caps.msix;
    std.push({
      id: 0x11, len: 12, fill(o) {
        if (mx.tableSize < 1 || mx.tableSize > 2048) throw new Error(`host-tree: ${fn.address}: MSI-X table size must be 1..2048`);
        full.writeUInt16LE(((mx.tableSize - 1) & 0x7ff) | (bound ? 0x8000 : 0), o + 2);
        full.writeUInt32LE(0x00000000, o + 4); // table at BAR0 offset 0
        full.writeUInt32LE(0x00000800, o + 8); // PBA at BAR0 offset 0x800
      },
    });
  }
  if (caps.af) {
    const af = caps.af;
    std.push({
      id: 0x13, len: 8, fill(o) {
        full.writeUInt8(0x06, o + 2); // length
        full.writeUInt8(0x01 | (af.flr ? 0x02 : 0), o + 3); // TP + FLR
      },
    });
  }
  if (hdr === 1 && (fn.subVendor !== undefined || fn.subDevice !== undefined)) {
    std.push({
      id: 0x0d, len: 8, fill(o) {
        full.writeUInt16LE((fn.subVendor ?? 0) & 0xffff, o + 4);
        full.writeUInt16LE((fn.subDevice ?? 0) & 0xffff, o + 6);
      },
    });
  }
  let off = 0x40;
  let prev = 0x34;
  for (const c of std) {
    full.writeUInt8(off, prev);
    full.writeUInt8(c.id, off);
    full.writeUInt8(0, off + 1);
    c.fill(off);
    prev = off + 1;
    off += (c.len + 3) & ~3;
  }
  if (off > 0x100) throw new Error(`host-tree: ${fn.address}: standard capabilities overflow 256 bytes`);
  if (std.length) full.writeUInt16LE(full.readUInt16LE(0x06) | 0x0010, 0x06);

  // ----- extended capability list (0x100+) -----
  const ext: { id: number; ver: number; len: number; fill(o: number): void }[] = [];
  if (caps.aer) {
    const rootPort = caps.pcie?.portType === 'root-port' || caps.pcie?.portType === 'rc-event-collector';
    ext.push({
      id: 0x0001, ver: 2, len: rootPort ? 0x48 : 0x38, fill(o) {
        full.writeUInt32LE(0x00462030, o + 0x0c); // uncorrectable severity (spec default)
        full.writeUInt32LE(0x0000e000, o + 0x14); // correctable mask: advisory non-fatal etc.
        full.writeUInt32LE(0x000000a0, o + 0x18); // capabilities & control: ECRC gen/check capable
      },
    });
  }
  if (caps.acs) {
    const acs = caps.acs;
    ext.push({
      id: 0x000d, ver: 1, len: 8, fill(o) {
        let cap = 0;
        let ctl = 0;
        ACS_BITS.forEach((bit, i) => {
          if (acs[bit]) cap |= 1 << i;
          if (acs.ctrl?.[bit]) ctl |= 1 << i;
        });
        full.writeUInt16LE(cap, o + 4);
        full.writeUInt16LE(ctl, o + 6);
      },
    });
  }
  const sriov = effectiveSriovCap(fn);
  if (sriov) {
    ext.push({
      id: 0x0010, ver: 1, len: 0x40, fill(o) {
        const numVfs = sriov.numVfs ?? ctx.numVfs;
        full.writeUInt32LE(0x00000000, o + 0x04); // SR-IOV capabilities
        full.writeUInt16LE(numVfs > 0 ? 0x0019 : 0x0010, o + 0x08); // VF Enable, VF MSE, ARI hierarchy
        full.writeUInt16LE(sriov.initialVfs ?? sriov.totalVfs, o + 0x0c);
        full.writeUInt16LE(sriov.totalVfs, o + 0x0e);
        full.writeUInt16LE(numVfs, o + 0x10);
        full.writeUInt8(a.fn, o + 0x12);
        full.writeUInt16LE(sriov.vfOffset ?? ctx.vfOffset, o + 0x14);
        full.writeUInt16LE(sriov.vfStride ?? ctx.vfStride, o + 0x16);
        full.writeUInt16LE(sriov.vfDeviceId ?? ctx.vfDeviceId, o + 0x1a);
        full.writeUInt32LE(0x00000553, o + 0x1c); // supported page sizes
        full.writeUInt32LE(0x00000001, o + 0x20); // system page size 4K
        full.writeUInt32LE(0x0000000c, o + 0x24); // VF BAR0: 64-bit prefetchable
      },
    });
  }
  if (caps.ats) {
    const ats = caps.ats;
    ext.push({
      id: 0x000f, ver: 1, len: 8, fill(o) {
        const depth = ats.queueDepth ?? 0;
        if (depth < 0 || depth > 31) throw new Error(`host-tree: ${fn.address}: ATS queue depth must be 0..31`);
        full.writeUInt16LE(depth | 0x20, o + 4); // page aligned request
        full.writeUInt16LE(ats.enabled ? 0x8000 : 0, o + 6);
      },
    });
  }
  if (caps.rebar) {
    const rb = caps.rebar;
    if (rb.bars.length < 1 || rb.bars.length > 6) throw new Error(`host-tree: ${fn.address}: Resizable BAR needs 1..6 BARs`);
    ext.push({
      id: 0x0015, ver: 1, len: 4 + 8 * rb.bars.length, fill(o) {
        rb.bars.forEach((b, i) => {
          let sizes = 0;
          for (const mb of b.sizesMb) {
            const bit = Math.log2(mb);
            if (!Number.isInteger(bit) || bit < 0 || bit > 27) throw new Error(`host-tree: ${fn.address}: ReBAR size ${mb} MB is not 2^n MB (1 MB .. 128 TB)`);
            sizes |= 1 << (bit + 4);
          }
          const cur = Math.log2(b.currentMb);
          if (!b.sizesMb.includes(b.currentMb)) throw new Error(`host-tree: ${fn.address}: ReBAR current size ${b.currentMb} MB is not among the supported sizes`);
          full.writeUInt32LE(sizes >>> 0, o + 4 + 8 * i);
          const ctl = (b.bar & 0x7) | (i === 0 ? rb.bars.length << 5 : 0) | (cur << 8);
          full.writeUInt32LE(ctl >>> 0, o + 8 + 8 * i);
        });
      },
    });
  }
  if (caps.dsn) {
    const dsn = caps.dsn;
    if (!/^[0-9a-fA-F]{16}$/.test(dsn)) throw new Error(`host-tree: ${fn.address}: DSN must be 16 hex digits`);
    ext.push({
      id: 0x0003, ver: 1, len: 12, fill(o) {
        full.writeUInt32LE(parseInt(dsn.slice(8), 16) >>> 0, o + 4);
        full.writeUInt32LE(parseInt(dsn.slice(0, 8), 16) >>> 0, o + 8);
      },
    });
  }
  let eoff = 0x100;
  let eprev = -1;
  for (const c of ext) {
    if (eprev >= 0) {
      const h = full.readUInt32LE(eprev);
      full.writeUInt32LE(((h & 0xfffff) | (eoff << 20)) >>> 0, eprev);
    }
    full.writeUInt32LE((c.id | (c.ver << 16)) >>> 0, eoff);
    c.fill(eoff);
    eprev = eoff;
    eoff += (c.len + 3) & ~3;
  }
  if (eoff > 0x1000) throw new Error(`host-tree: ${fn.address}: extended capabilities overflow 4096 bytes`);

  return Buffer.from(full.subarray(0, size));
}

// ---------------------------------------------------------------------------------------------------------
// BAR placement

const MEM32_BASE = 0xc0000000;
const MEM64_BASE = 0x4000000000;
const IO_BASE = 0x2000;

class BarAllocator {
  private mem32 = MEM32_BASE;
  private mem64 = MEM64_BASE;
  private io = IO_BASE;

  take(kind: BarSpec['kind'] | 'rom', size: number): number {
    const align = (v: number): number => Math.ceil(v / size) * size;
    if (kind === 'io') {
      const b = align(this.io);
      this.io = b + size;
      return b;
    }
    if (kind === 'mem64') {
      const b = align(this.mem64);
      this.mem64 = b + size;
      return b;
    }
    const b = align(this.mem32);
    this.mem32 = b + size;
    return b;
  }

  place(bars: BarSpec[]): PlacedBar[] {
    return bars.map((b) => {
      if (!Number.isInteger(Math.log2(b.size)) || b.size < (b.kind === 'io' ? 4 : 16)) {
        throw new Error(`host-tree: BAR ${b.index} size ${b.size} is not a power of two of at least ${b.kind === 'io' ? 4 : 16}`);
      }
      return { ...b, base: this.take(b.kind, b.size) };
    });
  }
}

function defaultBars(fn: FnSpec): BarSpec[] {
  if (fn.bars) return fn.bars;
  const hdr = headerTypeOf(fn.classCode);
  const cls = fn.classCode >> 8;
  if (hdr !== 0 || cls === 0x0600 || cls === 0x0601) return [];
  return [{ index: 0, size: 16 * 1024, kind: 'mem32' }];
}

const RES_FLAGS = { mem32: 0x40200, mem32pf: 0x42208, mem64: 0x140204, mem64pf: 0x14220c, io: 0x40101, rom: 0x46200 };

function resourceLines(hdr: number, bars: PlacedBar[], rom: { base: number; size: number } | null): string {
  const count = hdr === 1 ? 17 : 13;
  const lines: [number, number, number][] = Array.from({ length: count }, () => [0, 0, 0]);
  for (const b of bars) {
    const flags = b.kind === 'io' ? RES_FLAGS.io : b.kind === 'mem64' ? (b.prefetch ? RES_FLAGS.mem64pf : RES_FLAGS.mem64) : (b.prefetch ? RES_FLAGS.mem32pf : RES_FLAGS.mem32);
    lines[b.index] = [b.base, b.base + b.size - 1, flags];
  }
  if (rom) lines[6] = [rom.base, rom.base + rom.size - 1, RES_FLAGS.rom];
  const h = (n: number): string => '0x' + n.toString(16).padStart(16, '0');
  return lines.map(([s, e, f]) => `${h(s)} ${h(e)} ${h(f)}\n`).join('');
}

// ---------------------------------------------------------------------------------------------------------
// Tree building

function requireAddress(s: string): PciAddress {
  const r = parsePciAddress(s);
  if (!r.ok || formatPciAddress(r.value) !== s) {
    throw new Error(`host-tree: ${JSON.stringify(s)} is not a canonical PCI address (dddd:bb:ss.f, lowercase)`);
  }
  return r.value;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const rid = (a: PciAddress): number => (a.bus << 8) | (a.slot << 3) | a.fn;

/** Module names for PCI driver names that differ from their module (null: built into the kernel). */
const DRIVER_MODULE: Record<string, string | null> = {
  'xhci_hcd': 'xhci_pci', 'ehci-pci': 'ehci_pci', 'ohci-pci': 'ohci_pci', 'uhci_hcd': 'uhci_hcd',
  'i801_smbus': 'i2c_i801', 'piix4_smbus': 'i2c_piix4', 'vfio-pci': 'vfio_pci', 'pcieport': null,
  'shpchp': null, 'agpgart-intel': 'intel_agp', 'ahci': 'ahci', 'nvme': 'nvme', 'ixgbevf': 'ixgbevf',
};

function moduleOf(driver: string): string | null {
  return driver in DRIVER_MODULE ? (DRIVER_MODULE[driver] ?? null) : driver.replace(/-/g, '_');
}

interface Node {
  fn: FnSpec;
  addr: PciAddress;
  /** Path below sys/, e.g. devices/pci0000:00/0000:00:01.0/0000:01:00.0 */
  sysRel: string;
  children: Node[];
  vfs: Node[];
  secondary: number;
  subordinate: number;
}

/** Validate a root-relative key of files/links: it must stay inside the root. */
function safeKey(key: string): string {
  const segs = key.split('/');
  if (key.startsWith('/') || segs.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) {
    throw new Error(`host-tree: extra entry ${JSON.stringify(key)} must be a root-relative path without "..", "." or empty segments`);
  }
  return path.join(...segs);
}

function writeText(p: string, s: string | Buffer): void {
  fs.writeFileSync(p, s);
}

function link(at: string, target: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(target, at);
}

/** Relative symlink text from the directory holding `fromAbsDir` to `toAbs`. */
function rel(fromAbsDir: string, toAbs: string): string {
  return path.relative(fromAbsDir, toAbs);
}

/** Build the tree for `spec` under `dir` (created if needed; existing content is not removed). */
export function buildHostTree(dir: string, spec: HostSpec): void {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  const sys = path.join(root, 'sys');

  // ----- validate and index -----
  const nodes = new Map<string, Node>();
  for (const fn of spec.functions) {
    const addr = requireAddress(fn.address);
    if (nodes.has(fn.address)) throw new Error(`host-tree: ${fn.address} is listed twice`);
    nodes.set(fn.address, { fn, addr, sysRel: '', children: [], vfs: [], secondary: 0, subordinate: 0 });
  }
  const parentOf = (n: Node): Node | null => {
    let p = n.fn.parent;
    if (p === undefined && n.fn.physfn !== undefined) {
      const pf = nodes.get(n.fn.physfn);
      if (!pf) throw new Error(`host-tree: ${n.fn.address}: physfn ${n.fn.physfn} is not in the spec`);
      p = pf.fn.parent;
    }
    if (p === undefined) return null;
    const pn = nodes.get(p);
    if (!pn) throw new Error(`host-tree: ${n.fn.address}: parent ${p} is not in the spec`);
    if (!isBridgeClass(pn.fn.classCode)) throw new Error(`host-tree: ${n.fn.address}: parent ${p} is not a PCI bridge (class 0x0604xx/0x0609xx)`);
    if (pn.addr.domain !== n.addr.domain) throw new Error(`host-tree: ${n.fn.address}: parent ${p} is in another domain`);
    return pn;
  };
  const roots: Node[] = [];
  for (const n of nodes.values()) {
    const p = parentOf(n);
    if (p) p.children.push(n);
    else roots.push(n);
    if (n.fn.physfn !== undefined) {
      const pf = nodes.get(n.fn.physfn);
      if (!pf) throw new Error(`host-tree: ${n.fn.address}: physfn ${n.fn.physfn} is not in the spec`);
      if (pf.fn.physfn !== undefined) throw new Error(`host-tree: ${n.fn.address}: physfn ${n.fn.physfn} is itself a VF`);
      pf.vfs.push(n);
    }
  }
  // Cycle check: every node must be reachable from a root.
  const seen = new Set<Node>();
  const walk = (n: Node, prefix: string): void => {
    seen.add(n);
    n.sysRel = `${prefix}/${n.fn.address}`;
    for (const c of n.children) walk(c, n.sysRel);
  };
  for (const r of roots) walk(r, `devices/pci${hex(r.addr.domain, 4)}:${hex(r.addr.bus, 2)}`);
  if (seen.size !== nodes.size) {
    const lost = [...nodes.values()].filter((n) => !seen.has(n)).map((n) => n.fn.address);
    throw new Error(`host-tree: parent links form a cycle: ${lost.join(', ')}`);
  }

  // Bus numbers: a bridge's secondary bus is its (non-VF) children's bus; empty bridges get a free bus.
  const usedBuses = new Map<number, Set<number>>();
  const used = (d: number): Set<number> => {
    let s = usedBuses.get(d);
    if (!s) usedBuses.set(d, (s = new Set()));
    return s;
  };
  for (const n of nodes.values()) used(n.addr.domain).add(n.addr.bus);
  for (const n of nodes.values()) {
    if (!isBridgeClass(n.fn.classCode)) continue;
    const direct = n.children.filter((c) => c.fn.physfn === undefined);
    const buses = new Set(direct.map((c) => c.addr.bus));
    if (buses.size > 1) throw new Error(`host-tree: bridge ${n.fn.address} has children on several buses (${[...buses].map((b) => hex(b, 2)).join(', ')}); functions behind one bridge share its secondary bus`);
    if (buses.size === 1) n.secondary = [...buses][0] as number;
    else n.secondary = -1;
    if (n.secondary === n.addr.bus) throw new Error(`host-tree: bridge ${n.fn.address}: a child cannot be on the bridge's own bus ${hex(n.addr.bus, 2)}`);
  }
  for (const n of nodes.values()) {
    if (!isBridgeClass(n.fn.classCode) || n.secondary >= 0) continue;
    const u = used(n.addr.domain);
    let b = n.addr.bus + 1;
    while (u.has(b) && b < 256) b++;
    if (b > 255) throw new Error(`host-tree: no free bus number for empty bridge ${n.fn.address}`);
    u.add(b);
    n.secondary = b;
  }
  const secondaryOwner = new Map<string, string>();
  for (const n of nodes.values()) {
    if (!isBridgeClass(n.fn.classCode)) continue;
    const key = `${n.addr.domain}:${n.secondary}`;
    const other = secondaryOwner.get(key);
    if (other) throw new Error(`host-tree: bridges ${other} and ${n.fn.address} both lead to bus ${hex(n.secondary, 2)}`);
    secondaryOwner.set(key, n.fn.address);
  }
  const subordinate = (n: Node): number => {
    let m = n.secondary;
    for (const c of n.children) {
      m = Math.max(m, c.addr.bus);
      if (isBridgeClass(c.fn.classCode)) m = Math.max(m, subordinate(c));
    }
    n.subordinate = m;
    return m;
  };
  for (const r of roots) if (isBridgeClass(r.fn.classCode)) subordinate(r);
  for (const n of nodes.values()) if (isBridgeClass(n.fn.classCode) && n.subordinate === 0) subordinate(n);

  // Slots with more than one function (VFs do not count).
  const slotCount = new Map<string, number>();
  for (const n of nodes.values()) {
    if (n.fn.physfn !== undefined) continue;
    const k = `${n.addr.domain}:${n.addr.bus}:${n.addr.slot}`;
    slotCount.set(k, (slotCount.get(k) ?? 0) + 1);
  }

  const iommu = spec.iommu ?? ([...nodes.values()].some((n) => n.fn.iommuGroup != null) ? 'intel' : 'none');
  const groups = new Map<number, Node[]>();
  for (const n of nodes.values()) {
    const g = n.fn.iommuGroup;
    if (g == null) continue;
    if (!Number.isInteger(g) || g < 0) throw new Error(`host-tree: ${n.fn.address}: bad IOMMU group ${g}`);
    if (iommu === 'none') throw new Error(`host-tree: ${n.fn.address} has IOMMU group ${g} but the spec says iommu: 'none'`);
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(n);
  }
  for (const g of Object.keys(spec.groupTypes ?? {})) if (!groups.has(Number(g))) groups.set(Number(g), []);

  // ----- write -----
  const mode = spec.unreadableMode ?? 'eisdir';
  const mkdir = (p: string): void => void fs.mkdirSync(p, { recursive: true });
  mkdir(path.join(sys, 'bus/pci/devices'));
  mkdir(path.join(sys, 'bus/pci/drivers'));
  mkdir(path.join(sys, 'bus/pci/slots'));
  writeText(path.join(sys, 'bus/pci/drivers_autoprobe'), '1\n');
  writeText(path.join(sys, 'bus/pci/drivers_probe'), '');
  writeText(path.join(sys, 'bus/pci/rescan'), '');
  writeText(path.join(sys, 'bus/pci/resource_alignment'), '\n');
  writeText(path.join(sys, 'bus/pci/uevent'), '');

  const drivers = new Set<string>(spec.drivers ?? []);
  for (const n of nodes.values()) if (n.fn.driver) drivers.add(n.fn.driver);
  for (const d of drivers) {
    if (!/^[A-Za-z0-9_.-]+$/.test(d)) throw new Error(`host-tree: driver name ${JSON.stringify(d)} is not a plausible kernel driver name`);
    const dd = path.join(sys, 'bus/pci/drivers', d);
    mkdir(dd);
    for (const f of ['bind', 'unbind', 'new_id', 'remove_id', 'uevent']) writeText(path.join(dd, f), '');
    const mod = moduleOf(d);
    if (mod) {
      const md = path.join(sys, 'module', mod);
      mkdir(path.join(md, 'drivers'));
      writeText(path.join(md, 'initstate'), 'live\n');
      writeText(path.join(md, 'refcnt'), '0\n');
      link(path.join(dd, 'module'), rel(dd, md));
      link(path.join(md, 'drivers', `pci:${d}`), rel(path.join(md, 'drivers'), dd));
    }
  }

  const rootBuses = new Set<string>();
  for (const r of roots) rootBuses.add(`pci${hex(r.addr.domain, 4)}:${hex(r.addr.bus, 2)}`);
  for (const rb of rootBuses) {
    const d = path.join(sys, 'devices', rb);
    mkdir(path.join(d, 'power'));
    writeText(path.join(d, 'uevent'), '');
    const busName = rb.slice(3);
    const pb = path.join(d, 'pci_bus', busName);
    mkdir(pb);
    writeText(path.join(pb, 'cpulistaffinity'), '0-7\n');
    writeText(path.join(pb, 'cpuaffinity'), 'ff\n');
    writeText(path.join(pb, 'rescan'), '');
  }

  // IOMMU hardware units
  let iommuDevAbs: string | null = null;
  if (iommu === 'intel') {
    iommuDevAbs = path.join(sys, 'devices/virtual/iommu/dmar0');
    mkdir(path.join(iommuDevAbs, 'intel-iommu'));
    mkdir(path.join(iommuDevAbs, 'devices'));
    writeText(path.join(iommuDevAbs, 'intel-iommu/version'), '1:0\n');
    writeText(path.join(iommuDevAbs, 'intel-iommu/cap'), 'd2008c40660462\n');
    writeText(path.join(iommuDevAbs, 'intel-iommu/ecap'), 'f050da\n');
    writeText(path.join(iommuDevAbs, 'intel-iommu/address'), 'fed90000\n');
    link(path.join(sys, 'class/iommu/dmar0'), '../../devices/virtual/iommu/dmar0');
    writeText(mkparent(path.join(sys, 'firmware/acpi/tables/DMAR')), acpiTable('DMAR', 0x58));
  } else if (iommu === 'amd') {
    const amdFn = [...nodes.values()].find((n) => n.fn.classCode >> 8 === 0x0806);
    iommuDevAbs = amdFn ? path.join(sys, amdFn.sysRel, 'iommu/ivhd0') : path.join(sys, 'devices/virtual/iommu/ivhd0');
    mkdir(path.join(iommuDevAbs, 'amd-iommu'));
    mkdir(path.join(iommuDevAbs, 'devices'));
    writeText(path.join(iommuDevAbs, 'amd-iommu/cap'), '190b3\n');
    writeText(path.join(iommuDevAbs, 'amd-iommu/features'), '58f77ef22294a5a\n');
    link(path.join(sys, 'class/iommu/ivhd0'), rel(path.join(sys, 'class/iommu'), iommuDevAbs));
    writeText(mkparent(path.join(sys, 'firmware/acpi/tables/IVRS')), acpiTable('IVRS', 0x30));
  } else if (iommu === 'virtio') {
    // virtio-iommu (drivers/iommu/virtio-iommu.c) registers its unit under the virtio device, named after the
    // PCI function: devices/pci0000:00/0000:00:02.0/virtio0/iommu/0000:00:02.0
    if (spec.virtioIommuUnit !== false) {
      const vFn = [...nodes.values()].find((n) => n.fn.vendor === 0x1af4 && n.fn.device === 0x1057);
      if (!vFn) throw new Error("host-tree: iommu 'virtio' needs a virtio-iommu function (1af4:1057)");
      iommuDevAbs = path.join(sys, vFn.sysRel, 'virtio0/iommu', vFn.fn.address);
      mkdir(path.join(iommuDevAbs, 'devices'));
      link(path.join(sys, 'class/iommu', vFn.fn.address), rel(path.join(sys, 'class/iommu'), iommuDevAbs));
    }
    writeText(mkparent(path.join(sys, 'firmware/acpi/tables/VIOT')), acpiTable('VIOT', 0x58));
  }
  if (groups.size > 0 || spec.emptyIommuGroupsDir || iommu !== 'none') mkdir(path.join(sys, 'kernel/iommu_groups'));
  for (const [g, members] of groups) {
    const gd = path.join(sys, 'kernel/iommu_groups', String(g));
    mkdir(path.join(gd, 'devices'));
    writeText(path.join(gd, 'type'), `${spec.groupTypes?.[g] ?? 'DMA'}\n`);
    writeText(path.join(gd, 'reserved_regions'), '0x00000000fee00000 0x00000000feefffff msi\n');
    for (const m of members) link(path.join(gd, 'devices', m.fn.address), rel(path.join(gd, 'devices'), path.join(sys, m.sysRel)));
  }

  // Functions, parents first (sorted by depth) so directories nest.
  const alloc = new BarAllocator();
  const ordered = [...nodes.values()].sort((x, y) => x.sysRel.split('/').length - y.sysRel.split('/').length || (x.sysRel < y.sysRel ? -1 : 1));
  for (const n of ordered) writeFunction(sys, n, {
    alloc, iommuDevAbs, slotCount, nodes, mode,
  });

  // /dev/vfio for groups held by vfio-pci
  const vfioGroups = new Set<number>();
  for (const n of nodes.values()) if (n.fn.driver === 'vfio-pci' && n.fn.iommuGroup != null) vfioGroups.add(n.fn.iommuGroup);
  if (vfioGroups.size > 0) {
    mkdir(path.join(root, 'dev/vfio'));
    writeText(path.join(root, 'dev/vfio/vfio'), '');
    for (const g of vfioGroups) writeText(path.join(root, 'dev/vfio', String(g)), '');
  }

  // Input devices
  if (spec.inputs?.length) {
    const where = spec.inputsIn ?? 'both';
    if (where !== 'sysfs') {
      const blocks = spec.inputs.map((d) => [
        `I: Bus=${d.bus ?? '0003'} Vendor=0000 Product=0000 Version=0000`,
        `N: Name="${d.name}"`,
        `P: Phys=${d.id}`,
        `S: Sysfs=/${d.parent}/input/${d.id}`,
        'U: Uniq=',
        `H: Handlers=${(d.handlers ?? ['event0']).join(' ')} `,
        `B: PROP=${d.prop ?? '0'}`,
        `B: EV=${d.ev}`,
        ...(d.key !== undefined ? [`B: KEY=${d.key}`] : []),
        ...(d.rel !== undefined ? [`B: REL=${d.rel}`] : []),
        ...(d.abs !== undefined ? [`B: ABS=${d.abs}`] : []),
        '',
      ].join('\n'));
      const p = path.join(root, 'proc/bus/input/devices');
      mkdir(path.dirname(p));
      writeText(p, `${blocks.join('\n')}\n`);
    }
    if (where !== 'procfs') {
      mkdir(path.join(sys, 'class/input'));
      for (const d of spec.inputs) {
        const dir = path.join(sys, safeKey(d.parent), 'input', d.id);
        mkdir(path.join(dir, 'capabilities'));
        writeText(path.join(dir, 'name'), `${d.name}\n`);
        writeText(path.join(dir, 'properties'), `${d.prop ?? '0'}\n`);
        for (const [k, v] of [['ev', d.ev], ['key', d.key ?? '0'], ['rel', d.rel ?? '0'], ['abs', d.abs ?? '0']] as const) writeText(path.join(dir, 'capabilities', k), `${v}\n`);
        link(path.join(sys, 'class/input', d.id), path.relative(path.join(sys, 'class/input'), dir));
      }
    }
  }

  // Extra entries
  for (const [k, v] of Object.entries(spec.files ?? {})) {
    const p = path.join(root, safeKey(k));
    mkdir(path.dirname(p));
    writeText(p, v);
  }
  for (const [k, target] of Object.entries(spec.links ?? {})) {
    const p = path.join(root, safeKey(k));
    fs.rmSync(p, { force: true, recursive: true });
    link(p, target);
  }
  for (const k of spec.unreadableFiles ?? []) makeUnreadable(path.join(root, safeKey(k)), mode);
}

function mkparent(p: string): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  return p;
}

/** A minimal ACPI table: the 36-byte header with signature, length, revision, OEM ids and checksum. */
function acpiTable(sig: string, length: number): Buffer {
  const b = Buffer.alloc(length);
  b.write(sig, 0, 'latin1');
  b.writeUInt32LE(length, 4);
  b.writeUInt8(1, 8);
  b.write('VFIOCT', 10, 'latin1');
  b.write('SYNTHOST', 16, 'latin1');
  b.writeUInt32LE(1, 24);
  b.write('VFIO', 28, 'latin1');
  b.writeUInt32LE(1, 32);
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  b.writeUInt8((0x100 - sum) & 0xff, 9);
  return b;
}

function makeUnreadable(p: string, mode: 'eisdir' | 'chmod'): void {
  if (mode === 'chmod') {
    if (!fs.existsSync(p)) fs.writeFileSync(mkparent(p), '');
    fs.chmodSync(p, 0o000);
    return;
  }
  fs.rmSync(p, { force: true, recursive: true });
  fs.mkdirSync(p, { recursive: true });
}

interface WriteCtx {
  alloc: BarAllocator;
  iommuDevAbs: string | null;
  slotCount: Map<string, number>;
  nodes: Map<string, Node>;
  mode: 'eisdir' | 'chmod';
}

function writeFunction(sys: string, n: Node, w: WriteCtx): void {
  const { fn, addr } = n;
  const dir = path.join(sys, n.sysRel);
  fs.mkdirSync(path.join(dir, 'power'), { recursive: true });
  const hdr = headerTypeOf(fn.classCode);
  const isVf = fn.physfn !== undefined;
  const put = (name: string, content: string | Buffer): void => writeText(path.join(dir, name), content);
  const x4 = (v: number): string => `0x${hex(v & 0xffff, 4)}\n`;

  const bars = w.alloc.place(defaultBars(fn));
  const romSize = 128 * 1024;
  const rom = fn.rom ? { base: w.alloc.take('rom', romSize), size: romSize } : null;
  const irq = fn.irq ?? (isVf ? 0 : 16 + ((addr.slot + addr.fn) % 4));
  const pf = isVf ? w.nodes.get(fn.physfn as string) : undefined;
  const vfs = [...n.vfs].sort((p, q) => rid(p.addr) - rid(q.addr));
  const sriovCap = effectiveSriovCap(fn);
  const numVfs = fn.sriov?.numVfs ?? sriovCap?.numVfs ?? vfs.length;
  const first = vfs[0];
  const second = vfs[1];
  const vfOffset = first ? rid(first.addr) - rid(addr) : 0x80;
  const vfStride = first && second ? rid(second.addr) - rid(first.addr) : 1;
  const vfDeviceId = first ? first.fn.device : fn.device;

  const ctx: EncodeContext = {
    multifunction: !isVf && (w.slotCount.get(`${addr.domain}:${addr.bus}:${addr.slot}`) ?? 0) > 1,
    secondaryBus: n.secondary,
    subordinateBus: n.subordinate,
    bars,
    romBase: rom ? rom.base : null,
    vfOffset, vfStride, vfDeviceId, numVfs,
    irq,
    interruptPin: isVf ? 0 : 1,
  };
  put('config', encodeWith(fn, addr, ctx));

  const subV = fn.subVendor ?? 0;
  const subD = fn.subDevice ?? 0;
  put('vendor', x4(fn.vendor));
  put('device', x4(fn.device));
  put('subsystem_vendor', x4(subV));
  put('subsystem_device', x4(subD));
  put('class', `0x${hex(fn.classCode & 0xffffff, 6)}\n`);
  put('revision', `0x${hex((fn.revision ?? 0) & 0xff, 2)}\n`);
  put('numa_node', `${fn.numaNode ?? -1}\n`);
  put('driver_override', `${fn.driverOverride ?? '(null)'}\n`);
  put('enable', `${(fn.enabled ?? fn.driver != null) ? 1 : 0}\n`);
  put('irq', `${irq}\n`);
  const H8 = (v: number): string => hex(v, 8).toUpperCase();
  const modalias = `pci:v${H8(fn.vendor)}d${H8(fn.device)}sv${H8(subV)}sd${H8(subD)}bc${hex((fn.classCode >> 16) & 0xff, 2).toUpperCase()}sc${hex((fn.classCode >> 8) & 0xff, 2).toUpperCase()}i${hex(fn.classCode & 0xff, 2).toUpperCase()}`;
  put('modalias', `${modalias}\n`);
  put('local_cpulist', `${fn.localCpulist ?? '0-7'}\n`);
  put('local_cpus', 'ff\n');
  put('dma_mask_bits', '64\n');
  put('consistent_dma_mask_bits', '64\n');
  put('broken_parity_status', '0\n');
  put('msi_bus', '1\n');
  put('ari_enabled', '0\n');
  put('d3cold_allowed', `${(fn.d3coldAllowed ?? true) ? 1 : 0}\n`);
  put('power_state', `${fn.powerState ?? 'D0'}\n`);
  put('resource', resourceLines(hdr, bars, rom));
  for (const b of bars) {
    put(`resource${b.index}`, '');
    if (b.prefetch) put(`resource${b.index}_wc`, '');
  }
  put('remove', '');
  put('rescan', '');
  put('power/control', 'on\n');
  put('power/runtime_status', 'active\n');
  const ueventLines = [
    ...(fn.driver ? [`DRIVER=${fn.driver}`] : []),
    `PCI_CLASS=${(fn.classCode & 0xffffff).toString(16).toUpperCase()}`,
    `PCI_ID=${hex(fn.vendor, 4).toUpperCase()}:${hex(fn.device, 4).toUpperCase()}`,
    `PCI_SUBSYS_ID=${hex(subV, 4).toUpperCase()}:${hex(subD, 4).toUpperCase()}`,
    `PCI_SLOT_NAME=${fn.address}`,
    `MODALIAS=${modalias}`,
  ];
  put('uevent', ueventLines.join('\n') + '\n');
  if (fn.label !== undefined) put('label', `${fn.label}\n`);
  if ((fn.classCode >> 8) === 0x0300) put('boot_vga', `${fn.bootVga ? 1 : 0}\n`);
  if (fn.resetMethod !== undefined) {
    put('reset_method', `${fn.resetMethod.join(' ')}\n`);
    if (fn.resetMethod.length) put('reset', '');
  }
  if (fn.rom) put('rom', '');

  const pcie = fn.caps?.pcie;
  if (pcie && pcie.portType !== 'rc-integrated-endpoint' && pcie.portType !== 'rc-event-collector') {
    const link = pcie.link ?? { speedGt: 8, width: 1 };
    put('current_link_speed', `${SPEED_TEXT[speedCode(link.speedGt)]}\n`);
    put('current_link_width', `${link.width}\n`);
    put('max_link_speed', `${SPEED_TEXT[speedCode(link.maxSpeedGt ?? link.speedGt)]}\n`);
    put('max_link_width', `${link.maxWidth ?? link.width}\n`);
  }
  if (hdr === 1) {
    const busName = `${hex(addr.domain, 4)}:${hex(n.secondary, 2)}`;
    const pb = path.join(dir, 'pci_bus', busName);
    fs.mkdirSync(pb, { recursive: true });
    writeText(path.join(pb, 'cpulistaffinity'), '0-7\n');
    writeText(path.join(pb, 'cpuaffinity'), 'ff\n');
    writeText(path.join(pb, 'rescan'), '');
    put('secondary_bus_number', `${n.secondary}\n`);
    put('subordinate_bus_number', `${n.subordinate}\n`);
  }
  if (sriovCap && !isVf) {
    put('sriov_totalvfs', `${fn.sriov?.totalVfs ?? sriovCap.totalVfs}\n`);
    put('sriov_numvfs', `${numVfs}\n`);
    put('sriov_offset', `${sriovCap.vfOffset ?? vfOffset}\n`);
    put('sriov_stride', `${sriovCap.vfStride ?? vfStride}\n`);
    put('sriov_vf_device', `${(sriovCap.vfDeviceId ?? vfDeviceId).toString(16)}\n`);
    put('sriov_drivers_autoprobe', '1\n');
    vfs.forEach((vf, i) => link(path.join(dir, `virtfn${i}`), rel(dir, path.join(sys, vf.sysRel))));
  }
  if (pf) link(path.join(dir, 'physfn'), rel(dir, path.join(sys, pf.sysRel)));

  // Links
  link(path.join(dir, 'subsystem'), rel(dir, path.join(sys, 'bus/pci')));
  link(path.join(sys, 'bus/pci/devices', fn.address), rel(path.join(sys, 'bus/pci/devices'), dir));
  if (fn.driver) {
    const dd = path.join(sys, 'bus/pci/drivers', fn.driver);
    link(path.join(dir, 'driver'), rel(dir, dd));
    link(path.join(dd, fn.address), rel(dd, dir));
  }
  if (fn.iommuGroup != null) {
    link(path.join(dir, 'iommu_group'), rel(dir, path.join(sys, 'kernel/iommu_groups', String(fn.iommuGroup))));
    if (w.iommuDevAbs) {
      link(path.join(dir, 'iommu'), rel(dir, w.iommuDevAbs));
      link(path.join(w.iommuDevAbs, 'devices', fn.address), rel(path.join(w.iommuDevAbs, 'devices'), dir));
    }
  }

  for (const name of fn.unreadable ?? []) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`host-tree: ${fn.address}: unreadable attribute ${JSON.stringify(name)} is not an attribute name`);
    makeUnreadable(path.join(dir, name), w.mode);
  }
}

/**
 * Where temporary trees go: $VFIOCTL_TEST_TMPDIR, else /dev/shm when it is a writable directory (a tree is
 * tens of files per function; on this machine tmpfs creates them 20-60 times faster than the disk-backed
 * /tmp, and sysfs itself lives in memory), else os.tmpdir().
 */
export function hostTreeTempBase(): string {
  const env = process.env.VFIOCTL_TEST_TMPDIR;
  if (env) return env;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK | fs.constants.X_OK);
    if (fs.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // not available: fall back to the system temporary directory
  }
  return os.tmpdir();
}

/** Build a tree in a fresh temporary directory; cleanup() removes it. */
export function makeTempHostTree(spec: HostSpec): { root: string; cleanup(): void } {
  const root = fs.mkdtempSync(path.join(hostTreeTempBase(), 'vfioctl-host-'));
  try {
    buildHostTree(root, spec);
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
