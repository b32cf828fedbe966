/**
 * PCI addresses: the one grammar every address passes before it is used anywhere, above all before it
 * becomes part of a file path. Accepted inputs:
 *   01:00.0            bus:slot.function (domain 0000)
 *   0000:01:00.0       domain:bus:slot.function (domain: 4 to 8 hex digits; VMD domains are 10000+)
 *   pci_0000_01_00_0   libvirt node-device name
 * Slot is 0x00-0x1f, function 0-7. Anything else (path separators, "..", spaces, out-of-range values)
 * is rejected. The canonical form is lowercase `dddd:bb:ss.f`.
 */
import { type Result, ok, err, UsageError } from './errors.js';

export interface PciAddress {
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly fn: number;
}

/** Canonical address string, lowercase `dddd:bb:ss.f`. Only produced by formatPciAddress. */
export type PciAddressString = string & { readonly __pciAddress: unique symbol };

const SHORT = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;
const FULL = /^([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;
const NODEDEV = /^pci_([0-9a-fA-F]{4,8})_([0-9a-fA-F]{2})_([0-9a-fA-F]{2})_([0-7])$/;

const REMEDY = 'write it as 01:00.0, 0000:01:00.0 or pci_0000_01_00_0 (hex; slot 00-1f, function 0-7); `vfioctl ls` lists them';

export function parsePciAddress(input: string): Result<PciAddress> {
  const text = input.trim();
  let parts: (string | undefined)[] | null = null;
  let m = SHORT.exec(text);
  if (m) parts = ['0000', m[1], m[2], m[3]];
  else if ((m = FULL.exec(text) ?? NODEDEV.exec(text))) parts = [m[1], m[2], m[3], m[4]];
  if (!parts) {
    return err({ message: `not a PCI address: ${JSON.stringify(input.slice(0, 80))}`, remedy: REMEDY });
  }
  const [d, b, s, f] = parts.map((p) => parseInt(p ?? '', 16)) as [number, number, number, number];
  if (s > 0x1f) {
    return err({ message: `PCI slot 0x${s.toString(16)} in ${JSON.stringify(input)} is out of range (00-1f)`, remedy: REMEDY });
  }
  return ok({ domain: d, bus: b, slot: s, fn: f });
}

/** Parse or throw a UsageError (for the CLI edge). */
export function requirePciAddress(input: string): PciAddress {
  const r = parsePciAddress(input);
  if (!r.ok) throw new UsageError('bad-address', r.error.message, r.error.remedy);
  return r.value;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

export function formatPciAddress(a: PciAddress): PciAddressString {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn.toString(16)}` as PciAddressString;
}

/** Canonical string from any accepted input form, or null when it is not an address. */
export function canonicalPciAddress(input: string): PciAddressString | null {
  const r = parsePciAddress(input);
  return r.ok ? formatPciAddress(r.value) : null;
}

/**
 * A name as the kernel writes it in sysfs and procfs (always the full lowercase `dddd:bb:ss.f`), or null.
 * Looser spellings that parsePciAddress accepts from people (`01:00.0`, upper case) are not kernel names.
 */
export function sysfsPciAddress(name: string): PciAddressString | null {
  const r = parsePciAddress(name);
  return r.ok && formatPciAddress(r.value) === name ? (name as PciAddressString) : null;
}

/** libvirt node-device name: pci_dddd_bb_ss_f */
export function formatNodedevName(a: PciAddress): string {
  return `pci_${hex(a.domain, 4)}_${hex(a.bus, 2)}_${hex(a.slot, 2)}_${a.fn.toString(16)}`;
}

/** lspci's short form when the domain is 0, else the full form. */
export function formatShortAddress(a: PciAddress): string {
  const tail = `${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn.toString(16)}`;
  return a.domain === 0 ? tail : `${hex(a.domain, 4)}:${tail}`;
}

/** The device (slot) part of an address: functions of one multifunction device share it. */
export function deviceKey(a: PciAddress): string {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}`;
}

export function comparePciAddress(a: PciAddress, b: PciAddress): number {
  return a.domain - b.domain || a.bus - b.bus || a.slot - b.slot || a.fn - b.fn;
}

/** Numeric order of address strings (5-digit VMD domains sort after 0xffff, unlike a string sort). */
export function comparePciAddressStrings(a: string, b: string): number {
  return comparePciAddress(pciAddressOf(a), pciAddressOf(b));
}

/** Parse a canonical string known to be valid (from the model itself); throws on a programming error. */
export function pciAddressOf(s: PciAddressString | string): PciAddress {
  const r = parsePciAddress(s);
  if (!r.ok) throw new Error(`internal: invalid canonical address ${s}`);
  return r.value;
}
