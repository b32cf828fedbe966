// IOMMU group map: one box per group, bridges and endpoints, driver chips (vfio highlighted), host-critical
// badges with their reason, reset, ACS, SR-IOV and what sits behind each bridge. Filter and search run
// over the whole document; boxes are rendered in pages as the list scrolls (a 4,096-function host has
// ~3,300 groups), so the first screen is up at once.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { memo } from 'preact/compat';
import { api, type GroupsDocument } from '../api.js';
import { Badge, DriverChip, ErrorBox, Loading, driverKind } from '../common.js';
import { acsLabel, behindIndex, resetLabel, shortName, sriovLabel, type Fn } from '../facts.js';
import { selection, toggleSelected, useLoad, useStore, go } from '../state.js';

type Group = GroupsDocument['groups'][number];
type Filter = 'all' | 'vfio' | 'critical' | 'isolated' | 'shared' | 'sriov';

const FIRST = 60;

/** Resolves once the browser has painted what is on screen now. */
const afterPaint = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const MORE = 240;

function matches(g: Group, q: string, fns: Map<string, Fn> | null): boolean {
  if (!q) return true;
  if (`group ${g.id}` === q || String(g.id) === q) return true;
  for (const m of g.members) {
    const hay = `${m.address} ${m.name ?? ''} ${m.driver ?? ''} ${m.vendorId ?? ''}:${m.deviceId ?? ''}`.toLowerCase();
    if (hay.includes(q)) return true;
    const f = fns?.get(m.address);
    if (f && `${f.names.className ?? ''} ${f.names.subclassName ?? ''}`.toLowerCase().includes(q)) return true;
  }
  return g.hostCritical.some((c) => c.reason.toLowerCase().includes(q));
}

function passes(g: Group, filter: Filter, fns: Map<string, Fn> | null): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'vfio':
      return g.members.some((m) => driverKind(m.driver) === 'vfio');
    case 'critical':
      return g.hostCritical.length > 0;
    case 'isolated':
      return g.isolation === 'isolated' && g.hostCritical.length === 0;
    case 'shared':
      return g.isolation === 'shared';
    case 'sriov':
      return g.members.some((m) => {
        const f = fns?.get(m.address);
        return Boolean(f && (f.sriov || f.physfn));
      });
  }
}

