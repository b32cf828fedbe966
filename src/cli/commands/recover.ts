/** `vfioctl recover`: complete or roll back a run that was interrupted (crash, power loss, kill). */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { addMutatingOptions, assertMutableHost, confirmChange, timeoutOf, type MutatingOptions } from '../mutating.js';
import { type ConnectOptions, withConnect } from './shared.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(addMutatingOptions(program.command('recover')))
    .description('finish an interrupted run from its journal: complete it when every step was made and verified, else roll it back')
    .option('--timeout <ms>', 'how long to wait for a driver to bind (default 10000)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as MutatingOptions & ConnectOptions;
        assertMutableHost(ctx, o);
        const s = ctx.session();
        const p = await s.recoverPreview();
        if (p.action === 'none') {
          // still take the lock: clears a dead run's lock info and temporaries, archives a finished journal
          if (!o.dryRun) await s.recover();
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, action: 'none', runId: null, steps: [] });
          else ctx.out('nothing to recover: no interrupted run\n');
          return 0;
        }
        const j = p.journal!;
        if (o.dryRun) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: true, action: p.action, runId: j.runId, command: j.command, steps: p.steps, writes: p.writes, commands: p.commands, toRun: p.manual, problems: p.problems });
          else {
            ctx.out(`interrupted: \`vfioctl ${j.command}\` (${j.runId}, pid ${j.pid}, started ${j.startedAt})\n`);
            ctx.out(p.action === 'completed' ? '  would complete it (every step was made and verified)\n' : p.steps.map((s) => `  would ${s}\n`).join(''));
            ctx.out([...p.writes.map((w) => `    ${w}\n`), ...p.commands.map((c) => `    run: ${c}\n`), ...p.manual.map((c) => `    to run by hand (not the live root): ${c}\n`), ...p.problems.map((x) => `    would fail: ${x}\n`)].join(''));
          }
          return 0;
        }
        await confirmChange(ctx, o, `${p.action === 'completed' ? 'complete' : 'roll back'} the interrupted \`vfioctl ${j.command}\` (${j.runId})?`);
        // libvirt steps: --connect when given, else the connection each step recorded (the session's apply context)
        const t = timeoutOf(o);
        const r = await s.recover(t !== undefined ? { timeoutMs: t } : {});
        if (ctx.json) ctx.printJson({ version: 1, dryRun: false, action: r.action, runId: j.runId, command: j.command, undone: r.report?.undone ?? [], toRun: r.report?.manual ?? [], staleLockPid: r.staleLockPid });
        else {
          ctx.out(`${r.action === 'completed' ? 'completed' : 'rolled back'} \`vfioctl ${j.command}\` (${j.runId})\n`);
          for (const u of r.report?.undone ?? []) ctx.out(`  undone: ${u}\n`);
          for (const m of r.report?.manual ?? []) ctx.out(`  run by hand (not the live root): ${m}\n`);
        }
        return 0;
      }),
    );
}
