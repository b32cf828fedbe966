/**
 * The write side of the host root. Everything vfioctl changes on a host goes through here, and only
 * to an allowlist, by design:
 *   sysfs   sys/bus/pci/devices/ADDR/{driver_override,sriov_numvfs,reset,remove,d3cold_allowed,reset_method}
 *           sys/bus/pci/drivers/NAME/{bind,unbind,new_id,remove_id}, sys/bus/pci/{drivers_probe,rescan}
 *           (module parameters under sys/module are never written)
 *   files   etc/default/grub, etc/sysconfig/grub, etc/kernel/cmdline, etc/modprobe.d/vfioctl-*.conf (or an
 *           existing modprobe.d file the user names), etc/udev/rules.d/*vfioctl*, etc/systemd/system/vfioctl-*,
 *           etc/modules-load.d/vfioctl*.conf, etc/initramfs-tools/modules, etc/dracut.conf.d/vfioctl*.conf,
 *           etc/mkinitcpio.conf and etc/mkinitcpio.conf.d/vfioctl*.conf, var/lib/vfioctl/**
 *
 * Sysfs writes go through a `SysfsWriter`: the real one writes the attribute (open O_WRONLY|O_TRUNC,
 * never creating a file) and loads modules with modprobe; tests use a kernel-like fake
 * (test/support/fake-kernel.ts) that performs the same write and then applies kernel semantics. The code
 * above this interface is the same for both.
 *
 * Every path is resolved inside the root (HostRoot.resolveInRoot): a link in any component is followed
 * inside the root (an absolute target means ROOT/target) and a path that leads outside is refused. Sysfs
 * attributes are opened only when they exist as regular files (O_WRONLY|O_TRUNC|O_NOFOLLOW, never
 * O_CREAT, never through a link in the last component).
 *
 * Config files are written atomically: a temporary file in the same directory (created O_EXCL|O_NOFOLLOW),
 * given the replaced file's owner, group and mode (fchown/fchmod, so umask plays no part) and, where the
 * `attr` tools are installed, its extended attributes (ACLs, security labels); fsync, rename, fsync of the
 * directory. Text is byte-preserving: files are read one character per byte (HostRoot.readConfigText) and
 * written back with encodeConfigText, so bytes that are not UTF-8 survive an edit. The previous bytes are
 * copied first to var/lib/vfioctl/backups/<run id>/<path> (kept out of /etc so no tool ever reads a backup
 * as configuration), with the owner and mode in the run's ledger so undo restores them. Directories a
 * write creates get explicit modes (0755 under etc/, 0700 under var/lib/vfioctl) and are recorded in the
 * ledger, so undo and remove take them away again when they are empty. A link is followed (inside the
 * root) and the file it names is written, so /etc/sysconfig/grub -> ../default/grub stays a link.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { createTwoFilesPatch as CreateTwoFilesPatch } from 'diff';
import type { HostRoot, WritableDriverAttr, WritablePciAttr } from './host-root.js';
import type { PciAddress } from '../model/pci-address.js';
import { VfioctlError } from '../model/errors.js';
import type { Exec } from '../model/command.js';

export type BusAttr = 'drivers_probe' | 'rescan';

export type MdevWrite = { op: 'create'; parent: PciAddress; mdevType: string; uuid: string } | { op: 'remove'; uuid: string };

const MDEV_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MDEV_TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** The root-relative attribute an mdev write goes to (validated names only). */
export function mdevWriteRel(host: HostRoot, w: MdevWrite): { rel: string; value: string } {
  if (!MDEV_UUID.test(w.uuid)) throw new Error(`internal: bad mdev UUID ${w.uuid}`);
  if (w.op === 'remove') return { rel: `sys/bus/mdev/devices/${w.uuid}/remove`, value: '1\n' };
  if (!MDEV_TYPE_NAME.test(w.mdevType)) throw new Error(`internal: bad mdev type ${w.mdevType}`);
  return { rel: `${host.pciDeviceRel(w.parent)}/mdev_supported_types/${w.mdevType}/create`, value: `${w.uuid}\n` };
}

