/** The VFIO platform section of `show --json` (docs/json.md): one function's driver, migration and BARs. */
import type { PciFunction, PciInventory } from '../model/pci-function.js';
import type { ShowPlatform } from '../model/reports.js';
import type { VfioPlatformFacts } from '../model/vfio-platform.js';
import { functionMigration, plannedDriver } from '../core/vfio-platform.js';
import { VFIO_DRIVERS } from '../model/vfio-platform.js';

export function showPlatform(f: PciFunction, facts: VfioPlatformFacts): ShowPlatform {
  const fn = facts.functions.find((x) => x.address === f.address);
  const d = plannedDriver(fn, f.address, null);
  const m = functionMigration(d, fn, facts.iommufd.kernelRelease);
  const rebar = f.capabilities.rebar;
  const extUnknown = f.unknown.some((u) => u.fact === 'capabilities.extended' || u.fact === 'capabilities');
  return {
    modalias: fn?.modalias ?? null,
    vfioDriver: d.driver,
    vfioDriverBy: d.by,
    alias: d.alias,
    migration: { verdict: m.verdict, dirtyTracking: m.dirtyTracking, debugfsState: m.debugfsState, debugfsFeatures: m.debugfsFeatures, reason: m.reason },
    bars: fn && fn.bars.state === 'ok' ? fn.bars.value : null,
    resizableBars: rebar
      ? rebar.bars.map((b) => ({ ...b, resizeFile: fn?.resize.find((r) => r.index === b.bar)?.value ?? null }))
      : extUnknown ? null : [],
  };
}

/**
 * The VFIO driver each function runs on when a guest starts, for lint: the VFIO driver it is bound to
 * now (vfio-pci or a variant), else the best one modules.alias names (what libvirt 10.0+ binds).
 */
export function lintVfioDrivers(inv: PciInventory, facts: VfioPlatformFacts, addresses: readonly string[]): Record<string, { driver: string; migration: 'supported' | 'not-supported' | 'unknown'; reason: string }> {
  const out: Record<string, { driver: string; migration: 'supported' | 'not-supported' | 'unknown'; reason: string }> = {};
  const known = new Set(Object.values(VFIO_DRIVERS).map((d) => d.driver));
  for (const f of inv.functions) {
    if (f.isBridge || !addresses.includes(f.address)) continue;
    const fn = facts.functions.find((x) => x.address === f.address);
    const now = f.driver && known.has(f.driver) ? f.driver : null;
    const d = plannedDriver(fn, f.address, now);
    const m = functionMigration(d, fn, facts.iommufd.kernelRelease);
    out[f.address] = { driver: d.driver, migration: m.verdict, reason: m.reason };
  }
  return out;
}
