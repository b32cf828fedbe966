/**
 * `vfioctl agent`: the Kubernetes node agent. Publishes this node's passthrough readiness as Node Feature
 * Discovery labels (a feature file under etc/kubernetes/node-feature-discovery/features.d/, rewritten
 * atomically every interval with a refreshed expiry) and optionally binds a declared set of devices at
 * start through the same plans and refusals as `vfioctl bind`. Logs Kubernetes-event-style lines
 * (JSON lines with --json). Stops on SIGTERM/SIGINT after the current cycle.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode, UsageError } from '../../model/errors.js';
import { VERSION } from '../../model/version.js';

interface AgentCliOptions {
  featuresDir?: string;
  interval?: string;
  expiry?: string;
  once?: boolean;
  devices?: string;
  mappings?: string;
  node?: string;
  dryRun?: boolean;
  labelNamespace?: string;
}

function seconds(v: string | undefined, name: string, def: number, min: number): number {
  if (v === undefined) return def;
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  if (!m) throw new UsageError('bad-duration', `${name} ${JSON.stringify(v)} is not a duration`, `use seconds, or a number with s, m or h (e.g. ${name} 60s)`);
  const n = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (n < min) throw new UsageError('bad-duration', `${name} ${v} is shorter than ${min} s`, `use ${name} ${min}s or more`);
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('agent')
    .description('run as a Kubernetes node agent: NFD feature labels for passthrough readiness, optional declared binds at start')
    .option('--features-dir <dir>', 'NFD local feature directory inside the root', 'etc/kubernetes/node-feature-discovery/features.d')
    .option('--interval <duration>', 'how often to re-read the host and rewrite the labels (default 60s)')
    .option('--expiry <duration>', 'label expiry written into the file (default: three intervals)')
    .option('--once', 'one cycle, then exit (for a Job, an init container, or a test)')
    .option('--devices <file>', 'bind these devices at start (YAML/JSON: kind NodeDevices, docs/fleet.md)')
    .option('--mappings <file>', 'device mappings that `mapping:` selectors name (kind DeviceMappings)')
    .option('--node <name>', 'this node\'s name (default: NODE_NAME, else etc/hostname)')
    .option('--dry-run', 'plan the declared binds and the labels, change nothing, write no file')
    .option('--label-namespace <ns>', 'label namespace (default vfioctl.io)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as AgentCliOptions;
        const interval = seconds(o.interval, '--interval', 60, 1);
        const expiry = o.expiry === undefined ? undefined : seconds(o.expiry, '--expiry', 0, 10);
        const [{ runAgent }, fleet] = await Promise.all([import('../../agent/agent.js'), import('../../service/fleet.js')]);
        const first = ctx.newSession();
        const node = o.node ?? fleet.nodeName(first, ctx.io.env);
        const devices = o.devices ? fleet.readNodeDevices(o.devices) : null;
        const mappingsFile = o.mappings ?? devices?.mappings;
        const mappings = mappingsFile ? fleet.readMappings(mappingsFile) : null;
        if (!o.dryRun) first.assertMutable();
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        try {
          const dir = (o.featuresDir ?? 'etc/kubernetes/node-feature-discovery/features.d').replace(/^\/+/, '');
          const r = await runAgent({
            open: () => ctx.newSession(),
            node,
            featuresDir: dir,
            intervalMs: interval * 1000,
            ...(expiry !== undefined ? { expirySeconds: expiry } : {}),
            once: !!o.once,
            devices,
            mappings,
            dryRun: !!o.dryRun,
            ...(o.labelNamespace ? { namespace: o.labelNamespace } : {}),
            version: VERSION,
            signal: stop.signal,
            log: (e) => {
              if (ctx.json) ctx.out(`${JSON.stringify(e)}\n`);
              else {
                ctx.err(`${e.time} ${e.type === 'Warning' ? ctx.c.yellow(e.type) : e.type} ${e.reason}: ${e.message}\n`);
                if (e.reason === 'WouldLabel' && e.labels) for (const [k, v] of Object.entries(e.labels.added)) ctx.err(`    ${k}=${v}\n`);
              }
            },
          });
          if (o.once) return r.failures || r.binds?.status === 'failed' ? ExitCode.error : r.binds?.status === 'refused' ? ExitCode.notReady : ExitCode.ok;
          return ExitCode.ok;
        } finally {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
      }),
    );
}
