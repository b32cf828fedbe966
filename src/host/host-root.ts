/**
 * The host root: the ONLY module that turns names into file-system paths under /sys, /proc, /etc, /dev,
 * /boot, /lib and /usr. Every other module asks it for reads (and, in apply/, for the few writes vfioctl
 * makes) by root-relative path or through the typed PCI builders below.
 *
 * - Paths are root-relative and validated segment by segment: no absolute paths, no "..", no empty or
 *   NUL-bearing segments. A PCI address reaches a path only as a parsed PciAddress.
 * - Symbolic links met while resolving a PCI device are interpreted inside the root (an absolute link
 *   target in a captured tree means ROOT/target, never the running host), and the result must stay
 *   inside the root.
 * - Reads return values, not exceptions: `ok`, `absent` (the file does not exist: an optional attribute)
 *   or `unreadable` (it exists but could not be read: permission, EIO...). Callers decide which
 *   attributes are mandatory; unreadable is never folded into absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type PciAddress, formatPciAddress, pciAddressOf, sysfsPciAddress } from '../model/pci-address.js';
import { UsageError } from '../model/errors.js';

export type ReadResult<T> =
  | { readonly state: 'ok'; readonly value: T }
  | { readonly state: 'absent' }
  | { readonly state: 'unreadable'; readonly code: string; readonly message: string };

/** Problems met while reading, reported to the user instead of being dropped. */
export interface ReadProblem {
  /** root-relative path, e.g. sys/bus/pci/devices/0000:01:00.0/config */
  path: string;
  code: string;
  message: string;
}

/** The kernel's spelling of a PCI address in sysfs (what formatPciAddress writes; other forms go the slow way). */
const KERNEL_PCI_NAME = /^([0-9a-f]{4}|[1-9a-f][0-9a-f]{4,7}):([0-9a-f]{2}):([01][0-9a-f])\.[0-7]$/;
const TOP_LEVEL = new Set(['sys', 'proc', 'etc', 'dev', 'boot', 'lib', 'usr', 'run', 'var']);
const SAFE_SEGMENT = /^[A-Za-z0-9_.:@+,=-][A-Za-z0-9_.:@+,=~-]*$/;

/** Attributes of a PCI function directory that vfioctl reads. */
export type PciAttr =
  | 'vendor' | 'device' | 'subsystem_vendor' | 'subsystem_device' | 'class' | 'revision'
  | 'config' | 'driver' | 'driver_override' | 'iommu_group' | 'numa_node' | 'boot_vga'
  | 'reset_method' | 'd3cold_allowed' | 'power_state' | 'current_link_speed' | 'current_link_width'
  | 'sriov_totalvfs' | 'sriov_numvfs' | 'sriov_drivers_autoprobe' | 'physfn' | 'rom' | 'enable'
  | 'irq' | 'local_cpulist' | 'modalias' | 'resource' | 'label' | 'index' | 'firmware_node'
  | 'iommu' | 'ari_enabled' | 'broken_parity_status' | 'msi_bus' | 'subsystem';

/** Attributes vfioctl may write, and nothing else (apply/ goes through writePciAttr). */
export type WritablePciAttr = 'driver_override' | 'sriov_numvfs' | 'reset' | 'remove' | 'd3cold_allowed' | 'reset_method';
/** Files under a driver's directory that vfioctl may write. */
export type WritableDriverAttr = 'bind' | 'unbind' | 'new_id' | 'remove_id';

export function isSafeName(name: string): boolean {
  return name !== '.' && name !== '..' && name.length > 0 && name.length <= 255 && SAFE_SEGMENT.test(name);
}

function errCode(e: unknown): string {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'EUNKNOWN';
}
function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
const ABSENT_CODES = new Set(['ENOENT', 'ENOTDIR']);
const ABSENT = Object.freeze({ state: 'absent' as const });

