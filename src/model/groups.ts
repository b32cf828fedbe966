/**
 * Assemble IOMMU groups from their members: role of each member (bridge vs endpoint), whether the group
 * is isolated, and which members are host-critical by class. Used by the sysfs reader and by imports.
 */
import { type PciAddressString, deviceKey, pciAddressOf, comparePciAddressStrings } from './pci-address.js';
import { hostCriticalClass } from './pci-class.js';
import type { IommuGroup, PciFunction, GroupIsolation } from './pci-function.js';

export function assembleGroup(id: number, type: string | null, members: readonly PciAddressString[], byAddress: ReadonlyMap<string, PciFunction>): IommuGroup {
  const sorted = [...members].sort(comparePciAddressStrings);
  const out: IommuGroup = { id, type, members: [], isolation: 'empty', hostCritical: [] };
  const devices = new Set<string>();
  for (const address of sorted) {
    const fn = byAddress.get(address);
    const role = fn?.isBridge ? 'bridge' : 'endpoint';
    out.members.push({ address, role });
    if (role === 'endpoint') devices.add(deviceKey(pciAddressOf(address)));
    const critical = fn ? hostCriticalClass(fn.class) : null;
    if (critical) out.hostCritical.push({ address, reason: critical.reason });
  }
  out.isolation = groupIsolation(devices.size);
  return out;
}

function groupIsolation(endpointDevices: number): GroupIsolation {
  if (endpointDevices === 0) return 'empty';
  return endpointDevices === 1 ? 'isolated' : 'shared';
}

/** Endpoints of a group (the functions that must all be claimed together). */
export function groupEndpoints(g: IommuGroup): PciAddressString[] {
  return g.members.filter((m) => m.role === 'endpoint').map((m) => m.address);
}
