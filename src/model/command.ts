/**
 * Host commands as data: an argv (never a shell string), how one is shown to a person, and the interface
 * of the runner (src/adapters/exec.ts implements it; apply/ and host/ receive it, tests give a runner
 * that executes small fake executables).
 */
import { shellJoin } from './shell-quote.js';

export type Argv = readonly string[];

/** A command as one line a POSIX shell runs as exactly this argv (src/model/shell-quote.ts). */
export function formatArgv(argv: Argv): string {
  return shellJoin(argv);
}

export interface ExecResult {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface ExecOptions {
  readonly timeoutMs?: number;
  /** accept these exit codes as success (default [0]) */
  readonly okCodes?: readonly number[];
}

export interface Exec {
  run(argv: Argv, opts?: ExecOptions): Promise<ExecResult>;
}
