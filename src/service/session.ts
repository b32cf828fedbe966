/**
 * The session: vfioctl as a library. One session is one view of one host (a root directory, a snapshot
 * archive, a bundled sample, or an imported listing) with its configuration taken from the options, never
 * from the process environment. Host facts are read once, section by section, when first needed, and
 * cached: the inventory, the host facts (doctor), the host impact (plans), the boot tooling, the state
 * directory, the libvirt guests.
 *
 * Every mutating operation is a plan that is then applied: `change*()` composes the plan (pure planner +
 * this host's current files and sysfs state, src/service/compose.ts) and selects the steps the operation
 * needs; `preview()` is the dry run of exactly those steps; `apply()` carries out exactly those steps
 * under the journal (src/apply/run.ts). A blocked plan is refused (exit 3) unless the request says
 * `force` (which turns host-impact blockers into warnings that say what the host loses).
 *
 * Front ends (the CLI in src/cli/, a dashboard, an agent) call this and render what it returns.
 */
import { readInputFile } from '../host/read-input.js';
import { HostRoot } from '../host/host-root.js';
import { type FillMask, FILL_GROUPS, FILL_LS_JSON, fillOf, readInventory } from '../host/read-inventory.js';
import { readPciIds } from '../host/read-pci-ids.js';
import { openSnapshotArchive } from '../host/snapshot.js';
import { iommuTableNames, readHostFacts, readPlatform } from '../host/read-host-facts.js';
import { readVfioPlatform } from '../host/read-vfio-platform.js';
import type { VfioPlatformFacts } from '../model/vfio-platform.js';
import type { ShowPlatform } from '../model/reports.js';
import { showPlatform } from './views-platform.js';
import { readCpuVendor, readHostImpact } from '../host/read-host-impact.js';
import { readIdentities, readIdentity } from '../host/read-identity.js';
import { type BootTooling, detectBootTooling } from '../host/detect-boot.js';
import type { SysfsWriter } from '../host/host-writer.js';
import type { Exec } from '../adapters/exec.js';
import { Virsh } from '../adapters/libvirt/virsh.js';
import type { ApplyResult as HostdevApplyResult, Effects, GuestInfo, HostdevChangeSet } from '../adapters/libvirt/guests.js';
import type { DomainConfig } from '../adapters/libvirt/domain-xml.js';
import type { BindPreview, BindResult, ReleasePreview, ReleaseResult } from '../apply/bind.js';
import type { ConfigApplyResult, ConfigPlan } from '../apply/persist.js';
import type { SriovInfo } from '../apply/sriov.js';
import type { RecoverResult } from '../apply/recover.js';
import type { ApplyContext } from '../apply/run.js';
import type { HostState, Journal, StateStore } from '../apply/state.js';
import type { DoctorSummary, DoctorVerdict } from '../core/doctor.js';
import { checkPersistedIdentities, identityStatus, type IdentityStatus } from '../core/identity-drift.js';
import { checkResetOrder, parseResetOrder, resetMethodValue, resetPolicyView, type ResetPolicyView } from '../core/reset-policy.js';
import type { MdevReport } from '../host/read-mdev.js';
import type { MdevRequest } from '../apply/mdev.js';
import type { ExplainResult } from '../core/explain.js';
import { importListing } from '../model/import-listing.js';
import { parseDriverTarget } from '../model/driver-name.js';
import { ExitCode, UsageError, VfioctlError } from '../model/errors.js';
import { type Finding, worstSeverity } from '../model/finding.js';
import type { HostFacts, LibvirtRuntime } from '../model/host-facts.js';
import type { HostImpactFacts } from '../model/host-impact.js';
import { type PciAddressString, formatPciAddress, formatShortAddress, pciAddressOf, requirePciAddress } from '../model/pci-address.js';
import type { PciInventory } from '../model/pci-function.js';
import type { Progress } from '../model/progress.js';
import type { PassthroughPlan, PlanContext, PlanStep, PlanVerdict, RomBarChoice, StepEffect, ViommuModel } from '../model/plan.js';
import { configPlanOf, stepsOfConfigPlan, type ConfigSource } from './config-plan.js';
import { parseDomainCapabilities } from '../adapters/libvirt/domcaps.js';
import { sampleRoot } from './samples.js';
import { groupsReport, inventoryReport, showReport } from './views.js';

export type Env = Record<string, string | undefined>;

// Loaded when first needed: a plan or a doctor run does not pay for libvirt's XML, the journal or the writers.
const libvirtGuests = () => import('../adapters/libvirt/guests.js');
const domainXml = () => import('../adapters/libvirt/domain-xml.js');
const writers = () => import('../host/host-writer.js');
const bindMod = () => import('../apply/bind.js');
const persistMod = () => import('../apply/persist.js');
const stateMod = () => import('../apply/state.js');

/** Test and embedding hooks for the mutating operations (how they reach the kernel). */
export interface SessionRuntime {
  /** Writer of sysfs attributes (default: the real writer; the test suite passes its kernel-like fake). */
  sysfsWriter?: ((host: HostRoot, exec: Exec) => SysfsWriter) | null;
  /** How long a driver move may take, ms (default 10000). */
  moveTimeoutMs?: number | null;
  /** Progress of long work (runs of many steps, snapshots); the CLI draws it on a terminal. */
  progress?: Progress | null;
}

export interface SessionOptions {
  /** Host root: a directory (default "/" or env.VFIOCTL_ROOT) or a snapshot archive (.tar.gz, read-only). */
  root?: string;
  /** A bundled sample host (true: the default sample); read-only. */
  sample?: string | true;
  /** An imported listing instead of the host's sysfs: `lspci -nn[k]` or an IOMMU group listing. */
  from?: { text: string; name: string } | string;
  /** libvirt connection URI (default: env.LIBVIRT_DEFAULT_URI, else libvirt's own default). */
  connect?: string;
  /**
   * The root is the running system, so commands (update-grub, modprobe, systemctl, ...) may run.
   * Default: true only for the root "/". Never taken from the environment.
   */
  live?: boolean;
  /** Refuse every change (recorded hosts are always read-only). */
  readOnly?: boolean;
  /** Environment for child processes (PATH, LIBVIRT_DEFAULT_URI, VFIOCTL_VIRSH) and VFIOCTL_ROOT. */
  env?: Env;
  runtime?: SessionRuntime;
  /** Progress lines of mutating runs, for a person. */
  log?: (line: string) => void;
}

export interface PlanInput {
  addresses: string[];
  guest?: string;
  force?: boolean;
  exact?: boolean;
  /** Keep only the named functions of a slot (default: all functions of the slot go together). */
  singleFunction?: boolean;
  romBar?: RomBarChoice | string;
  nested?: boolean;
  /** With nested: the guest's virtual IOMMU (default intel). */
  viommuModel?: ViommuModel;
  allowUnsafeInterrupts?: boolean;
  /**
   * How the boot-time binding is kept: per address (as `persist`), by ID (as `persist --by-id`); absent:
   * the planner's choice (by ID unless identical devices stay on the host; the plan's binding.mode).
   */
  persistBy?: 'address' | 'id';
  /** Also read the other libvirt guests (planned functions they hold). */
  withGuests?: boolean;
  /** VFIO device backend: auto (default), iommufd, legacy. */
  backend?: string;
  /** Bind every claimed function to this VFIO driver instead of the best variant driver (e.g. vfio-pci). */
  driver?: string;
  /** The libvirt and QEMU versions the guest runs with (default: `virsh version` on the live host, else unknown). */
  libvirtVersion?: string;
  qemuVersion?: string;
}

/** The JSON document of `plan --json` (docs/json.md). */
export type PlanReport = { version: 1 } & PassthroughPlan;

export interface DoctorReport {
  version: 1;
  verdict: DoctorVerdict;
  summary: DoctorSummary;
  findings: Finding[];
  devices: { address: string; verdict: DoctorVerdict; summary: DoctorSummary }[];
}

