/**
 * Mediated devices: create and remove (journaled, verified, rolled back on failure), and keep them at every
 * boot as mdevctl does (etc/mdevctl.d/PARENT/UUID, {"mdev_type", "start": "auto", "attrs": []}; mdevctl's
 * udev rule starts them when the parent appears).
 */
import type { HostRoot } from '../host/host-root.js';
import { ExitCode, VfioctlError } from '../model/errors.js';
import { formatPciAddress, requirePciAddress } from '../model/pci-address.js';
import { MDEV_TYPE, UUID, mdevctlConfigRel, renderMdevctlConfig } from '../adapters/persist-render.js';
import { readConfigFile } from '../adapters/boot/common.js';
import type { HostState, JournalStep, StateDelta } from './state.js';
import type { ApplyContext } from './run.js';
import type { ConfigPlan } from './persist.js';
import { loadRun as runner } from './run-loader.js';

export interface MdevRequest {
  op: 'create' | 'remove';
  parent: string;
  mdevType: string;
  uuid: string;
}

const present = (host: HostRoot, uuid: string): boolean => host.exists(`sys/bus/mdev/devices/${uuid}`);

/** The facts a create/remove needs, checked against the host now (the type exists, an instance is free, the UUID is free / taken). */
export function checkMdevRequest(host: HostRoot, req: MdevRequest): { available: number | null } {
  const parent = formatPciAddress(requirePciAddress(req.parent));
  if (!UUID.test(req.uuid)) throw new VfioctlError('bad-uuid', `not a lowercase UUID: ${JSON.stringify(req.uuid.slice(0, 60))}`, { remedy: 'give one made by uuidgen (lowercase)', exitCode: ExitCode.usage });
  if (!MDEV_TYPE.test(req.mdevType)) throw new VfioctlError('bad-mdev-type', `not an mdev type name: ${JSON.stringify(req.mdevType.slice(0, 60))}`, { remedy: '`vfioctl mdev types` lists them', exitCode: ExitCode.usage });
  const typeRel = `${host.pciDeviceRel(requirePciAddress(parent))}/mdev_supported_types/${req.mdevType}`;
  if (req.op === 'create') {
    if (!host.isDirectory(typeRel)) throw new VfioctlError('no-mdev-type', `${parent} has no mdev type ${req.mdevType}`, { remedy: `\`vfioctl mdev types\` lists the types ${parent} offers`, exitCode: ExitCode.usage });
    if (present(host, req.uuid)) throw new VfioctlError('mdev-exists', `an mdev ${req.uuid} exists already`, { remedy: 'choose another UUID (uuidgen)', exitCode: ExitCode.usage });
    const r = host.readText(`${typeRel}/available_instances`);
    const available = r.state === 'ok' && /^\d+$/.test(r.value.trim()) ? Number(r.value.trim()) : null;
    if (available === 0) throw new VfioctlError('no-mdev-instance', `${parent} has no ${req.mdevType} instance left (available_instances 0)`, { remedy: 'remove an mdev of this parent, or choose a smaller type', exitCode: ExitCode.notReady });
    return { available };
  }
  if (!present(host, req.uuid)) throw new VfioctlError('no-such-mdev', `no mdev ${req.uuid} on this host`, { remedy: '`vfioctl mdev ls` lists them', exitCode: ExitCode.usage });
  return { available: null };
}

function write(ctx: ApplyContext, op: 'create' | 'remove', s: { parent: string; mdevType: string; uuid: string }): void {
  if (op === 'create') ctx.sysfs.writeMdev({ op: 'create', parent: requirePciAddress(s.parent), mdevType: s.mdevType, uuid: s.uuid });
  else ctx.sysfs.writeMdev({ op: 'remove', uuid: s.uuid });
}

export async function applyMdev(ctx: ApplyContext, req: MdevRequest): Promise<{ runId: string; op: 'create' | 'remove'; uuid: string; present: boolean }> {
  checkMdevRequest(ctx.host, req);
  const parent = formatPciAddress(requirePciAddress(req.parent));
  return (await runner()).execute(ctx, `mdev ${req.op}`, [parent, req.mdevType, req.uuid], async (run) => {
    await run.step({ type: 'mdev', op: req.op, parent, mdevType: req.mdevType, uuid: req.uuid }, () => write(ctx, req.op, { ...req, parent }));
    const now = present(ctx.host, req.uuid);
    if (now !== (req.op === 'create')) throw new VfioctlError('mdev-verify', `mdev ${req.uuid} is ${now ? 'still there' : 'not there'} after the ${req.op}`, { remedy: 'check `dmesg` for the parent driver\'s messages' });
    return { runId: run.journal.runId, op: req.op, uuid: req.uuid, present: now };
  });
}

/** Undo of an mdev step: idempotent (an mdev already as it was is left alone). */
export function undoMdevStep(ctx: ApplyContext, s: Extract<JournalStep, { type: 'mdev' }>): void {
  const now = present(ctx.host, s.uuid);
  if (s.op === 'create' && now) write(ctx, 'remove', s);
  if (s.op === 'remove' && !now) write(ctx, 'create', s);
}

/** mdevctl's config for one mdev: define it (start auto) or forget it. */
export function planMdevPersist(host: HostRoot, state: HostState, req: MdevRequest, runId: string): ConfigPlan {
  const parent = formatPciAddress(requirePciAddress(req.parent));
  const rel = mdevctlConfigRel(parent, req.uuid);
  const key = `mdev:${req.uuid}`;
  const before = readConfigFile(host, rel);
  const after = req.op === 'create' ? renderMdevctlConfig(req.mdevType) : null;
  // a definition mdevctl (or a person) wrote is left alone on remove unless vfioctl wrote it
  const ours = !!state.persisted[key];
  const files = before === after || (req.op === 'remove' && !ours) ? [] : [{ rel, before, after }];
  const delta: StateDelta = req.op === 'create'
    ? { persist: { [key]: { mode: 'mdev', addresses: [parent], ids: [], created: before === null ? [rel] : [], edits: [], mdev: { parent, mdevType: req.mdevType, uuid: req.uuid }, runId, at: new Date().toISOString() } } }
    : ours ? { unpersist: [key] } : {};
  const notes = req.op === 'remove' && !ours && before !== null ? [`${host.display(rel)} was not written by vfioctl: left as it is (mdevctl undefine ${req.uuid} removes it)`] : [];
  return { command: `mdev ${req.op} persist`, args: [parent, req.uuid], files, commands: [], delta, notes, needsReboot: false };
}
