/**
 * Persistent configuration: plans of file changes and commands (shown as unified diffs with --dry-run),
 * applied as one journaled run (each file written atomically with a backup; rolled back on any failure,
 * regeneration commands re-run after the files are restored).
 *
 *   persist / unpersist    per address (udev rule + early unit, or driverctl when installed) or per ID
 *                          (modprobe.d ids=), softdeps, vfio modules in the initramfs; per ID with vfio-pci
 *                          built into the kernel: vfio-pci.ids= on the kernel command line
 *   enable/disable-iommu   kernel command line for the detected boot loader
 *   sriov persistence      a udev rule that sets sriov_numvfs when the PF appears
 * Files named vfioctl are derived from state.json (re-rendered after each change); files that belong to
 * the system (grub defaults, /etc/kernel/cmdline, initramfs-tools/modules) are edited, and the record
 * says exactly what was added or replaced, so that undo removes exactly that.
 */
import type { HostRoot } from '../host/host-root.js';
import { configDiff } from '../host/host-writer.js';
import type { BootTooling } from '../host/detect-boot.js';
import { formatArgv } from '../host/detect-boot.js';
import { hostCommand } from '../model/host-command.js';
import { normalizeParamKey, type KernelCmdline } from '../model/kernel-cmdline.js';
import { bootLoaderAdapter, type BootEditPlan, type BootLoaderAdapter, type FileChange, type GrubCmdlineVariable, type PlannedCommand } from '../adapters/boot/index.js';
import { readConfigFile } from '../adapters/boot/common.js';
import { renderVfioModprobeConf } from '../adapters/modprobe.js';
import {
  BIND_UNIT_FILE, BIND_UNIT_NAME, DRACUT_FILE, MKINITCPIO_FILE, UDEV_RULES_FILE, editInitramfsToolsModules, removeInitramfsToolsModules, renderBindUnit, renderDracutConf, renderMkinitcpioConf, renderUdevRules,
  assertRuleValue, type BootBinding,
} from '../adapters/persist-render.js';
import type { DeviceIdentity } from '../model/device-identity.js';
import { ExitCode, VfioctlError } from '../model/errors.js';
import { applyDelta, type HostState, type PersistRecord, type StateDelta } from './state.js';
import type { ApplyContext } from './run.js';

import { loadRun as runner } from './run-loader.js';

import { MODPROBE_FILE, SRIOV_RULES_FILE, UNSAFE_IRQ_FILE, renderSriovRules, renderUnsafeInterruptsConf } from './owned-files.js';

export { MODPROBE_FILE, UNSAFE_IRQ_FILE, SRIOV_RULES_FILE };
const INITRAMFS_KEY = 'initramfs';
const CMDLINE_KEY = 'kernel-cmdline';

export type { FileChange, PlannedCommand };

export interface ConfigPlan {
  command: string;
  args: string[];
  files: FileChange[];
  commands: PlannedCommand[];
  delta: StateDelta;
  notes: string[];
  needsReboot: boolean;
}

const readFile = readConfigFile;

function change(host: HostRoot, rel: string, after: string | null): FileChange | null {
  const before = readFile(host, rel);
  return before === after ? null : { rel, before, after };
}

function hasTool(host: HostRoot, name: string): boolean {
  return host.exists(`usr/sbin/${name}`) || host.exists(`usr/bin/${name}`);
}

