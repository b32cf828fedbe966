/**
 * Reader of mediated devices (Documentation/ABI/testing/sysfs-bus-vfio-mdev) and of the vGPU facts that
 * live beside them:
 *   PARENT/mdev_supported_types/TYPE/{name,available_instances,device_api,description,devices/}
 *   sys/bus/mdev/devices/UUID -> PARENT/UUID (mdev_type -> the type directory)
 *   VF/nvidia/{creatable_vgpu_types,current_vgpu_type}   NVIDIA vGPU on SR-IOV VFs (Ampere and later)
 *   Intel Xe SR-IOV: a PF bound to xe (or i915) with VFs, each VF with its driver
 * Bounded: one listing per function, a few small files per type; hostile names are reported, not read.
 */
import * as path from 'node:path';
import type { HostRoot } from './host-root.js';
import { MDEV_TYPE, UUID } from '../model/mdev.js';
import { pciAddressOf } from '../model/pci-address.js';
import type { PciFunction } from '../model/pci-function.js';

export interface MdevType {
  /** the type directory's name, e.g. "nvidia-63", "i915-GVTg_V5_4" */
  id: string;
  name: string | null;
  /** null when the file is absent or unreadable (the ABI makes it mandatory: a broken driver) */
  availableInstances: number | null;
  deviceApi: string | null;
  description: string | null;
  /** UUIDs of the mdevs of this type now */
  devices: string[];
}

export interface MdevParent {
  address: string;
  driver: string | null;
  types: MdevType[];
}

export interface MdevDevice {
  uuid: string;
  /** the parent PCI function (null: a parent that is not a PCI function, e.g. a channel subsystem device) */
  parent: string | null;
  mdevType: string | null;
  /** the IOMMU group the mdev has (each mdev gets its own) */
  iommuGroup: number | null;
}

export interface VgpuType {
  id: number;
  name: string;
}

/** NVIDIA vGPU on an SR-IOV virtual function: the type is chosen per VF (no mdev). */
export interface NvidiaVgpuVf {
  address: string;
  physfn: string | null;
  creatable: VgpuType[];
  /** the vGPU type the VF is set to; 0 or null: none */
  current: number | null;
}

/** An Intel Xe (or i915) physical function with SR-IOV VFs: each VF is passed through whole. */
export interface IntelSriovGpu {
  address: string;
  driver: string;
  totalVfs: number;
  numVfs: number;
  vfs: { address: string; driver: string | null }[];
}

export interface MdevReport {
  parents: MdevParent[];
  devices: MdevDevice[];
  nvidiaVgpu: NvidiaVgpuVf[];
  intelSriov: IntelSriovGpu[];
  problems: { path: string; message: string }[];
}

const MAX_TYPES = 256;
const MAX_DEVICES = 4096;

function text(host: HostRoot, rel: string): string | null {
  const r = host.readText(rel);
  return r.state === 'ok' ? r.value.trim() : null;
}

function list(host: HostRoot, rel: string): string[] | null {
  const r = host.listDir(rel);
  return r.state === 'ok' ? r.value : null;
}

/** "ID    : vGPU Name" then "552   : NVIDIA A100-4C" lines (the NVIDIA vGPU manager's format). */
export function parseVgpuTypes(t: string): VgpuType[] {
  const out: VgpuType[] = [];
  for (const line of t.split('\n')) {
    const m = /^\s*(\d{1,6})\s*:\s*(\S.{0,120}?)\s*$/.exec(line);
    if (m) out.push({ id: Number(m[1]), name: m[2]! });
  }
  return out;
}

export function readMdev(host: HostRoot, functions: readonly PciFunction[]): MdevReport {
  const report: MdevReport = { parents: [], devices: [], nvidiaVgpu: [], intelSriov: [], problems: [] };
  for (const f of functions) {
    const dev = host.pciDeviceRel(pciAddressOf(f.address));
    const typesRel = `${dev}/mdev_supported_types`;
    const names = list(host, typesRel);
    if (names) {
      const types: MdevType[] = [];
      for (const id of names.slice(0, MAX_TYPES).sort()) {
        if (!MDEV_TYPE.test(id)) {
          report.problems.push({ path: host.display(typesRel), message: `type name ${JSON.stringify(id.slice(0, 60))} is not one vfioctl reads` });
          continue;
        }
        const t = `${typesRel}/${id}`;
        const avail = text(host, `${t}/available_instances`);
        types.push({
          id,
          name: text(host, `${t}/name`),
          availableInstances: avail !== null && /^\d{1,9}$/.test(avail) ? Number(avail) : null,
          deviceApi: text(host, `${t}/device_api`),
          description: text(host, `${t}/description`),
          devices: (list(host, `${t}/devices`) ?? []).filter((u) => UUID.test(u)).sort(),
        });
      }
      report.parents.push({ address: f.address, driver: f.driver, types });
    }
    const nv = `${dev}/nvidia`;
    const creatable = text(host, `${nv}/creatable_vgpu_types`);
    if (creatable !== null && f.physfn) {
      const cur = text(host, `${nv}/current_vgpu_type`);
      report.nvidiaVgpu.push({ address: f.address, physfn: f.physfn, creatable: parseVgpuTypes(creatable), current: cur !== null && /^\d{1,6}$/.test(cur) ? Number(cur) : null });
    }
    if (f.vendorId === '8086' && f.class.startsWith('03') && (f.driver === 'xe' || f.driver === 'i915') && f.sriov) {
      report.intelSriov.push({
        address: f.address, driver: f.driver, totalVfs: f.sriov.totalVfs, numVfs: f.sriov.numVfs,
        vfs: f.sriov.vfs.map((a) => ({ address: a, driver: functions.find((x) => x.address === a)?.driver ?? null })),
      });
    }
  }
  const bus = 'sys/bus/mdev/devices';
  for (const uuid of (list(host, bus) ?? []).slice(0, MAX_DEVICES).sort()) {
    if (!UUID.test(uuid)) {
      report.problems.push({ path: host.display(bus), message: `entry ${JSON.stringify(uuid.slice(0, 60))} is not an mdev UUID` });
      continue;
    }
    const link = host.readLink(`${bus}/${uuid}`);
    const parentName = link.state === 'ok' ? path.basename(path.dirname(link.value)) : null;
    const typeLink = host.readLink(`${bus}/${uuid}/mdev_type`);
    const group = host.readLink(`${bus}/${uuid}/iommu_group`);
    report.devices.push({
      uuid,
      parent: parentName && functions.some((x) => x.address === parentName) ? parentName : null,
      mdevType: typeLink.state === 'ok' ? path.basename(typeLink.value) : null,
      iommuGroup: group.state === 'ok' && /^\d+$/.test(path.basename(group.value)) ? Number(path.basename(group.value)) : null,
    });
  }
  return report;
}
