/**
 * Runtime binding: move a claim set (every function a plan says must go to vfio-pci) to vfio-pci, and
 * give functions back to the drivers they had. Group-aware: after binding, every touched IOMMU group must
 * be viable (all endpoints on vfio-pci or driverless, /dev/vfio/N present) or the run rolls back.
 */
import * as path from 'node:path';
import type { HostRoot } from '../host/host-root.js';
import { ExitCode, VfioctlError } from '../model/errors.js';
import { formatPciAddress, pciAddressOf, requirePciAddress, comparePciAddress, type PciAddress } from '../model/pci-address.js';
import { checkGroupViable, moveFunction, readFnGroup, readFnState, VFIO_PCI, type GroupViability } from './pci-state.js';
import type { ApplyContext } from './run.js';

import { loadRun as runner } from './run-loader.js';
import type { BoundRecord, FnDriverState } from './state.js';

export interface FunctionChange {
  address: string;
  iommuGroup: number | null;
  from: FnDriverState;
  to: FnDriverState;
  /** the sysfs writes, as a person would type them */
  writes: string[];
  /** nothing to do: already in the target state */
  unchanged: boolean;
}

export interface BindPreview {
  loadModule: string | null;
  /** VFIO variant driver modules to load first (their drivers are not registered yet) */
  variantModules?: string[];
  functions: FunctionChange[];
  groups: number[];
}

const TARGET: FnDriverState = { driver: VFIO_PCI, override: VFIO_PCI };

/** The VFIO driver a function goes to: vfio-pci, or the variant driver the plan chose for it. */
export type BindDrivers = Readonly<Record<string, string>>;

function targetOf(drivers: BindDrivers, address: string): FnDriverState {
  const d = drivers[address];
  return d && d !== VFIO_PCI ? { driver: d, override: d } : TARGET;
}

function variantModules(host: HostRoot, drivers: BindDrivers, addrs: readonly string[]): string[] {
  return [...new Set(addrs.map((a) => drivers[a]).filter((d): d is string => !!d && d !== VFIO_PCI))].filter((d) => !host.exists(host.pciDriverRel(d))).sort();
}

function sortAddrs(addrs: readonly string[]): PciAddress[] {
  const seen = new Map<string, PciAddress>();
  for (const a of addrs) {
    const p = requirePciAddress(a);
    seen.set(formatPciAddress(p), p);
  }
  return [...seen.values()].sort(comparePciAddress);
}

/** The sysfs attribute writes moveFunction makes, in order (root-relative paths; value as written). */
export function bindWrites(host: HostRoot, addr: PciAddress, from: FnDriverState, to: FnDriverState): { rel: string; value: string }[] {
  const a = formatPciAddress(addr);
  const w: { rel: string; value: string }[] = [];
  if (from.override !== to.override) w.push({ rel: `${host.pciDeviceRel(addr)}/driver_override`, value: to.override ?? '' });
  if (from.driver && from.driver !== to.driver) w.push({ rel: host.pciDriverRel(from.driver, 'unbind'), value: a });
  if (to.driver && from.driver !== to.driver) w.push({ rel: 'sys/bus/pci/drivers_probe', value: a });
  return w;
}

/** The sysfs writes moveFunction would make, as a person would type them (for --dry-run). */
export function describeWrites(host: HostRoot, addr: PciAddress, from: FnDriverState, to: FnDriverState): string[] {
  return bindWrites(host, addr, from, to).map((w) => `echo ${w.value === '' ? "''" : w.value} > ${host.display(w.rel)}`);
}

export function previewBind(host: HostRoot, claim: readonly string[], drivers: BindDrivers = {}): BindPreview {
  const addrs = sortAddrs(claim);
  if (!addrs.length) throw new VfioctlError('nothing-to-bind', 'no PCI function to bind', { remedy: 'name at least one address', exitCode: ExitCode.usage });
  const functions: FunctionChange[] = [];
  const groups = new Set<number>();
  for (const addr of addrs) {
    const from = readFnState(host, addr);
    const g = readFnGroup(host, addr);
    if (g === null) {
      throw new VfioctlError('no-iommu-group', `${formatPciAddress(addr)} is in no IOMMU group: the IOMMU is off or missing, so vfio-pci cannot take it`, {
        remedy: 'enable the IOMMU in firmware and on the kernel command line (`vfioctl host enable-iommu`), reboot, then check with `vfioctl doctor`',
        exitCode: ExitCode.notReady,
      });
    }
    groups.add(g);
    const to = targetOf(drivers, formatPciAddress(addr));
    const unchanged = from.driver === to.driver && from.override === to.override;
    functions.push({ address: formatPciAddress(addr), iommuGroup: g, from, to, writes: unchanged ? [] : describeWrites(host, addr, from, to), unchanged });
  }
  const variants = variantModules(host, drivers, functions.map((f) => f.address));
  return { loadModule: host.exists(host.pciDriverRel(VFIO_PCI)) ? null : 'vfio-pci', ...(variants.length ? { variantModules: variants } : {}), functions, groups: [...groups].sort((a, b) => a - b) };
}

