/**
 * A mutating run: takes the lock, refuses to start over an interrupted journal, journals every step
 * before it is made, commits the state change at the end, and on any failure undoes every step already
 * made (newest first) with the same code that does them. `rollbackJournal` is also what `recover` runs
 * after a crash.
 */
import type { HostRoot } from '../host/host-root.js';
import type { ConfigWriter, SysfsWriter } from '../host/host-writer.js';
import type { Exec } from '../adapters/exec.js';
import { formatArgv } from '../host/detect-boot.js';
import { VfioctlError } from '../model/errors.js';
import { pciAddressOf } from '../model/pci-address.js';
import { Virsh } from '../adapters/libvirt/virsh.js';
import { ensureHostdev } from '../adapters/libvirt/guests.js';
import { moveFunction, type MoveOptions } from './pci-state.js';
import { applyDelta, newRunId, StateStore, type Journal, type JournalStep, type LockInfo, type StateDelta } from './state.js';
import { checkHostCommand } from '../model/host-command.js';
import { checkFileChange } from './owned-files.js';
import { removeStaleTempDirs } from '../host/temp-files.js';
import { diskError, diskSummary } from './errors-io.js';
import { atomicWrite } from '../host/host-writer.js';
import * as fs from 'node:fs';
import { NO_PROGRESS, type Progress, type ProgressTask } from '../model/progress.js';

/** At the start of a mutating run (lock held): say what a dead run left, and clean its temporaries. */
export function noteStartup(ctx: Pick<ApplyContext, 'store' | 'log'>, staleFrom: LockInfo | null): void {
  if (staleFrom) ctx.log(`note: took over a stale lock of pid ${staleFrom.pid} (\`vfioctl ${staleFrom.command}\`, ${staleFrom.startedAt}): that process is gone`);
  const files = ctx.store.removeStaleTemps();
  const dirs = removeStaleTempDirs();
  if (files.length || dirs.length) ctx.log(`note: removed ${files.length + dirs.length} temporary file(s) left by interrupted runs`);
}

export interface ApplyContext {
  readonly host: HostRoot;
  readonly sysfs: SysfsWriter;
  readonly files: ConfigWriter;
  readonly exec: Exec;
  readonly store: StateStore;
  readonly move: MoveOptions;
  /** progress lines for a person (stderr in the CLI) */
  readonly log: (line: string) => void;
  /** Progress of the run, one unit per journaled step (src/model/progress.ts); none when absent. */
  readonly progress?: Progress;
  /**
   * The virsh runner for a libvirt step recorded with connection `uri` (null: libvirt's default). Absent:
   * a runner for that URI with this process's environment.
   */
  readonly virsh?: (uri: string | null) => Virsh;
  /**
   * Whether `recover` runs the host commands a journal names (always checked against the allowlist of
   * src/model/host-command.ts). Default: only on the live root; on any other root they are reported to
   * be run by hand. A rollback inside the run that made them always undoes them.
   */
  readonly journalCommands?: boolean;
  /**
   * Progress of each journaled step, for a front end that shows it live (the dashboard's event stream):
   * `started` when the step is journaled (before it is made), `verified` when it is made and checked,
   * `failed` when it threw, `rolled-back` when a rollback undid it. Optional; never changes what runs.
   */
  readonly onStep?: (e: StepProgress) => void;
}

export interface StepProgress {
  /** the step's journal sequence number (1-based) */
  index: number;
  title: string;
  phase: 'started' | 'verified' | 'failed' | 'rolled-back';
}

/** Tell the context's progress listener; a listener that throws does not stop the run. */
function reportProgress(ctx: Pick<ApplyContext, 'onStep'>, s: JournalStep, phase: StepProgress['phase']): void {
  try {
    ctx.onStep?.({ index: s.seq, title: describeStep(s), phase });
  } catch {
    // progress is for people watching; the run goes on
  }
}

/** Distributes Omit over a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewStep = DistributiveOmit<JournalStep, 'seq' | 'status'>;

export interface RollbackReport {
  undone: string[];
  failed: { step: string; error: string }[];
  /** commands not run (not the live root): a person runs them */
  manual: string[];
}

export interface RollbackOptions {
  /** run the exec steps' undo / re-run commands (false: list them in `manual`) */
  commands: boolean;
}

