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
 * Config files are written atomically: a temporary file in the same directory, fsync, rename, fsync of the
 * directory; the previous content is copied first to var/lib/vfioctl/backups/<run id>/<path> (kept out
 * of /etc so no tool ever reads a backup as configuration). A link is followed (inside the root) and the
 * file it names is written, so /etc/sysconfig/grub -> ../default/grub stays a link.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { HostRoot, WritableDriverAttr, WritablePciAttr } from './host-root.js';
import type { PciAddress } from '../model/pci-address.js';
import { VfioctlError } from '../model/errors.js';
import type { Exec } from '../model/command.js';

export type BusAttr = 'drivers_probe' | 'rescan';

/** The kernel-facing write primitive. */
export interface SysfsWriter {
  writePciAttr(addr: PciAddress, attr: WritablePciAttr, value: string): void;
  writeDriverAttr(driver: string, attr: WritableDriverAttr, value: string): void;
  writeBusAttr(attr: BusAttr, value: string): void;
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
    default:
      return 'read the kernel log (dmesg) for the driver\'s reason';
  }
}

const MODULE = /^[A-Za-z0-9_-]+$/;

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

  async loadModule(name: string): Promise<void> {
    if (!MODULE.test(name)) throw new Error(`internal: bad module name ${name}`);
    await this.exec.run(['modprobe', name], { timeoutMs: 120_000 });
  }

  private write(rel: string, value: string): void {
    let fd: number;
    try {
      fd = fs.openSync(this.host.resolve(rel), fs.constants.O_WRONLY | fs.constants.O_TRUNC);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SysfsWriteError(rel, value, err.code ?? 'EIO', err.message);
    }
    try {
      fs.writeSync(fd, value);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new SysfsWriteError(rel, value, err.code ?? 'EIO', err.message);
    } finally {
      fs.closeSync(fd);
    }
  }
}

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
];

export interface FileWriteResult {
  /** root-relative path written (after following a link) */
  readonly rel: string;
  readonly changed: boolean;
  /** root-relative backup path, null when the file did not exist or nothing changed */
  readonly backup: string | null;
}

/** Writes config files: allowlisted, atomic, backed up. */
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

  /** Follow a link at `rel` (inside the root) to the file it names, as a root-relative path. */
  resolveTarget(rel: string): string {
    const abs = this.host.resolve(rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return rel;
    }
    if (!st.isSymbolicLink()) return rel;
    const target = fs.readlinkSync(abs);
    const joined = target.startsWith('/') ? path.join(this.host.root, target) : path.resolve(path.dirname(abs), target);
    const relOut = path.relative(this.host.root, joined).split(path.sep).join('/');
    if (relOut.startsWith('..') || path.isAbsolute(relOut)) {
      throw new VfioctlError('not-allowed', `${this.host.display(rel)} is a link that leads outside the host root`, { remedy: 'replace the link with a file' });
    }
    return relOut;
  }

  private check(rel: string): string {
    if (!this.isAllowed(rel)) throw new Error(`internal: vfioctl never writes ${rel}`);
    const real = this.resolveTarget(rel);
    if (real !== rel && !this.isAllowed(real)) {
      throw new VfioctlError('not-allowed', `${this.host.display(rel)} links to ${this.host.display(real)}, which vfioctl does not write`, { remedy: 'edit the file by hand' });
    }
    return real;
  }

  read(rel: string): string | null {
    const r = this.host.readText(rel);
    if (r.state === 'ok') return r.value;
    if (r.state === 'absent') return null;
    throw new VfioctlError('unreadable', `cannot read ${this.host.display(rel)}: ${r.code}`, { remedy: 'check the file permissions; run as root' });
  }

  /** Write `content` to `rel` atomically; the previous content (if any) is backed up first. */
  write(rel: string, content: string, runId: string, mode = 0o644): FileWriteResult {
    const real = this.check(rel);
    const old = this.read(real);
    if (old === content) return { rel: real, changed: false, backup: null };
    const backup = old === null ? null : this.backup(real, old, runId);
    const abs = this.host.resolve(real);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    let useMode = mode;
    try {
      useMode = fs.statSync(abs).mode & 0o7777;
    } catch {
      // new file: default mode
    }
    atomicWrite(abs, content, useMode);
    return { rel: real, changed: true, backup };
  }

  /** Remove a file vfioctl created (backed up first). */
  remove(rel: string, runId: string): FileWriteResult {
    const real = this.check(rel);
    const old = this.read(real);
    if (old === null) return { rel: real, changed: false, backup: null };
    const backup = this.backup(real, old, runId);
    fs.rmSync(this.host.resolve(real));
    fsyncDir(path.dirname(this.host.resolve(real)));
    return { rel: real, changed: true, backup };
  }

  /** Restore a file from the state a journal recorded: content, or absence. */
  restore(rel: string, content: string | null, runId: string): void {
    if (content === null) this.remove(rel, runId);
    else this.write(rel, content, runId);
  }

  private backup(rel: string, content: string, runId: string): string {
    const brel = `${this.backupDir}/${runId}/${rel}`;
    const abs = this.host.resolve(brel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    atomicWrite(abs, content, 0o600);
    return brel;
  }
}

export function atomicWrite(abs: string, content: string, mode: number): void {
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.vfioctl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, abs);
  fsyncDir(dir);
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

/** A unified diff of a planned file change, labelled with the host path. */
export function unifiedDiff(displayPath: string, before: string | null, after: string | null): string {
  return createTwoFilesPatch(before === null ? '/dev/null' : `a${displayPath}`, after === null ? '/dev/null' : `b${displayPath}`, before ?? '', after ?? '', undefined, undefined, { context: 3 })
    .split('\n')
    .filter((l) => !/^=+$/.test(l) && !l.startsWith('Index:'))
    .join('\n');
}

