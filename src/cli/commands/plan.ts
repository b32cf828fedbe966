/**
 * `vfioctl plan ADDR... [--guest NAME] [--force] [--exact] [--rom-bar auto|on|off] [--nested]`: what must
 * move to vfio-pci (whole IOMMU groups), what stays on the host, what the host would lose, and the
 * ordered steps (which need a reboot). Exit 3 when the plan is blocked. Also the plan builder `render`
 * shares.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action, withFrom } from '../command.js';
import { renderTable } from '../output.js';
import { deviceName, shortAddr } from '../describe.js';
import { renderFindings, withConnect } from './shared.js';
import { type BootTooling, formatArgv } from '../../host/detect-boot.js';
import { ExitCode, UsageError } from '../../model/errors.js';
import { sysfsWriteCommand } from '../../model/shell-quote.js';
import { VIOMMU_MODELS, type PassthroughPlan, type StepEffect, type ViommuModel } from '../../model/plan.js';

export interface PlanCliOptions {
  guest?: string;
  force?: boolean;
  exact?: boolean;
  singleFunction?: boolean;
  romBar?: string;
  nested?: boolean;
  viommu?: string;
  allowUnsafeInterrupts?: boolean;
  connect?: string;
  byId?: boolean;
  perAddress?: boolean;
  mapping?: string;
  mappings?: string;
  node?: string;
  backend?: string;
  driver?: string;
  libvirtVersion?: string;
  qemuVersion?: string;
}

export function withPlanOptions(cmd: Command): Command {
  return withConnect(withFrom(cmd))
    .option('--guest <name>', 'the libvirt guest the functions are for')
    .option('--force', 'accept host-impact blockers (the host loses what the plan lists)')
    .option('--exact', 'do not add IOMMU group members that were not named: block instead')
    .option('--single-function', 'keep only the named functions (default: all functions of a slot, e.g. a GPU and its HDMI audio, go together)')
    .option('--rom-bar <choice>', 'expansion ROM BAR: auto (off for non-display functions with a ROM), on, off', 'auto')
    .option('--nested', 'the guest assigns devices onward: give it a virtual IOMMU')
    .option('--viommu <model>', `with --nested: the guest's virtual IOMMU, one of ${VIOMMU_MODELS.join(', ')} (default intel)`)
    .option('--allow-unsafe-interrupts', 'opt in to allow_unsafe_interrupts (security downgrade; hosts without interrupt remapping)')
    .option('--by-id', 'plan the boot-time binding by vendor:device ID (as `vfioctl persist --by-id`)')
    .option('--per-address', 'plan the boot-time binding per address (as `vfioctl persist`); default: by ID unless identical devices stay on the host')
    .option('--mapping <name>', 'plan the functions a device mapping names for this node (with --mappings FILE)')
    .option('--mappings <file>', 'device mappings file (kind DeviceMappings, docs/fleet.md)')
    .option('--node <name>', 'this node\'s name in the mappings file (default: NODE_NAME, else etc/hostname)')
    .option('--backend <backend>', 'VFIO device backend to render: auto (iommufd when the host, QEMU 9.0+ and libvirt 12.1+ offer it), iommufd, legacy', 'auto')
    .option('--driver <name>', 'bind to this VFIO driver instead of the best variant driver from modules.alias (e.g. vfio-pci)')
    .option('--libvirt-version <version>', 'the libvirt version the guest runs with (default: virsh version on this host, else unknown)')
    .option('--qemu-version <version>', 'the QEMU version the guest runs with (default: virsh version on this host, else unknown)');
}

export interface BuiltPlan {
  plan: PassthroughPlan;
  boot: BootTooling | undefined;
}

/** The session's plan for these addresses and options (inventory, host impact, boot tooling, other guests with --connect). */
/** The --viommu choice (checked), or undefined when not given. */
export function viommuOption(opts: PlanCliOptions): ViommuModel | undefined {
  if (opts.viommu === undefined) return undefined;
  if (!(VIOMMU_MODELS as readonly string[]).includes(opts.viommu)) {
    throw new UsageError('bad-viommu', `--viommu ${opts.viommu} is not intel, virtio or smmuv3`, `use one of: ${VIOMMU_MODELS.join(', ')}`);
  }
  if (!opts.nested) throw new UsageError('viommu-without-nested', '--viommu chooses the virtual IOMMU of a nested guest', 'add --nested (or drop --viommu)');
  return opts.viommu as ViommuModel;
}

