// Small shared state of the page: the route (location.hash), the host epoch (bumped by `host-changed`),
// the plan selection, and a loader hook that refetches when the host changes.
import { useEffect, useState, useCallback } from 'preact/hooks';
import { ApiError, onLive } from './api.js';

type Sub = () => void;

class Store<T> {
  private subs = new Set<Sub>();
  constructor(private value: T) {}
  get(): T {
    return this.value;
  }
  set(v: T): void {
    this.value = v;
    for (const s of [...this.subs]) s();
  }
  subscribe(s: Sub): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }
}

export function useStore<T>(store: Store<T>): T {
  const [, force] = useState(0);
  useEffect(() => store.subscribe(() => force((n) => n + 1)), [store]);
  return store.get();
}

// ---------- route ----------

export interface Route {
  page: 'readiness' | 'groups' | 'show' | 'plan' | 'guests' | 'notfound';
  arg: string | null;
}

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [head = '', ...rest] = h.split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
  switch (head) {
    case '':
    case 'readiness':
      return { page: 'readiness', arg: null };
    case 'groups':
    case 'plan':
    case 'guests':
      return { page: head, arg };
    case 'show':
      return { page: 'show', arg };
    default:
      return { page: 'notfound', arg: h };
  }
}

export const route = new Store<Route>(parseRoute(location.hash));
window.addEventListener('hashchange', () => route.set(parseRoute(location.hash)));

export function go(path: string): void {
  location.hash = `#/${path}`;
}

// ---------- host epoch ----------

export const hostEpoch = new Store<number>(0);
export const lastChange = new Store<{ sections: string[]; at: string } | null>(null);
export const liveOpen = new Store<boolean>(false);
onLive((e) => {
  if (e.type === 'host-changed') {
    lastChange.set({ sections: e.data.sections ?? [], at: e.data.at ?? new Date().toISOString() });
    hostEpoch.set(hostEpoch.get() + 1);
  } else if (e.type === 'connection') {
    liveOpen.set(e.data.open);
  }
});

// ---------- plan selection ----------

export const selection = new Store<string[]>([]);

export function toggleSelected(addresses: string[], on: boolean): void {
  const cur = new Set(selection.get());
  for (const a of addresses) {
    if (on) cur.add(a);
    else cur.delete(a);
  }
  selection.set([...cur].sort());
}

// ---------- loading ----------

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

// Documents already read at the current host epoch, by key: moving between pages does not read them again;
// a host change (a new epoch) makes every page read afresh.
const cache = new Map<string, { epoch: number; data: unknown }>();

/**
 * Runs `fetcher` on mount, when `deps` change and when the host changes; keeps the last data while
 * reloading. With `key`, a document read at the current host epoch is taken from the cache.
 */
export function useLoad<T>(fetcher: () => Promise<T>, deps: unknown[], opts: { live?: boolean; key?: string | null } = {}): Loaded<T> {
  const epoch = useStore(hostEpoch);
  const live = opts.live !== false;
  const key = opts.key ?? null;
  const hit = key ? cache.get(key) : undefined;
  const fresh = hit && (!live || hit.epoch === epoch) ? (hit.data as T) : null;
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: fresh ?? (hit ? (hit.data as T) : null), error: null, loading: !fresh });
  const [n, setN] = useState(0);
  const reload = useCallback(() => setN((x) => x + 1), []);
  useEffect(() => {
    if (fresh !== null && n === 0) {
      setState({ data: fresh, error: null, loading: false });
      return;
    }
    let gone = false;
    const at = epoch;
    setState((s) => ({ ...s, loading: true }));
    fetcher().then(
      (data) => {
        if (key) cache.set(key, { epoch: at, data });
        if (!gone) setState({ data, error: null, loading: false });
      },
      (error: unknown) => !gone && setState((s) => ({ data: s.data, error: error instanceof ApiError ? error : new ApiError(0, { code: 'client', message: String(error), remedy: null }), loading: false })),
    );
    return () => {
      gone = true;
    };
  }, [...deps, key, live ? epoch : 0, n]);
  return { ...state, reload };
}

// ---------- operations started from this page (their progress survives moving between pages) ----------

export const operations = new Store<{ id: string; action: string }[]>([]);

export function addOperation(id: string, action: string): void {
  operations.set([{ id, action }, ...operations.get()].slice(0, 20));
}
