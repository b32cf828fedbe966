/**
 * Snapshots: capture the subset of a host that vfioctl reads into a directory tree (or a .tar.gz) that
 * `--root` reads back with identical results. The capture runs vfioctl's own readers on a recording
 * HostRoot and copies exactly what they touched: files with their content, symbolic links with their
 * (relative) targets, directory listings as empty placeholder entries of the same kind, and every
 * existence check (exists, isDirectory) as a placeholder of the same kind (executables keep their
 * executable bit), so that a replay lists, resolves, reads and finds the same things. What was absent
 * stays absent; a file that existed but could not be read becomes an empty directory, which a replay
 * reports unreadable (EISDIR) as well. The recording HostRoot resolves every path inside the root, so
 * every recorded path is a real location inside it and nothing outside the root is ever copied.
 *
 * Archives are written 0600 (a capture holds the host's configuration). Opening one is bounded: the
 * compressed size, the expanded size and the number of entries are capped, and an entry with an absolute
 * or ".." name, a hard link, a device, a FIFO, or a symbolic link that leads out of the archive makes it
 * refused before anything of it is used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type * as Tar from 'tar';
import { HostRoot, newAccessLog, readCapFor, type AccessLog } from './host-root.js';
import { makeTempDir } from './temp-files.js';
import { VfioctlError, UsageError } from '../model/errors.js';
import { NO_PROGRESS, type Progress } from '../model/progress.js';

/** tar is loaded on first use: every session imports this module, few sessions open or write an archive. */
const tarLib = (): typeof Tar => createRequire(import.meta.url)('tar') as typeof Tar;

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
  /** written with --redact (src/host/snapshot-redact.ts); absent in snapshots written before it existed */
  redacted?: boolean;
}

export interface CaptureOptions {
  /** Progress: one unit per reader run and per file copied (src/model/progress.ts). */
  progress?: Progress;
  /** sees each copied file (snapshot-relative path, bytes) and returns the bytes to write (--redact) */
  transform?: (rel: string, data: Buffer) => Buffer;
  /** the transform redacts: the manifest says so and leaves out the host name */
  redacted?: boolean;
}

export type SnapshotReader = (host: HostRoot) => unknown;

export interface SnapshotResult {
  out: string;
  archive: boolean;
  manifest: SnapshotManifest;
  /** the files written (snapshot-relative), for the summary of what the snapshot holds */
  paths: string[];
}

function rel(root: string, abs: string): string | null {
  const r = path.relative(root, abs);
  if (!r || r.startsWith('..') || path.isAbsolute(r)) return null;
  return r;
}

/** Limits on opening a snapshot archive (a real capture of a large host is a few tens of MiB expanded). */
export const SNAPSHOT_LIMITS = {
  /** compressed archive size */
  archiveBytes: 256 * 1024 * 1024,
  /** sum of the entries' sizes once expanded */
  expandedBytes: 256 * 1024 * 1024,
  /** number of entries */
  entries: 200_000,
};

