/** Messages between the server and its read worker (src/server/read-worker.ts). */
import { VfioctlError } from '../model/errors.js';
import type { Session } from '../service/session.js';
import type { ReadRequest } from '../service/documents.js';
import type { HostSignature } from '../service/host-watch.js';
import type { OperationPreview, OperationRequest } from '../service/operations.js';

export type WorkerRequest =
  | { id: number; kind: 'read'; generation: number; request: ReadRequest }
  | { id: number; kind: 'preview'; request: OperationRequest }
  | { id: number; kind: 'signature' };

/** A preview planned in the worker: the preview and its fingerprint (src/service/operations.ts). */
export interface PlannedPreview {
  preview: OperationPreview;
  fingerprint: string;
  recorded: boolean;
}

export interface WireError {
  code: string;
  message: string;
  remedy: string | null;
  exitCode: number;
  details?: Record<string, unknown>;
}

export type WorkerReply = { id: number; ok: true; value: string | HostSignature | PlannedPreview } | { id: number; ok: false; error: WireError };

/** Plan a preview on a fresh session (in the worker, or on the main thread without one). */
export async function planPreview(session: Session, request: OperationRequest): Promise<PlannedPreview> {
  const { prepareOperation, previewFingerprint } = await import('../service/operations.js');
  const { preview } = await prepareOperation(session, request);
  return { preview, fingerprint: previewFingerprint(preview), recorded: session.recorded };
}

export function wireError(e: unknown): WireError {
  if (e instanceof VfioctlError) {
    let details: Record<string, unknown> | undefined;
    try {
      details = e.details ? (structuredClone(e.details) as Record<string, unknown>) : undefined;
    } catch {
      details = undefined;
    }
    return { code: e.code, message: e.message, remedy: e.remedy ?? null, exitCode: e.exitCode, ...(details ? { details } : {}) };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e), remedy: 'report this with the output of `vfioctl snapshot`', exitCode: 1 };
}