export interface DoctorInput {
  addresses?: string[];
  /** only the findings that decide a device verdict (check): device findings plus host warn/fail */
  deviceFocus?: boolean;
  /** probe libvirt (virsh version, domcapabilities) on a live host (default true) */
  libvirt?: boolean;
}

export interface StatusReport {
  version: 1;
  stateDir: string;
  bound: { address: string; iommuGroup: number | null; original: { driver: string | null; override: string | null }; current: { driver: string | null; override: string | null } | null; drifted: boolean; runId: string; at: string }[];
  persisted: HostState['persisted'];
  sriov: HostState['sriov'];
  attached: { guest: string; address: string; uri: string | null; live: boolean; config: boolean; runId: string; at: string }[];
  /** per-address persisted functions: what was recorded and what the address holds now (docs/json.md) */
  identity: IdentityStatus[];
  interrupted: { runId: string; command: string; status: string; pid: number; startedAt: string; steps: number; libvirt: { guest: string; uri: string | null; steps: { op: string; address: string; status: string }[] } | null } | null;
  lock: ReturnType<StateStore['readLock']>;
  history?: { runId: string; command: string; args: string[]; status: string; startedAt: string; finishedAt: string | null; error: { code: string; message: string } | null }[];
}

/** A planned change: the plan, the steps selected for the operation, and what apply needs to run them. */
export interface Change {
  /** journal command name, e.g. "bind", "persist", "host enable-iommu" */
  command: string;
  args: string[];
  /** the passthrough plan (group-aware operations), composed with this host */
  plan: PassthroughPlan | null;
  verdict: PlanVerdict;
  findings: Finding[];
  claim: PciAddressString[];
  /** the steps this operation carries out, in order, with their effects */
  steps: PlanStep[];
  notes: string[];
  needsReboot: boolean;
  /** @internal where the persistent effects came from (state deltas) */
  readonly sources: ConfigSource[];
  /** @internal runtime binding preview */
  readonly bind?: BindPreview;
  /** @internal libvirt change set */
  readonly hostdev?: { set: HostdevChangeSet; virsh: Virsh; target: GuestInfo };
  /** @internal SR-IOV request */
  readonly sriov?: { pf: string; count: number; info: SriovInfo };
  /** @internal reset_method value to write now */
  readonly resetPolicy?: { address: string; value: string; view: ResetPolicyView };
  /** @internal mediated device to create or remove now */
  readonly mdev?: MdevRequest;
}

export interface ApplyOptions {
  /** run the boot-loader / initramfs regeneration commands (default true) */
  regenerate?: boolean;
  /** driver move timeout, ms */
  timeoutMs?: number;
  /** progress of each journaled step as it starts, is verified, fails or is rolled back (src/apply/run.ts) */
  onStep?: ApplyContext['onStep'];
}

export interface ChangeResult {
  bind: BindResult | null;
  config: ConfigApplyResult | null;
  hostdev: HostdevApplyResult | null;
  sriov: { runId: string | null; before: number; after: number; vfs: string[] } | null;
  resetPolicy?: { runId: string | null; before: string; after: string } | null;
  mdev?: { runId: string; op: 'create' | 'remove'; uuid: string; present: boolean } | null;
}

const RUNTIME_IDS = (s: PlanStep): boolean => s.id === 'load-vfio-pci' || s.action.type === 'load-module' || s.action.type === 'bind-vfio';
const PERSIST_IDS = new Set(['modprobe-vfio', 'persist-driver-override', 'kernel-cmdline-vfio-ids', 'regenerate-initramfs']);

