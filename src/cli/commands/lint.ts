/** `vfioctl lint GUEST`: review a libvirt guest's definition for PCI passthrough. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode } from '../../model/errors.js';
import { type ConnectOptions, renderFindings, withConnect } from './shared.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('lint'))
    .argument('<guest>', 'libvirt guest (domain) name')
    .option('--all', 'also show the checks that passed')
    .description('review a guest for passthrough: machine, firmware, IOMMU groups, multifunction slots, ROMs, hidden KVM, vIOMMU, limits, migration')
    .action(
      action(ctx, async (guest: string, opts: ConnectOptions & { all?: boolean }) => {
        const s = ctx.session();
        const report = await s.lint(guest);
        const { findings, verdict: worst } = report;
        const target = (await s.guests()).find((g) => g.name === guest)!;
        const code = worst === 'fail' ? ExitCode.notReady : ExitCode.ok;
        if (ctx.json) {
          ctx.printJson(report);
          return code;
        }
        const c = ctx.c;
        ctx.out(`${c.bold(guest)} (${target.state}, ${target.config.machine ?? 'default machine'}, ${target.config.firmware.kind})\n`);
        ctx.out(renderFindings(findings, c, { hideOk: !opts.all }));
        const counts = (['fail', 'warn', 'info', 'ok'] as const).map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`).join(', ');
        ctx.out(`${worst === 'fail' ? c.red('problems found') : worst === 'warn' ? c.yellow('warnings') : c.green('no problems')}: ${counts}\n`);
        return code;
      }),
    );
}
