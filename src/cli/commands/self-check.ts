/** `vfioctl self-check`: verify this installed copy (embedded data, pci.ids, host tools) for a bug report. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('self-check')
    .description('verify this installed copy: embedded or shipped data, the pci.ids it uses, the host tools it runs')
    .action(
      action<[]>(ctx, async () => {
        const { selfCheck, selfCheckExitCode } = await import('../../service/self-check.js');
        const report = selfCheck({ env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ctx.io.env } });
        if (ctx.json) {
          ctx.printJson(report);
          return selfCheckExitCode(report);
        }
        const c = ctx.c;
        ctx.out(`version ${report.version} (${report.build}${report.commit ? `, ${report.commit.slice(0, 12)}` : ''})${report.executable ? ` at ${report.executable}` : ''}\n`);
        for (const k of report.checks) {
          const mark = k.ok ? c.green('ok  ') : k.required ? c.red('FAIL') : c.yellow('warn');
          ctx.out(`  ${mark}  ${k.id.padEnd(24)} ${k.detail}\n`);
          if (k.remedy) ctx.out(`        remedy: ${k.remedy}\n`);
        }
        const verdict = report.verdict === 'ok' ? c.green('ok') : report.verdict === 'broken' ? c.red('broken: this copy is damaged') : c.yellow('incomplete: a required tool is missing');
        ctx.out(`self-check: ${verdict}\n`);
        return selfCheckExitCode(report);
      }),
    );
}
