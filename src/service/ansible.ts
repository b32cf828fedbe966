/**
 * vfioctl as an Ansible module (the non-Python module protocol: Ansible writes the task's arguments as a
 * JSON file, passes its path as the only argument, and reads one JSON object from stdout).
 *
 *   - vfioctl_device:
 *       devices: ["0000:41:00.0"]      # addresses or vendor:device IDs
 *       mapping: gpu-a100              # or a mapping name (with mappings_file)
 *       state: bound                   # bound | released | persisted | unpersisted
 *
 * check mode is the dry run (the plan, nothing changed); diff mode returns the file diffs of the plan's
 * steps. A second run on a host already in the state reports `changed: false` (the plan's steps have no
 * effects left). Refusals (a blocked plan, a recorded host) are `failed: true` with the reason and remedy.
 */
import { z } from 'zod';
import { UsageError, VfioctlError } from '../model/errors.js';
import type { PlanStep } from '../model/plan.js';
import type { Change, Session, SessionOptions } from './session.js';
import { nodeName, readMappings, serialReader } from './fleet.js';
import { mappingAddresses } from '../core/device-mapping.js';

const argsSchema = z.object({
  state: z.enum(['bound', 'released', 'persisted', 'unpersisted']),
  devices: z.array(z.string().max(64)).max(1024).optional(),
  mapping: z.string().max(63).optional(),
  mappings_file: z.string().max(4096).optional(),
  node: z.string().max(63).optional(),
  root: z.string().max(4096).optional(),
  force: z.boolean().optional(),
  single_function: z.boolean().optional(),
  by_id: z.boolean().optional(),
  _ansible_check_mode: z.boolean().optional(),
  _ansible_diff: z.boolean().optional(),
}).passthrough();

export type AnsibleArgs = z.infer<typeof argsSchema>;

export interface AnsibleDiff {
  before_header: string;
  after_header: string;
  before: string;
  after: string;
}

export interface AnsibleResult {
  changed: boolean;
  failed: boolean;
  msg: string;
  /** the functions the plan covers (group mates included) */
  claim?: string[];
  /** the plan's steps (titles), as `vfioctl plan` shows them */
  steps?: string[];
  findings?: { id: string; severity: string; summary: string; remedy?: string }[];
  diff?: AnsibleDiff[];
  remedy?: string;
  run_id?: string | null;
}

/** Module arguments from the JSON file Ansible wrote; `_ansible_*` keys are Ansible's own. */
export function parseAnsibleArgs(text: string): AnsibleArgs {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError('bad-module-args', 'the module arguments are not JSON', 'run vfioctl as an Ansible module (library/vfioctl_device), which passes a JSON arguments file');
  }
  const obj = (data && typeof data === 'object' && 'ANSIBLE_MODULE_ARGS' in (data as object) ? (data as { ANSIBLE_MODULE_ARGS: unknown }).ANSIBLE_MODULE_ARGS : data) as unknown;
  const r = argsSchema.safeParse(obj);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UsageError('bad-module-args', `${i.path.join('.') || 'arguments'}: ${i.message}`, 'state is bound, released, persisted or unpersisted; devices is a list of PCI addresses or vendor:device IDs (docs/fleet.md)');
  }
  const unknown = Object.keys(r.data).filter((k) => !k.startsWith('_ansible_') && !(k in argsSchema.shape));
  if (unknown.length) throw new UsageError('bad-module-args', `unsupported parameters: ${unknown.join(', ')}`, `supported: ${Object.keys(argsSchema.shape).filter((k) => !k.startsWith('_')).join(', ')}`);
  return r.data;
}

/** The session options for the module's arguments (root, and whether it is the running system). */
export function ansibleSessionOptions(a: AnsibleArgs): Pick<SessionOptions, 'root'> {
  return a.root !== undefined ? { root: a.root } : {};
}

/** A step changes something when its effects (composed against the host) are not empty. */
function stepChanges(s: PlanStep): boolean {
  if (!s.effects) return true;
  return s.effects.some((e) => (e.type === 'file' ? e.before !== e.after : true));
}

function diffsOf(steps: readonly PlanStep[]): AnsibleDiff[] {
  const out: AnsibleDiff[] = [];
  for (const s of steps) for (const e of s.effects ?? []) {
    if (e.type !== 'file' || e.before === e.after) continue;
    out.push({ before_header: e.path, after_header: e.path, before: e.before ?? '', after: e.after ?? '' });
  }
  return out;
}