export function describeStep(s: NewStep | JournalStep): string {
  switch (s.type) {
    case 'load-module':
      return `load module ${s.module}`;
    case 'bind':
      return `bind ${s.address} to ${s.target.driver} (was ${s.original.driver ?? 'no driver'})`;
    case 'release':
      return `return ${s.address} to ${s.target.driver ?? 'no driver'}`;
    case 'file':
      return s.after === null ? `remove ${s.rel}` : s.before === null ? `create ${s.rel}` : `edit ${s.rel}`;
    case 'exec':
      return `run ${formatArgv(s.argv)}`;
    case 'sriov':
      return `set ${s.address} sriov_numvfs ${s.before} -> ${s.after}`;
    case 'reset-method':
      return `set ${s.address} reset_method "${s.before}" -> "${s.after}"`;
    case 'mdev':
      return s.op === 'create' ? `create mdev ${s.uuid} (${s.mdevType}) on ${s.parent}` : `remove mdev ${s.uuid} (${s.mdevType}) from ${s.parent}`;
    case 'libvirt-hostdev':
      return `${s.op} ${s.address} ${s.op === 'attach' ? 'to' : 'from'} guest ${s.guest} (${[...(s.flags.live ? ['live'] : []), ...(s.flags.config ? ['persistent'] : [])].join(' and ')})`;
  }
}

export class Run {
  readonly journal: Journal;
  private releaseLock: () => void;
  /** This run's progress task (one unit per step), set by execute(). */
  private task: ProgressTask = NO_PROGRESS.begin('', null);

  private constructor(readonly ctx: ApplyContext, journal: Journal, release: () => void) {
    this.journal = journal;
    this.releaseLock = release;
  }

