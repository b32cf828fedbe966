/** `vfioctl release ADDR... | --all`: give functions back to the driver and override they had before vfioctl bound them. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { UsageError } from '../../model/errors.js';
import { addMutatingOptions, assertMutableHost, confirmChange, timeoutOf, type MutatingOptions } from '../mutating.js';
import { parseAddresses } from './bind.js';

export function register(program: Command, ctx: CliContext): void {
  addMutatingOptions(program.command('release'))
    .argument('[address...]', 'functions to give back (default with --all: every function vfioctl bound)')
    .description('return functions from vfio-pci to the drivers they had (recorded in the journal), verified and rolled back on failure')
    .option('--all', 'release every function vfioctl has bound')
    .option('--to <driver>', 'for a function vfioctl did not bind: the driver to give it to (or "none")')
    .option('--timeout <ms>', 'how long to wait for a driver to bind (default 10000)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as MutatingOptions & { all?: boolean; to?: string };
        assertMutableHost(ctx, o);
        if (o.all && inputs.length) throw new UsageError('bad-options', 'give addresses or --all, not both', 'e.g. vfioctl release --all');
        if (!o.all && !inputs.length) throw new UsageError('no-address', 'name the functions to release, or pass --all', '`vfioctl status` lists what vfioctl has bound');
        const which = o.all ? ('all' as const) : parseAddresses(inputs);
        const s = ctx.session();
        const relOpts = o.to === undefined ? {} : { to: o.to };
        const preview = await s.releasePreview(which, relOpts);
        const todo = preview.functions.filter((f) => !f.unchanged);
        if (o.dryRun || !todo.length) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, preview, result: null });
          else {
            ctx.out(o.dryRun ? `${ctx.c.bold('vfioctl release')} (dry run, nothing changed)\n` : 'nothing to release\n');
            for (const f of preview.functions) {
              ctx.out(`  ${f.address}: ${f.unchanged ? 'already' : `${f.from.driver ?? 'no driver'} ->`} ${f.to.driver ?? 'no driver'}${f.to.override ? ` (override ${f.to.override})` : ''}\n`);
              for (const w of f.writes) ctx.out(`      ${w}\n`);
            }
            for (const s of preview.skipped) ctx.out(`  ${s.address}: skipped, ${s.reason}\n`);
          }
          return 0;
        }
        await confirmChange(ctx, o, `return ${todo.length} function(s) to their drivers (${todo.map((f) => `${f.address} -> ${f.to.driver ?? 'none'}`).join(', ')})?`);
        const t = timeoutOf(o);
        const result = await s.release(which, { ...relOpts, ...(t !== undefined ? { timeoutMs: t } : {}) });
        if (ctx.json) ctx.printJson({ version: 1, dryRun: false, preview, result });
        else {
          for (const f of result.released) ctx.out(`${f.address}: vfio-pci -> ${f.to.driver ?? 'no driver'}\n`);
          for (const s of result.skipped) ctx.out(`${s.address}: skipped, ${s.reason}\n`);
        }
        return 0;
      }),
    );
}