/** The owned files and initramfs edits that follow from a state, compared with the host now. */
function derivedChanges(host: HostRoot, tooling: BootTooling, next: HostState, useDriverctl: boolean): { files: FileChange[]; delta: StateDelta; commands: PlannedCommand[]; notes: string[] } {
  const files: FileChange[] = [];
  const commands: PlannedCommand[] = [];
  const notes: string[] = [];
  const delta: StateDelta = {};
  // IDs kept on the kernel command line (vfio-pci built in) need neither modprobe.d nor the initramfs
  const records = Object.values(next.persisted).filter((r) => !isCmdlineIdsRecord(r));
  const perAddress: BootBinding[] = records.filter((r) => r.mode === 'per-address').flatMap((r) => r.addresses.map((address) => ({ address, identity: r.identity ?? null })));
  const ids = records.filter((r) => r.mode === 'ids').flatMap((r) => r.ids);
  const softdeps = [...new Set(records.flatMap((r) => r.softdeps ?? []))].sort();
  const any = perAddress.length > 0 || ids.length > 0;

  const push = (c: FileChange | null): void => {
    if (c) files.push(c);
  };
  if (!useDriverctl) {
    push(change(host, UDEV_RULES_FILE, renderUdevRules(perAddress)));
    const unit = change(host, BIND_UNIT_FILE, renderBindUnit(perAddress));
    if (unit) {
      files.push(unit);
      if (unit.before === null) commands.push({ argv: hostCommand.systemctl('enable', BIND_UNIT_NAME), undoArgv: hostCommand.systemctl('disable', BIND_UNIT_NAME), regenerate: false, why: 'start the early rebind unit at boot' });
      else if (unit.after === null) commands.push({ argv: hostCommand.systemctl('disable', BIND_UNIT_NAME), undoArgv: hostCommand.systemctl('enable', BIND_UNIT_NAME), regenerate: false, why: 'the early rebind unit is no longer needed' });
    }
  }
  // modprobe.d: ids and softdeps, vfioctl's own file
  const modprobe = ids.length || softdeps.length ? renderVfioModprobeConf({ ids, softdeps }) : null;
  push(change(host, MODPROBE_FILE, modprobe));

  // initramfs: vfio modules early
  let initramfsChanged = false;
  if (tooling.initramfs.kind === 'initramfs-tools') {
    const rel = 'etc/initramfs-tools/modules';
    const rec = next.persisted[INITRAMFS_KEY];
    const cur = readFile(host, rel);
    if (any && !rec) {
      const e = editInitramfsToolsModules(cur);
      if (e.added.length) {
        files.push({ rel, before: cur, after: e.text });
        delta.persist = { [INITRAMFS_KEY]: { mode: 'per-address', addresses: [], ids: [], created: [], edits: [{ rel, added: e.added, replaced: [] }], runId: '', at: '' } };
      }
    } else if (!any && rec) {
      const added = rec.edits.flatMap((e) => e.added);
      if (cur !== null) {
        const out = removeInitramfsToolsModules(cur, added);
        if (out !== cur) files.push({ rel, before: cur, after: out });
      }
      delta.unpersist = [INITRAMFS_KEY];
    }
  } else if (tooling.initramfs.kind === 'dracut') {
    push(change(host, DRACUT_FILE, any ? renderDracutConf() : null));
  } else if (tooling.initramfs.kind === 'mkinitcpio') {
    push(change(host, MKINITCPIO_FILE, any ? renderMkinitcpioConf() : null));
  } else if (any) {
    notes.push('no initramfs tool detected: make sure vfio-pci loads before the host drivers (softdep lines are written)');
  }
  initramfsChanged = files.some((f) => f.rel === MODPROBE_FILE || f.rel.startsWith('etc/initramfs-tools') || f.rel === DRACUT_FILE || f.rel === MKINITCPIO_FILE);
  if (files.some((f) => f.rel === UDEV_RULES_FILE)) commands.push({ argv: hostCommand.udevReload(), regenerate: false, why: 'udev reads the new rules' });
  if (initramfsChanged && tooling.initramfs.regenerate) commands.push({ argv: [...tooling.initramfs.regenerate], regenerate: true, why: 'the initramfs carries modprobe.d and the vfio modules' });
  return { files, delta, commands, notes };
}

export interface PersistRequest {
  addresses: string[];
  mode: 'per-address' | 'ids';
  /** vendor:device IDs (mode ids) */
  ids?: string[];
  /** host drivers that must wait for vfio-pci */
  softdeps?: string[];
  /** vfio-pci is built into the kernel: IDs go on the kernel command line (vfio-pci.ids=), not modprobe.d */
  vfioPciBuiltin?: boolean;
  /** what each address holds now (per-address records keep it; the boot-time binding checks it) */
  identities?: Record<string, DeviceIdentity>;
}

