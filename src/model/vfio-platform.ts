/**
 * The VFIO platform facts of a host and its functions, and the pure rules over them: which device
 * backends the host offers (the legacy type1 container through /dev/vfio/GROUP, or iommufd with the
 * per-device file /dev/vfio/devices/vfioN), which VFIO driver fits a function best (a variant driver
 * from modules.alias, else vfio-pci), whether that driver supports VFIO live migration, and how much
 * guest physical address space a function's BARs need. Read by src/host/read-vfio-platform.ts, judged
 * by src/core/vfio-platform.ts. Plain data (JSON-safe); every fact keeps "not read" apart from "absent".
 *
 * Versions below were checked against the sources named in docs/platform.md.
 */
import type { PciAddressString } from './pci-address.js';

/** A file fact: present with a value, absent, not readable, or not looked at (no source). */
export type Tri<T> =
  | { state: 'ok'; source: string; value: T }
  | { state: 'absent'; source: string }
  | { state: 'unreadable'; source: string; reason: string }
  | { state: 'unknown'; source: string; reason: string };

export function triValue<T>(t: Tri<T>): T | null {
  return t.state === 'ok' ? t.value : null;
}

// ---------------------------------------------------------------------------------------------------
// iommufd and the VFIO device file

export interface IommufdFacts {
  /** dev/iommu exists (the iommufd character device) */
  devIommu: Tri<boolean>;
  /** dev/vfio/devices listing: the per-device files (vfio0, vfio1, ...) */
  deviceFiles: Tri<string[]>;
  /** sys/class/vfio-dev listing */
  vfioDevClass: Tri<string[]>;
  /** CONFIG_IOMMUFD from the kernel config ('y', 'm', 'n'), unknown when the config was not readable */
  configIommufd: Tri<string>;
  /** CONFIG_VFIO_DEVICE_CDEV ('y' or 'n'), unknown when the config was not readable */
  configDeviceCdev: Tri<string>;
  /** CONFIG_VFIO_CONTAINER (the legacy container; 'n' with the iommufd compat layer) */
  configContainer: Tri<string>;
  /** the iommufd module: loaded, built in, available to load, missing, or unknown */
  module: 'loaded' | 'builtin' | 'available' | 'missing' | 'unknown';
  /** dev/vfio/vfio (the legacy container device) exists */
  devVfioContainer: Tri<boolean>;
  /** kernel release (proc/sys/kernel/osrelease), for the version-dependent statements */
  kernelRelease: string | null;
}

export type VfioBackend = 'legacy' | 'iommufd';
export type BackendChoice = 'auto' | VfioBackend;

/** What the host offers for each backend: yes, no, or unknown (with the reason). */
export interface BackendSupport {
  backend: VfioBackend;
  supported: boolean | null;
  reason: string;
  evidence: { source: string; value: string }[];
}

// ---------------------------------------------------------------------------------------------------
// Variant drivers (modules.alias)

/** One `alias vfio_pci:... MODULE` line of lib/modules/RELEASE/modules.alias. */
export interface VfioAlias {
  pattern: string;
  module: string;
}

/** The vfio_pci alias lines of a modules.alias text (other aliases are skipped). */
export function parseVfioAliases(text: string): VfioAlias[] {
  const out: VfioAlias[] = [];
  for (const line of text.split('\n')) {
    const m = /^alias\s+(vfio_pci:\S+)\s+(\S+)\s*$/.exec(line);
    if (m && /^[A-Za-z0-9_-]{1,64}$/.test(m[2]!)) out.push({ pattern: m[1]!, module: m[2]!.replace(/-/g, '_') });
  }
  return out;
}

const hex8 = (h: string | null): string | null => (h && /^[0-9a-fA-F]{1,8}$/.test(h) ? h.toUpperCase().padStart(8, '0') : null);

/**
 * The vfio_pci modalias of a function, as the kernel's file2alias writes the patterns it is matched
 * against: vfio_pci:vVVVVVVVVdDDDDDDDDsvSSSSSSSSsdSSSSSSSSbcBBscSSiII. null when an ID is unknown.
 */
