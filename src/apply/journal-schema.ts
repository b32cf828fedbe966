/**
 * journal.json, runs/<id>.json and state.json are data, read back from a host tree anyone may have
 * prepared. They are parsed with a schema (zod) before anything acts on them: the version, run ids
 * (used as file names), the status enums, step types, PCI addresses (canonical), driver and module
 * names, file steps (only paths vfioctl writes, only content vfioctl writes: src/apply/owned-files.ts),
 * exec steps (only the argv shapes of src/model/host-command.ts), libvirt steps (a PCI <hostdev> element
 * only) and sizes (strings, lists, the JSON text itself). A document that does not fit is refused as a
 * whole with a VfioctlError that says what to do; nothing in it runs.
 */
import { DRIVER_NAME } from '../model/driver-name.js';
import { createRequire } from 'node:module';
import type * as Zod from 'zod';
import { checkHostCommand, REGENERATE_SHAPES } from '../model/host-command.js';
import { canonicalPciAddress } from '../model/pci-address.js';
import { checkFileChange, isFileStepPath, MAX_FILE_CONTENT } from './owned-files.js';
import { MDEV_TYPE, UUID } from '../adapters/persist-render.js';
import { RESET_METHODS } from '../core/reset-policy.js';
import type { HostState, Journal } from './state.js';

/** Largest journal / state text read (a journal with two grub files and backups is a few KiB). */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;
const MAX_STEPS = 4096;
const MAX_ENTRIES = 4096;

export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The schemas, built on first use: zod is loaded only when a journal or state file is actually read
 * (a plan on a host vfioctl never changed does not pay for it).
 */
