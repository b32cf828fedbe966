/**
 * `vfioctl host enable-iommu` / `disable-iommu`: the kernel command line for the detected boot loader
 * (grub defaults keeping every other parameter and the quoting, /etc/kernel/cmdline, grubby, kernelstub,
 * proxmox-boot-tool), regenerated, with the reboot it needs said plainly. `--allow-unsafe-interrupts`
 * writes the vfio_iommu_type1 opt-out, with a warning: it is a security downgrade.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { iommuParams, planKernelCmdline, planUnsafeInterrupts, readCpuVendor } from '../../apply/persist.js';
import { newRunId, StateStore } from '../../apply/state.js';
import { detectBootTooling } from '../../host/detect-boot.js';
import { UsageError } from '../../model/errors.js';
import { addConfigOptions, runConfigPlan, type ConfigOptions } from './persist.js';
import { assertMutableHost } from './bind.js';

const UNSAFE_WARNING = 'WARNING: allow_unsafe_interrupts lets a guest inject interrupts on a host without interrupt remapping; use it only for guests you trust completely.';

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
        const root = ctx.host();
        const vendor = (o.vendor as 'intel' | 'amd' | undefined) ?? readCpuVendor(root);
        const params = iommuParams(vendor, o.pt !== false);
        if (!params.length) {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, command: 'host enable-iommu', result: null, notes: ['AMD: the IOMMU is used when firmware enables it; amd_iommu=on is not a valid value'] });
          else ctx.out('nothing to add: on AMD the IOMMU is used when firmware enables it (amd_iommu=on is not a valid value); enable AMD-Vi/IOMMU in the firmware setup\n');
          return 0;
        }
        const tooling = detectBootTooling(root);
        const plan = planKernelCmdline(root, tooling, new StateStore(root).readState(), { enable: true, params }, newRunId());
        if (o.allowUnsafeInterrupts) {
          const u = planUnsafeInterrupts(root, tooling, true);
          plan.files.push(...u.files);
          for (const c of u.commands) if (!plan.commands.some((x) => x.argv.join(' ') === c.argv.join(' '))) plan.commands.push(c);
          plan.notes.push(UNSAFE_WARNING);
          if (!ctx.json) ctx.err(`${ctx.c.red(UNSAFE_WARNING)}\n`);
        }
        await runConfigPlan(ctx, null, plan, o, `add ${params.join(' ')} to the kernel command line (${tooling.bootLoader.kind})?`);
        return 0;
      }),
    );
  addConfigOptions(host.command('disable-iommu'))
    .description('undo enable-iommu: remove exactly the parameters vfioctl added (and give back what it replaced)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as ConfigOptions;
        assertMutableHost(ctx, o);
        const root = ctx.host();
        const tooling = detectBootTooling(root);
        const plan = planKernelCmdline(root, tooling, new StateStore(root).readState(), { enable: false, params: iommuParams(readCpuVendor(root), true) }, newRunId());
        const u = planUnsafeInterrupts(root, tooling, false);
        plan.files.push(...u.files);
        await runConfigPlan(ctx, null, plan, o, `remove the IOMMU parameters vfioctl added (${tooling.bootLoader.kind})?`);
        return 0;
      }),
    );
}
