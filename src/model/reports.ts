/**
 * The --json contract: one type per document a command prints (docs/json.md). A report is what a command
 * hands to the CLI's JSON printer; the printed document is the report inside the envelope (`schemaVersion`
 * first). `npm run schemas` generates schemas/*.schema.json from the `*Document` types below, and
 * test/contract/ checks that every command's real output validates against its schema.
 *
 * The reports reuse the types of the layers that produce them (types only: nothing here runs above
 * model/, see eslint.config.js). Where a command prints an object literal, the interface here describes
 * exactly that literal.
 */
import type { Finding, Severity } from './finding.js';
import type { PciAddressString } from './pci-address.js';
import type { GroupIsolation, InventorySource, IommuState, PciFunction, PciInventory, UnknownFact } from './pci-function.js';
import type { PciePortType } from './pci-config.js';
import type { PassthroughPlan, PlanVerdict } from './plan.js';
import type { PciBar } from './vfio-platform.js';
import type { DoctorSummary, DoctorVerdict } from '../core/doctor.js';
import type { Explanation, ExplainSource } from '../core/explain.js';
import type { SnapshotManifest } from '../host/snapshot.js';
import type { RedactionKind, SnapshotArea } from '../host/snapshot-redact.js';
import type { DomainConfig, DomainHostdev, FirmwareKind, GuestPciAddress } from '../adapters/libvirt/domain-xml.js';
import type { ApplyResult, Effects } from '../adapters/libvirt/guests.js';
import type { NodedevPci } from '../adapters/libvirt/nodedev-xml.js';
import type { RenderFormat } from '../adapters/render/index.js';
import type { BindPreview, BindResult, ReleasePreview, ReleaseResult } from '../apply/bind.js';
import type { ConfigApplyResult } from '../apply/persist.js';
import type { AttachedRecord, FnDriverState, HostState, JournalStatus, LockInfo, PersistRecord } from '../apply/state.js';
import type { IdentityStatus } from '../core/identity-drift.js';
import type { ResetPolicyView } from '../core/reset-policy.js';
import type { IntelSriovGpu, MdevDevice, MdevParent, NvidiaVgpuVf } from '../host/read-mdev.js';
import type { StepEffect } from './plan.js';

/**
 * The version of the JSON contract (docs/json.md): additive changes keep it; removing or renaming a
 * field, changing its type, or changing a closed enum bumps it.
 */
export const SCHEMA_VERSION = 1 as const;

/** What every --json document carries, errors included. */
export interface JsonEnvelope {
  /** The version of the JSON contract (docs/json.md); additive changes keep it. */
  schemaVersion: 1;
}

/** A printed document: the envelope and the report. */
export type JsonDocument<R> = JsonEnvelope & R;

/**
 * The document for a report: `schemaVersion` first, then the report's own fields (its `version`, where
 * it has one, kept as it was). Every front end prints reports through this (the CLI in ctx.printJson).
 */
export function jsonDocument<R extends object>(report: R): JsonDocument<R> {
  // first in key order, and not to be overridden by a report field of the same name
  return Object.assign({ schemaVersion: SCHEMA_VERSION }, report, { schemaVersion: SCHEMA_VERSION });
}

/** Reports that existed before the envelope keep their own `version` field (always 1; see docs/json.md). */
export interface LegacyVersion {
  /** Equal to 1 for as long as schemaVersion is 1 (kept for consumers written before schemaVersion); read schemaVersion. */
  version: 1;
}

// ---------- errors (every command) ----------

export interface ErrorReport {
  error: {
    /** stable error code, e.g. "no-such-device", "usage", "virsh-failed" (docs/exit-codes.md) */
    code: string;
    message: string;
    /** what a person can do about it; null when there is nothing to add */
    remedy: string | null;
    /** error-specific facts (failed virsh call, steps rolled back, ...) */
    details?: Record<string, unknown>;
  };
}

// ---------- inventory: ls, groups, show, snapshot ----------

export interface LsReport extends LegacyVersion {
  source: InventorySource;
  iommu: IommuState;
  functions: PciFunction[];
  problems: PciInventory['problems'];
}

/** One member of a group as `groups` and `show` print it (names and IDs joined in from the inventory). */
export interface GroupMemberView {
  address: PciAddressString;
  role: 'bridge' | 'endpoint';
  /** null when the member is not in sys/bus/pci */
  class: string | null;
  vendorId: string | null;
  deviceId: string | null;
  name: string | null;
  /** null: no driver bound, unless `unknown` names "driver" (not read) */
  driver: string | null;
  /** the facts of this view that were not read (the function's `unknown` entries for `driver`); additive */
  unknown: UnknownFact[];
}