/** Symbolic links followed while resolving one path before giving up with ELOOP (the kernel's limit). */
export const MAX_LINKS = 40;
/** Default cap on one read: sysfs attributes are one page, config files a few KiB. */
export const DEFAULT_READ_CAP = 1024 * 1024;
/** Cap on a PCI function's config space (the kernel exposes 256 or 4096 bytes). */
export const CONFIG_SPACE_CAP = 4096;
const MiB = 1024 * 1024;
/** Larger caps for the few files that are big on real hosts, by root-relative path. */
const NAMED_CAPS: readonly (readonly [RegExp, number])[] = [
  [/^usr\/share\/(?:misc\/|hwdata\/)?pci\.ids(?:\.gz)?$/, 64 * MiB],
  [/^(?:usr\/)?lib\/modules\/[^/]+\/modules\.[A-Za-z0-9_.]+$/, 64 * MiB],
  [/^proc\/(?:cpuinfo|iomem|modules|interrupts)$/, 16 * MiB],
  [/^boot\/config-[^/]+$/, 16 * MiB],
  [/^var\/lib\/vfioctl\//, 64 * MiB],
];

/** The most bytes one read of `rel` (root-relative) may return. */
export function readCapFor(rel: string): number {
  for (const [re, cap] of NAMED_CAPS) if (re.test(rel)) return cap;
  return DEFAULT_READ_CAP;
}

/** Shared read buffer (reads are synchronous, so one buffer serves every HostRoot). */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
const O_READ = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const O_DIR_PROBE = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
const O_READ_LIVE = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** What a recording HostRoot saw: absolute paths by kind of access (used by snapshots). */
export interface AccessLog {
  /** regular files read (real paths: no link in any component) */
  files: Set<string>;
  /** directories listed (real paths) */
  dirs: Set<string>;
  /** symbolic links read or followed (the link's own location; its parent is a real path) */
  links: Set<string>;
  /** existing files, directories and executables whose existence or kind was checked (real paths) */
  present: Set<string>;
  /** root-relative paths checked (exists, isDirectory, reads) that did not exist */
  absent: Set<string>;
  unreadable: Map<string, string>;
}

export function newAccessLog(): AccessLog {
  return { files: new Set(), dirs: new Set(), links: new Set(), present: new Set(), absent: new Set(), unreadable: new Map() };
}

/** A path resolved inside the root: the real absolute path (no link in any component, except the last when not followed). */
export type Resolved =
  | {
      readonly state: 'ok';
      readonly abs: string;
      /** root-relative real path ("" for the root itself) */
      readonly rel: string;
      /** lstat of the last component; undefined when it does not exist (its parent does) */
      readonly stat: fs.Stats | undefined;
      /** set when the last component was checked to be a directory (no lstat) */
      readonly isDir?: boolean;
    }
  | { readonly state: 'absent' }
  | { readonly state: 'unreadable'; readonly code: string; readonly message: string };

export interface ReadOptions {
  /** most bytes to read (default: readCapFor(rel)) */
  maxBytes?: number;
}

export class HostRoot {
  /** Absolute, normalized root directory ("/" on a live host). */
  readonly root: string;
  private readonly realRoot: string;
  private readonly prefix: string;
  /** Device directories returned by resolvePciDevice (already checked: attributes are opened inside with O_NOFOLLOW). */
  private readonly checkedDirs = new Set<string>();
  /**
   * Real directories met while walking (a path component that lstat showed to be a directory, not a
   * link). Walks skip the lstat of a component found here: the top levels (sys, sys/bus/pci/devices,
   * sys/devices/pci0000:00, ...) are shared by every PCI function, and re-checking them per function is
   * what made a component-by-component walk slower than realpath. A directory that vanishes later only
   * makes the next component absent; replacing a directory by a link while vfioctl runs is a race on a
   * tree vfioctl is reading, outside what it defends against (see docs/testing.md).
   */
  private readonly realDirs = new Set<string>();
  /**
   * The directory listed last, with the kind of each name (from d_type: no stat per attribute). One
   * entry: readers go through device directories one at a time, and keeping every listing would hold
   * tens of thousands of names for nothing.
   */
  private listed: { dir: string; kinds: Map<string, fs.Dirent> } | null = null;
  /** When set, every access is logged (snapshot capture). */
  accessLog: AccessLog | undefined;
  /** The next binary read returns a view of the read buffer (readConfigIn only). */
  private viewNext = false;

  constructor(root: string) {
    if (!root) throw new UsageError('bad-root', 'the host root is empty', 'pass --root DIR with an existing directory');
    const resolved = path.resolve(root);
    let st: fs.Stats;
    try {
      st = fs.statSync(resolved);
    } catch (e) {
      throw new UsageError('bad-root', `host root ${resolved} cannot be read (${errCode(e)})`, 'pass --root DIR with an existing directory (a live host is --root /)');
    }
    if (!st.isDirectory()) throw new UsageError('bad-root', `host root ${resolved} is not a directory`, 'pass --root DIR with a directory tree (unpack a snapshot archive first, or use `vfioctl snapshot` output)');
    this.realRoot = fs.realpathSync.native(resolved);
    // A --root that resolves to "/" is the running host, whatever it was spelled as.
    this.root = this.realRoot === '/' ? '/' : resolved;
    this.prefix = this.root === '/' ? '' : this.root;
  }

  get isLive(): boolean {
    return this.realRoot === '/';
  }

  /** Reads on the running host use the kernel's own path resolution; a tree (or a recording) walks inside the root. */
  private get direct(): boolean {
    return this.isLive && this.accessLog === undefined;
  }

  /**
   * Absolute path of a root-relative path. `rel` is split on "/" and every segment validated; the first
   * segment must be one of the top-level directories vfioctl reads. The path is lexical: links in it are
   * not resolved (use resolveInRoot for that).
   */
  resolve(rel: string): string {
    return path.join(this.root, ...this.segments(rel));
  }

  private segments(rel: string): string[] {
    const segs = rel.split('/');
    if (!TOP_LEVEL.has(segs[0] ?? '')) throw new Error(`internal: path outside the host root's known areas: ${rel}`);
    for (const s of segs) {
      if (!isSafeName(s)) throw new Error(`internal: unsafe path segment ${JSON.stringify(s)} in ${JSON.stringify(rel)}`);
    }
    return segs;
  }

  /** Root-relative path for display and evidence. */
  display(rel: string): string {
    return this.isLive ? `/${rel}` : `${this.root}/${rel}`.replace(/\/+/g, '/');
  }

  /**
   * Resolve `rel` inside the root, component by component: every symbolic link met is followed inside
   * the root (an absolute target means ROOT/target, like openat2's RESOLVE_IN_ROOT), ".." never climbs
   * above the root (EESCAPE on a tree; the root itself on a live host), and more than MAX_LINKS links
   * end with ELOOP. `followLast: false` leaves a link in the last component unfollowed.
   */
  resolveInRoot(rel: string, opts: { followLast?: boolean } = {}): Resolved {
    return this.walk(this.segments(rel), opts.followLast ?? true, rel);
  }

  // ----- generic reads -----

  readText(rel: string, opts: ReadOptions = {}): ReadResult<string> {
    return this.readRel(rel, 'utf8', opts.maxBytes) as ReadResult<string>;
  }

  readBytes(rel: string, opts: ReadOptions = {}): ReadResult<Buffer> {
    return this.readRel(rel, null, opts.maxBytes) as ReadResult<Buffer>;
  }

  /**
   * A configuration file as text that keeps every byte: decoded one character per byte ('latin1'), so
   * bytes that are not UTF-8 survive an edit. Write it back with encodeConfigText (host-writer.ts).
   */
  readConfigText(rel: string, opts: ReadOptions = {}): ReadResult<string> {
    return this.readRel(rel, 'latin1', opts.maxBytes) as ReadResult<string>;
  }

  listDir(rel: string): ReadResult<string[]> {
    if (this.direct) return this.listAbs(this.resolve(rel));
    const r = this.walk(this.segments(rel), true, rel);
    if (r.state !== 'ok') return this.walkFailure(rel, r);
    if (!r.stat) return this.absent(rel);
    return this.listAbs(r.abs);
  }

  /** The target text of a symbolic link (not followed). */
  readLink(rel: string): ReadResult<string> {
    if (this.direct) return this.linkAbs(this.resolve(rel));
    const r = this.walk(this.segments(rel), false, rel);
    if (r.state !== 'ok') return this.walkFailure(rel, r);
    if (!r.stat) return this.absent(rel);
    return this.linkAbs(r.abs);
  }

  exists(rel: string): boolean {
    if (this.direct) return fs.lstatSync(this.resolve(rel), { throwIfNoEntry: false }) !== undefined;
    const r = this.walk(this.segments(rel), false, rel);
    if (r.state !== 'ok' || !r.stat) {
      this.accessLog?.absent.add(rel);
      return false;
    }
    if (r.stat.isSymbolicLink()) this.accessLog?.links.add(r.abs);
    else this.accessLog?.present.add(r.abs);
    return true;
  }

  isDirectory(rel: string): boolean {
    if (this.direct) {
      try {
        return fs.statSync(this.resolve(rel)).isDirectory();
      } catch {
        return false;
      }
    }
    const r = this.walk(this.segments(rel), true, rel);
    if (r.state !== 'ok' || !r.stat) {
      this.accessLog?.absent.add(rel);
      return false;
    }
    this.accessLog?.present.add(r.abs);
    return r.stat.isDirectory();
  }

  // ----- PCI builders -----

  static readonly PCI_DEVICES = 'sys/bus/pci/devices';
  static readonly PCI_DRIVERS = 'sys/bus/pci/drivers';
  static readonly IOMMU_GROUPS = 'sys/kernel/iommu_groups';

  /** Root-relative path of a PCI function's entry in sys/bus/pci/devices. */
  pciDeviceRel(addr: PciAddress): string {
    return `${HostRoot.PCI_DEVICES}/${formatPciAddress(addr)}`;
  }

  pciDriverRel(driver: string, attr?: WritableDriverAttr | 'module' | 'new_id'): string {
    if (!isSafeName(driver)) throw new UsageError('bad-driver', `not a driver name: ${JSON.stringify(driver)}`, 'driver names are letters, digits, "_", "-" and "."');
    return attr ? `${HostRoot.PCI_DRIVERS}/${driver}/${attr}` : `${HostRoot.PCI_DRIVERS}/${driver}`;
  }

  iommuGroupDevicesRel(group: number): string {
    if (!Number.isInteger(group) || group < 0) throw new Error(`internal: bad group ${group}`);
    return `${HostRoot.IOMMU_GROUPS}/${group}/devices`;
  }

  /** Names in sys/bus/pci/devices split into valid addresses and rejected (hostile or malformed) names. */
  listPciAddresses(): ReadResult<{ addresses: PciAddress[]; rejected: string[] }> {
    const r = this.listDir(HostRoot.PCI_DEVICES);
    if (r.state !== 'ok') return r;
    const addresses: PciAddress[] = [];
    const rejected: string[] = [];
    for (const name of r.value) {
      // sysfs names are always the full lowercase form; anything else is not a kernel entry.
      const m = KERNEL_PCI_NAME.exec(name);
      if (m) addresses.push({ domain: parseInt(m[1]!, 16), bus: parseInt(m[2]!, 16), slot: parseInt(m[3]!, 16), fn: name.charCodeAt(name.length - 1) - 48 });
      else if (sysfsPciAddress(name)) addresses.push(pciAddressOf(name));
      else rejected.push(name);
    }
    return { state: 'ok', value: { addresses, rejected } };
  }

  /**
   * Resolve a PCI function's sysfs directory. Returns the absolute directory (inside the root) and the
   * link text's components (the topology: e.g. devices/pci0000:00/0000:00:01.0/0000:01:00.0).
   */
  resolvePciDevice(addr: PciAddress): ReadResult<{ dir: string; linkParts: string[] }> {
    this.listed = null;
    const rel = this.pciDeviceRel(addr);
    if (this.direct) return this.resolvePciDeviceLive(rel);
    const entry = this.walkParent(this.segments(rel), rel);
    if (entry.state !== 'ok') return entry.state === 'unreadable' ? entry : { state: 'absent' };
    let target: string;
    try {
      // readlink first: the entry is a link on every kernel tree, and this saves an lstat per function.
      target = fs.readlinkSync(entry.abs);
    } catch (e) {
      const code = errCode(e);
      if (code !== 'EINVAL') return ABSENT_CODES.has(code) ? { state: 'absent' } : { state: 'unreadable', code, message: errMessage(e) };
      // Not a link: a flat tree (e.g. hand-made fixture); the entry itself is the directory.
      this.checkedDirs.add(entry.abs);
      return { state: 'ok', value: { dir: entry.abs, linkParts: [] } };
    }
    this.accessLog?.links.add(entry.abs);
    const linkParts = target.split('/').filter((s) => s && s !== '..' && s !== '.');
    const base = target.startsWith('/') ? [] : entry.rel.split('/').slice(0, -1);
    const quick = this.quickDir(base, target);
    if (quick !== null) {
      this.checkedDirs.add(quick);
      return { state: 'ok', value: { dir: quick, linkParts } };
    }
    const dir = this.walk([...base, ...target.split('/').filter((s) => s && s !== '.')], true, rel, true);
    if (dir.state === 'unreadable') {
      if (dir.code === 'EESCAPE') return { state: 'unreadable', code: 'EESCAPE', message: `link ${this.display(rel)} -> ${target} leads outside the host root` };
      return dir;
    }
    if (dir.state === 'absent' || !dir.isDir) {
      // Dangling (a device that vanished): the lexical directory, which reads as missing.
      return { state: 'ok', value: { dir: target.startsWith('/') ? path.join(this.root, target) : path.resolve(path.dirname(entry.abs), target), linkParts } };
    }
    this.checkedDirs.add(dir.abs);
    return { state: 'ok', value: { dir: dir.abs, linkParts } };
  }

  /**
   * The kernel's form of a device link, `../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0` (every
   * ".." first, then names), resolved without a walk when the directory it lands in is one a walk already
   * found real (realDirs: no link in any component) and the last name is a real directory (one open with
   * O_NOFOLLOW). The ".." steps climb out of `base`, the real directory the link sits in, so they are
   * lexical there. Anything else (a ".." after a name, an escape, an unknown parent) returns null and
   * takes the full walk, which reports links, loops and escapes.
   */
  private quickDir(base: readonly string[], target: string): string | null {
    const segs = target.split('/');
    let k = 0;
    let depth = base.length;
    if (target.startsWith('/')) {
      if (base.length !== 0) return null;
      k = 1;
    }
    while (k < segs.length && segs[k] === '..') {
      if (--depth < 0) return null;
      k++;
    }
    const names: string[] = [];
    for (; k < segs.length; k++) {
      const seg = segs[k]!;
      if (seg === '' || seg === '.') continue;
      if (seg === '..' || !isSafeName(seg)) return null;
      names.push(seg);
    }
    if (names.length === 0) return null;
    const last = names.pop()!;
    let parent = this.prefix;
    for (let j = 0; j < depth; j++) parent += `/${base[j]}`;
    for (const n of names) parent += `/${n}`;
    if (parent !== this.prefix && !this.realDirs.has(parent)) return null;
    const abs = `${parent}/${last}`;
    return probeDir(abs) ? abs : null;
  }

  private resolvePciDeviceLive(rel: string): ReadResult<{ dir: string; linkParts: string[] }> {
    const entry = this.resolve(rel);
    let target: string;
    try {
      target = fs.readlinkSync(entry);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EINVAL') {
        this.checkedDirs.add(entry);
        return { state: 'ok', value: { dir: entry, linkParts: [] } };
      }
      if (ABSENT_CODES.has(code)) return { state: 'absent' };
      return { state: 'unreadable', code, message: errMessage(e) };
    }
    const dir = path.resolve(path.dirname(entry), target);
    this.checkedDirs.add(dir);
    return { state: 'ok', value: { dir, linkParts: target.split('/').filter((s) => s && s !== '..' && s !== '.') } };
  }

  /** Absolute path of an attribute inside a resolved device directory. */
  attrIn(dir: string, attr: PciAttr | string): string {
    if (!isSafeName(attr)) throw new Error(`internal: unsafe attribute ${attr}`);
    // dir is absolute and normalized (from resolvePciDevice) and attr one safe name: no path.join needed.
    return dir.endsWith('/') ? dir + attr : `${dir}/${attr}`;
  }

  /**
   * Read one attribute of a directory resolvePciDevice returned. One open of the name inside the real
   * directory (O_NOFOLLOW, so nothing but a name in it is opened); in a tree the kind is known first
   * (from a listing of the directory, else one lstat: a FIFO or device node in a tree is never opened)
   * and a link is followed inside the root. A short read is the whole attribute (sysfs attributes are
   * returned in one read; regular files in a tree end where a read comes back short).
   */
  readAttrIn(dir: string, attr: PciAttr | string, encoding: 'utf8' | null = 'utf8'): ReadResult<string | Buffer> {
    const abs = this.attrIn(dir, attr);
    const cap = attr === 'config' ? CONFIG_SPACE_CAP : DEFAULT_READ_CAP;
    const checked = this.checkedDir(dir);
    if (checked.state !== 'ok') return checked;
    const file = checked.value === dir ? abs : this.attrIn(checked.value, attr);
    if (this.direct) return this.readReal(file, encoding, cap, true, undefined, true);
    const listed = this.listed?.dir === checked.value ? this.listed.kinds : null;
    if (listed && !listed.has(attr)) return this.absentAt(file);
    let known: fs.Stats | 'file' | undefined = listed?.get(attr)?.isFile() ? 'file' : undefined;
    if (known === undefined) {
      try {
        known = fs.lstatSync(file, { throwIfNoEntry: false });
      } catch (e) {
        return this.failure(file, e);
      }
      if (known === undefined) return this.absentAt(file);
      if (known.isSymbolicLink()) {
        // The attribute is itself a link: follow it inside the root.
        const rel = this.relOf(file);
        return rel === null ? { state: 'unreadable', code: 'EESCAPE', message: `${file} is outside the host root` } : this.readRel(rel, encoding, cap);
      }
    }
    return this.readReal(file, encoding, cap, false, known, true);
  }

  /**
   * A function's config space, decoded by `decode` straight from the read buffer (no copy of up to 4 KiB
   * per function). The bytes are valid only while `decode` runs: it must not keep them.
   */
  readConfigIn<T>(dir: string, decode: (bytes: Buffer) => T): ReadResult<T> {
    this.viewNext = true;
    let r: ReadResult<string | Buffer>;
    try {
      r = this.readAttrIn(dir, 'config', null);
    } finally {
      this.viewNext = false;
    }
    return r.state === 'ok' ? { state: 'ok', value: decode(r.value as Buffer) } : r;
  }

  /**
   * A reader is about to ask for about `names` names in `dir` (one resolvePciDevice returned). In a tree
   * each name costs an lstat before its open; one listing of the directory answers them all, and is
   * cheaper from about seven names on (bench/inventory-breakdown.ts). On the running host attributes are
   * opened directly (sysfs holds no FIFOs or devices), so nothing is listed.
   */
  prepareDir(dir: string, names: number): void {
    this.listed = null;
    if (this.direct || names < 7) return;
    const checked = this.checkedDir(dir);
    if (checked.state === 'ok') this.listAbs(checked.value, true);
  }

  /** The reader is done with the directory prepareDir listed: later reads look again (it may change). */
  releaseDir(): void {
    this.listed = null;
  }

  /**
   * Is `name` present in a directory resolvePciDevice returned, and as what? One lstat, no exception
   * for an absent name: how optional attributes most functions lack (boot_vga, rom, physfn, sriov_*)
   * are asked for. null when absent (or the directory is not a checked one).
   */
  probeIn(dir: string, name: PciAttr | string): 'file' | 'link' | 'dir' | 'other' | null {
    const checked = this.checkedDir(dir);
    if (checked.state !== 'ok') return null;
    const abs = this.attrIn(checked.value, name);
    if (this.listed?.dir === checked.value) {
      const d = this.listed.kinds.get(name);
      const kind = d === undefined ? null : d.isFile() ? 'file' : d.isSymbolicLink() ? 'link' : d.isDirectory() ? 'dir' : 'other';
      if (kind === null) this.absentAt(abs);
      else if (kind === 'link') this.accessLog?.links.add(abs);
      else this.accessLog?.present.add(abs);
      return kind;
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(abs, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) {
      this.absentAt(abs);
      return null;
    }
    const kind = st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'other';
    if (kind === 'link') this.accessLog?.links.add(abs);
    else this.accessLog?.present.add(abs);
    return kind;
  }

  linkAttrIn(dir: string, attr: PciAttr | string): ReadResult<string> {
    const checked = this.checkedDir(dir);
    if (checked.state !== 'ok') return checked;
    const abs = this.attrIn(checked.value, attr);
    // an unbound function has no driver link: the listing says so without a failing readlink
    if (this.listed?.dir === checked.value && !this.listed.kinds.has(attr)) return this.absentAt(abs);
    return this.linkAbs(abs);
  }

  listAttrsIn(dir: string): ReadResult<string[]> {
    const checked = this.checkedDir(dir);
    if (checked.state !== 'ok') return checked;
    return this.listAbs(checked.value);
  }

  // ----- internals -----

  /** A directory given back by a caller: one resolvePciDevice returned, or one resolved inside the root now. */
  private checkedDir(dir: string): ReadResult<string> {
    if (this.checkedDirs.has(dir) || this.direct) return { state: 'ok', value: dir };
    const rel = this.relOf(dir);
    if (rel === null) return { state: 'unreadable', code: 'EESCAPE', message: `${dir} is outside the host root` };
    const r = this.walk(rel === '' ? [] : rel.split('/'), true, rel);
    if (r.state !== 'ok') return r;
    if (!r.stat) return { state: 'absent' };
    if (!r.stat.isDirectory()) return { state: 'absent' };
    this.checkedDirs.add(r.abs);
    return { state: 'ok', value: r.abs };
  }

  /** Root-relative form of an absolute path under the root (lexical), or null when it is not under it. */
  private relOf(abs: string): string | null {
    const r = path.relative(this.root, abs);
    if (r === '') return '';
    if (r.startsWith('..') || path.isAbsolute(r)) return null;
    return r.split(path.sep).join('/');
  }

  /** Resolve every component but the last; the last is returned unexamined (abs/rel of the entry itself). */
  private walkParent(parts: readonly string[], what: string): Resolved {
    const name = parts[parts.length - 1]!;
    let base = this.root;
    let rel = name;
    if (parts.length > 1) {
      const lexical = parts.slice(0, -1).join('/');
      const abs = `${this.prefix}/${lexical}`;
      if (this.realDirs.has(abs)) {
        base = abs;
      } else {
        const parent = this.walk(parts.slice(0, -1), true, what);
        if (parent.state !== 'ok') return parent;
        if (!parent.stat?.isDirectory()) return { state: 'absent' };
        base = parent.abs;
        if (parent.rel === lexical) this.realDirs.add(abs);
      }
      rel = `${base === this.root ? '' : base.slice(this.prefix.length + 1)}/${name}`.replace(/^\//, '');
    }
    return { state: 'ok', abs: base === '/' ? `/${name}` : `${base}/${name}`, rel, stat: undefined };
  }

  private walk(parts: readonly string[], followLast: boolean, what: string, lastAsDir = false): Resolved {
    const log = this.accessLog;
    const stack: string[] = [];
    let cur = this.prefix; // absolute path of the directory reached so far ("" is the root "/")
    let todo: string[] = parts.filter((s) => s !== '' && s !== '.');
    let i = 0;
    let links = 0;
    let lastLink: { abs: string; target: string } | null = null;
    while (i < todo.length) {
      const name = todo[i++]!;
      if (name === '..') {
        if (stack.length === 0) {
          if (this.isLive) continue;
          const via = lastLink ? ` (link ${this.displayAbs(lastLink.abs)} -> ${lastLink.target})` : '';
          return { state: 'unreadable', code: 'EESCAPE', message: `${this.display(what)} leads outside the host root${via}` };
        }
        stack.pop();
        cur = cur.slice(0, cur.lastIndexOf('/'));
        continue;
      }
      const abs = `${cur}/${name}`;
      const last = i === todo.length;
      if (!last || lastAsDir) {
        if (this.realDirs.has(abs) || probeDir(abs)) {
          if (!last) this.realDirs.add(abs);
          stack.push(name);
          cur = abs;
          if (last) return { state: 'ok', abs, rel: stack.join('/'), stat: undefined, isDir: true };
          continue;
        }
      }
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs, { throwIfNoEntry: false });
      } catch (e) {
        const code = errCode(e);
        if (ABSENT_CODES.has(code)) return { state: 'absent' };
        return { state: 'unreadable', code, message: errMessage(e) };
      }
      if (!st) {
        if (last) {
          stack.push(name);
          return { state: 'ok', abs, rel: stack.join('/'), stat: undefined };
        }
        return { state: 'absent' };
      }
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (++links > MAX_LINKS) return { state: 'unreadable', code: 'ELOOP', message: `${this.display(what)}: more than ${MAX_LINKS} symbolic links to follow (a loop?)` };
        let target: string;
        try {
          target = fs.readlinkSync(abs);
        } catch (e) {
          return { state: 'unreadable', code: errCode(e), message: errMessage(e) };
        }
        log?.links.add(abs);
        lastLink = { abs, target };
        if (target.startsWith('/')) {
          stack.length = 0;
          cur = this.prefix;
        }
        const rest = todo.slice(i);
        todo = target.split('/').filter((s) => s !== '' && s !== '.');
        for (const r of rest) todo.push(r);
        i = 0;
        continue;
      }
      if (!last && !st.isDirectory()) return { state: 'absent' };
      if (lastAsDir && !st.isDirectory()) return { state: 'absent' };
      stack.push(name);
      cur = abs;
      if (last) return { state: 'ok', abs, rel: stack.join('/'), stat: st };
    }
    // Consumed by ".." or a link to a directory above: the directory reached.
    const abs = cur === '' ? '/' : cur;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(abs, { throwIfNoEntry: false });
    } catch (e) {
      return { state: 'unreadable', code: errCode(e), message: errMessage(e) };
    }
    return { state: 'ok', abs, rel: stack.join('/'), stat: st };
  }

  private displayAbs(abs: string): string {
    const r = this.relOf(abs);
    return r === null ? abs : this.display(r);
  }

  private readRel(rel: string, encoding: BufferEncoding | null, maxBytes: number | undefined): ReadResult<string | Buffer> {
    const cap = maxBytes ?? readCapFor(rel);
    if (this.direct) return this.readReal(this.resolve(rel), encoding, cap, true);
    const r = this.walk(this.segments(rel), true, rel);
    if (r.state !== 'ok') return this.walkFailure(rel, r);
    if (!r.stat) return this.absent(rel);
    return this.readReal(r.abs, encoding, cap, false, r.stat);
  }

  private walkFailure(rel: string, r: { state: 'absent' } | { state: 'unreadable'; code: string; message: string }): { state: 'absent' } | { state: 'unreadable'; code: string; message: string } {
    if (r.state === 'absent') return this.absent(rel);
    this.accessLog?.unreadable.set(this.resolve(rel), r.code);
    return r;
  }

  private absent(rel: string): { state: 'absent' } {
    this.accessLog?.absent.add(rel);
    return { state: 'absent' };
  }

  /**
   * Read one file at a resolved path: regular files only (a FIFO, device or socket in a tree is never
   * opened; one on the running host is opened non-blocking and refused after fstat, so nothing hangs),
   * without following a link in the last component (a tree; the running host follows as the kernel
   * does), at most `cap` bytes (procfs files report size 0, so the cap is enforced while reading).
   * `known` is what the caller already knows of the file's kind: an lstat from the walk, or 'file' from
   * the directory listing (d_type), which saves an fstat per sysfs attribute.
   */
  private readReal(abs: string, encoding: BufferEncoding | null, cap: number, follow: boolean, known?: fs.Stats | 'file', oneShot = false): ReadResult<string | Buffer> {
    if (known !== undefined && known !== 'file') {
      const bad = this.badKind(abs, known, cap);
      if (bad) return bad;
    }
    let fd: number;
    try {
      fd = fs.openSync(abs, follow ? O_READ_LIVE : O_READ);
    } catch (e) {
      return this.failure(abs, e);
    }
    try {
      let size = known !== undefined && known !== 'file' ? known.size : 0;
      if (known === undefined) {
        const st = fs.fstatSync(fd);
        const bad = this.badKind(abs, st, cap);
        if (bad) return bad;
        size = st.size;
      }
      // a big file (pci.ids, a snapshot) is read into a buffer of its size, not grown by doubling
      let buf = size >= readBuffer.length ? Buffer.allocUnsafe(Math.min(size + 1, cap + 1)) : readBuffer;
      let len = 0;
      for (;;) {
        if (len === buf.length) {
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, cap + 1));
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
        }
        const want = buf.length - len;
        const n = fs.readSync(fd, buf, len, want, null);
        if (n === 0) break;
        len += n;
        if (len > cap) return this.failure(abs, tooBig(cap));
        // an attribute comes in one read: a short one is its end (saves a read per attribute)
        if (oneShot && n < want) break;
      }
      this.accessLog?.files.add(abs);
      // the shared buffer is copied out (unless the caller asked for a view it uses at once); a buffer
      // made for this file is handed over as it is
      return { state: 'ok', value: encoding ? buf.toString(encoding, 0, len) : this.viewNext || buf !== readBuffer ? buf.subarray(0, len) : Buffer.from(buf.subarray(0, len)) };
    } catch (e) {
      return this.failure(abs, e);
    } finally {
      fs.closeSync(fd);
    }
  }

  private badKind(abs: string, st: fs.Stats, cap: number): { state: 'absent' } | { state: 'unreadable'; code: string; message: string } | null {
    if (st.isDirectory()) return this.failure(abs, Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' }));
    if (!st.isFile()) return this.failure(abs, Object.assign(new Error(`not a regular file (${kindOf(st)}): not read`), { code: 'ENOTREG' }));
    if (st.size > cap) return this.failure(abs, tooBig(cap));
    return null;
  }

  private listAbs(abs: string, keep = false): ReadResult<string[]> {
    try {
      if (this.direct) {
        // The running host: sysfs attributes are regular files; reads fstat before reading.
        const names = fs.readdirSync(abs);
        return { state: 'ok', value: names };
      }
      if (!keep) {
        const names = fs.readdirSync(abs);
        this.accessLog?.dirs.add(abs);
        return { state: 'ok', value: names };
      }
      // A tree: d_type tells which names are regular files, so an attribute read opens nothing else
      // (a FIFO or device node in a tree is never opened) without a stat per attribute.
      const entries = fs.readdirSync(abs, { withFileTypes: true });
      const names: string[] = new Array<string>(entries.length);
      const kinds = new Map<string, fs.Dirent>();
      for (let k = 0; k < entries.length; k++) {
        const d = entries[k]!;
        names[k] = d.name;
        kinds.set(d.name, d);
      }
      this.listed = { dir: abs, kinds };
      this.accessLog?.dirs.add(abs);
      return { state: 'ok', value: names };
    } catch (e) {
      return this.failure(abs, e);
    }
  }

  private linkAbs(abs: string): ReadResult<string> {
    try {
      const v = fs.readlinkSync(abs);
      this.accessLog?.links.add(abs);
      return { state: 'ok', value: v };
    } catch (e) {
      return this.failure(abs, e);
    }
  }

  /** An absent file at `abs` (no Error object: absent optional attributes are the common case). */
  private absentAt(abs: string): { state: 'absent' } {
    if (this.accessLog) {
      const r = this.relOf(abs);
      if (r) this.accessLog.absent.add(r);
    }
    return ABSENT;
  }

  private failure(abs: string, e: unknown): { state: 'absent' } | { state: 'unreadable'; code: string; message: string } {
    const code = errCode(e);
    if (ABSENT_CODES.has(code)) {
      if (this.accessLog) {
        const r = this.relOf(abs);
        if (r) this.accessLog.absent.add(r);
      }
      return { state: 'absent' };
    }
    this.accessLog?.unreadable.set(abs, code);
    return { state: 'unreadable', code, message: errMessage(e) };
  }
}

/** Is `abs` a directory and not a link? (open O_DIRECTORY|O_NOFOLLOW: no stat object, no side effect.) */
function probeDir(abs: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(abs, O_DIR_PROBE);
  } catch {
    return false;
  }
  fs.closeSync(fd);
  return true;
}

function tooBig(cap: number): Error {
  return Object.assign(new Error(`larger than ${cap} bytes: not read`), { code: 'EFBIG' });
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** The host root from --root / VFIOCTL_ROOT / default "/". */
export function openHostRoot(root?: string): HostRoot {
  return new HostRoot(root ?? (process.env.VFIOCTL_ROOT || '/'));
}