/** The kernel-facing write primitive. */
export interface SysfsWriter {
  writePciAttr(addr: PciAddress, attr: WritablePciAttr, value: string): void;
  writeDriverAttr(driver: string, attr: WritableDriverAttr, value: string): void;
  writeBusAttr(attr: BusAttr, value: string): void;
  /**
   * Mediated devices (Documentation/ABI/testing/sysfs-bus-vfio-mdev): create writes the UUID to
   * PARENT/mdev_supported_types/TYPE/create; remove writes 1 to sys/bus/mdev/devices/UUID/remove.
   */
  writeMdev(op: MdevWrite): void;
  /** Load a kernel module (modprobe NAME). */
  loadModule(name: string): Promise<void>;
}

export class SysfsWriteError extends VfioctlError {
  readonly errno: string;
  readonly rel: string;
  constructor(rel: string, value: string, errno: string, message: string) {
    super('sysfs-write', `writing ${JSON.stringify(value.trim())} to /${rel} failed: ${errno} (${message})`, {
      remedy: remedyFor(errno),
      details: { path: `/${rel}`, value: value.trim(), errno },
    });
    this.name = 'SysfsWriteError';
    this.errno = errno;
    this.rel = rel;
  }
}

function remedyFor(errno: string): string {
  switch (errno) {
    case 'EBUSY':
      return 'the device or driver is busy: stop what uses it (a guest, a mounted disk, a display) and try again';
    case 'EINVAL':
      return 'the kernel refused the value; for vfio-pci this usually means there is no IOMMU (enable it: `vfioctl host enable-iommu`)';
    case 'ENODEV':
      return 'the driver does not handle this device (check driver_override and the device IDs)';
    case 'ENOENT':
      return 'the attribute is missing: the device is gone, or the kernel is too old for driver_override (3.16+)';
    case 'EACCES':
    case 'EPERM':
      return 'run vfioctl as root';
    case 'EESCAPE':
    case 'ELOOP':
    case 'ENOTREG':
      return 'the host tree is not a kernel sysfs (a link leads outside the root, loops, or the attribute is not a plain file): vfioctl does not write there; check the tree, or run on the live host';
    default:
      return 'read the kernel log (dmesg) for the driver\'s reason';
  }
}

const MODULE = /^[A-Za-z0-9_-]+$/;
const O_SYSFS_WRITE = fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** The real writer: plain writes to sysfs under the host root, modprobe through Exec. */
export class RealSysfsWriter implements SysfsWriter {
  constructor(private readonly host: HostRoot, private readonly exec: Exec) {}

  writePciAttr(addr: PciAddress, attr: WritablePciAttr, value: string): void {
    this.write(`${this.host.pciDeviceRel(addr)}/${attr}`, value);
  }

  writeDriverAttr(driver: string, attr: WritableDriverAttr, value: string): void {
    this.write(this.host.pciDriverRel(driver, attr), value);
  }

  writeBusAttr(attr: BusAttr, value: string): void {
    this.write(`sys/bus/pci/${attr}`, value);
  }

  writeMdev(w: MdevWrite): void {
    const { rel, value } = mdevWriteRel(this.host, w);
    this.write(rel, value);
  }

  async loadModule(name: string): Promise<void> {
    if (!MODULE.test(name)) throw new Error(`internal: bad module name ${name}`);
    await this.exec.run(['modprobe', name], { timeoutMs: 120_000 });
  }

