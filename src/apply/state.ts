/**
 * vfioctl's state directory (var/lib/vfioctl under the host root; docs/apply.md):
 *   lock           {pid, runId, command, startedAt}: one mutating run at a time
 *   journal.json   the current (or last) run: every step written BEFORE it is made, updated after
 *   state.json     what vfioctl has changed and not yet undone: bound functions with their original
 *                  driver/override, persisted files and lines, kernel parameters, SR-IOV VF counts
 *   runs/<id>.json finished journals, for `vfioctl status --history` and audits
 *   backups/<id>/  the previous content of every config file a run changed
 * Every file here is written atomically (temp + fsync + rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { HostRoot } from '../host/host-root.js';
import { atomicWrite } from '../host/host-writer.js';
import { VfioctlError } from '../model/errors.js';

export const STATE_DIR = 'var/lib/vfioctl';

export type StepStatus = 'started' | 'done' | 'undone' | 'undo-failed';

export interface FnDriverState {
  /** bound driver name, null when unbound */
  driver: string | null;
  /** driver_override, null when unset */
  override: string | null;
}

export type JournalStep =
  | { seq: number; type: 'load-module'; module: string; status: StepStatus; error?: string }
  | { seq: number; type: 'bind'; address: string; original: FnDriverState; target: FnDriverState; status: StepStatus; error?: string }
  | { seq: number; type: 'release'; address: string; original: FnDriverState; target: FnDriverState; status: StepStatus; error?: string }
  | { seq: number; type: 'file'; rel: string; before: string | null; after: string | null; backup: string | null; status: StepStatus; error?: string }
  | { seq: number; type: 'exec'; argv: string[]; rerunOnUndo: boolean; undoArgv?: string[]; status: StepStatus; error?: string }
  | { seq: number; type: 'sriov'; address: string; before: number; after: number; status: StepStatus; error?: string }
  | ({ seq: number; status: StepStatus; error?: string } & LibvirtHostdevStep);

/**
 * One `virsh attach-device` / `detach-device` of a PCI hostdev. `xml` is the element given to virsh;
 * `undoXml` the element the opposite call uses (attach: the same; detach: the hostdev as the definition
 * held it), so the undo puts back exactly what was there. `uri` is the connection in effect (null:
 * libvirt's default), `flags` the definitions changed (--live, --config).
 */
export interface LibvirtHostdevStep {
  type: 'libvirt-hostdev';
  op: 'attach' | 'detach';
  guest: string;
  uri: string | null;
  address: string;
  flags: { live: boolean; config: boolean };
  xml: string;
  undoXml: string;
}

export type JournalStatus = 'running' | 'committed' | 'rolled-back' | 'rollback-failed';

export interface Journal {
  version: 1;
  runId: string;
  command: string;
  args: string[];
  pid: number;
  startedAt: string;
  finishedAt?: string;
  status: JournalStatus;
  steps: JournalStep[];
  /** what the run adds to state.json when it commits */
  commit: StateDelta;
  error?: { code: string; message: string };
}

export interface BoundRecord {
  original: FnDriverState;
  runId: string;
  at: string;
  iommuGroup: number | null;
}

export interface PersistRecord {
  /** what this persisted: per-address override, or IDs */
  mode: 'per-address' | 'ids' | 'kernel-cmdline' | 'sriov' | 'unsafe-interrupts';
  addresses: string[];
  ids: string[];
  /** files vfioctl created (removed whole on undo) */
  created: string[];
  /** edits to files that existed: what was added, so that exactly that is removed */
  edits: { rel: string; added: string[]; replaced: { from: string; to: string }[] }[];
  /** host drivers given `softdep DRIVER pre: vfio-pci` */
  softdeps?: string[];
  /** SR-IOV: VF count kept across reboots */
  numVfs?: number;
  runId: string;
  at: string;
}

/** A PCI hostdev vfioctl added to a libvirt guest (state.json `attached[guest][address]`). */
export interface AttachedRecord {
  uri: string | null;
  /** the definitions that hold it: live (hotplugged) and/or persistent */
  live: boolean;
  config: boolean;
  runId: string;
  at: string;
}

export interface HostState {
  version: 1;
  bound: Record<string, BoundRecord>;
  persisted: Record<string, PersistRecord>;
  sriov: Record<string, { original: number; numVfs: number; runId: string; at: string }>;
  /** libvirt guests: guest name -> address -> record (absent in state files written before it existed) */
  attached?: Record<string, Record<string, AttachedRecord>>;
}

export interface HostdevDelta {
  guest: string;
  address: string;
  uri: string | null;
  live: boolean;
  config: boolean;
  runId: string;
  at: string;
}

export interface StateDelta {
  bind?: Record<string, BoundRecord>;
  unbind?: string[];
  persist?: Record<string, PersistRecord>;
  unpersist?: string[];
  sriov?: Record<string, { original: number; numVfs: number; runId: string; at: string } | null>;
  /** hostdevs added to guests (flags merge with an existing record) */
  attach?: HostdevDelta[];
  /** hostdevs removed from guests (the flags given are cleared; the record goes when none is left) */
  detach?: Omit<HostdevDelta, 'runId' | 'at' | 'uri'>[];
}

export function emptyState(): HostState {
  return { version: 1, bound: {}, persisted: {}, sriov: {} };
}

