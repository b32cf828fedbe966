/**
 * Preview, then apply by plan id. A preview is planned on a fresh session (src/service/operations.ts) and
 * kept under a random plan id for a while (a bounded map; the oldest goes first). Applying a plan id
 * plans it again on a fresh session and compares: if the host changed so that the steps, effects or
 * findings differ, the apply is refused (410, preview again) — what runs is exactly what the person saw.
 * One operation runs at a time (409 while one is queued or running); its journaled steps are published on
 * the event stream as they start, are verified, fail or are rolled back.
 */
import { randomBytes } from 'node:crypto';
import { openSession, type ApplyOptions, type SessionOptions } from '../service/session.js';
import { prepareOperation, previewFingerprint, type PreparedOperation } from '../service/operations.js';

type StepProgress = Parameters<NonNullable<ApplyOptions['onStep']>>[0];
import { VfioctlError } from '../model/errors.js';
import { jsonDocument } from '../model/reports.js';
import { toJson } from '../model/json-text.js';
import { HttpError } from './errors.js';
import type { EventHub } from './events.js';
import type { PreviewRequest } from './requests.js';
import type { PlannedPreview } from './read-protocol.js';

export const MAX_PREVIEWS = 64;
export const MAX_OPERATIONS = 32;
const MAX_EVENTS = 2000;

interface KeptPreview {
  request: PreviewRequest;
  fingerprint: string;
  expires: number;
  blocked: boolean;
  action: string;
}

export type OperationState = 'queued' | 'running' | 'done' | 'failed' | 'rolled-back';

export interface StepEvent {
  operationId: string;
  index: number;
  /** which journaled run of the operation (bind --persist has two: the binding, then the files) */
  run: number;
  title: string;
  phase: StepProgress['phase'];
  at: string;
}

interface Operation {
  operationId: string;
  planId: string;
  action: string;
  state: OperationState;
  startedAt: string;
  finishedAt: string | null;
  events: StepEvent[];
  result: object | null;
}

export interface MutationsOptions {
  session: SessionOptions;
  readOnly: boolean;
  hub: EventHub;
  previewTtlMs: number;
  /** called after every operation (the host may have changed) */
  changed: () => void;
  /** plan a preview on a fresh read of the host (the read worker) */
  plan: (request: PreviewRequest) => Promise<PlannedPreview>;
}

const id = (prefix: string): string => `${prefix}-${randomBytes(12).toString('base64url')}`;

export class Mutations {
  private readonly previews = new Map<string, KeptPreview>();
  private readonly operations = new Map<string, Operation>();
  private active: Operation | null = null;

  constructor(private readonly o: MutationsOptions) {}

  private fresh() {
    return openSession(this.o.session);
  }

  private purge(now = Date.now()): void {
    for (const [k, p] of this.previews) if (p.expires <= now) this.previews.delete(k);
  }

  /** `POST /api/v1/preview`: the preview document (a read: allowed under --read-only, never applicable then). */
  async preview(request: PreviewRequest): Promise<string> {
    // planned in the read worker (a fresh read of the host): a preview on a large host does not hold this thread
    const { preview: p, fingerprint, recorded } = await this.o.plan(request);
    this.purge();
    while (this.previews.size >= MAX_PREVIEWS) this.previews.delete(this.previews.keys().next().value!);
    const planId = id('plan');
    const expires = Date.now() + this.o.previewTtlMs;
    this.previews.set(planId, { request, fingerprint, expires, blocked: p.blocked, action: p.action });
    const applicable = !this.o.readOnly && !recorded && !p.blocked;
    return toJson(jsonDocument({ kind: 'preview', planId, expiresAt: new Date(expires).toISOString(), applicable, ...p }));
  }

