/**
 * A kernel-like fake of the PCI sysfs write side, for apply/ tests. It stands in for the kernel
 * because this machine has no IOMMU (vfio-pci cannot bind here); the real-kernel harness
 * (test/kernel/) covers the real thing. It implements SysfsWriter: every write lands in the host tree
 * (built by test/support/host-tree.ts) exactly where the real writer would write, and then the fake
 * applies what the kernel would do:
 *   driver_override   stores the value ("(null)" when cleared with an empty write)
 *   DRIVER/unbind     removes the driver links (ENODEV when not bound to DRIVER); the last vfio-pci
 *                     member of a group leaving removes /dev/vfio/N
 *   DRIVER/bind       binds when the device is unbound and DRIVER matches (driver_override, else the
 *                     device's native driver); vfio-pci without an IOMMU group fails with EINVAL; a
 *                     bound device or a non-matching driver gives ENODEV
 *   drivers_probe     binds an unbound device to its override driver, else to its native driver, when
 *                     that driver is loaded; probe failures leave it unbound without an error (as the
 *                     kernel's device_attach does)
 *   sriov_numvfs      needs a bound driver (ENOENT), refuses non-zero to non-zero (EBUSY) and more than
 *                     sriov_totalvfs (ERANGE); creates VF entries at PF + offset + stride*i, each in a
 *                     new IOMMU group, with physfn/virtfnN links; 0 removes them
 *   modprobe          loadModule('vfio-pci') registers the vfio-pci driver; unknown modules fail
 *   reset_method      takes names the device offered when the fake first saw it (EINVAL otherwise),
 *                     in the order given; "default" restores the offered list
 *   mdev create       PARENT/mdev_supported_types/TYPE/create: needs available_instances > 0 (ENOSPC)
 *                     and a new UUID (EEXIST); makes PARENT/UUID with its mdev_type link, the type's
 *                     devices/UUID link and sys/bus/mdev/devices/UUID; one instance fewer available
 *   mdev remove       sys/bus/mdev/devices/UUID/remove: takes all of that away again
 * Native drivers (what each device binds to without an override) are taken from the tree when the fake
 * first sees it and kept in ROOT/.fake-kernel.json, so a second fake over the same tree (another
 * process, after a simulated crash) knows them too.
 *
 * Failure injection: `faults` name a write by its index in the sequence of writes (`at`) or by step
 * (and optionally address/driver), with an errno to throw (EBUSY, EINVAL, ENODEV, ...), 'never-binds'
 * (the write succeeds, nothing binds) or 'late-bind' (the bind happens `lateMs` later: a probe slower
 * than the caller's timeout). `crashAt` kills the process with SIGKILL just before (or after) a write.
 *
 * Limits: no uevents, no udev, no real probe ordering, no dynamic IDs (new_id is written, not matched),
 * no reference counting of open /dev/vfio files; /dev/vfio/N is a regular file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SysfsWriteError, mdevWriteRel, type BusAttr, type MdevWrite, type SysfsWriter } from '../../src/host/host-writer.js';
import { HostRoot } from '../../src/host/host-root.js';
import type { WritableDriverAttr, WritablePciAttr } from '../../src/host/host-root.js';
import { formatPciAddress, parsePciAddress, type PciAddress } from '../../src/model/pci-address.js';
import { VfioctlError } from '../../src/model/errors.js';

export type FaultStep = 'driver_override' | 'unbind' | 'bind' | 'drivers_probe' | 'sriov_numvfs' | 'modprobe' | 'reset_method' | 'mdev' | 'other';
export type FaultKind = 'EBUSY' | 'EINVAL' | 'ENODEV' | 'EIO' | 'never-binds' | 'late-bind';

export interface Fault {
  /** index (0-based) of the write to fail, counting every write this fake sees */
  at?: number;
  step?: FaultStep;
  address?: string;
  driver?: string;
  kind: FaultKind;
  /** how many matching writes fail (default 1) */
  times?: number;
}

