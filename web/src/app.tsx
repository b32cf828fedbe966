// The page shell: skip link, navigation, host label, live-update state, and the routed page.
import { useEffect, useRef } from 'preact/hooks';
import { api } from './api.js';
import { ErrorBox } from './common.js';
import { lastChange, liveOpen, route, selection, useLoad, useStore } from './state.js';
import { Readiness } from './pages/readiness.js';
import { GroupMap } from './pages/groups.js';
import { Show } from './pages/show.js';
import { PlanBuilder } from './pages/plan.js';
import { Guests } from './pages/guests.js';

const NAV = [
  { page: 'readiness', href: '#/', label: 'Readiness' },
  { page: 'groups', href: '#/groups', label: 'IOMMU groups' },
  { page: 'plan', href: '#/plan', label: 'Plan' },
  { page: 'guests', href: '#/guests', label: 'Guests' },
] as const;

export function App() {
  const r = useStore(route);
  const sel = useStore(selection);
  const live = useStore(liveOpen);
  const change = useStore(lastChange);
  const session = useLoad(() => api.session(), [], { live: false });
  const main = useRef<HTMLElement>(null);
  const s = session.data;
  useEffect(() => {
    document.title = `vfioctl · ${NAV.find((n) => n.page === r.page)?.label ?? (r.page === 'show' ? r.arg : 'dashboard')}${s ? ` · ${s.host.label}` : ''}`;
  }, [r.page, r.arg, s]);
  // moving to another page puts the keyboard focus on its heading
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: false });
  }, [r.page, r.arg]);
  const current = r.page === 'show' ? 'groups' : r.page;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">vfioctl</span>
        <nav aria-label="pages">
          <ul>
            {NAV.map((n) => (
              <li key={n.page}>
                <a href={n.href} aria-current={current === n.page ? 'page' : undefined}>
                  {n.label}
                  {n.page === 'plan' && sel.length ? <span class="count"> ({sel.length})</span> : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="spacer" />
        {s ? (
          <span class="host" title={s.host.source}>
            {s.host.label}
            {s.readOnly ? <span class="badge badge-info">read-only</span> : null}
            {s.host.live ? null : (
              <span class="badge badge-info" title={s.host.source === 'root' ? 'a host root that is not the running system: boot and initramfs commands do not run' : 'a recorded host: nothing can change'}>
                {s.host.source === 'root' ? 'not the running system' : s.host.source === 'listing' ? 'pasted listing' : 'recorded host'}
              </span>
            )}
          </span>
        ) : null}
        <span class={`live ${live ? 'on' : 'off'}`} role="status" title={change ? `last host change ${change.at}: ${change.sections.join(', ')}` : 'live updates'}>
          {live ? 'live' : 'offline'}
          {change ? <span class="visually-hidden"> · host changed at {change.at}</span> : null}
        </span>
      </header>
      {session.error && session.error.status === 401 ? <ErrorBox error={session.error} title="Not signed in" /> : null}
      <main id="main" ref={main} tabIndex={-1}>
        {r.page === 'readiness' ? <Readiness /> : null}
        {r.page === 'groups' ? <GroupMap /> : null}
        {r.page === 'show' && r.arg ? <Show address={r.arg} /> : null}
        {r.page === 'plan' ? <PlanBuilder session={s} /> : null}
        {r.page === 'guests' ? <Guests session={s} /> : null}
        {r.page === 'notfound' ? (
          <p>
            No page “{r.arg}”. <a href="#/">Readiness</a>
          </p>
        ) : null}
      </main>
      <footer class="muted small-text">{s ? `vfioctl ${s.version}` : ''}</footer>
    </>
  );
}
