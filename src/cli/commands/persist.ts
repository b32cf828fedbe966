/**
 * `vfioctl persist ADDR...` / `vfioctl unpersist ADDR... | --all`: keep the plan's whole claim on
 * vfio-pci across reboots, per address (udev rule + early unit, or driverctl when installed) or per ID
 * (modprobe.d `ids=`, or `vfio-pci.ids=` on the kernel command line when vfio-pci is built into the
 * kernel), with softdeps and the initramfs or boot entries regenerated; unpersist removes exactly what
 * persist added. The session plans; a blocked plan is refused (exit 3) unless --force.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode } from '../../model/errors.js';
import { addConfigOptions, assertMutableHost, forcedLosses, reportBlocked, runConfigChange, type ConfigOptions } from '../mutating.js';
import { parseAddresses } from './bind.js';

export { addConfigOptions, type ConfigOptions } from '../mutating.js';

export function register(program: Command, ctx: CliContext): void {
  addConfigOptions(program.command('persist'))
    .argument('<address...>', 'PCI functions to keep on vfio-pci across reboots (their IOMMU group mates follow, as the plan says)')
    .description('keep functions on vfio-pci across reboots: per address (udev rule + early unit, or driverctl) or --by-id (modprobe.d ids=, or vfio-pci.ids= on the kernel command line when vfio-pci is built into the kernel), softdeps, initramfs')
    .option('--by-id', 'persist by vendor:device ID (binds every identical card); refused when another function has the same ID; with vfio-pci built in, edits the kernel command line (reboot needed)')
    .option('--force', 'persist even when the plan is blocked by host-impact findings (the plan says which)')
    .option('--single-function', 'keep only the named functions (default: all functions of a slot, e.g. a GPU and its HDMI audio, go together)')
    .option('--acknowledge', 'the persisted addresses now hold other devices on purpose (a card replaced or moved): record what they hold now, so the boot-time binding takes them again')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as ConfigOptions & { byId?: boolean; singleFunction?: boolean; acknowledge?: boolean };
        const addresses = parseAddresses(inputs);
        assertMutableHost(ctx, o);
        if (o.acknowledge) {
          const ack = await ctx.session().changeAcknowledge({ addresses });
          return runConfigChange(ctx, ack, o, `record what ${addresses.join(' ')} holds now as the persisted device?`);
        }
        const change = await ctx.session().changePersist({ addresses, byId: !!o.byId, force: !!o.force, singleFunction: !!o.singleFunction });
        if (change.verdict === 'blocked') {
          if (ctx.json) ctx.printJson({ version: 1, dryRun: !!o.dryRun, command: 'persist', verdict: change.verdict, claim: change.claim, findings: change.findings, result: null });
          return reportBlocked(ctx, change.findings, `${inputs.join(' ')}${o.byId ? ' --by-id' : ''}`);
        }
        const extra = change.claim.filter((a) => !addresses.includes(a));
        if (!ctx.json && extra.length) ctx.err(`vfioctl persist: ${change.claim.join(' ')} (group mates added: ${extra.join(' ')})\n`);
        if (!ctx.json && o.force) for (const f of forcedLosses(change)) ctx.err(`  ${ctx.c.red('--force: the host loses')} ${f.summary}\n`);
        return runConfigChange(ctx, change, o, `write the boot-time configuration for ${change.claim.join(' ')}?`);
      }),
    );
  addConfigOptions(program.command('unpersist'))
    .argument('[address...]', 'functions whose boot-time configuration to remove (with the rest of their IOMMU groups)')
    .description('remove exactly the boot-time configuration `vfioctl persist` added (vfio-pci.ids= keeps the IDs vfioctl did not add)')
    .option('--all', 'remove everything vfioctl persisted')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as ConfigOptions & { all?: boolean };
        assertMutableHost(ctx, o);
        const change = await ctx.session().changeUnpersist({ addresses: inputs, all: !!o.all });
        await runConfigChange(ctx, change, o, 'remove the boot-time configuration vfioctl added?');
        return ExitCode.ok;
      }),
    );
}