export interface WriteRecord {
  step: FaultStep;
  target: string;
  value: string;
}

export interface FakeKernelOptions {
  faults?: Fault[];
  /** kill this process (SIGKILL) at write index N, before or after performing it */
  crashAt?: { index: number; when: 'before' | 'after' };
  /** delay for 'late-bind' (default 2000 ms) */
  lateMs?: number;
  /** modules modprobe can load (default ['vfio-pci', 'vfio_pci']) */
  modules?: string[];
  /** driver VFs bind to when autoprobe is on (default none) */
  vfDriver?: string | null;
  /** override native drivers (address -> driver) on first use */
  native?: Record<string, string | null>;
}

interface Persisted {
  native: Record<string, string | null>;
  /** reset_method as first seen (what the device offers) */
  resets?: Record<string, string[]>;
}

/** vfio-pci and the VFIO variant drivers (mlx5_vfio_pci, ...): they open the group's /dev/vfio/N. */
function isVfioDriver(d: string): boolean {
  return d === 'vfio-pci' || /vfio[_-]pci$/.test(d);
}

export class FakeKernel implements SysfsWriter {
  readonly writes: WriteRecord[] = [];
  private readonly faults: (Fault & { left: number })[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly persisted: Persisted;
  private readonly sys: string;

  constructor(readonly root: string, private readonly opts: FakeKernelOptions = {}) {
    this.sys = path.join(root, 'sys');
    this.faults = (opts.faults ?? []).map((f) => ({ ...f, left: f.times ?? 1 }));
    const file = path.join(root, '.fake-kernel.json');
    if (fs.existsSync(file)) {
      this.persisted = JSON.parse(fs.readFileSync(file, 'utf8')) as Persisted;
    } else {
      const native: Record<string, string | null> = {};
      const resets: Record<string, string[]> = {};
      for (const a of this.addresses()) {
        native[a] = this.driverOf(a);
        const dir = this.devDir(a);
        const rm = dir ? path.join(dir, 'reset_method') : null;
        if (rm && fs.existsSync(rm) && fs.statSync(rm).isFile()) resets[a] = fs.readFileSync(rm, 'utf8').split(/\s+/).filter(Boolean);
      }
      Object.assign(native, opts.native ?? {});
      this.persisted = { native, resets };
      fs.writeFileSync(file, JSON.stringify(this.persisted));
    }
  }

  /** Cancel pending late binds. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ----- SysfsWriter -----

  writePciAttr(addr: PciAddress, attr: WritablePciAttr, value: string): void {
    const a = formatPciAddress(addr);
    const step: FaultStep = attr === 'driver_override' || attr === 'sriov_numvfs' || attr === 'reset_method' ? attr : 'other';
    const rel = `sys/bus/pci/devices/${a}/${attr}`;
    const fault = this.enter(step, a, undefined, rel, value);
    this.failWith(fault, rel, value);
    const dir = this.devDir(a);
    if (!dir) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file or directory');
    if (attr === 'driver_override') {
      const v = value.replace(/\n$/, '');
      fs.writeFileSync(path.join(dir, 'driver_override'), `${v === '' ? '(null)' : v}\n`);
    } else if (attr === 'sriov_numvfs') {
      this.setNumVfs(a, dir, value, rel);
    } else if (attr === 'reset_method') {
      const offered = this.persisted.resets?.[a];
      if (!offered) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file or directory');
      const v = value.trim();
      const names = v === 'default' ? offered : v.split(/[\s,]+/).filter(Boolean);
      if (!names.length || names.some((n) => !offered.includes(n))) throw new SysfsWriteError(rel, value, 'EINVAL', 'invalid argument');
      fs.writeFileSync(path.join(dir, 'reset_method'), `${names.join(' ')}\n`);
    } else {
      fs.writeFileSync(path.join(dir, attr), value);
    }
    this.leave();
  }

  writeDriverAttr(driver: string, attr: WritableDriverAttr, value: string): void {
    const a = value.trim();
    const rel = `sys/bus/pci/drivers/${driver}/${attr}`;
    const step: FaultStep = attr === 'bind' || attr === 'unbind' ? attr : 'other';
    const fault = this.enter(step, a, driver, rel, value);
    if (!fs.existsSync(path.join(this.sys, 'bus/pci/drivers', driver))) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file or directory');
    this.failWith(fault, rel, value);
    if (attr === 'unbind') {
      if (!this.devDir(a) || this.driverOf(a) !== driver) throw new SysfsWriteError(rel, value, 'ENODEV', 'no such device');
      this.unbindNow(a);
    } else if (attr === 'bind') {
      if (!this.devDir(a)) throw new SysfsWriteError(rel, value, 'ENODEV', 'no such device');
      if (this.driverOf(a) !== null || !this.matches(a, driver)) throw new SysfsWriteError(rel, value, 'ENODEV', 'no such device');
      if (fault?.kind === 'never-binds') return this.leave();
      if (fault?.kind === 'late-bind') return this.lateBind(a, driver);
      const e = this.probe(a, driver);
      if (e) throw new SysfsWriteError(rel, value, e, 'probe failed');
    }
    this.leave();
  }

  writeBusAttr(attr: BusAttr, value: string): void {
    const a = value.trim();
    const rel = `sys/bus/pci/${attr}`;
    const fault = this.enter(attr === 'drivers_probe' ? 'drivers_probe' : 'other', a, undefined, rel, value);
    this.failWith(fault, rel, value);
    if (attr === 'drivers_probe') {
      if (!this.devDir(a)) throw new SysfsWriteError(rel, value, 'ENODEV', 'no such device');
      if (this.driverOf(a) === null && fault?.kind !== 'never-binds') {
        const ov = this.override(a);
        const drv = ov ?? this.persisted.native[a] ?? null;
        if (drv && fs.existsSync(path.join(this.sys, 'bus/pci/drivers', drv))) {
          if (fault?.kind === 'late-bind') return this.lateBind(a, drv);
          this.probe(a, drv); // a failed probe leaves the device unbound, silently
        }
      }
    }
    this.leave();
  }

  writeMdev(w: MdevWrite): void {
    const { rel, value } = mdevWriteRel(new HostRoot(this.root), w);
    const fault = this.enter('mdev', w.op === 'create' ? formatPciAddress(w.parent) : undefined, undefined, rel, value);
    this.failWith(fault, rel, value);
    const busDir = path.join(this.sys, 'bus/mdev/devices');
    if (w.op === 'create') {
      const parentDir = this.devDir(formatPciAddress(w.parent));
      const typeDir = parentDir ? path.join(parentDir, 'mdev_supported_types', w.mdevType) : null;
      if (!typeDir || !fs.existsSync(path.join(typeDir, 'create'))) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file or directory');
      const avail = Number(fs.readFileSync(path.join(typeDir, 'available_instances'), 'utf8').trim());
      if (fs.existsSync(path.join(busDir, w.uuid))) throw new SysfsWriteError(rel, value, 'EEXIST', 'file exists');
      if (!(avail > 0)) throw new SysfsWriteError(rel, value, 'ENOSPC', 'no space left on device');
      const dev = path.join(parentDir!, w.uuid);
      fs.mkdirSync(dev);
      fs.symlinkSync(path.relative(dev, typeDir), path.join(dev, 'mdev_type'));
      fs.writeFileSync(path.join(dev, 'remove'), '');
      fs.mkdirSync(path.join(typeDir, 'devices'), { recursive: true });
      fs.symlinkSync(path.relative(path.join(typeDir, 'devices'), dev), path.join(typeDir, 'devices', w.uuid));
      fs.mkdirSync(busDir, { recursive: true });
      fs.symlinkSync(path.relative(busDir, dev), path.join(busDir, w.uuid));
      fs.writeFileSync(path.join(typeDir, 'available_instances'), `${avail - 1}\n`);
    } else {
      const link = path.join(busDir, w.uuid);
      let dev: string;
      try {
        dev = fs.realpathSync(link);
      } catch {
        throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file or directory');
      }
      const typeDir = fs.realpathSync(path.join(dev, 'mdev_type'));
      fs.rmSync(path.join(typeDir, 'devices', w.uuid), { force: true });
      fs.rmSync(link, { force: true });
      fs.rmSync(dev, { recursive: true, force: true });
      const avail = Number(fs.readFileSync(path.join(typeDir, 'available_instances'), 'utf8').trim());
      fs.writeFileSync(path.join(typeDir, 'available_instances'), `${avail + 1}\n`);
    }
    this.leave();
  }

  async loadModule(name: string): Promise<void> {
    const fault = this.enter('modprobe', undefined, name, `modprobe ${name}`, name);
    if (fault && fault.kind !== 'never-binds' && fault.kind !== 'late-bind') {
      throw new VfioctlError('command-failed', `modprobe ${name}: exit status 1: modprobe: ERROR: could not insert '${name}': ${fault.kind}`, { remedy: 'check dmesg' });
    }
    const mods = this.opts.modules ?? ['vfio-pci', 'vfio_pci'];
    if (!mods.includes(name)) throw new VfioctlError('command-failed', `modprobe ${name}: exit status 1: modprobe: FATAL: Module ${name} not found`, { remedy: 'install the module' });
    if (fault?.kind !== 'never-binds') {
      const drv = name.replace(/_/g, '-');
      const dd = path.join(this.sys, 'bus/pci/drivers', drv);
      fs.mkdirSync(dd, { recursive: true });
      for (const f of ['bind', 'unbind', 'new_id', 'remove_id', 'uevent']) if (!fs.existsSync(path.join(dd, f))) fs.writeFileSync(path.join(dd, f), '');
    }
    this.leave();
  }

  // ----- kernel semantics -----

  private addresses(): string[] {
    try {
      return fs.readdirSync(path.join(this.sys, 'bus/pci/devices')).filter((n) => parsePciAddress(n).ok);
    } catch {
      return [];
    }
  }

  private devDir(a: string): string | null {
    try {
      return fs.realpathSync(path.join(this.sys, 'bus/pci/devices', a));
    } catch {
      return null;
    }
  }

  private driverOf(a: string): string | null {
    const d = this.devDir(a);
    if (!d) return null;
    try {
      return path.basename(fs.readlinkSync(path.join(d, 'driver')));
    } catch {
      return null;
    }
  }

  private override(a: string): string | null {
    const d = this.devDir(a);
    if (!d) return null;
    try {
      const v = fs.readFileSync(path.join(d, 'driver_override'), 'utf8').trim();
      return v === '(null)' || v === '' ? null : v;
    } catch {
      return null;
    }
  }

  private groupOf(a: string): number | null {
    const d = this.devDir(a);
    if (!d) return null;
    try {
      return Number(path.basename(fs.readlinkSync(path.join(d, 'iommu_group'))));
    } catch {
      return null;
    }
  }

  private matches(a: string, driver: string): boolean {
    const ov = this.override(a);
    if (ov !== null) return ov === driver;
    return this.persisted.native[a] === driver;
  }

  /** Bind now; returns an errno when the driver's probe refuses. */
  private probe(a: string, driver: string): string | null {
    if (isVfioDriver(driver) && this.groupOf(a) === null) return 'EINVAL';
    const dir = this.devDir(a)!;
    const dd = path.join(this.sys, 'bus/pci/drivers', driver);
    fs.symlinkSync(path.relative(dir, dd), path.join(dir, 'driver'));
    fs.symlinkSync(path.relative(dd, dir), path.join(dd, a));
    if (isVfioDriver(driver)) {
      const g = this.groupOf(a)!;
      fs.mkdirSync(path.join(this.root, 'dev/vfio'), { recursive: true });
      if (!fs.existsSync(path.join(this.root, 'dev/vfio/vfio'))) fs.writeFileSync(path.join(this.root, 'dev/vfio/vfio'), '');
      fs.writeFileSync(path.join(this.root, 'dev/vfio', String(g)), '');
    }
    return null;
  }

  private unbindNow(a: string): void {
    const drv = this.driverOf(a);
    if (drv === null) return;
    const dir = this.devDir(a)!;
    fs.rmSync(path.join(dir, 'driver'));
    fs.rmSync(path.join(this.sys, 'bus/pci/drivers', drv, a), { force: true });
    if (isVfioDriver(drv)) {
      const g = this.groupOf(a);
      if (g !== null) {
        const members = fs.readdirSync(path.join(this.sys, 'kernel/iommu_groups', String(g), 'devices'));
        if (!members.some((m) => { const d = this.driverOf(m); return d !== null && isVfioDriver(d); })) fs.rmSync(path.join(this.root, 'dev/vfio', String(g)), { force: true });
      }
    }
  }

  private lateBind(a: string, driver: string): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.devDir(a) && this.driverOf(a) === null && this.matches(a, driver)) this.probe(a, driver);
    }, this.opts.lateMs ?? 2000);
    this.timers.add(t);
    this.leave();
  }

  private setNumVfs(a: string, dir: string, value: string, rel: string): void {
    const n = Number(value.trim());
    const read = (f: string): number => Number(fs.readFileSync(path.join(dir, f), 'utf8').trim());
    if (!fs.existsSync(path.join(dir, 'sriov_totalvfs'))) throw new SysfsWriteError(rel, value, 'ENOENT', 'no such file');
    if (!Number.isInteger(n) || n < 0) throw new SysfsWriteError(rel, value, 'EINVAL', 'invalid argument');
    const cur = read('sriov_numvfs');
    if (n === cur) return;
    if (this.driverOf(a) === null) throw new SysfsWriteError(rel, value, 'ENOENT', 'no driver bound to device; cannot configure SR-IOV');
    if (cur > 0 && n > 0) throw new SysfsWriteError(rel, value, 'EBUSY', 'device or resource busy');
    if (n > read('sriov_totalvfs')) throw new SysfsWriteError(rel, value, 'ERANGE', 'numerical result out of range');
    const pf = parsePciAddress(a);
    if (!pf.ok) throw new Error('fake-kernel: bad PF address');
    if (n === 0) {
      for (let i = 0; i < cur; i++) {
        const link = path.join(dir, `virtfn${i}`);
        let vfDir: string;
        try {
          vfDir = fs.realpathSync(link);
        } catch {
          continue;
        }
        const vf = path.basename(vfDir);
        this.unbindNow(vf);
        const g = this.groupOf(vf);
        if (g !== null) fs.rmSync(path.join(this.sys, 'kernel/iommu_groups', String(g)), { recursive: true, force: true });
        fs.rmSync(path.join(this.sys, 'bus/pci/devices', vf), { force: true });
        fs.rmSync(vfDir, { recursive: true, force: true });
        fs.rmSync(link, { force: true });
      }
    } else {
      const offset = read('sriov_offset');
      const stride = read('sriov_stride');
      const ridPf = (pf.value.bus << 8) | (pf.value.slot << 3) | pf.value.fn;
      const vfDevice = fs.readFileSync(path.join(dir, 'sriov_vf_device'), 'utf8').trim();
      const groupsDir = path.join(this.sys, 'kernel/iommu_groups');
      let nextGroup = Math.max(-1, ...fs.readdirSync(groupsDir).map(Number).filter(Number.isInteger)) + 1;
      for (let i = 0; i < n; i++) {
        const rid = ridPf + offset + stride * i;
        const vf = formatPciAddress({ domain: pf.value.domain, bus: (rid >> 8) & 0xff, slot: (rid >> 3) & 0x1f, fn: rid & 7 });
        const vfDir = path.join(path.dirname(dir), vf);
        fs.mkdirSync(vfDir, { recursive: true });
        for (const f of ['vendor', 'class', 'subsystem_vendor', 'subsystem_device', 'revision', 'numa_node']) {
          try {
            fs.copyFileSync(path.join(dir, f), path.join(vfDir, f));
          } catch {
            // optional attribute
          }
        }
        fs.writeFileSync(path.join(vfDir, 'device'), `0x${vfDevice.padStart(4, '0')}\n`);
        fs.writeFileSync(path.join(vfDir, 'driver_override'), '(null)\n');
        fs.symlinkSync(path.relative(vfDir, dir), path.join(vfDir, 'physfn'));
        fs.symlinkSync(path.relative(dir, vfDir), path.join(dir, `virtfn${i}`));
        fs.symlinkSync(path.relative(path.join(this.sys, 'bus/pci/devices'), vfDir), path.join(this.sys, 'bus/pci/devices', vf));
        const g = nextGroup++;
        const gd = path.join(groupsDir, String(g), 'devices');
        fs.mkdirSync(gd, { recursive: true });
        fs.writeFileSync(path.join(groupsDir, String(g), 'type'), 'DMA\n');
        fs.symlinkSync(path.relative(gd, vfDir), path.join(gd, vf));
        fs.symlinkSync(path.relative(vfDir, path.join(groupsDir, String(g))), path.join(vfDir, 'iommu_group'));
        this.persisted.native[vf] = this.opts.vfDriver ?? null;
        const auto = fs.existsSync(path.join(dir, 'sriov_drivers_autoprobe')) ? read('sriov_drivers_autoprobe') : 1;
        const vd = this.opts.vfDriver;
        if (auto && vd && fs.existsSync(path.join(this.sys, 'bus/pci/drivers', vd))) this.probe(vf, vd);
      }
      fs.writeFileSync(path.join(this.root, '.fake-kernel.json'), JSON.stringify(this.persisted));
    }
    fs.writeFileSync(path.join(dir, 'sriov_numvfs'), `${n}\n`);
  }

  // ----- fault injection -----

  private pendingIndex = -1;

  private enter(step: FaultStep, address: string | undefined, driver: string | undefined, target: string, value: string): (Fault & { left: number }) | undefined {
    const index = this.writes.length;
    this.writes.push({ step, target, value: value.trim() });
    if (this.opts.crashAt && this.opts.crashAt.index === index && this.opts.crashAt.when === 'before') process.kill(process.pid, 'SIGKILL');
    this.pendingIndex = index;
    const f = this.faults.find((x) => x.left > 0 && (x.at === undefined || x.at === index) && (x.step === undefined || x.step === step) && (x.address === undefined || x.address === address) && (x.driver === undefined || x.driver === driver));
    if (f) f.left--;
    return f;
  }

  private leave(): void {
    if (this.opts.crashAt && this.opts.crashAt.index === this.pendingIndex && this.opts.crashAt.when === 'after') process.kill(process.pid, 'SIGKILL');
  }

  private failWith(f: Fault | undefined, rel: string, value: string): void {
    if (!f || f.kind === 'never-binds' || f.kind === 'late-bind') return;
    throw new SysfsWriteError(rel, value, f.kind, `injected ${f.kind}`);
  }
}

/**
 * Everything the kernel side of a host tree shows, for before/after comparison: files under
 * sys/bus/pci, sys/kernel/iommu_groups and dev/vfio (content or link target). vfioctl's own state
 * directory is left out.
 */
export function snapshotKernelState(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) out[rel] = `-> ${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) walk(`${rel}/${n}`);
    else out[rel] = fs.readFileSync(abs, 'utf8');
  };
  for (const top of ['sys/bus/pci', 'sys/kernel/iommu_groups', 'dev/vfio', 'sys/devices']) walk(top);
  return out;
}
