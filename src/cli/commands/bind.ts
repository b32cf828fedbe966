/**
 * `vfioctl bind ADDR...`: plan (IOMMU group rules, host impact), refuse a blocked plan unless --force,
 * then move the plan's whole claim set to vfio-pci with the journaled, verified, rolled-back sequence of
 * src/apply/bind.ts. --dry-run prints the exact writes; --persist also writes the boot-time configuration.
 * Also holds what the mutating commands share (apply context, confirmation).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { applyBind, previewBind, type BindPreview, type BindResult } from '../../apply/bind.js';
import type { ApplyContext } from '../../apply/run.js';
import { StateStore, STATE_DIR } from '../../apply/state.js';
import { ConfigWriter, RealSysfsWriter, type SysfsWriter } from '../../host/host-writer.js';
import type { HostRoot } from '../../host/host-root.js';
import { createExec, type Exec } from '../../adapters/exec.js';
import { planPassthrough } from '../../core/plan.js';
import { readHostImpact } from '../../host/read-host-impact.js';
import { ExitCode, UsageError, VfioctlError } from '../../model/errors.js';
import { formatPciAddress, requirePciAddress, type PciAddressString } from '../../model/pci-address.js';
import type { PassthroughPlan } from '../../model/plan.js';

/**
 * How the mutating commands reach the kernel. Production uses the real sysfs writer; the test suite
 * swaps in its kernel-like fake here (there is no IOMMU on the build machine), so the rest of the
 * command path is the production one.
 */
export const applyRuntime: { sysfsWriter: ((host: HostRoot, exec: Exec) => SysfsWriter) | null; moveTimeoutMs: number | null } = {
  sysfsWriter: null,
  moveTimeoutMs: null,
};

export interface MutatingOptions {
  dryRun?: boolean;
  yes?: boolean;
  timeout?: string;
}

export function addMutatingOptions(cmd: Command): Command {
  return cmd
    .option('-n, --dry-run', 'show exactly what would be done (writes, file diffs, commands) and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)');
}

/** A recorded host (--sample, a snapshot archive) is never changed: refuse before planning anything. */
export function assertMutableHost(ctx: CliContext, opts: MutatingOptions = {}): void {
  if (opts.dryRun) return;
  const recorded = !!ctx.opts.sample || ctx.opts.sampleHost !== undefined || /\.(tar\.gz|tgz)$/.test(ctx.opts.root ?? ctx.io.env.VFIOCTL_ROOT ?? '');
  if (recorded) {
    throw new UsageError('read-only-host', 'this is a recorded host (--sample or a snapshot archive); vfioctl does not change it', 'use --dry-run to see what would change, or run on the host itself');
  }
}

