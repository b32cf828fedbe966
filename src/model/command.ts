/**
 * Host commands as data: an argv (never a shell string), how one is shown to a person, and the interface
 * of the runner (src/adapters/exec.ts implements it; apply/ and host/ receive it, tests give a runner
 * that executes small fake executables).
 */
export type Argv = readonly string[];

/** A command as one line for display (arguments with spaces or quotes are single-quoted). */
export function formatArgv(argv: Argv): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
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
