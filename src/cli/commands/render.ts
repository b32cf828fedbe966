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
import type { PassthroughPlan } from '../../model/plan.js';

/** The pinning hint as its own section after the configuration (libvirt XML for the libvirt formats, a comment otherwise). */
function numaHintSection(plan: PassthroughPlan, format: string): string {
  const xml = format === 'libvirt' || format === 'libvirt-domain';
  const note = (t: string): string => (xml ? `<!-- ${t} -->\n` : `# ${t}\n`);
  const a = plan.affinity;
  if (!a) return note('vfioctl NUMA hint: not known (the listing does not tell NUMA nodes)');
  if (a.spansNodes) return note(`vfioctl NUMA hint: none: the functions sit on NUMA nodes ${a.nodes.join(', ')}`);
  if (!a.hint) return note('vfioctl NUMA hint: none: the host shows no NUMA node for these functions');
  if (xml) return `\n${a.hint.libvirt}`;
  return `\n# vfioctl NUMA hint: the functions are local to host NUMA node ${a.hint.node}${a.hint.cpus ? ` (CPUs ${a.hint.cpus})` : ''}\n# run the guest there, e.g. numactl --cpunodebind=${a.hint.node} --membind=${a.hint.node} qemu-system-x86_64 ...\n`;
}

export function register(program: Command, ctx: CliContext): void {
  withPlanOptions(program.command('render'))
    .argument('<format>', `one of: ${[...RENDER_FORMATS, 'kubernetes'].join(', ')}`)
    .argument('[address...]', 'PCI functions to pass through (none for kubernetes: the node as it is)')
    .option('--machine <type>', 'guest machine type for placement: q35 or pc', 'q35')
    .option('--numa-hint', 'also print the guest NUMA/CPU pinning hint (<numatune>/<cputune> for the host node the functions share) after the configuration')
    .option('--image <ref>', 'kubernetes: the agent image (the single executable at /usr/bin/vfioctl)')
    .option('--namespace <ns>', 'kubernetes: namespace of the agent DaemonSet', 'vfioctl')
    .option('--node-selector <key=value...>', 'kubernetes: run the agent only on nodes with these labels')
    .option('--devices-configmap <name>', 'kubernetes: a ConfigMap with devices.yaml (kind NodeDevices) the agent binds at start')
    .option('--agent-interval <seconds>', 'kubernetes: how often the agent rewrites the labels', '60')
    .option('--agent-dry-run', 'kubernetes: the agent plans and labels but changes nothing')
    .description('print the configuration a passthrough plan needs (libvirt, virsh, virt-install, QEMU, host, KubeVirt)')
    .action(
      action<[string, string[]]>(ctx, async (format, inputs, opts) => {
        if (format === 'kubernetes') return renderKubernetesCommand(ctx, inputs, opts as KubernetesCliOptions);
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
        let text = renderPlan(format, plan, { machine, ...(boot ? { boot } : {}), ...(viommu ? { viommu } : {}) });
        if ((opts as { numaHint?: boolean }).numaHint) text += numaHintSection(plan, format);
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

interface KubernetesCliOptions {
  image?: string;
  namespace?: string;
  nodeSelector?: string[];
  devicesConfigmap?: string;
  agentInterval?: string;
  agentDryRun?: boolean;
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `render kubernetes`: the agent DaemonSet, KubeVirt permittedHostDevices for this node, a VMI snippet. */
async function renderKubernetesCommand(ctx: CliContext, inputs: string[], o: KubernetesCliOptions): Promise<number> {
  if (inputs.length) throw new UsageError('bad-arguments', 'render kubernetes takes no addresses: it renders the node as it is (its functions on vfio drivers)', 'bind the functions first (vfioctl bind ADDR), then run vfioctl render kubernetes');
  const [{ renderKubernetes, kubernetesObjects, DEFAULT_KUBERNETES_OPTIONS }, { isVfioDriver }, { VERSION }] = await Promise.all([
    import('../../adapters/render/kubernetes.js'),
    import('../../core/node-labels.js'),
    import('../../model/version.js'),
  ]);
  const nodeSelector: Record<string, string> = {};
  for (const kv of o.nodeSelector ?? []) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]{0,252})=([A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]|[A-Za-z0-9]?)$/.exec(kv);
    if (!m) throw new UsageError('bad-node-selector', `--node-selector ${JSON.stringify(kv)} is not KEY=VALUE`, 'e.g. --node-selector vfioctl.io/iommu=true');
    nodeSelector[m[1]!] = m[2]!;
  }
  const namespace = o.namespace ?? 'vfioctl';
  if (!K8S_NAME.test(namespace)) throw new UsageError('bad-namespace', `--namespace ${JSON.stringify(namespace)} is not a Kubernetes name`, 'lower-case letters, digits and -, at most 63');
  if (o.devicesConfigmap !== undefined && !K8S_NAME.test(o.devicesConfigmap)) throw new UsageError('bad-configmap', `--devices-configmap ${JSON.stringify(o.devicesConfigmap)} is not a Kubernetes name`, 'lower-case letters, digits and -, at most 63');
  const interval = Number(o.agentInterval ?? '60');
  if (!Number.isInteger(interval) || interval < 1) throw new UsageError('bad-interval', `--agent-interval ${o.agentInterval} is not a whole number of seconds`, 'e.g. --agent-interval 60');
  if (o.image !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,255}$/.test(o.image)) throw new UsageError('bad-image', `--image ${JSON.stringify(o.image)} is not an image reference`, 'e.g. --image registry.example.com/vfioctl:0.1.0');
  const opts = { ...DEFAULT_KUBERNETES_OPTIONS, image: o.image ?? `localhost/vfioctl:${VERSION}`, namespace, nodeSelector, devicesConfigMap: o.devicesConfigmap ?? null, intervalSeconds: interval, dryRun: !!o.agentDryRun, version: VERSION };
  const inv = ctx.session().inventory();
  const isVfio = (f: { driver: string | null }) => isVfioDriver(f.driver);
  if (ctx.json) {
    const k = kubernetesObjects(inv, opts, isVfio);
    ctx.printJson({ version: 1, format: 'kubernetes', daemonSet: k.daemonSet, kubevirt: k.kubevirt, vmi: k.vmi, vfio: k.vfio.map((f) => f.address), text: renderKubernetes(inv, opts, isVfio) });
  } else ctx.out(renderKubernetes(inv, opts, isVfio));
  return ExitCode.ok;
}
