/**
 * Reads for the server: each read document is built in the read worker (or, with `inWorker` false, on
 * this thread) and its text is kept for the current generation, so repeated reads of an unchanged host
 * cost a map lookup. A new generation (the host changed, a mutation ran) drops every kept text.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSession, type Session, type SessionOptions } from '../service/session.js';
import { readReport, type ReadRequest } from '../service/documents.js';
import { hostSignature, type HostSignature } from '../service/host-watch.js';
import { jsonDocument } from '../model/reports.js';
import { toJson } from '../model/json-text.js';
import { errorFromWire } from './errors.js';
import { embeddedAsset, isSingleExecutable } from '../host/embedded.js';
import { planPreview, wireError, type PlannedPreview, type WireError, type WorkerReply, type WorkerRequest } from './read-protocol.js';
import type { OperationRequest } from '../service/operations.js';

type Pending = { resolve: (v: string | HostSignature | PlannedPreview) => void; reject: (e: unknown) => void };
type Call = { kind: 'read'; generation: number; request: ReadRequest } | { kind: 'preview'; request: OperationRequest } | { kind: 'signature' };

/** Routes whose documents are kept until the generation changes (plan and render depend on the body). */
const CACHED = new Set<ReadRequest['route']>(['ls', 'groups', 'doctor', 'show', 'status', 'guests', 'lint', 'explain', 'explain-list']);
const MAX_CACHED = 256;

export class ReadService {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly cache = new Map<string, Promise<Buffer>>();
  private gen = 0;
  private local: { generation: number; session: Session } | null = null;
  private closed = false;

  /** Where the read worker comes from, found once; null: documents are built on the main thread. */
  private readonly workerSpec: WorkerSpec | null;

  /** `inWorker: false` builds every document on the main thread even where the build has the worker. */
  constructor(private readonly options: SessionOptions, inWorker?: false) {
    this.workerSpec = inWorker === false ? null : readWorkerSpec();
  }

  /** Where the documents are built: the read worker, or the main thread (a build without the worker). */
  get where(): 'worker' | 'main-thread' {
    return this.workerSpec ? 'worker' : 'main-thread';
  }

  get generation(): number {
    return this.gen;
  }

  /** The host (or vfioctl's state) changed: later reads see it. */
  bump(): void {
    this.gen++;
    this.cache.clear();
  }

  /**
   * The bytes of a read document (the CLI's --json output, UTF-8); throws the read's error. Kept as bytes:
   * a large document (the groups of a 4k host are 1.8 MiB) is encoded once, not on every request.
   */
  document(request: ReadRequest): Promise<Buffer> {
    const build = (): Promise<Buffer> => (this.call({ kind: 'read', generation: this.gen, request }) as Promise<string>).then((t) => Buffer.from(t, 'utf8'));
    if (!CACHED.has(request.route)) return build();
    const key = JSON.stringify(request);
    let p = this.cache.get(key);
    if (!p) {
      p = build();
      const gen = this.gen;
      // failures are not kept (a transient error is retried by the next request)
      p.catch(() => {
        if (this.gen === gen) this.cache.delete(key);
      });
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, p);
    }
    return p;
  }

  signature(): Promise<HostSignature> {
    return this.call({ kind: 'signature' }) as Promise<HostSignature>;
  }

  /** Plan a preview on a fresh read of the host, off this thread. */
  preview(request: OperationRequest): Promise<PlannedPreview> {
    return this.call({ kind: 'preview', request }) as Promise<PlannedPreview>;
  }

  private call(m: Call): Promise<string | HostSignature | PlannedPreview> {
    if (this.closed) return Promise.reject(new Error('the server is shutting down'));
    const spec = this.workerSpec;
    if (!spec) return this.runLocal(m);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ensureWorker(spec).postMessage({ ...m, id } as WorkerRequest);
    });
  }

  private async runLocal(m: Call): Promise<string | HostSignature | PlannedPreview> {
    try {
      if (m.kind === 'signature') return hostSignature(openSession(this.options).host());
      if (m.kind === 'preview') return await planPreview(openSession(this.options), m.request);
      if (!this.local || this.local.generation !== m.generation) this.local = { generation: m.generation, session: openSession(this.options) };
      return toJson(jsonDocument(await readReport(this.local.session, m.request)));
    } catch (e) {
      throw errorFromWire(wireError(e));
    }
  }

  private ensureWorker(spec: WorkerSpec): Worker {
    if (this.worker) return this.worker;
    const workerData = { options: this.options };
    let w: Worker;
    if ('source' in spec) w = new Worker(spec.source, { eval: true, workerData });
    else if (spec.ts) {
      // under the TypeScript loader (tests, development) the worker registers it before loading its module
      w = new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => { t.register(); return import(${JSON.stringify(spec.file.href)}); });`, { eval: true, workerData });
    } else w = new Worker(spec.file, { workerData });
    w.unref();
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(errorFromWire(r.error as WireError));
    });
    const fail = (e: unknown): void => {
      if (this.worker === w) this.worker = null;
      const err = errorFromWire({ code: 'internal', message: `the read worker stopped: ${e instanceof Error ? e.message : String(e)}`, remedy: 'retry; report it with the output of `vfioctl snapshot` if it recurs', exitCode: 1 });
      for (const [, p] of this.pending) p.reject(err);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => {
      if (this.worker === w) fail(new Error(`exit code ${code}`));
    });
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

/** The bundled read worker's name: beside the bundle (dist/bundle/) and among a single executable's assets. */
export const READ_WORKER_BUNDLE = 'read-worker.cjs';

type WorkerSpec = { file: URL; ts: boolean } | { source: string };

/**
 * Where the read worker comes from: a single executable carries its bundle as an asset (started from
 * source); the npm bundle (dist/bundle/vfioctl.cjs) has dist/bundle/read-worker.cjs beside it; a source
 * checkout or the compiled modules have the worker module next to this one (.ts under the TypeScript
 * loader, .js when built). Null when none is there: the server then builds documents on the main thread.
 */
function readWorkerSpec(): WorkerSpec | null {
  if (isSingleExecutable()) {
    const asset = embeddedAsset(READ_WORKER_BUNDLE);
    return asset ? { source: asset.toString('utf8') } : null;
  }
  try {
    const url = import.meta.url;
    if (!url) return null;
    const ext = extname(fileURLToPath(url));
    const file = ext === '.cjs' ? new URL(`./${READ_WORKER_BUNDLE}`, url) : new URL(`./read-worker${ext}`, url);
    return existsSync(fileURLToPath(file)) ? { file, ts: ext === '.ts' } : null;
  } catch {
    return null;
  }
}
