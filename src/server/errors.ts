/**
 * Error bodies of the HTTP API: always `{"schemaVersion":1,"error":{"code","message","remedy"}}` (the
 * CLI's --json error document), with a status that fits; never a stack trace.
 */
import { ExitCode, VfioctlError } from '../model/errors.js';
import { jsonDocument } from '../model/reports.js';
import { toJson } from '../model/json-text.js';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly remedy: string | null, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

export const UNAUTHORIZED = new HttpError(401, 'unauthorized', 'this request has no valid access token', 'open the URL vfioctl serve printed');

/** Codes that name something the request asked for and the host does not have. */
const NOT_FOUND = new Set(['no-such-device', 'guest-not-found', 'not-attached', 'not-persisted', 'no-such-plan', 'no-such-operation', 'not-found']);
/** Codes that say the host is not in a state to do it now. */
const CONFLICT = new Set(['plan-blocked', 'blocked', 'interrupted-run', 'locked', 'lock-held', 'busy', 'guest-not-running']);

export function statusOf(e: VfioctlError): number {
  if (NOT_FOUND.has(e.code)) return 404;
  if (e.code === 'read-only-host' || e.code === 'read-only') return 403;
  if (CONFLICT.has(e.code)) return 409;
  if (e.exitCode === ExitCode.usage) return 400;
  return 500;
}

export interface ErrorBody {
  status: number;
  text: string;
}

/** The status and body text for anything thrown while serving a request. */
export function errorBody(e: unknown): ErrorBody {
  if (e instanceof HttpError) {
    return { status: e.status, text: toJson(jsonDocument({ error: { code: e.code, message: e.message, remedy: e.remedy, ...(e.details ? { details: e.details } : {}) } })) };
  }
  if (e instanceof VfioctlError) return { status: statusOf(e), text: toJson(jsonDocument({ error: e.toJSON() })) };
  const message = e instanceof Error ? e.message : String(e);
  return { status: 500, text: toJson(jsonDocument({ error: { code: 'internal', message, remedy: 'report this with the output of `vfioctl snapshot`' } })) };
}

/** An error as it crosses from the read worker: its JSON and exit code, rebuilt on this side. */
export function errorFromWire(w: { code: string; message: string; remedy: string | null; exitCode: number; details?: Record<string, unknown> }): VfioctlError {
  return new VfioctlError(w.code, w.message, { ...(w.remedy !== null ? { remedy: w.remedy } : {}), exitCode: w.exitCode as 0, ...(w.details ? { details: w.details } : {}) });
}
