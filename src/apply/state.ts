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
import { randomBytes } from 'node:crypto';
import type { HostRoot } from '../host/host-root.js';
import { atomicWrite } from '../host/host-writer.js';
import { VfioctlError } from '../model/errors.js';
import { acquireRunLock, readLockInfo, type HeldLock, type LockInfo } from './lock.js';
import { MAX_JSON_BYTES, parseHostState, parseJournal, RUN_ID, type Checked } from './journal-schema.js';
import { FILE_STEP_PATHS } from './owned-files.js';
import type { DeviceIdentity } from '../model/device-identity.js';

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
  /** reset_method of a function: the list before and after (space-separated names; "default" restores the kernel's) */
  | { seq: number; type: 'reset-method'; address: string; before: string; after: string; status: StepStatus; error?: string }
  /** a mediated device created (written to mdev_supported_types/TYPE/create) or removed (its remove attribute) */
  | { seq: number; type: 'mdev'; op: 'create' | 'remove'; parent: string; mdevType: string; uuid: string; status: StepStatus; error?: string }
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
  /** the VFIO variant driver vfioctl bound it to (absent: vfio-pci) */
  driver?: string;
  runId: string;
  at: string;
  iommuGroup: number | null;
}

export interface PersistRecord {
  /** what this persisted: per-address override, or IDs */
  mode: 'per-address' | 'ids' | 'kernel-cmdline' | 'sriov' | 'unsafe-interrupts' | 'reset-method' | 'mdev';
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
  /** reset-method: the order set at every boot (kernel names) */
  resetOrder?: string[];
  /** mdev: the mediated device kept across reboots (mdevctl's config: parent, type, UUID) */
  mdev?: { parent: string; mdevType: string; uuid: string };
  /**
   * per-address: what the address held when it was persisted (src/model/device-identity.ts); absent in
   * records written before identities were kept (then the identity is unknown, never "different")
   */
  identity?: DeviceIdentity;
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

