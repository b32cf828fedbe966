/**
 * `vfioctl recover`: finish what an interrupted run left. A run that reached its commit point (its
 * state change was recorded after verification) is completed; anything earlier is rolled back step by
 * step from the journal, newest first, with the same code that undoes a failed run.
 */
import { VfioctlError } from '../model/errors.js';
import { newRunId, type Journal } from './state.js';
import { commitJournal, describeStep, rollbackJournal, type ApplyContext, type RollbackReport } from './run.js';

export interface RecoverResult {
  action: 'none' | 'completed' | 'rolled-back';
  journal: Journal | null;
  report: RollbackReport | null;
  staleLockPid: number | null;
}

/** What recover would do, without doing it. */
export function previewRecover(ctx: Pick<ApplyContext, 'store'>): { action: RecoverResult['action']; journal: Journal | null; steps: string[] } {
  const j = ctx.store.readJournal();
  if (!j || (j.status !== 'running' && j.status !== 'rollback-failed')) return { action: 'none', journal: j, steps: [] };
  if (j.status === 'running' && hasCommitPoint(j)) return { action: 'completed', journal: j, steps: [] };
  return { action: 'rolled-back', journal: j, steps: [...j.steps].reverse().filter((s) => s.status !== 'undone').map((s) => `undo: ${describeStep(s)}`) };
}

function hasCommitPoint(j: Journal): boolean {
  return Object.keys(j.commit).length > 0 && j.steps.every((s) => s.status === 'done');
}

export async function applyRecover(ctx: ApplyContext): Promise<RecoverResult> {
  const lock = ctx.store.acquireLock(newRunId(), 'recover');
  try {
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
    const report = await rollbackJournal(ctx, j, null);
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