let built: { journal: Zod.ZodType; hostState: Zod.ZodType } | undefined;
function schemas(): { journal: Zod.ZodType; hostState: Zod.ZodType } {
  if (built) return built;
  const { z } = createRequire(import.meta.url)('zod') as typeof Zod;
  const short = (n = 256) => z.string().max(n);
  const address = z.string().max(16).refine((s) => canonicalPciAddress(s) === s, { message: 'not a canonical PCI address (dddd:bb:ss.f)' });
  const name = z.string().regex(DRIVER_NAME, 'not a driver or module name');
  const runId = z.string().regex(RUN_ID, 'not a run id');
  const pciId = z.string().regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:[0-9a-fA-F]{1,6}){0,4}$/, 'not a PCI ID');
  // a kernel parameter or module line as the user wrote it (only ever handed to the file editors)
  const token = z.string().max(1024).regex(/^[^\p{Cc}]*$/u, 'a control character in a kernel parameter');
  const content = z.string().max(MAX_FILE_CONTENT).nullable();
  const count = z.number().int().min(0).max(4096);
  const stepStatus = z.enum(['started', 'done', 'undone', 'undo-failed']);
  const boundedRecord = <K extends Zod.ZodType<string>, V extends Zod.ZodType>(k: K, v: V) =>
    z.record(k, v).refine((o) => Object.keys(o).length <= MAX_ENTRIES, { message: `more than ${MAX_ENTRIES} entries` });

  // reset_method values: kernel method names separated by spaces, or "default"; nothing else reaches sysfs
  const resetName = z.enum(RESET_METHODS);
  const resetValue = z.string().max(200).refine((v) => v === 'default' || v === '' || v.split(' ').every((x) => resetName.safeParse(x).success), { message: 'not a reset_method value' });
  const mdevType = z.string().regex(MDEV_TYPE, 'not an mdev type name');
  const uuid = z.string().regex(UUID, 'not a lowercase UUID');
  const driverState = z.object({ driver: name.nullable(), override: name.nullable() });
  const argv = z.array(z.string().max(1024)).min(1).max(16).superRefine((a, ctx) => {
    const r = checkHostCommand(a);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  });

  const hostdevXml = z.string().max(64 * 1024).refine((x) => /^\s*<hostdev\s[^>]*\btype=(['"])pci\1[^>]*>[\s\S]*<\/hostdev>\s*$/.test(x) && !/<[!?]/.test(x) && (x.match(/<hostdev\b/g) ?? []).length === 1, {
    message: 'not a single PCI <hostdev> element',
  });

  const base = { seq: z.number().int().min(1).max(1_000_000), status: stepStatus, error: short(8192).optional() };
  const step = z.discriminatedUnion('type', [
    z.object({ ...base, type: z.literal('load-module'), module: name }),
    z.object({ ...base, type: z.literal('bind'), address, original: driverState, target: driverState }),
    z.object({ ...base, type: z.literal('release'), address, original: driverState, target: driverState }),
    z.object({ ...base, type: z.literal('file'), rel: z.string().max(256), before: content, after: content, backup: z.string().max(512).nullable() }),
    z.object({ ...base, type: z.literal('exec'), argv, rerunOnUndo: z.boolean(), undoArgv: argv.optional() }),
    z.object({ ...base, type: z.literal('sriov'), address, before: count, after: count }),
    z.object({ ...base, type: z.literal('reset-method'), address, before: resetValue, after: resetValue }),
    z.object({ ...base, type: z.literal('mdev'), op: z.enum(['create', 'remove']), parent: address, mdevType, uuid }),
    z.object({
      ...base,
      type: z.literal('libvirt-hostdev'),
      op: z.enum(['attach', 'detach']),
      // passed to virsh as one argument: never an option, never a control character
      guest: z.string().regex(/^[^-\s/\p{Cc}][^/\p{Cc}]{0,199}$/u, 'not a guest name'),
      // libvirt's ext transport and command= / netcat= parameters run what the URI names: a journal
      // never chooses them (the user can still pass such a URI to recover with --connect)
      uri: z.string().regex(/^[a-z][a-z0-9+.-]{0,30}:\/\/[^\s\p{Cc}]{0,480}$/u, 'not a libvirt URI')
        .refine((u) => !/^[a-z0-9.-]*\+ext:/.test(u) && !/[?&](command|netcat)=/i.test(u), 'a libvirt URI that runs a command').nullable(),
      address,
      flags: z.object({ live: z.boolean(), config: z.boolean() }),
      xml: hostdevXml,
      undoXml: hostdevXml,
    }),
  ]);

  const boundRecord = z.object({ original: driverState, driver: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(), runId: z.string().max(64), at: short(64), iommuGroup: z.number().int().min(0).max(1_000_000).nullable() });
  const persistKey = z.string().regex(/^(initramfs|kernel-cmdline|unsafe-interrupts|(address|sriov|reset):[0-9a-f:.]{12}|id:[0-9a-fA-F:]{9,40}|mdev:[0-9a-f-]{36})$/, 'not a persisted-record key');
  const hex4 = z.string().regex(/^[0-9a-f]{4}$/, 'not a 4-digit hex ID');
  const identity = z.object({
    vendorId: hex4, deviceId: hex4, subsystemVendorId: hex4.nullable(), subsystemDeviceId: hex4.nullable(),
    serial: z.string().regex(/^[0-9a-f]{16}$/, 'not a serial number').nullable(), serialKnown: z.boolean(),
    path: z.string().max(512).regex(/^[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:-]+)*$/, 'not a sysfs path').refine((p) => !p.split('/').some((x) => x === '.' || x === '..'), 'not a sysfs path').nullable(),
  });
  const persistRecord = z.object({
    mode: z.enum(['per-address', 'ids', 'kernel-cmdline', 'sriov', 'unsafe-interrupts', 'reset-method', 'mdev']),
    addresses: z.array(address).max(MAX_ENTRIES),
    ids: z.array(pciId).max(MAX_ENTRIES),
    created: z.array(z.string().refine((r) => isFileStepPath(r), { message: 'not a file vfioctl writes' })).max(64),
    edits: z.array(z.object({
      rel: z.string().refine((r) => isFileStepPath(r) || r === 'tool:grubby' || r === 'tool:kernelstub', { message: 'not a file or tool vfioctl edits' }),
      added: z.array(token).max(256),
      replaced: z.array(z.object({ from: token, to: token })).max(256),
    })).max(256),
    softdeps: z.array(name).max(256).optional(),
    numVfs: count.optional(),
    resetOrder: z.array(resetName).min(1).max(8).optional(),
    mdev: z.object({ parent: address, mdevType, uuid }).optional(),
    identity: identity.optional(),
    runId: z.string().max(64),
    at: short(64),
  });
  const sriovRecord = z.object({ original: count, numVfs: count, runId: z.string().max(64), at: short(64) });
  const attachedRecord = z.object({ uri: z.string().max(512).nullable(), live: z.boolean(), config: z.boolean(), runId: z.string().max(64), at: short(64) });
  const hostdevDelta = z.object({ guest: short(200), address, uri: z.string().max(512).nullable(), live: z.boolean(), config: z.boolean(), runId: z.string().max(64), at: short(64) });

  const stateDelta = z.object({
    bind: boundedRecord(address, boundRecord).optional(),
    unbind: z.array(address).max(MAX_ENTRIES).optional(),
    persist: boundedRecord(persistKey, persistRecord).optional(),
    unpersist: z.array(persistKey).max(MAX_ENTRIES).optional(),
    sriov: boundedRecord(address, sriovRecord.nullable()).optional(),
    attach: z.array(hostdevDelta).max(MAX_ENTRIES).optional(),
    detach: z.array(z.object({ guest: short(200), address, live: z.boolean(), config: z.boolean() })).max(MAX_ENTRIES).optional(),
  });

  const journal = z.object({
    version: z.literal(1),
    runId,
    command: z.string().regex(/^[a-z][a-z -]{0,40}$/, 'not a vfioctl command'),
    args: z.array(short()).max(1024),
    pid: z.number().int().min(0).max(2 ** 32),
    startedAt: short(64),
    finishedAt: short(64).optional(),
    status: z.enum(['running', 'committed', 'rolled-back', 'rollback-failed']),
    steps: z.array(step).max(MAX_STEPS),
    commit: stateDelta,
    error: z.object({ code: short(), message: short(16_384) }).optional(),
  }).superRefine((j, ctx) => {
    j.steps.forEach((s, i) => {
      if (s.type === 'file') {
        const why = checkFileChange(s.rel, s.before, s.after);
        if (why) ctx.addIssue({ code: 'custom', path: ['steps', i, 'rel'], message: why });
        if (s.backup !== null && !isBackupOf(s.backup, j.runId)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'backup'], message: 'not the backup path of this run and file' });
      }
      if (s.type === 'exec' && s.rerunOnUndo) {
        const r = checkHostCommand(s.argv);
        if (!r.ok || !REGENERATE_SHAPES.has(r.shape)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'rerunOnUndo'], message: 'only a regeneration command is re-run on undo' });
      }
      if (s.type === 'exec' && s.undoArgv && s.undoArgv[0] !== s.argv[0]) ctx.addIssue({ code: 'custom', path: ['steps', i, 'undoArgv'], message: 'the undo of a command is the same tool' });
      if (s.type === 'libvirt-hostdev' && !hostdevNames(s.undoXml, s.address)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'undoXml'], message: `the <hostdev> does not name ${s.address}` });
    });
  });

  const hostState = z.object({
    version: z.literal(1),
    bound: boundedRecord(address, boundRecord),
    persisted: boundedRecord(persistKey, persistRecord),
    sriov: boundedRecord(address, sriovRecord),
    attached: boundedRecord(short(200), boundedRecord(address, attachedRecord)).optional(),
  });
  built = { journal, hostState };
  return built;
}

