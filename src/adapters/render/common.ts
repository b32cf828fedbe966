/**
 * Shared by the renderers: where each claimed function goes in the guest, and shell quoting.
 *
 * Placement: single-function devices get no fixed guest address (libvirt places each on its own slot —
 * on q35 its own pcie-root-port — which keeps them hot-pluggable). The functions of a multifunction
 * device passed together go into ONE guest slot as functions 0..n (function 0 carries
 * multifunction='on'): on q35 behind a dedicated pcie-root-port (controller index from
 * `firstControllerIndex`, default 16, high enough to stay clear of the ports libvirt numbers from 1), on
 * i440fx ('pc') in slot `firstSlot` and up of bus 0.
 */
import type { PciAddressString } from '../../model/pci-address.js';
import type { PassthroughPlan } from '../../model/plan.js';
import type { GuestPciAddress } from '../libvirt/domain-xml.js';

export type Machine = 'q35' | 'pc';

export interface PlacementOptions {
  machine?: Machine;
  firstControllerIndex?: number;
  firstSlot?: number;
}

export interface Placement {
  address: PciAddressString;
  guest: GuestPciAddress | null;
  /** q35: the pcie-root-port controller index this function sits behind (shared by a slot's functions). */
  controllerIndex: number | null;
}

export const DEFAULT_CONTROLLER_INDEX = 16;
export const DEFAULT_PC_SLOT = 0x10;

export function guestPlacement(plan: Pick<PassthroughPlan, 'slots' | 'claim'>, opts: PlacementOptions = {}): Placement[] {
  const machine = opts.machine ?? 'q35';
  let nextController = opts.firstControllerIndex ?? DEFAULT_CONTROLLER_INDEX;
  let nextSlot = opts.firstSlot ?? DEFAULT_PC_SLOT;
  const out: Placement[] = [];
  for (const slot of plan.slots) {
    if (!slot.multifunction) {
      out.push({ address: slot.functions[0]!, guest: null, controllerIndex: null });
      continue;
    }
    const bus = machine === 'q35' ? nextController++ : 0;
    const guestSlot = machine === 'q35' ? 0 : nextSlot++;
    slot.functions.forEach((address, k) => {
      out.push({
        address,
        guest: { domain: 0, bus, slot: guestSlot, fn: k, multifunction: k === 0 },
        controllerIndex: machine === 'q35' ? bus : null,
      });
    });
  }
  const order = new Map(plan.claim.map((a, i) => [a as string, i]));
  return out.sort((a, b) => (order.get(a.address) ?? 0) - (order.get(b.address) ?? 0));
}

/** Controller indexes the placements need (q35 multifunction slots). */
export function controllerIndexes(placements: readonly Placement[]): number[] {
  return [...new Set(placements.map((p) => p.controllerIndex).filter((i): i is number => i !== null))].sort((a, b) => a - b);
}

export { shellQuote, shellJoin, shellComment, heredoc, isOptionLike } from '../../model/shell-quote.js';

/** A file name for a function's hostdev XML: hostdev-0000_01_00_0.xml */
export function hostdevFileName(address: string): string {
  return `hostdev-${address.replace(/[:.]/g, '_')}.xml`;
}

/** Guest name for commands: the plan's guest, or a placeholder to replace. */
export function guestOrPlaceholder(plan: Pick<PassthroughPlan, 'guest'>): string {
  return plan.guest ?? 'GUEST';
}
