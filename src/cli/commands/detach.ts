/**
 * `vfioctl detach GUEST ADDR...`: remove PCI hostdevs from a guest (--config by default, --live for the
 * running guest), the rest of their IOMMU group along with them, verified and undone on failure; unmanaged
 * functions are given back to the host (nodedev-reattach) unless another guest still lists them.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode, VfioctlError } from '../../model/errors.js';
import type { PciAddressString } from '../../model/pci-address.js';
import { otherGuestsOf, planHostdevDetach, readGuests } from '../../adapters/libvirt/guests.js';
import { pciHostdevs } from '../../adapters/libvirt/domain-xml.js';
import { shortAddr } from '../describe.js';
import { type ChangeOptions, effectsOf, executeChangeSet, loadTarget, parseAddresses, renderChangeSet } from './attach.js';
import { virshFor, withConnect } from './guests.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('detach'))
    .argument('<guest>', 'libvirt guest (domain) name')
    .argument('<address...>', 'PCI functions to take from the guest')
    .option('--live', 'unplug from the running guest')
    .option('--config', 'change the persistent definition (the default when neither flag is given)')
    .option('--dry-run', 'show the virsh commands, each <hostdev> and the definition diff; change nothing')
    .option('--exact', 'only the named functions, not the rest of their IOMMU groups')
    .description('remove PCI functions from a libvirt guest (whole IOMMU groups), giving unmanaged ones back to the host')
    .action(
      action(ctx, async (guest: string, inputs: string[], opts: ChangeOptions & { exact?: boolean }) => {
        const requested = parseAddresses(inputs);
        const effects = effectsOf(opts);
        const virsh = virshFor(ctx, opts);
        const guests = await readGuests(virsh);
        const { target, live } = await loadTarget(virsh, guests, guest, effects);
        let addresses: PciAddressString[] = requested;
        const notes: string[] = [];
        if (!opts.exact) {
          // The rest of each group that this guest holds goes too: half a group cannot start.
          const inv = ctx.inventory();
          const attached = new Set<string>([...pciHostdevs(target.config), ...(live ? pciHostdevs(live) : [])].map((h) => h.source));
          const extra = new Set<PciAddressString>();
          for (const a of requested) {
            const g = inv.functions.find((f) => f.address === a)?.iommuGroup;
            const group = g === null || g === undefined ? undefined : inv.groups.find((x) => x.id === g);
            for (const m of group?.members ?? []) if (m.role === 'endpoint' && attached.has(m.address) && !requested.includes(m.address)) extra.add(m.address);
          }
          if (extra.size) {
            addresses = [...requested, ...extra];
            notes.push(`${[...extra].map(shortAddr).join(', ')} detached as well: same IOMMU group (use --exact to leave ${extra.size > 1 ? 'them' : 'it'})`);
          }
        }
        const set = planHostdevDetach(addresses, target, live, effects, otherGuestsOf(guests, guest));
        set.notes.unshift(...notes);
        const c = ctx.c;
        const base = { version: 1, guest, uri: virsh.effectiveUri, dryRun: !!opts.dryRun };
        if (!set.changes.length) {
          throw new VfioctlError('not-attached', `none of ${requested.map(shortAddr).join(', ')} is attached to ${guest} (${set.skipped.map((x) => x.reason).join('; ')})`, {
            remedy: '`vfioctl guests` shows what each guest holds',
            exitCode: ExitCode.error,
            details: { skipped: set.skipped },
          });
        }
        if (!ctx.json) {
          ctx.out(`${c.bold(guest)} (${target.state}): detach ${set.changes.map((x) => shortAddr(x.address)).join(', ')} ${effects.config ? (effects.live ? '(live and persistent)' : '(persistent definition)') : '(live only)'}\n`);
          renderChangeSet(ctx, set, opts.connect, !!opts.dryRun);
        }
        const result = await executeChangeSet(ctx, virsh, set, base, opts, (r) => {
          ctx.out(`${c.green('detached')} ${r.done.map(shortAddr).join(', ')} from ${guest}\n`);
          if (r.reattached.length) ctx.out(`given back to the host: ${r.reattached.map(shortAddr).join(', ')}\n`);
        });
        return result?.warnings.length ? ExitCode.error : ExitCode.ok;
      }),
    );
}