  /**
   * `POST /api/v1/apply`: plan the kept preview again on a fresh session; the same -> start it (202 with
   * its id), different -> 410. The check happens before the answer, the run after it.
   */
  async apply(planId: string, _force: boolean): Promise<{ operationId: string; state: OperationState }> {
    if (this.active) {
      throw new HttpError(409, 'busy', `another change is ${this.active.state} (${this.active.action}, ${this.active.operationId})`, `wait for it to finish (GET /api/v1/operations/${this.active.operationId} or the event stream), then apply again`);
    }
    this.purge();
    const kept = this.previews.get(planId);
    if (!kept) throw new HttpError(410, 'plan-expired', `no preview ${planId.slice(0, 100)} (it expired, was applied already, or the server restarted)`, 're-preview: POST /api/v1/preview again and confirm the new preview');
    if (kept.blocked) {
      throw new HttpError(409, 'blocked', 'this preview is blocked; nothing was changed', 'resolve the blocking findings, or preview again with options.force where the findings allow it (the preview then says what the host loses)');
    }
    this.previews.delete(planId);
    const op: Operation = { operationId: id('op'), planId, action: kept.action, state: 'queued', startedAt: new Date().toISOString(), finishedAt: null, events: [], result: null };
    // from here on, other applies are busy: the recomputation and the run are one queue slot
    this.active = op;
    let prepared: PreparedOperation;
    try {
      prepared = await prepareOperation(this.fresh(), kept.request);
      if (previewFingerprint(prepared.preview) !== kept.fingerprint) {
        throw new HttpError(410, 'plan-changed', 'the host changed since the preview: what would run now differs from what was shown; nothing was changed', 're-preview: POST /api/v1/preview again and confirm the new preview');
      }
    } catch (e) {
      this.active = null;
      throw e;
    }
    this.remember(op);
    setImmediate(() => void this.run(op, prepared));
    return { operationId: op.operationId, state: op.state };
  }

  private remember(op: Operation): void {
    while (this.operations.size >= MAX_OPERATIONS) this.operations.delete(this.operations.keys().next().value!);
    this.operations.set(op.operationId, op);
  }

  private async run(op: Operation, prepared: PreparedOperation): Promise<void> {
    op.state = 'running';
    this.o.hub.publish('operation', { operationId: op.operationId, action: op.action, state: op.state });
    let rolledBack = false;
    let runNo = 0;
    let lastIndex = 0;
    const progress = (e: StepProgress): void => {
      // a new journaled run starts again at step 1
      if (e.phase === 'started' && (runNo === 0 || e.index <= lastIndex)) runNo++;
      if (e.phase === 'started') lastIndex = e.index;
      if (e.phase === 'rolled-back') rolledBack = true;
      const ev: StepEvent = { operationId: op.operationId, index: e.index, run: Math.max(runNo, 1), title: e.title, phase: e.phase, at: new Date().toISOString() };
      if (op.events.length < MAX_EVENTS) op.events.push(ev);
      this.o.hub.publish('step', ev);
    };
    try {
      op.result = await prepared.run({ onStep: progress });
      op.state = 'done';
    } catch (e) {
      op.result = errorDocument(e);
      op.state = rolledBack ? 'rolled-back' : 'failed';
    } finally {
      op.finishedAt = new Date().toISOString();
      this.active = null;
      this.o.hub.publish('operation', { operationId: op.operationId, action: op.action, state: op.state, result: op.result });
      this.o.changed();
    }
  }

  /** `GET /api/v1/operations/ID`. */
  operation(operationId: string): object {
    const op = this.operations.get(operationId);
    if (!op) throw new HttpError(404, 'no-such-operation', `no operation ${operationId.slice(0, 100)} (the server keeps the last ${MAX_OPERATIONS})`, 'the apply response names the operation id');
    return { schemaVersion: 1, kind: 'operation', ...op };
  }
}

function errorDocument(e: unknown): object {
  if (e instanceof HttpError) return jsonDocument({ error: { code: e.code, message: e.message, remedy: e.remedy } });
  if (e instanceof VfioctlError) return jsonDocument({ error: e.toJSON() });
  return jsonDocument({ error: { code: 'internal', message: e instanceof Error ? e.message : String(e), remedy: 'report this with the output of `vfioctl snapshot`' } });
}
