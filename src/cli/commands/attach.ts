/**
 * `vfioctl attach GUEST ADDR...`: plan the whole IOMMU group, then add one managed <hostdev> per claimed
 * function to the guest through `virsh attach-device` (--config by default; --live to hotplug too), with
 * functions of one device in one guest slot, the planner's ROM decisions, a warning naming any other guest
 * that lists a function (refused when that guest runs), verification and undo on failure.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode, UsageError } from '../../model/errors.js';
import { formatPciAddress, requirePciAddress } from '../../model/pci-address.js';
import type { ApplyResult, Effects, HostdevChangeSet } from '../../adapters/libvirt/guests.js';
import type { Change } from '../../service/session.js';
import { shortAddr } from '../describe.js';
import { type ConnectOptions, renderFindings, withConnect } from './shared.js';
import { confirmChange } from '../mutating.js';

export interface ChangeOptions extends ConnectOptions {
  live?: boolean;
  config?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

export function effectsOf(opts: ChangeOptions): Effects {
  // Without a flag: the persistent definition only (takes effect at the guest's next start).
  if (!opts.live && !opts.config) return { live: false, config: true };
  return { live: !!opts.live, config: !!opts.config };
}

export function parseAddresses(inputs: string[]) {
  if (!inputs.length) throw new UsageError('no-address', 'no PCI function given', 'name at least one: vfioctl attach GUEST 01:00.0');
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

export { changeJson } from '../../service/operations.js';
import { changeJson } from '../../service/operations.js';

export function renderChangeSet(ctx: CliContext, set: HostdevChangeSet, uri: string | undefined, dryRun: boolean): void {
  const c = ctx.c;
  for (const s of set.skipped) ctx.out(`  ${c.dim('skip')}  ${shortAddr(s.address)}: ${s.reason}\n`);
  for (const n of set.notes) ctx.out(`  ${c.cyan('note')}  ${n}\n`);
  if (!dryRun) return;
  const j = changeJson(set, uri);
  ctx.out(`\n${c.bold('commands')} (one per function; the XML below is what each file holds):\n`);
  for (const cmd of j.commands) ctx.out(`  ${cmd}\n`);
  for (const ch of set.changes) ctx.out(`\n${c.dim(`# hostdev-${ch.address.replace(/[:.]/g, '_')}.xml`)}\n${ch.xml}`);
  if (j.configDiff) ctx.out(`\n${c.bold('persistent definition')} (as libvirt will store it, before its own normalization):\n${j.configDiff}\n`);
}

/**
 * The tail attach and detach share: on --dry-run say nothing changed (nothing is journaled), else confirm
 * (terminal, or --yes) and apply the change's libvirt steps as a journaled run under the lock
 * (src/apply/libvirt.ts; progress on stderr), then print JSON or hand the result to `report` for the
 * human summary. Returns null for a dry run.
 */
export async function executeChangeSet(
  ctx: CliContext,
  change: Change,
  base: Record<string, unknown>,
  opts: ChangeOptions,
  question: string,
  report: (result: ApplyResult) => void,
): Promise<ApplyResult | null> {
  const c = ctx.c;
  const set = change.hostdev!.set;
  if (opts.dryRun) {
    if (ctx.json) ctx.printJson({ ...base, change: changeJson(set, opts.connect), result: null });
    else ctx.out(c.dim('\ndry run: nothing changed\n'));
    return null;
  }
  await confirmChange(ctx, opts, question);
  const result = (await ctx.session().apply(change)).hostdev!;
  if (ctx.json) ctx.printJson({ ...base, change: changeJson(set, opts.connect), result });
  else {
    report(result);
    for (const w of result.warnings) ctx.out(c.yellow(`warning: ${w}\n`));
  }
  return result;
}

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('attach'))
    .argument('<guest>', 'libvirt guest (domain) name')
    .argument('<address...>', 'PCI functions to give the guest (their whole IOMMU groups are claimed)')
    .option('--live', 'hotplug into the running guest')
    .option('--config', 'change the persistent definition (the default when neither flag is given)')
    .option('-n, --dry-run', 'show the plan, the virsh commands, each <hostdev> and the definition diff; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--exact', 'do not add group members that were not named: refuse instead')
    .option('--force', 'accept host-impact blockers (the host loses what the plan lists)')
    .option('--single-function', 'keep only the named functions (default: all functions of a slot, e.g. a GPU and its HDMI audio, go together)')
    .option('--rom-bar <choice>', 'expansion ROM BAR: auto (off for non-display functions with a ROM), on, off', 'auto')
    .description('assign PCI functions to a libvirt guest: whole IOMMU groups, one <hostdev> per function')
    .action(
      action(ctx, async (guest: string, inputs: string[], opts: ChangeOptions & { exact?: boolean; force?: boolean; romBar?: string; singleFunction?: boolean }) => {
        const addresses = parseAddresses(inputs);
        if (!opts.dryRun) ctx.session().assertMutable();
        const effects = effectsOf(opts);
        const change = await ctx.session().changeAttach({ guest, addresses, effects, exact: !!opts.exact, force: !!opts.force, romBar: opts.romBar ?? 'auto', singleFunction: !!opts.singleFunction });
        const plan = change.plan!;
        const target = change.hostdev?.target;
        const virsh = ctx.session().virsh();
        const c = ctx.c;
        const blocked = plan.verdict === 'blocked';
        const set = blocked ? null : change.hostdev!.set;
        const base = { version: 1, guest, uri: virsh.effectiveUri, dryRun: !!opts.dryRun, plan: { claim: plan.claim, hostSide: plan.hostSide, verdict: plan.verdict, findings: plan.findings } };
        if (blocked || !set || !target) {
          if (ctx.json) ctx.printJson({ ...base, change: null, result: null });
          else {
            ctx.out(`${c.red('blocked')}: ${guest} does not get ${addresses.map(shortAddr).join(', ')}\n`);
            ctx.out(renderFindings(plan.findings.filter((f) => f.severity !== 'ok'), c));
          }
          return ExitCode.notReady;
        }
        if (!ctx.json) {
          ctx.out(`${c.bold(guest)} (${target.state}): ${set.op} ${plan.claim.map(shortAddr).join(', ')} ${effects.config ? (effects.live ? '(live and persistent)' : '(persistent definition)') : '(live only)'}\n`);
          const added = plan.claim.filter((a) => !addresses.includes(a));
          if (added.length) ctx.out(`  ${c.cyan('note')}  ${added.map(shortAddr).join(', ')} added: same IOMMU group or device as the request\n`);
          ctx.out(renderFindings(plan.findings.filter((f) => f.severity !== 'ok'), c));
          ctx.out(`  ${c.cyan('info')}  live migration is off for ${guest} while it has assigned devices\n`);
          renderChangeSet(ctx, set, opts.connect, !!opts.dryRun);
        }
        if (!set.changes.length) {
          if (ctx.json) ctx.printJson({ ...base, change: changeJson(set, opts.connect), result: null });
          else ctx.out('nothing to do: every function is already attached\n');
          return ExitCode.ok;
        }
        await executeChangeSet(ctx, change, base, opts, `${set.op} ${set.changes.map((x) => shortAddr(x.address)).join(', ')} ${set.op === 'attach' ? 'to' : 'from'} guest ${guest}?`, (result) => {
          ctx.out(`${c.green('attached')} ${result.done.map(shortAddr).join(', ')} to ${guest}${effects.config && !effects.live ? ' (takes effect at its next start)' : ''}\n`);
        });
        return ExitCode.ok;
      }),
    );
}
