/**
 * Composition of a pure passthrough plan (src/core/plan.ts) with this host: every step gets its concrete
 * effects, produced once, here, from the same planners the apply layer runs (src/apply/persist.ts for the
 * boot-time configuration, src/apply/bind.ts for the sysfs writes). What `plan`, `--dry-run` and
 * `render host-config` show is these effects; what `apply` carries out is these effects.
 */
import type { HostRoot } from '../host/host-root.js';
import type { BootTooling } from '../host/detect-boot.js';
import { formatArgv } from '../host/detect-boot.js';
import { commandEffect, effectCommand, fileEffect as fileEffectOf } from './config-plan.js';
import type { HostState } from '../apply/state.js';
import { newRunId } from '../apply/state.js';
import type { DeviceIdentity } from '../model/device-identity.js';
import { planKernelCmdline, planPersist, planUnsafeInterrupts, MODPROBE_FILE as MODPROBE_REL } from '../apply/persist.js';
import { bindWrites, previewBind } from '../apply/bind.js';
import { VfioctlError } from '../model/errors.js';
import { pciAddressOf } from '../model/pci-address.js';
import type { PassthroughPlan, PlanStep, StepEffect } from '../model/plan.js';

export type { ConfigSource } from './config-plan.js';
import type { ConfigSource } from './config-plan.js';

export interface ComposedPlan {
  plan: PassthroughPlan;
  /** where the persistent steps' effects came from (their state deltas and notes) */
  sources: ConfigSource[];
  notes: string[];
}

const PERSIST_STEPS = new Set(['modprobe-vfio', 'persist-driver-override', 'kernel-cmdline-vfio-ids', 'regenerate-initramfs']);


