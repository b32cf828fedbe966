// Plan builder: pick functions (the plan ticks their group mates, with the reason) -> the live plan with
// blockers and warnings -> rendered configuration (tabs, copy, download) -> apply through a preview whose
// exact steps and file diffs are confirmed first -> live progress, the journal, rollback and recover.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type PlanDocument, type PlanRequest, type RenderTarget } from '../api.js';
import { Badge, Code, DriverChip, EffectView, ErrorBox, Findings, Loading } from '../common.js';
import { shortName } from '../facts.js';
import { selection, toggleSelected, useLoad, useStore } from '../state.js';
import { ApplyFlow } from '../apply.js';
import type { SessionInfo } from '../api.js';

const TARGETS: { id: RenderTarget; label: string; file: string }[] = [
  { id: 'libvirt', label: 'libvirt XML', file: 'hostdev.xml' },
  { id: 'virsh', label: 'virsh', file: 'attach.sh' },
  { id: 'virt-install', label: 'virt-install', file: 'virt-install.sh' },
  { id: 'qemu', label: 'QEMU', file: 'qemu-args.sh' },
  { id: 'host-config', label: 'Host config', file: 'host-config.sh' },
  { id: 'kubevirt', label: 'KubeVirt', file: 'kubevirt.yaml' },
];

const REASON: Record<string, string> = {
  requested: 'picked',
  'same-group': 'same IOMMU group: it moves with the picked function',
  'same-device': 'same device (another function of the slot): it moves with it',
};

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function PlanBuilder({ session }: { session: SessionInfo | null }) {
  const sel = useStore(selection);
  const [singleFunction, setSingle] = useState(false);
  const [romBar, setRomBar] = useState('auto');
  const [persistBy, setPersistBy] = useState<'auto' | 'address' | 'id'>('auto');
  const req: PlanRequest = useMemo(() => {
    const r: PlanRequest = { addresses: sel };
    if (singleFunction) r.singleFunction = true;
    if (romBar !== 'auto') r.romBar = romBar;
    if (persistBy !== 'auto') r.persistBy = persistBy;
    return r;
  }, [sel, singleFunction, romBar, persistBy]);
  const key = JSON.stringify(req);
  const debounced = useDebounced(key, 150);
  const plan = useLoad(() => (sel.length ? api.plan(JSON.parse(debounced) as PlanRequest) : Promise.resolve(null)), [debounced]);
  const p = sel.length ? plan.data : null;
  return (
    <section aria-labelledby="plan-title">
      <h1 id="plan-title">Plan builder</h1>
      <div class="plan-layout">
        <Picker plan={p} />
        <div class="plan-main">
          <fieldset class="card options">
            <legend>Options</legend>
            <label>
              <input type="checkbox" checked={singleFunction} onChange={(e) => setSingle((e.target as HTMLInputElement).checked)} /> only the picked functions of a slot (not the whole device)
            </label>
            <label>
              ROM BAR{' '}
              <select value={romBar} onChange={(e) => setRomBar((e.target as HTMLSelectElement).value)}>
                <option value="auto">auto</option>
                <option value="on">on</option>
                <option value="off">off</option>
              </select>
            </label>
            <label>
              Keep across reboots{' '}
              <select value={persistBy} onChange={(e) => setPersistBy((e.target as HTMLSelectElement).value as 'auto')}>
                <option value="auto">planner's choice</option>
                <option value="address">by address (driver_override)</option>
                <option value="id">by vendor:device ID (vfio-pci ids=)</option>
              </select>
            </label>
          </fieldset>
          {!sel.length ? (
            <p class="card">Pick one or more functions on the left, or add a group from the IOMMU group map.</p>
          ) : plan.error && !plan.loading ? (
            <ErrorBox error={plan.error} title="No plan" />
          ) : !p ? (
            <Loading what="the plan" />
          ) : (
            <PlanView plan={p} req={JSON.parse(debounced) as PlanRequest} session={session} stale={plan.loading || debounced !== key} />
          )}
        </div>
      </div>
    </section>
  );
}

function Picker({ plan }: { plan: PlanDocument | null }) {
  const groups = useLoad(() => api.groups(), [], { key: 'groups' });
  const sel = useStore(selection);
  const [q, setQ] = useState('');
  const [limit, setLimit] = useState(150);
  const claimed = new Map<string, string>((plan?.functions ?? []).map((f) => [f.address as string, f.reason as string]));
  const rows = useMemo(() => {
    const out: { address: string; group: number; name: string; driver: string | null; mates: string[] }[] = [];
    for (const g of groups.data?.groups ?? []) {
      const eps = g.members.filter((m) => m.role === 'endpoint');
      for (const m of eps) out.push({ address: m.address, group: g.id, name: shortName(m.name, m.class ?? ''), driver: m.driver, mates: eps.map((x) => x.address) });
    }
    return out;
  }, [groups.data]);
  const query = q.trim().toLowerCase();
  const shown = rows.filter((r) => !query || `${r.address} ${r.name} ${r.driver ?? ''} group ${r.group}`.toLowerCase().includes(query));
  return (
    <fieldset class="card picker">
      <legend>Functions</legend>
      <input type="search" aria-label="Search functions" placeholder="search…" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      {groups.error ? <ErrorBox error={groups.error} /> : null}
      <p class="muted small-text" role="status">
        {sel.length} picked{plan ? ` · the plan moves ${plan.claim.length}` : ''}
        {sel.length ? (
          <button type="button" class="small link" onClick={() => selection.set([])}>
            clear
          </button>
        ) : null}
      </p>
      <ul class="plain pick-list">
        {shown.slice(0, limit).map((r) => {
          const picked = sel.includes(r.address);
          const reason = claimed.get(r.address);
          const added = !picked && reason !== undefined;
          return (
            <li key={r.address} class={added ? 'added' : ''}>
              <label>
                <input
                  type="checkbox"
                  checked={picked || added}
                  data-address={r.address}
                  onChange={(e) => {
                    const on = (e.target as HTMLInputElement).checked;
                    // ticking one function takes its group (the plan would add it anyway); unticking an added one drops the group
                    toggleSelected(on ? [r.address] : r.mates, on);
                  }}
                />{' '}
                <code>{r.address}</code> <span class="muted">g{r.group}</span> {r.name} <DriverChip driver={r.driver} />
              </label>
              {added ? <div class="reason small-text">added: {REASON[reason] ?? reason}</div> : null}
            </li>
          );
        })}
      </ul>
      {shown.length > limit ? (
        <button type="button" class="small" onClick={() => setLimit((l) => l + 300)}>
          Show more ({shown.length - limit})
        </button>
      ) : null}
    </fieldset>
  );
}