export interface GroupView {
  id: number;
  type: string | null;
  isolation: GroupIsolation;
  hostCritical: { address: PciAddressString; reason: string }[];
  members: GroupMemberView[];
}

export interface GroupsReport extends LegacyVersion {
  source: InventorySource;
  iommu: IommuState;
  groups: GroupView[];
  problems: PciInventory['problems'];
}

/** One hop of the path from the root bus down to the function. */
export interface TopologyHop {
  address: PciAddressString;
  class: string | null;
  name: string | null;
  portType: PciePortType | null;
  /** ACS isolating on this hop; null when the function has no ACS capability, or when `unknown` says it was not read */
  acs: boolean | null;
  /** the function's `unknown` entries that leave `acs` (and `portType`) unknown: capabilities not read; additive */
  unknown: UnknownFact[];
}

export interface ShowReport extends LegacyVersion {
  source: InventorySource;
  function: PciFunction;
  group: GroupView | null;
  topology: { rootBus: string | null; path: TopologyHop[] };
  /** the function's VFIO platform facts (additive; absent for an imported listing, which does not tell them) */
  platform?: ShowPlatform;
}

/** VFIO driver, migration, BARs and resizable BAR state of one function (src/model/vfio-platform.ts). */
export interface ShowPlatform {
  modalias: string | null;
  /** the best VFIO driver from modules.alias, or vfio-pci; vfioDriverBy 'unknown' when modules.alias was not read */
  vfioDriver: string;
  vfioDriverBy: 'modules.alias' | 'default' | 'option' | 'unknown';
  alias: string | null;
  migration: { verdict: 'supported' | 'not-supported' | 'unknown'; dirtyTracking: 'device' | 'iommu' | 'none' | null; debugfsState: string | null; debugfsFeatures: string | null; reason: string };
  /** BARs from the sysfs resource file; null when it was not read */
  bars: PciBar[] | null;
  /** the Resizable BAR capability (config space) and the kernel's resourceN_resize files */
  resizableBars: { bar: number; sizes: string[]; current: string; resizeFile: string | null }[] | null;
}

export interface SnapshotReport extends LegacyVersion {
  out: string;
  archive: boolean;
  manifest: SnapshotManifest;
  /** what the snapshot holds, by area (docs/snapshot.md) */
  contents: SnapshotArea[];
  /** with --redact: how many of each kind were replaced; null without */
  redactions: Record<RedactionKind, number> | null;
}

// ---------- readiness: doctor, check, explain ----------

/** `doctor` and `check` (check keeps only the host findings that warn or fail). */
export interface DoctorReportJson extends LegacyVersion {
  verdict: DoctorVerdict;
  summary: DoctorSummary;
  findings: Finding[];
  devices: { address: string; verdict: DoctorVerdict; summary: DoctorSummary }[];
}

export interface ExplainReport extends LegacyVersion {
  input: string;
  /** the host root read for facts; null with --no-host */
  host: string | null;
  matches: Explanation[];
  /** non-empty input lines no known message matched (at most 50) */
  unrecognised: { line: number; text: string }[];
}

export interface ExplainListReport extends LegacyVersion {
  known: { id: string; title: string; source: ExplainSource }[];
}

// ---------- plan and render ----------

export type PlanReport = LegacyVersion & PassthroughPlan;

export interface RenderReport extends LegacyVersion {
  format: RenderFormat;
  verdict: PlanVerdict;
  claim: PciAddressString[];
  findings: Finding[];
  text: string;
}

// ---------- libvirt: guests, attach, detach, lint, nodedev ----------

export interface GuestView {
  name: string;
  state: string;
  running: boolean;
  machine: string | null;
  chipset: DomainConfig['chipset'];
  firmware: FirmwareKind;
  hostdevs: DomainHostdev[];
}

export interface GuestsReport extends LegacyVersion {
  uri: string;
  guests: GuestView[];
  /** host functions more than one guest lists */
  shared: { address: PciAddressString; guests: string[] }[];
}

