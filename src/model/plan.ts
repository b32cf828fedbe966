/**
 * Passthrough plans: what the user asked for, what must move to vfio-pci because of IOMMU group rules,
 * what stays on the host, what the host would lose, and the ordered steps. Pure data: produced by
 * src/core/plan.ts, executed by src/apply/, rendered by src/adapters/render/. The JSON output of
 * `vfioctl plan --json` is this model (docs/json.md).
 */
import type { Finding } from './finding.js';
import type { PciAddressString } from './pci-address.js';
import type { CpuVendor, HostImpactFacts } from './host-impact.js';
import type { BootLoaderInfo } from './boot-tooling.js';
import type { BackendChoice, BackendSupport, GuestAddressing, VfioPlatformFacts } from './vfio-platform.js';

export type RomBarChoice = 'auto' | 'on' | 'off';

export interface PlanRequest {
  /** Canonical addresses the user asked for (parsed and formatted at the edge). */
  addresses: PciAddressString[];
  /** libvirt guest name the functions are for. */
  guest?: string;
  /** Turn host-impact blockers into warnings (the user accepts what the host loses). */
  force?: boolean;
  /** ROM BAR handling: auto = off for non-display functions with a ROM, default for GPUs. */
  romBar?: RomBarChoice;
  /** The guest will itself assign devices onward (L1 with a virtual IOMMU). */
  nested?: boolean;
  /** With nested: the virtual IOMMU the guest gets (default intel). */
  viommuModel?: ViommuModel;
  /** Do not add unrequested group members: report them as blockers instead (and do not add slot companions). */
  exact?: boolean;
  /**
   * Keep only the named functions of a slot: by default every function of the same domain:bus:device
   * (a GPU's HDMI audio, a NIC's other ports) is claimed with it (reason 'same-device'), even when it is
   * in another IOMMU group.
   */
  singleFunction?: boolean;
  /** Also write the opt-in allow_unsafe_interrupts line (security downgrade). */
  allowUnsafeInterrupts?: boolean;
  /**
   * How the binding persists: per address (udev rule / driverctl) or by vendor:device ID (modprobe.d
   * ids=, or vfio-pci.ids= when vfio-pci is built in; blocked when an unclaimed function has the same
   * ID). Absent: by ID unless identical devices stay on the host.
   */
  persistBy?: 'address' | 'id';
  /** The VFIO device backend to render: auto (from the host and the libvirt/QEMU versions), iommufd, legacy. */
  backend?: BackendChoice;
  /**
   * The VFIO driver to bind every claimed function to instead of the best one modules.alias names
   * (e.g. "vfio-pci" to keep the generic driver where a variant driver exists).
   */
  driver?: string;
}

/** A guest other than the target, as libvirt reports it (canonical hostdev addresses). */
export interface OtherGuest {
  name: string;
  running: boolean;
  hostdevs: string[];
}

/** Boot tooling as the planner needs it (filled from src/adapters/boot by the caller). */
export interface PlanBootInfo {
  /** e.g. "grub", "grubby", "systemd-boot", "kernelstub", "proxmox-boot-tool", "unknown". */
  loader: string;
  /** File the persistent command line lives in, e.g. "/etc/default/grub" or "/etc/kernel/cmdline". */
  file?: string | null;
  /** Command that applies a changed command line, e.g. "update-grub". */
  apply?: string | null;
  /** Command that regenerates the initramfs, e.g. "update-initramfs -u -k all", "dracut -f --regenerate-all". */
  initramfs?: string | null;
}

export interface PlanContext {
  impact?: HostImpactFacts;
  otherGuests?: OtherGuest[];
  boot?: PlanBootInfo;
  /** The detected boot loader: the kernel command line steps name its file and commands (src/core/boot-loader.ts). */
  bootLoader?: BootLoaderInfo;
  vfioPciBuiltin?: boolean;
  cpuVendor?: CpuVendor | null;
  /**
   * The driver each function had before vfioctl bound it (state.json), by canonical address: a function
   * on vfio-pci now still needs its host driver's softdep.
   */
  originalDrivers?: Record<string, string | null>;
  /**
   * The platform, read when the IOMMU is off (the remedy depends on it): a virtual machine, and the DMI
   * identity that names the firmware menus. Absent: unknown.
   */
  platform?: { vm: boolean; sysVendor: string | null; boardVendor: string | null; iommuTables?: string[] };
  /**
   * The VFIO platform facts (src/host/read-vfio-platform.ts): backends, modules.alias matches, debugfs
   * migration state, BARs. Absent: not read (an imported listing), so variant drivers and migration are unknown.
   */
  vfio?: VfioPlatformFacts;
  /** libvirt and QEMU versions the backend choice depends on (null: unknown). */
  versions?: { libvirt: string | null; qemu: string | null };
}

