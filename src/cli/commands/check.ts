/**
 * `vfioctl check ADDR...`: can these PCI functions be passed through on this host, now? The device
 * findings of `vfioctl doctor ADDR...` plus the host findings that warn or fail. Exit 0 ready, 3 not.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode } from '../../model/errors.js';
import { parseAddresses, renderReport, runDoctor } from './doctor.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .argument('<address...>', 'PCI functions to judge (01:00.0, 0000:01:00.0 or pci_0000_01_00_0)')
    .description('per-device verdict: IOMMU group, reset, ROM, boot display and framebuffer, conventional PCI, SR-IOV, power state, host driver, plus the host problems that block it')
    .option('-v, --verbose', 'show the evidence and details of every finding')
    .option('--no-libvirt', 'do not run virsh for the libvirt version and its VFIO backend')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const report = await runDoctor(ctx, { addresses: parseAddresses(inputs), deviceFocus: true, libvirt: opts.libvirt !== false });
        if (ctx.json) ctx.printJson(report);
        else ctx.out(renderReport(report, ctx.c, !!opts.verbose));
        return report.verdict === 'ready' ? ExitCode.ok : ExitCode.notReady;
      }),
    );
}
