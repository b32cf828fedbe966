/**
 * Request bodies of the HTTP API, checked as data (they come from the network): known fields only, the
 * right types, bounded sizes. The values then go to the session, which checks addresses and names as it
 * does for the CLI.
 */
import { UsageError } from '../model/errors.js';
import type { PlanInput } from '../service/session.js';

export const ACTIONS = ['bind', 'release', 'persist', 'unpersist', 'enable-iommu', 'disable-iommu', 'attach', 'detach', 'recover'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PreviewRequest {
  action: Action;
  addresses: string[];
  guest?: string;
  options: Record<string, unknown>;
}

const MAX_ADDRESSES = 4096;

function bad(message: string, remedy = 'check the request body against docs/server.md'): UsageError {
  return new UsageError('bad-request', message, remedy);
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad(`the ${what} body must be a JSON object`);
  return body as Record<string, unknown>;
}

function only(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) throw bad(`unknown field${extra.length > 1 ? 's' : ''} in the ${what} body: ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`, `the fields are: ${allowed.join(', ')}`);
}

function bool(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(`${k} must be true or false`);
  return v;
}

function str(o: Record<string, unknown>, k: string, max = 200): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`${k} must be a string of at most ${max} characters`);
  return v;
}

function addresses(o: Record<string, unknown>, required: boolean): string[] {
  const v = o.addresses;
  if (v === undefined && !required) return [];
  if (!Array.isArray(v) || v.length > MAX_ADDRESSES || v.some((a) => typeof a !== 'string' || a.length > 64)) {
    throw bad(`addresses must be a list of PCI addresses (at most ${MAX_ADDRESSES})`, 'e.g. {"addresses": ["0000:01:00.0"]}');
  }
  return v as string[];
}

const PLAN_FIELDS = ['addresses', 'guest', 'force', 'exact', 'singleFunction', 'romBar', 'nested', 'allowUnsafeInterrupts', 'byId', 'perAddress', 'persistBy'];

function planFields(o: Record<string, unknown>, withGuests: boolean): PlanInput {
  const persistBy = str(o, 'persistBy');
  if (persistBy !== undefined && persistBy !== 'address' && persistBy !== 'id') throw bad('persistBy must be "address" or "id"');
  const romBar = str(o, 'romBar');
  const guest = str(o, 'guest');
  const by = bool(o, 'byId') ? 'id' : bool(o, 'perAddress') ? 'address' : persistBy;
  return {
    addresses: addresses(o, true),
    ...(guest !== undefined ? { guest } : {}),
    force: !!bool(o, 'force'),
    exact: !!bool(o, 'exact'),
    ...(bool(o, 'singleFunction') ? { singleFunction: true } : {}),
    romBar: romBar ?? 'auto',
    nested: !!bool(o, 'nested'),
    allowUnsafeInterrupts: !!bool(o, 'allowUnsafeInterrupts'),
    ...(by ? { persistBy: by as 'address' | 'id' } : {}),
    withGuests,
  };
}

/** `POST /api/v1/plan`: the options of `vfioctl plan` (withGuests as the CLI has it: when --connect is given). */
export function planInputOf(body: unknown, withGuests: boolean): PlanInput {
  const o = object(body, 'plan');
  only(o, PLAN_FIELDS, 'plan');
  return planFields(o, withGuests);
}

/** `POST /api/v1/render`: the plan options, the target and the machine type. */
export function renderInputOf(body: unknown, withGuests: boolean): { input: PlanInput; format: string; machine: string } {
  const o = object(body, 'render');
  only(o, [...PLAN_FIELDS, 'target', 'machine'], 'render');
  const format = str(o, 'target', 40);
  if (!format) throw bad('target is missing', 'e.g. {"target": "libvirt", "addresses": ["01:00.0"]}');
  const { target: _t, machine: _m, ...rest } = o;
  return { input: planFields(rest, withGuests), format, machine: str(o, 'machine', 10) ?? 'q35' };
}

const OPTION_FIELDS: Record<Action, readonly string[]> = {
  bind: ['force', 'persist', 'singleFunction', 'timeoutMs'],
  persist: ['byId', 'force', 'singleFunction', 'regenerate'],
  unpersist: ['all', 'regenerate'],
  'enable-iommu': ['vendor', 'pt', 'allowUnsafeInterrupts', 'regenerate'],
  'disable-iommu': ['regenerate'],
  attach: ['live', 'config', 'exact', 'force', 'romBar', 'singleFunction'],
  detach: ['live', 'config', 'exact'],
  release: ['all', 'to', 'timeoutMs'],
  recover: ['timeoutMs'],
};

/** `POST /api/v1/preview`. */
export function previewRequestOf(body: unknown): PreviewRequest {
  const o = object(body, 'preview');
  only(o, ['action', 'addresses', 'guest', 'options'], 'preview');
  const action = o.action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) throw bad(`action must be one of ${ACTIONS.join(', ')}`);
  const options = o.options === undefined ? {} : object(o.options, 'preview options');
  only(options, OPTION_FIELDS[action as Action], `${action} options`);
  for (const [k, v] of Object.entries(options)) {
    if (k === 'timeoutMs' ? typeof v !== 'number' : k === 'vendor' || k === 'to' || k === 'romBar' ? typeof v !== 'string' || v.length > 64 : typeof v !== 'boolean') {
      throw bad(`options.${k} has the wrong type`);
    }
  }
  if (options.timeoutMs !== undefined && !(Number.isInteger(options.timeoutMs) && (options.timeoutMs as number) > 0 && (options.timeoutMs as number) <= 600_000)) {
    throw bad('options.timeoutMs must be a whole number of milliseconds, 1 to 600000');
  }
  const guest = str(o, 'guest');
  if ((action === 'attach' || action === 'detach') && guest === undefined) throw bad(`${action} needs "guest"`);
  return { action: action as Action, addresses: addresses(o, false), ...(guest !== undefined ? { guest } : {}), options };
}

/** `POST /api/v1/apply`. */
export function applyRequestOf(body: unknown): { planId: string; force: boolean } {
  const o = object(body, 'apply');
  only(o, ['planId', 'force'], 'apply');
  const planId = str(o, 'planId', 100);
  if (!planId) throw bad('planId is missing', 'POST /api/v1/preview first; it returns the planId');
  return { planId, force: !!bool(o, 'force') };
}
