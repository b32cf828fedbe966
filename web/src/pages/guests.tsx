// Guests: libvirt domains with their host devices, lint findings, attach the planned functions, detach.
import { useState } from 'preact/hooks';
import { api, type GuestsDocument, type SessionInfo } from '../api.js';
import { Badge, ErrorBox, Findings, Loading } from '../common.js';
import { ConfirmDialog, Progress, type PreviewRequest } from '../apply.js';
import { addOperation, operations, selection, useLoad, useStore } from '../state.js';

type Guest = GuestsDocument['guests'][number];

export function Guests({ session }: { session: SessionInfo | null }) {
  // without libvirt there is nothing to list (and no failing request to make)
  const libvirt = session?.libvirt === true;
  const doc = useLoad(() => (libvirt ? api.guests() : Promise.resolve(null)), [libvirt]);
  const [dialog, setDialog] = useState<PreviewRequest | null>(null);
  const ops = useStore(operations);
  return (
    <section aria-labelledby="guests-title">
      <h1 id="guests-title">Guests</h1>
      {session && !session.libvirt ? <p class="muted">libvirt was not found on this host{session.connect ? ` at ${session.connect}` : ''}: start libvirtd (or virtqemud), or run <code>vfioctl serve --connect URI</code>.</p> : null}
      {!session || !libvirt ? null : !doc.data ? (
        doc.error ? <ErrorBox error={doc.error} title="The guests could not be listed" /> : <Loading what="the libvirt guests" />
      ) : (
        <>
          <p class="muted">
            {doc.data.uri} · {doc.data.guests.length} guests
          </p>
          {doc.data.shared.length ? (
            <div class="error" role="alert">
              {doc.data.shared.map((s) => (
                <div key={s.address}>
                  {s.address} is listed by several guests: {s.guests.join(', ')} (only one can run with it)
                </div>
              ))}
            </div>
          ) : null}
          {doc.data.guests.map((g) => (
            <GuestCard key={g.name} g={g} onAction={setDialog} />
          ))}
        </>
      )}
      {dialog ? <ConfirmDialog req={dialog} onClose={() => setDialog(null)} onStarted={(id, action) => addOperation(id, `${action} ${dialog.guest ?? ''}`)} /> : null}
      {ops.map((o) => (
        <Progress key={o.id} operationId={o.id} action={o.action} />
      ))}
    </section>
  );
}

function GuestCard({ g, onAction }: { g: Guest; onAction: (r: PreviewRequest) => void }) {
  const sel = useStore(selection);
  const [lintOn, setLint] = useState(false);
  const lint = useLoad(() => (lintOn ? api.lint(g.name) : Promise.resolve(null)), [g.name, lintOn]);
  return (
    <article class="card guest" aria-label={`guest ${g.name}`} data-guest={g.name}>
      <header>
        <h2>{g.name}</h2>
        <Badge kind={g.running ? 'ok' : 'info'}>{g.state}</Badge>
        <span class="muted">
          {g.machine ?? 'machine ?'} · {g.chipset} · {g.firmware}
        </span>
      </header>
      {g.hostdevs.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Host device</th>
              <th scope="col">Managed</th>
              <th scope="col">Guest address</th>
              <th scope="col">ROM</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {g.hostdevs.map((h, i) =>
              h.kind === 'pci' ? (
                <tr key={i}>
                  <td>{h.source ? <a href={`#/show/${h.source}`}>{h.source}</a> : <span class="error-text">{h.sourceProblem}</span>}</td>
                  <td>{h.managed ? 'yes' : 'no'}</td>
                  <td>{h.guestAddress ? JSON.stringify(h.guestAddress) : 'auto'}</td>
                  <td>{h.rom ? `bar ${h.rom.bar ?? 'default'}${h.rom.file ? `, file ${h.rom.file}` : ''}` : 'default'}</td>
                  <td>
                    {h.source ? (
                      <button type="button" class="small" onClick={() => onAction({ action: 'detach', guest: g.name, addresses: [h.source!] })}>
                        Detach…
                      </button>
                    ) : null}
                  </td>
                </tr>
              ) : (
                <tr key={i}>
                  <td colSpan={5} class="muted">
                    {h.type ?? 'other'} hostdev ({h.mode ?? '?'}) {h.alias ?? ''}
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      ) : (
        <p class="muted">No host devices.</p>
      )}
      <div class="buttons">
        <button type="button" disabled={!sel.length} onClick={() => onAction({ action: 'attach', guest: g.name, addresses: sel })} title={sel.length ? sel.join(', ') : 'pick functions in the plan builder first'}>
          Attach the planned functions{sel.length ? ` (${sel.length})` : ''}…
        </button>
        <button type="button" aria-expanded={lintOn} onClick={() => setLint(!lintOn)}>
          {lintOn ? 'Hide lint' : 'Lint this guest'}
        </button>
      </div>
      {lintOn ? lint.data ? <Findings findings={lint.data.findings} empty="No findings: the definition looks right." /> : lint.error ? <ErrorBox error={lint.error} /> : <Loading what="lint findings" /> : null}
    </article>
  );
}