export function GroupMap() {
  const groups = useLoad(() => api.groups(), [], { key: 'groups' });
  // the full inventory adds reset, ACS, SR-IOV and topology: read after the groups, so the map does not wait for it
  const haveGroups = groups.data !== null;
  const ls = useLoad(() => (haveGroups ? afterPaint().then(() => api.ls()) : Promise.resolve(null)), [haveGroups], { key: haveGroups ? 'ls' : null });
  const [q, setQ] = useState('');
  const [filter, setFilter] = useState<Filter>('all');
  const [limit, setLimit] = useState(FIRST);
  const fns = useMemo(() => (ls.data ? new Map(ls.data.functions.map((f) => [f.address, f])) : null), [ls.data]);
  const behind = useMemo(() => (ls.data ? behindIndex(ls.data.functions) : null), [ls.data]);
  const query = q.trim().toLowerCase();
  const shown = useMemo(() => (groups.data ? groups.data.groups.filter((g) => passes(g, filter, fns) && matches(g, query, fns)) : []), [groups.data, filter, query, fns]);
  useEffect(() => setLimit(FIRST), [filter, query]);
  // a User Timing mark when the map is first on screen (the browser suite reads it)
  useEffect(() => {
    if (groups.data) requestAnimationFrame(() => performance.mark('vfioctl:group-map-painted'));
  }, [groups.data !== null]);

  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((es) => {
      if (es.some((e) => e.isIntersecting)) setLimit((l) => l + MORE);
    }, { rootMargin: '800px' });
    io.observe(el);
    return () => io.disconnect();
  }, [groups.data, shown.length > limit]);

  if (!groups.data) return groups.error ? <ErrorBox error={groups.error} title="The IOMMU groups could not be read" /> : <Loading what="the IOMMU groups" />;
  const d = groups.data;
  const fnCount = d.groups.reduce((n, g) => n + g.members.length, 0);
  return (
    <section aria-labelledby="groups-title">
      <h1 id="groups-title">IOMMU groups</h1>
      <p class="muted">
        {d.iommu.enabled ? `IOMMU on (${d.iommu.units.join(', ') || 'no units listed'})` : 'IOMMU off: no groups, nothing can be assigned'} · {d.groups.length} groups · {fnCount} functions
        {ls.data ? null : ls.error ? ' · details unavailable' : ' · reading details…'}
      </p>
      {groups.error ? <ErrorBox error={groups.error} title="Refreshing failed" /> : null}
      <div class="toolbar" role="search">
        <label>
          Search{' '}
          <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} placeholder="address, name, driver, 10de:1b80, nvme…" aria-label="Search groups" />
        </label>
        <label>
          Show{' '}
          <select value={filter} onChange={(e) => setFilter((e.target as HTMLSelectElement).value as Filter)} aria-label="Filter groups">
            <option value="all">all groups</option>
            <option value="isolated">assignable (isolated, nothing host-critical)</option>
            <option value="vfio">with vfio-bound functions</option>
            <option value="critical">with host-critical functions</option>
            <option value="shared">shared (several endpoints)</option>
            <option value="sriov">with SR-IOV</option>
          </select>
        </label>
        <span class="muted" role="status" data-testid="group-count">
          {shown.length} of {d.groups.length} groups
        </span>
      </div>
      <div class="group-map" data-testid="group-map">
        {shown.slice(0, limit).map((g) => (
          <GroupBox key={g.id} g={g} fns={fns} behind={behind} />
        ))}
      </div>
      {shown.length > limit ? (
        <div ref={sentinel} class="more">
          <button type="button" onClick={() => setLimit((l) => l + MORE)}>
            Show more groups ({shown.length - limit} left)
          </button>
        </div>
      ) : null}
      {d.problems.length ? (
        <details class="card">
          <summary>{d.problems.length} problems reading the host</summary>
          <ul>
            {d.problems.map((p, i) => (
              <li key={i}>
                <code>{JSON.stringify(p)}</code>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

// memo: appending boxes as the list scrolls renders only the new ones
const GroupBox = memo(function GroupBox({ g, fns, behind }: { g: Group; fns: Map<string, Fn> | null; behind: Map<string, string[]> | null }) {
  const sel = useStore(selection);
  const endpoints = g.members.filter((m) => m.role === 'endpoint').map((m) => m.address);
  const critical = new Map(g.hostCritical.map((c) => [c.address, c.reason]));
  const picked = endpoints.length > 0 && endpoints.every((a) => sel.includes(a));
  const vfio = g.members.some((m) => driverKind(m.driver) === 'vfio');
  return (
    <article class={`group iso-${g.isolation}${vfio ? ' has-vfio' : ''}${g.hostCritical.length ? ' has-critical' : ''}`} aria-label={`IOMMU group ${g.id}`} data-group={g.id}>
      <header>
        <h2>Group {g.id}</h2>
        <Badge kind={g.isolation === 'isolated' ? 'ok' : g.isolation === 'shared' ? 'warn' : 'info'} title={g.isolation === 'shared' ? 'several endpoints share this group: they move together' : g.isolation === 'empty' ? 'only bridges: nothing to assign' : 'one device: it can move alone'}>
          {g.isolation}
        </Badge>
        {g.type && g.type !== 'DMA' ? <Badge kind="info">{g.type}</Badge> : null}
        <span class="spacer" />
        {endpoints.length ? (
          <button type="button" class="small" aria-pressed={picked} onClick={() => toggleSelected(endpoints, !picked)} title="the whole group moves together">
            {picked ? 'In plan' : 'Add group to plan'}
          </button>
        ) : null}
      </header>
      <ul class="members">
        {g.members.map((m) => {
          const f = fns?.get(m.address) ?? null;
          const reset = f && m.role === 'endpoint' ? resetLabel(f) : null;
          const acs = f ? acsLabel(f) : null;
          const sriov = f ? sriovLabel(f) : null;
          const kids = m.role === 'bridge' ? behind?.get(m.address) : undefined;
          const reason = critical.get(m.address);
          return (
            <li key={m.address} class={`member member-${m.role}`}>
              <div class="member-line">
                <span class={`role role-${m.role}`} title={m.role === 'bridge' ? 'bridge or port: stays with the host' : 'endpoint'}>
                  {m.role === 'bridge' ? 'bridge' : 'device'}
                </span>
                <a href={`#/show/${m.address}`} class="addr" onClick={(e) => { e.preventDefault(); go(`show/${m.address}`); }}>
                  {m.address}
                </a>
                <span class="name">{shortName(m.name, m.class ? `class ${m.class}` : 'not in sys/bus/pci')}</span>
              </div>
              <div class="chips">
                <DriverChip driver={m.driver} unknown={m.unknown.some((u) => u.fact === 'driver')} />
                {reason ? (
                  <Badge kind="fail" title="the host needs this function">
                    host: {reason}
                  </Badge>
                ) : null}
                {reset ? <span class={`chip chip-${reset.kind}`}>{reset.text}</span> : null}
                {acs ? <span class={`chip chip-${acs.kind}`}>{acs.text}</span> : null}
                {sriov ? <span class="chip chip-info">{sriov}</span> : null}
                {f?.bootVga ? <Badge kind="warn">boot VGA</Badge> : null}
              </div>
              {kids && kids.length ? (
                <div class="behind muted">
                  behind it: {kids.slice(0, 6).map((k, i) => (
                    <span key={k}>
                      {i ? ', ' : ''}
                      <a href={`#/show/${k}`}>{k}</a>
                      {fns?.get(k) ? ` ${shortName(fns.get(k)!.names.device, '')}` : ''}
                    </span>
                  ))}
                  {kids.length > 6 ? ` and ${kids.length - 6} more` : ''}
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </article>
  );
});
