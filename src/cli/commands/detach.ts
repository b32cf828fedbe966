/**
 * `vfioctl detach GUEST ADDR...`: remove PCI hostdevs from a guest (--config by default, --live for the
 * running guest), the rest of their IOMMU group along with them, verified and undone on failure; unmanaged
 * functions are given back to the host (nodedev-reattach) unless another guest still lists them. The
 * session plans the change (group expansion included); this command shows, confirms and applies it.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode } from '../../model/errors.js';
import { shortAddr } from '../describe.js';
import { type ChangeOptions, effectsOf, executeChangeSet, parseAddresses, renderChangeSet } from './attach.js';
import { withConnect } from './shared.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('detach'))
    .argument('<guest>', 'libvirt guest (domain) name')
    .argument('<address...>', 'PCI functions to take from the guest')
    .option('--live', 'unplug from the running guest')
    .option('--config', 'change the persistent definition (the default when neither flag is given)')
    .option('-n, --dry-run', 'show the virsh commands, each <hostdev> and the definition diff; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--exact', 'only the named functions, not the rest of their IOMMU groups')
    .description('remove PCI functions from a libvirt guest (whole IOMMU groups), giving unmanaged ones back to the host')
    .action(
      action(ctx, async (guest: string, inputs: string[], opts: ChangeOptions & { exact?: boolean }) => {
        const requested = parseAddresses(inputs);
        if (!opts.dryRun) ctx.session().assertMutable();
        const effects = effectsOf(opts);
        const change = await ctx.session().changeDetach({ guest, addresses: requested, effects, exact: !!opts.exact });
        const { set, target } = change.hostdev!;
        const c = ctx.c;
        const base = { version: 1, guest, uri: ctx.session().virsh().effectiveUri, dryRun: !!opts.dryRun };
        if (!ctx.json) {
          ctx.out(`${c.bold(guest)} (${target.state}): detach ${set.changes.map((x) => shortAddr(x.address)).join(', ')} ${effects.config ? (effects.live ? '(live and persistent)' : '(persistent definition)') : '(live only)'}\n`);
          renderChangeSet(ctx, set, opts.connect, !!opts.dryRun);
        }
        const result = await executeChangeSet(ctx, change, base, opts, `detach ${set.changes.map((x) => shortAddr(x.address)).join(', ')} from guest ${guest}?`, (r) => {
          ctx.out(`${c.green('detached')} ${r.done.map(shortAddr).join(', ')} from ${guest}\n`);
          if (r.reattached.length) ctx.out(`given back to the host: ${r.reattached.map(shortAddr).join(', ')}\n`);
        });
        return result?.warnings.length ? ExitCode.error : ExitCode.ok;
      }),
    );
}
