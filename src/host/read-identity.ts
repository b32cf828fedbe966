/**
 * Reader of the stable identity of PCI functions (src/model/device-identity.ts): IDs and subsystem from the
 * inventory, the Device Serial Number from the extended capability in config space, the topology path
 * from the device's sysfs link. Bounded: one config read per function that has the capability.
 */
import type { HostRoot } from './host-root.js';
import { decodeDsn, type DeviceIdentity } from '../model/device-identity.js';
import { pciAddressOf } from '../model/pci-address.js';
import type { PciFunction } from '../model/pci-function.js';
import { factUnknown } from '../model/pci-function.js';

/** Device Serial Number extended capability ID. */
const DSN_CAP = 0x0003;

/** The identity of one function as the host shows it now. */
export function readIdentity(host: HostRoot, f: PciFunction): DeviceIdentity {
  const dev = host.resolvePciDevice(pciAddressOf(f.address));
  let path: string | null = null;
  let serial: string | null = null;
  const extKnown = f.capabilities.extendedReadable && !factUnknown(f, 'capabilities.extended') && !factUnknown(f, 'capabilities');
  let serialKnown = extKnown;
  if (dev.state === 'ok') {
    const parts = dev.value.linkParts;
    const at = parts.indexOf('devices');
    if (at >= 0 && parts.length > at + 1) path = parts.slice(at + 1).join('/');
    const cap = f.capabilities.list.find((c) => c.extended && c.id === DSN_CAP);
    if (extKnown && cap) {
      const r = host.readAttrIn(dev.value.dir, 'config', null);
      if (r.state === 'ok' && Buffer.isBuffer(r.value) && r.value.length >= cap.offset + 12) serial = decodeDsn(r.value.subarray(cap.offset + 4, cap.offset + 12));
      else serialKnown = false;
    }
  } else {
    serialKnown = false;
  }
  return { vendorId: f.vendorId, deviceId: f.deviceId, subsystemVendorId: f.subsystemVendorId, subsystemDeviceId: f.subsystemDeviceId, serial, serialKnown, path };
}

/** Identities of the named functions (absent addresses are left out). */
export function readIdentities(host: HostRoot, functions: readonly PciFunction[], addresses: readonly string[]): Record<string, DeviceIdentity> {
  const out: Record<string, DeviceIdentity> = {};
  for (const a of addresses) {
    const f = functions.find((x) => x.address === a);
    if (f) out[a] = readIdentity(host, f);
  }
  return out;
}