export interface BindResult {
  runId: string;
  moved: FunctionChange[];
  unchanged: string[];
  groups: GroupViability[];
  loadedModule: string | null;
}

/** Bind every function of `claim` to vfio-pci, journaled, verified, rolled back on any failure. */
export async function applyBind(ctx: ApplyContext, claim: readonly string[], drivers: BindDrivers = {}): Promise<BindResult> {
  const preview = previewBind(ctx.host, claim, drivers);
  return (await runner()).execute(ctx, 'bind', preview.functions.map((f) => f.address), async (run) => {
    let loadedModule: string | null = null;
    if (preview.loadModule) {
      await run.step({ type: 'load-module', module: preview.loadModule }, async () => {
        await ctx.sysfs.loadModule(preview.loadModule!);
        if (!ctx.host.exists(ctx.host.pciDriverRel(VFIO_PCI))) {
          throw new VfioctlError('module-missing', 'modprobe vfio-pci succeeded but the vfio-pci driver did not appear', { remedy: 'check `dmesg`; is vfio-pci available for this kernel?' });
        }
      });
      loadedModule = preview.loadModule;
    }
    for (const m of preview.variantModules ?? []) {
      await run.step({ type: 'load-module', module: m }, async () => {
        await ctx.sysfs.loadModule(m);
        if (!ctx.host.exists(ctx.host.pciDriverRel(m))) {
          throw new VfioctlError('module-missing', `modprobe ${m} succeeded but the ${m} driver did not appear`, { remedy: `check \`dmesg\`; bind with --driver vfio-pci to use the generic driver` });
        }
      });
    }
    const moved: FunctionChange[] = [];
    const records: Record<string, BoundRecord> = {};
    const known = ctx.store.readState().bound;
    for (const f of preview.functions) {
      const addr = pciAddressOf(f.address);
      const now = readFnState(ctx.host, addr);
      if (now.driver === f.to.driver && now.override === f.to.override) continue;
      await run.step({ type: 'bind', address: f.address, original: now, target: f.to }, () => moveFunction(ctx.host, ctx.sysfs, addr, f.to, ctx.move));
      moved.push({ ...f, from: now });
      // a function vfioctl bound before keeps its first original
      const variant = f.to.driver !== VFIO_PCI && f.to.driver ? { driver: f.to.driver } : {};
      records[f.address] = known[f.address] ? { ...known[f.address]!, ...variant } : { original: now, runId: run.journal.runId, at: new Date().toISOString(), iommuGroup: f.iommuGroup, ...variant };
    }
    const viable = new Set(preview.functions.map((f) => f.to.driver).filter((d): d is string => !!d));
    const groups = preview.groups.map((g) => checkGroupViable(ctx.host, g, viable));
    const bad = groups.filter((g) => !g.viable);
    if (bad.length) {
      const why = bad.map((g) => (g.blockers.length ? `group ${g.group} is not viable: ${g.blockers.map((b) => `${b.address} is on ${b.driver}`).join(', ')}` : `group ${g.group}: /dev/vfio/${g.group} did not appear`)).join('; ');
      throw new VfioctlError('group-not-viable', why, { remedy: 'claim every endpoint of the group (`vfioctl plan ADDR` lists them), or check `dmesg` for vfio errors' });
    }
    run.setCommit({ bind: records });
    return { runId: run.journal.runId, moved, unchanged: preview.functions.filter((f) => f.unchanged).map((f) => f.address), groups, loadedModule };
  });
}

export interface ReleasePreview {
  functions: FunctionChange[];
  /** requested functions vfioctl did not bind and that are not on vfio-pci: nothing to do */
  skipped: { address: string; reason: string }[];
}