/** A backup path of this run (the file written may be a link's target, so any safe path below it). */
function isBackupOf(p: string, id: string): boolean {
  const pre = `var/lib/vfioctl/backups/${id}/`;
  return p.startsWith(pre) && /^[A-Za-z0-9_.:@+,=~/-]{1,400}$/.test(p) && p.slice(pre.length).split('/').every((x) => x !== '' && x !== '.' && x !== '..');
}

/** Whether a <hostdev> element's source <address> is `addr` (hex fields, any zero padding). */
function hostdevNames(xml: string, addr: string): boolean {
  const src = /<source\b[^>]*>([\s\S]*?)<\/source>/.exec(xml)?.[1] ?? '';
  const a = /<address\b([^>]*)\/?>/.exec(src)?.[1];
  if (!a) return false;
  const field = (k: string): number => {
    const m = new RegExp(`\\b${k}=(['"])(0x[0-9a-fA-F]+|\\d+)\\1`).exec(a);
    return m ? Number(m[2]) : NaN;
  };
  const [d, b, sf] = addr.split(':');
  const [s, f] = sf!.split('.');
  return field('domain') === parseInt(d!, 16) && field('bus') === parseInt(b!, 16) && field('slot') === parseInt(s!, 16) && field('function') === parseInt(f!, 16);
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

function describe(e: Zod.ZodError): string {
  const issues = e.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`);
  return `${issues.join('; ')}${e.issues.length > 3 ? ` (and ${e.issues.length - 3} more)` : ''}`;
}

/** Parse and check a journal text (journal.json or runs/<id>.json). */
export function parseJournal(text: string): Checked<Journal> {
  return parseWith(text, schemas().journal) as Checked<Journal>;
}

/** Parse and check state.json. */
export function parseHostState(text: string): Checked<HostState> {
  return parseWith(text, schemas().hostState) as Checked<HostState>;
}

function parseWith(text: string, schema: Zod.ZodType): Checked<unknown> {
  if (text.length > MAX_JSON_BYTES) return { ok: false, problem: `larger than ${MAX_JSON_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: e instanceof RangeError ? 'nested too deeply' : `not valid JSON (${(e as Error).message.slice(0, 120)})` };
  }
  try {
    const r = schema.safeParse(raw);
    return r.success ? { ok: true, value: r.data } : { ok: false, problem: describe(r.error) };
  } catch (e) {
    // a pathological document (e.g. nesting deep enough to exhaust the stack while checking)
    return { ok: false, problem: e instanceof RangeError ? 'nested too deeply' : 'cannot be checked' };
  }
}
