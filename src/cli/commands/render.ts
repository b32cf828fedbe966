/**
 * `vfioctl render FORMAT ADDR...`: the configuration a plan needs, in one format: libvirt (hostdev and
 * feature fragments), libvirt-domain (a complete new domain), virsh, virt-install, qemu, qemu-nested,
 * host-config, modprobe, kubevirt. Takes the plan options. A blocked plan still prints (a host with the
 * IOMMU off needs its host-config), but its findings go to stderr and the exit code is 3.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { renderFindings } from './shared.js';
import { buildPlan, viommuOption, withPlanOptions, type PlanCliOptions } from './plan.js';
import { RENDER_FORMATS, isRenderFormat, renderPlan } from '../../adapters/render/index.js';
import { ExitCode, UsageError } from '../../model/errors.js';

export function register(program: Command, ctx: CliContext): void {
  withPlanOptions(program.command('render'))
    .argument('<format>', `one of: ${RENDER_FORMATS.join(', ')}`)
    .argument('<address...>', 'PCI functions to pass through')
    .option('--machine <type>', 'guest machine type for placement: q35 or pc', 'q35')
    .description('print the configuration a passthrough plan needs (libvirt, virsh, virt-install, QEMU, host, KubeVirt)')
    .action(
      action<[string, string[]]>(ctx, async (format, inputs, opts) => {
        if (!isRenderFormat(format)) throw new UsageError('bad-format', `unknown format ${JSON.stringify(format)}`, `use one of: ${RENDER_FORMATS.join(', ')}`);
        const machine = (opts as { machine?: string }).machine ?? 'q35';
        if (machine !== 'q35' && machine !== 'pc') throw new UsageError('bad-machine', `--machine ${machine} is not q35 or pc`, 'use --machine q35 or --machine pc');
        const nestedFormat = format === 'qemu-nested';
        const planOpts: PlanCliOptions = { ...(opts as PlanCliOptions), ...(nestedFormat ? { nested: true } : {}) };
        const viommu = viommuOption(planOpts);
        if (viommu && viommu !== 'intel' && !['libvirt', 'libvirt-domain'].includes(format)) {
          throw new UsageError('viommu-format', `--viommu ${viommu} is rendered for libvirt and libvirt-domain only`, `use render libvirt or libvirt-domain, or drop --viommu (the ${format} output has the Intel IOMMU)`);
        }
        const { plan, boot } = await buildPlan(ctx, inputs, planOpts);
        const text = renderPlan(format, plan, { machine, ...(boot ? { boot } : {}), ...(viommu ? { viommu } : {}) });
        const blocked = plan.verdict === 'blocked';
        if (ctx.json) {
          ctx.printJson({ version: 1, format, verdict: plan.verdict, claim: plan.claim, findings: plan.findings, text });
        } else {
          ctx.out(text);
          const notable = plan.findings.filter((f) => f.severity === 'fail' || f.severity === 'warn');
          if (notable.length) {
            ctx.err(`${blocked ? ctx.c.red('vfioctl: the plan is blocked') : ctx.c.yellow('vfioctl: the plan has warnings')} (vfioctl plan shows it in full):\n`);
            ctx.err(renderFindings(notable, ctx.c));
          }
        }
        return blocked ? ExitCode.notReady : ExitCode.ok;
      }),
    );
}
