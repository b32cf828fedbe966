/**
 * What the mutating commands share in the CLI: --dry-run/--yes, confirmation on a terminal, the blocked
 * plan message, and the rendering of steps with their effects (diffs, commands). The decisions are the
 * session's (src/service/session.ts); this file only asks and shows.
 */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { formatArgv } from '../host/detect-boot.js';
import { renderPlanDiff, type ConfigApplyResult, type ConfigPlan } from '../apply/persist.js';
import { ExitCode, UsageError, VfioctlError } from '../model/errors.js';
import type { Finding } from '../model/finding.js';
import type { Change } from '../service/session.js';

export interface MutatingOptions {
  dryRun?: boolean;
  yes?: boolean;
  timeout?: string;
  force?: boolean;
}

export interface ConfigOptions extends MutatingOptions {
  regenerate?: boolean;
}

export function addMutatingOptions(cmd: Command): Command {
  return cmd
    .option('-n, --dry-run', 'show exactly what would be done (writes, file diffs, commands) and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)');
}

export function addConfigOptions(cmd: Command): Command {
  return addMutatingOptions(cmd).option('--no-regenerate', 'do not run the boot-loader / initramfs regeneration; print the command instead');
}

/** A recorded host (--sample, a snapshot archive) is never changed: refuse before planning anything. */
export function assertMutableHost(ctx: CliContext, opts: MutatingOptions = {}): void {
  if (opts.dryRun) return;
  ctx.session().assertMutable();
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

export function timeoutOf(opts: MutatingOptions): number | undefined {
  return opts.timeout !== undefined ? Number(opts.timeout) : undefined;
}

/** A blocked plan: say why on stderr (human) and return exit 3; the JSON document is the caller's. */
export function reportBlocked(ctx: CliContext, findings: Finding[], what: string): number {
  if (!ctx.json) {
    ctx.err(`${ctx.c.red('vfioctl:')} the plan is blocked; nothing was changed\n`);
    for (const f of findings.filter((x) => x.severity === 'fail')) ctx.err(`  - ${f.summary}${f.remedy ? `\n    remedy: ${f.remedy}` : ''}\n`);
    ctx.err(`  remedy: resolve the findings above, or pass --force where the plan allows it (\`vfioctl plan ${what}\` explains)\n`);
  }
  return ExitCode.notReady;
}

/** With --force: what the host loses (the host-impact findings --force turned into warnings). */
export function forcedLosses(change: Change): Finding[] {
  return change.findings.filter((f) => f.severity === 'warn' && f.category === 'host-impact');
}

export function renderConfigPlan(ctx: CliContext, plan: ConfigPlan, opts: ConfigOptions): string {
  const host = ctx.host();
  const live = ctx.session().live;
  const out: string[] = [];
  if (!plan.files.length && !plan.commands.length) out.push('nothing to change: already in the intended state');
  const diff = renderPlanDiff(host, plan);
  if (diff) out.push(diff.trimEnd());
  for (const c of plan.commands) {
    const skip = !live || (c.regenerate && opts.regenerate === false);
    out.push(`${skip ? 'to run by hand' : 'run'}: ${formatArgv(c.argv)}   # ${c.why}`);
  }
  for (const n of plan.notes) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}

export function configDryRunJson(ctx: CliContext, plan: ConfigPlan): Record<string, unknown> {
  return { version: 1, dryRun: true, command: plan.command, files: plan.files.map((f) => ({ path: ctx.host().display(f.rel), before: f.before, after: f.after })), diff: renderPlanDiff(ctx.host(), plan), commands: plan.commands.map((c) => formatArgv(c.argv)), notes: plan.notes, needsReboot: plan.needsReboot, result: null };
}

export function renderConfigResult(ctx: CliContext, result: ConfigApplyResult): void {
  for (const w of result.written) ctx.out(`${w.removed ? 'removed' : 'wrote'} ${w.path}${w.backup ? ` (backup ${w.backup})` : ''}\n`);
  for (const r of result.ran) ctx.out(`ran ${r}\n`);
  for (const r of result.toRun) ctx.out(`${ctx.c.yellow('run by hand:')} ${r}\n`);
  for (const n of result.notes) ctx.out(`note: ${n}\n`);
  if (result.needsReboot) ctx.out(`${ctx.c.yellow('reboot needed:')} the change takes effect at the next boot (\`vfioctl doctor\` tells when it has)\n`);
}

/**
 * The config-only commands (persist, unpersist, host enable/disable-iommu): --dry-run shows the diff and
 * commands of the change's steps; otherwise confirm and apply exactly those steps.
 */
export async function runConfigChange(ctx: CliContext, change: Change, opts: ConfigOptions, question: string): Promise<number> {
  const s = ctx.session();
  const plan = s.configPlanOf(change) ?? { command: change.command, args: change.args, files: [], commands: [], delta: {}, notes: change.notes, needsReboot: false };
  if (opts.dryRun) {
    if (ctx.json) ctx.printJson(configDryRunJson(ctx, plan));
    else ctx.out(`${ctx.c.bold(`vfioctl ${plan.command}`)} (dry run, nothing changed)\n${renderConfigPlan(ctx, plan, opts)}`);
    return ExitCode.ok;
  }
  if (plan.files.length || plan.commands.length) {
    if (!ctx.json) ctx.err(renderConfigPlan(ctx, plan, opts));
    await confirmChange(ctx, opts, question);
  }
  const { config } = await s.apply(change, { regenerate: opts.regenerate !== false });
  const result = config!;
  if (ctx.json) ctx.printJson({ version: 1, dryRun: false, command: plan.command, diff: renderPlanDiff(ctx.host(), plan), result });
  else renderConfigResult(ctx, result);
  return ExitCode.ok;
}