/** The hostdev change attach and detach make (or, with --dry-run, would make). */
export interface HostdevChangeView {
  effects: Effects;
  changes: { address: PciAddressString; managed: boolean; guestAddress: GuestPciAddress | null; romBar: 'on' | 'off' | null; xml: string }[];
  skipped: { address: PciAddressString; reason: string }[];
  notes: string[];
  /** unmanaged functions detach gives back to the host */
  reattach: PciAddressString[];
  commands: string[];
  /** unified diff of the persistent definition; null when it does not change */
  configDiff: string | null;
}

export interface AttachReport extends LegacyVersion {
  guest: string;
  uri: string;
  dryRun: boolean;
  plan: { claim: PciAddressString[]; hostSide: PciAddressString[]; verdict: PlanVerdict; findings: Finding[] };
  /** null when the plan is blocked */
  change: HostdevChangeView | null;
  /** null for a dry run, a blocked plan, or nothing to do */
  result: ApplyResult | null;
}

export interface DetachReport extends LegacyVersion {
  guest: string;
  uri: string;
  dryRun: boolean;
  change: HostdevChangeView;
  /** null for a dry run */
  result: ApplyResult | null;
}

export interface LintReport extends LegacyVersion {
  guest: string;
  running: boolean;
  verdict: Severity;
  findings: Finding[];
}

export interface NodedevReport extends LegacyVersion {
  name: string;
  address: string;
  nodedev: NodedevPci;
  crossCheck: Finding[];
  xml: string;
}

// ---------- mutating commands: bind, release, persist/unpersist/host, sriov, recover, status ----------

interface BindCommon extends LegacyVersion {
  dryRun: boolean;
  verdict: PlanVerdict;
  claim: PciAddressString[];
  findings: Finding[];
}

/** bind: a blocked plan (nothing done), a dry run (the preview), or the run's result. */
export type BindReport =
  | (BindCommon & { result: null })
  | (BindCommon & { dryRun: true; preview: BindPreview; result: null })
  | (BindCommon & { dryRun: false; result: BindResult; persisted: ConfigApplyResult | null });

export interface ReleaseReport extends LegacyVersion {
  dryRun: boolean;
  preview: ReleasePreview;
  /** null for a dry run or when there is nothing to release */
  result: ReleaseResult | null;
}

/** A file a config plan writes: before/after are the whole contents (null = absent). */
export interface ConfigFileView {
  path: string;
  before: string | null;
  after: string | null;
}

/** persist, unpersist, host enable-iommu, host disable-iommu (and sriov set --persist dry runs). */
export type ConfigReport =
  | (LegacyVersion & {
      dryRun: true;
      command: string;
      files: ConfigFileView[];
      diff: string;
      commands: string[];
      notes: string[];
      needsReboot: boolean;
      result: null;
    })
  | (LegacyVersion & { dryRun: false; command: string; diff: string; result: ConfigApplyResult })
  /** host enable-iommu on AMD: nothing to add */
  | (LegacyVersion & { dryRun: boolean; command: 'host enable-iommu'; result: null; notes: string[] })
  /** persist refused: the plan is blocked (exit 3); nothing was changed */
  | (LegacyVersion & { dryRun: boolean; command: 'persist'; verdict: PlanVerdict; claim: PciAddressString[]; findings: Finding[]; result: null });

export type SriovReport =
  | (LegacyVersion & {
      dryRun: true;
      pf: string;
      before: number;
      after: number;
      totalVfs: number;
      persist: { diff: string; commands: string[] } | null;
      result: null;
    })
  | (LegacyVersion & {
      dryRun: false;
      pf: string;
      result: { runId: string | null; before: number; after: number; vfs: string[] };
      persisted: ConfigApplyResult | null;
    });

export type RecoverReport =
  | (LegacyVersion & { dryRun: boolean; action: 'none'; runId: null; steps: string[] })
  | (LegacyVersion & {
      dryRun: true;
      action: 'completed' | 'rolled-back';
      runId: string;
      command: string;
      steps: string[];
      /** the sysfs writes and file restores recover would make */
      writes: string[];
      /** host commands it would run (live root only) */
      commands: string[];
      /** commands it would list to run by hand (any other root) */
      toRun: string[];
      /** steps whose undo would fail as things stand */
      problems: string[];
    })
  | (LegacyVersion & {
      dryRun: false;
      action: 'none' | 'completed' | 'rolled-back';
      runId: string;
      command: string;
      undone: string[];
      /** commands not run because the root is not the running system */
      toRun: string[];
      staleLockPid: number | null;
    });