const COPY_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Read a regular file at a real path (no link in the last component, no FIFO, at most `cap` bytes); null otherwise. */
function readRegular(abs: string, cap: number): { data: Buffer; mode: number } | null {
  let fd: number;
  try {
    fd = fs.openSync(abs, COPY_FLAGS);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > cap) return null;
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > cap) return null;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return { data: Buffer.concat(chunks), mode: st.mode };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Capture `source` into `out` (a new or empty directory, or a path ending in .tar.gz/.tgz). */
export async function captureSnapshot(source: HostRoot, out: string, readers: SnapshotReader[], opts: CaptureOptions = {}): Promise<SnapshotResult> {
  const archive = /\.(tar\.gz|tgz)$/.test(out);
  const target = path.resolve(out);
  if (fs.existsSync(target) && (archive || fs.readdirSync(target).length > 0)) {
    throw new UsageError('snapshot-exists', `${out} already exists${archive ? '' : ' and is not empty'}`, 'name a new output path; vfioctl never overwrites a snapshot');
  }
  const log: AccessLog = newAccessLog();
  const recording = new HostRoot(source.root);
  recording.accessLog = log;
  const task = (opts.progress ?? NO_PROGRESS).begin('snapshot', null);
  try {
    return await capture();
  } finally {
    task.end();
  }

  async function capture(): Promise<SnapshotResult> {
  readers.forEach((read, i) => {
    task.advance(i, 'reading the host');
    read(recording);
  });

  const dir = archive ? makeTempDir('vfioctl-snapshot-') : target;
  try {
    if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const place = new Placer(recording.root, dir);
    const paths: string[] = [];
    const sorted = (s: Iterable<string>): string[] => [...s].sort();
    let files = 0;
    let links = 0;
    // Links first (they define the shape: sys/bus/pci/devices/X -> ../../../devices/...).
    for (const abs of sorted(log.links)) if (place.link(abs)) links++;
    for (const abs of sorted(log.files)) {
      task.advance(readers.length + files, `copying ${log.files.size} files`);
      const r = place.rel(abs);
      if (r === null) continue;
      const got = readRegular(abs, readCapFor(r));
      if (!got) continue; // vanished or changed between read and copy; the replay will report it absent
      if (place.file(r, opts.transform ? opts.transform(r, got.data) : got.data, got.mode)) {
        paths.push(r);
        files++;
      }
    }
    for (const [abs] of [...log.unreadable].sort()) place.unreadable(abs);
    for (const abs of sorted(log.dirs)) place.dir(abs);
    for (const abs of sorted(log.present)) place.present(abs);
    for (const abs of sorted(log.dirs)) place.listing(abs);
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
      hostname: opts.redacted ? null : readOpt('proc/sys/kernel/hostname') ?? readOpt('etc/hostname'),
      kernel: readOpt('proc/sys/kernel/osrelease'),
      files,
      links,
      dirs: log.dirs.size,
      unreadable,
      ...(opts.redacted ? { redacted: true } : {}),
    };
    fs.writeFileSync(path.join(dir, SNAPSHOT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    if (archive) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // Created 0600 first (O_EXCL): the archive is never readable by others, not even for a moment.
      fs.closeSync(fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600));
      fs.chmodSync(target, 0o600);
      task.advance(readers.length + files, 'writing the archive');
      await tarLib().create({ gzip: true, file: target, cwd: dir, portable: true }, fs.readdirSync(dir));
    }
    return { out: target, archive, manifest, paths: paths.sort() };
  } catch (e) {
    if (e instanceof VfioctlError) throw e;
    throw new VfioctlError('snapshot-failed', `cannot write the snapshot to ${out}: ${(e as Error).message}`, { remedy: 'check that the output path is writable and has free space', cause: e });
  } finally {
    if (archive) fs.rmSync(dir, { recursive: true, force: true });
  }
  }
}

/**
 * Places captured entries inside the snapshot. Every recorded path is a real location inside the source
 * root (the recording HostRoot resolved it component by component), so its place in the snapshot is the
 * same root-relative path; links are recreated with their own text (an absolute target, which a replay
 * reads as ROOT/target, is written as the equivalent relative one; a link whose text leads out of the
 * root is left out, so every snapshot opens as an archive).
 */
class Placer {
  constructor(
    private readonly src: string,
    private readonly dest: string,
  ) {}

  rel(abs: string): string | null {
    return rel(this.src, abs);
  }

  private destOf(r: string): string {
    return path.join(this.dest, ...r.split('/'));
  }

  private taken(d: string): boolean {
    return fs.lstatSync(d, { throwIfNoEntry: false }) !== undefined;
  }

  private parent(r: string): string {
    const d = path.dirname(this.destOf(r));
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Recreate the link at `abs` (with its own text); true when created. */
  link(abs: string): boolean {
    const r = this.rel(abs);
    if (r === null) return false;
    let text: string;
    try {
      text = fs.readlinkSync(abs);
    } catch {
      return false;
    }
    const relDir = path.posix.dirname(r);
    if (text.startsWith('/')) {
      const t = path.posix.normalize(text).replace(/^\/+/, '');
      text = path.posix.relative(relDir === '.' ? '' : relDir, t) || '.';
    }
    const lexical = path.posix.normalize(path.posix.join(relDir, text));
    if (lexical === '..' || lexical.startsWith('../')) return false;
    this.parent(r);
    const d = this.destOf(r);
    if (this.taken(d)) return false;
    fs.symlinkSync(text, d);
    return true;
  }

  file(r: string, data: Buffer, mode: number): boolean {
    this.parent(r);
    const d = this.destOf(r);
    if (this.taken(d)) return false;
    fs.writeFileSync(d, data, { mode: mode & 0o111 ? 0o755 : 0o644, flag: 'wx' });
    return true;
  }

  /** A file that existed but could not be read: an empty directory, which reads as unreadable (EISDIR). */
  unreadable(abs: string): void {
    const r = this.rel(abs);
    if (r === null) return;
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) return;
    this.parent(r);
    const d = this.destOf(r);
    if (!this.taken(d)) fs.mkdirSync(d, { mode: 0o755 });
  }

  dir(abs: string): void {
    const r = this.rel(abs);
    if (r === null) return; // the root itself (or outside it: never recorded)
    const d = this.destOf(r);
    if (!this.taken(d)) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  }

  /** An existing file or directory whose existence or kind was checked: a placeholder of the same kind. */
  present(abs: string): void {
    const r = this.rel(abs);
    if (r === null) return;
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    this.placeholder(r, st);
  }

