// Mutations: preview (the exact steps and file diffs) -> confirm -> apply by plan id -> live progress and
// the journal. What the person confirmed is what runs: the server applies the previewed plan id only.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, onLive, type ApiErrorBody, type Operation, type OperationEvent, type Preview, type PreviewAction, type PlanRequest } from './api.js';
import { Badge, EffectView, ErrorBox, FindingView } from './common.js';
import { addOperation, hostEpoch, operations, useLoad, useStore } from './state.js';
import type { Finding } from './api.js';

const ACTION_LABEL: Record<PreviewAction, string> = {
  bind: 'Bind to vfio-pci now',
  release: 'Roll back (release to the host drivers)',
  persist: 'Keep across reboots (persist)',
  unpersist: 'Stop keeping across reboots',
  'enable-iommu': 'Enable the IOMMU',
  'disable-iommu': 'Disable the IOMMU',
  attach: 'Attach to the guest',
  detach: 'Detach from the guest',
  recover: 'Recover an interrupted run',
};

export interface PreviewRequest {
  action: PreviewAction;
  addresses?: string[];
  guest?: string;
  options?: Record<string, unknown>;
}

/** The confirmation dialog: the preview's steps with their effects, then apply. */
export { ACTION_LABEL };

export function ConfirmDialog({ req, onClose, onStarted }: { req: PreviewRequest; onClose: () => void; onStarted: (op: string, action: PreviewAction) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [force, setForce] = useState(false);
  useEffect(() => {
    if (!ref.current?.open) ref.current?.showModal();
    // a blocked change goes ahead only through a new preview with force, which then says what the host loses
    setPreview(null);
    setError(null);
    api.preview(force ? { ...req, options: { ...(req.options ?? {}), force: true } } : req).then(setPreview, (e: unknown) => setError(e as ApiError));
  }, [force]);
  const apply = async (): Promise<void> => {
    if (!preview) return;
    setBusy(true);
    setError(null);
    try {
      const { operationId } = await api.apply(preview.planId);
      onStarted(operationId, req.action);
      ref.current?.close();
    } catch (e) {
      setError(e as ApiError);
      setBusy(false);
    }
  };
  const label = ACTION_LABEL[req.action];
  const applicable = preview ? preview.applicable !== false : false;
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      <h2 id="confirm-title">{label}: exactly what will run</h2>
      {req.addresses?.length ? <p>Functions: {req.addresses.join(', ')}{req.guest ? ` · guest ${req.guest}` : ''}</p> : null}
      {error ? <ErrorBox error={error} /> : null}
      {!preview && !error ? <p role="status">Preparing the preview…</p> : null}
      {preview ? (
        <>
          {preview.blocked || force ? (
            <div class="error" role="alert">
              <strong>This change is blocked.</strong>
              <ul class="findings">
                {preview.blockers.map((b, i) => (typeof b === 'string' ? <li key={i}>{b}</li> : <FindingView key={i} f={b as Finding} open />))}
              </ul>
              <label>
                <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /> preview it with --force: I have read the blockers{force && preview.blocked ? ' (still blocked: force does not override these)' : ''}
              </label>
            </div>
          ) : null}
          {preview.applicable === false ? <p class="error">This server is read-only: the preview shows what would run, nothing can be applied.</p> : null}
          {preview.steps.length ? (
            <ol class="steps" data-testid="preview-steps">
              {preview.steps.map((s, i) => (
                <li key={s.id ?? i}>
                  <strong>{s.title}</strong>
                  {s.kind ? <span class="muted"> ({s.kind}{s.needsReboot ? ', after a reboot' : ''})</span> : null}
                  {(s.effects ?? []).map((e, j) => (
                    <EffectView key={j} e={e} />
                  ))}
                  {s.diff ? <pre class="diff">{s.diff}</pre> : null}
                  {!s.effects?.length && s.command ? (
                    <div class="effect">
                      <code>{s.command}</code>
                    </div>
                  ) : null}
                </li>
              ))}
            </ol>
          ) : (
            <p>Nothing to do: the host is already in that state.</p>
          )}
          {preview.notes?.length ? <ul>{preview.notes.map((n) => <li key={n}>{n}</li>)}</ul> : null}
          <p class="muted small-text">
            plan id <code>{preview.planId}</code>
            {preview.expiresAt ? ` · valid until ${new Date(preview.expiresAt).toLocaleTimeString()}` : ''}
          </p>
        </>
      ) : null}
      <div class="dialog-buttons">
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
        <button type="button" class="primary" disabled={!preview || !applicable || busy || !preview.steps.length || preview.blocked} onClick={apply}>
          {busy ? 'Starting…' : `Confirm: ${label.toLowerCase()}`}
        </button>
      </div>
    </dialog>
  );
}

const TERMINAL = new Set(['done', 'failed', 'rolled-back']);