export function planPersist(host: HostRoot, tooling: BootTooling, state: HostState, req: PersistRequest, runId: string): ConfigPlan {
  if (req.mode === 'ids' && req.vfioPciBuiltin) return planPersistCmdlineIds(host, tooling, state, req, runId);
  const useDriverctl = req.mode === 'per-address' && hasTool(host, 'driverctl');
  const now = new Date().toISOString();
  const add: Record<string, PersistRecord> = {};
  if (req.mode === 'per-address') {
    for (const a of req.addresses.filter((x) => !state.persisted[`address:${x}`])) {
      const identity = req.identities?.[a];
      add[`address:${a}`] = { mode: 'per-address', addresses: [a], ids: [], created: [], edits: [], softdeps: req.softdeps ?? [], ...(identity ? { identity } : {}), runId, at: now };
    }
  } else {
    for (const id of (req.ids ?? []).filter((x) => !state.persisted[`id:${x}`])) add[`id:${id}`] = { mode: 'ids', addresses: req.addresses, ids: [id], created: [], edits: [], softdeps: req.softdeps ?? [], runId, at: now };
  }
  const next = applyDelta(state, { persist: add });
  const d = derivedChanges(host, tooling, next, useDriverctl);
  const commands: PlannedCommand[] = [];
  if (useDriverctl) {
    for (const a of req.addresses) {
      if (!state.persisted[`address:${a}`]) commands.push({ argv: hostCommand.driverctlSet(a), undoArgv: hostCommand.driverctlUnset(a), regenerate: false, why: 'driverctl keeps the override across reboots' });
    }
  }
  for (const r of Object.values(add)) r.created = d.files.filter((f) => f.before === null).map((f) => f.rel);
  if (useDriverctl && Object.keys(add).length) d.notes.push('driverctl binds by address only: at boot it cannot check that the address still holds the same device (vfioctl status and doctor do)');
  return {
    command: 'persist',
    args: req.mode === 'ids' ? ['--by-id', ...(req.ids ?? [])] : req.addresses,
    files: d.files,
    commands: [...commands, ...d.commands],
    delta: Object.keys(add).length || d.delta.persist || d.delta.unpersist ? { persist: { ...add, ...(d.delta.persist ?? {}) }, ...(d.delta.unpersist ? { unpersist: d.delta.unpersist } : {}) } : {},
    notes: d.notes,
    needsReboot: false,
  };
}

/**
 * `persist --acknowledge`: the persisted addresses now hold what they hold (a card replaced or moved on
 * purpose): their records take the identity read now, and the boot-time files are rendered again.
 */
export function planAcknowledge(host: HostRoot, tooling: BootTooling, state: HostState, addresses: readonly string[], identities: Record<string, DeviceIdentity>, runId: string): ConfigPlan {
  const now = new Date().toISOString();
  const add: Record<string, PersistRecord> = {};
  for (const a of addresses) {
    const key = `address:${a}`;
    const r = state.persisted[key];
    const identity = identities[a];
    if (!r || r.mode !== 'per-address') throw new VfioctlError('not-persisted', `${a} is not persisted per address by vfioctl`, { remedy: '`vfioctl status` lists what is persisted', exitCode: ExitCode.usage });
    if (!identity) throw new VfioctlError('no-such-device', `no PCI function ${a} on this host now: nothing to acknowledge`, { remedy: '`vfioctl unpersist ADDR` forgets an address that is gone', exitCode: ExitCode.usage });
    add[key] = { ...r, identity, runId, at: now };
  }
  const next = applyDelta(state, { persist: add });
  const d = derivedChanges(host, tooling, next, hasTool(host, 'driverctl'));
  return { command: 'persist acknowledge', args: [...addresses], files: d.files, commands: d.commands, delta: { persist: { ...add, ...(d.delta.persist ?? {}) }, ...(d.delta.unpersist ? { unpersist: d.delta.unpersist } : {}) }, notes: d.notes, needsReboot: false };
}

