/** `vfioctl status`: what vfioctl has changed on this host and not undone, and whether a run was interrupted. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { describeDifferences } from '../../model/device-identity.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show what vfioctl changed (bound functions with their original drivers, persisted files, SR-IOV), and any interrupted run')
    .option('--history', 'also list finished runs')
    .action(
      action<[]>(ctx, async (opts) => {
        const host = ctx.host();
        const report = await ctx.session().status({ history: !!(opts as { history?: boolean }).history });
        const { bound, interrupted, attached, lock, history } = report;
        const state = { persisted: report.persisted, sriov: report.sriov };
        if (ctx.json) {
          ctx.printJson(report);
          return interrupted ? 1 : 0;
        }
        const c = ctx.c;
        if (interrupted) {
          const lv = interrupted.libvirt;
          ctx.out(`${c.red('interrupted run:')} \`vfioctl ${interrupted.command}\` (${interrupted.runId}, ${interrupted.status}); run \`vfioctl recover${lv?.uri ? ` --connect ${lv.uri}` : ''}\`\n`);
          if (lv) {
            ctx.out(`  libvirt guest ${lv.guest}${lv.uri ? ` on ${lv.uri}` : ''}: ${lv.steps.filter((st) => st.status === 'done').length} of ${lv.steps.length} hostdev ${interrupted.command} steps made and verified\n`);
            for (const st of lv.steps) ctx.out(`    ${st.status.padEnd(11)} ${st.op} ${st.address}\n`);
          }
        }
        if (lock) ctx.out(`lock held by pid ${lock.pid} (\`vfioctl ${lock.command}\` since ${lock.startedAt})\n`);
        if (!bound.length && !Object.keys(state.persisted).length && !Object.keys(state.sriov).length && !attached.length) ctx.out('vfioctl has changed nothing on this host\n');
        for (const b of bound) {
          ctx.out(`${c.bold(b.address)} group ${b.iommuGroup ?? '-'}: on ${b.current?.driver ?? 'no driver'} (was ${b.original.driver ?? 'no driver'}${b.original.override ? `, override ${b.original.override}` : ''})${b.drifted ? c.yellow(' — changed outside vfioctl') : ''}\n`);
        }
        for (const [k, p] of Object.entries(state.persisted)) ctx.out(`persisted ${k} (${p.mode}): ${[...p.created, ...p.edits.map((e) => e.rel)].map((r) => host.display(r)).join(', ')}\n`);
        for (const i of report.identity) {
          if (i.verdict === 'different') ctx.out(`${c.red('changed device')} ${c.bold(i.address)}: holds another device than the one persisted (${describeDifferences(i.differences)}); left on its host driver at boot — \`vfioctl persist --acknowledge ${i.address}\` if intended\n`);
          else if (i.verdict === 'absent') ctx.out(`${c.yellow('missing device')} ${c.bold(i.address)}: persisted, but no device is there now\n`);
          else if (i.verdict === 'unknown') ctx.out(`identity of ${i.address} not recorded (persisted by an older vfioctl): \`vfioctl persist --acknowledge ${i.address}\` records it\n`);
        }
        for (const [a, s] of Object.entries(state.sriov)) ctx.out(`sr-iov ${a}: ${s.numVfs} VFs (was ${s.original})\n`);
        for (const a of attached) ctx.out(`attached ${c.bold(a.address)} to guest ${a.guest}${a.uri ? ` (${a.uri})` : ''}: ${[...(a.config ? ['persistent'] : []), ...(a.live ? ['live'] : [])].join(' and ')} definition\n`);
        for (const h of history ?? []) ctx.out(`  ${h.startedAt} ${h.status.padEnd(12)} vfioctl ${h.command} ${h.args.join(' ')}${h.error ? ` — ${h.error.message}` : ''}\n`);
        return interrupted ? 1 : 0;
      }),
    );
}
