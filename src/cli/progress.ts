/**
 * The progress line on a terminal: one line on stderr, redrawn in place (carriage return + erase line),
 * shown only once a task has run for `delayMs` (default 1 s) so quick commands print nothing, redrawn
 * at most every `intervalMs`, and erased when the task ends. Plain text (no colour), cut to the width.
 * The CLI uses it only when stderr is a terminal and not with --json (src/cli/context.ts).
 */
import type { Progress, ProgressTask } from '../model/progress.js';
import { sanitizeTerminal } from './output.js';

export interface TerminalProgressOptions {
  write: (s: string) => void;
  delayMs?: number;
  intervalMs?: number;
  columns?: number;
  now?: () => number;
}

export interface TerminalProgress extends Progress {
  /** Erase a drawn line (before other output), to be redrawn on the next advance. */
  clear(): void;
}

export function terminalProgress(opts: TerminalProgressOptions): TerminalProgress {
  const delay = opts.delayMs ?? 1000;
  const interval = opts.intervalMs ?? 100;
  const now = opts.now ?? (() => performance.now());
  const width = Math.max(20, (opts.columns ?? 80) - 1);
  let drawn = false;
  const clear = (): void => {
    if (drawn) opts.write('\r\x1b[K');
    drawn = false;
  };
  return {
    clear,
    begin(label: string, total: number | null): ProgressTask {
      const start = now();
      let last = -Infinity;
      return {
        advance(done: number, detail?: string): void {
          const t = now();
          if (t - start < delay || t - last < interval) return;
          last = t;
          const count = total === null ? `${done} done` : `${done}/${total}`;
          // one line: control characters in the detail (names from the host) become visible escapes
          const text = sanitizeTerminal(`vfioctl ${label}: ${count}${detail ? `, ${detail}` : ''} (${((t - start) / 1000).toFixed(0)} s)`).replace(/[\r\n\t]/g, ' ');
          opts.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
          drawn = true;
        },
        end: clear,
      };
    },
  };
}
