// The dashboard's only way to the host: the HTTP API of `vfioctl serve` (docs/server.md). Every document
// is the CLI's --json document for the same command, so the types are the CLI's own (src/model/reports.ts).
import type {
  DoctorDocument, GroupsDocument, LsDocument, ShowDocument, PlanDocument, GuestsDocument, LintDocument, StatusDocument,
} from '../../src/model/reports.js';
import type { PlanStep, StepEffect } from '../../src/model/plan.js';
import type { Finding } from '../../src/model/finding.js';

export type { DoctorDocument, GroupsDocument, LsDocument, ShowDocument, PlanDocument, GuestsDocument, LintDocument, StatusDocument, PlanStep, StepEffect, Finding };

export interface ApiErrorBody {
  code: string;
  message: string;
  remedy: string | null;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(body.message);
  }
}

export interface SessionInfo {
  readOnly: boolean;
  host: { label: string; live: boolean; source: string };
  version: string;
  connect: string | null;
  libvirt: boolean;
}

export type RenderTarget = 'libvirt' | 'virsh' | 'virt-install' | 'qemu' | 'host-config' | 'kubevirt';

export interface RenderResult {
  target?: string;
  format?: string;
  text: string;
  filename?: string;
}

export type PreviewAction = 'bind' | 'release' | 'persist' | 'unpersist' | 'enable-iommu' | 'disable-iommu' | 'attach' | 'detach' | 'recover';

export interface PreviewStep extends Partial<PlanStep> {
  title: string;
  /** unified diffs of the files the step writes, when the server joined them in */
  diff?: string | null;
  effects?: (StepEffect & { diff?: string | null })[];
}

export interface Preview {
  planId: string;
  expiresAt?: string;
  blocked: boolean;
  applicable?: boolean;
  blockers: (Finding | string)[];
  warnings?: (Finding | string)[];
  steps: PreviewStep[];
  notes?: string[];
  needsReboot?: boolean;
}

export interface OperationEvent {
  index?: number;
  title?: string;
  phase?: string;
  at?: string;
  message?: string;
}

export interface Operation {
  operationId: string;
  action: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'rolled-back';
  events: OperationEvent[];
  result: unknown;
  error?: ApiErrorBody | null;
}

const BASE = '/api/v1';

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, { code: 'unreachable', message: 'the vfioctl server does not answer', remedy: 'is `vfioctl serve` still running? start it again and open the URL it prints' });
  }
  const text = await res.text();
  let doc: unknown = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, { code: 'bad-response', message: `the server answered ${res.status} with something that is not JSON`, remedy: null });
  }
  const err = (doc as { error?: ApiErrorBody } | null)?.error;
  if (!res.ok || err) {
    throw new ApiError(res.status, err ?? { code: `http-${res.status}`, message: `the server answered ${res.status}`, remedy: null });
  }
  return doc as T;
}

const enc = encodeURIComponent;

export const api = {
  session: () => request<SessionInfo>('GET', '/session'),
  doctor: () => request<DoctorDocument>('GET', '/doctor'),
  groups: () => request<GroupsDocument>('GET', '/groups'),
  ls: () => request<LsDocument>('GET', '/ls'),
  show: (addr: string) => request<ShowDocument>('GET', `/show/${enc(addr)}`),
  status: () => request<StatusDocument>('GET', '/status?history=1'),
  guests: () => request<GuestsDocument>('GET', '/guests'),
  lint: (guest: string) => request<LintDocument>('GET', `/lint/${enc(guest)}`),
  plan: (body: PlanRequest) => request<PlanDocument>('POST', '/plan', body),
  render: (body: PlanRequest & { target: RenderTarget }) => request<RenderResult>('POST', '/render', body),
  preview: (body: { action: PreviewAction; addresses?: string[]; guest?: string; options?: Record<string, unknown> }) => request<Preview>('POST', '/preview', body),
  apply: (planId: string, force = false) => request<{ operationId: string }>('POST', '/apply', { planId, force }),
  operation: (id: string) => request<Operation>('GET', `/operations/${enc(id)}`),
};

export interface PlanRequest {
  addresses: string[];
  singleFunction?: boolean;
  romBar?: string;
  persistBy?: 'address' | 'id';
  guest?: string;
  nested?: boolean;
}

// ---------- live updates ----------

export type LiveEvent =
  | { type: 'host-changed'; data: { sections?: string[]; at?: string } }
  | { type: 'step'; data: { operationId: string; index: number; title: string; phase: string } }
  | { type: 'operation'; data: { operationId: string; state: Operation['state']; result?: unknown } }
  | { type: 'connection'; data: { open: boolean } };

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | null = null;

function emit(e: LiveEvent): void {
  for (const l of [...listeners]) l(e);
}

function parse(ev: MessageEvent): unknown {
  try {
    return JSON.parse(String(ev.data));
  } catch {
    return {};
  }
}

/** One EventSource for the whole page; it reconnects by itself. */
export function startLive(): void {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource(`${BASE}/events`);
  source.onopen = () => emit({ type: 'connection', data: { open: true } });
  source.onerror = () => emit({ type: 'connection', data: { open: false } });
  for (const type of ['host-changed', 'step', 'operation'] as const) {
    source.addEventListener(type, (ev) => emit({ type, data: parse(ev as MessageEvent) } as LiveEvent));
  }
}

export function onLive(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