/** What release would do: each function back to the driver and override the journal recorded. */
export function previewRelease(ctx: Pick<ApplyContext, 'host' | 'store'>, addrs: readonly string[] | 'all', opts: { to?: string } = {}): ReleasePreview {
  const state = ctx.store.readState();
  const list = addrs === 'all' ? sortAddrs(Object.keys(state.bound)) : sortAddrs(addrs);
  const functions: FunctionChange[] = [];
  const skipped: { address: string; reason: string }[] = [];
  for (const addr of list) {
    const a = formatPciAddress(addr);
    const rec = state.bound[a];
    const from = readFnState(ctx.host, addr);
    let to: FnDriverState;
    if (opts.to !== undefined) to = { driver: opts.to === 'none' ? null : opts.to, override: null };
    else if (rec) to = rec.original;
    else if (from.driver === VFIO_PCI || from.override === VFIO_PCI) {
      throw new VfioctlError('not-bound-by-vfioctl', `${a} is on vfio-pci, but not by vfioctl: its original driver is not known`, {
        remedy: `name the driver to return it to: \`vfioctl release ${a} --to DRIVER\` (or --to none)`,
        exitCode: ExitCode.usage,
      });
    } else {
      skipped.push({ address: a, reason: `not bound by vfioctl (driver: ${from.driver ?? 'none'})` });
      continue;
    }
    const unchanged = from.driver === to.driver && from.override === to.override;
    functions.push({ address: a, iommuGroup: readFnGroup(ctx.host, addr), from, to, writes: unchanged ? [] : describeWrites(ctx.host, addr, from, to), unchanged });
  }
  return { functions, skipped };
}

/** Processes that hold /dev/vfio/N open (a guest using the group): releasing would hang in the kernel. */
export function vfioGroupUsers(host: HostRoot, group: number): { pid: number; comm: string }[] {
  if (!host.exists(`dev/vfio/${group}`)) return [];
  const procs = host.listDir('proc');
  if (procs.state !== 'ok') return [];
  const users: { pid: number; comm: string }[] = [];
  for (const p of procs.value) {
    if (!/^\d+$/.test(p)) continue;
    const fds = host.listDir(`proc/${p}/fd`);
    if (fds.state !== 'ok') continue;
    const hit = fds.value.some((fd) => {
      const l = host.readLink(`proc/${p}/fd/${fd}`);
      return l.state === 'ok' && path.posix.normalize(l.value) === `/dev/vfio/${group}`;
    });
    if (hit) {
      const comm = host.readText(`proc/${p}/comm`);
      users.push({ pid: Number(p), comm: comm.state === 'ok' ? comm.value.trim() : '?' });
    }
  }
  return users;
}

export interface ReleaseResult {
  runId: string | null;
  released: FunctionChange[];
  skipped: { address: string; reason: string }[];
}

export async function applyRelease(ctx: ApplyContext, addrs: readonly string[] | 'all', opts: { to?: string } = {}): Promise<ReleaseResult> {
  const preview = previewRelease(ctx, addrs, opts);
  const todo = preview.functions;
  for (const g of new Set(todo.map((f) => f.iommuGroup).filter((g): g is number => g !== null))) {
    const users = vfioGroupUsers(ctx.host, g);
    if (users.length) {
      throw new VfioctlError('group-in-use', `IOMMU group ${g} is in use by ${users.map((u) => `${u.comm} (pid ${u.pid})`).join(', ')}`, {
        remedy: 'shut the guest down (or detach the device from it) first; unbinding a device in use blocks in the kernel',
      });
    }
  }
  if (!todo.length) return { runId: null, released: [], skipped: preview.skipped };
  return (await runner()).execute(ctx, 'release', todo.map((f) => f.address), async (run) => {
    const released: FunctionChange[] = [];
    for (const f of todo) {
      const addr = pciAddressOf(f.address);
      const now = readFnState(ctx.host, addr);
      if (!(now.driver === f.to.driver && now.override === f.to.override)) {
        await run.step({ type: 'release', address: f.address, original: now, target: f.to }, () => moveFunction(ctx.host, ctx.sysfs, addr, f.to, ctx.move));
      }
      released.push({ ...f, from: now });
    }
    run.setCommit({ unbind: todo.map((f) => f.address) });
    return { runId: run.journal.runId, released, skipped: preview.skipped };
  });
}
