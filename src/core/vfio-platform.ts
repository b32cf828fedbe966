/**
 * Judgements over the VFIO platform facts (src/model/vfio-platform.ts), pure: which device backends this
 * host offers (legacy type1 container, iommufd with the VFIO device file), which one a plan uses
 * (`--backend auto|iommufd|legacy`, auto from the host and the libvirt/QEMU versions), the VFIO driver
 * each claimed function is bound to (a variant driver from modules.alias unless `--driver vfio-pci`),
 * whether each function can be live-migrated, and what the guest's address space needs for its BARs.
 * Versions and sources: docs/platform.md.
 */
import type { Finding } from '../model/finding.js';
import type { PciAddressString } from '../model/pci-address.js';
import type { PlanContext, PlanPlatform, PlanRequest } from '../model/plan.js';
import {
  type BackendChoice, type BackendSupport, type FunctionVfioFacts, type GuestAddressing, type IommufdFacts, type VfioBackend,
  type VfioDriverInfo, type VfioPlatformFacts, VERSIONS, VFIO_DRIVERS, compareVersions, formatBytes, guestAddressing, triValue,
} from '../model/vfio-platform.js';

/** What the host offers for the legacy container and for iommufd (yes / no / unknown, with the evidence). */
export function backendSupport(f: IommufdFacts): BackendSupport[] {
  const ev = (source: string, value: string): { source: string; value: string } => ({ source, value });
  const legacyEv = [ev(f.devVfioContainer.source, f.devVfioContainer.state === 'ok' && f.devVfioContainer.value ? 'present' : 'absent'), ev(f.configContainer.source, f.configContainer.state === 'ok' ? `CONFIG_VFIO_CONTAINER=${f.configContainer.value}` : 'CONFIG_VFIO_CONTAINER unknown')];
  const containerCfg = triValue(f.configContainer);
  const containerDev = triValue(f.devVfioContainer);
  let legacy: BackendSupport;
  if (containerDev) legacy = { backend: 'legacy', supported: true, reason: '/dev/vfio/vfio is present (the type1 container)', evidence: legacyEv };
  else if (containerCfg === 'y' || containerCfg === 'm') legacy = { backend: 'legacy', supported: true, reason: 'the kernel is built with the VFIO container (it appears when vfio is loaded)', evidence: legacyEv };
  else if (containerCfg === 'n') legacy = { backend: 'legacy', supported: triValue(f.configIommufd) === 'y' || triValue(f.configIommufd) === 'm' ? true : false, reason: 'CONFIG_VFIO_CONTAINER is not set: the container is iommufd\'s compatibility layer (if IOMMUFD_VFIO_CONTAINER)', evidence: legacyEv };
  else legacy = { backend: 'legacy', supported: null, reason: 'neither /dev/vfio/vfio (vfio not loaded?) nor the kernel config says', evidence: legacyEv };

  const cdev = triValue(f.configDeviceCdev);
  const ioCfg = triValue(f.configIommufd);
  const files = triValue(f.deviceFiles) ?? [];
  const devIommu = triValue(f.devIommu) === true;
  const ioEv = [
    ev(f.devIommu.source, devIommu ? 'present' : 'absent'),
    ev(f.deviceFiles.source, f.deviceFiles.state === 'ok' ? (files.join(' ') || '(empty)') : f.deviceFiles.state),
    ev(f.configIommufd.source, f.configIommufd.state === 'ok' ? `CONFIG_IOMMUFD=${ioCfg}` : 'CONFIG_IOMMUFD unknown'),
    ev(f.configDeviceCdev.source, f.configDeviceCdev.state === 'ok' ? `CONFIG_VFIO_DEVICE_CDEV=${cdev}` : 'CONFIG_VFIO_DEVICE_CDEV unknown'),
    ev('iommufd module', f.module),
  ];
  let iommufd: BackendSupport;
  if (cdev === 'n' || ioCfg === 'n') iommufd = { backend: 'iommufd', supported: false, reason: `the kernel is built without ${ioCfg === 'n' ? 'CONFIG_IOMMUFD' : 'CONFIG_VFIO_DEVICE_CDEV'} (the VFIO device file needs kernel ${VERSIONS.kernelDeviceCdev} or later with both)`, evidence: ioEv };
  else if (devIommu && (cdev === 'y' || files.length > 0 || (triValue(f.vfioDevClass) ?? []).length > 0)) iommufd = { backend: 'iommufd', supported: true, reason: '/dev/iommu and the VFIO device files are available', evidence: ioEv };
  else if (cdev === 'y' && (ioCfg === 'y' || ioCfg === 'm')) iommufd = { backend: 'iommufd', supported: true, reason: `the kernel has CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV${devIommu ? '' : ` (/dev/iommu appears once the iommufd module is loaded${f.module === 'available' ? ': modprobe iommufd' : ''})`}`, evidence: ioEv };
  else if (devIommu) iommufd = { backend: 'iommufd', supported: null, reason: '/dev/iommu is present but whether the kernel offers the VFIO device file (CONFIG_VFIO_DEVICE_CDEV) is unknown', evidence: ioEv };
  else iommufd = { backend: 'iommufd', supported: null, reason: 'neither /dev/iommu nor the kernel config tells whether iommufd and the VFIO device file are available', evidence: ioEv };
  return [legacy, iommufd];
}

