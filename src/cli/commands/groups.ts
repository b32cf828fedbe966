/** `vfioctl groups`: IOMMU groups with members, bridge/endpoint roles, isolation and host-critical members. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action, withFrom } from '../command.js';
import { className, deviceName, driverText, shortAddr } from '../describe.js';
import { importNotes, problemLines } from './shared.js';

import type { PciFunction, PciInventory } from '../../model/pci-function.js';
import { FILL_GROUPS } from '../../host/read-inventory.js';

export { groupView } from '../../service/views.js';

export function register(program: Command, ctx: CliContext): void {
  withFrom(program.command('groups'))
    .description('list IOMMU groups: members (bridge or endpoint), isolation, host-critical members')
    .action(
      action(ctx, () => {
        const inv = ctx.inventory({ fill: FILL_GROUPS });
        const byAddr = new Map(inv.functions.map((f) => [f.address as string, f]));
        if (ctx.json) {
          ctx.printJson(ctx.session().groupsReport());
          return 0;
        }
        ctx.out(renderGroups(inv, byAddr, ctx));
        ctx.out(importNotes(inv, ctx.c));
        ctx.out(problemLines(inv, ctx.c));
        return 0;
      }),
    );
}

function renderGroups(inv: PciInventory, byAddr: Map<string, PciFunction>, ctx: CliContext): string {
  const c = ctx.c;
  if (!inv.groups.length) {
    if (inv.source.kind === 'import') return c.yellow('this listing has no IOMMU groups; paste an IOMMU group listing to see them\n');
    return c.yellow('no IOMMU groups: the IOMMU is off or not supported on this host\n') + '  remedy: run `vfioctl doctor` to see why and how to turn it on\n';
  }
  const lines: string[] = [];
  for (const g of inv.groups) {
    const tag =
      g.isolation === 'isolated' ? c.green('isolated') : g.isolation === 'shared' ? c.yellow('shared') : c.dim('bridges only');
    const critical = g.hostCritical.length ? ' ' + c.red(`host-critical: ${[...new Set(g.hostCritical.map((h) => h.reason.split(' (')[0]))].join(', ')}`) : '';
    lines.push(`${c.bold(`group ${g.id}`)}${g.type ? c.dim(` (${g.type})`) : ''}  ${tag}${critical}`);
    for (const m of g.members) {
      const f = byAddr.get(m.address);
      const role = m.role === 'bridge' ? c.dim('bridge  ') : 'endpoint';
      const imported = inv.source.kind === 'import';
      const desc = f ? `${className(f)}: ${deviceName(f)}` : imported ? '(listed without IDs)' : '(not in sys/bus/pci)';
      const drv = f ? driverText(f, inv) : imported ? '?' : '-';
      lines.push(`  ${role}  ${shortAddr(m.address)}  ${desc}  ${c.dim(`driver ${drv}`)}`);
    }
  }
  const ungrouped = inv.functions.filter((f) => f.iommuGroup === null);
  if (ungrouped.length) lines.push(c.yellow(`${ungrouped.length} function(s) in no group: ${ungrouped.map((f) => shortAddr(f.address)).join(' ')}`));
  return lines.join('\n') + '\n';
}
