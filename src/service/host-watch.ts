/**
 * A cheap signature of what changes under a front end's feet: the PCI functions present (a VF created or
 * removed), the driver each is bound to (someone else bound a device), the VF counts, the drivers
 * registered, and vfioctl's own state and journal (another vfioctl run). Two equal signatures mean the
 * documents built from those facts are the same as far as a dashboard needs to know; a difference names
 * the sections that changed. It reads one directory listing, one link per function, and two small files,
 * all through HostRoot.
 */
import { createHash } from 'node:crypto';
import type { HostRoot } from '../host/host-root.js';
import { formatPciAddress } from '../model/pci-address.js';

export type HostSection = 'inventory' | 'state';

export interface HostSignature {
  inventory: string;
  state: string;
  /** how long taking it took, ms */
  scanMs: number;
}

const STATE_FILES = ['var/lib/vfioctl/state.json', 'var/lib/vfioctl/journal.json', 'var/lib/vfioctl/lock'];

export function hostSignature(host: HostRoot): HostSignature {
  const t0 = performance.now();
  const inv = createHash('sha256');
  const list = host.listPciAddresses();
  if (list.state === 'ok') {
    for (const a of [...list.value.addresses].sort((x, y) => (formatPciAddress(x) < formatPciAddress(y) ? -1 : 1))) {
      inv.update(`${formatPciAddress(a)}\0`);
      const dir = host.resolvePciDevice(a);
      if (dir.state !== 'ok') {
        inv.update(`${dir.state}\n`);
        continue;
      }
      const drv = host.linkAttrIn(dir.value.dir, 'driver');
      inv.update(drv.state === 'ok' ? drv.value.split('/').pop()! : drv.state);
      const vfs = host.readAttrIn(dir.value.dir, 'sriov_numvfs');
      if (vfs.state === 'ok') inv.update(`\0vfs=${String(vfs.value).trim()}`);
      inv.update('\n');
    }
  } else inv.update(`devices ${list.state}\n`);
  const drivers = host.listDir('sys/bus/pci/drivers');
  inv.update(drivers.state === 'ok' ? [...drivers.value].sort().join(',') : drivers.state);
  const st = createHash('sha256');
  for (const rel of STATE_FILES) {
    const r = host.readText(rel);
    st.update(`${rel}\0${r.state === 'ok' ? r.value : r.state}\n`);
  }
  return { inventory: inv.digest('hex'), state: st.digest('hex'), scanMs: performance.now() - t0 };
}

/** The sections whose signature differs. */
export function changedSections(a: HostSignature, b: HostSignature): HostSection[] {
  return (['inventory', 'state'] as const).filter((k) => a[k] !== b[k]);
}
