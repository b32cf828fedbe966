/**
 * HostFacts: the raw facts `vfioctl doctor` judges, gathered by src/host/read-host-facts.ts from a host
 * root (live or captured) and judged by the pure checks in src/core/doctor.ts. Plain data (JSON-safe).
 *
 * Every fact that comes from a file says where it came from and keeps "the file is missing" apart from
 * "the file exists but could not be read": a check may treat a missing optional file as a fact ("no
 * DMAR table") but must treat an unreadable one as "unknown".
 */
import type { BootTooling } from './boot-tooling.js';

/** A value read from one root-relative source. */
export type Fact<T> =
  | { readonly state: 'ok'; readonly source: string; readonly value: T }
  | { readonly state: 'absent'; readonly source: string }
  | { readonly state: 'unreadable'; readonly source: string; readonly code: string; readonly message: string };

export function factValue<T>(f: Fact<T> | null | undefined): T | null {
  return f && f.state === 'ok' ? f.value : null;
}

/** One word of a kernel command line: `key=value` or a bare `key` (value undefined). */
export interface KernelParam {
  key: string;
  value?: string;
}

export type CpuVendor = 'intel' | 'amd' | 'other';

export interface CpuFacts {
  /** proc/cpuinfo */
  source: Fact<true>;
  vendor: CpuVendor | null;
  /** vendor_id as written, e.g. GenuineIntel */
  vendorId: string | null;
  modelName: string | null;
  /** flags of the first processor (x86) */
  flags: string[];
  /** The `hypervisor` flag: running under a hypervisor. */
  hypervisor: boolean;
}

export interface ConfiguredCmdline {
  /** root-relative file, e.g. etc/default/grub */
  source: string;
  /**
   * How the file holds it: a grub defaults variable, a whole-file command line, a BLS entry, or the
   * generated grub.cfg (the `linux` line of the running kernel's entry: what the next boot really gets).
   */
  kind: 'grub-defaults' | 'kernel-cmdline-file' | 'bls-entry' | 'grub-cfg';
  /** GRUB_CMDLINE_LINUX (+ _DEFAULT) effective text, or the file's text. */
  text: string;
  params: KernelParam[];
  /** The file could not be understood (shell expansions grub-mkconfig would run, a parse error). */
  problem?: string;
}

export interface KernelFacts {
  /** proc/sys/kernel/osrelease */
  release: Fact<string>;
  /** proc/cmdline */
  cmdline: Fact<string>;
  /** parameters of the running command line (empty when unreadable) */
  params: KernelParam[];
  /** Configured command lines found on disk (files that exist). */
  configured: ConfiguredCmdline[];
  /** boot/config-RELEASE options that matter here (CONFIG_*), null when the file is absent/unreadable. */
  config: Fact<Record<string, string>>;
}

export type ModuleState = 'loaded' | 'builtin' | 'available' | 'missing' | 'unknown';

export interface ModuleFacts {
  /** proc/modules: names of loaded modules (underscored) */
  loaded: Fact<string[]>;
  /** lib/modules/RELEASE/modules.builtin: module names (underscored) built into the kernel */
  builtin: Fact<string[]>;
  /** lib/modules/RELEASE/modules.dep (or the vfio directory listing): loadable module names (underscored) */
  available: Fact<string[]>;
  /** sys/module/NAME directories present (loaded modules and built-ins with parameters) */
  sysModules: string[];
}

export interface ModprobeDirective {
  /** root-relative file */
  file: string;
  line: number;
  /** options / blacklist / softdep / install / alias / remove */
  command: string;
  /** module name as written */
  module: string;
  /** the rest of the line */
  args: string;
}

/** intel: a VT-d (DMAR) unit; amd: an AMD-Vi (IVHD) unit; virtio: a virtio-iommu device; other: any other driver's unit. */
export type IommuUnitKind = 'intel' | 'amd' | 'virtio' | 'other';

export interface IommuUnit {
  /** sys/class/iommu entry, e.g. dmar0, ivhd0 */
  name: string;
  kind: IommuUnitKind;
  /** Intel: intel-iommu/cap and ecap (hex text); AMD: amd-iommu/cap and features */
  cap: string | null;
  ecap: string | null;
  /** Intel ecap bit 3 (IR): the unit supports interrupt remapping; null when unknown. */
  interruptRemapping: boolean | null;
  /** Intel cap bit 7 (CM): caching mode, set by virtual IOMMUs that shadow mappings; null when unknown. */
  cachingMode: boolean | null;
}

/** The interrupt chips of proc/interrupts (the column after the per-CPU counts). */
export interface InterruptChips {
  /** every chip name, sorted: IO-APIC, PCI-MSI, IR-IO-APIC, IR-PCI-MSI, GICv3, ... */
  chips: string[];
  /** the chips whose interrupts go through interrupt remapping (x86 names them IR-...) */
  remapped: string[];
}

/**
 * The chip names of a proc/interrupts text. Lines are `N: <one count per CPU> <chip> <hwirq> <name>`;
 * the CPU count comes from the header line. Architecture-specific rows (NMI, LOC, ...) have no number
 * and are skipped.
 */