export function makeApplyContext(ctx: CliContext, opts: MutatingOptions = {}): ApplyContext {
  assertMutableHost(ctx, { ...opts, dryRun: false });
  const host = ctx.host();
  const exec = createExec({ env: ctx.io.env });
  const timeoutMs = opts.timeout !== undefined ? Number(opts.timeout) : (applyRuntime.moveTimeoutMs ?? 10_000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('bad-timeout', `--timeout ${opts.timeout} is not a positive number of milliseconds`, 'e.g. --timeout 20000');
  return {
    host,
    sysfs: applyRuntime.sysfsWriter ? applyRuntime.sysfsWriter(host, exec) : new RealSysfsWriter(host, exec),
    files: new ConfigWriter(host, `${STATE_DIR}/backups`),
    exec,
    store: new StateStore(host),
    move: { timeoutMs, pollMs: Math.min(50, Math.max(5, Math.floor(timeoutMs / 20))) },
    log: (line) => {
      if (!ctx.json) ctx.err(`${line}\n`);
    },
  };
}

/** Ask on a terminal; without one, --yes is required. */
export async function confirmChange(ctx: CliContext, opts: MutatingOptions, question: string): Promise<void> {
  if (opts.yes || opts.dryRun) return;
  if (ctx.io.confirm && ctx.io.isTTY && !ctx.json) {
    if (await ctx.io.confirm(question)) return;
    throw new VfioctlError('not-confirmed', 'nothing was changed (not confirmed)', { remedy: 'answer y, or pass --yes', exitCode: ExitCode.usage });
  }
  throw new UsageError('confirmation-required', `refusing to change the host without confirmation: ${question.replace(/\?$/, '')}`, 'pass --yes to confirm (or --dry-run to see what would change)');
}

export function parseAddresses(inputs: string[]): PciAddressString[] {
  if (!inputs.length) throw new UsageError('no-address', 'name at least one PCI address', 'e.g. vfioctl bind 01:00.0');
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

function renderPreview(ctx: CliContext, p: BindPreview): string {
  const c = ctx.c;
  const out: string[] = [];
  if (p.loadModule) out.push(`  load module: modprobe ${p.loadModule}`);
  for (const f of p.functions) {
    if (f.unchanged) {
      out.push(`  ${f.address}: already on vfio-pci`);
      continue;
    }
    out.push(`  ${c.bold(f.address)} (group ${f.iommuGroup}): ${f.from.driver ?? 'no driver'} -> vfio-pci`);
    for (const w of f.writes) out.push(`      ${w}`);
  }
  out.push(`  verify: every endpoint of group${p.groups.length > 1 ? 's' : ''} ${p.groups.join(', ')} on vfio-pci and /dev/vfio/N present; otherwise roll back`);
  return `${out.join('\n')}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  addMutatingOptions(program.command('bind'))
    .argument('<address...>', 'PCI functions to hand to vfio-pci (their IOMMU group mates follow, as the plan says)')
    .description('bind functions to vfio-pci now: journaled, verified (group viable, /dev/vfio/N), rolled back on any failure')
    .option('--force', 'bind even when the plan is blocked by host-impact findings (the plan says which)')
    .option('--timeout <ms>', 'how long to wait for a driver to bind (default 10000)')
    .option('--persist', 'also keep the binding across reboots (as `vfioctl persist`)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as MutatingOptions & { force?: boolean; persist?: boolean };
        const addresses = parseAddresses(inputs);
        assertMutableHost(ctx, o);
        const host = ctx.host();
        const plan: PassthroughPlan = planPassthrough(ctx.inventory(), { addresses, force: !!o.force }, { impact: readHostImpact(host) });
        const blockers = plan.findings.filter((f) => f.severity === 'fail');
        if (plan.verdict === 'blocked') {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, verdict: plan.verdict, claim: plan.claim, findings: plan.findings, result: null });
          else {
            ctx.err(`${ctx.c.red('vfioctl:')} the plan is blocked; nothing was changed\n`);
            for (const f of blockers) ctx.err(`  - ${f.summary}${f.remedy ? `\n    remedy: ${f.remedy}` : ''}\n`);
            ctx.err(`  remedy: resolve the findings above, or pass --force where the plan allows it (\`vfioctl plan ${inputs.join(' ')}\` explains)\n`);
          }
          return ExitCode.notReady;
        }
        const preview = previewBind(host, plan.claim);
        const extra = plan.claim.filter((a) => !addresses.includes(a));
        if (o.dryRun) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: true, verdict: plan.verdict, claim: plan.claim, findings: plan.findings, preview, result: null });
          else {
            ctx.out(`${ctx.c.bold('vfioctl bind')} (dry run, nothing changed)${extra.length ? `; group mates added by the plan: ${extra.join(' ')}` : ''}\n`);
            ctx.out(renderPreview(ctx, preview));
            for (const f of plan.findings.filter((x) => x.severity === 'warn')) ctx.out(`  ${ctx.c.yellow('warning:')} ${f.summary}\n`);
          }
          return 0;
        }
        if (!ctx.json) {
          ctx.err(`vfioctl bind: ${plan.claim.join(' ')}${extra.length ? ` (group mates added: ${extra.join(' ')})` : ''}\n`);
          for (const f of plan.findings.filter((x) => x.severity === 'warn')) ctx.err(`  ${ctx.c.yellow('warning:')} ${f.summary}\n`);
        }
        await confirmChange(ctx, o, `move ${plan.claim.length} function(s) to vfio-pci (${plan.claim.join(' ')})?`);
        const actx = makeApplyContext(ctx, o);
        const result: BindResult = await applyBind(actx, plan.claim);
        let persisted: unknown = null;
        if (o.persist) {
          const { runPersist } = await import('./persist.js');
          persisted = await runPersist(ctx, actx, plan.claim, { ...o, yes: true, mode: 'per-address' }, !ctx.json);
        }
        if (ctx.json) {
          ctx.printJson({ version: 1, dryRun: false, verdict: plan.verdict, claim: plan.claim, findings: plan.findings, result, persisted });
        } else {
          for (const f of result.moved) ctx.out(`${f.address}: ${f.from.driver ?? 'no driver'} -> vfio-pci\n`);
          for (const a of result.unchanged) ctx.out(`${a}: already on vfio-pci\n`);
          for (const g of result.groups) ctx.out(`group ${g.group}: viable, /dev/vfio/${g.group} present\n`);
          ctx.out(`run ${result.runId}; undo with \`vfioctl release ${plan.claim.join(' ')}\`\n`);
        }
        return 0;
      }),
    );
}
