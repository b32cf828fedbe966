/**
 * Progress of long work (binds of many functions, SR-IOV, snapshots), reported by the library to
 * whatever front end passed a reporter (the CLI draws a line on a terminal, src/cli/progress.ts).
 * The library only says what it is doing; whether and how that is shown is the reporter's business.
 */
export interface ProgressTask {
  /** `done` units finished (of the task's total, when it has one); `detail` says what is under way. */
  advance(done: number, detail?: string): void;
  /** The task is over (finished or failed): a drawn line is removed. */
  end(): void;
}

export interface Progress {
  /** Start a task: `label` names it (the command), `total` is the number of units, null when unknown. */
  begin(label: string, total: number | null): ProgressTask;
}

const NO_TASK: ProgressTask = { advance: () => {}, end: () => {} };
export const NO_PROGRESS: Progress = { begin: () => NO_TASK };
