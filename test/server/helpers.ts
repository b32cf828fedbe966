/** A real `vfioctl serve` server on 127.0.0.1:0 for the API tests, and requests to it. */
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/server.js';
import type { SessionOptions } from '../../src/service/session.js';

export interface TestServer {
  server: RunningServer;
  base: string;
  token: string;
  /** a request with the Bearer token (unless headers.authorization is given) */
  api(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  json<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<{ status: number; body: T; text: string }>;
  close(): Promise<void>;
}

export async function serve(session: SessionOptions, opts: Partial<Omit<ServeOptions, 'session'>> = {}): Promise<TestServer> {
  const server = await startServer({ session: { env: { PATH: process.env.PATH }, ...session }, host: '127.0.0.1', port: 0, scanIntervalMs: 0, ...opts });
  const base = server.origin;
  const api = (path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (init.auth !== false && !headers.has('authorization')) headers.set('authorization', `Bearer ${server.token}`);
    return fetch(`${base}${path}`, { ...init, headers, redirect: 'manual' });
  };
  return {
    server,
    base,
    token: server.token,
    api,
    async json<T>(path: string, init: RequestInit = {}) {
      const r = await api(path, init);
      const text = await r.text();
      return { status: r.status, body: JSON.parse(text) as T, text };
    },
    close: () => server.close(),
  };
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