export interface BackendDecision {
  requested: BackendChoice;
  backend: VfioBackend;
  /** libvirt's form of iommufd: per hostdev (12.1+) or domain-wide (12.2+); null for legacy */
  libvirtForm: 'hostdev' | 'domain' | null;
  reasons: string[];
}

export interface ToolVersions {
  libvirt: string | null;
  qemu: string | null;
}

/**
 * The backend a plan renders. `legacy` and `iommufd` are taken as asked (iommufd on a host that does not
 * offer it is a finding, not a silent switch). `auto` picks iommufd only when the host offers it AND
 * QEMU is known to be 9.0+ AND libvirt is known to be 12.1+; any unknown version keeps legacy.
 */
export function chooseBackend(requested: BackendChoice, support: BackendSupport[], versions: ToolVersions): BackendDecision {
  const io = support.find((s) => s.backend === 'iommufd')!;
  const libvirtDomain = compareVersions(versions.libvirt, VERSIONS.libvirtDomainIommufd);
  const form: BackendDecision['libvirtForm'] = libvirtDomain !== null && libvirtDomain >= 0 ? 'domain' : 'hostdev';
  if (requested === 'legacy') return { requested, backend: 'legacy', libvirtForm: null, reasons: ['--backend legacy'] };
  if (requested === 'iommufd') return { requested, backend: 'iommufd', libvirtForm: form, reasons: ['--backend iommufd'] };
  const why: string[] = [];
  if (io.supported !== true) why.push(io.supported === false ? `this host does not offer iommufd: ${io.reason}` : `whether this host offers iommufd is unknown: ${io.reason}`);
  const q = compareVersions(versions.qemu, VERSIONS.qemuIommufd);
  if (q === null) why.push(`the QEMU version is unknown (iommufd needs QEMU ${VERSIONS.qemuIommufd} or later; pass --qemu-version)`);
  else if (q < 0) why.push(`QEMU ${versions.qemu} is older than ${VERSIONS.qemuIommufd}`);
  const l = compareVersions(versions.libvirt, VERSIONS.libvirtHostdevIommufd);
  if (l === null) why.push(`the libvirt version is unknown (iommufd hostdevs need libvirt ${VERSIONS.libvirtHostdevIommufd} or later; pass --libvirt-version)`);
  else if (l < 0) why.push(`libvirt ${versions.libvirt} is older than ${VERSIONS.libvirtHostdevIommufd}`);
  if (why.length) return { requested, backend: 'legacy', libvirtForm: null, reasons: why };
  return { requested, backend: 'iommufd', libvirtForm: form, reasons: [io.reason, `QEMU ${versions.qemu}`, `libvirt ${versions.libvirt}`] };
}

/** The VFIO driver a function is bound to: the best variant driver, or vfio-pci (forced with --driver vfio-pci). */
export interface PlannedVfioDriver {
  address: PciAddressString;
  /** the driver name written to driver_override */
  driver: string;
  module: string;
  /** how it was chosen */
  by: 'modules.alias' | 'default' | 'option' | 'unknown';
  /** the modules.alias pattern that matched */
  alias: string | null;
  info: VfioDriverInfo | null;
}

