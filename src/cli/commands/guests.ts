/**
 * `vfioctl guests`: the guests libvirt knows, with their PCI host devices (and which of those other guests
 * list too). Also the helpers the libvirt commands share: --connect, the virsh runner, finding output.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { renderTable } from '../output.js';
import { shortAddr } from '../describe.js';
import { pciHostdevs } from '../../adapters/libvirt/domain-xml.js';

import { type ConnectOptions, virshFor, withConnect } from './shared.js';

export { type ConnectOptions, renderFindings, virshFor, withConnect } from './shared.js';
export { guestJson } from '../../service/views.js';
import { guestsDocument } from '../../service/views.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('guests'))
    .description('list libvirt guests with their PCI host devices (persistent definitions)')
    .action(
      action(ctx, async (opts: ConnectOptions) => {
        const virsh = virshFor(ctx, opts);
        const report = await ctx.session().guestsReport();
        const { guests, shared } = report;
        const users = new Map<string, string[]>();
        for (const g of guests) for (const h of pciHostdevs(g.config)) users.set(h.source, [...(users.get(h.source) ?? []), g.name]);
        if (ctx.json) {
          ctx.printJson(guestsDocument(report));
          return 0;
        }
        const c = ctx.c;
        if (!guests.length) {
          ctx.out(`no guests defined on ${virsh.effectiveUri}\n`);
          return 0;
        }
        const rows = guests.map((g) => {
          const pci = pciHostdevs(g.config);
          const others = g.config.hostdevs.filter((h) => h.kind === 'other').length;
          const bad = g.config.hostdevs.filter((h) => h.kind === 'pci' && h.source === null).length;
          const list = [
            ...pci.map((h) => `${shortAddr(h.source)}${h.managed ? '' : ' (unmanaged)'}${(users.get(h.source)?.length ?? 0) > 1 ? c.yellow(' (shared)') : ''}`),
            ...(others ? [`+${others} non-PCI`] : []),
            ...(bad ? [c.red(`${bad} unreadable`)] : []),
          ];
          return [g.name, g.running ? c.green(g.state) : g.state, g.config.machine ?? '-', g.config.firmware.kind, list.join(', ') || c.dim('-')];
        });
        ctx.out(renderTable(['GUEST', 'STATE', 'MACHINE', 'FIRMWARE', 'PCI HOST DEVICES'], rows, c));
        for (const s of shared) {
          ctx.out(c.yellow(`note: ${shortAddr(s.address)} is listed by ${s.guests.join(', ')}: only one of them can run at a time\n`));
        }
        return 0;
      }),
    );
}