function PlanView({ plan, req, session, stale }: { plan: PlanDocument; req: PlanRequest; session: SessionInfo | null; stale: boolean }) {
  const blockers = plan.findings.filter((f) => f.severity === 'fail');
  const warnings = plan.findings.filter((f) => f.severity === 'warn');
  const infos = plan.findings.filter((f) => f.severity === 'info' || f.severity === 'ok');
  return (
    <div aria-busy={stale}>
      <section class={`card verdict verdict-${plan.verdict}`} aria-label="plan verdict" data-plan-verdict={plan.verdict}>
        <Badge kind={plan.verdict === 'ok' ? 'ok' : plan.verdict === 'warn' ? 'warn' : 'fail'}>{plan.verdict === 'blocked' ? 'Blocked' : plan.verdict === 'warn' ? 'Warnings' : 'Ready'}</Badge>{' '}
        moves <strong>{plan.claim.join(', ')}</strong> to vfio-pci
        {plan.hostSide.length ? <> · stays with the host: {plan.hostSide.join(', ')}</> : null}
        {plan.needsReboot ? <> · boot-time steps need a reboot</> : null}
        {stale ? <span class="muted"> · updating…</span> : null}
      </section>
      <div class="card">
        <h2>Functions</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Function</th>
              <th scope="col">Group</th>
              <th scope="col">Why</th>
              <th scope="col">Driver now</th>
            </tr>
          </thead>
          <tbody>
            {plan.functions.map((f) => (
              <tr key={f.address}>
                <td>
                  <a href={`#/show/${f.address}`}>{f.address}</a> {f.name}
                </td>
                <td>{f.iommuGroup ?? '—'}</td>
                <td>{REASON[f.reason] ?? f.reason}</td>
                <td>
                  <DriverChip driver={f.driver} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {blockers.length ? (
        <section class="card" aria-label="blockers">
          <h2>Blockers</h2>
          <Findings findings={blockers} />
        </section>
      ) : null}
      {warnings.length ? (
        <section class="card" aria-label="warnings">
          <h2>Warnings</h2>
          <Findings findings={warnings} />
        </section>
      ) : null}
      {infos.length ? (
        <details class="card">
          <summary>{infos.length} notes</summary>
          <Findings findings={infos} />
        </details>
      ) : null}
      <details class="card">
        <summary>The plan's {plan.steps.length} steps</summary>
        <ol class="steps">
          {plan.steps.map((s) => (
            <li key={s.id}>
              <strong>{s.title}</strong> <span class="muted">({s.kind}{s.needsReboot ? ', after a reboot' : ''})</span>
              {(s.effects ?? []).map((e, i) => (
                <EffectView key={i} e={e} />
              ))}
            </li>
          ))}
        </ol>
      </details>
      <RenderTabs req={req} />
      <ApplyFlow addresses={plan.claim} request={req} blocked={plan.verdict === 'blocked'} readOnly={Boolean(session?.readOnly)} />
    </div>
  );
}

function RenderTabs({ req }: { req: PlanRequest }) {
  const [tab, setTab] = useState<RenderTarget>('libvirt');
  const key = JSON.stringify(req);
  const out = useLoad(() => api.render({ ...(JSON.parse(key) as PlanRequest), target: tab }), [key, tab]);
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const t = TARGETS.find((x) => x.id === tab)!;
  const onKey = (e: KeyboardEvent, i: number): void => {
    let j = i;
    if (e.key === 'ArrowRight') j = (i + 1) % TARGETS.length;
    else if (e.key === 'ArrowLeft') j = (i + TARGETS.length - 1) % TARGETS.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = TARGETS.length - 1;
    else return;
    e.preventDefault();
    setTab(TARGETS[j]!.id);
    refs.current[j]?.focus();
  };
  return (
    <section class="card" aria-label="rendered configuration">
      <h2>Configuration</h2>
      <div role="tablist" aria-label="configuration formats" class="tabs">
        {TARGETS.map((x, i) => (
          <button
            key={x.id}
            type="button"
            role="tab"
            id={`tab-${x.id}`}
            aria-selected={tab === x.id}
            aria-controls="render-panel"
            tabIndex={tab === x.id ? 0 : -1}
            ref={(el) => {
              refs.current[i] = el;
            }}
            onClick={() => setTab(x.id)}
            onKeyDown={(e) => onKey(e as unknown as KeyboardEvent, i)}
          >
            {x.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="render-panel" aria-labelledby={`tab-${tab}`}>
        {out.data && !out.loading ? (
          <Code text={out.data.text} label={t.label} filename={out.data.filename ?? t.file} />
        ) : out.error && !out.loading ? (
          <ErrorBox error={out.error} title={`${t.label} could not be rendered`} />
        ) : (
          <Loading what={t.label} />
        )}
      </div>
    </section>
  );
}