  /**
   * Check that no component of the state directory (and of `name` below it) is a symbolic link, and
   * that the directory resolves inside the host root; refuses with a clear error otherwise.
   */
  checkPath(name = ''): void {
    const parts = [...this.dir.split('/'), ...(name ? name.split('/') : [])];
    const fixed = this.dir.split('/').length;
    let rel = '';
    for (let i = 0; i < parts.length; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i]!;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(this.host.resolve(rel));
      } catch {
        break; // absent from here on: nothing to follow
      }
      // var and var/lib may be links on some hosts, as long as they stay inside the root
      if (st.isSymbolicLink() && (i >= fixed - 1 || !this.insideRoot(rel))) {
        throw new VfioctlError('state-symlink', `${this.host.display(rel)} is a symbolic link; vfioctl keeps its state only in real directories`, {
          remedy: `remove the link (and move its contents to a real directory ${this.host.display(this.dir)} if they are vfioctl's), then run the command again`,
        });
      }
    }
  }

  private insideRoot(rel: string): boolean {
    try {
      const real = fs.realpathSync(this.host.resolve(rel));
      const root = fs.realpathSync(this.host.root);
      return real === root || real.startsWith(root.endsWith('/') ? root : `${root}/`);
    } catch {
      return false;
    }
  }

  /** Create the state directory (and `sub` below it) with mode 0700, whatever the umask. */
  ensureDir(sub = ''): void {
    this.checkPath(sub);
    const parts = this.dir.split('/');
    const base = this.host.resolve(parts.slice(0, -1).join('/'));
    fs.mkdirSync(base, { recursive: true });
    let rel = this.dir;
    for (const p of ['', ...(sub ? sub.split('/') : [])]) {
      if (p) rel = `${rel}/${p}`;
      const abs = this.host.resolve(rel);
      try {
        fs.mkdirSync(abs, { mode: 0o700 });
        fs.chmodSync(abs, 0o700);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    this.checkPath(sub);
  }

  private readJson<T>(name: string, parse: (text: string) => Checked<T>): T | null {
    this.checkPath(name);
    const shown = this.host.display(this.rel(name));
    let size: number;
    try {
      size = fs.statSync(this.abs(name)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new VfioctlError('state-unreadable', `cannot read ${shown}: ${(e as NodeJS.ErrnoException).code}`, { remedy: 'run vfioctl as root' });
    }
    const aside = `move it aside (mv ${shown} ${shown}.bad) and run \`vfioctl status\`; check by hand what it names before running vfioctl again (see ${this.host.display(this.rel('runs'))})`;
    const kind = name.startsWith('state') ? 'state file' : 'journal';
    if (size > MAX_JSON_BYTES) throw new VfioctlError('state-invalid', `${shown} is not a vfioctl ${kind}: ${size} bytes, larger than vfioctl ever writes (${MAX_JSON_BYTES})`, { remedy: aside });
    const r = this.host.readText(this.rel(name));
    if (r.state === 'absent') return null;
    if (r.state === 'unreadable') throw new VfioctlError('state-unreadable', `cannot read ${shown}: ${r.code}`, { remedy: 'run vfioctl as root' });
    const v = parse(r.value);
    if (!v.ok) throw new VfioctlError('state-invalid', `${shown} is not a vfioctl ${kind}: ${v.problem}`, { remedy: aside });
    return v.value;
  }

  private writeJson(name: string, value: unknown): void {
    const sub = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
    this.ensureDir(sub);
    atomicWrite(this.abs(name), `${JSON.stringify(value, null, 2)}\n`, 0o600);
  }

  readState(): HostState {
    return this.readJson('state.json', parseHostState) ?? emptyState();
  }

  writeState(s: HostState): void {
    this.writeJson('state.json', s);
  }

  readJournal(): Journal | null {
    return this.readJson('journal.json', parseJournal);
  }

  writeJournal(j: Journal): void {
    this.writeJson('journal.json', j);
  }

  /** Move a finished journal to runs/<id>.json. */
  archiveJournal(j: Journal): void {
    if (!RUN_ID.test(j.runId)) throw new Error(`internal: bad run id ${j.runId}`);
    this.writeJson(`runs/${j.runId}.json`, j);
    fs.rmSync(this.abs('journal.json'), { force: true });
  }

  listRuns(): Journal[] {
    const r = this.host.listDir(this.rel('runs'));
    if (r.state !== 'ok') return [];
    return r.value.filter((n) => n.endsWith('.json') && RUN_ID.test(n.slice(0, -5))).sort().map((n) => {
      try {
        return this.readJson(`runs/${n}`, parseJournal);
      } catch {
        return null; // a finished journal that does not check is history, not a reason to fail
      }
    }).filter((j): j is Journal => j !== null);
  }

  /**
   * Remove what runs killed mid-write left in the state directory and next to the files vfioctl writes:
   * `.NAME.vfioctl-PID-XXXXXX` temporaries of atomic writes. Called with the lock held, so no other
   * run is writing; returns the root-relative paths removed.
   */
  removeStaleTemps(): string[] {
    const removed: string[] = [];
    const dirs = new Set<string>([this.dir, this.rel('runs'), ...FILE_STEP_PATHS.map((p) => p.slice(0, p.lastIndexOf('/')))]);
    const walk = (rel: string, depth: number): void => {
      const r = this.host.listDir(rel);
      if (r.state !== 'ok') return;
      for (const n of r.value) {
        const child = `${rel}/${n}`;
        const m = TEMP_NAME.exec(n);
        if (m && Number(m[1]) !== process.pid) {
          try {
            const abs = this.host.resolve(child);
            if (fs.lstatSync(abs).isFile()) {
              fs.rmSync(abs, { force: true });
              removed.push(child);
            }
          } catch {
            continue;
          }
        } else if (depth > 0 && !n.startsWith('.') && this.host.isDirectory(child) && !fs.lstatSync(this.host.resolve(child)).isSymbolicLink()) {
          walk(child, depth - 1);
        }
      }
    };
    for (const d of dirs) walk(d, 0);
    walk(this.rel('backups'), 8);
    return removed;
  }

  // ----- lock -----

  /**
   * Take the run lock (an exclusive flock held until release or death: src/apply/lock.ts). A live
   * holder refuses with its pid and command; info left by a run that died is reported as taken over.
   */
  acquireLock(runId: string, command: string): HeldLock {
    this.ensureDir();
    this.checkPath('lock');
    return acquireRunLock(this.abs('lock'), { pid: process.pid, runId, command, startedAt: new Date().toISOString() }, this.host.display(this.rel('lock')));
  }

  readLock(): LockInfo | null {
    return readLockInfo(this.abs('lock'));
  }
}

/** The temporary name of an atomic write (src/host/host-writer.ts atomicWrite). */
const TEMP_NAME = /^\..+\.vfioctl-(\d+)-[a-z0-9]{1,8}$/;

export type { LockInfo };
