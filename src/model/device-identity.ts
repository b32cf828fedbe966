/**
 * Stable identity of a PCI function (pure): what an address held when vfioctl persisted it, so that a
 * later boot, `status` and `doctor` can tell that the address now holds another device (a firmware
 * update renumbered the buses, a card was moved or swapped).
 *
 * An identity is the vendor:device and subsystem IDs, the PCIe Device Serial Number (extended capability
 * 0x0003, when the device has one) and the sysfs topology path (the chain of bridges from the root bus:
 * `pci0000:00/0000:00:01.0/0000:01:00.0`). Identities recorded before vfioctl kept them are absent:
 * unknown, never "different".
 */
export interface DeviceIdentity {
  vendorId: string;
  deviceId: string;
  subsystemVendorId: string | null;
  subsystemDeviceId: string | null;
  /** the Device Serial Number as 16 lowercase hex digits; null when the device has none or it was not read */
  serial: string | null;
  /** serial was read (the extended capabilities were readable): null then means "no serial number" */
  serialKnown: boolean;
  /** sysfs path below sys/devices, e.g. "pci0000:00/0000:00:01.0/0000:01:00.0"; null when not read */
  path: string | null;
}

export interface IdentityDifference {
  field: 'ids' | 'subsystem' | 'serial' | 'path';
  recorded: string;
  now: string;
}

export type IdentityVerdict = 'same' | 'different' | 'unknown' | 'absent';

export interface IdentityCheck {
  /** same: every fact both sides know agrees; different: at least one differs; unknown: nothing recorded; absent: no device there now */
  verdict: IdentityVerdict;
  differences: IdentityDifference[];
}

const ids = (i: DeviceIdentity): string => `${i.vendorId}:${i.deviceId}`;
const sub = (i: DeviceIdentity): string | null => (i.subsystemVendorId && i.subsystemDeviceId ? `${i.subsystemVendorId}:${i.subsystemDeviceId}` : null);

/** Compare what was recorded with what the address holds now. */
export function compareIdentity(recorded: DeviceIdentity | undefined | null, now: DeviceIdentity | null): IdentityCheck {
  if (!recorded) return { verdict: 'unknown', differences: [] };
  if (!now) return { verdict: 'absent', differences: [] };
  const d: IdentityDifference[] = [];
  if (ids(recorded).toLowerCase() !== ids(now).toLowerCase()) d.push({ field: 'ids', recorded: ids(recorded), now: ids(now) });
  const rs = sub(recorded);
  const ns = sub(now);
  if (rs !== null && ns !== null && rs.toLowerCase() !== ns.toLowerCase()) d.push({ field: 'subsystem', recorded: rs, now: ns });
  if (recorded.serialKnown && now.serialKnown && recorded.serial !== now.serial) d.push({ field: 'serial', recorded: recorded.serial ?? 'none', now: now.serial ?? 'none' });
  if (recorded.path !== null && now.path !== null && recorded.path !== now.path) d.push({ field: 'path', recorded: recorded.path, now: now.path });
  return { verdict: d.length ? 'different' : 'same', differences: d };
}

/** "IDs 10de:1b80 -> 1002:67df; serial 0011... -> none" */
export function describeDifferences(d: readonly IdentityDifference[]): string {
  const name: Record<IdentityDifference['field'], string> = { ids: 'IDs', subsystem: 'subsystem', serial: 'serial number', path: 'topology path' };
  return d.map((x) => `${name[x.field]} ${x.recorded} -> ${x.now}`).join('; ');
}

/** Decode the Device Serial Number capability body (the 8 bytes after its header, little endian dwords). */
export function decodeDsn(bytes: Uint8Array): string | null {
  if (bytes.length < 8) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  return `${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
}
