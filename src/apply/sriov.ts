/**
 * SR-IOV: set a PF's VF count (journaled; the kernel wants 0 between two non-zero counts), verify the
 * VFs appeared, roll back on failure.
 */
import * as path from 'node:path';
import type { HostRoot } from '../host/host-root.js';
import { ExitCode, VfioctlError } from '../model/errors.js';
import { formatPciAddress, requirePciAddress, type PciAddress } from '../model/pci-address.js';
import type { ApplyContext } from './run.js';

import { loadRun as runner } from './run-loader.js';

export interface SriovInfo {
  address: string;
  totalVfs: number;
  numVfs: number;
  driver: string | null;
}

export function readSriov(host: HostRoot, addr: PciAddress): SriovInfo {
  const a = formatPciAddress(addr);
  const dev = host.resolvePciDevice(addr);
  if (dev.state !== 'ok') throw new VfioctlError('no-such-device', `no PCI function ${a} on this host`, { remedy: '`vfioctl ls` lists the functions present' });
  const num = (attr: string): number | null => {
    const r = host.readAttrIn(dev.value.dir, attr);
    return r.state === 'ok' ? Number(String(r.value).trim()) : null;
  };
  const total = num('sriov_totalvfs');
  if (total === null) throw new VfioctlError('not-sriov', `${a} is not an SR-IOV physical function (no sriov_totalvfs)`, { remedy: '`vfioctl show ADDR` tells which functions support SR-IOV', exitCode: ExitCode.usage });
  const link = host.linkAttrIn(dev.value.dir, 'driver');
  return { address: a, totalVfs: total, numVfs: num('sriov_numvfs') ?? 0, driver: link.state === 'ok' ? path.basename(link.value) : null };
}

export function listVfs(host: HostRoot, addr: PciAddress): string[] {
  const dev = host.resolvePciDevice(addr);
  if (dev.state !== 'ok') return [];
  const r = host.listAttrsIn(dev.value.dir);
  if (r.state !== 'ok') return [];
  return r.value.filter((n) => /^virtfn\d+$/.test(n)).sort((x, y) => Number(x.slice(6)) - Number(y.slice(6))).map((n) => {
    const l = host.linkAttrIn(dev.value.dir, n);
    return l.state === 'ok' ? path.basename(l.value) : '';
  }).filter(Boolean);
}

export function checkSriovRequest(host: HostRoot, pf: string, n: number): SriovInfo {
  const info = readSriov(host, requirePciAddress(pf));
  if (!Number.isInteger(n) || n < 0) throw new VfioctlError('bad-count', `VF count must be a whole number >= 0, not ${n}`, { exitCode: ExitCode.usage });
  if (n > info.totalVfs) throw new VfioctlError('too-many-vfs', `${info.address} supports at most ${info.totalVfs} VFs, not ${n}`, { remedy: `use a count from 0 to ${info.totalVfs}`, exitCode: ExitCode.usage });
  if (!info.driver && n > 0) throw new VfioctlError('pf-unbound', `${info.address} has no driver; the kernel creates VFs through the PF's driver`, { remedy: 'bind the PF to its driver first (or to vfio-pci with enable_sriov=1)', exitCode: ExitCode.notReady });
  return info;
}

export async function applySriov(ctx: ApplyContext, pf: string, n: number): Promise<{ runId: string | null; before: number; after: number; vfs: string[] }> {
  const info = checkSriovRequest(ctx.host, pf, n);
  const addr = requirePciAddress(pf);
  if (info.numVfs === n) return { runId: null, before: n, after: n, vfs: listVfs(ctx.host, addr) };
  return (await runner()).execute(ctx, 'sriov set', [info.address, String(n)], async (run) => {
    await run.step({ type: 'sriov', address: info.address, before: info.numVfs, after: n }, () => {
      if (info.numVfs > 0 && n > 0) ctx.sysfs.writePciAttr(addr, 'sriov_numvfs', '0\n');
      ctx.sysfs.writePciAttr(addr, 'sriov_numvfs', `${n}\n`);
    });
    const vfs = listVfs(ctx.host, addr);
    const now = readSriov(ctx.host, addr).numVfs;
    if (now !== n || vfs.length !== n) throw new VfioctlError('sriov-verify', `${info.address} reports ${now} VFs (${vfs.length} present) after asking for ${n}`, { remedy: 'check `dmesg` for the PF driver\'s messages' });
    run.setCommit({ sriov: { [info.address]: n === 0 ? null : { original: ctx.store.readState().sriov[info.address]?.original ?? info.numVfs, numVfs: n, runId: run.journal.runId, at: new Date().toISOString() } } });
    return { runId: run.journal.runId, before: info.numVfs, after: n, vfs };
  });
}