export function planUnpersist(host: HostRoot, tooling: BootTooling, state: HostState, keys: string[] | 'all'): ConfigPlan {
  const all = Object.entries(state.persisted).filter(([k, r]) => k !== INITRAMFS_KEY && (r.mode === 'per-address' || r.mode === 'ids'));
  const chosen = keys === 'all' ? all.map(([k]) => k) : keys.filter((k) => state.persisted[k]);
  const next = applyDelta(state, { unpersist: chosen });
  const wasDriverctl = hasTool(host, 'driverctl');
  const d = derivedChanges(host, tooling, next, wasDriverctl);
  const commands: PlannedCommand[] = [];
  if (wasDriverctl) {
    for (const k of chosen) {
      const r = state.persisted[k]!;
      if (r.mode === 'per-address') for (const a of r.addresses) commands.push({ argv: hostCommand.driverctlUnset(a), undoArgv: hostCommand.driverctlSet(a), regenerate: false, why: 'driverctl forgets the override' });
    }
  }
  // vfio-pci.ids= on the kernel command line: remove exactly the IDs vfioctl added (the user's stay)
  const cmdlineRecords = chosen.map((k) => state.persisted[k]!).filter(isCmdlineIdsRecord);
  const removeIds = cmdlineRecords.flatMap((r) => r.edits.flatMap((e) => e.added));
  const c = cmdlineRecords.length ? planVfioIdsCmdline(host, tooling, { add: [], remove: removeIds }) : null;
  const files = [...d.files, ...(c?.files ?? [])];
  return {
    command: 'unpersist',
    args: chosen,
    files,
    commands: [...commands, ...(c?.commands ?? []), ...d.commands],
    delta: { unpersist: [...chosen, ...(d.delta.unpersist ?? [])], ...(d.delta.persist ? { persist: d.delta.persist } : {}) },
    notes: [...d.notes, ...(c?.notes ?? [])],
    needsReboot: c?.changed ?? false,
  };
}

// ---------------------------------------------------------------------------------------------------
// vfio-pci built into the kernel: vfio-pci.ids= on the kernel command line

/** The kernel parameter vfio-pci reads its IDs from when it is built in. */
export const VFIO_IDS_PARAM = 'vfio-pci.ids';

/**
 * An `ids` record kept on the kernel command line: its `edits` name where (a file, or `tool:grubby` /
 * `tool:kernelstub`) and list in `added` the IDs vfioctl put there (empty when the user had the ID
 * already, so that unpersist leaves it). `ids` records kept in modprobe.d have no edits.
 */
export function isCmdlineIdsRecord(r: PersistRecord): boolean {
  return r.mode === 'ids' && r.edits.length > 0;
}

const sameId = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const splitIds = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

function unionIds(into: string[], more: readonly string[]): string[] {
  const out = [...into];
  for (const id of more) if (!out.some((x) => sameId(x, id))) out.push(id);
  return out;
}

interface ConfiguredIds {
  /** IDs on the configured command line (all occurrences, in order, no duplicates) */
  ids: string[];
  /** the parameter name as the user spelled it (vfio_pci.ids or vfio-pci.ids), else vfio-pci.ids */
  key: string;
  /** grub: the variable holding the parameter */
  variable: GrubCmdlineVariable;
  /** where the IDs were read (root-relative) */
  source: string;
}

function idsOn(cmdline: KernelCmdline, into: ConfiguredIds): boolean {
  const hits = cmdline.params.filter((p) => normalizeParamKey(p.key) === normalizeParamKey(VFIO_IDS_PARAM));
  for (const p of hits) {
    if (into.key === VFIO_IDS_PARAM) into.key = p.key;
    into.ids = unionIds(into.ids, splitIds(p.value));
  }
  return hits.length > 0;
}

