/** The VFIO platform section of `show --json` (docs/json.md): one function's driver, migration and BARs. */
import type { PciFunction } from '../model/pci-function.js';
import type { ShowPlatform } from '../model/reports.js';
import type { VfioPlatformFacts } from '../model/vfio-platform.js';
import { functionMigration, plannedDriver } from '../core/vfio-platform.js';

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
