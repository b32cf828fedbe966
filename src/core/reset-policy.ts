/**
 * Reset policy (pure): what the kernel tries when vfio-pci resets a function, what `reset_method` may be
 * set to, and the reset-bug families with their fix.
 *
 * The kernel (drivers/pci/pci.c, pci_reset_fn_methods[]) probes, in this order: device_specific (a quirk
 * in drivers/pci/quirks.c, or a module such as vendor-reset hooking it), acpi (_RST), flr (PCIe FLR,
 * Device Capabilities bit 28), af_flr (Advanced Features FLR), pm (D3hot -> D0 when PM's No_Soft_Reset
 * is clear), bus (slot reset, else secondary bus reset of the parent bridge), cxl_bus. Kernels since 5.15
 * show the probed methods in `reset_method` (Documentation/ABI/testing/sysfs-bus-pci) and take a
 * space-separated list of names there to restrict and order them ("default" restores the probed order).
 */
import type { PciFunction } from '../model/pci-function.js';
import { factUnknown } from '../model/pci-function.js';
import { amdResetTroubleFamily } from './plan-devices.js';

/** The kernel's reset method names, in its default order. */
export const RESET_METHODS = ['device_specific', 'acpi', 'flr', 'af_flr', 'pm', 'bus', 'cxl_bus'] as const;
export type ResetMethodName = (typeof RESET_METHODS)[number];

export interface ResetCandidate {
  method: ResetMethodName;
  /** yes: config space says the kernel will offer it; maybe: it depends on what config space does not show */
  available: 'yes' | 'maybe';
  why: string;
}

/** A known reset-bug family and what fixes it. */
export interface ResetBug {
  family: string;
  problem: string;
  /** the fix, in order */
  fix: string[];
  /** the reset_method order the fix needs (null: none) */
  order: ResetMethodName[] | null;
}

export interface ResetPolicyView {
  address: string;
  /** what reset_method holds now, in order; null when the file is absent (kernel before 5.15) or not read */
  current: string[] | null;
  /** reset_method exists (the order can be set at run time) */
  settable: boolean;
  /** what the kernel would try, from config space, when reset_method is absent (always computed) */
  candidates: ResetCandidate[];
  bug: ResetBug | null;
}

/** Parse an order given by a person: names separated by commas or spaces; "default" alone restores the kernel's. */
export function parseResetOrder(text: string): { ok: true; order: ResetMethodName[] | 'default' } | { ok: false; problem: string } {
  const names = text.split(/[,\s]+/).map((x) => x.trim()).filter(Boolean);
  if (!names.length) return { ok: false, problem: 'no reset method named' };
  if (names.length === 1 && names[0] === 'default') return { ok: true, order: 'default' };
  const out: ResetMethodName[] = [];
  for (const n of names) {
    if (!(RESET_METHODS as readonly string[]).includes(n)) return { ok: false, problem: `${JSON.stringify(n.slice(0, 40))} is not a reset method (${RESET_METHODS.join(', ')}, or default)` };
    if (out.includes(n as ResetMethodName)) return { ok: false, problem: `${n} is named twice` };
    out.push(n as ResetMethodName);
  }
  return { ok: true, order: out };
}

/** The methods the kernel would probe for this function, from its config space (reset_method absent or not). */
export function resetCandidates(f: PciFunction): ResetCandidate[] {
  const out: ResetCandidate[] = [];
  const caps = f.capabilities;
  const capsKnown = !factUnknown(f, 'capabilities') && caps.standardReadable;
  if (resetBug(f)?.order?.includes('device_specific')) out.push({ method: 'device_specific', available: 'maybe', why: 'only with vendor-reset loaded (the kernel has no quirk for this device)' });
  out.push({ method: 'acpi', available: 'maybe', why: 'only when the firmware gives the device an ACPI _RST method' });
  if (!capsKnown) {
    out.push({ method: 'flr', available: 'maybe', why: 'config space was not read' });
    out.push({ method: 'pm', available: 'maybe', why: 'config space was not read' });
  } else {
    if (caps.pcie?.flr) out.push({ method: 'flr', available: 'yes', why: 'PCIe Device Capabilities: Function Level Reset' });
    if (caps.af?.flr) out.push({ method: 'af_flr', available: 'yes', why: 'Advanced Features capability: FLR' });
    if (caps.pm && !caps.pm.noSoftReset) out.push({ method: 'pm', available: 'yes', why: 'Power Management: No_Soft_Reset clear (D3hot -> D0 resets it)' });
  }
  if (f.parentChain.length > 0) {
    out.push({ method: 'bus', available: 'maybe', why: `secondary bus reset of ${f.parentChain[f.parentChain.length - 1]} (or its slot): only when nothing else shares that bus, and it resets every function below it` });
  }
  return out;
}

/** The reset-bug family of a function, with the concrete fix; null when none is known. */
export function resetBug(f: Pick<PciFunction, 'vendorId' | 'deviceId' | 'class' | 'address'>): ResetBug | null {
  // one table of the families (src/core/plan-devices.ts): the plan's amd-gpu-reset finding reads it too
  const name = amdResetTroubleFamily(f);
  if (!name) return null;
  const fam = { family: `AMD ${name}` };
  return {
    family: fam.family,
    problem: `${fam.family} GPUs do not come back from the resets the kernel offers (the "AMD reset bug"): after the guest shuts down, the GPU cannot be used again until the host reboots`,
    fix: [
      'install vendor-reset (https://github.com/gnif/vendor-reset; dkms install .) and load it at boot: echo vendor-reset > /etc/modules-load.d/vendor-reset.conf',
      `use its reset: vfioctl reset-policy set ${f.address} --order device_specific --persist (kernels 5.15 and later use vendor-reset only through reset_method device_specific)`,
    ],
    order: ['device_specific'],
  };
}

export function resetPolicyView(f: PciFunction): ResetPolicyView {
  const known = !factUnknown(f, 'resetMethods');
  const current = known && f.resetMethods !== null ? f.resetMethods : null;
  return { address: f.address, current, settable: current !== null, candidates: resetCandidates(f), bug: resetBug(f) };
}

/** The value written to reset_method for an order ("default" restores the kernel's probed order). */
export function resetMethodValue(order: readonly ResetMethodName[] | 'default'): string {
  return order === 'default' ? 'default' : order.join(' ');
}

/** Why an order cannot be set on this function now; null when it can (the kernel refuses methods it did not probe). */
export function checkResetOrder(view: ResetPolicyView, order: readonly ResetMethodName[] | 'default'): string | null {
  if (!view.settable) return `${view.address} has no reset_method file (kernel before 5.15, or not read): its reset order cannot be set`;
  if (order === 'default') return null;
  const missing = order.filter((m) => !view.current!.includes(m) && m !== 'device_specific');
  if (missing.length) return `the kernel does not offer ${missing.join(', ')} for ${view.address} (it offers ${view.current!.join(', ') || 'none'})`;
  return null;
}