function resolveDevices(s: Session, a: AnsibleArgs): string[] {
  const out: string[] = [];
  const inv = s.inventory();
  for (const d of a.devices ?? []) {
    const id = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(d);
    if (id) {
      const hits = inv.functions.filter((f) => f.vendorId === id[1]!.toLowerCase() && f.deviceId === id[2]!.toLowerCase());
      if (!hits.length) throw new UsageError('no-such-device', `no function with ID ${d.toLowerCase()} on this host`, '`vfioctl ls` lists the functions present');
      out.push(...hits.map((f) => f.address));
    } else out.push(d);
  }
  if (a.mapping) {
    if (!a.mappings_file) throw new UsageError('bad-module-args', 'mapping needs mappings_file', 'add mappings_file: /path/to/mappings.yaml');
    out.push(...mappingAddresses(readMappings(a.mappings_file), a.mapping, a.node ?? nodeName(s), inv, serialReader(s)));
  }
  if (!out.length && a.state !== 'released' && a.state !== 'unpersisted') throw new UsageError('bad-module-args', 'no devices given', 'set devices: [ADDRESS...] or mapping: NAME');
  return out;
}

function findingsOf(c: Change): AnsibleResult['findings'] {
  return c.findings.filter((f) => f.severity === 'warn' || f.severity === 'fail').map((f) => ({ id: f.id, severity: f.severity, summary: f.summary, ...(f.remedy ? { remedy: f.remedy } : {}) }));
}

/** Run the module's task on the session. Never throws a VfioctlError: it becomes `failed` with a remedy. */
export async function runAnsibleTask(s: Session, a: AnsibleArgs): Promise<AnsibleResult> {
  const check = !!a._ansible_check_mode;
  const wantDiff = !!a._ansible_diff;
  try {
    const addresses = resolveDevices(s, a);
    if (a.state === 'released') {
      const which = addresses.length ? addresses : 'all';
      const p = await s.releasePreview(which);
      const todo = p.functions.filter((f) => !f.unchanged);
      if (!todo.length) return { changed: false, failed: false, msg: 'nothing to release: the functions are not bound by vfioctl', claim: [] };
      if (check) return { changed: true, failed: false, msg: `would release ${todo.map((f) => f.address).join(' ')} (check mode)`, claim: todo.map((f) => f.address) };
      s.assertMutable();
      const r = await s.release(which);
      return { changed: true, failed: false, msg: `released ${todo.map((f) => f.address).join(' ')}`, claim: todo.map((f) => f.address), run_id: r.runId };
    }
    let change: Change;
    if (a.state === 'bound') change = await s.changeBind({ addresses, force: !!a.force, ...(a.single_function ? { singleFunction: true } : {}) });
    else if (a.state === 'persisted') change = await s.changePersist({ addresses, byId: !!a.by_id, force: !!a.force, ...(a.single_function ? { singleFunction: true } : {}) });
    else change = await s.changeUnpersist(addresses.length ? { addresses } : { all: true });
    const base = { claim: change.claim, steps: change.steps.map((st) => st.title), findings: findingsOf(change) };
    if (change.verdict === 'blocked') {
      const fail = change.findings.find((f) => f.severity === 'fail');
      return { ...base, changed: false, failed: true, msg: `the plan for ${change.claim.join(' ')} is blocked: ${fail?.summary ?? 'see findings'}`, remedy: fail?.remedy ?? 'run `vfioctl plan` on the host; set force: true only if the host can lose what the plan lists' };
    }
    const bindNoop = change.bind ? change.bind.functions.every((f) => f.unchanged) && !change.bind.loadModule : true;
    const changing = change.steps.filter(stepChanges);
    const changed = a.state === 'bound' ? !bindNoop || changing.some((st) => st.action.type !== 'bind-vfio' && st.id !== 'load-vfio-pci') : changing.length > 0;
    const diff = wantDiff ? diffsOf(change.steps) : undefined;
    if (!changed) return { ...base, changed: false, failed: false, msg: `${change.claim.join(' ')} already ${a.state}`, ...(diff ? { diff } : {}) };
    if (check) return { ...base, changed: true, failed: false, msg: `would make ${change.claim.join(' ')} ${a.state} (check mode)`, ...(diff ? { diff } : {}) };
    s.assertMutable();
    const r = await s.apply(change);
    const runId = r.bind?.runId ?? r.config?.runId ?? null;
    return { ...base, changed: true, failed: false, msg: `${change.claim.join(' ')} ${a.state}${change.needsReboot ? ' (takes effect at the next boot)' : ''}`, run_id: runId, ...(diff ? { diff } : {}) };
  } catch (e) {
    if (!(e instanceof VfioctlError)) throw e;
    return { changed: false, failed: true, msg: e.message, ...(e.remedy ? { remedy: e.remedy } : {}) };
  }
}
