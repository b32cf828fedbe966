/**
 * Kernel command line judgement for doctor: which IOMMU/VFIO parameters are set, which of them the kernel
 * ignores (unknown values, typos, the other vendor's parameter), and whether the configured command line
 * differs from the running one (a reboot is pending). Pure; works on parsed parameters from HostFacts.
 */
import type { KernelParam } from '../model/host-facts.js';

/** Kernel parameter names compare with "-" and "_" as the same character (kernel parameq). */
export function normKey(key: string): string {
  return key.replace(/-/g, '_').toLowerCase();
}

/** The effective value of a parameter: the last occurrence wins. null when absent; {value: undefined} for a bare flag. */
export function paramOf(params: readonly KernelParam[], key: string): { value: string | undefined; raw: string } | null {
  const k = normKey(key);
  let hit: KernelParam | null = null;
  for (const p of params) if (normKey(p.key) === k) hit = p;
  return hit ? { value: hit.value, raw: formatKernelParam(hit) } : null;
}

export function formatKernelParam(p: KernelParam): string {
  return p.value === undefined ? p.key : `${p.key}=${p.value}`;
}

/** Values of a comma-separated option parameter (intel_iommu=on,sm_on). */
export function optionValues(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

/** kstrtobool: y/Y/1/on are true, n/N/0/off false. */
export function kernelBool(value: string | undefined | null): boolean | null {
  if (value === undefined || value === null) return null;
  const v = value.trim().toLowerCase();
  if (['y', 'yes', '1', 'on', 'true'].includes(v)) return true;
  if (['n', 'no', '0', 'off', 'false'].includes(v)) return false;
  return null;
}

export const INTEL_IOMMU_VALUES = new Set(['on', 'off', 'igfx_off', 'forcedac', 'strict', 'sp_off', 'sm_on', 'sm_off', 'tboot_noforce']);
export const AMD_IOMMU_VALUES = new Set(['fullflush', 'force_enable', 'off', 'force_isolation', 'pgtbl_v1', 'pgtbl_v2', 'irtcachedis', 'nohugepages', 'v2_pgsizes_only']);
export const X86_IOMMU_VALUES = new Set(['off', 'force', 'noforce', 'biomerge', 'panic', 'nopanic', 'merge', 'nomerge', 'soft', 'pt', 'nopt', 'forcesac', 'allowdac', 'nodac', 'usedac', 'calgary', 'memaper', 'noagp', 'noaperture', 'fullflush', 'nofullflush', 'leak', 'allowed']);

/** Parameters vfioctl knows, for typo detection (normalised). */
const KNOWN_KEYS = [
  'intel_iommu', 'amd_iommu', 'iommu', 'intremap', 'nointremap', 'pcie_acs_override', 'amd_iommu_intr', 'amd_iommu_dump',
  'iommu.passthrough', 'iommu.strict', 'iommu.forcedac', 'vfio_pci.ids', 'vfio_pci.disable_vga', 'vfio_pci.disable_idle_d3',
  'vfio_pci.nointxmask', 'vfio_pci.disable_denylist', 'vfio_iommu_type1.allow_unsafe_interrupts', 'vfio_iommu_type1.dma_entry_limit',
  'vfio.enable_unsafe_noiommu_mode', 'kvm.ignore_msrs', 'kvm.report_ignored_msrs', 'kvm_amd.npt', 'kvm_intel.nested', 'kvm_amd.nested',
  'intel_pstate', 'amd_pstate', 'ivrs_ioapic', 'ivrs_hpet', 'ivrs_acpihid', 'swiotlb', 'pci', 'pcie_aspm', 'pcie_ports',
].map(normKey);

/** Keys that typos are measured against (the ones whose misspelling silently breaks passthrough). */
const TYPO_TARGETS = ['intel_iommu', 'amd_iommu', 'iommu', 'intremap', 'pcie_acs_override', 'vfio_pci.ids', 'vfio_iommu_type1.allow_unsafe_interrupts', 'iommu.passthrough', 'vfio_pci.disable_vga', 'vfio_pci.disable_idle_d3'].map(normKey);

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** The known parameter a key is probably a misspelling of, or null. */
export function likelyTypo(key: string): string | null {
  const k = normKey(key);
  if (KNOWN_KEYS.includes(k)) return null;
  // "intel_iommu_on" (the "=" forgotten) and "intel_iommu:on" style slips
  for (const t of TYPO_TARGETS) {
    if (k.startsWith(t) && k.length > t.length && /^[_:.]?(on|off|pt|1|y)$/.test(k.slice(t.length))) return t;
  }
  let best: { t: string; d: number } | null = null;
  for (const t of TYPO_TARGETS) {
    const d = editDistance(k, t);
    const limit = t.length <= 6 ? 1 : 2;
    if (d > 0 && d <= limit && (!best || d < best.d)) best = { t, d };
  }
  return best ? best.t : null;
}

/** Keys whose value differences between configured and running command lines matter to passthrough. */
export function isRelevantKey(key: string): boolean {
  const k = normKey(key);
  return /^(intel_iommu|amd_iommu|iommu|iommu\..+|intremap|nointremap|pcie_acs_override|amd_iommu_intr|vfio.*|kvm.*|rd\.driver\..+|modprobe\.blacklist|video|initcall_blacklist|module_blacklist|pci)$/.test(k);
}

export interface ParamDifference {
  key: string;
  configured: string | null;
  running: string | null;
}

/** Relevant parameters whose effective value differs between a configured and the running command line. */
export function cmdlineDifferences(configured: readonly KernelParam[], running: readonly KernelParam[]): ParamDifference[] {
  const keys = new Map<string, string>();
  for (const p of [...configured, ...running]) if (isRelevantKey(p.key) && !keys.has(normKey(p.key))) keys.set(normKey(p.key), p.key);
  const out: ParamDifference[] = [];
  for (const [, key] of keys) {
    const c = paramOf(configured, key);
    const r = paramOf(running, key);
    if (c?.raw.replace(/^[^=]*/, '') === r?.raw.replace(/^[^=]*/, '') && !!c === !!r) continue;
    out.push({ key, configured: c?.raw ?? null, running: r?.raw ?? null });
  }
  return out;
}