export function plannedDriver(fn: FunctionVfioFacts | undefined, address: PciAddressString, override: string | null): PlannedVfioDriver {
  const vfio = VFIO_DRIVERS.vfio_pci!;
  if (override) {
    const module = override.replace(/-/g, '_');
    return { address, driver: VFIO_DRIVERS[module]?.driver ?? override, module, by: 'option', alias: null, info: VFIO_DRIVERS[module] ?? null };
  }
  if (fn?.match && fn.match.module !== 'vfio_pci') {
    return { address, driver: fn.match.driver, module: fn.match.module, by: 'modules.alias', alias: fn.match.pattern, info: VFIO_DRIVERS[fn.match.module] ?? null };
  }
  return { address, driver: vfio.driver, module: vfio.module, by: fn && fn.matchState !== 'unknown' ? 'default' : 'unknown', alias: fn?.match?.pattern ?? null, info: vfio };
}

export type MigrationVerdict = 'supported' | 'not-supported' | 'unknown';

export interface FunctionMigration {
  address: PciAddressString;
  driver: string;
  verdict: MigrationVerdict;
  /** how dirty pages are tracked: by the device, by the IOMMU (needs iommufd), none (QEMU marks all pinned memory dirty) */
  dirtyTracking: 'device' | 'iommu' | 'none' | null;
  /** the kernel's debugfs migration state/features, when read */
  debugfsState: string | null;
  debugfsFeatures: string | null;
  reason: string;
}

/** Whether a function bound to `driver` can be live-migrated, from the driver table and debugfs. */
export function functionMigration(planned: PlannedVfioDriver, fn: FunctionVfioFacts | undefined, kernelRelease: string | null): FunctionMigration {
  const dbgState = fn?.debugfs?.state.state === 'ok' ? fn.debugfs.state.value : null;
  const dbgFeatures = fn?.debugfs?.features.state === 'ok' ? fn.debugfs.features.value : null;
  const base = { address: planned.address, driver: planned.driver, debugfsState: dbgState, debugfsFeatures: dbgFeatures };
  if (dbgState !== null) {
    const mig = planned.info?.migration;
    return { ...base, verdict: 'supported', dirtyTracking: mig?.dirtyTracking ?? null, reason: `the kernel reports a VFIO migration state for it (${dbgState})` };
  }
  if (planned.by === 'unknown') return { ...base, verdict: 'unknown', dirtyTracking: null, reason: 'the kernel\'s modules.alias was not read, so whether a migration-capable variant driver exists for it is unknown' };
  const info = planned.info;
  if (!info) return { ...base, verdict: 'unknown', dirtyTracking: null, reason: `${planned.driver} is not a driver vfioctl knows` };
  if (!info.migration) return { ...base, verdict: 'not-supported', dirtyTracking: null, reason: `${planned.driver} does not implement VFIO migration` };
  const since = info.migration.since;
  const cmp = since ? compareVersions(kernelRelease, since) : null;
  if (since && cmp !== null && cmp < 0) return { ...base, verdict: 'not-supported', dirtyTracking: null, reason: `${planned.driver} migrates from kernel ${since}; this host runs ${kernelRelease}` };
  return { ...base, verdict: 'supported', dirtyTracking: info.migration.dirtyTracking, reason: `${planned.driver} implements VFIO migration${since ? ` (kernel ${since}+)` : ''}` };
}