  /** Start a run: lock, check for an interrupted journal, write the new journal. */
  static begin(ctx: ApplyContext, command: string, args: string[]): Run {
    const runId = newRunId();
    const lock = ctx.store.acquireLock(runId, command);
    try {
      noteStartup(ctx, lock.staleFrom);
      ctx.store.ensureDir('backups'); // 0700, and not a link: config backups go below it
      const prev = ctx.store.readJournal();
      // a run that died, or whose rollback could not finish, must be recovered before anything else changes
      if (prev && (prev.status === 'running' || prev.status === 'rollback-failed')) {
        throw new VfioctlError('interrupted-run', `${prev.status === 'running' ? 'an interrupted run' : 'a run that could not be fully rolled back'} was found: \`vfioctl ${prev.command}\` (${prev.runId}, pid ${prev.pid}, ${prev.startedAt})`, {
          remedy: 'run `vfioctl recover` to roll it back (or complete it) before changing anything else',
        });
      }
      if (prev) ctx.store.archiveJournal(prev);
      const journal: Journal = {
        version: 1, runId, command, args, pid: process.pid, startedAt: new Date().toISOString(), status: 'running', steps: [], commit: {},
      };
      ctx.store.writeJournal(journal);
      return new Run(ctx, journal, lock.release);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Journal a step as started (before it is made). */
  start(step: NewStep): JournalStep {
    const s = { ...step, seq: this.journal.steps.length + 1, status: 'started' } as JournalStep;
    this.journal.steps.push(s);
    this.ctx.store.writeJournal(this.journal);
    reportProgress(this.ctx, s, 'started');
    return s;
  }

  done(s: JournalStep): void {
    s.status = 'done';
    this.ctx.store.writeJournal(this.journal);
    reportProgress(this.ctx, s, 'verified');
  }

  /** Run `body` as a journaled step. */
  async step<T>(step: NewStep, body: (s: JournalStep) => Promise<T> | T): Promise<T> {
    const s = this.start(step);
    this.ctx.log(`  ${describeStep(s)}`);
    this.task.advance(s.seq - 1, describeStep(s));
    try {
      const v = await body(s);
      this.done(s);
      return v;
    } catch (e) {
      s.error = e instanceof Error ? e.message : String(e);
      reportProgress(this.ctx, s, 'failed');
      try {
        this.ctx.store.writeJournal(this.journal);
      } catch {
        // the error is what matters (a full disk fails this write too); the rollback records the outcome
      }
      throw e;
    }
  }

  setCommit(delta: StateDelta): void {
    this.journal.commit = delta;
    this.ctx.store.writeJournal(this.journal);
  }

  /** Commit: state.json gains the run's delta, the journal is archived, the lock released. */
  commit(): void {
    commitJournal(this.ctx, this.journal);
    this.releaseLock();
  }

  /** Undo every step made so far; then throw an error saying what failed and what was restored. */
  async fail(cause: unknown): Promise<never> {
    const report = await rollbackJournal(this.ctx, this.journal, cause, { commands: true });
    this.releaseLock();
    throw rollbackError(cause, report);
  }

  /** Release the lock without committing (a run that made no change). */
  abandon(): void {
    this.journal.status = 'rolled-back';
    this.journal.finishedAt = new Date().toISOString();
    this.ctx.store.archiveJournal(this.journal);
    this.releaseLock();
  }

  /** Run the whole body; on failure roll back. */
  static async execute<T>(ctx: ApplyContext, command: string, args: string[], body: (run: Run) => Promise<T>): Promise<T> {
    const run = Run.begin(ctx, command, args);
    run.task = (ctx.progress ?? NO_PROGRESS).begin(command, null);
    let v: T;
    try {
      v = await body(run);
    } catch (e) {
      run.task.advance(run.journal.steps.length, 'rolling back');
      try {
        return await run.fail(e);
      } finally {
        run.task.end();
      }
    }
    run.task.advance(run.journal.steps.length, 'committing');
    run.commit();
    run.task.end();
    return v;
  }
}

export function commitJournal(ctx: ApplyContext, j: Journal): void {
  ctx.store.writeState(applyDelta(ctx.store.readState(), j.commit));
  j.status = 'committed';
  j.finishedAt = new Date().toISOString();
  ctx.store.writeJournal(j);
  ctx.store.archiveJournal(j);
}

/** Undo the journal's started/done steps, newest first. Regeneration commands are re-run once at the end. */
export async function rollbackJournal(ctx: ApplyContext, j: Journal, cause: unknown, opts: RollbackOptions): Promise<RollbackReport> {
  const report: RollbackReport = { undone: [], failed: [], manual: [] };
  if (cause) j.error = { code: cause instanceof VfioctlError ? cause.code : 'error', message: cause instanceof Error ? cause.message : String(cause) };
  const rerun: string[][] = [];
  let unrecorded: unknown = null;
  const record = (): void => {
    try {
      ctx.store.writeJournal(j);
    } catch (e) {
      unrecorded ??= e;
    }
  };
  for (const s of [...j.steps].reverse()) {
    if (s.status === 'undone') continue;
    try {
      await undoStep(ctx, j, s, rerun, opts, report);
      s.status = 'undone';
      report.undone.push(describeStep(s));
      reportProgress(ctx, s, 'rolled-back');
    } catch (e) {
      s.status = 'undo-failed';
      s.error = e instanceof Error ? e.message : String(e);
      report.failed.push({ step: describeStep(s), error: s.error });
    }
    record();
  }
  for (const argv of rerun.reverse()) {
    if (!opts.commands) {
      report.manual.push(formatArgv(argv));
      continue;
    }
    try {
      await ctx.exec.run(allowed(argv));
      report.undone.push(`re-ran ${formatArgv(argv)}`);
    } catch (e) {
      report.failed.push({ step: `re-run ${formatArgv(argv)}`, error: e instanceof Error ? e.message : String(e) });
    }
  }
  j.status = report.failed.length ? 'rollback-failed' : 'rolled-back';
  j.finishedAt = new Date().toISOString();
  record();
  if (!report.failed.length && !unrecorded) {
    try {
      ctx.store.archiveJournal(j);
    } catch (e) {
      unrecorded = e;
    }
  }
  // the host is rolled back, but the journal on disk does not say so: recover must finish it
  if (unrecorded) report.failed.push({ step: 'record the rollback in the journal', error: unrecorded instanceof Error ? unrecorded.message : String(unrecorded) });
  return report;
}

/**
 * Put back a file's content from the journal (or remove a file the run created). No backup is taken:
 * what is replaced is what the run wrote, and the journal holds it; so an undo still works on a full
 * disk. The path was checked against the files vfioctl writes; a link is followed as the writer does.
 */
function restoreFile(ctx: ApplyContext, rel: string, before: string | null): void {
  const real = ctx.files.resolveTarget(rel);
  if (!ctx.files.isAllowed(real)) throw new VfioctlError('not-allowed', `${ctx.host.display(rel)} links to ${ctx.host.display(real)}, which vfioctl does not write`, { remedy: 'restore the file by hand' });
  const abs = ctx.host.resolve(real);
  if (before === null) {
    fs.rmSync(abs, { force: true });
    return;
  }
  let mode = 0o644;
  try {
    mode = fs.statSync(abs).mode & 0o7777;
  } catch {
    fs.mkdirSync(ctx.host.resolve(real.slice(0, real.lastIndexOf('/'))), { recursive: true });
  }
  atomicWrite(abs, before, mode);
}

/** An argv from a journal, checked against the allowlist before it is run. */
function allowed(argv: readonly string[]): readonly string[] {
  const r = checkHostCommand(argv);
  if (!r.ok) throw new VfioctlError('command-not-allowed', `refused to run: ${r.reason}`, { remedy: 'the journal was not written by vfioctl; move it aside and run `vfioctl status`' });
  return argv;
}

async function undoStep(ctx: ApplyContext, j: Journal, s: JournalStep, rerun: string[][], opts: RollbackOptions, report: RollbackReport): Promise<void> {
  switch (s.type) {
    case 'load-module':
      return; // a loaded module is harmless and may be in use by others: left loaded (like driverctl)
    case 'bind':
    case 'release':
      await moveFunction(ctx.host, ctx.sysfs, pciAddressOf(s.address), s.original, ctx.move);
      return;
    case 'file': {
      const why = checkFileChange(s.rel, s.before, s.after);
      if (why) throw new VfioctlError('journal-invalid', why, { remedy: 'restore the file by hand' });
      const now = ctx.files.read(ctx.files.resolveTarget(s.rel));
      if (now === s.before) return;
      if (now !== s.after) {
        throw new VfioctlError('changed-meanwhile', `${ctx.host.display(s.rel)} changed after the run wrote it; it was left as it is`, {
          remedy: `compare it with ${s.backup ? ctx.host.display(s.backup) : 'the journal'} and restore it by hand`,
        });
      }
      restoreFile(ctx, s.rel, s.before);
      return;
    }
    case 'exec':
      if (s.undoArgv && s.status === 'done') {
        if (opts.commands) await ctx.exec.run(allowed(s.undoArgv));
        else report.manual.push(formatArgv(allowed(s.undoArgv)));
      }
      if (s.rerunOnUndo && s.status === 'done' && !rerun.some((a) => a.join('\0') === s.argv.join('\0'))) rerun.push(s.argv);
      return;
    case 'sriov': {
      const addr = pciAddressOf(s.address);
      if (s.before === s.after) return;
      // the kernel refuses a change between two non-zero counts: go through 0
      ctx.sysfs.writePciAttr(addr, 'sriov_numvfs', '0\n');
      if (s.before > 0) ctx.sysfs.writePciAttr(addr, 'sriov_numvfs', `${s.before}\n`);
      return;
    }
    case 'reset-method':
      if (s.before !== s.after) ctx.sysfs.writePciAttr(pciAddressOf(s.address), 'reset_method', `${s.before === '' ? 'default' : s.before}\n`);
      return;
    case 'mdev': {
      const { undoMdevStep } = await import('./mdev.js');
      undoMdevStep(ctx, s);
      return;
    }
    case 'libvirt-hostdev': {
      // Idempotent: a step whose effect is absent (never made, or made and lost) changes nothing.
      const virsh = ctx.virsh ? ctx.virsh(s.uri) : new Virsh({ uri: s.uri ?? undefined });
      const want = s.op === 'attach' ? 'absent' : 'present';
      const r = await ensureHostdev(virsh, s.guest, s.address, s.undoXml, s.flags, want);
      if (r === 'unchanged') ctx.log(`  ${s.address}: already ${want} in ${s.guest}`);
      return;
    }
  }
}

export function rollbackError(cause: unknown, report: RollbackReport): VfioctlError {
  const what = diskSummary(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  const restored = report.undone.length ? `rolled back: ${report.undone.join('; ')}` : 'nothing had been changed';
  if (report.failed.length) {
    const disk = diskError(cause);
    return new VfioctlError(disk ? 'disk-error' : 'rollback-failed', `${what}; ${restored}; COULD NOT UNDO: ${report.failed.map((f) => `${f.step} (${f.error})`).join('; ')}`, {
      remedy: `the journal is kept: ${disk ? 'free space on the file system' : 'fix the cause'} and run \`vfioctl recover\`; \`vfioctl status\` shows what is still changed`,
      ...(disk ? { exitCode: disk.exitCode } : {}),
      cause,
      details: { rolledBack: report.undone, notRolledBack: report.failed },
    });
  }
  const disk = diskError(cause, restored);
  if (disk) return new VfioctlError(disk.code, disk.message, { remedy: disk.remedy, exitCode: disk.exitCode, cause, details: { rolledBack: report.undone } });
  const base = cause instanceof VfioctlError ? cause : null;
  return new VfioctlError(base?.code ?? 'apply-failed', `${what}; ${restored}`, {
    remedy: base?.remedy ?? 'fix the cause and run the command again',
    exitCode: base?.exitCode ?? 1,
    cause,
    details: { ...(base?.details ?? {}), rolledBack: report.undone },
  });
}
