/**
 * Errors thrown at the edges of vfioctl. Every one carries a remedy a person can act on and the exit
 * code the CLI returns for it (see docs/exit-codes.md). Inside core/, problems are values (Finding).
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  notReady: 3,
  /** the disk is full (or another I/O error) while writing state, a file or the output */
  io: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class VfioctlError extends Error {
  readonly code: string;
  readonly remedy: string | undefined;
  readonly exitCode: ExitCodeValue;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { remedy?: string; exitCode?: ExitCodeValue; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VfioctlError';
    this.code = code;
    this.remedy = opts.remedy;
    this.exitCode = opts.exitCode ?? ExitCode.error;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, remedy: this.remedy ?? null, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Bad user input (malformed address, unknown option value): exit 2. */
export class UsageError extends VfioctlError {
  constructor(code: string, message: string, remedy?: string) {
    super(code, message, remedy === undefined ? { exitCode: ExitCode.usage } : { remedy, exitCode: ExitCode.usage });
    this.name = 'UsageError';
  }
}

/** A parse result as a value: parsers never throw on bad input. */
export type Result<T, E = ParseProblem> = { ok: true; value: T } | { ok: false; error: E };
export interface ParseProblem {
  message: string;
  remedy?: string;
}
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