export function vfioModalias(f: { vendorId: string; deviceId: string; subsystemVendorId: string | null; subsystemDeviceId: string | null; class: string }): string | null {
  const v = hex8(f.vendorId);
  const d = hex8(f.deviceId);
  const sv = hex8(f.subsystemVendorId);
  const sd = hex8(f.subsystemDeviceId);
  if (!v || !d || !sv || !sd || !/^[0-9a-fA-F]{6}$/.test(f.class)) return null;
  const c = f.class.toUpperCase();
  return `vfio_pci:v${v}d${d}sv${sv}sd${sd}bc${c.slice(0, 2)}sc${c.slice(2, 4)}i${c.slice(4, 6)}`;
}

/** fnmatch(3) without flags, as modprobe matches aliases: `*`, `?`, `[...]` (with `!`/`^` and ranges). */
export function globMatch(pattern: string, text: string): boolean {
  // iterative matcher with one backtrack point per `*` (linear in practice, no regex built from input)
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = -1;
  while (t < text.length) {
    if (p < pattern.length) {
      const c = pattern[p]!;
      if (c === '*') {
        starP = p++;
        starT = t;
        continue;
      }
      if (c === '?') {
        p++;
        t++;
        continue;
      }
      if (c === '[') {
        const r = matchClass(pattern, p, text[t]!);
        if (r !== null) {
          if (r.ok) {
            p = r.next;
            t++;
            continue;
          }
        } else if (c === text[t]) {
          p++;
          t++;
          continue;
        }
      } else if (c === text[t]) {
        p++;
        t++;
        continue;
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    t = ++starT;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A bracket expression at pattern[p]: whether ch matches and where the pattern continues; null when unterminated. */
function matchClass(pattern: string, p: number, ch: string): { ok: boolean; next: number } | null {
  let i = p + 1;
  const negate = pattern[i] === '!' || pattern[i] === '^';
  if (negate) i++;
  let ok = false;
  let first = true;
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false;
    const lo = pattern[i]!;
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      const hi = pattern[i + 2]!;
      if (ch >= lo && ch <= hi) ok = true;
      i += 3;
    } else {
      if (ch === lo) ok = true;
      i++;
    }
  }
  if (i >= pattern.length) return null;
  return { ok: ok !== negate, next: i + 1 };
}

/** How specific an alias is: its literal characters (wildcards and bracket expressions count nothing). */
export function aliasSpecificity(pattern: string): number {
  let n = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' || c === '?') continue;
    if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end > 0) {
        i = end;
        continue;
      }
    }
    n++;
  }
  return n;
}

export interface VfioDriverMatch {
  /** the module the function should be bound to (vfio_pci when no variant driver matches more closely) */
  module: string;
  /** the sysfs driver name (modules with "-" in their driver names are not distinguished here) */
  driver: string;
  pattern: string;
  specificity: number;
  /** every matching alias, most specific first */
  candidates: { module: string; pattern: string; specificity: number }[];
}

/**
 * The most specific VFIO driver for a modalias, as libvirt (10.0 and later) picks one: among the
 * vfio_pci aliases that match, the one with the most literal characters; a tie keeps file order.
 * vfio-pci's own catch-all alias (if listed) always loses to a variant driver that matches.
 */
export function bestVfioDriver(aliases: readonly VfioAlias[], modalias: string): VfioDriverMatch | null {
  const hits = aliases
    .map((a, i) => ({ module: a.module, pattern: a.pattern, specificity: aliasSpecificity(a.pattern), i }))
    .filter((a) => globMatch(a.pattern, modalias))
    .sort((a, b) => b.specificity - a.specificity || a.i - b.i);
  if (!hits.length) return null;
  const best = hits[0]!;
  return {
    module: best.module,
    driver: driverNameOfModule(best.module),
    pattern: best.pattern,
    specificity: best.specificity,
    candidates: hits.map(({ module, pattern, specificity }) => ({ module, pattern, specificity })),
  };
}

/** The PCI driver name a VFIO module registers (vfio_pci registers "vfio-pci"; variant drivers keep their module names). */
export function driverNameOfModule(module: string): string {
  const known = VFIO_DRIVERS[module];
  return known?.driver ?? module;
}

// ---------------------------------------------------------------------------------------------------
// Which drivers support VFIO migration

export type DirtyTracking = 'device' | 'iommu' | 'none';