function sameArgv(a: readonly string[] | null | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

const STEP_TEMPLATES: Record<string, Omit<PlanStep, 'action'> & { action: PlanStep['action'] }> = {
  'persist-driver-override': { id: 'persist-driver-override', title: 'keep the functions on vfio-pci across reboots by address', kind: 'persistent', needsReboot: false, action: { type: 'per-address-override', addresses: [] } },
  'regenerate-initramfs': { id: 'regenerate-initramfs', title: 'regenerate the initramfs so vfio-pci claims the functions before their host drivers at boot', kind: 'persistent', needsReboot: true, action: { type: 'regenerate-initramfs', command: '' } },
  'modprobe-vfio': { id: 'modprobe-vfio', title: `write /${MODPROBE_REL}`, kind: 'persistent', needsReboot: false, action: { type: 'modprobe-conf', file: `/${MODPROBE_REL}`, content: '' } },
  'kernel-cmdline-vfio-ids': { id: 'kernel-cmdline-vfio-ids', title: 'vfio-pci is built into the kernel: vfio-pci.ids= on the kernel command line', kind: 'persistent', needsReboot: true, action: { type: 'kernel-cmdline', set: [], remove: [] } },
};

/** Which step of a persistence plan a file or command belongs to. */
function persistStepOfFile(rel: string, tooling: BootTooling): string {
  if (rel === MODPROBE_REL) return 'modprobe-vfio';
  if (rel.startsWith('etc/udev/') || rel.startsWith('etc/systemd/')) return 'persist-driver-override';
  if (rel === tooling.initramfs.modulesFile || rel.startsWith('etc/initramfs-tools/') || rel.startsWith('etc/dracut.conf.d/') || rel.startsWith('etc/mkinitcpio.conf.d/')) return 'regenerate-initramfs';
  return 'kernel-cmdline-vfio-ids';
}

function persistStepOfCommand(argv: readonly string[], tooling: BootTooling): string {
  if (sameArgv(tooling.initramfs.regenerate, argv)) return 'regenerate-initramfs';
  if (tooling.bootLoader.regenerate.some((r) => sameArgv(r, argv)) || argv[0] === 'grubby' || argv[0] === 'kernelstub') return 'kernel-cmdline-vfio-ids';
  return 'persist-driver-override';
}


export interface ComposeInput {
  host: HostRoot;
  tooling: BootTooling;
  state: HostState;
  allowUnsafeInterrupts: boolean;
  /** what each claimed address holds now (recorded with per-address persistence) */
  identities?: Record<string, DeviceIdentity>;
}

/**
 * Give every step of `plan` its effects on this host. Steps the persistence plan needs but the pure plan
 * did not name (e.g. the initramfs edit of a per-address binding) are added in order; a step whose
 * effects are empty is already in the intended state.
 */
export function composePlan(pure: PassthroughPlan, x: ComposeInput): ComposedPlan {
  const plan: PassthroughPlan = { ...pure, steps: pure.steps.map((s) => ({ ...s, action: { ...s.action } as PlanStep['action'] })) };
  const sources: ConfigSource[] = [];
  const notes: string[] = [];
  const { host, tooling } = x;
  const runId = newRunId();
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const ensure = (id: string): PlanStep => {
    let s = byId.get(id);
    if (!s) {
      const t = STEP_TEMPLATES[id]!;
      s = { ...t, action: { ...t.action } as PlanStep['action'] };
      // persistent steps come before the runtime ones
      const at = plan.steps.findIndex((p) => p.kind === 'runtime' || p.id === 'reboot' || p.id === 'attach-hostdevs');
      plan.steps.splice(at < 0 ? plan.steps.length : at, 0, s);
      byId.set(id, s);
    }
    s.effects ??= [];
    return s;
  };

  // enable-iommu: the kernel command line edit of this host's boot loader
  const iommu = byId.get('enable-iommu');
  if (iommu && iommu.action.type === 'enable-iommu') {
    try {
      const cp = planKernelCmdline(host, tooling, x.state, { enable: true, params: iommu.action.params }, runId);
      iommu.effects = [...cp.files.map((f) => fileEffectOf(f)), ...cp.commands.map(commandEffect)];
      sources.push({ steps: ['enable-iommu'], plan: cp });
    } catch (e) {
      if (!(e instanceof VfioctlError)) throw e;
      notes.push(`${e.message}${e.remedy ? ` (${e.remedy})` : ''}`);
    }
  }

  // the boot-time binding: exactly what `vfioctl persist` writes
  if (pure.claim.length && pure.steps.some((s) => PERSIST_STEPS.has(s.id))) {
    const mode = pure.binding.mode;
    // IDs in claim (address) order, as persist records and writes them
    const ids = [...new Set(pure.functions.filter((f) => pure.binding.ids.includes(`${f.vendorId}:${f.deviceId}`)).map((f) => `${f.vendorId}:${f.deviceId}`))];
    const cp = planPersist(host, tooling, x.state, { addresses: pure.claim, mode, ids, softdeps: pure.hostDrivers, vfioPciBuiltin: pure.binding.builtin, ...(x.identities ? { identities: x.identities } : {}) }, runId);
    const k = byId.get('kernel-cmdline-vfio-ids');
    if (k && k.action.type === 'kernel-cmdline') k.action.set = [`vfio-pci.ids=${ids.join(',')}`];
    for (const id of PERSIST_STEPS) if (byId.has(id)) ensure(id);
    for (const f of cp.files) ensure(persistStepOfFile(f.rel, tooling)).effects!.push(fileEffectOf(f));
    for (const c of cp.commands) ensure(persistStepOfCommand(c.argv, tooling)).effects!.push(commandEffect(c));
    const mp = byId.get('modprobe-vfio');
    const mpFile = mp?.effects?.find((e): e is Extract<StepEffect, { type: 'file' }> => e.type === 'file');
    if (mp && mp.action.type === 'modprobe-conf' && mpFile) mp.action.content = mpFile.after ?? '';
    const ir = byId.get('regenerate-initramfs');
    if (ir && ir.action.type === 'regenerate-initramfs' && tooling.initramfs.regenerate) ir.action.command = formatArgv(tooling.initramfs.regenerate);
    sources.push({ steps: [...PERSIST_STEPS].filter((id) => byId.has(id)), plan: cp });
    notes.push(...cp.notes);
  }

  // the opt-in unsafe interrupts file
  const unsafe = byId.get('unsafe-interrupts');
  if (unsafe && x.allowUnsafeInterrupts) {
    const cp = planUnsafeInterrupts(host, tooling, true);
    unsafe.effects = [...cp.files.map((f) => fileEffectOf(f)), ...cp.commands.map(commandEffect)];
    const f = cp.files[0];
    if (unsafe.action.type === 'modprobe-conf' && f) unsafe.action.content = f.after ?? '';
    sources.push({ steps: ['unsafe-interrupts'], plan: cp });
  }

  // runtime: the module and the sysfs writes of each function
  const binds = plan.steps.filter((s) => s.action.type === 'bind-vfio');
  let preview: ReturnType<typeof previewBind> | null = null;
  try {
    preview = binds.length ? previewBind(host, binds.map((s) => (s.action as { address: string }).address), bindDriversOf(plan.steps)) : null;
  } catch (e) {
    if (!(e instanceof VfioctlError)) throw e;
    notes.push(e.message);
  }
  if (preview) {
    const load = byId.get('load-vfio-pci');
    if (load) load.effects = preview.loadModule ? [{ type: 'command', argv: ['modprobe', preview.loadModule], regenerate: false, why: 'vfio-pci is not loaded' }] : [];
    for (const s of plan.steps) {
      if (s.action.type !== 'load-module' || s.id === 'load-vfio-pci') continue;
      const m = s.action.module;
      s.effects = (preview.variantModules ?? []).includes(m) ? [{ type: 'command', argv: ['modprobe', m], regenerate: false, why: `${m} is not loaded` }] : [];
    }
    for (const s of binds) {
      const a = (s.action as { address: string }).address;
      const f = preview!.functions.find((p) => p.address === a);
      s.effects = f && !f.unchanged ? bindWrites(host, pciAddressOf(a), f.from, f.to).map((w) => ({ type: 'sysfs-write', path: `/${w.rel}`, value: w.value })) : [];
    }
  }
  for (const s of plan.steps) if (s.effects && s.kind !== 'runtime') {
    const cmd = effectCommand(s.effects);
    if (cmd) s.command = cmd;
    else delete s.command;
    const file = s.effects.find((e) => e.type === 'file');
    if (file && file.type === 'file') s.file = file.path;
  }
  plan.needsReboot = plan.steps.some((s) => s.needsReboot && (s.effects === undefined || s.effects.length > 0));
  return { plan, sources, notes };
}

/** The VFIO driver of each bind step that does not go to vfio-pci (variant drivers). */
export function bindDriversOf(steps: readonly PlanStep[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps) if (s.action.type === 'bind-vfio' && s.action.driver) out[s.action.address] = s.action.driver;
  return out;
}
