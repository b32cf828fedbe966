/** `vfioctl ls`: one line per PCI function. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action, withFrom } from '../command.js';
import { renderTable } from '../output.js';
import { className, deviceName, driverText, flags, shortAddr } from '../describe.js';
import { importNotes, problemLines } from './shared.js';
import { FILL_LS, FILL_LS_JSON } from '../../host/read-inventory.js';


export function register(program: Command, ctx: CliContext): void {
  withFrom(program.command('ls'))
    .description('list PCI functions: address, class, names with [vendor:device], driver, IOMMU group, flags')
    .action(
      action(ctx, () => {
        const inv = ctx.inventory({ fill: ctx.json ? FILL_LS_JSON : FILL_LS });
        if (ctx.json) {
          ctx.printJson(ctx.session().inventoryReport());
          return 0;
        }
        const c = ctx.c;
        const rows = inv.functions.map((f) => [
          shortAddr(f.address),
          className(f),
          deviceName(f),
          driverText(f, inv),
          f.iommuGroup === null ? '-' : String(f.iommuGroup),
          c.dim(flags(f).join(',')),
        ]);
        ctx.out(renderTable(['ADDRESS', 'CLASS', 'DEVICE', 'DRIVER', 'GROUP', 'FLAGS'], rows, c));
        ctx.out(importNotes(inv, c));
        ctx.out(problemLines(inv, c));
        if (!inv.functions.length) ctx.out('no PCI functions found\n');
        return 0;
      }),
    );
}