export function applyDelta(s: HostState, d: StateDelta): HostState {
  const out: HostState = structuredClone(s);
  for (const [a, r] of Object.entries(d.bind ?? {})) out.bound[a] = r;
  for (const a of d.unbind ?? []) delete out.bound[a];
  for (const [k, r] of Object.entries(d.persist ?? {})) out.persisted[k] = r;
  for (const k of d.unpersist ?? []) delete out.persisted[k];
  for (const [a, r] of Object.entries(d.sriov ?? {})) {
    if (r === null) delete out.sriov[a];
    else out.sriov[a] = r;
  }
  for (const h of d.attach ?? []) {
    const g = (out.attached ??= {})[h.guest] ??= {};
    const prev = g[h.address];
    g[h.address] = { uri: h.uri, live: h.live || !!prev?.live, config: h.config || !!prev?.config, runId: h.runId, at: h.at };
  }
  for (const h of d.detach ?? []) {
    const g = out.attached?.[h.guest];
    const r = g?.[h.address];
    if (!g || !r) continue;
    const left = { ...r, live: r.live && !h.live, config: r.config && !h.config };
    if (left.live || left.config) g[h.address] = left;
    else delete g[h.address];
    if (!Object.keys(g).length) delete out.attached![h.guest];
  }
  return out;
}

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export class StateStore {
  constructor(readonly host: HostRoot, readonly dir = STATE_DIR) {}

  rel(name: string): string {
    return `${this.dir}/${name}`;
  }

  private abs(name: string): string {
    return this.host.resolve(this.rel(name));
  }

  private readJson<T>(name: string): T | null {
    const r = this.host.readText(this.rel(name));
    if (r.state === 'absent') return null;
    if (r.state === 'unreadable') throw new VfioctlError('state-unreadable', `cannot read ${this.host.display(this.rel(name))}: ${r.code}`, { remedy: 'run vfioctl as root' });
    try {
      return JSON.parse(r.value) as T;
    } catch {
      throw new VfioctlError('state-corrupt', `${this.host.display(this.rel(name))} is not valid JSON`, {
        remedy: `inspect it by hand; move it aside only if you know which functions vfioctl changed (see ${this.host.display(this.rel('runs'))})`,
      });
    }
  }

  private writeJson(name: string, value: unknown): void {
    const abs = this.abs(name);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    atomicWrite(abs, `${JSON.stringify(value, null, 2)}\n`, 0o600);
  }

  readState(): HostState {
    return this.readJson<HostState>('state.json') ?? emptyState();
  }

  writeState(s: HostState): void {
    this.writeJson('state.json', s);
  }

  readJournal(): Journal | null {
    return this.readJson<Journal>('journal.json');
  }

  writeJournal(j: Journal): void {
    this.writeJson('journal.json', j);
  }

  /** Move a finished journal to runs/<id>.json. */
  archiveJournal(j: Journal): void {
    this.writeJson(`runs/${j.runId}.json`, j);
    fs.rmSync(this.abs('journal.json'), { force: true });
  }

  listRuns(): Journal[] {
    const r = this.host.listDir(this.rel('runs'));
    if (r.state !== 'ok') return [];
    return r.value.filter((n) => n.endsWith('.json')).sort().map((n) => this.readJson<Journal>(`runs/${n}`)).filter((j): j is Journal => j !== null);
  }

  // ----- lock -----

  /**
   * Take the lock (O_EXCL create). A lock whose process is gone is taken over with a note; a live one
   * refuses with the holder's pid and command.
   */
  acquireLock(runId: string, command: string): { release(): void; staleFrom: LockInfo | null } {
    const abs = this.abs('lock');
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const info: LockInfo = { pid: process.pid, runId, command, startedAt: new Date().toISOString() };
    let staleFrom: LockInfo | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        fs.writeSync(fd, `${JSON.stringify(info)}\n`);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        return {
          staleFrom,
          release: () => {
            const cur = this.readLock();
            if (cur && cur.runId === runId) fs.rmSync(abs, { force: true });
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = this.readLock();
      if (holder && processAlive(holder.pid) && attempt === 0) {
        throw new VfioctlError('locked', `another vfioctl run holds the lock: pid ${holder.pid}, \`vfioctl ${holder.command}\` since ${holder.startedAt}`, {
          remedy: `wait for it to finish; if that process is not vfioctl, remove ${this.host.display(this.rel('lock'))}`,
        });
      }
      // stale: move it aside under a unique name, then check that what we moved is the stale lock
      const aside = `${abs}.stale-${process.pid}`;
      try {
        fs.renameSync(abs, aside);
      } catch {
        continue;
      }
      const moved = readLockFile(aside);
      if (moved && holder && moved.runId !== holder.runId && processAlive(moved.pid)) {
        // a live run took the lock between our read and the rename: give it back and refuse
        try {
          fs.linkSync(aside, abs);
        } finally {
          fs.rmSync(aside, { force: true });
        }
        throw new VfioctlError('locked', `another vfioctl run holds the lock: pid ${moved.pid}`, { remedy: 'wait for it to finish' });
      }
      fs.rmSync(aside, { force: true });
      staleFrom = holder;
    }
    throw new VfioctlError('locked', `cannot take the lock ${this.host.display(this.rel('lock'))}`, { remedy: 'try again; remove the file if no vfioctl is running' });
  }

  readLock(): LockInfo | null {
    return readLockFile(this.abs('lock'));
  }
}

export interface LockInfo {
  pid: number;
  runId: string;
  command: string;
  startedAt: string;
}

function readLockFile(abs: string): LockInfo | null {
  try {
    return JSON.parse(fs.readFileSync(abs, 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
