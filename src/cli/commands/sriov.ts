/** `vfioctl sriov set PF N [--persist]`: create (or remove) SR-IOV virtual functions, optionally at every boot. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { formatArgv } from '../../host/detect-boot.js';
import { renderPlanDiff } from '../../apply/persist.js';
import { UsageError } from '../../model/errors.js';
import { sysfsWriteCommand } from '../../model/shell-quote.js';
import { addConfigOptions, assertMutableHost, confirmChange, renderConfigPlan, renderConfigResult, type ConfigOptions } from '../mutating.js';

export function register(program: Command, ctx: CliContext): void {
  const sriov = program.command('sriov').description('SR-IOV virtual functions');
  addConfigOptions(sriov.command('set'))
    .argument('<pf>', 'the physical function')
    .argument('<count>', 'number of VFs (0 removes them)')
    .option('--persist', 'also create them at every boot (udev rule)')
    .option('--timeout <ms>', 'unused for SR-IOV; accepted for symmetry')
    .description('set the number of SR-IOV virtual functions of a PF (journaled, verified, rolled back on failure)')
    .action(
      action<[string, string]>(ctx, async (pfIn, countIn, opts) => {
        const o = opts as ConfigOptions & { persist?: boolean };
        assertMutableHost(ctx, o);
        if (!/^\d+$/.test(countIn)) throw new UsageError('bad-count', `VF count ${JSON.stringify(countIn)} is not a whole number`, 'e.g. vfioctl sriov set 01:00.0 4');
        const n = Number(countIn);
        const s = ctx.session();
        const change = await s.changeSriov({ pf: pfIn, count: n, persist: !!o.persist });
        const { pf, info } = change.sriov!;
        const persistPlan = s.configPlanOf(change);
        if (o.dryRun) {
          const writes = change.steps[0]!.effects ?? [];
          if (ctx.json) ctx.printJson({ version: 1, dryRun: true, pf, before: info.numVfs, after: n, totalVfs: info.totalVfs, persist: persistPlan ? { diff: renderPlanDiff(ctx.host(), persistPlan), commands: persistPlan.commands.map((c) => formatArgv(c.argv)) } : null, result: null });
          else {
            ctx.out(`${ctx.c.bold('vfioctl sriov set')} (dry run, nothing changed)\n  ${pf}: ${info.numVfs} -> ${n} VFs (of ${info.totalVfs})\n`);
            for (const w of writes) if (w.type === 'sysfs-write') ctx.out(`      ${sysfsWriteCommand(ctx.host().display(w.path.slice(1)), w.value)}\n`);
            if (persistPlan) ctx.out(renderConfigPlan(ctx, persistPlan, o));
          }
          return 0;
        }
        await confirmChange(ctx, o, `set ${pf} to ${n} VFs (now ${info.numVfs})${persistPlan ? ' and at every boot' : ''}?`);
        const r = await s.apply(change, { regenerate: o.regenerate !== false });
        const res = r.sriov!;
        if (!ctx.json) {
          ctx.out(`${pf}: ${res.before} -> ${res.after} VFs${res.vfs.length ? ` (${res.vfs.join(' ')})` : ''}\n`);
          if (r.config) renderConfigResult(ctx, r.config);
        }
        if (ctx.json) ctx.printJson({ version: 1, dryRun: false, pf, result: res, persisted: r.config });
        if (!o.persist && !ctx.json && n > 0) ctx.out('note: VFs are lost at reboot; add --persist to keep them\n');
        return 0;
      }),
    );
}