function canonical(inputs: readonly string[], what = 'vfioctl plan 01:00.0'): PciAddressString[] {
  if (!inputs.length) throw new UsageError('no-address', 'no PCI function given', `name at least one: ${what}`);
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

/** The journal that an interrupted run left, with its libvirt side. */
function libvirtOf(j: Journal): NonNullable<StatusReport['interrupted']>['libvirt'] {
  const steps = j.steps.flatMap((s) => (s.type === 'libvirt-hostdev' ? [s] : []));
  if (!steps.length) return null;
  return { guest: steps[0]!.guest, uri: steps[0]!.uri, steps: steps.map((s) => ({ op: s.op, address: s.address, status: s.status })) };
}

/** A sysfs writer that never runs modprobe on the running system for a root that is not it. */
function guardLoadModule(w: SysfsWriter, host: HostRoot): SysfsWriter {
  return {
    writePciAttr: (...a) => w.writePciAttr(...a),
    writeDriverAttr: (...a) => w.writeDriverAttr(...a),
    writeBusAttr: (...a) => w.writeBusAttr(...a),
    writeMdev: (...a) => w.writeMdev(...a),
    loadModule: async (module: string) => {
      throw new VfioctlError('not-live', `${module} is not loaded in ${host.root}, and loading it would run modprobe on the running system, which ${host.root} is not`, {
        remedy: `load ${module} on the system that ${host.root} belongs to (modprobe ${module}), or run the same command on that system itself`,
        exitCode: ExitCode.notReady,
      });
    },
  } as SysfsWriter;
}

export class Session {
  readonly options: Readonly<SessionOptions>;
  private cache: {
    host?: HostRoot;
    inventory?: PciInventory;
    /** the Fill bits the cached inventory was read with */
    inventoryFill?: FillMask;
    facts?: HostFacts;
    impact?: HostImpactFacts;
    vfio?: VfioPlatformFacts;
    versions?: Promise<{ libvirt: string | null; qemu: string | null }>;
    boot?: BootTooling;
    guests?: Promise<GuestInfo[]>;
  } = {};

  constructor(options: SessionOptions = {}) {
    this.options = options;
  }

  get env(): Env {
    return this.options.env ?? {};
  }

  /** The host root chosen by the options (sample, root, env.VFIOCTL_ROOT, else "/"). */
  host(): HostRoot {
    if (!this.cache.host) {
      const o = this.options;
      if (o.sample !== undefined) {
        if (o.root !== undefined) throw new UsageError('bad-options', '--sample and --root both name a host', 'use one of them');
        this.cache.host = new HostRoot(sampleRoot(o.sample));
      } else {
        const root = this.rootName();
        this.cache.host = new HostRoot(/\.(tar\.gz|tgz)$/.test(root) ? openSnapshotArchive(root) : root);
      }
    }
    return this.cache.host;
  }

  private rootName(): string {
    return this.options.root ?? (this.env.VFIOCTL_ROOT || '/');
  }

  /** A recorded host (a bundled sample, a snapshot archive): never changed. */
  get recorded(): boolean {
    return this.options.sample !== undefined || (this.options.sample === undefined && /\.(tar\.gz|tgz)$/.test(this.rootName()));
  }

  /** Commands may run on the running system for this root. */
  get live(): boolean {
    return this.options.live ?? (!this.recorded && this.host().isLive);
  }

  /** Refuse a change to a recorded or read-only host (before anything is planned). */
  assertMutable(): void {
    if (this.recorded) {
      throw new UsageError('read-only-host', 'this is a recorded host (--sample or a snapshot archive); vfioctl does not change it', 'use --dry-run to see what would change, or run on the host itself');
    }
    if (this.options.readOnly) throw new UsageError('read-only-host', 'this session is read-only', 'open the session without readOnly to change the host');
  }

  // ---- facts, read once each, on demand

  /**
   * The PCI inventory: from the imported listing when given, else read from the host root. `fill` (Fill
   * bits, src/host/read-inventory.ts) names the facts the caller shows; default: every fact. A cached
   * inventory that lacks some of them is read again with both masks.
   */
  inventory(opts: { groups?: 'full' | 'none'; fill?: FillMask } = {}): PciInventory {
    let fill = fillOf(opts);
    if (this.cache.inventory && this.cache.inventoryFill !== undefined && (this.cache.inventoryFill & fill) !== fill) {
      fill |= this.cache.inventoryFill;
      this.cache.inventory = undefined;
    }
    if (!this.cache.inventory) {
      this.cache.inventoryFill = fill;
      const from = this.options.from;
      if (from !== undefined) {
        let text: string;
        let name: string;
        if (typeof from === 'string') {
          name = from;
          text = readInputFile(from);
        } else ({ text, name } = from);
        this.cache.inventory = importListing(text, name, readPciIds(new HostRoot('/')));
      } else {
        this.cache.inventory = readInventory(this.host(), { fill });
      }
    }
    return this.cache.inventory;
  }

  /** The host facts the doctor and explain judge (kernel, firmware, IOMMU, boot tooling, libvirt install). */
  hostFacts(): HostFacts {
    return (this.cache.facts ??= readHostFacts(this.host()));
  }

  /** The VFIO platform facts: backends, variant drivers, migration debugfs, BARs (src/host/read-vfio-platform.ts). */
  vfioPlatform(addresses?: readonly string[]): VfioPlatformFacts {
    // the host-level facts once; the per-function files only for the functions a command needs (endpoints)
    const inv = this.inventory();
    const want = inv.functions.filter((f) => !f.isBridge && (addresses === undefined || addresses.includes(f.address)));
    const have = this.cache.vfio;
    const missing = want.filter((f) => !have?.functions.some((x) => x.address === f.address));
    if (!have || missing.length) {
      const read = readVfioPlatform(this.host(), missing);
      this.cache.vfio = have ? { ...have, functions: [...have.functions, ...read.functions] } : read;
    }
    const all = this.cache.vfio!;
    const wanted = new Set<string>(want.map((f) => f.address));
    return { ...all, functions: all.functions.filter((x) => wanted.has(x.address)) };
  }

  /** libvirt's and QEMU's versions from `virsh version`, only on the live host with virsh (else unknown). */
  toolVersions(): Promise<{ libvirt: string | null; qemu: string | null }> {
    return (this.cache.versions ??= (async () => {
      const none = { libvirt: null, qemu: null };
      if (!this.live || this.inventory().source.kind !== 'sysfs') return none;
      const host = this.host();
      if (!['usr/bin/virsh', 'usr/sbin/virsh', 'usr/local/bin/virsh'].some((p) => host.exists(p))) return none;
      try {
        const v = await new Virsh({ timeoutMs: 15_000, env: { ...this.env } }).run(['version']);
        return { libvirt: /Using library: libvirt (\d[\w.]*)/.exec(v.stdout)?.[1] ?? null, qemu: /Running hypervisor: QEMU (\d[\w.]*)/.exec(v.stdout)?.[1] ?? null };
      } catch {
        return none;
      }
    })());
  }

  /** What the host uses its PCI functions for (plans: what the host would lose). */
  hostImpact(): HostImpactFacts {
    return (this.cache.impact ??= readHostImpact(this.host()));
  }

  /** Boot loader and initramfs tool (shared with the host facts when those were read). */
  bootTooling(): BootTooling {
    return (this.cache.boot ??= this.cache.facts?.boot ?? detectBootTooling(this.host()));
  }

  /** The CPU vendor, from whichever reader already ran (one proc/cpuinfo parse). */
  cpuVendor(): 'intel' | 'amd' | 'other' | null {
    return this.cache.impact?.cpuVendor ?? this.cache.facts?.cpu.vendor ?? readCpuVendor(this.host());
  }

  /** vfioctl's state directory on this host (var/lib/vfioctl). */
  async store(): Promise<StateStore> {
    return new (await stateMod()).StateStore(this.host());
  }

  /** What vfioctl has changed on this host (state.json). */
  async state(): Promise<HostState> {
    return (await this.store()).readState();
  }

  /** A virsh runner for this session's connection (or `uri`). */
  virsh(uri: string | undefined = this.options.connect): Virsh {
    return new Virsh({ uri, env: { ...this.env } });
  }

  /** The libvirt guests (persistent definitions), read once. */
  guests(): Promise<GuestInfo[]> {
    return (this.cache.guests ??= libvirtGuests().then((m) => m.readGuests(this.virsh())));
  }

  // ---- read-only reports

  /** `ls --json`: every PCI function. */
  inventoryReport(): ReturnType<typeof inventoryReport> {
    return inventoryReport(this.inventory({ fill: FILL_LS_JSON }));
  }

  /** `groups --json`: the IOMMU groups with their members. */
  groupsReport(): ReturnType<typeof groupsReport> {
    return groupsReport(this.inventory({ fill: FILL_GROUPS }));
  }

  /** `show ADDR --json`: one function, its group, its topology path. */
  show(address: string): ReturnType<typeof showReport> & { platform?: ShowPlatform } {
    const r = showReport(this.inventory(), address);
    if (this.inventory().source.kind !== 'sysfs' || r.function.isBridge) return r;
    return { ...r, platform: showPlatform(r.function, this.vfioPlatform([r.function.address])) };
  }

  /** Plan a passthrough, composed with this host: every step carries its effects (docs/plan.md). */
  async plan(input: PlanInput): Promise<PassthroughPlan> {
    return (await this.composed(input, false)).plan;
  }

  planReport(plan: PassthroughPlan): PlanReport {
    return { version: 1, ...plan };
  }

  private async composed(input: PlanInput, strict = true): Promise<{ plan: PassthroughPlan; sources: ConfigSource[]; notes: string[] }> {
    const addresses = canonical(input.addresses);
    const romBar = input.romBar ?? 'auto';
    if (!['auto', 'on', 'off'].includes(romBar)) throw new UsageError('bad-rom-bar', `--rom-bar ${romBar} is not auto, on or off`, 'use --rom-bar auto|on|off');
    if (input.guest !== undefined && !/^[^\s/'"<>&]{1,200}$/.test(input.guest)) {
      throw new UsageError('bad-guest', `not a guest name: ${JSON.stringify(input.guest.slice(0, 80))}`, 'libvirt guest names have no spaces, slashes, quotes or <>&; `vfioctl guests` lists them');
    }
    const inventory = this.inventory();
    const sysfs = inventory.source.kind === 'sysfs';
    const context: PlanContext = {};
    const notes: string[] = [];
    let state: HostState | null = null;
    if (sysfs) {
      context.impact = this.hostImpact();
      context.boot = (await import('../adapters/render/host-config.js')).planBootInfo(this.bootTooling());
      context.bootLoader = this.bootTooling().bootLoader;
      let stateError: string | null = null;
      try {
        state = await this.state();
      } catch (e) {
        // a plan (not a change) on a state directory this user cannot read: the effects stay unknown
        if (!(e instanceof VfioctlError) || strict) throw e;
        stateError = e.message;
      }
      if (state) context.originalDrivers = Object.fromEntries(Object.entries(state.bound).map(([a, r]) => [a, r.original.driver]));
      else notes.push(`effects not composed: ${stateError}`);
      // without IOMMU groups the remedy depends on the platform: a VM needs a virtual IOMMU from its host
      if (!inventory.groups.length) {
        const f = this.cache.facts;
        const { inVirtualMachine } = await import('../core/doctor.js');
        context.platform = f
          ? { vm: inVirtualMachine(f), sysVendor: f.virt.sysVendor, boardVendor: f.virt.boardVendor, iommuTables: iommuTableNames(f.acpi.tables.state === 'ok' ? f.acpi.tables.value : []) }
          : readPlatform(this.host());
      }
    }
    const backend = input.backend ?? 'auto';
    if (!['auto', 'iommufd', 'legacy'].includes(backend)) throw new UsageError('bad-backend', `--backend ${backend} is not auto, iommufd or legacy`, 'use --backend auto|iommufd|legacy');
    if (input.driver !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(input.driver)) throw new UsageError('bad-driver', `--driver ${JSON.stringify(input.driver.slice(0, 80))} is not a driver name`, 'e.g. --driver vfio-pci');
    for (const [flag, v] of [['--libvirt-version', input.libvirtVersion], ['--qemu-version', input.qemuVersion]] as const) {
      if (v !== undefined && !/^\d{1,4}(\.\d{1,4}){0,2}$/.test(v)) throw new UsageError('bad-version', `${flag} ${JSON.stringify(v.slice(0, 40))} is not a version`, `e.g. ${flag} ${flag === '--qemu-version' ? '9.2' : '12.1.0'}`);
    }
    // the requested functions, their slots and their IOMMU groups: every function the planner can claim
    if (sysfs) {
      const slots = new Set(addresses.map((a) => a.slice(0, 10)));
      const withSlots = [...new Set([...addresses, ...inventory.functions.filter((f) => slots.has(f.address.slice(0, 10))).map((f) => f.address)])];
      context.vfio = this.vfioPlatform(this.withGroupMates(withSlots));
    }
    const probed = input.libvirtVersion !== undefined && input.qemuVersion !== undefined ? { libvirt: null, qemu: null } : backend === 'auto' ? await this.toolVersions() : { libvirt: null, qemu: null };
    context.versions = { libvirt: input.libvirtVersion ?? probed.libvirt, qemu: input.qemuVersion ?? probed.qemu };
    if (input.withGuests) context.otherGuests = (await libvirtGuests()).otherGuestsOf(await this.guests(), null);
    const { planPassthrough } = await import('../core/plan.js');
    const pure = planPassthrough(
      inventory,
      {
        addresses,
        ...(input.guest !== undefined ? { guest: input.guest } : {}),
        force: !!input.force,
        exact: !!input.exact,
        ...(input.singleFunction ? { singleFunction: true } : {}),
        romBar: romBar as RomBarChoice,
        nested: !!input.nested,
        ...(input.nested && input.viommuModel ? { viommuModel: input.viommuModel } : {}),
        allowUnsafeInterrupts: !!input.allowUnsafeInterrupts,
        ...(input.persistBy ? { persistBy: input.persistBy } : {}),
        ...(backend !== 'auto' ? { backend: backend as 'iommufd' | 'legacy' } : {}),
        ...(input.driver !== undefined ? { driver: input.driver } : {}),
      },
      context,
    );
    if (sysfs) {
      // NUMA and PCIe affinity of the claim (src/core/numa.ts): reported, warned on when it spans nodes
      const { planAffinity } = await import('../core/numa.js');
      const { readNumaFacts } = await import('../host/read-numa.js');
      const claimed = pure.claim.flatMap((a) => inventory.functions.filter((f) => f.address === a));
      const a = planAffinity(claimed, readNumaFacts(this.host(), inventory.functions, pure.claim));
      pure.affinity = a.affinity;
      if (a.findings.length) {
        pure.findings.push(...a.findings);
        if (pure.verdict === 'ok') pure.verdict = 'warn';
      }
    }
    if (!sysfs || !state) return { plan: pure, sources: [], notes };
    try {
      const { composePlan } = await import('./compose.js');
      const identities = readIdentities(this.host(), inventory.functions, pure.claim);
      return composePlan(pure, { host: this.host(), tooling: this.bootTooling(), state, allowUnsafeInterrupts: !!input.allowUnsafeInterrupts, identities });
    } catch (e) {
      // a file the composition must read is unreadable: the effects are unknown, the plan stays as planned
      if (!(e instanceof VfioctlError) || strict) throw e;
      return { plan: pure, sources: [], notes: [`effects not composed: ${e.message}`] };
    }
  }

  /** libvirt's version and PCI hostdev backends, only on a live host with virsh installed. */
  async libvirtRuntime(facts: HostFacts, enabled: boolean): Promise<LibvirtRuntime> {
    if (!enabled) return { state: 'not-checked', reason: '--no-libvirt' };
    if (!facts.live) return { state: 'not-checked', reason: 'not the live host (--root)' };
    if (!facts.libvirt.virsh) return { state: 'not-checked', reason: 'virsh not installed' };
    // The first domcapabilities call probes QEMU (seconds).
    const virsh = new Virsh({ timeoutMs: 60_000, env: { ...this.env } });
    let version: string | null = null;
    try {
      const v = await virsh.run(['version']);
      version = /Using library: libvirt (\S+)/.exec(v.stdout)?.[1] ?? /libvirt (\d+\.\d+\.\d+)/.exec(v.stdout)?.[1] ?? null;
    } catch (e) {
      return { state: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    try {
      const d = await virsh.run(['domcapabilities']);
      return { state: 'ok', version, pciBackends: parseDomainCapabilities(d.stdout).pciBackends };
    } catch (e) {
      return { state: 'ok', version, pciBackends: null, domcapsError: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Host readiness and security posture, with a verdict per named device (docs/doctor.md). */
  async doctor(input: DoctorInput = {}): Promise<DoctorReport> {
    const addresses = (input.addresses ?? []).map((a) => formatPciAddress(requirePciAddress(a)));
    const facts = this.hostFacts();
    facts.libvirt.runtime = await this.libvirtRuntime(facts, input.libvirt !== false);
    const inventory = this.inventory();
    const [{ checkHost, focusHostFindings, summarize }, { checkDevice }] = await Promise.all([import('../core/doctor.js'), import('../core/doctor-device.js')]);
    const hostFindings = checkHost(facts, inventory);
    if (inventory.source.kind === 'sysfs') hostFindings.push(...(await import('../core/vfio-platform.js')).checkVfioHost(this.vfioPlatform([])));
    const devices: DoctorReport['devices'] = [];
    const deviceFindings: Finding[] = [];
    const hostBlocking = focusHostFindings(hostFindings);
    for (const a of addresses) {
      const fs = checkDevice(facts, inventory, a);
      deviceFindings.push(...fs);
      const s = summarize([...hostBlocking, ...fs]);
      devices.push({ address: a, verdict: s.verdict, summary: summarize(fs).summary });
    }
    const findings = input.deviceFocus ? [...hostBlocking, ...deviceFindings] : [...hostFindings, ...deviceFindings];
    findings.push(...(await this.identityFindings(addresses)));
    const s = summarize(findings);
    return { version: 1, verdict: s.verdict, summary: s.summary, findings, devices };
  }

  /** Findings about persisted addresses that hold another device now (none when the state cannot be read). */
  private async identityFindings(addresses: readonly string[]): Promise<Finding[]> {
    if (this.options.from !== undefined) return [];
    let state: HostState;
    try {
      state = await this.state();
    } catch (e) {
      if (!(e instanceof VfioctlError)) throw e;
      return [];
    }
    const list = this.identityOf(state).filter((x) => !addresses.length || addresses.includes(x.address));
    return checkPersistedIdentities(list);
  }

  /** The cause and fix of an error message, citing this host's facts unless `withHost` is false. */
  async explain(text: string, withHost = true): Promise<{ version: 1; input: string; host: string | null } & ExplainResult> {
    const facts = withHost ? this.hostFacts() : undefined;
    const inventory = withHost ? this.inventory() : undefined;
    const { explainText } = await import('../core/explain.js');
    const { matches, unrecognised } = explainText(text, facts, inventory);
    return { version: 1, input: text.trim(), host: facts ? facts.root : null, matches, unrecognised };
  }

  /** Review a guest's definition for passthrough. */
  async lint(guest: string): Promise<{ version: 1; guest: string; running: boolean; verdict: ReturnType<typeof worstSeverity>; findings: Finding[] }> {
    const guests = await this.guests();
    const target = this.findGuest(guests, guest);
    const { lintGuest } = await import('../core/lint-guest.js');
    const inv = this.inventory();
    let vfioDrivers: Record<string, { driver: string; migration: 'supported' | 'not-supported' | 'unknown'; reason: string }> | undefined;
    if (inv.source.kind === 'sysfs') {
      const { lintVfioDrivers } = await import('./views-platform.js');
      const { pciHostdevs } = await domainXml();
      const sources = pciHostdevs(target.config).map((h) => h.source).filter((x): x is PciAddressString => x !== null);
      vfioDrivers = lintVfioDrivers(inv, this.vfioPlatform(sources), sources);
    }
    const findings = lintGuest({ domain: target.config, inventory: inv, otherGuests: (await libvirtGuests()).otherGuestsOf(guests, guest), ...(vfioDrivers ? { vfioDrivers } : {}) });
    return { version: 1, guest, running: target.running, verdict: worstSeverity(findings), findings };
  }

  private findGuest(guests: GuestInfo[], name: string): GuestInfo {
    const target = guests.find((g) => g.name === name);
    if (!target) {
      throw new VfioctlError('guest-not-found', `no guest named ${JSON.stringify(name)} on ${this.virsh().effectiveUri}`, { remedy: '`vfioctl guests` lists them; pass --connect URI for another libvirt connection' });
    }
    return target;
  }

  /** What vfioctl changed and has not undone, and any interrupted run. */
  async status(opts: { history?: boolean } = {}): Promise<StatusReport> {
    const host = this.host();
    const store = await this.store();
    const { readFnState } = await import('../apply/pci-state.js');
    const state = store.readState();
    const journal = store.readJournal();
    const lock = store.readLock();
    const bound = Object.entries(state.bound).map(([address, r]) => {
      let now: { driver: string | null; override: string | null } | null = null;
      try {
        now = readFnState(host, pciAddressOf(address));
      } catch (e) {
        if (!(e instanceof VfioctlError)) throw e;
      }
      // drift: a function vfioctl bound that is no longer on vfio-pci
      return { address, iommuGroup: r.iommuGroup, original: r.original, current: now, drifted: !now || now.driver !== (r.driver ?? 'vfio-pci'), runId: r.runId, at: r.at };
    });
    const interrupted =
      journal && (journal.status === 'running' || journal.status === 'rollback-failed')
        ? { runId: journal.runId, command: journal.command, status: journal.status, pid: journal.pid, startedAt: journal.startedAt, steps: journal.steps.length, libvirt: libvirtOf(journal) }
        : null;
    const attached = Object.entries(state.attached ?? {}).flatMap(([guest, fns]) => Object.entries(fns).map(([address, r]) => ({ guest, address, ...r })));
    const history = opts.history ? store.listRuns().map((j) => ({ runId: j.runId, command: j.command, args: j.args, status: j.status, startedAt: j.startedAt, finishedAt: j.finishedAt ?? null, error: j.error ?? null })) : undefined;
    const identity = this.identityOf(state);
    return { version: 1, stateDir: host.display(store.dir), bound, persisted: state.persisted, sriov: state.sriov, identity, attached, interrupted, lock, ...(history ? { history } : {}) };
  }

  /** What each per-address persisted function was and is now (sysfs hosts only; an import tells nothing). */
  private identityOf(state: HostState): IdentityStatus[] {
    if (this.options.from !== undefined) return [];
    const inv = this.inventory({ groups: 'none' });
    return Object.values(state.persisted).filter((r) => r.mode === 'per-address').flatMap((r) => r.addresses).sort().map((address) => {
      const f = inv.functions.find((x) => x.address === address);
      const rec = state.persisted[`address:${address}`];
      return identityStatus({ address, recorded: rec?.identity ?? null, now: f ? readIdentity(this.host(), f) : null });
    });
  }

  // ---- changes: plan -> select steps -> (preview | apply)

  private refuseBlocked(verdict: PlanVerdict, findings: Finding[], what: string): void {
    if (verdict !== 'blocked') return;
    const fails = findings.filter((f) => f.severity === 'fail');
    throw new VfioctlError('plan-blocked', `the plan is blocked; nothing was changed: ${fails.map((f) => f.summary).join('; ')}`, {
      remedy: `resolve the failing findings (\`vfioctl plan ${what}\` explains), or pass --force where the plan allows it (host-impact findings)`,
      exitCode: ExitCode.notReady,
      details: { verdict, findings },
    });
  }

  private change(command: string, args: string[], composed: { plan: PassthroughPlan; sources: ConfigSource[]; notes: string[] }, select: (s: PlanStep) => boolean, extra: Partial<Change> = {}): Change {
    const steps = composed.plan.steps.filter(select);
    return {
      command,
      args,
      plan: composed.plan,
      verdict: composed.plan.verdict,
      findings: composed.plan.findings,
      claim: composed.plan.claim,
      steps,
      notes: composed.notes,
      needsReboot: steps.some((s) => s.needsReboot && (s.effects?.length ?? 0) > 0),
      sources: composed.sources,
      ...extra,
    };
  }

  /** Bind the whole claim of a plan to vfio-pci now (and, with `persist`, keep it across reboots). */
  async changeBind(input: { addresses: string[]; force?: boolean; persist?: boolean; singleFunction?: boolean; driver?: string }): Promise<Change> {
    const c = await this.composed({ addresses: input.addresses, force: !!input.force, persistBy: 'address', ...(input.singleFunction ? { singleFunction: true } : {}), ...(input.driver !== undefined ? { driver: input.driver } : {}) });
    const bind = c.plan.verdict === 'blocked' ? undefined : (await bindMod()).previewBind(this.host(), c.plan.claim, (await import('./compose.js')).bindDriversOf(c.plan.steps));
    return this.change('bind', c.plan.claim, c, (s) => RUNTIME_IDS(s) || (!!input.persist && PERSIST_IDS.has(s.id)), bind ? { bind } : {});
  }

  /** Keep the whole claim on vfio-pci across reboots (per address, or by ID). */
  async changePersist(input: { addresses: string[]; byId?: boolean; force?: boolean; singleFunction?: boolean }): Promise<Change> {
    const c = await this.composed({ addresses: input.addresses, force: !!input.force, persistBy: input.byId ? 'id' : 'address', ...(input.singleFunction ? { singleFunction: true } : {}) });
    return this.change('persist', c.plan.claim, c, (s) => PERSIST_IDS.has(s.id));
  }

  /** Remove what persist added, for the named functions and the rest of their IOMMU groups (or all). */
  async changeUnpersist(input: { addresses?: string[]; all?: boolean }): Promise<Change> {
    const host = this.host();
    const state = await this.state();
    const { planUnpersist } = await persistMod();
    let keys: string[] | 'all' = 'all';
    if (!input.all) {
      if (!input.addresses?.length) throw new UsageError('no-address', 'name the functions, or pass --all', '`vfioctl status` lists what is persisted');
      const addrs = new Set<string>(this.withGroupMates(canonical(input.addresses, 'vfioctl unpersist 01:00.0')));
      keys = Object.entries(state.persisted).filter(([, r]) => (r.mode === 'per-address' || r.mode === 'ids') && r.addresses.some((a) => addrs.has(a))).map(([k]) => k);
      if (!keys.length) throw new UsageError('not-persisted', `vfioctl has persisted nothing for ${input.addresses.join(' ')}`, '`vfioctl status` lists what is persisted');
    }
    const cp = planUnpersist(host, this.bootTooling(), state, keys);
    return this.configChange(cp, 'unpersist', 'remove the boot-time configuration vfioctl added');
  }

  /** Endpoints in the IOMMU groups of `addresses` (the addresses first). */
  withGroupMates(addresses: PciAddressString[]): PciAddressString[] {
    const inv = this.inventory();
    const out = new Set<PciAddressString>(addresses);
    for (const a of addresses) {
      const g = inv.functions.find((f) => f.address === a)?.iommuGroup;
      for (const m of inv.groups.find((x) => g !== null && g !== undefined && x.id === g)?.members ?? []) if (m.role === 'endpoint') out.add(m.address);
    }
    return [...out];
  }

  private configChange(cp: ConfigPlan, id: string, title: string, findings: Finding[] = []): Change {
    const step = stepsOfConfigPlan(this.host(), id, title, cp);
    const verdict: PlanVerdict = findings.some((f) => f.severity === 'fail') ? 'blocked' : findings.some((f) => f.severity === 'warn') ? 'warn' : 'ok';
    return {
      command: cp.command, args: cp.args, plan: null, verdict, findings, claim: [], steps: [step], notes: cp.notes, needsReboot: cp.needsReboot,
      sources: [{ steps: [id], plan: cp }],
    };
  }

  /** The kernel command line for the IOMMU (enable: intel_iommu=on on Intel, iommu=pt unless `pt` is false). */
  async changeIommu(input: { enable: boolean; vendor?: 'intel' | 'amd'; pt?: boolean; allowUnsafeInterrupts?: boolean }): Promise<Change | null> {
    const host = this.host();
    const { iommuParams, planKernelCmdline, planUnsafeInterrupts } = await persistMod();
    const { newRunId } = await stateMod();
    const state = await this.state();
    const tooling = this.bootTooling();
    const vendor = input.vendor ?? this.cpuVendor();
    const v = vendor === 'intel' || vendor === 'amd' ? vendor : vendor === null ? null : 'other';
    if (input.enable) {
      const params = iommuParams(v, input.pt !== false);
      if (!params.length) return null;
      const cp = planKernelCmdline(host, tooling, state, { enable: true, params }, newRunId());
      const ch = this.configChange(cp, 'enable-iommu', `turn the IOMMU on: ${params.join(' ')} on the kernel command line (${tooling.bootLoader.kind})`);
      if (input.allowUnsafeInterrupts) {
        const u = planUnsafeInterrupts(host, tooling, true);
        const step = stepsOfConfigPlan(host, 'unsafe-interrupts', 'allow_unsafe_interrupts=1 (security downgrade)', u);
        step.effects = step.effects!.filter((e) => !(e.type === 'command' && ch.steps[0]!.effects!.some((x) => x.type === 'command' && x.argv.join(' ') === e.argv.join(' '))));
        ch.steps.push(step);
        ch.sources.push({ steps: ['unsafe-interrupts'], plan: u });
        ch.notes.push(UNSAFE_WARNING);
      }
      return ch;
    }
    const cp = planKernelCmdline(host, tooling, state, { enable: false, params: iommuParams(v, true) }, newRunId());
    const ch = this.configChange(cp, 'disable-iommu', `remove the IOMMU parameters vfioctl added (${tooling.bootLoader.kind})`);
    const u = planUnsafeInterrupts(host, tooling, false);
    if (u.files.length) {
      ch.steps.push(stepsOfConfigPlan(host, 'unsafe-interrupts', 'remove the allow_unsafe_interrupts file', { ...u, commands: [] }));
      ch.sources.push({ steps: ['unsafe-interrupts'], plan: { ...u, commands: [] } });
    }
    return ch;
  }

  /** Set a PF's VF count (and, with `persist`, at every boot). */
  async changeSriov(input: { pf: string; count: number; persist?: boolean }): Promise<Change> {
    const host = this.host();
    const { checkSriovRequest } = await import('../apply/sriov.js');
    const pf = formatPciAddress(requirePciAddress(input.pf));
    const info = checkSriovRequest(host, pf, input.count);
    const attrRel = `${host.pciDeviceRel(requirePciAddress(pf))}/sriov_numvfs`;
    const attr = `/${attrRel}`;
    const writes: StepEffect[] = [];
    if (info.numVfs > 0 && input.count > 0 && info.numVfs !== input.count) writes.push({ type: 'sysfs-write', path: attr, value: '0' });
    if (info.numVfs !== input.count) writes.push({ type: 'sysfs-write', path: attr, value: String(input.count) });
    const steps: PlanStep[] = [{ id: `sriov-${pf}`, title: `${pf}: ${info.numVfs} -> ${input.count} VFs (of ${info.totalVfs})`, kind: 'runtime', needsReboot: false, action: { type: 'sriov-numvfs', address: pf, count: input.count }, effects: writes }];
    const sources: ConfigSource[] = [];
    if (input.persist) {
      const { planSriovPersist } = await persistMod();
      const cp = planSriovPersist(host, await this.state(), pf, input.count === 0 ? null : input.count, (await stateMod()).newRunId());
      steps.push(stepsOfConfigPlan(host, 'sriov-persist', `create the VFs of ${pf} at every boot (udev rule)`, cp));
      sources.push({ steps: ['sriov-persist'], plan: cp });
    }
    return { command: 'sriov set', args: [pf, String(input.count)], plan: null, verdict: 'ok', findings: [], claim: [pf], steps, notes: [], needsReboot: false, sources, sriov: { pf, count: input.count, info } };
  }

  /** `reset-policy show`: each function's reset_method, what the kernel would try, and its reset-bug family. */
  resetPolicyReport(addresses: string[] = []): { version: 1; functions: ResetPolicyView[] } {
    const inv = this.inventory({ groups: 'none' });
    const want = addresses.map((a) => formatPciAddress(requirePciAddress(a)));
    for (const a of want) if (!inv.functions.some((f) => f.address === a)) throw new VfioctlError('no-such-device', `no PCI function ${a} on this host`, { remedy: '`vfioctl ls` lists the functions present', exitCode: ExitCode.usage });
    const fns = inv.functions.filter((f) => (want.length ? want.includes(f.address) : !f.isBridge));
    return { version: 1, functions: fns.map(resetPolicyView) };
  }

  /** Set a function's reset order now (reset_method) and, with `persist`, at every boot (udev rule). */
  async changeResetPolicy(input: { address: string; order: string; persist?: boolean }): Promise<Change> {
    const host = this.host();
    const address = formatPciAddress(requirePciAddress(input.address));
    const parsed = parseResetOrder(input.order);
    if (!parsed.ok) throw new UsageError('bad-reset-order', `--order ${JSON.stringify(input.order.slice(0, 80))}: ${parsed.problem}`, 'e.g. --order device_specific,bus (kernel names: device_specific acpi flr af_flr pm bus cxl_bus), or --order default');
    const f = this.inventory({ groups: 'none' }).functions.find((x) => x.address === address);
    if (!f) throw new VfioctlError('no-such-device', `no PCI function ${address} on this host`, { remedy: '`vfioctl ls` lists the functions present', exitCode: ExitCode.usage });
    const view = resetPolicyView(f);
    const why = checkResetOrder(view, parsed.order);
    if (why) throw new VfioctlError('reset-order-refused', why, { remedy: `\`vfioctl reset-policy show ${address}\` lists what the kernel offers`, exitCode: ExitCode.notReady });
    const value = resetMethodValue(parsed.order);
    const findings: Finding[] = [];
    if (view.bug && view.bug.order && parsed.order !== 'default' && parsed.order[0] !== view.bug.order[0]) {
      findings.push({ id: 'reset-bug', severity: 'warn', category: 'device', subjects: [address], summary: `${address}: ${view.bug.problem}`, evidence: [{ source: `/sys/bus/pci/devices/${address}/reset_method`, value: view.current?.join(' ') ?? 'absent' }], remedy: view.bug.fix.join('; then ') });
    }
    const attr = `/${host.pciDeviceRel(requirePciAddress(address))}/reset_method`;
    const now = view.current?.join(' ') ?? '';
    const steps: PlanStep[] = [{
      id: `reset-method-${address}`, title: `${address}: reset_method "${now}" -> "${value}"`, kind: 'runtime', needsReboot: false,
      action: { type: 'config', command: 'reset-policy set' }, effects: value === now ? [] : [{ type: 'sysfs-write', path: attr, value }],
      command: `echo ${value} > ${attr}`,
    }];
    const sources: ConfigSource[] = [];
    if (input.persist) {
      const { planResetPersist } = await import('../apply/reset-policy.js');
      const cp = planResetPersist(host, await this.state(), address, parsed.order === 'default' ? null : [...parsed.order], (await stateMod()).newRunId());
      steps.push(stepsOfConfigPlan(host, 'reset-persist', parsed.order === 'default' ? `forget the reset order of ${address} at boot` : `set the reset order of ${address} at every boot (udev rule)`, cp));
      sources.push({ steps: ['reset-persist'], plan: cp });
    }
    const verdict = findings.length ? 'warn' : 'ok';
    return { command: 'reset-policy set', args: [address, value], plan: null, verdict, findings, claim: [address as PciAddressString], steps, notes: [], needsReboot: false, sources, ...(value === now ? {} : { resetPolicy: { address, value, view } }) };
  }

  /** `mdev types` / `mdev ls`: mediated device types, the mdevs, NVIDIA vGPU VFs and Intel SR-IOV GPUs. */
  async mdevReport(): Promise<{ version: 1 } & MdevReport> {
    const { readMdev } = await import('../host/read-mdev.js');
    return { version: 1, ...readMdev(this.host(), this.inventory({ groups: 'none' }).functions) };
  }

  /** Create or remove a mediated device now and, with `persist`, keep it at every boot (mdevctl config). */
  async changeMdev(input: { op: 'create' | 'remove'; parent?: string; mdevType?: string; uuid: string; persist?: boolean }): Promise<Change> {
    const host = this.host();
    const { checkMdevRequest, planMdevPersist } = await import('../apply/mdev.js');
    let parent = input.parent;
    let mdevType = input.mdevType;
    if (input.op === 'remove') {
      const m = (await this.mdevReport()).devices.find((d) => d.uuid === input.uuid);
      parent ??= m?.parent ?? undefined;
      mdevType ??= m?.mdevType ?? undefined;
    }
    if (!parent || !mdevType) throw new UsageError('bad-mdev', input.op === 'create' ? 'name the parent and the type' : `no mdev ${input.uuid} with a PCI parent on this host`, input.op === 'create' ? 'e.g. vfioctl mdev create 0000:00:02.0 i915-GVTg_V5_4 --uuid $(uuidgen)' : '`vfioctl mdev ls` lists them');
    const req: MdevRequest = { op: input.op, parent: formatPciAddress(requirePciAddress(parent)), mdevType, uuid: input.uuid };
    checkMdevRequest(host, req);
    const rel = req.op === 'create' ? `${host.pciDeviceRel(requirePciAddress(req.parent))}/mdev_supported_types/${req.mdevType}/create` : `sys/bus/mdev/devices/${req.uuid}/remove`;
    const value = req.op === 'create' ? req.uuid : '1';
    const steps: PlanStep[] = [{
      id: `mdev-${req.op}-${req.uuid}`, title: `${req.op} mdev ${req.uuid} (${req.mdevType}) ${req.op === 'create' ? 'on' : 'from'} ${req.parent}`, kind: 'runtime', needsReboot: false,
      action: { type: 'config', command: `mdev ${req.op}` }, effects: [{ type: 'sysfs-write', path: `/${rel}`, value }], command: `echo ${value} > /${rel}`,
    }];
    const sources: ConfigSource[] = [];
    if (input.persist) {
      const cp = planMdevPersist(host, await this.state(), req, (await stateMod()).newRunId());
      steps.push(stepsOfConfigPlan(host, 'mdev-persist', req.op === 'create' ? `define mdev ${req.uuid} for mdevctl (started at every boot)` : `forget the definition of mdev ${req.uuid}`, cp));
      sources.push({ steps: ['mdev-persist'], plan: cp });
    }
    return { command: `mdev ${req.op}`, args: [req.parent, req.mdevType, req.uuid], plan: null, verdict: 'ok', findings: [], claim: [req.parent as PciAddressString], steps, notes: [], needsReboot: false, sources, mdev: req };
  }

  /** `persist --acknowledge`: re-pin persisted addresses to the devices they hold now. */
  async changeAcknowledge(input: { addresses: string[] }): Promise<Change> {
    const host = this.host();
    const addresses = canonical(input.addresses, 'vfioctl persist --acknowledge 01:00.0');
    const inv = this.inventory({ groups: 'none' });
    const identities = readIdentities(host, inv.functions, addresses);
    const { planAcknowledge } = await persistMod();
    const cp = planAcknowledge(host, this.bootTooling(), await this.state(), addresses, identities, (await stateMod()).newRunId());
    return this.configChange(cp, 'persist-acknowledge', `record what ${addresses.join(', ')} ${addresses.length > 1 ? 'hold' : 'holds'} now as the persisted device`);
  }

  private async loadTarget(name: string, effects: Effects): Promise<{ target: GuestInfo; live: DomainConfig | null; guests: GuestInfo[] }> {
    const guests = await this.guests();
    const target = this.findGuest(guests, name);
    if (effects.live && !target.running) {
      throw new VfioctlError('guest-not-running', `${name} is ${target.state}: --live needs a running guest`, { remedy: 'use --config to change the persistent definition (it takes effect at the next start)' });
    }
    const live = effects.live ? (await libvirtGuests()).parseOrThrow(await this.virsh().dumpxml(name), `live definition of ${name}`) : null;
    return { target, live, guests };
  }

  /** Give a guest the whole IOMMU groups of `addresses`, one managed hostdev per claimed function. */
  async changeAttach(input: { guest: string; addresses: string[]; effects: Effects; exact?: boolean; force?: boolean; romBar?: RomBarChoice | string; singleFunction?: boolean }): Promise<Change> {
    canonical(input.addresses, 'vfioctl attach GUEST 01:00.0');
    const { target, live, guests } = await this.loadTarget(input.guest, input.effects);
    this.cache.guests = Promise.resolve(guests);
    const c = await this.composed({ addresses: input.addresses, guest: input.guest, exact: !!input.exact, force: !!input.force, romBar: input.romBar ?? 'auto', withGuests: true, ...(input.singleFunction ? { singleFunction: true } : {}) });
    if (c.plan.verdict === 'blocked') return this.change('attach', [input.guest, ...c.plan.claim], c, () => false);
    const set = (await libvirtGuests()).planHostdevAttach(c.plan, target, live, input.effects);
    const step = c.plan.steps.find((s) => s.id === 'attach-hostdevs');
    if (step) step.effects = hostdevEffects(set);
    return this.change('attach', [input.guest, ...c.plan.claim], c, (s) => s.id === 'attach-hostdevs', { hostdev: { set, virsh: this.virsh(), target } });
  }

  /** Take functions from a guest, with the rest of their IOMMU groups that the guest holds (unless `exact`). */
  async changeDetach(input: { guest: string; addresses: string[]; effects: Effects; exact?: boolean }): Promise<Change> {
    const requested = canonical(input.addresses, 'vfioctl detach GUEST 01:00.0');
    const { target, live, guests } = await this.loadTarget(input.guest, input.effects);
    let addresses: PciAddressString[] = requested;
    const notes: string[] = [];
    if (!input.exact) {
      // The rest of each group that this guest holds goes too: half a group cannot start.
      const { pciHostdevs } = await domainXml();
      const attached = new Set<string>([...pciHostdevs(target.config), ...(live ? pciHostdevs(live) : [])].map((h) => h.source));
      const extra = this.withGroupMates(requested).filter((a) => !requested.includes(a) && attached.has(a));
      if (extra.length) {
        addresses = [...requested, ...extra];
        notes.push(`${extra.map((a) => formatShortAddress(pciAddressOf(a))).join(', ')} detached as well: same IOMMU group (use --exact to leave ${extra.length > 1 ? 'them' : 'it'})`);
      }
    }
    const lg = await libvirtGuests();
    const set = lg.planHostdevDetach(addresses, target, live, input.effects, lg.otherGuestsOf(guests, input.guest));
    set.notes.unshift(...notes);
    if (!set.changes.length) {
      throw new VfioctlError('not-attached', `none of ${requested.map((a) => formatShortAddress(pciAddressOf(a))).join(', ')} is attached to ${input.guest} (${set.skipped.map((x) => x.reason).join('; ')})`, {
        remedy: '`vfioctl guests` shows what each guest holds',
        exitCode: ExitCode.error,
        details: { skipped: set.skipped },
      });
    }
    const step: PlanStep = { id: 'detach-hostdevs', title: `remove ${set.changes.length} hostdev(s) from guest "${input.guest}"`, kind: 'persistent', needsReboot: false, action: { type: 'detach-hostdev', guest: input.guest, addresses: set.changes.map((x) => x.address) }, effects: hostdevEffects(set) };
    return { command: 'detach', args: [input.guest, ...addresses], plan: null, verdict: 'ok', findings: [], claim: addresses, steps: [step], notes: set.notes, needsReboot: false, sources: [], hostdev: { set, virsh: this.virsh(), target } };
  }

  /** The config plan the selected persistent steps of a change carry out. */
  configPlanOf(change: Change): ConfigPlan | null {
    const steps = change.steps.filter((s) => (s.effects ?? []).some((e) => e.type === 'file' || e.type === 'command') && !RUNTIME_IDS(s) && !(change.sriov && s.kind === 'runtime'));
    const used = change.sources.filter((src) => src.steps.some((id) => change.steps.some((x) => x.id === id)));
    if (!steps.length && !used.length) return null;
    const command = change.command === 'bind' ? 'persist' : change.command === 'sriov set' ? 'sriov persist' : change.command;
    const args = used[0]?.plan.args ?? change.args;
    return configPlanOf(command, args, steps, used);
  }

  /** An apply context for this host (lock, journal, writers), from the session's runtime options. */
  async applyContext(opts: ApplyOptions = {}): Promise<ApplyContext> {
    this.assertMutable();
    const host = this.host();
    const rt = this.options.runtime ?? {};
    const timeoutMs = opts.timeoutMs ?? rt.moveTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('bad-timeout', `--timeout ${opts.timeoutMs} is not a positive number of milliseconds`, 'e.g. --timeout 20000');
    const { ConfigWriter, RealSysfsWriter } = await writers();
    const { StateStore, STATE_DIR } = await stateMod();
    const { createExec } = await import('../adapters/exec.js');
    const exec = createExec({ env: { ...this.env } });
    const real = (): SysfsWriter => {
      const w = new RealSysfsWriter(host, exec);
      return this.live ? w : guardLoadModule(w, host);
    };
    return {
      host,
      sysfs: rt.sysfsWriter ? rt.sysfsWriter(host, exec) : real(),
      files: new ConfigWriter(host, `${STATE_DIR}/backups`),
      exec,
      store: new StateStore(host),
      move: { timeoutMs, pollMs: Math.min(50, Math.max(5, Math.floor(timeoutMs / 20))) },
      log: this.options.log ?? (() => {}),
      ...(rt.progress ? { progress: rt.progress } : {}),
      virsh: (uri) => {
        // the user's --connect wins; a journal may name its connection only on the running system's own root
        if (this.options.connect !== undefined) return this.virsh(this.options.connect);
        if (uri !== null && !this.live) {
          throw new VfioctlError('journal-uri-refused', `the journal under ${host.root} names the libvirt connection ${JSON.stringify(uri)}; a journal under a root that is not the running system does not choose connections (pass --connect URI)`, {
            remedy: 'run recover with --connect URI naming the libvirt connection to use',
          });
        }
        return this.virsh(uri ?? undefined);
      },
      journalCommands: this.live,
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
    };
  }

  /**
   * Carry out exactly the selected steps of a change, each kind under the journal: the runtime binding
   * (one run), the files and commands (one run), the libvirt calls (one run), the VF count (one run).
   * Refuses a blocked change. Commands run only when the root is the running system; otherwise they are
   * returned to be run by hand.
   */
  async apply(change: Change, opts: ApplyOptions = {}): Promise<ChangeResult> {
    this.assertMutable();
    this.refuseBlocked(change.verdict, change.findings, change.claim.join(' '));
    const actx = await this.applyContext(opts);
    const out: ChangeResult = { bind: null, config: null, hostdev: null, sriov: null };
    const binds = change.steps.filter((s) => s.action.type === 'bind-vfio').map((s) => (s.action as { address: string }).address);
    if (binds.length || change.steps.some((s) => s.id === 'load-vfio-pci') || change.command === 'bind') out.bind = await (await bindMod()).applyBind(actx, binds.length ? binds : change.claim, (await import('./compose.js')).bindDriversOf(change.steps));
    if (change.sriov) out.sriov = await (await import('../apply/sriov.js')).applySriov(actx, change.sriov.pf, change.sriov.count);
    if (change.resetPolicy) out.resetPolicy = await (await import('../apply/reset-policy.js')).applyResetMethod(actx, change.resetPolicy.address, change.resetPolicy.value);
    if (change.mdev) out.mdev = await (await import('../apply/mdev.js')).applyMdev(actx, change.mdev);
    const cp = this.configPlanOf(change);
    if (cp && change.command !== 'attach' && change.command !== 'detach') out.config = await (await persistMod()).applyConfigPlan(actx, cp, { regenerate: opts.regenerate !== false, runCommands: this.live });
    if (change.hostdev && change.hostdev.set.changes.length) {
      const v = change.hostdev.virsh;
      const { applyHostdevChangeSet } = await import('../apply/libvirt.js');
      out.hostdev = await applyHostdevChangeSet({ ...actx, virsh: () => v }, v, change.hostdev.set);
    }
    return out;
  }

  /** The dry run of a change: its steps with their effects, and the config diff. */
  preview(change: Change): { steps: PlanStep[]; config: ConfigPlan | null; bind: BindPreview | null } {
    return { steps: change.steps, config: this.configPlanOf(change), bind: change.bind ?? null };
  }

  // ---- release and recover (they undo what a journal recorded; no plan to compose)

  async releasePreview(which: string[] | 'all', opts: { to?: string } = {}): Promise<ReleasePreview> {
    if (opts.to !== undefined) parseDriverTarget(opts.to);
    const list = which === 'all' ? 'all' : canonical(which, 'vfioctl release 01:00.0');
    return (await bindMod()).previewRelease({ host: this.host(), store: await this.store() }, list, opts);
  }

  async release(which: string[] | 'all', opts: { to?: string } & ApplyOptions = {}): Promise<ReleaseResult> {
    this.assertMutable();
    if (opts.to !== undefined) parseDriverTarget(opts.to);
    const list = which === 'all' ? 'all' : canonical(which, 'vfioctl release 01:00.0');
    return (await bindMod()).applyRelease(await this.applyContext(opts), list, opts.to === undefined ? {} : { to: opts.to });
  }

  async recoverPreview(): Promise<ReturnType<typeof import('../apply/recover.js').previewRecover>> {
    return (await import('../apply/recover.js')).previewRecover({ store: await this.store(), host: this.host() });
  }

  async recover(opts: ApplyOptions = {}): Promise<RecoverResult> {
    this.assertMutable();
    return (await import('../apply/recover.js')).applyRecover(await this.applyContext(opts));
  }

  /** The guests libvirt knows, with the PCI functions more than one of them lists. */
  async guestsReport(): Promise<{ version: 1; uri: string; guests: GuestInfo[]; shared: { address: string; guests: string[] }[] }> {
    const guests = await this.guests();
    const { pciHostdevs } = await domainXml();
    const users = new Map<string, string[]>();
    for (const g of guests) for (const h of pciHostdevs(g.config)) users.set(h.source, [...(users.get(h.source) ?? []), g.name]);
    const shared = [...users].filter(([, names]) => names.length > 1).map(([address, names]) => ({ address, guests: names }));
    return { version: 1, uri: this.virsh().effectiveUri, guests, shared };
  }
}

export const UNSAFE_WARNING = 'WARNING: allow_unsafe_interrupts lets a guest inject interrupts on a host without interrupt remapping; use it only for guests you trust completely.';

function hostdevEffects(set: HostdevChangeSet): StepEffect[] {
  return set.changes.map((c) => ({ type: 'libvirt', call: set.op === 'attach' ? 'attach-device' : 'detach-device', guest: set.guest, address: c.address, live: set.effects.live, config: set.effects.config, xml: c.xml }));
}

/** Open a session on a host (see SessionOptions). Nothing is read until it is asked for. */
export function openSession(options: SessionOptions = {}): Session {
  return new Session(options);
}
