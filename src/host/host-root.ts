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
/** Shared read buffer (reads are synchronous, so one buffer serves every HostRoot). */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** What a recording HostRoot saw: absolute paths by kind of access (used by snapshots). */
export interface AccessLog {
  files: Set<string>;
  dirs: Set<string>;
  links: Set<string>;
  unreadable: Map<string, string>;
}

export class HostRoot {
  /** Absolute, normalized root directory ("/" on a live host). */
  readonly root: string;
  private realRoot: string | undefined;
  /** When set, every successful read is logged (snapshot capture). */
  accessLog: AccessLog | undefined;

  constructor(root: string) {
    if (!root) throw new UsageError('bad-root', 'the host root is empty', 'pass --root DIR with an existing directory');
    this.root = path.resolve(root);
    let st: fs.Stats;
    try {
      st = fs.statSync(this.root);
    } catch (e) {
      throw new UsageError('bad-root', `host root ${this.root} cannot be read (${errCode(e)})`, 'pass --root DIR with an existing directory (a live host is --root /)');
    }
    if (!st.isDirectory()) throw new UsageError('bad-root', `host root ${this.root} is not a directory`, 'pass --root DIR with a directory tree (unpack a snapshot archive first, or use `vfioctl snapshot` output)');
  }

  get isLive(): boolean {
    return this.root === '/';
  }

  /**
   * Absolute path of a root-relative path. `rel` is split on "/" and every segment validated; the first
   * segment must be one of the top-level directories vfioctl reads.
   */
  resolve(rel: string): string {
    const segs = rel.split('/');
    if (!TOP_LEVEL.has(segs[0] ?? '')) throw new Error(`internal: path outside the host root's known areas: ${rel}`);
    for (const s of segs) {
      if (!isSafeName(s)) throw new Error(`internal: unsafe path segment ${JSON.stringify(s)} in ${JSON.stringify(rel)}`);
    }
    return path.join(this.root, ...segs);
  }

  /** Root-relative path for display and evidence. */
  display(rel: string): string {
    return this.isLive ? `/${rel}` : `${this.root}/${rel}`.replace(/\/+/g, '/');
  }

  // ----- generic reads -----

  readText(rel: string): ReadResult<string> {
    return this.readAbs(this.resolve(rel), 'utf8') as ReadResult<string>;
  }

  readBytes(rel: string): ReadResult<Buffer> {
    return this.readAbs(this.resolve(rel), null) as ReadResult<Buffer>;
  }

  listDir(rel: string): ReadResult<string[]> {
    return this.listAbs(this.resolve(rel));
  }

  /** The target text of a symbolic link (not followed). */
  readLink(rel: string): ReadResult<string> {
    return this.linkAbs(this.resolve(rel));
  }

  exists(rel: string): boolean {
    try {
      fs.lstatSync(this.resolve(rel));
      return true;
    } catch {
      return false;
    }
  }

  isDirectory(rel: string): boolean {
    try {
      return fs.statSync(this.resolve(rel)).isDirectory();
    } catch {
      return false;
    }
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
      if (sysfsPciAddress(name)) addresses.push(pciAddressOf(name));
      else rejected.push(name);
    }
    return { state: 'ok', value: { addresses, rejected } };
  }

  /**
   * Resolve a PCI function's sysfs directory. Returns the absolute directory (inside the root) and the
   * link text's components (the topology: e.g. devices/pci0000:00/0000:00:01.0/0000:01:00.0).
   */
  resolvePciDevice(addr: PciAddress): ReadResult<{ dir: string; linkParts: string[] }> {
    const entry = this.resolve(this.pciDeviceRel(addr));
    let target: string;
    try {
      target = fs.readlinkSync(entry);
      this.accessLog?.links.add(entry);
    } catch (e) {
      const code = errCode(e);
      if (code === 'EINVAL') {
        // Not a link: a flat tree (e.g. hand-made fixture); the entry itself is the directory.
        return { state: 'ok', value: { dir: entry, linkParts: [] } };
      }
      if (ABSENT_CODES.has(code)) return { state: 'absent' };
      return { state: 'unreadable', code, message: errMessage(e) };
    }
    const lexical = target.startsWith('/')
      ? path.join(this.root, target)
      : path.resolve(path.dirname(entry), target);
    const contained = this.contain(lexical);
    if (!contained) {
      return { state: 'unreadable', code: 'EESCAPE', message: `link ${this.display(this.pciDeviceRel(addr))} -> ${target} leads outside the host root` };
    }
    return { state: 'ok', value: { dir: contained, linkParts: target.split('/').filter((s) => s && s !== '..' && s !== '.') } };
  }

  /** Absolute path of an attribute inside a resolved device directory. */
  attrIn(dir: string, attr: PciAttr | string): string {
    if (!isSafeName(attr)) throw new Error(`internal: unsafe attribute ${attr}`);
    return path.join(dir, attr);
  }

  readAttrIn(dir: string, attr: PciAttr | string, encoding: 'utf8' | null = 'utf8'): ReadResult<string | Buffer> {
    return this.readAbs(this.attrIn(dir, attr), encoding);
  }

  linkAttrIn(dir: string, attr: PciAttr | string): ReadResult<string> {
    return this.linkAbs(this.attrIn(dir, attr));
  }

  listAttrsIn(dir: string): ReadResult<string[]> {
    return this.listAbs(dir);
  }

  // ----- internals -----

  /** The real path of `abs` if it is inside the root, else null. */
  private contain(abs: string): string | null {
    if (this.realRoot === undefined) this.realRoot = fs.realpathSync.native(this.root);
    let real: string;
    try {
      real = fs.realpathSync.native(abs);
    } catch {
      // Dangling: judge lexically.
      real = abs;
      const base = this.root === '/' ? '/' : this.root + path.sep;
      return real === this.root || real.startsWith(base) ? real : null;
    }
    const base = this.realRoot === '/' ? '/' : this.realRoot + path.sep;
    return real === this.realRoot || real.startsWith(base) ? real : null;
  }

  private readAbs(abs: string, encoding: 'utf8' | null): ReadResult<string | Buffer> {
    let fd: number;
    try {
      fd = fs.openSync(abs, 'r');
    } catch (e) {
      return this.failure(abs, e);
    }
    try {
      // sysfs attributes fit in one page and procfs files report size 0: read into a reused buffer
      // until end of file (one open/read/close instead of readFileSync's open/fstat/read/read/close).
      let buf = readBuffer;
      let len = 0;
      for (;;) {
        if (len === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
        }
        const n = fs.readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      this.accessLog?.files.add(abs);
      return { state: 'ok', value: encoding ? buf.toString('utf8', 0, len) : Buffer.from(buf.subarray(0, len)) };
    } catch (e) {
      return this.failure(abs, e);
    } finally {
      fs.closeSync(fd);
    }
  }

  private listAbs(abs: string): ReadResult<string[]> {
    try {
      const v = fs.readdirSync(abs);
      this.accessLog?.dirs.add(abs);
      return { state: 'ok', value: v };
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

  private failure(abs: string, e: unknown): { state: 'absent' } | { state: 'unreadable'; code: string; message: string } {
    const code = errCode(e);
    if (ABSENT_CODES.has(code)) return { state: 'absent' };
    this.accessLog?.unreadable.set(abs, code);
    return { state: 'unreadable', code, message: errMessage(e) };
  }
}

/** The host root from --root / VFIOCTL_ROOT / default "/". */
export function openHostRoot(root?: string): HostRoot {
  return new HostRoot(root ?? (process.env.VFIOCTL_ROOT || '/'));
}