export type ClaimReason = 'requested' | 'same-group' | 'same-device';

export interface ClaimedFunction {
  address: PciAddressString;
  reason: ClaimReason;
  iommuGroup: number | null;
  vendorId: string;
  deviceId: string;
  class: string;
  /** Human name (pci.ids) when known. */
  name: string | null;
  /** Driver bound now (null: none). */
  driver: string | null;
  /** ROM BAR decision for the guest: off = `<rom bar='off'/>`, on = explicit on, null = libvirt default. */
  romBar: 'on' | 'off' | null;
}

/** Functions of one host device (slot) placed together in one guest slot. */
export interface GuestSlot {
  /** Host device key dddd:bb:ss */
  device: string;
  /** Claimed functions of the device, function 0 first. */
  functions: PciAddressString[];
  /** More than one function: placed as a multifunction guest slot. */
  multifunction: boolean;
}

export type StepKind = 'runtime' | 'persistent' | 'both';

export type StepAction =
  | { type: 'enable-iommu'; params: string[] }
  | { type: 'kernel-cmdline'; set: string[]; remove: string[] }
  | { type: 'modprobe-conf'; file: string; content: string }
  | { type: 'per-address-override'; addresses: PciAddressString[] }
  | { type: 'regenerate-initramfs'; command: string }
  | { type: 'load-module'; module: string }
  /** `driver`: the VFIO driver bound (absent: vfio-pci), e.g. a variant driver such as mlx5_vfio_pci */
  | { type: 'bind-vfio'; address: PciAddressString; fromDriver: string | null; driver?: string }
  | { type: 'attach-hostdev'; guest: string; addresses: PciAddressString[] }
  | { type: 'detach-hostdev'; guest: string; addresses: PciAddressString[] }
  | { type: 'sriov-numvfs'; address: PciAddressString; count: number }
  /** files and commands of a host-level configuration change (enable/disable-iommu, unpersist, SR-IOV at boot) */
  | { type: 'config'; command: string }
  | { type: 'reboot' };

/**
 * The concrete effect of a step on this host, produced once when the plan is composed against the host
 * (src/service/): what --dry-run shows and what apply carries out. Paths are absolute paths of the host
 * (as on that system, without the --root prefix); `rel` is the same path relative to the host root.
 */
export type StepEffect =
  | { type: 'sysfs-write'; path: string; value: string }
  | { type: 'file'; path: string; rel: string; before: string | null; after: string | null }
  | { type: 'command'; argv: string[]; undoArgv?: string[]; regenerate: boolean; why: string }
  | { type: 'libvirt'; call: 'attach-device' | 'detach-device'; guest: string; address: PciAddressString; live: boolean; config: boolean; xml: string | null };

export interface PlanStep {
  /** Stable kebab-case id, unique in the plan, e.g. "bind-0000:01:00.0". */
  id: string;
  title: string;
  kind: StepKind;
  /** The step takes effect only after a reboot. */
  needsReboot: boolean;
  /** A command a person could run for this step (shown by --dry-run). */
  command?: string;
  /** The file this step writes (absolute path on the host). */
  file?: string;
  action: StepAction;
  /**
   * What the step does on this host (files with their full before/after content, sysfs writes, command
   * argv, libvirt calls). Present when the plan was composed against a host (not for imported listings);
   * an empty list means the host is already in the intended state for this step.
   */
  effects?: StepEffect[];
}

export type PlanVerdict = 'ok' | 'warn' | 'blocked';

/**
 * The virtual IOMMU of a nested guest: intel (VT-d with interrupt remapping and caching mode, the
 * default), virtio (virtio-iommu, ACPI VIOT; no interrupt remapping on x86), smmuv3 (Arm SMMUv3, aarch64
 * guests on the virt machine type). libvirt's <iommu model='...'/> names.
 */
export const VIOMMU_MODELS = ['intel', 'virtio', 'smmuv3'] as const;
export type ViommuModel = (typeof VIOMMU_MODELS)[number];

export interface GuestFeatures {
  /** `<kvm><hidden state='on'/>`: NVIDIA consumer drivers before R465. */
  kvmHidden: boolean;
  /** Hyper-V vendor_id value to set (null: leave alone). */
  hypervVendorId: string | null;
  /** Virtual IOMMU for nested assignment. */
  viommu: boolean;
}