export async function buildPlan(ctx: CliContext, inputs: string[], opts: PlanCliOptions): Promise<BuiltPlan> {
  const viommuModel = viommuOption(opts);
  const s = ctx.session();
  const addresses = opts.mapping !== undefined ? [...inputs, ...(await mappingInputs(ctx, opts))] : inputs;
  const plan = await s.plan({
    addresses,
    ...(opts.guest !== undefined ? { guest: opts.guest } : {}),
    force: !!opts.force,
    exact: !!opts.exact,
    ...(opts.singleFunction ? { singleFunction: true } : {}),
    romBar: opts.romBar ?? 'auto',
    nested: !!opts.nested,
    ...(viommuModel ? { viommuModel } : {}),
    allowUnsafeInterrupts: !!opts.allowUnsafeInterrupts,
    ...(opts.byId ? { persistBy: 'id' as const } : opts.perAddress ? { persistBy: 'address' as const } : {}),
    withGuests: opts.connect !== undefined,
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.driver !== undefined ? { driver: opts.driver } : {}),
    ...(opts.libvirtVersion !== undefined ? { libvirtVersion: opts.libvirtVersion } : {}),
    ...(opts.qemuVersion !== undefined ? { qemuVersion: opts.qemuVersion } : {}),
  });
  return { plan, boot: s.inventory().source.kind === 'sysfs' ? s.bootTooling() : undefined };
}

/** The addresses --mapping names for this node (refused when the node's devices drifted from the mapping). */
async function mappingInputs(ctx: CliContext, opts: PlanCliOptions): Promise<string[]> {
  if (!opts.mappings) throw new UsageError('no-mappings', '--mapping needs the mappings file', 'add --mappings FILE (kind DeviceMappings, docs/fleet.md)');
  const [fleet, { mappingAddresses }] = await Promise.all([import('../../service/fleet.js'), import('../../core/device-mapping.js')]);
  const s = ctx.session();
  return mappingAddresses(fleet.readMappings(opts.mappings), opts.mapping!, opts.node ?? fleet.nodeName(s, ctx.io.env), s.inventory(), fleet.serialReader(s));
}

/** The JSON document of `plan --json` (docs/json.md). */
export function planJson(plan: PassthroughPlan): Record<string, unknown> {
  return { version: 1, ...plan };
}

/** The effects of a step, as --dry-run shows them: files with their full new content, writes, commands, libvirt calls. */
export function renderEffects(effects: readonly StepEffect[], pad = '      '): string[] {
  const out: string[] = [];
  for (const e of effects) {
    if (e.type === 'file') {
      if (e.after === null) out.push(`${pad}remove ${e.path}`);
      else {
        out.push(`${pad}${e.before === null ? 'create' : 'edit'} ${e.path}:`);
        for (const l of e.after.replace(/\n$/, '').split('\n')) out.push(`${pad}  | ${l}`);
      }
    } else if (e.type === 'sysfs-write') out.push(`${pad}${sysfsWriteCommand(e.path, e.value)}`);
    else if (e.type === 'command') out.push(`${pad}run ${formatArgv(e.argv)}`);
    else out.push(`${pad}virsh ${e.call} ${e.guest} (${e.address}${e.config ? ', --config' : ''}${e.live ? ', --live' : ''})`);
  }
  return out;
}