/** Live progress of one operation: its step events (SSE), then its result (the journal of the run). */
export function Progress({ operationId, action }: { operationId: string; action: string }) {
  const [op, setOp] = useState<Operation | null>(null);
  const [live, setLive] = useState<OperationEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let stop = false;
    const off = onLive((e) => {
      if (e.type === 'step' && e.data.operationId === operationId) setLive((l) => [...l, e.data]);
      if (e.type === 'operation' && e.data.operationId === operationId) poll();
    });
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = (): void => {
      if (timer) clearTimeout(timer);
      api.operation(operationId).then(
        (o) => {
          if (stop) return;
          setOp(o);
          if (TERMINAL.has(o.state)) hostEpoch.set(hostEpoch.get() + 1);
          else timer = setTimeout(poll, 400);
        },
        (e: unknown) => !stop && setError(e as ApiError),
      );
    };
    poll();
    return () => {
      stop = true;
      off();
      if (timer) clearTimeout(timer);
    };
  }, [operationId]);
  const events = op && op.events.length >= live.length ? op.events : live;
  const state = op?.state ?? 'queued';
  const failure = op?.error ?? (op?.result as { error?: ApiErrorBody } | null)?.error ?? null;
  return (
    <section class="card progress" aria-label="progress" aria-live="polite" data-operation={operationId} data-state={state}>
      <h2>
        {action} <Badge kind={state === 'done' ? 'ok' : state === 'failed' ? 'fail' : state === 'rolled-back' ? 'warn' : 'info'}>{state}</Badge>
      </h2>
      {error ? <ErrorBox error={error} /> : null}
      <ol class="events">
        {events.map((e, i) => (
          <li key={i} class={`phase-${e.phase ?? 'info'}`}>
            <span class="phase">{e.phase ?? ''}</span> {e.title ?? e.message ?? JSON.stringify(e)}
          </li>
        ))}
      </ol>
      {failure ? <ErrorBox error={new ApiError(0, failure)} title={state === 'rolled-back' ? 'The run failed and was rolled back' : 'The run failed'} /> : null}
      {op && TERMINAL.has(op.state) && op.result ? (
        <details>
          <summary>The run's record (journal)</summary>
          <pre tabIndex={0}>{JSON.stringify(op.result, null, 2)}</pre>
        </details>
      ) : null}
    </section>
  );
}

/** The apply panel of the plan builder: bind / persist, then rollback (release) and recover. */
export function ApplyFlow({ addresses, request, blocked, readOnly }: { addresses: string[]; request: PlanRequest; blocked: boolean; readOnly: boolean }) {
  const [dialog, setDialog] = useState<PreviewRequest | null>(null);
  const ops = useStore(operations);
  const options: Record<string, unknown> = {};
  if (request.singleFunction) options.singleFunction = true;
  if (request.romBar) options.romBar = request.romBar;
  if (request.persistBy) options.persistBy = request.persistBy;
  const open = (action: PreviewAction, withAddresses = true): void => setDialog({ action, ...(withAddresses ? { addresses } : {}), options });
  return (
    <section class="card" aria-label="apply">
      <h2>Apply</h2>
      {readOnly ? <p class="muted">This server runs read-only: previews show what would run; nothing can be applied.</p> : null}
      {blocked ? <p class="muted">The plan is blocked: the preview lists why; applying needs an explicit force.</p> : null}
      <div class="buttons">
        <button type="button" class="primary" onClick={() => open('bind')}>
          Bind now…
        </button>
        <button type="button" onClick={() => open('persist')}>
          Keep across reboots…
        </button>
        <button type="button" onClick={() => open('release')}>
          Roll back (release)…
        </button>
        <button type="button" onClick={() => open('recover', false)}>
          Recover…
        </button>
      </div>
      {dialog ? <ConfirmDialog req={dialog} onClose={() => setDialog(null)} onStarted={(id, action) => addOperation(id, ACTION_LABEL[action])} /> : null}
      {ops.map((o) => (
        <Progress key={o.id} operationId={o.id} action={o.action} />
      ))}
      <Journal />
    </section>
  );
}

/** What vfioctl holds now and its recent runs (`vfioctl status`). */
export function Journal() {
  const st = useLoad(() => api.status(), []);
  if (!st.data) return st.error ? <ErrorBox error={st.error} title="Status could not be read" /> : null;
  const s = st.data;
  return (
    <details class="journal" open={s.bound.length > 0 || Boolean(s.interrupted)}>
      <summary>
        Journal: {s.bound.length} bound by vfioctl{s.interrupted ? ' · an interrupted run needs recover' : ''}
      </summary>
      {s.interrupted ? (
        <p class="error">
          Run {s.interrupted.runId} ({s.interrupted.command}) was interrupted at {s.interrupted.startedAt}: use Recover.
        </p>
      ) : null}
      {s.bound.length ? (
        <table data-testid="bound-table">
          <thead>
            <tr>
              <th scope="col">Function</th>
              <th scope="col">Was</th>
              <th scope="col">Now</th>
              <th scope="col">Run</th>
            </tr>
          </thead>
          <tbody>
            {s.bound.map((b) => (
              <tr key={b.address}>
                <td>{b.address}</td>
                <td>{b.original.driver ?? 'none'}</td>
                <td>
                  {b.current?.driver ?? 'none'}
                  {b.drifted ? ' (drifted)' : ''}
                </td>
                <td>
                  <code>{b.runId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {s.history?.length ? (
        <ol class="history">
          {s.history.slice(0, 10).map((h) => (
            <li key={h.runId}>
              {h.startedAt} <code>{h.command} {h.args.join(' ')}</code> {h.status}
              {h.error ? ` — ${h.error.message}` : ''}
            </li>
          ))}
        </ol>
      ) : null}
    </details>
  );
}
