/** The host facts explain cites: small lookups over HostFacts and the inventory (pure). */
import type { Evidence } from '../model/finding.js';
import type { HostFacts } from '../model/host-facts.js';
import type { PciFunction, PciInventory } from '../model/pci-function.js';
import { factUnknown, unknownText } from '../model/pci-function.js';
import { hostVendor, interruptRemappingState } from './doctor.js';
import { framebuffersInBars, resetMethods } from './doctor-device.js';
import { formatKernelParam, normKey } from './doctor-cmdline.js';
import { hostPath } from './doctor-remedy.js';

export interface ExplainContext {
  m: RegExpExecArray;
  /** the line that matched */
  text: string;
  facts: HostFacts | undefined;
  inventory: PciInventory | undefined;
  /** PCI addresses named in the line (canonical) */
  addresses: string[];
}

export function ev(source: string, value: string): Evidence {
  return { source, value };
}

export { hostPath };

export function param(facts: HostFacts, key: string): string | null {
  const k = normKey(key);
  const hits = facts.kernel.params.filter((p) => normKey(p.key) === k);
  const last = hits[hits.length - 1];
  return last ? formatKernelParam(last) : null;
}

export function paramFacts(c: ExplainContext, keys: string[]): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  const out: Evidence[] = [];
  for (const k of keys) {
    const p = param(f, k);
    out.push(ev(f.kernel.cmdline.source, p ?? `(no ${k}= on the command line)`));
  }
  return out;
}

export function groupFacts(c: ExplainContext, group: number): Evidence[] {
  const inv = c.inventory;
  if (!inv) return [];
  const g = inv.groups.find((x) => x.id === group);
  if (!g) return [ev(hostPath(`sys/kernel/iommu_groups/${group}`), inv.groups.length ? '(no such group on this host)' : '(this host has no IOMMU groups)')];
  const byAddr = new Map(inv.functions.map((f) => [f.address, f]));
  return g.members.map((m) => {
    const f = byAddr.get(m.address);
    const drv = f?.driver ?? 'no driver';
    const verdict = m.role === 'bridge' ? 'bridge: stays on the host, fine' : f && factUnknown(f, 'driver') ? 'driver not known from this listing' : drv === 'vfio-pci' ? 'claimed by vfio-pci' : f?.driver ? `BLOCKS: on host driver ${drv}` : 'unbound (fine)';
    return ev(hostPath(`sys/kernel/iommu_groups/${group}/devices/${m.address}`), `${m.address} ${m.role}, ${verdict}`);
  });
}

export function fnOf(c: ExplainContext, a: string): PciFunction | undefined {
  return c.inventory?.functions.find((x) => x.address === a);
}

export function deviceFacts(c: ExplainContext, what: (f: PciFunction) => Evidence[]): Evidence[] {
  if (!c.inventory) return [];
  return c.addresses.flatMap((a) => {
    const f = fnOf(c, a);
    return f ? what(f) : [ev(hostPath(`sys/bus/pci/devices/${a}`), '(no such function on this host)')];
  });
}

export function vendorFact(f: PciFunction): Evidence {
  return ev(hostPath(`sys/bus/pci/devices/${f.address}/vendor`), `${f.vendorId}${f.vendorId === '10de' ? ' (NVIDIA)' : f.vendorId === '1002' ? ' (AMD)' : f.vendorId === '8086' ? ' (Intel)' : ''}`);
}

export function driverFact(f: PciFunction): Evidence {
  const u = factUnknown(f, 'driver');
  return ev(hostPath(`sys/bus/pci/devices/${f.address}/driver`), u ? unknownText(u) : f.driver ?? '(no driver)');
}

export function resetFact(c: ExplainContext, f: PciFunction): Evidence[] {
  if (!c.inventory) return [];
  const r = resetMethods(f, c.inventory);
  return [ev(hostPath(`sys/bus/pci/devices/${f.address}/${r.from === 'reset_method' ? 'reset_method' : 'config'}`), r.from === 'unknown' ? '(not readable)' : r.methods.join(' ') || '(none)')];
}

export function iommuFacts(c: ExplainContext): Evidence[] {
  const facts = c.facts;
  if (!facts) return [];
  const inv = c.inventory;
  const out: Evidence[] = [];
  if (inv) out.push(ev(hostPath('sys/kernel/iommu_groups'), inv.groups.length ? `${inv.groups.length} groups` : '(no groups: the kernel IOMMU is off)'));
  out.push(ev(hostPath('sys/firmware/acpi/tables'), facts.acpi.dmar ? 'DMAR present' : facts.acpi.ivrs ? 'IVRS present' : 'no DMAR/IVRS table'));
  for (const k of ['intel_iommu', 'amd_iommu', 'iommu']) {
    const p = param(facts, k);
    if (p) out.push(ev(facts.kernel.cmdline.source, p));
  }
  return out;
}

export function remappingFacts(c: ExplainContext): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  const ir = interruptRemappingState(f, hostVendor(f));
  const out = [ev('interrupt remapping', `${ir.state} (${ir.why})`), ...ir.evidence];
  const a = f.allowUnsafeInterrupts;
  out.push(ev(a.source, a.state === 'ok' ? a.value : `(${a.state})`));
  return out;
}

/** Firmware framebuffers (efifb, simplefb, simpledrm, vesafb) inside the BARs of the named or display devices. */
export function framebufferFacts(c: ExplainContext): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  const out: Evidence[] = [];
  if (f.iomem.state === 'ok') {
    const addrs = c.addresses.length ? c.addresses : (c.inventory?.functions.filter((x) => x.class.startsWith('03')).map((x) => x.address) ?? []);
    for (const a of addrs) for (const h of framebuffersInBars(f.iomem.value, a)) out.push(ev(f.iomem.source, `${a}: ${h.fb.name} at ${h.fb.start}-${h.fb.end} inside BAR ${h.bar.start}-${h.bar.end}`));
    if (!out.length) out.push(ev(f.iomem.source, 'no framebuffer inside a display device\'s BAR now'));
  } else out.push(ev(f.iomem.source, `(${f.iomem.state})`));
  for (const k of ['video', 'initcall_blacklist']) {
    const p = param(f, k);
    if (p) out.push(ev(f.kernel.cmdline.source, p));
  }
  return out;
}

export function memlockFacts(c: ExplainContext): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  if (!f.memlock.length) return [ev(hostPath('etc/security/limits.conf'), '(no memlock lines in limits.conf or limits.d)')];
  return f.memlock.map((l) => ev(`${hostPath(l.file)}:${l.line}`, `${l.domain} ${l.type} memlock ${l.value}`));
}

export function devVfioFact(c: ExplainContext): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  return [ev(f.devVfio.source, f.devVfio.state === 'ok' ? f.devVfio.value.join(' ') || '(empty)' : `(${f.devVfio.state})`)];
}

export function moduleFact(c: ExplainContext, name: string): Evidence[] {
  const f = c.facts;
  if (!f) return [];
  const m = f.modules;
  const out: Evidence[] = [];
  if (m.loaded.state === 'ok') out.push(ev(m.loaded.source, m.loaded.value.includes(name) ? `${name} loaded` : `${name} not loaded`));
  if (m.builtin.state === 'ok') out.push(ev(m.builtin.source, m.builtin.value.includes(name) ? `${name} built in` : `${name} not built in`));
  if (m.available.state === 'ok') out.push(ev(m.available.source, m.available.value.includes(name) ? `${name} available` : `${name} not available for this kernel`));
  return out;
}
