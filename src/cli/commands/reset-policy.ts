/**
 * `vfioctl reset-policy show [ADDR...]` and `vfioctl reset-policy set ADDR --order M[,M...] [--persist]`:
 * the reset methods of a function (reset_method, or what the kernel would try from config space), the
 * known reset-bug families with their fix, and the order set now (journaled) and at every boot (udev rule).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { renderPlanDiff } from '../../apply/persist.js';
import { formatArgv } from '../../host/detect-boot.js';
import { sysfsWriteCommand } from '../../model/shell-quote.js';
import { UsageError } from '../../model/errors.js';
import type { ResetPolicyView } from '../../core/reset-policy.js';
import { addConfigOptions, assertMutableHost, confirmChange, renderConfigPlan, renderConfigResult, type ConfigOptions } from '../mutating.js';
import { parseAddresses } from './bind.js';

function renderView(ctx: CliContext, v: ResetPolicyView): string {
  const lines = [`${ctx.c.bold(v.address)}`];
  lines.push(`  reset_method: ${v.current === null ? 'absent (kernel before 5.15, or not read): the order cannot be set' : v.current.join(' ') || '(empty: no reset)'}`);
  lines.push(`  the kernel would try${v.current === null ? '' : ' (from config space)'}: ${v.candidates.map((c) => `${c.method}${c.available === 'maybe' ? '?' : ''}`).join(', ') || 'nothing'}`);
  for (const c of v.candidates) lines.push(`    ${c.method}${c.available === 'maybe' ? ' (maybe)' : ''}: ${c.why}`);
  if (v.bug) {
    lines.push(`  ${ctx.c.yellow('reset bug')}: ${v.bug.problem}`);
    v.bug.fix.forEach((f, i) => lines.push(`    ${i + 1}. ${f}`));
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  const rp = program.command('reset-policy').description('reset methods of PCI functions (reset_method): show them, set their order now and at boot');
  rp.command('show')
    .argument('[address...]', 'PCI functions (default: every endpoint)')
    .description('show reset_method, what the kernel would try (from config space when reset_method is absent) and known reset bugs with their fix')
    .action(
      action<[string[]]>(ctx, (inputs) => {
        const report = ctx.session().resetPolicyReport(inputs.length ? parseAddresses(inputs) : []);
        if (ctx.json) ctx.printJson(report);
        else ctx.out(report.functions.map((v) => renderView(ctx, v)).join('\n'));
        return 0;
      }),
    );
  addConfigOptions(rp.command('set'))
    .argument('<address>', 'the PCI function')
    .requiredOption('--order <methods>', 'reset methods in order, comma-separated (device_specific, acpi, flr, af_flr, pm, bus, cxl_bus), or "default"')
    .option('--persist', 'also set it at every boot (udev rule); with --order default, forget the boot-time order')
    .description('set the order of reset methods the kernel uses for a function (journaled, verified, rolled back on failure)')
    .action(
      action<[string]>(ctx, async (input, opts) => {
        const o = opts as ConfigOptions & { order?: string; persist?: boolean };
        if (!o.order) throw new UsageError('bad-reset-order', '--order is required', 'e.g. --order device_specific,bus');
        assertMutableHost(ctx, o);
        const s = ctx.session();
        const change = await s.changeResetPolicy({ address: parseAddresses([input])[0]!, order: o.order, persist: !!o.persist });
        const [address, value] = change.args as [string, string];
        const persistPlan = s.configPlanOf(change);
        const writes = (change.steps[0]!.effects ?? []).filter((e) => e.type === 'sysfs-write');
        if (!ctx.json) for (const f of change.findings) ctx.err(`${ctx.c.yellow('warning')}: ${f.summary}\n  fix: ${f.remedy}\n`);
        if (o.dryRun) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: true, address, order: value, writes, findings: change.findings, persist: persistPlan ? { diff: renderPlanDiff(ctx.host(), persistPlan), commands: persistPlan.commands.map((c) => formatArgv(c.argv)) } : null, result: null });
          else {
            ctx.out(`${ctx.c.bold('vfioctl reset-policy set')} (dry run, nothing changed)\n  ${change.steps[0]!.title}\n`);
            for (const w of writes) if (w.type === 'sysfs-write') ctx.out(`      ${sysfsWriteCommand(ctx.host().display(w.path.slice(1)), w.value)}\n`);
            if (persistPlan) ctx.out(renderConfigPlan(ctx, persistPlan, o));
          }
          return 0;
        }
        await confirmChange(ctx, o, `set the reset order of ${address} to "${value}"${persistPlan ? ' (and at every boot)' : ''}?`);
        const r = await s.apply(change, { regenerate: o.regenerate !== false });
        if (ctx.json) ctx.printJson({ version: 1, dryRun: false, address, order: value, findings: change.findings, result: r.resetPolicy ?? null, persisted: r.config });
        else {
          ctx.out(r.resetPolicy ? `${address}: reset_method "${r.resetPolicy.before}" -> "${r.resetPolicy.after}"\n` : `${address}: reset_method is "${value}" already\n`);
          if (r.config) renderConfigResult(ctx, r.config);
          if (!o.persist) ctx.out('note: the order is lost at reboot; add --persist to keep it\n');
        }
        return 0;
      }),
    );
}
