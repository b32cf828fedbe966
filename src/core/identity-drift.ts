/**
 * Drift of persisted devices (pure): a per-address record of state.json names what the address held when
 * it was persisted; the address may now hold another device (firmware renumbered the buses, a card moved
 * or was swapped). The findings say so, and that the boot-time binding leaves such a device alone.
 */
import type { DeviceIdentity, IdentityCheck } from '../model/device-identity.js';
import { compareIdentity, describeDifferences } from '../model/device-identity.js';
import type { Finding } from '../model/finding.js';

export interface PersistedIdentity {
  address: string;
  /** what was recorded (absent: persisted before identities were kept) */
  recorded: DeviceIdentity | null;
  /** what the address holds now (null: no device there) */
  now: DeviceIdentity | null;
}

export interface IdentityStatus extends IdentityCheck {
  address: string;
  recorded: DeviceIdentity | null;
  now: DeviceIdentity | null;
}

export function identityStatus(p: PersistedIdentity): IdentityStatus {
  return { address: p.address, recorded: p.recorded, now: p.now, ...compareIdentity(p.recorded, p.now) };
}

export function checkPersistedIdentities(list: readonly IdentityStatus[]): Finding[] {
  const out: Finding[] = [];
  for (const s of list) {
    const ev = [{ source: '/var/lib/vfioctl/state.json', value: s.recorded ? `${s.recorded.vendorId}:${s.recorded.deviceId}${s.recorded.path ? ` at ${s.recorded.path}` : ''}` : 'no identity recorded' }];
    if (s.now) ev.push({ source: `/sys/bus/pci/devices/${s.address}`, value: `${s.now.vendorId}:${s.now.deviceId}${s.now.path ? ` at ${s.now.path}` : ''}` });
    if (s.verdict === 'different') {
      out.push({
        id: 'persisted-device-changed', severity: 'fail', category: 'device', subjects: [s.address], evidence: ev,
        summary: `${s.address}: holds another device than the one persisted (${describeDifferences(s.differences)}); the boot-time binding leaves it on its host driver`,
        remedy: `if the change is intended: vfioctl persist --acknowledge ${s.address}; otherwise vfioctl unpersist ${s.address} and persist the device at its new address`,
      });
    } else if (s.verdict === 'absent') {
      out.push({
        id: 'persisted-device-absent', severity: 'warn', category: 'device', subjects: [s.address], evidence: ev,
        summary: `${s.address}: persisted for vfio-pci, but no device is there now`,
        remedy: `find the card's new address (vfioctl ls), then vfioctl unpersist ${s.address} and persist it there`,
      });
    } else if (s.verdict === 'unknown') {
      out.push({
        id: 'persisted-device-unpinned', severity: 'info', category: 'device', subjects: [s.address], evidence: ev,
        summary: `${s.address}: persisted before identities were recorded, so a different device at this address would not be noticed`,
        remedy: `vfioctl persist --acknowledge ${s.address} records what it holds now`,
      });
    }
  }
  return out;
}
