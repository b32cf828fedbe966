/** Questions about what an imported listing tells (no parsing here, so output code can ask cheaply). */
import type { PciInventory } from './pci-function.js';

/** The imported listing does not tell this fact for this function (output shows "?" rather than a guess). */
export function importFactUnknown(inv: PciInventory, fact: string, address: string): boolean {
  const s = inv.source;
  if (s.kind !== 'import') return false;
  return s.unknown.includes(fact) || !!s.unknownFor?.some((u) => u.fact === fact && (u.addresses as string[]).includes(address));
}