export function parseInterruptChips(text: string): InterruptChips {
  const lines = text.split('\n');
  const cpus = (lines[0] ?? '').trim().split(/\s+/).filter((w) => /^CPU\d+$/.test(w)).length;
  const chips = new Set<string>();
  for (const line of lines.slice(1)) {
    const m = /^\s*\d+:\s+(.*)$/.exec(line);
    if (!m) continue;
    const words = m[1]!.trim().split(/\s+/);
    // a chip name is never a bare count; a row short of counts (CPU hot-unplugged) keeps its first word
    const chip = words.slice(cpus).find((w) => !/^\d+$/.test(w)) ?? null;
    if (chip && /^[A-Za-z][\w.:-]*$/.test(chip)) chips.add(chip);
  }
  const all = [...chips].sort();
  return { chips: all, remapped: all.filter((c) => c.startsWith('IR-')) };
}

export interface KernelLogFacts {
  /** root-relative file the lines came from (var/log/dmesg, var/log/kern.log), null when none was readable */
  source: string | null;
  /** Lines about the IOMMU, interrupt remapping, vfio and framebuffers (at most a few hundred). */
  lines: string[];
  /** Files tried that existed but could not be read. */
  unreadable: string[];
}

export interface IomemEntry {
  start: string;
  end: string;
  name: string;
  depth: number;
}

export interface MemlockLimit {
  file: string;
  line: number;
  domain: string;
  type: string;
  /** kilobytes, or "unlimited" / "infinity" as written */
  value: string;
}

export interface VirtFacts {
  /** sys/class/dmi/id/sys_vendor, product_name */
  sysVendor: string | null;
  productName: string | null;
  boardVendor: string | null;
  /** sys/hypervisor/type (Xen) */
  hypervisorType: string | null;
  /** Name of the hypervisor when one was recognised (QEMU/KVM, VMware, Hyper-V, Xen, VirtualBox ...). */
  hypervisorName: string | null;
}

export interface LibvirtFacts {
  /** usr/bin/virsh exists */
  virsh: boolean;
  /** daemons found: usr/sbin/libvirtd, usr/sbin/virtqemud */
  daemons: string[];
  /** etc/libvirt/qemu.conf `user = "..."`, null when not set or no file */
  qemuUser: string | null;
  /** Filled by the CLI on a live host when virsh can be run; null when not checked. */
  runtime: LibvirtRuntime | null;
}

export type LibvirtRuntime =
  | { state: 'ok'; version: string | null; pciBackends: string[] | null; domcapsError?: string }
  | { state: 'error'; message: string }
  | { state: 'not-checked'; reason: string };

/** How this host boots and rebuilds its initramfs: the commands remedies name (src/model/boot-tooling.ts). */
export type BootFacts = BootTooling;

export interface HostFacts {
  /** The host root as shown in evidence ("/" on a live host). */
  root: string;
  live: boolean;
  cpu: CpuFacts;
  acpi: {
    /** sys/firmware/acpi/tables listing: absent on device-tree platforms */
    tables: Fact<string[]>;
    dmar: boolean;
    ivrs: boolean;
    /** ARM IORT, virtio-iommu VIOT */
    iort: boolean;
    viot: boolean;
  };
  kernel: KernelFacts;
  modules: ModuleFacts;
  modprobe: ModprobeDirective[];
  /** sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts (Y/N) */
  allowUnsafeInterrupts: Fact<string>;
  /** dev/vfio listing */
  devVfio: Fact<string[]>;
  /** dev/kvm exists */
  devKvm: boolean;
  iommuUnits: IommuUnit[];
  /** sys/class/iommu listing state */
  iommuClass: Fact<string[]>;
  /** proc/interrupts: the interrupt chips in use (remapped IR-... chips exist only while interrupt remapping is on) */
  interrupts: Fact<InterruptChips>;
  kernelLog: KernelLogFacts;
  virt: VirtFacts;
  iomem: Fact<IomemEntry[]>;
  memlock: MemlockLimit[];
  libvirt: LibvirtFacts;
  boot: BootFacts;
  /** Problems met while reading that are not tied to one fact. */
  problems: { path: string; code: string; message: string }[];
}

/** Parse /proc/iomem text into entries with their nesting depth (two spaces per level). */
export function parseIomem(text: string): IomemEntry[] {
  const out: IomemEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$/.exec(line);
    if (!m) continue;
    out.push({ depth: Math.floor(m[1]!.length / 2), start: m[2]!.toLowerCase(), end: m[3]!.toLowerCase(), name: m[4]!.trim() });
  }
  return out;
}

/** Module names compare with "-" and "_" as the same character; the kernel shows them with "_". */
export function moduleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Module name of a path in modules.dep / modules.builtin ("kernel/drivers/vfio/pci/vfio-pci.ko.xz" -> "vfio_pci"). */
export function moduleFromPath(p: string): string {
  const base = p.trim().split('/').pop() ?? '';
  return moduleName(base.replace(/\.ko(\.(xz|gz|zst))?$/, ''));
}

/** Module names listed in lib/modules/RELEASE/modules.builtin. */
export function parseModulesBuiltin(text: string): string[] {
  return text.split('\n').filter((l) => l.trim()).map(moduleFromPath);
}

/** Test a bit of a hex register value such as sysfs intel-iommu/cap ("d2008c40660462"). */
export function hexBit(hexText: string | null, bit: number): boolean | null {
  if (hexText === null) return null;
  const t = hexText.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,32}$/.test(t)) return null;
  return ((BigInt(`0x${t}`) >> BigInt(bit)) & 1n) === 1n;
}
