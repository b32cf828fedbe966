/**
 * The read worker: builds the read documents (and the host signature) off the server's main thread, so a
 * heavy read (the inventory of a 4,096-function host takes about a second of CPU) never holds up other
 * requests, the event stream or a running mutation. One session per generation: the server bumps the
 * generation when the host changed or a mutation ran, and the next read opens a fresh session.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSession, type Session, type SessionOptions } from '../service/session.js';
import { readReport, type ReadRequest } from '../service/documents.js';
import { hostSignature } from '../service/host-watch.js';
import { jsonDocument } from '../model/reports.js';
import { toJson } from '../model/json-text.js';
import { planPreview, wireError, type WorkerRequest, type WorkerReply } from './read-protocol.js';

const options = (workerData as { options: SessionOptions }).options;
let current: { generation: number; session: Session } | null = null;

function sessionFor(generation: number): Session {
  if (!current || current.generation !== generation) current = { generation, session: openSession(options) };
  return current.session;
}

parentPort!.on('message', (m: WorkerRequest) => {
  void (async (): Promise<WorkerReply> => {
    try {
      if (m.kind === 'signature') return { id: m.id, ok: true, value: hostSignature(openSession(options).host()) };
      if (m.kind === 'preview') return { id: m.id, ok: true, value: await planPreview(openSession(options), m.request) };
      const report = await readReport(sessionFor(m.generation), m.request as ReadRequest);
      return { id: m.id, ok: true, value: toJson(jsonDocument(report)) };
    } catch (e) {
      return { id: m.id, ok: false, error: wireError(e) };
    }
  })().then((r) => parentPort!.postMessage(r));
});