export interface VfioDriverInfo {
  module: string;
  /** the name under sys/bus/pci/drivers */
  driver: string;
  devices: string;
  /** first kernel release with the driver, null when not verified */
  since: string | null;
  /** VFIO migration: the first kernel release with it and how dirty pages are tracked; null: no migration */
  migration: { since: string | null; dirtyTracking: DirtyTracking } | null;
  /** what must be true before binding the function to this driver (the remedy names it) */
  before: string | null;
  /** where the facts above were checked (docs/platform.md lists them) */
  source: string;
}

/**
 * The VFIO PCI drivers of the kernel's drivers/vfio/pci (docs/platform.md has the same table with its
 * sources). A release of null is one this table does not claim.
 */
export const VFIO_DRIVERS: Readonly<Record<string, VfioDriverInfo>> = {
  vfio_pci: { module: 'vfio_pci', driver: 'vfio-pci', devices: 'any PCI function', since: null, migration: null, before: null, source: 'drivers/vfio/pci/Kconfig (VFIO_PCI)' },
  mlx5_vfio_pci: {
    module: 'mlx5_vfio_pci', driver: 'mlx5_vfio_pci', devices: 'NVIDIA/Mellanox ConnectX VFs', since: '5.18',
    migration: { since: '5.18', dirtyTracking: 'device' },
    before: "make the VF migratable first: unbind it from mlx5_core, run devlink port function set pci/PF/PORT migratable enable (devlink port show lists the PF's port of this VF), then bind it",
    source: 'vfio-v5.18-rc1 merge; drivers/vfio/pci/mlx5/Kconfig ("migration support for MLX5 devices")',
  },
  hisi_acc_vfio_pci: {
    module: 'hisi_acc_vfio_pci', driver: 'hisi_acc_vfio_pci', devices: 'HiSilicon accelerator VFs (SEC, HPRE, ZIP)', since: '5.18',
    migration: { since: '5.18', dirtyTracking: 'none' },
    before: 'the PF must stay on its HiSilicon driver (hisi_sec2, hisi_hpre or hisi_zip): the VF migrates through it',
    source: 'vfio-v5.18-rc1 merge ("HiSilicon acc vfio-pci variant driver, also supporting migration")',
  },
  pds_vfio_pci: {
    module: 'pds_vfio_pci', driver: 'pds_vfio_pci', devices: 'AMD/Pensando DSC VFs', since: null,
    migration: { since: null, dirtyTracking: 'device' },
    before: 'the PF must be on pds_core',
    source: 'drivers/vfio/pci/pds (dirty.c, lm.c) in 6.12',
  },
  qat_vfio_pci: {
    module: 'qat_vfio_pci', driver: 'qat_vfio_pci', devices: 'Intel QAT VFs', since: null,
    migration: { since: null, dirtyTracking: 'none' },
    before: 'the PF must be on its qat driver (e.g. qat_4xxx) with SR-IOV enabled',
    source: 'drivers/vfio/pci/qat in 6.12',
  },
  virtio_vfio_pci: {
    module: 'virtio_vfio_pci', driver: 'virtio_vfio_pci', devices: 'virtio-net (and, later, virtio-blk) VFs', since: '6.8',
    migration: { since: '6.13', dirtyTracking: 'iommu' },
    before: 'the PF must support the VIRTIO admin commands; migration needs IOMMU dirty tracking through iommufd',
    source: 'drivers/vfio/pci/virtio/Kconfig history (introduced 2023-12, live migration 2024-11, virtio-blk 2025-03)',
  },
  nvgrace_gpu_vfio_pci: {
    module: 'nvgrace_gpu_vfio_pci', driver: 'nvgrace-gpu-vfio-pci', devices: 'NVIDIA Grace Hopper/Blackwell GPUs', since: null,
    migration: null, before: null,
    source: 'drivers/vfio/pci/nvgrace-gpu in 6.12 (no migration)',
  },
  xe_vfio_pci: {
    module: 'xe_vfio_pci', driver: 'xe-vfio-pci', devices: 'Intel Xe SR-IOV VFs', since: '6.19',
    migration: { since: '6.19', dirtyTracking: 'none' },
    before: 'the PF must be on xe with SR-IOV VFs created',
    source: 'drivers/vfio/pci/xe at v6.19-rc4',
  },
};