export function renderPlanHuman(plan: PassthroughPlan, ctx: CliContext): string {
  const c = ctx.c;
  const inv = ctx.inventory();
  const byAddr = new Map(inv.functions.map((f) => [f.address as string, f]));
  const verdict = plan.verdict === 'blocked' ? c.red(c.bold('BLOCKED'))
    : !plan.verified ? c.yellow(c.bold('UNVERIFIED (group facts assumed)'))
      : plan.verdict === 'warn' ? c.yellow(c.bold('OK with warnings')) : c.green(c.bold('OK'));
  const out: string[] = [];
  out.push(`plan${plan.guest ? ` for guest ${c.bold(plan.guest)}` : ''}: ${plan.request.map(shortAddr).join(' ')}  ->  ${verdict}`);
  out.push('');
  if (plan.claim.length) {
    const variants = (plan.platform?.functions ?? []).filter((f) => f.vfioDriver !== 'vfio-pci');
    out.push(c.bold(variants.length ? `move to VFIO drivers (vfio-pci; ${variants.map((f) => `${f.address} to ${f.vfioDriver}`).join(', ')}):` : 'move to vfio-pci:'));
    const reason: Record<string, string> = { 'requested': 'requested', 'same-device': 'same device', 'same-group': 'same IOMMU group' };
    const rows = plan.functions.map((f) => {
      const fn = byAddr.get(f.address);
      return [f.address, f.iommuGroup === null ? '-' : String(f.iommuGroup), f.driver ?? '-', fn ? deviceName(fn) : `[${f.vendorId}:${f.deviceId}]`, reason[f.reason] ?? f.reason];
    });
    out.push(renderTable(['address', 'group', 'driver now', 'device', 'why'], rows, c).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    out.push('');
  }
  if (plan.assumptions.length) {
    out.push(c.bold('assumed (not in the listing):'));
    for (const a of plan.assumptions) out.push(`  ${a}`);
    out.push('');
  }
  if (plan.hostSide.length) {
    out.push(c.bold('stay on the host (bridges and ports in these groups):'));
    for (const a of plan.hostSide) {
      const fn = byAddr.get(a);
      out.push(`  ${a}  ${fn ? deviceName(fn) : ''}`.trimEnd());
    }
    out.push('');
  }
  // NUMA / PCIe affinity: shown only on a host that has NUMA nodes for the claim
  const aff = plan.affinity;
  if (aff && aff.nodes.length) {
    out.push(c.bold('NUMA and PCIe affinity:'));
    for (const f of aff.functions) out.push(`  ${f.address}  node ${f.numaNode ?? '-'}  root port ${f.rootPort ?? '-'} (${f.rootBus ?? '?'})${f.localCpus ? `  CPUs ${f.localCpus}` : ''}`);
    if (aff.hint) out.push(`  pinning hint: memory on node ${aff.hint.node}${aff.hint.cpus ? `, vCPUs and emulator on CPUs ${aff.hint.cpus}` : ''} (\`vfioctl render libvirt ... --numa-hint\` prints the <numatune>/<cputune> fragment)`);
    out.push('');
  }
  if (plan.findings.length) {
    out.push(c.bold('findings:'));
    out.push(renderFindings(plan.findings, c).trimEnd());
    out.push('');
  }
  if (plan.steps.length) {
    out.push(c.bold('steps, in order:'));
    plan.steps.forEach((s, i) => {
      const tags = [s.kind, ...(s.needsReboot ? [c.yellow('needs reboot')] : [])].join(', ');
      out.push(`  ${String(i + 1).padStart(2)}. ${s.title}  [${tags}]`);
      if (s.effects) {
        const lines = renderEffects(s.effects);
        out.push(...(lines.length ? lines : [`      ${c.dim('already done on this host')}`]));
      } else if (s.command) out.push(`      ${c.dim('$')} ${s.command}`);
    });
    out.push('');
  }
  if (plan.verdict === 'blocked') out.push(c.red('nothing can be applied until the failing findings are resolved'));
  else {
    const addrs = plan.request.map(shortAddr).join(' ');
    const persist = `vfioctl persist ${plan.binding.mode === 'ids' ? '--by-id ' : ''}${addrs}`;
    out.push(`next: ${c.bold(`vfioctl bind ${addrs}`)} carries out the runtime steps, ${c.bold(persist)} the boot-time steps; ${c.bold(`vfioctl render libvirt ${addrs}`)} (or virsh, virt-install, qemu, host-config, kubevirt) for the guest`);
  }
  return out.join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  withPlanOptions(program.command('plan'))
    .argument('[address...]', 'PCI functions to pass through: 01:00.0, 0000:01:00.0 or pci_0000_01_00_0 (or --mapping NAME)')
    .description('plan a passthrough: whole IOMMU groups, host impact, guest limits, ordered steps (exit 3 when blocked)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const { plan } = await buildPlan(ctx, inputs, opts as PlanCliOptions);
        if (ctx.json) ctx.printJson(planJson(plan));
        else ctx.out(renderPlanHuman(plan, ctx));
        return plan.verdict === 'blocked' ? ExitCode.notReady : ExitCode.ok;
      }),
    );
}