export interface StatusBound {
  address: string;
  iommuGroup: number | null;
  original: FnDriverState;
  /** the function's driver and override now; null when it cannot be read (gone) */
  current: FnDriverState | null;
  /** no longer on vfio-pci (changed outside vfioctl) */
  drifted: boolean;
  runId: string;
  at: string;
}

export interface StatusAttached extends AttachedRecord {
  guest: string;
  address: string;
}

export interface StatusInterrupted {
  runId: string;
  command: string;
  status: JournalStatus;
  pid: number;
  startedAt: string;
  /** number of journal steps */
  steps: number;
  libvirt: { guest: string; uri: string | null; steps: { op: string; address: string; status: string }[] } | null;
}

export interface StatusHistoryEntry {
  runId: string;
  command: string;
  args: string[];
  status: JournalStatus;
  startedAt: string;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
}

export interface StatusReport extends LegacyVersion {
  /** the state directory as the host shows it */
  stateDir: string;
  bound: StatusBound[];
  persisted: Record<string, PersistRecord>;
  sriov: HostState['sriov'];
  attached: StatusAttached[];
  /** per-address persisted functions: the identity recorded and what the address holds now */
  identity: IdentityStatus[];
  interrupted: StatusInterrupted | null;
  lock: LockInfo | null;
  /** with --history */
  history?: StatusHistoryEntry[];
}

// ---------- reset policy, mediated devices ----------

/** reset-policy show: one view per function. */
export interface ResetPolicyShowReport extends LegacyVersion {
  functions: ResetPolicyView[];
}

/** reset-policy set: a dry run (the write and the boot-time rule) or the run's result. */
export type ResetPolicySetReport =
  | (LegacyVersion & {
      dryRun: true;
      address: string;
      /** the reset_method value written ("bus flr", "default") */
      order: string;
      writes: StepEffect[];
      findings: Finding[];
      persist: { diff: string; commands: string[] } | null;
      result: null;
    })
  | (LegacyVersion & {
      dryRun: false;
      address: string;
      order: string;
      findings: Finding[];
      /** null when reset_method held the order already */
      result: { runId: string | null; before: string; after: string } | null;
      persisted: ConfigApplyResult | null;
    });

/** mdev types / mdev ls / mdev create|remove / mdev render. */
export type MdevReportJson =
  | (LegacyVersion & { parents: MdevParent[]; nvidiaVgpu: NvidiaVgpuVf[]; intelSriov: IntelSriovGpu[]; problems: { path: string; message: string }[] })
  | (LegacyVersion & { devices: MdevDevice[] })
  | (LegacyVersion & { dryRun: true; op: 'create' | 'remove'; parent: string; mdevType: string; uuid: string; writes: StepEffect[]; persist: { diff: string } | null; result: null })
  | (LegacyVersion & { dryRun: false; op: 'create' | 'remove'; parent: string; mdevType: string; uuid: string; result: { runId: string; op: 'create' | 'remove'; uuid: string; present: boolean } | null; persisted: ConfigApplyResult | null })
  | (LegacyVersion & { uuid: string; format: 'libvirt' | 'qemu'; text: string });
/** How this copy was built: the npm package, a single executable, or the Debian package's executable. */
export type BuildKind = 'npm' | 'sea' | 'deb';

/** `vfioctl --version --json`: this copy and the platform it runs on (the running system, not --root). */
export interface VersionReport {
  version: string;
  /** The git commit it was built from; null when not recorded (running from a source tree). */
  commit: string | null;
  build: BuildKind;
  /** Running from the bundled entry (npm package, single executable) rather than compiled modules. */
  bundled: boolean;
  platform: {
    /** Kernel release (uname -r). */
    kernel: string;
    /** From /etc/os-release; null when it is missing. */
    distribution: { id: string | null; versionId: string | null; prettyName: string | null } | null;
    /** Node's process.arch (x64, arm64, ...). */
    arch: string;
    /** The Node.js version running vfioctl (embedded in a single executable). */
    node: string;
  };
}

/** One check of `vfioctl self-check`. */
export interface SelfCheckItem {
  /** Open list: embedded-data, samples, pci-ids, tool:NAME. */
  id: string;
  /** A failing required check makes the verdict broken (data) or incomplete (a tool). */
  required: boolean;
  ok: boolean;
  detail: string;
  remedy: string | null;
}