/** The vfio-pci.ids the configured command line holds now (read by the boot loader's adapter). */
function readConfiguredIds(host: HostRoot, boot: BootLoaderAdapter): ConfiguredIds {
  const c = boot.readConfigured(host);
  const out: ConfiguredIds = { ids: [], key: VFIO_IDS_PARAM, variable: 'GRUB_CMDLINE_LINUX', source: c.source };
  if (c.variables) {
    // a grub defaults file whose line cannot be known (a command substitution) is not edited
    if (c.unknown.length) throw new VfioctlError('unparseable-config', `${host.display(c.source)}: ${c.unknown[0]}`, { remedy: 'edit the file by hand' });
    const found = c.variables.filter((v) => idsOn(v.cmdline, out)).map((v) => v.name);
    // keep the parameter where the user put it
    if (found.includes('GRUB_CMDLINE_LINUX_DEFAULT') && !found.includes('GRUB_CMDLINE_LINUX')) out.variable = 'GRUB_CMDLINE_LINUX_DEFAULT';
    return out;
  }
  idsOn(c.cmdline, out);
  return out;
}

type VfioIdsCmdlinePlan = Pick<BootEditPlan, 'files' | 'commands' | 'notes' | 'location'> & {
  /** IDs that were not on the command line before (what a record may later remove) */
  added: string[];
  changed: boolean;
};

/**
 * Add IDs to / remove IDs from `vfio-pci.ids=` on the configured kernel command line, keeping every other
 * ID and parameter; the parameter goes when its list becomes empty. Regeneration follows a file edit.
 */
export function planVfioIdsCmdline(host: HostRoot, tooling: BootTooling, op: { add: readonly string[]; remove: readonly string[] }): VfioIdsCmdlinePlan {
  const bl = tooling.bootLoader;
  if (bl.cmdline.via === 'none') {
    throw new VfioctlError('no-boot-loader', 'the boot loader of this host was not recognised, so vfioctl cannot change the kernel command line', {
      remedy: `${op.add.length ? `add ${VFIO_IDS_PARAM}=${op.add.join(',')} to` : `remove ${op.remove.join(',')} from ${VFIO_IDS_PARAM}= on`} the kernel command line by hand (evidence: ${bl.evidence.join('; ')})`,
      exitCode: ExitCode.notReady,
    });
  }
  const boot = bootLoaderAdapter(tooling);
  const now = readConfiguredIds(host, boot);
  const added = op.add.filter((id) => !now.ids.some((x) => sameId(x, id)));
  const removing = op.remove.filter((id) => now.ids.some((x) => sameId(x, id)));
  const next = unionIds(now.ids, op.add).filter((id) => !op.remove.some((r) => sameId(r, id)));
  const param = `${now.key}=${next.join(',')}`;
  const prev = now.ids.length ? `${now.key}=${now.ids.join(',')}` : null;
  const e = boot.planEdit(host, next.length ? { set: [param] } : { remove: [now.key] }, {
    variable: now.variable,
    files: added.length > 0 || removing.length > 0,
    // the tool's entries may differ from the reading (running line): act whenever vfioctl's IDs change
    commands: added.length > 0 || op.remove.length > 0,
    previous: prev,
  });
  const notes = [...e.notes];
  if (e.location.startsWith('tool:') && now.source === 'proc/cmdline' && e.commands.length) notes.push(`the IDs already there were read from the running command line (${host.display(now.source)})`);
  const changed = e.files.length > 0 || e.commands.length > 0;
  if (changed) notes.push(`a reboot is needed for ${VFIO_IDS_PARAM} to take effect (vfio-pci is built into the kernel and reads it at boot)`);
  return { files: e.files, commands: e.commands, notes, added, location: e.location, changed };
}

function planPersistCmdlineIds(host: HostRoot, tooling: BootTooling, state: HostState, req: PersistRequest, runId: string): ConfigPlan {
  const now = new Date().toISOString();
  const fresh = (req.ids ?? []).filter((x) => !state.persisted[`id:${x}`]);
  const c = planVfioIdsCmdline(host, tooling, { add: fresh, remove: [] });
  const add: Record<string, PersistRecord> = {};
  for (const id of fresh) {
    const ours = c.added.some((x) => sameId(x, id));
    add[`id:${id}`] = { mode: 'ids', addresses: req.addresses, ids: [id], created: [], edits: [{ rel: c.location, added: ours ? [id] : [], replaced: [] }], softdeps: [], runId, at: now };
  }
  const kept = fresh.filter((id) => !c.added.some((x) => sameId(x, id)));
  const notes = [...c.notes];
  if (kept.length) notes.push(`${kept.join(', ')} ${kept.length > 1 ? 'were' : 'was'} on the command line already: unpersist will leave ${kept.length > 1 ? 'them' : 'it'} there`);
  return {
    command: 'persist',
    args: ['--by-id', ...(req.ids ?? [])],
    files: c.files,
    commands: c.commands,
    delta: Object.keys(add).length ? { persist: add } : {},
    notes,
    needsReboot: c.changed,
  };
}

