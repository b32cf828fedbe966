/**
 * Device knowledge the planner needs beyond class codes: NVIDIA consumer GPUs (hidden-KVM features) and
 * AMD GPU families known for reset trouble. Ranges, not single IDs, so new boards of a family match.
 */
import type { PciFunction } from '../model/pci-function.js';
import { isDisplayClass, classParts } from '../model/pci-class.js';

const NVIDIA = '10de';
const AMD_ATI = '1002';

/** Workstation/datacenter names that do not refuse to run in a VM. */
const NVIDIA_PRO = /\b(quadro|tesla|grid|rtx a\d{3,4}|a\d{2,3}\b|h\d{3}|l\d{1,2}s?\b|nvs)/i;

/**
 * An NVIDIA GPU of the kind whose Windows driver (before R465) stops with "Code 43" when it sees a
 * hypervisor. VGA-class NVIDIA functions count unless pci.ids names them as workstation/datacenter parts
 * (those are usually class 0302, "3D controller", anyway).
 */
export function isNvidiaConsumerGpu(fn: Pick<PciFunction, 'vendorId' | 'class' | 'names'>): boolean {
  if (fn.vendorId !== NVIDIA) return false;
  const { base, sub } = classParts(fn.class);
  if (base !== 0x03 || sub !== 0x00) return false;
  const name = fn.names.device ?? '';
  return !NVIDIA_PRO.test(name);
}

const AMD_RESET_FAMILIES: { family: string; from: number; to: number }[] = [
  { family: 'Polaris 10/11', from: 0x67c0, to: 0x67ff },
  { family: 'Polaris 20', from: 0x6fdf, to: 0x6fdf },
  { family: 'Polaris 12', from: 0x6980, to: 0x699f },
  { family: 'Vega 10', from: 0x6860, to: 0x687f },
  { family: 'Vega 20', from: 0x66a0, to: 0x66af },
  { family: 'Navi 10', from: 0x7310, to: 0x731f },
  { family: 'Navi 12', from: 0x7360, to: 0x7362 },
  { family: 'Navi 14', from: 0x7340, to: 0x734f },
];

/** The AMD GPU family of a function when it is one known not to reset cleanly (vendor-reset covers these). */
export function amdResetTroubleFamily(fn: Pick<PciFunction, 'vendorId' | 'deviceId' | 'class'>): string | null {
  if (fn.vendorId !== AMD_ATI || !isDisplayClass(fn.class)) return null;
  const id = parseInt(fn.deviceId, 16);
  return AMD_RESET_FAMILIES.find((f) => id >= f.from && id <= f.to)?.family ?? null;
}
