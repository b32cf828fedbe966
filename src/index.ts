/**
 * vfioctl as a library: the model, the host reader, the pure core, the renderers and the applier that
 * the CLI (and any other front end) call. Everything reads a host through a HostRoot, so a captured or
 * synthetic tree works the same as a live /.
 */
// model: types and pure parsers
export * from './model/errors.js';
export * from './model/pci-address.js';
export * from './model/pci-function.js';
export * from './model/pci-config.js';
export * from './model/pci-class.js';
export * from './model/pci-ids.js';
export * from './model/groups.js';
export * from './model/finding.js';
export * from './model/import-listing.js';
export * from './model/host-facts.js';
export * from './model/host-impact.js';
export * from './model/plan.js';

// host: the only code that touches the host's files
export { HostRoot, openHostRoot, type ReadResult, type ReadProblem, type PciAttr } from './host/host-root.js';
export { readInventory, type ReadInventoryOptions, Fill, type FillMask, FILL_ALL, FILL_LS, FILL_LS_JSON, FILL_GROUPS, fillOf } from './host/read-inventory.js';
export { readPciIds } from './host/read-pci-ids.js';
export { readHostFacts } from './host/read-host-facts.js';
export { readHostImpact } from './host/read-host-impact.js';
export { captureSnapshot, openSnapshotArchive, type SnapshotManifest } from './host/snapshot.js';

// core: pure judgements
export * from './core/doctor.js';
export * from './core/explain.js';
export * from './core/plan.js';
export * from './core/host-impact.js';
export * from './core/lint-guest.js';

// adapters: renderers, boot tooling, libvirt
export { renderPlan } from './adapters/render/index.js';
export { detectBootTooling } from './host/detect-boot.js';

// apply: journaled, verified, reversible changes
export * from './apply/bind.js';
export * from './apply/recover.js';

// session: the library as a front end uses it (src/service/session.ts)
export {
  openSession,
  Session,
  UNSAFE_WARNING,
  type SessionOptions,
  type SessionRuntime,
  type PlanInput,
  type PlanReport,
  type DoctorInput,
  type DoctorReport,
  type StatusReport,
  type Change,
  type ChangeResult,
  type ApplyOptions,
  type Env,
} from './service/session.js';
export { composePlan, type ComposedPlan } from './service/compose.js';
export { configPlanOf, effectCommand, stepsOfConfigPlan, type ConfigSource } from './service/config-plan.js';
export { listSamples, sampleRoot, DEFAULT_SAMPLE } from './service/samples.js';
export { versionReport, buildKind } from './service/build-info.js';
export { selfCheck, selfCheckExitCode } from './service/self-check.js';
export { isSingleExecutable, embeddedAsset } from './host/embedded.js';
export { inventoryReport, groupsReport, showReport, groupView, findFunction, deviceName, acsEnabled, type GroupView } from './service/views.js';
export { parseDomainCapabilities, type DomainCapabilities } from './adapters/libvirt/domcaps.js';

export { main as runCli } from './cli/main.js';