/** `vfioctl self-check --json`. */
export interface SelfCheckReport {
  version: string;
  commit: string | null;
  build: BuildKind;
  /** The single executable's path; null for the npm package. */
  executable: string | null;
  /** ok: exit 0; broken (embedded or shipped data missing or corrupt): exit 1; incomplete (a required tool missing): exit 3. */
  verdict: 'ok' | 'broken' | 'incomplete';
  checks: SelfCheckItem[];
}

// ---------- the printed documents (one schema each: schemas/<name>.schema.json) ----------

export type ErrorDocument = JsonDocument<ErrorReport>;
export type LsDocument = JsonDocument<LsReport>;
export type GroupsDocument = JsonDocument<GroupsReport>;
export type ShowDocument = JsonDocument<ShowReport>;
export type SnapshotDocument = JsonDocument<SnapshotReport>;
export type DoctorDocument = JsonDocument<DoctorReportJson>;
export type ExplainDocument = JsonDocument<ExplainReport> | JsonDocument<ExplainListReport>;
export type PlanDocument = JsonDocument<PlanReport>;
export type RenderDocument = JsonDocument<RenderReport>;
export type GuestsDocument = JsonDocument<GuestsReport>;
export type AttachDocument = JsonDocument<AttachReport>;
export type DetachDocument = JsonDocument<DetachReport>;
export type LintDocument = JsonDocument<LintReport>;
export type NodedevDocument = JsonDocument<NodedevReport>;
export type BindDocument = JsonDocument<BindReport>;
export type ReleaseDocument = JsonDocument<ReleaseReport>;
export type ConfigDocument = JsonDocument<ConfigReport>;
export type SriovDocument = JsonDocument<SriovReport>;
export type RecoverDocument = JsonDocument<RecoverReport>;
export type StatusDocument = JsonDocument<StatusReport>;
export type ResetPolicyDocument = JsonDocument<ResetPolicyShowReport> | JsonDocument<ResetPolicySetReport>;
export type MdevDocument = JsonDocument<MdevReportJson>;
export type VersionDocument = JsonDocument<VersionReport>;
export type SelfCheckDocument = JsonDocument<SelfCheckReport>;

/**
 * Which schema each command's document follows (`vfioctl COMMAND --json`); a document with an `error`
 * field follows `error` whatever the command. Keys are command paths as typed.
 */
export const COMMAND_SCHEMAS = {
  ls: 'ls',
  groups: 'groups',
  show: 'show',
  snapshot: 'snapshot',
  doctor: 'doctor',
  check: 'doctor',
  explain: 'explain',
  plan: 'plan',
  render: 'render',
  guests: 'guests',
  attach: 'attach',
  detach: 'detach',
  lint: 'lint',
  nodedev: 'nodedev',
  bind: 'bind',
  release: 'release',
  persist: 'config',
  unpersist: 'config',
  'host enable-iommu': 'config',
  'host disable-iommu': 'config',
  'sriov set': 'sriov',
  recover: 'recover',
  status: 'status',
  'reset-policy show': 'reset-policy',
  'reset-policy set': 'reset-policy',
  'mdev types': 'mdev',
  'mdev ls': 'mdev',
  'mdev create': 'mdev',
  'mdev remove': 'mdev',
  'mdev render': 'mdev',
  '--version': 'version',
  'self-check': 'self-check',
} as const;

/** Schema name -> the document type it is generated from (scripts/gen-schemas.ts). */
export const SCHEMA_TYPES = {
  error: 'ErrorDocument',
  ls: 'LsDocument',
  groups: 'GroupsDocument',
  show: 'ShowDocument',
  snapshot: 'SnapshotDocument',
  doctor: 'DoctorDocument',
  explain: 'ExplainDocument',
  plan: 'PlanDocument',
  render: 'RenderDocument',
  guests: 'GuestsDocument',
  attach: 'AttachDocument',
  detach: 'DetachDocument',
  lint: 'LintDocument',
  nodedev: 'NodedevDocument',
  bind: 'BindDocument',
  release: 'ReleaseDocument',
  config: 'ConfigDocument',
  sriov: 'SriovDocument',
  recover: 'RecoverDocument',
  status: 'StatusDocument',
  'reset-policy': 'ResetPolicyDocument',
  mdev: 'MdevDocument',
  version: 'VersionDocument',
  'self-check': 'SelfCheckDocument',
} as const;

export type SchemaName = keyof typeof SCHEMA_TYPES;
