/**
 * `vfioctl recover`: finish what an interrupted run left. A run that reached its commit point (its
 * state change was recorded after verification) is completed; anything earlier is rolled back step by
 * step from the journal, newest first, with the same code that undoes a failed run.
 */
import { VfioctlError } from '../model/errors.js';
import { formatArgv } from '../model/command.js';
import { pciAddressOf } from '../model/pci-address.js';
import { newRunId, type Journal } from './state.js';
import { commitJournal, describeStep, noteStartup, rollbackJournal, type ApplyContext, type RollbackReport } from './run.js';
import { describeWrites } from './bind.js';
import { readFnState } from './pci-state.js';

export interface RecoverResult {
  action: 'none' | 'completed' | 'rolled-back';
  journal: Journal | null;
  report: RollbackReport | null;
  staleLockPid: number | null;
}

export interface RecoverPreview {
  action: RecoverResult['action'];
  journal: Journal | null;
  /** `undo: STEP`, newest first */
  steps: string[];
  /** what would be written: sysfs writes as `echo VALUE > FILE`, files as `write PATH` / `remove PATH` */
  writes: string[];
  /** host commands that would run (allowlisted; only on the live root) */
  commands: string[];
  /** host commands that would be listed to run by hand (any other root) */
  manual: string[];
  /** steps that would fail, with why */
  problems: string[];
}

/** Whether recover runs a journal's host commands here: only on the live root (unless the context says). */
export function journalCommandsAllowed(ctx: Pick<ApplyContext, 'host' | 'journalCommands'>): boolean {
  return ctx.journalCommands ?? ctx.host.isLive;
}

/** What recover would do, without doing it: the same decisions rollbackJournal makes, step by step. */
export function previewRecover(ctx: Pick<ApplyContext, 'store' | 'host' | 'journalCommands'>): RecoverPreview {
  const j = ctx.store.readJournal();
  const none: RecoverPreview = { action: 'none', journal: j, steps: [], writes: [], commands: [], manual: [], problems: [] };
  if (!j || (j.status !== 'running' && j.status !== 'rollback-failed')) return none;
  if (j.status === 'running' && hasCommitPoint(j)) return { ...none, action: 'completed', writes: [ctx.host.display(ctx.store.rel('state.json'))].map((p) => `write ${p}`) };
  const run = journalCommandsAllowed(ctx);
  const p: RecoverPreview = { ...none, action: 'rolled-back' };
  const rerun: string[] = [];
  for (const s of [...j.steps].reverse()) {
    if (s.status === 'undone') continue;
    p.steps.push(`undo: ${describeStep(s)}`);
    switch (s.type) {
      case 'bind':
      case 'release': {
        const addr = pciAddressOf(s.address);
        p.writes.push(...describeWrites(ctx.host, addr, readFnState(ctx.host, addr), s.original));
        break;
      }
      case 'file': {
        const r = ctx.host.readText(s.rel);
        const now = r.state === 'ok' ? r.value : null;
        if (now === s.before) break;
        if (now !== s.after) p.problems.push(`${ctx.host.display(s.rel)} changed after the run wrote it: left as it is`);
        else p.writes.push(`${s.before === null ? 'remove' : 'write'} ${ctx.host.display(s.rel)}`);
        break;
      }
      case 'exec':
        if (s.undoArgv && s.status === 'done') (run ? p.commands : p.manual).push(formatArgv(s.undoArgv));
        if (s.rerunOnUndo && s.status === 'done' && !rerun.includes(formatArgv(s.argv))) rerun.push(formatArgv(s.argv));
        break;
      case 'sriov':
        if (s.before !== s.after) {
          const attr = ctx.host.display(`${ctx.host.pciDeviceRel(pciAddressOf(s.address))}/sriov_numvfs`);
          p.writes.push(`echo 0 > ${attr}`, ...(s.before > 0 ? [`echo ${s.before} > ${attr}`] : []));
        }
        break;
      case 'reset-method':
        if (s.before !== s.after) p.writes.push(`echo ${s.before === '' ? 'default' : s.before} > ${ctx.host.display(`${ctx.host.pciDeviceRel(pciAddressOf(s.address))}/reset_method`)}`);
        break;
      case 'mdev':
        p.writes.push(s.op === 'create' ? `remove mdev ${s.uuid} (echo 1 > /sys/bus/mdev/devices/${s.uuid}/remove, when present)` : `create mdev ${s.uuid} again (echo ${s.uuid} > ${ctx.host.display(`${ctx.host.pciDeviceRel(pciAddressOf(s.parent))}/mdev_supported_types/${s.mdevType}/create`)})`);
        break;
      case 'libvirt-hostdev':
        p.commands.push(`virsh ${s.uri ? `--connect ${s.uri} ` : ''}${s.op === 'attach' ? 'detach-device' : 'attach-device'} ${s.guest} <hostdev ${s.address}>${s.flags.live ? ' --live' : ''}${s.flags.config ? ' --config' : ''} (when ${s.op === 'attach' ? 'present' : 'absent'})`);
        break;
      case 'load-module':
        break;
    }
  }
  (run ? p.commands : p.manual).push(...rerun.reverse());
  return p;
}

function hasCommitPoint(j: Journal): boolean {
  return Object.keys(j.commit).length > 0 && j.steps.every((s) => s.status === 'done');
}

export async function applyRecover(ctx: ApplyContext): Promise<RecoverResult> {
  const lock = ctx.store.acquireLock(newRunId(), 'recover');
  try {
    noteStartup(ctx, lock.staleFrom);
    const j = ctx.store.readJournal();
    const staleLockPid = lock.staleFrom?.pid ?? null;
    if (!j || (j.status !== 'running' && j.status !== 'rollback-failed')) {
      if (j) ctx.store.archiveJournal(j);
      return { action: 'none', journal: j, report: null, staleLockPid };
    }
    if (j.status === 'running' && hasCommitPoint(j)) {
      ctx.log(`completing \`vfioctl ${j.command}\` (${j.runId}): every step was made and verified`);
      commitJournal(ctx, j);
      return { action: 'completed', journal: j, report: null, staleLockPid };
    }
    ctx.log(`rolling back \`vfioctl ${j.command}\` (${j.runId})`);
    const report = await rollbackJournal(ctx, j, null, { commands: journalCommandsAllowed(ctx) });
    if (report.failed.length) {
      throw new VfioctlError('recover-failed', `could not undo: ${report.failed.map((f) => `${f.step} (${f.error})`).join('; ')}`, {
        remedy: 'fix the cause (see the messages) and run `vfioctl recover` again; the journal is kept',
        details: { rolledBack: report.undone, notRolledBack: report.failed },
      });
    }
    return { action: 'rolled-back', journal: j, report, staleLockPid };
  } finally {
    lock.release();
  }
}
