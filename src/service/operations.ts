/**
 * The mutating commands as operations for a front end that previews and then applies: `prepareOperation`
 * plans one (bind, release, persist, unpersist, enable-iommu, disable-iommu, attach, detach, recover) on a
 * session and returns what it would do (the preview: its steps with their effects and file diffs) and a
 * `run` that carries out exactly those steps under the journal and returns the document the CLI's
 * `--json` prints for that command. The decisions (group expansion, blocked plans, what each step writes)
 * are the session's; this file only selects and shapes them, the same way the CLI commands do.
 */
import type { ApplyOptions, Change, Session } from './session.js';
import { type Effects, type HostdevChangeSet, describeCommands } from '../adapters/libvirt/guests.js';
import { unifiedDiff } from '../host/host-writer.js';
import type { Finding } from '../model/finding.js';
import type { PlanStep, PlanVerdict, StepEffect } from '../model/plan.js';
import { UsageError } from '../model/errors.js';

export const OPERATION_ACTIONS = ['bind', 'release', 'persist', 'unpersist', 'enable-iommu', 'disable-iommu', 'attach', 'detach', 'recover'] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];

export interface OperationRequest {
  action: OperationAction;
  addresses: string[];
  guest?: string;
  options: Record<string, unknown>;
}

/** A step as a preview shows it: the plan step, each file effect with its unified diff, text lines for writes. */
export type PreviewStep = Omit<PlanStep, 'effects' | 'action'> & {
  /** the plan's action (absent for release and recover steps, which come from a journal) */
  action?: PlanStep['action'];
  effects: (StepEffect & { diff?: string })[];
  /** what the step writes or runs, as a person would type it (release and recover, which have no plan) */
  lines?: string[];
};

export interface OperationPreview {
  action: OperationAction;
  /** the command as the journal names it, e.g. "bind", "host enable-iommu" */
  command: string;
  verdict: PlanVerdict;
  blocked: boolean;
  /** the failing findings that block it */
  blockers: Finding[];
  warnings: Finding[];
  findings: Finding[];
  /** the functions it changes */
  claim: string[];
  steps: PreviewStep[];
  notes: string[];
  needsReboot: boolean;
  /** every file change as one unified diff (null: no file changes) */
  diff: string | null;
  /** release and recover: what their own dry runs show */
  release?: unknown;
  recover?: unknown;
}

export interface PreparedOperation {
  preview: OperationPreview;
  /** Carry out exactly the previewed steps; resolves to the CLI's --json document of the command. */
  run(opts: Pick<ApplyOptions, 'onStep'>): Promise<object>;
}

const opt = <T>(o: Record<string, unknown>, k: string): T | undefined => o[k] as T | undefined;

function effectsOf(o: Record<string, unknown>): Effects {
  const live = !!opt<boolean>(o, 'live');
  const config = !!opt<boolean>(o, 'config');
  // without a flag: the persistent definition only (as the CLI)
  return !live && !config ? { live: false, config: true } : { live, config };
}

function withDiffs(steps: PlanStep[]): PreviewStep[] {
  return steps.map((s) => ({ ...s, effects: (s.effects ?? []).map((e) => (e.type === 'file' ? { ...e, diff: unifiedDiff(e.path, e.before, e.after) } : e)) }));
}

async function changePreview(action: OperationAction, change: Change, diff: string | null): Promise<OperationPreview> {
  return {
    action,
    command: change.command,
    verdict: change.verdict,
    blocked: change.verdict === 'blocked',
    blockers: change.findings.filter((f) => f.severity === 'fail'),
    warnings: change.findings.filter((f) => f.severity === 'warn'),
    findings: change.findings,
    claim: change.claim,
    steps: withDiffs(change.steps),
    notes: change.notes,
    needsReboot: change.needsReboot,
    diff,
  };
}

/** The diff of the change's file steps, as `persist --dry-run` shows it. */
async function configDiff(session: Session, change: Change): Promise<string | null> {
  const plan = session.configPlanOf(change);
  if (!plan || !plan.files.length) return null;
  const { renderPlanDiff } = await import('../apply/persist.js');
  return renderPlanDiff(session.host(), plan);
}

/** `attach`/`detach --json`'s `change`: the hostdev changes, the virsh commands and the definition diff. */
export function changeJson(set: HostdevChangeSet, uri: string | undefined) {
  return {
    effects: set.effects,
    changes: set.changes.map((c) => ({ address: c.address, managed: c.managed, guestAddress: c.guestAddress, romBar: c.romBar, xml: c.xml })),
    skipped: set.skipped,
    notes: set.notes,
    reattach: set.reattach,
    commands: describeCommands(set, uri),
    configDiff: set.configBefore !== null && set.configAfter !== null && set.configBefore !== set.configAfter ? unifiedDiff(`/etc/libvirt/qemu/${set.guest}.xml`, set.configBefore, set.configAfter) : null,
  };
}