export interface PlannedGroup {
  id: number;
  endpoints: PciAddressString[];
  bridges: PciAddressString[];
}

export interface PassthroughPlan {
  request: PciAddressString[];
  guest: string | null;
  /**
   * false when the plan rests on group facts the inventory does not tell (an imported listing without
   * IOMMU groups): such a plan is never "ok", whatever its verdict; `assumptions` says what was assumed.
   */
  verified: boolean;
  /** The group facts the plan assumed, one sentence each (empty when every group fact was read). */
  assumptions: string[];
  /** Every function that must move to vfio-pci (request plus group members), canonical, sorted. */
  claim: PciAddressString[];
  /** Bridges and ports in touched groups: they stay on their host drivers. */
  hostSide: PciAddressString[];
  verdict: PlanVerdict;
  findings: Finding[];
  steps: PlanStep[];
  /** Details per claimed function. */
  functions: ClaimedFunction[];
  groups: PlannedGroup[];
  slots: GuestSlot[];
  features: GuestFeatures;
  /** How binding persists: by vendor:device id (modprobe/kernel parameter) or per address (driver_override). */
  binding: { mode: 'ids' | 'per-address'; ids: string[]; builtin: boolean };
  /** Drivers currently bound to claimed functions (for softdep lines). */
  hostDrivers: string[];
  cpuVendor: CpuVendor | null;
  nested: boolean;
  /** The user opted in to allow_unsafe_interrupts (hosts without interrupt remapping). */
  unsafeInterrupts: boolean;
  needsReboot: boolean;
  /**
   * NUMA and PCIe affinity of the claimed functions (docs/json.md): present when the plan was made on a
   * host tree (an imported listing does not tell NUMA nodes).
   */
  affinity?: PlanAffinity;
  /**
   * The VFIO platform of the claimed functions (additive, docs/json.md): the device backend chosen, the
   * VFIO driver and migration capability of each function, and the guest address space their BARs need.
   */
  platform?: PlanPlatform;
}

/** Where one claimed function sits: its NUMA node and PCIe root. */
export interface FunctionAffinity {
  address: PciAddressString;
  /** numa_node; null when the platform has none for it (-1) or it was not read (`numaKnown` false) */
  numaNode: number | null;
  numaKnown: boolean;
  /** the root port (first bridge below the root complex) it hangs off; null on the root bus itself */
  rootPort: PciAddressString | null;
  /** the root complex (host bridge / root bus), e.g. "pci0000:00" */
  rootBus: string | null;
  /** local_cpulist: the host CPUs near it; null when not read */
  localCpus: string | null;
}

export interface PlanAffinity {
  functions: FunctionAffinity[];
  /** distinct NUMA nodes of the claimed functions (known ones only), ascending */
  nodes: number[];
  /** the functions of this guest sit on more than one NUMA node */
  spansNodes: boolean;
  /** a guest pinning hint for the one node they share (null: no node, or several) */
  hint: { node: number; cpus: string | null; libvirt: string } | null;
}

export interface PlanPlatform {
  backend: {
    requested: BackendChoice;
    chosen: 'legacy' | 'iommufd';
    /** libvirt's iommufd form: per hostdev (<driver iommufd='yes'/>, 12.1+) or domain-wide (<iommufd enabled='yes'/>, 12.2+) */
    libvirtForm: 'hostdev' | 'domain' | null;
    reasons: string[];
    /** what this host offers (absent on an imported listing) */
    support: BackendSupport[] | null;
  };
  functions: {
    address: PciAddressString;
    /** the driver the bind step writes to driver_override */
    vfioDriver: string;
    /** how it was chosen: modules.alias, the generic default, --driver, or unknown (aliases not read) */
    vfioDriverBy: 'modules.alias' | 'default' | 'option' | 'unknown';
    alias: string | null;
    /** what must happen before binding to this driver (null: nothing) */
    before: string | null;
    migration: {
      verdict: 'supported' | 'not-supported' | 'unknown';
      dirtyTracking: 'device' | 'iommu' | 'none' | null;
      debugfsState: string | null;
      debugfsFeatures: string | null;
      reason: string;
    };
  }[];
  addressing: GuestAddressing;
}

/** The most functions a guest may be given (RHEL 7 limit, kept by libvirt/QEMU guidance). */
export const MAX_ASSIGNED_FUNCTIONS = 32;
