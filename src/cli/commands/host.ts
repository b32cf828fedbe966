/**
 * `vfioctl host enable-iommu` / `disable-iommu`: the kernel command line for the detected boot loader
 * (grub defaults keeping every other parameter and the quoting, /etc/kernel/cmdline, grubby, kernelstub,
 * proxmox-boot-tool), regenerated, with the reboot it needs said plainly. `--allow-unsafe-interrupts`
 * writes the vfio_iommu_type1 opt-out, with a warning: it is a security downgrade. The session plans the
 * change; this command shows, confirms and applies its steps.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { UsageError } from '../../model/errors.js';
import { UNSAFE_WARNING } from '../../service/session.js';
import { addConfigOptions, assertMutableHost, runConfigChange, type ConfigOptions } from '../mutating.js';

export function register(program: Command, ctx: CliContext): void {
  const host = program.command('host').description('host-wide settings: IOMMU on the kernel command line');
  addConfigOptions(host.command('enable-iommu'))
    .description('turn the IOMMU on in the kernel command line of the detected boot loader (a reboot is needed)')
    .option('--vendor <intel|amd>', 'CPU vendor (default: from /proc/cpuinfo)')
    .option('--no-pt', 'do not add iommu=pt (passthrough mode for host-owned devices)')
    .option('--allow-unsafe-interrupts', 'also allow VFIO without interrupt remapping (a security downgrade)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as ConfigOptions & { vendor?: string; pt?: boolean; allowUnsafeInterrupts?: boolean };
        assertMutableHost(ctx, o);
        if (o.vendor !== undefined && o.vendor !== 'intel' && o.vendor !== 'amd') throw new UsageError('bad-vendor', `--vendor ${o.vendor}: expected intel or amd`);
        const change = await ctx.session().changeIommu({ enable: true, ...(o.vendor ? { vendor: o.vendor as 'intel' | 'amd' } : {}), pt: o.pt !== false, allowUnsafeInterrupts: !!o.allowUnsafeInterrupts });
        if (!change) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, command: 'host enable-iommu', result: null, notes: ['AMD: the IOMMU is used when firmware enables it; amd_iommu=on is not a valid value'] });
          else ctx.out('nothing to add: on AMD the IOMMU is used when firmware enables it (amd_iommu=on is not a valid value); enable AMD-Vi/IOMMU in the firmware setup\n');
          return 0;
        }
        if (o.allowUnsafeInterrupts && !ctx.json) ctx.err(`${ctx.c.red(UNSAFE_WARNING)}\n`);
        return runConfigChange(ctx, change, o, `${change.steps[0]!.title.replace(/^turn the IOMMU on: /, 'add ')}?`);
      }),
    );
  addConfigOptions(host.command('disable-iommu'))
    .description('undo enable-iommu: remove exactly the parameters vfioctl added (and give back what it replaced)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as ConfigOptions;
        assertMutableHost(ctx, o);
        const change = (await ctx.session().changeIommu({ enable: false }))!;
        return runConfigChange(ctx, change, o, `${change.steps[0]!.title}?`);
      }),
    );
}
