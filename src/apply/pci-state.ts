/**
 * Reading a function's binding state and moving it from one driver to another with driverctl's
 * sequence: set driver_override, unbind from the current driver, drivers_probe, then verify the `driver`
 * link (polling, with a timeout: a probe may finish after the write returns). Used for bind, release,
 * rollback and recovery alike, so undoing is the same code as doing.
 */
import * as path from 'node:path';
import type { HostRoot } from '../host/host-root.js';
import type { SysfsWriter } from '../host/host-writer.js';
import { isBridgeClass } from '../model/pci-class.js';
import { formatPciAddress, pciAddressOf, type PciAddress } from '../model/pci-address.js';
import { VfioctlError } from '../model/errors.js';
import type { FnDriverState } from './state.js';

export const VFIO_PCI = 'vfio-pci';
/** Drivers that leave a group viable for VFIO besides vfio-pci itself (kernel vfio_dev_driver_allowed). */
const VIABLE_DRIVERS = new Set(['vfio-pci', 'pci-stub', 'pcieport']);

export interface MoveOptions {
  readonly timeoutMs: number;
  readonly pollMs: number;
}

export function readFnState(host: HostRoot, addr: PciAddress): FnDriverState {
  const dev = host.resolvePciDevice(addr);
  if (dev.state !== 'ok') {
    throw new VfioctlError('no-such-device', `no PCI function ${formatPciAddress(addr)} on this host`, { remedy: '`vfioctl ls` lists the functions present' });
  }
  const link = host.linkAttrIn(dev.value.dir, 'driver');
  const driver = link.state === 'ok' ? path.basename(link.value) : null;
  const ov = host.readAttrIn(dev.value.dir, 'driver_override');
  let override: string | null = null;
  if (ov.state === 'ok') {
    const t = String(ov.value).trim();
    override = t === '' || t === '(null)' ? null : t;
  } else if (ov.state === 'absent') {
    throw new VfioctlError('no-driver-override', `${formatPciAddress(addr)} has no driver_override attribute`, { remedy: 'the kernel is older than 3.16; vfioctl needs driver_override (or use vfio-pci ids= with `vfioctl persist --by-id`)' });
  }
  return { driver, override };
}

export function readFnGroup(host: HostRoot, addr: PciAddress): number | null {
  const dev = host.resolvePciDevice(addr);
  if (dev.state !== 'ok') return null;
  const link = host.linkAttrIn(dev.value.dir, 'iommu_group');
  if (link.state !== 'ok') return null;
  const n = Number(path.basename(link.value));
  return Number.isInteger(n) ? n : null;
}

export function isBridgeFn(host: HostRoot, addr: PciAddress): boolean {
  const dev = host.resolvePciDevice(addr);
  if (dev.state !== 'ok') return false;
  const c = host.readAttrIn(dev.value.dir, 'class');
  return c.state === 'ok' && isBridgeClass(String(c.value).trim());
}

export function groupMembers(host: HostRoot, group: number): PciAddress[] {
  const r = host.listDir(host.iommuGroupDevicesRel(group));
  if (r.state !== 'ok') return [];
  return r.value.map((n) => {
    try {
      return pciAddressOf(n);
    } catch {
      return null;
    }
  }).filter((a): a is PciAddress => a !== null);
}

export interface GroupViability {
  group: number;
  viable: boolean;
  /** endpoints still on a host driver */
  blockers: { address: string; driver: string }[];
  devNode: boolean;
}

/** Is the group usable by VFIO: every endpoint on vfio-pci/pci-stub/no driver, and /dev/vfio/N present. */
export function checkGroupViable(host: HostRoot, group: number, alsoViable: ReadonlySet<string> = new Set()): GroupViability {
  const blockers: { address: string; driver: string }[] = [];
  for (const m of groupMembers(host, group)) {
    const st = readFnState(host, m);
    // VFIO variant drivers (mlx5_vfio_pci, ...) are vfio-pci-core drivers: the group is as viable with them
    if (!st.driver || VIABLE_DRIVERS.has(st.driver) || alsoViable.has(st.driver)) continue;
    if (isBridgeFn(host, m)) continue;
    blockers.push({ address: formatPciAddress(m), driver: st.driver });
  }
  const devNode = host.exists(`dev/vfio/${group}`);
  return { group, viable: blockers.length === 0 && devNode, blockers, devNode };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until the function's driver is `want` (null: unbound). Returns the driver seen last. */
export async function waitForDriver(host: HostRoot, addr: PciAddress, want: string | null, opts: MoveOptions): Promise<string | null> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const d = readFnState(host, addr).driver;
    if (d === want || Date.now() >= deadline) return d;
    await sleep(opts.pollMs);
  }
}

/**
 * Move a function to `target` (driver + override). Steps, each skipped when already true:
 *   1. driver_override := target.override (empty string clears it)
 *   2. unbind from the current driver when it is not the target
 *   3. drivers_probe (the kernel picks the override, or the best ID match)
 *   4. verify the driver link; when a plain driver (no override) did not come back through probing,
 *      write its `bind` file directly, then verify again
 * Throws a VfioctlError naming the failed step.
 */
export async function moveFunction(host: HostRoot, sysfs: SysfsWriter, addr: PciAddress, target: FnDriverState, opts: MoveOptions): Promise<void> {
  const a = formatPciAddress(addr);
  const cur = readFnState(host, addr);
  if (cur.override !== target.override) sysfs.writePciAttr(addr, 'driver_override', target.override === null ? '\n' : `${target.override}\n`);
  if (cur.driver !== null && cur.driver !== target.driver) {
    sysfs.writeDriverAttr(cur.driver, 'unbind', a);
    const after = await waitForDriver(host, addr, null, opts);
    if (after !== null) {
      throw new VfioctlError('unbind-failed', `${a} is still bound to ${after} after unbind`, { remedy: 'something holds the device; stop its users and try again' });
    }
  }
  if (target.driver === null) return;
  if (readFnState(host, addr).driver !== target.driver) {
    sysfs.writeBusAttr('drivers_probe', a);
    let got = await waitForDriver(host, addr, target.driver, opts);
    if (got !== target.driver && got === null && target.override === null) {
      sysfs.writeDriverAttr(target.driver, 'bind', a);
      got = await waitForDriver(host, addr, target.driver, opts);
    }
    if (got !== target.driver) {
      throw new VfioctlError('bind-timeout', `${a} did not bind to ${target.driver} within ${opts.timeoutMs} ms (driver now: ${got ?? 'none'})`, {
        remedy: target.driver === VFIO_PCI ? 'check `dmesg` for vfio-pci errors (no IOMMU? the device in use?)' : `check that the ${target.driver} module is loaded (modprobe ${target.driver}) and \`dmesg\``,
      });
    }
  }
}