// ---------------------------------------------------------------------------------------------------
// Per-function facts

export interface PciBar {
  /** 0-5 */
  index: number;
  start: string;
  /** size in bytes, as a decimal string (BARs reach beyond 2^53) */
  size: string;
  kind: 'mem32' | 'mem64' | 'io';
  prefetchable: boolean;
}

export interface FunctionVfioFacts {
  address: PciAddressString;
  modalias: string | null;
  /** the best VFIO driver from modules.alias; null when none matched or the aliases were not read */
  match: VfioDriverMatch | null;
  /** unknown when modules.alias was not read */
  matchState: 'matched' | 'no-match' | 'unknown';
  /** the vfio device name (vfioN) under the function's vfio-dev directory, when bound to a VFIO driver with cdev */
  vfioDev: string | null;
  /** sys/kernel/debug/vfio/vfioN/migration/{state,features} */
  debugfs: { state: Tri<string>; features: Tri<string> } | null;
  /** BARs from the sysfs resource file (absent when unreadable) */
  bars: Tri<PciBar[]>;
  /** resourceN_resize files: index -> the hex bitmap the kernel prints (supported sizes) */
  resize: { index: number; value: string | null }[];
}

export interface VfioPlatformFacts {
  iommufd: IommufdFacts;
  /** lib/modules/RELEASE/modules.alias */
  aliases: Tri<number>;
  /** debugfs vfio directory (sys/kernel/debug/vfio): absent when debugfs is not mounted there */
  debugfsVfio: Tri<string[]>;
  /** CPU physical address bits (proc/cpuinfo `address sizes`) */
  cpuPhysBits: number | null;
  /** the smallest IOMMU input address width (Intel cap MGAW + 1); null when unknown */
  iommuAddressBits: number | null;
  functions: FunctionVfioFacts[];
}

/** Parse a sysfs `resource` file: BAR lines 0-5 (start end flags), sizes from end - start + 1. */
export function parseResourceFile(text: string): PciBar[] {
  const out: PciBar[] = [];
  const lines = text.split('\n').filter((l) => l.trim());
  for (let i = 0; i < Math.min(lines.length, 6); i++) {
    const m = /^\s*0x([0-9a-fA-F]{1,16})\s+0x([0-9a-fA-F]{1,16})\s+0x([0-9a-fA-F]{1,16})\s*$/.exec(lines[i]!);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    const flags = BigInt(`0x${m[3]}`);
    if (end === 0n || end < start) continue;
    const io = (flags & 0x100n) !== 0n;
    const mem = (flags & 0x200n) !== 0n;
    if (!io && !mem) continue;
    out.push({
      index: i,
      start: `0x${start.toString(16)}`,
      size: (end - start + 1n).toString(),
      kind: io ? 'io' : (flags & 0x100000n) !== 0n ? 'mem64' : 'mem32',
      prefetchable: (flags & 0x2000n) !== 0n,
    });
  }
  return out;
}

/** Intel VT-d cap register: MGAW (bits 21:16) + 1 = the input address width in bits. */
export function intelIommuAddressBits(capHex: string | null): number | null {
  if (!capHex) return null;
  const t = capHex.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(t)) return null;
  const mgaw = Number((BigInt(`0x${t}`) >> 16n) & 0x3fn);
  return mgaw + 1;
}

// ---------------------------------------------------------------------------------------------------
// Guest address space for large BARs

export const GIB = 1n << 30n;
/** QEMU q35's default 64-bit PCI hole (hw/pci-host/q35.c Q35_PCI_HOST_HOLE64_SIZE_DEFAULT = 1 << 35). */
export const Q35_DEFAULT_HOLE64 = 32n * GIB;
/** The guest physical address bits QEMU gives a CPU model without host-phys-bits (TCG_PHYS_ADDR_BITS / default phys-bits 40). */
export const QEMU_DEFAULT_PHYS_BITS = 40;

export interface GuestAddressing {
  /** sum of the 64-bit memory BARs of the claimed functions, bytes (decimal string) */
  mmio64: string;
  /** the largest single BAR, bytes */
  largestBar: string;
  /** the 64-bit hole the guest needs (a power of two, at least q35's default), bytes; null when the default fits */
  hole64: string | null;
  /** guest physical address bits that hole needs (placed at an aligned address above RAM), null when the default fits */
  physBits: number | null;
  /** the host's limit for guest addresses: min(CPU physical bits, IOMMU address width), null when unknown */
  hostLimitBits: number | null;
  /** functions whose BARs were not read (their size is unknown) */
  unknownBars: PciAddressString[];
}