/** persist, unpersist, host enable/disable-iommu: the document `runConfigChange` prints. */
async function configRun(session: Session, change: Change, o: Record<string, unknown>, progress: ApplyOptions['onStep']): Promise<object> {
  const plan = session.configPlanOf(change) ?? { command: change.command, args: change.args, files: [], commands: [], delta: {}, notes: change.notes, needsReboot: false };
  const { config } = await session.apply(change, { regenerate: opt<boolean>(o, 'regenerate') !== false, ...(progress ? { onStep: progress } : {}) });
  const { renderPlanDiff } = await import('../apply/persist.js');
  return { version: 1, dryRun: false, command: plan.command, diff: renderPlanDiff(session.host(), plan), result: config };
}

function timeout(o: Record<string, unknown>): Pick<ApplyOptions, 'timeoutMs'> {
  const t = opt<number>(o, 'timeoutMs');
  return t !== undefined ? { timeoutMs: t } : {};
}

/** Plan one operation on this session: its preview, and the run of exactly what it shows. */
export async function prepareOperation(session: Session, req: OperationRequest): Promise<PreparedOperation> {
  const o = req.options;
  const single = opt<boolean>(o, 'singleFunction') ? { singleFunction: true } : {};
  switch (req.action) {
    case 'bind': {
      const persist = !!opt<boolean>(o, 'persist');
      const change = await session.changeBind({ addresses: req.addresses, force: !!opt<boolean>(o, 'force'), persist, ...single });
      return {
        preview: await changePreview('bind', change, persist ? await configDiff(session, change) : null),
        async run({ onStep: progress }) {
          const r = await session.apply(change, { ...timeout(o), ...(progress ? { onStep: progress } : {}) });
          return { version: 1, dryRun: false, verdict: change.verdict, claim: change.claim, findings: change.findings, result: r.bind, persisted: persist ? r.config : null };
        },
      };
    }
    case 'persist':
    case 'unpersist':
    case 'disable-iommu': {
      const change =
        req.action === 'persist'
          ? await session.changePersist({ addresses: req.addresses, byId: !!opt<boolean>(o, 'byId'), force: !!opt<boolean>(o, 'force'), ...single })
          : req.action === 'unpersist'
            ? await session.changeUnpersist({ addresses: req.addresses, all: !!opt<boolean>(o, 'all') })
            : (await session.changeIommu({ enable: false }))!;
      return { preview: await changePreview(req.action, change, await configDiff(session, change)), run: ({ onStep: progress }) => configRun(session, change, o, progress) };
    }
    case 'enable-iommu': {
      const vendor = opt<string>(o, 'vendor');
      if (vendor !== undefined && vendor !== 'intel' && vendor !== 'amd') throw new UsageError('bad-vendor', `vendor ${vendor}: expected intel or amd`, 'leave it out to take the CPU vendor from /proc/cpuinfo');
      const change = await session.changeIommu({ enable: true, ...(vendor ? { vendor: vendor as 'intel' | 'amd' } : {}), pt: opt<boolean>(o, 'pt') !== false, allowUnsafeInterrupts: !!opt<boolean>(o, 'allowUnsafeInterrupts') });
      if (!change) {
        const notes = ['AMD: the IOMMU is used when firmware enables it; amd_iommu=on is not a valid value'];
        return {
          preview: { action: 'enable-iommu', command: 'host enable-iommu', verdict: 'ok', blocked: false, blockers: [], warnings: [], findings: [], claim: [], steps: [], notes, needsReboot: false, diff: null },
          run: async () => ({ version: 1, dryRun: false, command: 'host enable-iommu', result: null, notes }),
        };
      }
      return { preview: await changePreview('enable-iommu', change, await configDiff(session, change)), run: ({ onStep: progress }) => configRun(session, change, o, progress) };
    }
    case 'attach':
    case 'detach': {
      const guest = req.guest!;
      const effects = effectsOf(o);
      const change =
        req.action === 'attach'
          ? await session.changeAttach({ guest, addresses: req.addresses, effects, exact: !!opt<boolean>(o, 'exact'), force: !!opt<boolean>(o, 'force'), romBar: opt<string>(o, 'romBar') ?? 'auto', ...single })
          : await session.changeDetach({ guest, addresses: req.addresses, effects, exact: !!opt<boolean>(o, 'exact') });
      const set = change.hostdev?.set ?? null;
      const uri = session.virsh().effectiveUri;
      const cj = set ? changeJson(set, session.options.connect) : null;
      const preview = await changePreview(req.action, change, cj?.configDiff ?? null);
      const plan = change.plan;
      const base =
        req.action === 'attach'
          ? { version: 1, guest, uri, dryRun: false, plan: { claim: plan!.claim, hostSide: plan!.hostSide, verdict: plan!.verdict, findings: plan!.findings } }
          : { version: 1, guest, uri, dryRun: false };
      return {
        preview: { ...preview, notes: [...preview.notes, ...(set?.notes ?? [])] },
        async run({ onStep: progress }) {
          if (!set || !set.changes.length) return { ...base, change: cj, result: null };
          const r = await session.apply(change, progress ? { onStep: progress } : {});
          return { ...base, change: cj, result: r.hostdev };
        },
      };
    }
    case 'release': {
      const all = !!opt<boolean>(o, 'all');
      if (all && req.addresses.length) throw new UsageError('bad-options', 'give addresses or all, not both', 'e.g. {"action": "release", "options": {"all": true}}');
      if (!all && !req.addresses.length) throw new UsageError('no-address', 'name the functions to release, or pass all', '`vfioctl status` lists what vfioctl has bound');
      const which = all ? ('all' as const) : req.addresses;
      const to = opt<string>(o, 'to');
      const relOpts = to === undefined ? {} : { to };
      const p = await session.releasePreview(which, relOpts);
      const todo = p.functions.filter((f) => !f.unchanged);
      const steps: PreviewStep[] = todo.map((f) => ({
        id: `release-${f.address}`, title: `${f.address}: ${f.from.driver ?? 'no driver'} -> ${f.to.driver ?? 'no driver'}${f.to.override ? ` (override ${f.to.override})` : ''}`,
        kind: 'runtime', needsReboot: false, effects: [], lines: f.writes,
      }) satisfies PreviewStep);
      return {
        preview: { action: 'release', command: 'release', verdict: 'ok', blocked: false, blockers: [], warnings: [], findings: [], claim: todo.map((f) => f.address), steps, notes: p.skipped.map((s) => `${s.address}: skipped, ${s.reason}`), needsReboot: false, diff: null, release: p },
        async run({ onStep: progress }) {
          if (!todo.length) return { version: 1, dryRun: false, preview: p, result: null };
          const result = await session.release(which, { ...relOpts, ...timeout(o), ...(progress ? { onStep: progress } : {}) });
          return { version: 1, dryRun: false, preview: p, result };
        },
      };
    }
    case 'recover': {
      const p = await session.recoverPreview();
      const j = p.journal;
      const summary = { action: p.action, runId: p.action === 'none' ? null : (j?.runId ?? null), command: p.action === 'none' ? null : (j?.command ?? null), steps: p.steps, writes: p.writes, commands: p.commands, toRun: p.manual, problems: p.problems };
      const steps: PreviewStep[] = p.action === 'completed'
        ? [{ id: 'complete', title: `complete the interrupted \`vfioctl ${j!.command}\` (${j!.runId}): every step was made and verified`, kind: 'runtime', needsReboot: false, effects: [], lines: p.writes } satisfies PreviewStep]
        : p.steps.map((t, i) => ({ id: `undo-${i + 1}`, title: t, kind: 'runtime', needsReboot: false, effects: [] }) satisfies PreviewStep);
      return {
        preview: { action: 'recover', command: 'recover', verdict: p.problems.length ? 'warn' : 'ok', blocked: false, blockers: [], warnings: [], findings: [], claim: [], steps, notes: [...p.writes.map((w) => `write: ${w}`), ...p.commands.map((c) => `run: ${c}`), ...p.manual.map((c) => `to run by hand (not the live root): ${c}`), ...p.problems.map((x) => `would fail: ${x}`)], needsReboot: false, diff: null, recover: summary },
        async run({ onStep: progress }) {
          if (p.action === 'none') {
            await session.recover();
            return { version: 1, dryRun: false, action: 'none', runId: null, steps: [] };
          }
          const r = await session.recover({ ...timeout(o), ...(progress ? { onStep: progress } : {}) });
          return { version: 1, dryRun: false, action: r.action, runId: j!.runId, command: j!.command, undone: r.report?.undone ?? [], toRun: r.report?.manual ?? [], staleLockPid: r.staleLockPid };
        },
      };
    }
  }
}

/** What must be equal between the preview a person confirmed and the one recomputed at apply time. */
export function previewFingerprint(p: OperationPreview): string {
  return JSON.stringify([p.action, p.command, p.verdict, p.claim, p.findings, p.steps, p.notes, p.diff, p.release ?? null, p.recover ?? null]);
}