  /** The names of a listed directory, as placeholders of their kinds (where nothing was placed yet). */
  listing(abs: string): void {
    const r = this.rel(abs);
    let names: string[];
    try {
      names = fs.readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names) {
      const st = fs.lstatSync(path.join(abs, name), { throwIfNoEntry: false });
      if (!st) continue;
      this.placeholder(r ? `${r}/${name}` : name, st, true);
    }
  }

  private placeholder(r: string, st: fs.Stats, listed = false): void {
    this.parent(r);
    const d = this.destOf(r);
    if (this.taken(d)) return;
    if (st.isDirectory()) fs.mkdirSync(d, { mode: 0o755 });
    else if (st.isSymbolicLink() && !listed) return;
    else fs.writeFileSync(d, '', { mode: st.isFile() && st.mode & 0o111 ? 0o755 : 0o644, flag: 'wx' });
  }
}

function refuseArchive(file: string, why: string): UsageError {
  return new UsageError('bad-snapshot', `cannot open ${file}: ${why}`, 'pass a .tar.gz written by `vfioctl snapshot OUT.tar.gz`; if you trust this archive, unpack it yourself and pass the directory with --root');
}

/**
 * Open a snapshot archive (.tar.gz / .tgz) as a host root: unpacked into a private temporary directory
 * that is removed when the process exits. Bounded and checked while unpacking (SNAPSHOT_LIMITS).
 */
export function openSnapshotArchive(file: string, limits: typeof SNAPSHOT_LIMITS = SNAPSHOT_LIMITS): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw refuseArchive(file, `${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  if (!st.isFile()) throw refuseArchive(file, 'not a regular file');
  if (st.size > limits.archiveBytes) throw refuseArchive(file, `the archive is ${st.size} bytes, more than the ${limits.archiveBytes} a snapshot can be`);
  let expanded = 0;
  let entries = 0;
  const check = (entry: Tar.ReadEntry): string | null => {
    entries++;
    if (entries > limits.entries) return `more than ${limits.entries} entries`;
    expanded += entry.size ?? 0;
    if (expanded > limits.expandedBytes) return `it expands to more than ${limits.expandedBytes} bytes`;
    const name = entry.path;
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return `entry ${JSON.stringify(name)} has an absolute name`;
    if (name.split('/').includes('..')) return `entry ${JSON.stringify(name)} leads out of the archive ("..")`;
    switch (entry.type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
      case 'Directory':
        return null;
      case 'SymbolicLink': {
        const to = entry.linkpath ?? '';
        if (to.startsWith('/')) return `link ${JSON.stringify(name)} -> ${JSON.stringify(to)} is absolute`;
        const lexical = path.posix.normalize(path.posix.join(path.posix.dirname(name.replace(/\/+$/, '')), to));
        if (lexical === '..' || lexical.startsWith('../')) return `link ${JSON.stringify(name)} -> ${JSON.stringify(to)} leads out of the archive`;
        return null;
      }
      default:
        return `entry ${JSON.stringify(name)} is a ${entry.type} (a snapshot holds only files, directories and symbolic links)`;
    }
  };
  // Pass 1 reads headers only (nothing is written): a hostile archive is refused before any of it lands
  // on disk. Pass 2 unpacks what pass 1 accepted.
  const checker = new (tarLib().Parser)({
    strict: true,
    onReadEntry: (entry) => {
      const why = check(entry);
      if (why) throw refuseArchive(file, why);
      entry.resume();
    },
  });
  feed(file, limits, checker);
  const dir = makeTempDir('vfioctl-root-');
  try {
    const unpack = new (tarLib().UnpackSync)({ cwd: dir, strict: true, preservePaths: false, preserveOwner: false });
    feed(file, limits, unpack);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (e instanceof UsageError) throw e;
    throw refuseArchive(file, (e as Error).message);
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Feed `file` to a tar parser in small pieces, each inflated synchronously in one go: this bounds the
 * memory a gzip bomb can take (deflate expands at most ~1032:1) before the limits stop it, and reading
 * stops at the tar end-of-archive blocks (whatever compressed padding follows is never inflated).
 */
function feed(file: string, limits: typeof SNAPSHOT_LIMITS, parser: Tar.Parser): void {
  let eof = false;
  parser.on('eof', () => (eof = true));
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.allocUnsafe(4096);
    let compressed = 0;
    while (!eof) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      compressed += n;
      if (compressed > limits.archiveBytes) throw refuseArchive(file, `the archive is larger than ${limits.archiveBytes} bytes`);
      parser.write(Buffer.from(buf.subarray(0, n)));
    }
    if (!eof) parser.end();
    else {
      try {
        parser.end();
      } catch {
        // the compressed stream was not read to its end on purpose (after end-of-archive)
      }
    }
    if (!eof) throw refuseArchive(file, 'it ends before the end-of-archive blocks (truncated?)');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw refuseArchive(file, (e as Error).message);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