/** Findings the doctor adds: the backends this host offers, and iommufd's BAR mapping limit before dma-buf. */
export function checkVfioHost(f: VfioPlatformFacts): Finding[] {
  const out: Finding[] = [];
  const support = backendSupport(f.iommufd);
  const word = (s: BackendSupport): string => (s.supported === true ? 'yes' : s.supported === false ? 'no' : 'unknown');
  const [legacy, io] = support as [BackendSupport, BackendSupport];
  out.push({
    id: 'vfio-backends',
    severity: legacy.supported === false && io.supported !== true ? 'warn' : 'info',
    summary: `VFIO device backends: legacy type1 container ${word(legacy)}, iommufd with the VFIO device file ${word(io)}`,
    detail: `legacy: ${legacy.reason}; iommufd: ${io.reason}`,
    evidence: [...legacy.evidence, ...io.evidence],
    ...(io.supported === null ? { remedy: `iommufd needs kernel ${VERSIONS.kernelDeviceCdev}+ built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV; check ${f.iommufd.configDeviceCdev.source}, or ls /dev/iommu /dev/vfio/devices after modprobe iommufd vfio-pci` } : {}),
    category: 'vfio',
    fact: { id: 'vfio-backends', value: `legacy=${word(legacy)} iommufd=${word(io)}` },
  });
  if (io.supported !== false) {
    const rel = f.iommufd.kernelRelease;
    const cmp = compareVersions(rel, VERSIONS.kernelDmabufP2p);
    if (cmp === null || cmp < 0) {
      out.push({
        id: 'iommufd-bar-mapping',
        severity: 'info',
        summary: `under iommufd, kernels before ${VERSIONS.kernelDmabufP2p} cannot map device BARs into the guest's IOMMU address space (${rel ? `this host runs ${rel}` : 'the kernel release is unknown'}): peer-to-peer DMA between assigned devices does not work there, and QEMU logs "IOMMU_IOAS_MAP failed: Bad address" for large BARs`,
        evidence: [{ source: '/proc/sys/kernel/osrelease', value: rel ?? 'unknown' }],
        remedy: `keep the legacy backend (--backend legacy) for guests whose devices talk to each other (multi-GPU, GPU + NIC RDMA), or run kernel ${VERSIONS.kernelDmabufP2p}+ (vfio-pci dma-buf export)`,
        category: 'vfio',
      });
    }
  }
  return out;
}

/** The per-device facts plan and show report. */
export interface FunctionPlatform {
  address: PciAddressString;
  vfioDriver: PlannedVfioDriver;
  migration: FunctionMigration;
}

export function functionPlatforms(addresses: readonly PciAddressString[], f: VfioPlatformFacts | null, overrides: Record<string, string>): FunctionPlatform[] {
  const byAddr = new Map((f?.functions ?? []).map((x) => [x.address as string, x]));
  return addresses.map((a) => {
    const fn = byAddr.get(a);
    const vfioDriver = plannedDriver(f ? fn : undefined, a, overrides[a] ?? null);
    return { address: a, vfioDriver, migration: functionMigration(vfioDriver, fn, f?.iommufd.kernelRelease ?? null) };
  });
}

/** The guest address space the claimed functions' BARs need. */
export function planAddressing(addresses: readonly PciAddressString[], f: VfioPlatformFacts | null): GuestAddressing {
  const byAddr = new Map((f?.functions ?? []).map((x) => [x.address as string, x]));
  const limit = f ? minOf(f.cpuPhysBits, f.iommuAddressBits) : null;
  return guestAddressing(addresses.map((a) => ({ address: a, bars: triValue(byAddr.get(a)?.bars ?? { state: 'unknown', source: '', reason: '' }) })), limit);
}

function minOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

export { formatBytes };

// ---------------------------------------------------------------------------------------------------
// The plan's platform section and findings


type NewFinding = Omit<Finding, 'evidence'> & { evidence?: Finding['evidence'] };

/**
 * The plan's platform section (backend, VFIO driver and migration per function, guest addressing) and
 * the findings that state it: the migration finding per device (replacing "assigned devices never
 * migrate"), the variant drivers and what must happen before binding them, and large BARs.
 */
