/**
 * Snapshots: capture the subset of a host that vfioctl reads into a directory tree (or a .tar.gz) that
 * `--root` reads back with identical results. The capture runs vfioctl's own readers on a recording
 * HostRoot and copies exactly what they touched: files with their content, symbolic links with their
 * (relative) targets, and directory listings as empty placeholder entries, so that a replay lists,
 * resolves and reads the same things.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import * as tar from 'tar';
import { HostRoot, newAccessLog, type AccessLog } from './host-root.js';
import { VfioctlError, UsageError } from '../model/errors.js';

export const SNAPSHOT_MANIFEST = 'vfioctl-snapshot.json';

export interface SnapshotManifest {
  format: 'vfioctl-snapshot';
  version: 1;
  createdAt: string;
  source: string;
  hostname: string | null;
  kernel: string | null;
  files: number;
  links: number;
  dirs: number;
  /** Files that existed but could not be read at capture time (root-relative), with the error code. */
  unreadable: Record<string, string>;
}

export type SnapshotReader = (host: HostRoot) => unknown;

export interface SnapshotResult {
  out: string;
  archive: boolean;
  manifest: SnapshotManifest;
}

function rel(root: string, abs: string): string | null {
  const r = path.relative(root, abs);
  if (!r || r.startsWith('..') || path.isAbsolute(r)) return null;
  return r;
}

/** Capture `source` into `out` (a new or empty directory, or a path ending in .tar.gz/.tgz). */
export async function captureSnapshot(source: HostRoot, out: string, readers: SnapshotReader[]): Promise<SnapshotResult> {
  const archive = /\.(tar\.gz|tgz)$/.test(out);
  const target = path.resolve(out);
  if (fs.existsSync(target) && (archive || fs.readdirSync(target).length > 0)) {
    throw new UsageError('snapshot-exists', `${out} already exists${archive ? '' : ' and is not empty'}`, 'name a new output path; vfioctl never overwrites a snapshot');
  }
  const log: AccessLog = newAccessLog();
  const recording = new HostRoot(source.root);
  recording.accessLog = log;
  for (const read of readers) read(recording);

  const dir = archive ? fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-snapshot-')) : target;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const place = new Placer(source.root, dir);
    const sorted = (s: Set<string>): string[] => [...s].sort();
    let files = 0;
    let links = 0;
    // Links first (they define the shape: sys/bus/pci/devices/X -> ../../../devices/...).
    for (const abs of sorted(log.links)) if (place.link(abs)) links++;
    for (const abs of sorted(log.files)) {
      const dest = place.parentOf(abs);
      if (!dest) continue;
      let data: Buffer;
      try {
        data = fs.readFileSync(abs);
      } catch {
        continue; // vanished between read and copy; the replay will report it absent
      }
      fs.writeFileSync(dest, data);
      files++;
    }
    for (const abs of sorted(log.dirs)) {
      const destDir = place.dir(abs);
      if (!destDir) continue;
      let names: string[] = [];
      try {
        names = fs.readdirSync(abs);
      } catch {
        continue;
      }
      for (const name of names) {
        const dest = path.join(destDir, name);
        if (fs.existsSync(dest) || isLink(dest)) continue;
        fs.writeFileSync(dest, '');
      }
    }
    const unreadable: Record<string, string> = {};
    for (const [abs, code] of log.unreadable) {
      const r = rel(source.root, abs);
      if (r) unreadable[r] = code;
    }
    const readOpt = (p: string): string | null => {
      const x = source.readText(p);
      return x.state === 'ok' ? x.value.trim() : null;
    };
    const manifest: SnapshotManifest = {
      format: 'vfioctl-snapshot',
      version: 1,
      createdAt: new Date().toISOString(),
      source: source.root,
      hostname: readOpt('proc/sys/kernel/hostname') ?? readOpt('etc/hostname'),
      kernel: readOpt('proc/sys/kernel/osrelease'),
      files,
      links,
      dirs: log.dirs.size,
      unreadable,
    };
    fs.writeFileSync(path.join(dir, SNAPSHOT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    if (archive) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      await tar.create({ gzip: true, file: target, cwd: dir, portable: true }, fs.readdirSync(dir));
    }
    return { out: target, archive, manifest };
  } catch (e) {
    if (e instanceof VfioctlError) throw e;
    throw new VfioctlError('snapshot-failed', `cannot write the snapshot to ${out}: ${(e as Error).message}`, { remedy: 'check that the output path is writable and has free space', cause: e });
  } finally {
    if (archive) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Places captured entries at their real locations inside the snapshot and recreates every symbolic link
 * met on the way (e.g. sys/class/iommu/dmar0 -> ../../devices/virtual/iommu/dmar0), so that a replay
 * resolves the same paths to the same files. Anything whose real location is outside the source root is
 * skipped.
 */
class Placer {
  private readonly srcReal: string;
  constructor(
    private readonly src: string,
    private readonly dest: string,
  ) {
    this.srcReal = fs.realpathSync.native(src);
  }

  private inside(real: string): string | null {
    if (real === this.srcReal) return '';
    const base = this.srcReal === '/' ? '/' : this.srcReal + path.sep;
    return real.startsWith(base) ? real.slice(base.length) : null;
  }

  /** Recreate the links along `abs`'s parent directories; returns the real relative parent, or null. */
  private parents(abs: string): string | null {
    const r = rel(this.src, abs);
    if (r === null) return null;
    const parts = r.split(path.sep);
    for (let i = 1; i < parts.length; i++) {
      const prefix = path.join(this.src, ...parts.slice(0, i));
      if (isLink(prefix)) this.link(prefix);
    }
    let realParent: string;
    try {
      realParent = fs.realpathSync.native(path.dirname(abs));
    } catch {
      return null;
    }
    return this.inside(realParent);
  }

  /** Destination path for a file at `abs` (its parent directories created). */
  parentOf(abs: string): string | null {
    const parent = this.parents(abs);
    if (parent === null) return null;
    const destParent = path.join(this.dest, parent);
    fs.mkdirSync(destParent, { recursive: true });
    return path.join(destParent, path.basename(abs));
  }

  /** Destination directory for a listed directory at `abs`. */
  dir(abs: string): string | null {
    if (isLink(abs)) this.link(abs);
    let real: string;
    try {
      real = fs.realpathSync.native(abs);
    } catch {
      return null;
    }
    const r = this.inside(real);
    if (r === null) return null;
    const d = path.join(this.dest, r);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Recreate the link at `abs` (with its own text) at its real location; true when created. */
  link(abs: string): boolean {
    const dest = this.parentOf(abs);
    if (!dest || fs.existsSync(dest) || isLink(dest)) return false;
    fs.symlinkSync(fs.readlinkSync(abs), dest);
    return true;
  }
}

/**
 * Open a snapshot archive (.tar.gz / .tgz) as a host root: unpacked into a private temporary directory
 * that is removed when the process exits.
 */
export function openSnapshotArchive(file: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-root-'));
  try {
    tar.extract({ file, cwd: dir, sync: true, strict: true, preservePaths: false });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new UsageError('bad-snapshot', `cannot unpack ${file}: ${(e as Error).message}`, 'pass a .tar.gz written by `vfioctl snapshot OUT.tar.gz`, or a snapshot directory');
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
