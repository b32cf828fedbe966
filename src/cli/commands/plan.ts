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
import { renderFindings, virshFor, withConnect } from './guests.js';
import { planPassthrough } from '../../core/plan.js';
import { readHostImpact } from '../../host/read-host-impact.js';
import { type BootTooling, detectBootTooling } from '../../host/detect-boot.js';
import { planBootInfo } from '../../adapters/render/host-config.js';
import { otherGuestsOf, readGuests } from '../../adapters/libvirt/guests.js';
import { ExitCode, UsageError } from '../../model/errors.js';
import { type PciAddressString, formatPciAddress, requirePciAddress } from '../../model/pci-address.js';
import type { PassthroughPlan, PlanContext, RomBarChoice } from '../../model/plan.js';

export interface PlanCliOptions {
  guest?: string;
  force?: boolean;
  exact?: boolean;
  romBar?: string;
  nested?: boolean;
  allowUnsafeInterrupts?: boolean;
  connect?: string;
}

export function withPlanOptions(cmd: Command): Command {
  return withConnect(withFrom(cmd))
    .option('--guest <name>', 'the libvirt guest the functions are for')
    .option('--force', 'accept host-impact blockers (the host loses what the plan lists)')
    .option('--exact', 'do not add IOMMU group members that were not named: block instead')
    .option('--rom-bar <choice>', 'expansion ROM BAR: auto (off for non-display functions with a ROM), on, off', 'auto')
    .option('--nested', 'the guest assigns devices onward: give it a virtual IOMMU')
    .option('--allow-unsafe-interrupts', 'opt in to allow_unsafe_interrupts (security downgrade; hosts without interrupt remapping)');
}

function parseRequest(inputs: string[]): PciAddressString[] {
  if (!inputs.length) throw new UsageError('no-address', 'no PCI function given', 'name at least one: vfioctl plan 01:00.0');
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

export interface BuiltPlan {
  plan: PassthroughPlan;
  boot: BootTooling | undefined;
}

/** Read what the plan needs (inventory, host impact, boot tooling, other guests with --connect) and plan. */
export async function buildPlan(ctx: CliContext, inputs: string[], opts: PlanCliOptions): Promise<BuiltPlan> {
  const addresses = parseRequest(inputs);
  const romBar = opts.romBar ?? 'auto';
  if (!['auto', 'on', 'off'].includes(romBar)) throw new UsageError('bad-rom-bar', `--rom-bar ${romBar} is not auto, on or off`, 'use --rom-bar auto|on|off');
  if (opts.guest !== undefined && !/^[^\s/'"<>&]{1,200}$/.test(opts.guest)) {
    throw new UsageError('bad-guest', `not a guest name: ${JSON.stringify(opts.guest.slice(0, 80))}`, 'libvirt guest names have no spaces, slashes, quotes or <>&; `vfioctl guests` lists them');
  }
  const inventory = ctx.inventory();
  const context: PlanContext = {};
  let boot: BootTooling | undefined;
  if (inventory.source.kind === 'sysfs') {
    const host = ctx.host();
    context.impact = readHostImpact(host);
    boot = detectBootTooling(host);
    context.boot = planBootInfo(boot);
  }
  if (opts.connect !== undefined) {
    const guests = await readGuests(virshFor(ctx, opts));
    context.otherGuests = otherGuestsOf(guests, null);
  }
  const plan = planPassthrough(
    inventory,
    {
      addresses,
      ...(opts.guest !== undefined ? { guest: opts.guest } : {}),
      force: !!opts.force,
      exact: !!opts.exact,
      romBar: romBar as RomBarChoice,
      nested: !!opts.nested,
      allowUnsafeInterrupts: !!opts.allowUnsafeInterrupts,
    },
    context,
  );
  return { plan, boot };
}

/** The JSON document of `plan --json` (docs/json.md). */
export function planJson(plan: PassthroughPlan): Record<string, unknown> {
  return { version: 1, ...plan };
}

export function renderPlanHuman(plan: PassthroughPlan, ctx: CliContext): string {
  const c = ctx.c;
  const inv = ctx.inventory();
  const byAddr = new Map(inv.functions.map((f) => [f.address as string, f]));
  const verdict = plan.verdict === 'blocked' ? c.red(c.bold('BLOCKED')) : plan.verdict === 'warn' ? c.yellow(c.bold('OK with warnings')) : c.green(c.bold('OK'));
  const out: string[] = [];
  out.push(`plan${plan.guest ? ` for guest ${c.bold(plan.guest)}` : ''}: ${plan.request.map(shortAddr).join(' ')}  ->  ${verdict}`);
  out.push('');
  if (plan.claim.length) {
    out.push(c.bold('move to vfio-pci:'));
    const reason: Record<string, string> = { 'requested': 'requested', 'same-device': 'same device', 'same-group': 'same IOMMU group' };
    const rows = plan.functions.map((f) => {
      const fn = byAddr.get(f.address);
      return [f.address, f.iommuGroup === null ? '-' : String(f.iommuGroup), f.driver ?? '-', fn ? deviceName(fn) : `[${f.vendorId}:${f.deviceId}]`, reason[f.reason] ?? f.reason];
    });
    out.push(renderTable(['address', 'group', 'driver now', 'device', 'why'], rows, c).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
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
      if (s.command) out.push(`      ${c.dim('$')} ${s.command}`);
    });
    out.push('');
  }
  if (plan.verdict === 'blocked') out.push(c.red('nothing can be applied until the failing findings are resolved'));
  else out.push(`next: ${c.bold('vfioctl render libvirt')} ${plan.request.map(shortAddr).join(' ')} (or virsh, virt-install, qemu, host-config, kubevirt)`);
  return out.join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  withPlanOptions(program.command('plan'))
    .argument('<address...>', 'PCI functions to pass through: 01:00.0, 0000:01:00.0 or pci_0000_01_00_0')
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