export function planPlatform(claim: readonly PciAddressString[], request: PlanRequest, context: PlanContext): { platform: PlanPlatform; findings: NewFinding[] } {
  const f = context.vfio ?? null;
  const findings: NewFinding[] = [];
  const overrides: Record<string, string> = {};
  if (request.driver) for (const a of claim) overrides[a] = request.driver;
  const fps = functionPlatforms(claim, f, overrides);
  const support = f ? backendSupport(f.iommufd) : null;
  const versions = context.versions ?? { libvirt: null, qemu: null };
  const decision = chooseBackend(request.backend ?? 'auto', support ?? backendSupport(unknownIommufd()), versions);
  const addressing = planAddressing(claim, f);

  // ---- migration, per device
  if (claim.length) {
    const blocked = fps.filter((p) => p.migration.verdict !== 'supported');
    if (!blocked.length) {
      const iommuDirty = fps.filter((p) => p.migration.dirtyTracking === 'iommu');
      const deviceDirty = fps.filter((p) => p.migration.dirtyTracking === 'device');
      findings.push({
        id: 'live-migration-possible',
        severity: 'info',
        summary: `every assigned function uses a driver with VFIO migration (${[...new Set(fps.map((p) => p.vfioDriver.driver))].join(', ')}): the guest can be live-migrated with QEMU ${VERSIONS.qemuVfioMigration}+ to a host with the same devices and drivers`,
        evidence: fps.map((p) => ({ source: p.migration.debugfsState !== null ? `sys/kernel/debug/vfio/.../migration/state (${p.address})` : `${p.vfioDriver.driver} (${p.address})`, value: p.migration.debugfsState ?? p.migration.reason })),
        remedy: 'migrate with virsh migrate --live; both hosts need the same variant driver bound before the guest starts',
        subjects: fps.map((p) => p.address),
        category: 'guest',
        fact: { id: 'live-migration', value: 'possible' },
      });
      if (iommuDirty.length && decision.backend !== 'iommufd') {
        findings.push({
          id: 'migration-needs-iommufd',
          severity: 'warn',
          summary: `${iommuDirty.map((p) => `${p.address} (${p.vfioDriver.driver})`).join(', ')} track dirty pages through the IOMMU, which only the iommufd backend offers: under the legacy backend migration copies all guest memory at stop time`,
          remedy: 'plan with --backend iommufd (QEMU 9.0+, libvirt 12.1+, kernel with CONFIG_VFIO_DEVICE_CDEV)',
          subjects: iommuDirty.map((p) => p.address),
          category: 'guest',
        });
      }
      if (deviceDirty.length && request.nested) {
        findings.push({
          id: 'migration-viommu',
          severity: 'warn',
          summary: 'QEMU blocks migration of a guest with a virtual IOMMU when a device tracks dirty pages itself (it cannot compute the IOVA ranges): nested assignment and live migration do not go together here',
          subjects: deviceDirty.map((p) => p.address),
          category: 'guest',
        });
      }
    } else {
      const unknown = blocked.filter((p) => p.migration.verdict === 'unknown');
      findings.push({
        id: 'no-live-migration',
        severity: 'info',
        summary: `the guest cannot be live-migrated: ${blocked.map((p) => `${p.address} ${p.migration.verdict === 'unknown' ? `(unknown: ${p.migration.reason})` : `(${p.migration.reason})`}`).join('; ')}; plan maintenance as shut down and start`,
        evidence: blocked.map((p) => ({ source: `${p.vfioDriver.driver} (${p.address})`, value: p.migration.verdict })),
        ...(unknown.length ? { remedy: 'plan on the host itself (it reads modules.alias and the kernel\'s vfio debugfs) to know whether a migration-capable variant driver exists' } : {}),
        subjects: blocked.map((p) => p.address),
        category: 'guest',
        fact: { id: 'live-migration', value: unknown.length === blocked.length ? 'unknown' : 'blocked' },
      });
    }
  }

  // ---- variant drivers
  for (const p of fps) {
    const d = p.vfioDriver;
    if (d.by === 'modules.alias') {
      findings.push({
        id: 'vfio-variant-driver',
        severity: d.info?.before ? 'warn' : 'info',
        summary: `${p.address} binds to the VFIO variant driver ${d.driver} (modules.alias: ${d.alias}) instead of vfio-pci${d.info?.migration ? '; it supports live migration' : ''}${d.info?.before ? `; before binding: ${d.info.before}` : ''}`,
        evidence: [{ source: `lib/modules/${f?.iommufd.kernelRelease ?? 'RELEASE'}/modules.alias`, value: `alias ${d.alias} ${d.module}` }],
        remedy: `pass --driver vfio-pci to keep the generic driver${d.info?.before ? `; ${d.info.before}` : ''}`,
        subjects: [p.address],
        category: 'binding',
      });
    } else if (d.by === 'option' && d.module !== 'vfio_pci' && !VFIO_DRIVERS[d.module]) {
      findings.push({
        id: 'vfio-driver-unknown',
        severity: 'warn',
        summary: `${p.address}: --driver ${d.driver} is not a VFIO driver vfioctl knows; the bind fails unless that driver is loaded and claims the device`,
        subjects: [p.address],
        category: 'binding',
      });
    }
  }

  // ---- large BARs and guest address width
  if (addressing.hole64 !== null) {
    const tooWide = addressing.hostLimitBits !== null && addressing.physBits !== null && addressing.physBits > addressing.hostLimitBits;
    findings.push({
      id: 'large-bars',
      severity: tooWide ? 'warn' : 'info',
      summary: `the claimed functions' 64-bit BARs total ${formatBytes(addressing.mmio64)} (largest ${formatBytes(addressing.largestBar)}), more than q35's default 64-bit PCI hole (32 GiB): the guest needs a ${formatBytes(addressing.hole64)} hole and ${addressing.physBits} physical address bits${tooWide ? `, but this host offers ${addressing.hostLimitBits}` : ''}`,
      evidence: [{ source: 'sys/bus/pci/devices/*/resource', value: `64-bit BARs ${formatBytes(addressing.mmio64)}` }, ...(addressing.hostLimitBits !== null ? [{ source: 'proc/cpuinfo address sizes, sys/class/iommu/*/intel-iommu/cap (MGAW)', value: `${addressing.hostLimitBits} bits` }] : [])],
      remedy: tooWide
        ? 'the guest cannot map these BARs on this host: pass fewer devices, or shrink a resizable BAR (resourceN_resize) before binding'
        : "vfioctl render libvirt adds <maxphysaddr mode='passthrough'/> (host-passthrough CPU) and <pcihole64> on the pcie-root controller; render qemu adds host-phys-bits and q35-pcihost.pci-hole64-size",
      subjects: [...claim],
      category: 'guest',
    });
  }
  if (f && addressing.unknownBars.length) {
    findings.push({
      id: 'bars-unknown',
      severity: 'info',
      summary: `the BAR sizes of ${addressing.unknownBars.join(', ')} were not read: whether the guest needs a wider address space is unknown`,
      remedy: 'read sys/bus/pci/devices/ADDR/resource as root (plan on the host itself)',
      subjects: addressing.unknownBars,
      category: 'guest',
    });
  }

  // ---- backend
  const io = support?.find((s) => s.backend === 'iommufd') ?? null;
  if (decision.requested === 'iommufd' && io && io.supported !== true) {
    findings.push({
      id: 'iommufd-unavailable',
      severity: 'warn',
      summary: `--backend iommufd, but ${io.supported === false ? 'this host does not offer it' : 'whether this host offers it is unknown'}: ${io.reason}`,
      evidence: io.evidence,
      remedy: 'use --backend legacy (or auto) here, or render for a host that has /dev/iommu and /dev/vfio/devices',
      category: 'vfio',
    });
  }
  if (decision.backend === 'iommufd' && claim.length > 1 && BigInt(addressing.mmio64) > 0n) {
    const rel = f?.iommufd.kernelRelease ?? null;
    const cmp = compareVersions(rel, VERSIONS.kernelDmabufP2p);
    if (cmp === null || cmp < 0) {
      findings.push({
        id: 'iommufd-bar-mapping',
        severity: 'info',
        summary: `the plan uses iommufd on ${rel ? `kernel ${rel}` : 'a kernel of unknown release'}: before ${VERSIONS.kernelDmabufP2p} the devices' BARs are not mapped for each other, so peer-to-peer DMA between ${claim.length} assigned functions does not work`,
        remedy: `pass --backend legacy if the devices talk to each other (multi-GPU, GPU + RDMA NIC), or run kernel ${VERSIONS.kernelDmabufP2p}+`,
        subjects: [...claim],
        category: 'vfio',
      });
    }
  }
  const platform: PlanPlatform = {
    backend: { requested: decision.requested, chosen: decision.backend, libvirtForm: decision.libvirtForm, reasons: decision.reasons, support },
    functions: fps.map((p) => ({
      address: p.address,
      vfioDriver: p.vfioDriver.driver,
      vfioDriverBy: p.vfioDriver.by,
      alias: p.vfioDriver.alias,
      before: p.vfioDriver.info?.before ?? null,
      migration: { verdict: p.migration.verdict, dirtyTracking: p.migration.dirtyTracking, debugfsState: p.migration.debugfsState, debugfsFeatures: p.migration.debugfsFeatures, reason: p.migration.reason },
    })),
    addressing,
  };
  return { platform, findings };
}

function unknownIommufd(): IommufdFacts {
  const u = { state: 'unknown' as const, source: 'not read', reason: 'the host was not read (an imported listing)' };
  return { devIommu: u, deviceFiles: u, vfioDevClass: u, configIommufd: u, configDeviceCdev: u, configContainer: u, module: 'unknown', devVfioContainer: u, kernelRelease: null };
}
