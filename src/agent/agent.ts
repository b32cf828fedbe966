/**
 * The node agent (`vfioctl agent`): a long-running, read-mostly front end over the session for Kubernetes
 * nodes. At start it optionally binds a declared set of devices (through the same plans, journal and
 * refusals as `vfioctl bind`); then, every interval, it reads the host afresh and rewrites the Node
 * Feature Discovery feature file (atomically, with a refreshed expiry), logging what changed as
 * Kubernetes-event-style lines. A failed cycle is logged and the next one runs; the file keeps its old
 * expiry, so NFD drops the labels if the agent stays broken.
 *
 * It decides nothing itself: labels, plans and refusals come from src/service/fleet.ts and the session.
 */
import type { Session } from '../service/session.js';
import { type DeclaredEvent, type NodeDevices, applyDeclared, nodeFeatures, writeFeatureFile } from '../service/fleet.js';
import type { DeviceMappings } from '../core/device-mapping.js';
import type { BindOutcome } from '../core/node-labels.js';
import { VfioctlError } from '../model/errors.js';

export interface AgentEvent {
  schemaVersion: 1;
  kind: 'agent-event';
  time: string;
  node: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  addresses?: string[];
  labels?: { added: Record<string, string>; removed: string[]; changed: Record<string, { from: string; to: string }> };
  findings?: DeclaredEvent['findings'];
}

export interface AgentOptions {
  /** a fresh session on the host for each cycle (facts are read anew) */
  open: () => Session;
  node: string;
  featuresDir?: string;
  fileName?: string;
  intervalMs: number;
  /** label expiry after each write, seconds (default: three intervals, at least 60 s) */
  expirySeconds?: number;
  once?: boolean;
  devices?: NodeDevices | null;
  mappings?: DeviceMappings | null;
  dryRun?: boolean;
  namespace?: string;
  version?: string;
  log: (e: AgentEvent) => void;
  /** stops the loop after the current cycle */
  signal?: AbortSignal;
  /** clock, for tests */
  now?: () => Date;
}

export interface AgentRun {
  cycles: number;
  failures: number;
  binds: BindOutcome | null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runAgent(o: AgentOptions): Promise<AgentRun> {
  const now = o.now ?? (() => new Date());
  const emit = (e: Omit<AgentEvent, 'schemaVersion' | 'kind' | 'time' | 'node'>) => o.log({ schemaVersion: 1, kind: 'agent-event', time: now().toISOString(), node: o.node, ...e });
  const expirySeconds = o.expirySeconds ?? Math.max(60, Math.ceil((3 * o.intervalMs) / 1000));
  const run: AgentRun = { cycles: 0, failures: 0, binds: null };

  if (o.devices) {
    try {
      const r = await applyDeclared(o.open(), o.devices, { node: o.node, mappings: o.mappings ?? null, dryRun: !!o.dryRun });
      run.binds = r.outcome;
      for (const e of r.events) emit({ type: e.type, reason: e.reason, message: e.message, addresses: e.addresses, ...(e.findings?.length ? { findings: e.findings } : {}) });
    } catch (e) {
      if (!(e instanceof VfioctlError)) throw e;
      run.binds = { status: 'failed', bound: 0, refused: 0, failed: 0 };
      emit({ type: 'Warning', reason: 'BindFailed', message: `${e.message}${e.remedy ? ` (${e.remedy})` : ''}` });
    }
  }

  for (;;) {
    run.cycles++;
    try {
      const session = o.open();
      const f = await nodeFeatures(session, { binds: run.binds, expirySeconds, now: now(), node: o.node, ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.version ? { version: o.version } : {}) });
      for (const d of f.dropped) emit({ type: 'Warning', reason: 'LabelDropped', message: `${d.name}: ${d.reason}` });
      if (o.dryRun) {
        emit({ type: 'Normal', reason: 'WouldLabel', message: `would write ${f.labels.length} labels (dry run)`, labels: { added: Object.fromEntries(f.labels.map((l) => [l.name, l.value])), removed: [], changed: {} } });
      } else {
        const w = writeFeatureFile(session, f.text, o.featuresDir, o.fileName);
        if (w.changed) {
          const next = Object.fromEntries(f.labels.map((l) => [l.name, l.value]));
          const prev = w.previous ?? {};
          const added = Object.fromEntries(Object.entries(next).filter(([k]) => !(k in prev)));
          const removed = Object.keys(prev).filter((k) => !(k in next));
          const changed = Object.fromEntries(Object.entries(next).filter(([k, v]) => k in prev && prev[k] !== v).map(([k, v]) => [k, { from: prev[k]!, to: v }]));
          emit({ type: 'Normal', reason: 'LabelsUpdated', message: `${session.host().display(w.rel)}: ${Object.keys(added).length} added, ${removed.length} removed, ${Object.keys(changed).length} changed (expires ${f.expiry})`, labels: { added, removed, changed } });
        }
      }
    } catch (e) {
      if (!(e instanceof VfioctlError)) throw e;
      run.failures++;
      emit({ type: 'Warning', reason: 'CycleFailed', message: `${e.message}${e.remedy ? ` (${e.remedy})` : ''}` });
    }
    if (o.once || o.signal?.aborted) break;
    await sleep(o.intervalMs, o.signal);
    if (o.signal?.aborted) break;
  }
  return run;
}