function ceilPow2(n: bigint): bigint {
  let p = 1n;
  while (p < n) p <<= 1n;
  return p;
}

function log2(n: bigint): number {
  let b = 0;
  while ((1n << BigInt(b)) < n) b++;
  return b;
}

/**
 * What the guest's address space must hold for these BARs: the 64-bit hole (the sum of the 64-bit BARs,
 * each aligned to its own size, rounded up to a power of two) and the physical address bits to place
 * it above guest RAM at its own alignment (log2(hole) + 1). Nothing is needed when the sum fits q35's
 * default hole; unknown BARs are listed, never taken as small.
 */
export function guestAddressing(bars: { address: PciAddressString; bars: PciBar[] | null }[], hostLimitBits: number | null): GuestAddressing {
  let sum = 0n;
  let largest = 0n;
  const unknownBars: PciAddressString[] = [];
  for (const f of bars) {
    if (!f.bars) {
      unknownBars.push(f.address);
      continue;
    }
    for (const b of f.bars) {
      if (b.kind !== 'mem64') continue;
      const s = BigInt(b.size);
      sum += s;
      if (s > largest) largest = s;
    }
  }
  const need = sum > Q35_DEFAULT_HOLE64 ? ceilPow2(sum) : null;
  return {
    mmio64: sum.toString(),
    largestBar: largest.toString(),
    hole64: need === null ? null : need.toString(),
    physBits: need === null ? null : log2(need) + 1,
    hostLimitBits,
    unknownBars,
  };
}

/** "32 GiB", "256 MiB", "16 KiB", "12 B" */
export function formatBytes(n: string | bigint): string {
  const v = typeof n === 'bigint' ? n : BigInt(n);
  const units: [bigint, string][] = [[1n << 40n, 'TiB'], [GIB, 'GiB'], [1n << 20n, 'MiB'], [1n << 10n, 'KiB']];
  for (const [u, name] of units) if (v >= u && v % u === 0n) return `${v / u} ${name}`;
  for (const [u, name] of units) if (v >= u) return `${(Number(v) / Number(u)).toFixed(1)} ${name}`;
  return `${v} B`;
}

// ---------------------------------------------------------------------------------------------------
// Versions

/** Compare dotted versions ("12.1.0" vs "12.1"); null when either is not a version. */
export function compareVersions(a: string | null | undefined, b: string): number | null {
  const pa = a ? /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(a.trim()) : null;
  const pb = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(b);
  if (!pa || !pb) return null;
  for (let i = 1; i <= 3; i++) {
    const x = Number(pa[i] ?? 0);
    const y = Number(pb[i] ?? 0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The first releases that carry each piece (docs/platform.md names the sources). */
export const VERSIONS = {
  /** /dev/vfio/devices/vfioN and sys/class/vfio-dev (CONFIG_VFIO_DEVICE_CDEV) */
  kernelDeviceCdev: '6.6',
  /** debugfs vfio/<device>/migration/state */
  kernelDebugfsMigrationState: '6.8',
  /** debugfs vfio/<device>/migration/features */
  kernelDebugfsMigrationFeatures: '6.18',
  /** vfio-pci dma-buf export of MMIO, which iommufd maps (P2P to BARs under iommufd) */
  kernelDmabufP2p: '6.19',
  /** QEMU's -object iommufd and vfio-pci,iommufd= (the floor; the backend appeared in 8.2) */
  qemuIommufd: '9.0',
  /** QEMU's VFIO migration protocol v2 */
  qemuVfioMigration: '8.0',
  /** libvirt per-hostdev <driver iommufd='yes'/> */
  libvirtHostdevIommufd: '12.1.0',
  /** libvirt domain-wide <iommufd enabled='yes'/> */
  libvirtDomainIommufd: '12.2.0',
  /** libvirt picks the VFIO variant driver from modules.alias; <driver model='...'/> */
  libvirtVariantDriver: '10.0.0',
} as const;