// ---------------------------------------------------------------------------------------------------
// kernel command line

export type CpuVendorName = 'intel' | 'amd' | 'other';

/** Parameters enable-iommu sets: intel_iommu=on on Intel (AMD's IOMMU is on when firmware enables it), iommu=pt unless declined. */
export function iommuParams(vendor: CpuVendorName | null, passthrough: boolean): string[] {
  const p: string[] = [];
  if (vendor === 'intel' || vendor === null) p.push('intel_iommu=on');
  if (passthrough) p.push('iommu=pt');
  return p;
}

/** enable-iommu / disable-iommu: the kernel command line edit of this host's boot loader (src/adapters/boot/). */
export function planKernelCmdline(host: HostRoot, tooling: BootTooling, state: HostState, op: { enable: boolean; params: string[] }, runId: string): ConfigPlan {
  const bl = tooling.bootLoader;
  const notes: string[] = [];
  const rec = state.persisted[CMDLINE_KEY];
  let set: string[] = [];
  let remove: string[] = [];
  if (op.enable) {
    set = op.params;
  } else if (rec) {
    // undo exactly: remove what was added, give back what was replaced
    remove = rec.edits.flatMap((e) => e.added);
    set = rec.edits.flatMap((e) => e.replaced.map((r) => r.from));
  } else {
    remove = op.params;
    notes.push('vfioctl has no record of enabling the IOMMU here: removing the standard parameters it would have added');
  }
  if (bl.cmdline.via === 'none') {
    throw new VfioctlError('no-boot-loader', 'the boot loader of this host was not recognised, so vfioctl cannot change the kernel command line', {
      remedy: `${op.enable ? `add ${set.join(' ')} to` : `remove ${remove.join(' ') || 'the parameters vfioctl added'} from`} the kernel command line by hand (evidence: ${bl.evidence.join('; ')})`,
      exitCode: ExitCode.notReady,
    });
  }
  const e = bootLoaderAdapter(tooling).planEdit(host, { set, remove });
  notes.push(...e.notes);
  const delta: StateDelta = {};
  const changed = e.files.length > 0 || e.commands.length > 0;
  if (op.enable && changed) {
    const prev = rec?.edits ?? [];
    delta.persist = {
      [CMDLINE_KEY]: { mode: 'kernel-cmdline', addresses: [], ids: [], created: [], runId, at: new Date().toISOString(), edits: [...prev, { rel: e.location, added: e.added, replaced: e.replaced }] },
    };
  } else if (!op.enable && rec) {
    delta.unpersist = [CMDLINE_KEY];
  }
  if (changed) notes.push('a reboot is needed for the new kernel command line to take effect');
  return { command: op.enable ? 'host enable-iommu' : 'host disable-iommu', args: op.params, files: e.files, commands: e.commands, delta, notes, needsReboot: changed };
}

/** The opt-in allow_unsafe_interrupts file (a security downgrade; only on explicit request). */
export function planUnsafeInterrupts(host: HostRoot, tooling: BootTooling, enable: boolean): ConfigPlan {
  const c = change(host, UNSAFE_IRQ_FILE, enable ? renderUnsafeInterruptsConf() : null);
  const files = c ? [c] : [];
  const commands: PlannedCommand[] = c && tooling.initramfs.regenerate ? [{ argv: [...tooling.initramfs.regenerate], regenerate: true, why: 'the initramfs carries modprobe.d' }] : [];
  return { command: 'host unsafe-interrupts', args: [], files, commands, delta: {}, notes: [], needsReboot: files.length > 0 };
}