  private write(rel: string, value: string): void {
    const r = this.host.resolveInRoot(rel, { followLast: false });
    if (r.state === 'absent' || (r.state === 'ok' && !r.stat)) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such attribute');
    if (r.state === 'unreadable') throw new SysfsWriteError(rel, value, r.code, r.message);
    const st = r.stat!;
    if (st.isSymbolicLink()) throw new SysfsWriteError(rel, value, 'EESCAPE', `${this.host.display(rel)} is a symbolic link, not a sysfs attribute; not followed`);
    if (!st.isFile()) throw new SysfsWriteError(rel, value, 'ENOTREG', `${this.host.display(rel)} is not a sysfs attribute (not a regular file)`);
    let fd: number;
    try {
      fd = fs.openSync(r.abs, O_SYSFS_WRITE);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SysfsWriteError(rel, value, err.code ?? 'EIO', err.message);
    }
    try {
      const now = fs.fstatSync(fd);
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw Object.assign(new Error('the attribute changed while it was opened'), { code: 'ENOTREG' });
      fs.writeSync(fd, value);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SysfsWriteError(rel, value, err.code ?? 'EIO', err.message);
    } finally {
      fs.closeSync(fd);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Safe primitives: create directories and files inside the root with explicit modes

/** Mode of a directory vfioctl creates at `rel`: private under var/lib/vfioctl, 0755 elsewhere (system config). */
export function dirModeFor(rel: string): number {
  return /^var\/lib\/vfioctl(?:\/|$)/.test(rel) ? 0o700 : 0o755;
}

/** Mode of a new file vfioctl creates at `rel` (an existing file keeps its own). */
export function fileModeFor(rel: string): number {
  return /^var\/lib\/vfioctl\//.test(rel) ? 0o600 : 0o644;
}

function refuse(host: HostRoot, rel: string, r: { code: string; message: string }): VfioctlError {
  return new VfioctlError('not-allowed', `cannot write ${host.display(rel)}: ${r.message} (${r.code})`, {
    remedy: 'a link in the path leads outside the host root or loops: replace it with a real directory or file, then run the command again',
  });
}

/**
 * Create directory `rel` and its missing parents inside the root, each with `mode` exactly (chmod after
 * mkdir: umask plays no part). Links in existing components are followed inside the root; a path that
 * leads outside is refused. Returns the root-relative real paths of the directories created, outermost first.
 */
export function mkdirInRoot(host: HostRoot, rel: string, mode: number = dirModeFor(rel)): string[] {
  const created: string[] = [];
  const segs = rel.split('/');
  for (let i = 1; i <= segs.length; i++) {
    const prefix = segs.slice(0, i).join('/');
    const r = host.resolveInRoot(prefix);
    if (r.state === 'unreadable') throw refuse(host, rel, r);
    if (r.state === 'absent') throw new VfioctlError('not-allowed', `cannot create ${host.display(rel)}: a component of the path is not a directory`, { remedy: 'move the file that is in the way, then run the command again' });
    if (r.stat) {
      if (!r.stat.isDirectory()) throw new VfioctlError('not-allowed', `cannot create ${host.display(rel)}: ${host.display(r.rel)} is not a directory`, { remedy: 'move the file that is in the way, then run the command again' });
      continue;
    }
    try {
      fs.mkdirSync(r.abs, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      i--; // raced with another creator: look again
      continue;
    }
    fs.chmodSync(r.abs, mode);
    created.push(r.rel);
  }
  return created;
}

export interface WriteInRootOptions {
  /** mode of a new file (default fileModeFor(rel)); an existing file keeps its owner, group and mode */
  mode?: number;
  /** mode of missing parent directories (default dirModeFor(parent)) */
  dirMode?: number;
}

export interface WriteInRootResult {
  /** root-relative real path written (after following links inside the root) */
  rel: string;
  /** directories created for it, outermost first */
  createdDirs: string[];
}

/**
 * Write `data` to `rel` atomically inside the root: links followed inside the root (the file a link
 * names is replaced, the link stays), missing parents created with explicit modes, the replaced file's
 * owner, group, mode and (where the attr tools exist) extended attributes kept.
 */
export function writeFileInRoot(host: HostRoot, rel: string, data: string | Buffer, opts: WriteInRootOptions = {}): WriteInRootResult {
  const r = host.resolveInRoot(rel);
  if (r.state === 'unreadable') throw refuse(host, rel, r);
  let real = r.state === 'ok' ? r : null;
  let createdDirs: string[] = [];
  if (!real) {
    const parent = rel.split('/').slice(0, -1).join('/');
    createdDirs = mkdirInRoot(host, parent, opts.dirMode ?? dirModeFor(parent));
    const again = host.resolveInRoot(rel);
    if (again.state !== 'ok') throw refuse(host, rel, again.state === 'unreadable' ? again : { code: 'ENOENT', message: 'the directory vanished' });
    real = again;
  }
  if (real.stat && !real.stat.isFile()) {
    throw new VfioctlError('not-allowed', `cannot write ${host.display(rel)}: ${host.display(real.rel)} is not a regular file`, { remedy: 'move what is in the way, then run the command again' });
  }
  const keep = real.stat ? { uid: real.stat.uid, gid: real.stat.gid, mode: real.stat.mode & 0o7777 } : null;
  atomicReplace(real.abs, typeof data === 'string' ? encodeConfigText(data) : data, keep ?? { mode: opts.mode ?? fileModeFor(real.rel) });
  return { rel: real.rel, createdDirs };
}

// ---------------------------------------------------------------------------------------------------
// Config files

/** Root-relative config paths vfioctl may write. */
const ALLOWED: readonly RegExp[] = [
  /^etc\/default\/grub$/,
  /^etc\/sysconfig\/grub$/,
  /^etc\/kernel\/cmdline$/,
  /^etc\/modprobe\.d\/vfioctl-[A-Za-z0-9_.:-]+\.conf$/,
  /^etc\/udev\/rules\.d\/[A-Za-z0-9_.:-]*vfioctl[A-Za-z0-9_.:-]*\.rules$/,
  /^etc\/systemd\/system\/vfioctl-[A-Za-z0-9_.:@-]+$/,
  /^etc\/modules-load\.d\/vfioctl[A-Za-z0-9_.:-]*\.conf$/,
  /^etc\/initramfs-tools\/modules$/,
  /^etc\/dracut\.conf\.d\/vfioctl[A-Za-z0-9_.:-]*\.conf$/,
  /^etc\/mkinitcpio\.conf$/,
  /^etc\/mkinitcpio\.conf\.d\/vfioctl[A-Za-z0-9_.:-]*\.conf$/,
  /^var\/lib\/vfioctl\/[A-Za-z0-9_.:@+,=~/-]+$/,
  // mdevctl's definitions: PARENT/UUID (vfioctl mdev create --persist)
  /^etc\/mdevctl\.d\/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
];

export interface FileWriteResult {
  /** root-relative path written (after following a link) */
  readonly rel: string;
  readonly changed: boolean;
  /** root-relative backup path, null when the file did not exist or nothing changed */
  readonly backup: string | null;
  /** root-relative directories this write created (outermost first); removed again by undo/remove when empty */
  readonly createdDirs: readonly string[];
}

/** What a run's backups need for an exact undo: owner and mode of each file backed up, directories created. */
interface Ledger {
  files: Record<string, { uid: number; gid: number; mode: number }>;
  createdDirs: Record<string, string[]>;
}

const LEDGER = 'ledger.json';

/** Writes config files: allowlisted, atomic, backed up, byte-preserving. */
export class ConfigWriter {
  private readonly extra = new Set<string>();

  constructor(private readonly host: HostRoot, private readonly backupDir: string) {}

  /** Allow an existing modprobe.d file the user named (e.g. etc/modprobe.d/vfio.conf). */
  allowExistingModprobeFile(rel: string): void {
    if (!/^etc\/modprobe\.d\/[A-Za-z0-9_.:-]+\.conf$/.test(rel)) {
      throw new VfioctlError('not-allowed', `${rel} is not a modprobe.d configuration file`, { remedy: 'name a file like /etc/modprobe.d/vfio.conf', exitCode: 2 });
    }
    if (!this.host.exists(rel)) throw new VfioctlError('not-allowed', `${this.host.display(rel)} does not exist`, { remedy: 'name an existing file, or let vfioctl create its own /etc/modprobe.d/vfioctl-vfio.conf', exitCode: 2 });
    this.extra.add(rel);
  }

  isAllowed(rel: string): boolean {
    if (rel.split('/').some((s) => s === '..' || s === '.' || s === '')) return false;
    return this.extra.has(rel) || ALLOWED.some((r) => r.test(rel));
  }

  /** Follow links at `rel` (every component, inside the root) to the file it names, as a root-relative path. */
  resolveTarget(rel: string): string {
    const r = this.host.resolveInRoot(rel);
    if (r.state === 'unreadable') {
      if (r.code === 'EESCAPE') throw new VfioctlError('not-allowed', `${this.host.display(rel)} is a link that leads outside the host root`, { remedy: 'replace the link with a file' });
      throw refuse(this.host, rel, r);
    }
    if (r.state === 'absent') {
      // A parent is missing: the path is created as named (its existing components resolved when written).
      return rel;
    }
    return r.rel;
  }

  private check(rel: string): string {
    if (!this.isAllowed(rel)) throw new Error(`internal: vfioctl never writes ${rel}`);
    const real = this.resolveTarget(rel);
    if (real !== rel && !this.isAllowed(real)) {
      throw new VfioctlError('not-allowed', `${this.host.display(rel)} links to ${this.host.display(real)}, which vfioctl does not write`, { remedy: 'edit the file by hand' });
    }
    return real;
  }

  /** The file's content, byte-preserving (one character per byte), or null when it does not exist. */
  read(rel: string): string | null {
    const r = this.host.readConfigText(rel);
    if (r.state === 'ok') return r.value;
    if (r.state === 'absent') return null;
    throw new VfioctlError('unreadable', `cannot read ${this.host.display(rel)}: ${r.code}`, { remedy: r.code === 'EFBIG' || r.code === 'ENOTREG' ? 'the file is not a plain configuration file of a sensible size: fix it by hand' : 'check the file permissions; run as root' });
  }

  /** Write `content` to `rel` atomically; the previous content (if any) is backed up first. */
  write(rel: string, content: string, runId: string, mode?: number): FileWriteResult {
    return this.writeAs(rel, content, runId, mode, `${this.backupDir}/${runId}`);
  }

  private writeAs(rel: string, content: string, runId: string, mode: number | undefined, backupBase: string, restoreMeta?: { uid: number; gid: number; mode: number }): FileWriteResult {
    let real = this.check(rel);
    let createdDirs: string[] = [];
    if (this.host.resolveInRoot(real).state === 'absent') {
      // A parent directory is missing: create it (explicit modes, links inside the root followed), then
      // check again where the path leads now.
      const parent = real.split('/').slice(0, -1).join('/');
      createdDirs = mkdirInRoot(this.host, parent, dirModeFor(parent));
      if (createdDirs.length) this.updateLedger(runId, (l) => void (l.createdDirs[rel] = [...(l.createdDirs[rel] ?? []), ...createdDirs]));
      real = this.check(rel);
    }
    const old = this.read(real);
    const cur = this.host.resolveInRoot(real);
    const st = cur.state === 'ok' ? cur.stat : undefined;
    const metaOk = !restoreMeta || !st || (st.uid === restoreMeta.uid && st.gid === restoreMeta.gid && (st.mode & 0o7777) === restoreMeta.mode);
    if (old === content && metaOk) return { rel: real, changed: false, backup: null, createdDirs };
    const backup = old === null ? null : this.backup(real, backupBase, runId);
    const w = writeFileInRoot(this.host, real, content, { mode: mode ?? fileModeFor(real) });
    if (restoreMeta) applyMeta(this.host, w.rel, restoreMeta);
    if (w.rel !== rel && createdDirs.length) {
      this.updateLedger(runId, (l) => {
        l.createdDirs[w.rel] = [...(l.createdDirs[w.rel] ?? []), ...(l.createdDirs[rel] ?? [])];
        delete l.createdDirs[rel];
      });
    }
    return { rel: w.rel, changed: true, backup, createdDirs };
  }

  /** Remove a file vfioctl created (backed up first), and the directories vfioctl created for it once empty. */
  remove(rel: string, runId: string): FileWriteResult {
    return this.removeAs(rel, runId, `${this.backupDir}/${runId}`, null);
  }

  private removeAs(rel: string, runId: string, backupBase: string, createdBy: string | null): FileWriteResult {
    const real = this.check(rel);
    const old = this.read(real);
    if (old === null) return { rel: real, changed: false, backup: null, createdDirs: [] };
    const backup = this.backup(real, backupBase, runId);
    const r = this.host.resolveInRoot(real, { followLast: false });
    if (r.state !== 'ok') throw refuse(this.host, real, r.state === 'unreadable' ? r : { code: 'ENOENT', message: 'vanished' });
    fs.rmSync(r.abs);
    fsyncDir(path.dirname(r.abs));
    this.removeCreatedDirs(real, createdBy);
    return { rel: real, changed: true, backup, createdDirs: [] };
  }

  /**
   * Restore a file from the state a journal of run `runId` recorded: content (with the owner and mode
   * the file had before that run), or absence (and the directories that run created, once empty).
   */
  restore(rel: string, content: string | null, runId: string): void {
    const undoBase = `${this.backupDir}/${runId}.undo`;
    if (content === null) {
      this.removeAs(rel, runId, undoBase, runId);
      return;
    }
    const real = this.check(rel);
    const meta = this.readLedger(runId).files[real];
    this.writeAs(rel, content, `${runId}.undo`, undefined, undoBase, meta);
  }

  /** Byte copy of `rel` into the backup tree, its owner and mode in the run's ledger. */
  private backup(rel: string, base: string, runId: string): string {
    const brel = `${base}/${rel}`;
    const src = this.host.resolveInRoot(rel);
    const bytes = this.host.readBytes(rel);
    if (bytes.state !== 'ok') throw new VfioctlError('unreadable', `cannot back up ${this.host.display(rel)}`, { remedy: 'check the file permissions; run as root' });
    writeFileInRoot(this.host, brel, bytes.value, { mode: 0o600, dirMode: 0o700 });
    const st = src.state === 'ok' ? src.stat : undefined;
    if (st && base === `${this.backupDir}/${runId}`) {
      this.updateLedger(runId, (l) => {
        if (!l.files[rel]) l.files[rel] = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
      });
    }
    return brel;
  }

  private ledgerRel(runId: string): string {
    return `${this.backupDir}/${runId}/${LEDGER}`;
  }

  private readLedger(runId: string): Ledger {
    const empty: Ledger = { files: {}, createdDirs: {} };
    if (!/^[A-Za-z0-9_.:@+,=~-]+$/.test(runId)) return empty;
    const r = this.host.readText(this.ledgerRel(runId));
    if (r.state !== 'ok') return empty;
    try {
      return validLedger(JSON.parse(r.value) as unknown);
    } catch {
      return empty;
    }
  }

  private updateLedger(runId: string, edit: (l: Ledger) => void): void {
    const l = this.readLedger(runId);
    edit(l);
    writeFileInRoot(this.host, this.ledgerRel(runId), `${JSON.stringify(l, null, 2)}\n`, { mode: 0o600, dirMode: 0o700 });
  }

  /** rmdir (innermost first, only when empty) the directories vfioctl created for `rel`: by run `runId`, or by any run. */
  private removeCreatedDirs(rel: string, runId: string | null): void {
    const runs = runId !== null ? [runId] : this.listLedgerRuns();
    for (const id of runs) {
      const l = this.readLedger(id);
      const dirs = l.createdDirs[rel];
      if (!dirs?.length) continue;
      const left: string[] = [];
      for (const d of [...dirs].reverse()) {
        const r = this.host.resolveInRoot(d, { followLast: false });
        if (r.state !== 'ok' || !r.stat) continue; // already gone
        if (!r.stat.isDirectory()) continue;
        try {
          fs.rmdirSync(r.abs); // fails (ENOTEMPTY) when something else lives there now: then it stays
        } catch {
          left.unshift(d);
        }
      }
      this.updateLedger(id, (x) => {
        if (left.length) x.createdDirs[rel] = left;
        else delete x.createdDirs[rel];
      });
    }
  }

  private listLedgerRuns(): string[] {
    const r = this.host.listDir(this.backupDir);
    if (r.state !== 'ok') return [];
    return r.value.filter((n) => /^[A-Za-z0-9_:@+,=~-][A-Za-z0-9_.:@+,=~-]*$/.test(n) && !n.endsWith('.undo') && this.host.exists(`${this.backupDir}/${n}/${LEDGER}`)).sort();
  }
}

const SAFE_REL = /^(?:etc|var)\/[A-Za-z0-9_.:@+,=~/-]+$/;

/** A ledger read back from disk is data: keep only well-formed entries. */
function validLedger(v: unknown): Ledger {
  const out: Ledger = { files: {}, createdDirs: {} };
  if (typeof v !== 'object' || v === null) return out;
  const o = v as { files?: unknown; createdDirs?: unknown };
  if (typeof o.files === 'object' && o.files !== null) {
    for (const [k, m] of Object.entries(o.files as Record<string, unknown>)) {
      if (!SAFE_REL.test(k) || k.split('/').includes('..') || typeof m !== 'object' || m === null) continue;
      const { uid, gid, mode } = m as Record<string, unknown>;
      if ([uid, gid, mode].every((n) => Number.isInteger(n) && (n as number) >= 0 && (n as number) < 2 ** 32)) out.files[k] = { uid: uid as number, gid: gid as number, mode: (mode as number) & 0o7777 };
    }
  }
  if (typeof o.createdDirs === 'object' && o.createdDirs !== null) {
    for (const [k, list] of Object.entries(o.createdDirs as Record<string, unknown>)) {
      if (!SAFE_REL.test(k) || !Array.isArray(list)) continue;
      const dirs = list.filter((d): d is string => typeof d === 'string' && SAFE_REL.test(d) && !d.split('/').includes('..') && k.startsWith(`${d}/`));
      if (dirs.length) out.createdDirs[k] = dirs;
    }
  }
  return out;
}

function applyMeta(host: HostRoot, rel: string, meta: { uid: number; gid: number; mode: number }): void {
  const r = host.resolveInRoot(rel, { followLast: false });
  if (r.state !== 'ok' || !r.stat?.isFile()) return;
  const fd = fs.openSync(r.abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    fs.fchownSync(fd, meta.uid, meta.gid);
    fs.fchmodSync(fd, meta.mode);
  } catch {
    // not root: the content is restored; the owner stays as it is
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------
// Bytes

/**
 * Encode config text for writing: characters U+0000-U+00FF (everything HostRoot.readConfigText produces)
 * are one byte each, so the bytes read come back unchanged; characters above U+00FF (only in text vfioctl
 * itself generates) are written as UTF-8. Text vfioctl generates is ASCII, or uses characters above U+00FF.
 */
export function encodeConfigText(text: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/[^\u0000-\u00ff]/.test(text)) return Buffer.from(text, 'latin1');
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of text) {
    if (ch.codePointAt(0)! <= 0xff) run += ch;
    else {
      if (run) parts.push(Buffer.from(run, 'latin1'));
      run = '';
      parts.push(Buffer.from(ch, 'utf8'));
    }
  }
  if (run) parts.push(Buffer.from(run, 'latin1'));
  return Buffer.concat(parts);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Config text (one character per byte) for a person: decoded as UTF-8 where the bytes are valid UTF-8, else as is. */
export function configTextForDisplay(text: string): string {
  if (!/[\u0080-\u00ff]/.test(text)) return text;
  try {
    return utf8.decode(encodeConfigText(text));
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------------
// Atomic replace

/**
 * Replace `abs` (a real path: its directory resolved inside the root) with `data`: temporary file in the
 * same directory, owner/group/mode set on it before the rename (fchown/fchmod: umask plays no part),
 * extended attributes copied where the attr tools exist, fsync, rename, fsync of the directory.
 */
function atomicReplace(abs: string, data: Buffer, keep: { uid?: number; gid?: number; mode: number }): void {
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.vfioctl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, keep.mode & 0o777);
  try {
    fs.writeSync(fd, data);
    if (keep.uid !== undefined && keep.gid !== undefined) {
      try {
        fs.fchownSync(fd, keep.uid, keep.gid);
      } catch (e) {
        // Not root: the file is ours anyway (we can only replace files we may write); keep going.
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      }
    }
    fs.fchmodSync(fd, keep.mode);
    if (keep.uid !== undefined) copyXattrs(abs, tmp);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, abs);
  fsyncDir(dir);
}

let xattrTools: boolean | undefined;

/**
 * Copy extended attributes (POSIX ACLs, security labels, user attributes) from `from` to `to`. Node has no
 * xattr API, so this uses getfattr/setfattr from the `attr` package when both are installed; without
 * them, owner, group and mode are still kept (the tools are optional: vfioctl does not depend on them).
 */
function copyXattrs(from: string, to: string): boolean {
  if (xattrTools === undefined) {
    xattrTools = ['getfattr', 'setfattr'].every((t) => spawnSync(t, ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0);
  }
  if (!xattrTools) return false;
  const dump = spawnSync('getfattr', ['--absolute-names', '--no-dereference', '-d', '-m', '-', '-e', 'base64', from], { encoding: 'utf8', timeout: 10_000, maxBuffer: 1024 * 1024 });
  if (dump.status !== 0 || !dump.stdout.trim()) return false;
  const lines = dump.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const r = spawnSync('setfattr', ['--no-dereference', '-n', line.slice(0, eq), '-v', line.slice(eq + 1), to], { stdio: 'ignore', timeout: 10_000 });
    if (r.status !== 0) return false;
  }
  return true;
}

/** Write `content` to an absolute path atomically with `mode` (kept for callers that build their own path; prefer writeFileInRoot). */
export function atomicWrite(abs: string, content: string, mode: number): void {
  atomicReplace(abs, Buffer.from(content, 'utf8'), { mode });
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The diff library, loaded on the first diff (a command that shows none does not pay for it). */
let twoFilesPatch: typeof CreateTwoFilesPatch | undefined;

/** A unified diff of a planned file change, labelled with the host path. */
export function unifiedDiff(displayPath: string, before: string | null, after: string | null): string {
  twoFilesPatch ??= (createRequire(import.meta.url)('diff') as { createTwoFilesPatch: typeof CreateTwoFilesPatch }).createTwoFilesPatch;
  return twoFilesPatch(before === null ? '/dev/null' : `a${displayPath}`, after === null ? '/dev/null' : `b${displayPath}`, before ?? '', after ?? '', undefined, undefined, { context: 3 })
    .split('\n')
    .filter((l) => !/^=+$/.test(l) && !l.startsWith('Index:'))
    .join('\n');
}

/** unifiedDiff of config text read byte-preserving (readConfigText): shown decoded as UTF-8 where valid. */
export function configDiff(displayPath: string, before: string | null, after: string | null): string {
  return unifiedDiff(displayPath, before === null ? null : configTextForDisplay(before), after === null ? null : configTextForDisplay(after));
}