/** udev rule that restores sriov_numvfs when the PF appears at boot. */
export function planSriovPersist(host: HostRoot, state: HostState, pf: string, numVfs: number | null, runId: string): ConfigPlan {
  const key = `sriov:${pf}`;
  const delta: StateDelta = numVfs === null
    ? { unpersist: [key] }
    : { persist: { [key]: { mode: 'sriov', addresses: [pf], ids: [], created: [], edits: [], numVfs, runId, at: new Date().toISOString() } } };
  const next = applyDelta(state, delta);
  const after = renderSriovRules(Object.values(next.persisted).filter((r) => r.mode === 'sriov').map((r) => ({ address: assertRuleValue(String(r.addresses[0]), 'the PCI address'), numVfs: Number(assertRuleValue(String(r.numVfs ?? 0), 'the VF count')) })));
  const c = change(host, SRIOV_RULES_FILE, after);
  return { command: 'sriov set --persist', args: [pf], files: c ? [c] : [], commands: c ? [{ argv: hostCommand.udevReload(), regenerate: false, why: 'udev reads the new rules' }] : [], delta, notes: [], needsReboot: false };
}

// ---------------------------------------------------------------------------------------------------
// showing and applying

export function renderPlanDiff(host: HostRoot, plan: ConfigPlan): string {
  return plan.files.map((f) => configDiff(host.display(f.rel), f.before, f.after)).join('\n');
}

export interface ConfigApplyResult {
  runId: string;
  written: { path: string; backup: string | null; removed: boolean }[];
  ran: string[];
  /** commands not run (--no-regenerate, or a host root that is not the running system) */
  toRun: string[];
  needsReboot: boolean;
  notes: string[];
}

export interface ConfigApplyOptions {
  /** run regeneration commands (update-grub, update-initramfs, ...) */
  regenerate: boolean;
  /** run any command at all (false on a host root that is not the running system) */
  runCommands: boolean;
}

/** Apply a config plan as one journaled run. */
export async function applyConfigPlan(ctx: ApplyContext, plan: ConfigPlan, opts: ConfigApplyOptions): Promise<ConfigApplyResult> {
  if (!plan.files.length && !plan.commands.length && !Object.keys(plan.delta).length) {
    return { runId: '', written: [], ran: [], toRun: [], needsReboot: false, notes: ['nothing to change: already in the intended state'] };
  }
  return (await runner()).execute(ctx, plan.command, plan.args, async (run) => {
    const written: ConfigApplyResult['written'] = [];
    for (const f of plan.files) {
      // the file must still be what the plan saw (no edit in between)
      const now = readFile(ctx.host, f.rel);
      if (now !== f.before) throw new VfioctlError('changed-meanwhile', `${ctx.host.display(f.rel)} changed while vfioctl was working`, { remedy: 'run the command again' });
      await run.step({ type: 'file', rel: f.rel, before: f.before, after: f.after, backup: null }, (s) => {
        const r = f.after === null ? ctx.files.remove(f.rel, run.journal.runId) : ctx.files.write(f.rel, f.after, run.journal.runId);
        if (s.type === 'file') s.backup = r.backup;
        written.push({ path: ctx.host.display(r.rel), backup: r.backup ? ctx.host.display(r.backup) : null, removed: f.after === null });
      });
    }
    const ran: string[] = [];
    const toRun: string[] = [];
    for (const c of plan.commands) {
      if (!opts.runCommands || (c.regenerate && !opts.regenerate)) {
        toRun.push(formatArgv(c.argv));
        continue;
      }
      await run.step({ type: 'exec', argv: [...c.argv], rerunOnUndo: c.regenerate, ...(c.undoArgv ? { undoArgv: [...c.undoArgv] } : {}) }, async () => {
        await ctx.exec.run(c.argv);
      });
      ran.push(formatArgv(c.argv));
    }
    run.setCommit(plan.delta);
    return { runId: run.journal.runId, written, ran, toRun, needsReboot: plan.needsReboot, notes: plan.notes };
  });
}

