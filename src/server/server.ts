/**
 * `vfioctl serve`: the dashboard's HTTP server (docs/server.md is its contract). It is a front end over
 * the session API (src/service/), like the CLI: reads return the CLI's --json documents byte for byte,
 * mutations are a preview (kept under a plan id) and then an apply of exactly what was previewed.
 *
 * Built on Fastify (docs/dependencies.md). Every request passes one gate (onRequest): the tokened URL sets
 * the cookie and redirects, anything else without the token gets 401 and nothing about the host. Reads
 * are built in a worker thread (src/server/reads.ts), mutations run one at a time on this thread
 * (src/server/mutations.ts), the event stream carries step progress and host changes (src/server/events.ts,
 * src/server/watch.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { SessionOptions, SessionRuntime } from '../service/session.js';
import { packageDir } from '../service/samples.js';
import type { ReadRequest } from '../service/documents.js';
import { UsageError } from '../model/errors.js';
import { COOKIE_NAME, authOf, tokenMatches, newToken, type AuthBy } from './auth.js';
import { HttpError, UNAUTHORIZED, errorBody } from './errors.js';
import { EventHub, MAX_STREAMS } from './events.js';
import { ReadService } from './reads.js';
import { Mutations } from './mutations.js';
import { HostWatch } from './watch.js';
import { planInputOf, renderInputOf, previewRequestOf, applyRequestOf } from './requests.js';
import type { TlsMaterial } from './tls.js';

export const DEFAULT_PORT = 7386;

export interface ServeOptions {
  /** the host, as every front end opens it (a sample, snapshot or listing makes the server read-only) */
  session: SessionOptions;
  host: string;
  port: number;
  readOnly?: boolean;
  tls?: TlsMaterial | null;
  /** build read documents in a worker thread (default true) */
  readsInWorker?: boolean;
  /** how often the cheap host scan runs, ms (default 2000; 0: never) */
  scanIntervalMs?: number;
  /** how long a preview can be applied, ms (default 10 minutes) */
  previewTtlMs?: number;
  /** the built front end (default: dist/web in the package) */
  webDir?: string;
  /** how mutations reach the kernel (tests: the kernel-like fake) */
  runtime?: SessionRuntime;
  /** the server's version, shown in /api/v1/session */
  version?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  origin: string;
  app: FastifyInstance;
  reads: ReadService;
  /** the API routes, "METHOD /api/v1/..." */
  routes: readonly string[];
  close(): Promise<void>;
}

/** Loopback listen addresses: the only ones allowed without TLS. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** "HOST:PORT" (IPv6 in brackets) -> host and port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('bad-listen', `--listen ${JSON.stringify(text)} is not HOST:PORT`, `e.g. --listen 127.0.0.1:${DEFAULT_PORT} (port 0 picks a free one; IPv6 as [::1]:${DEFAULT_PORT})`);
  }
  const host = (m[1] ?? m[2])!;
  if (m[1] !== undefined && isIP(host) !== 6) throw new UsageError('bad-listen', `--listen ${JSON.stringify(text)}: ${host} is not an IPv6 address`, `e.g. --listen [::1]:${DEFAULT_PORT}`);
  if (m[2] !== undefined && !isIP(host) && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) throw new UsageError('bad-listen', `--listen ${JSON.stringify(text)}: ${JSON.stringify(host)} is not a host name or address`, `e.g. --listen 127.0.0.1:${DEFAULT_PORT}`);
  return { host, port };
}

/** Refuse a listen address reachable from other machines unless TLS is on. */
export function checkListen(host: string, tls: boolean): void {
  if (isLoopback(host) || tls) return;
  throw new UsageError(
    'tls-required',
    `refusing to listen on ${host} without TLS: the access token and the host's details would cross the network in clear text`,
    `add --tls-cert FILE --tls-key FILE (or --tls-self-signed), or keep the default 127.0.0.1 and reach it with ssh -L ${DEFAULT_PORT}:127.0.0.1:${DEFAULT_PORT} HOST`,
  );
}

const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

/** The page `/` shows without the token: nothing about the host. */
const UNAUTHORIZED_PAGE = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>vfioctl</title></head><body><h1>401: not signed in</h1><p>Open the URL that <code>vfioctl serve</code> printed (it carries the access token).</p></body></html>\n';
/** The page `/` shows when the front end is not built. */
const PLACEHOLDER_PAGE = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>vfioctl</title></head><body><h1>vfioctl serve</h1><p>The dashboard front end is not built (no dist/web/). The JSON API is under <a href="/api/v1/session">/api/v1/</a>; docs/server.md describes it.</p></body></html>\n';

declare module 'fastify' {
  interface FastifyRequest {
    authBy: AuthBy;
  }
}

function libvirtPresent(opts: SessionOptions): boolean {
  if (opts.connect !== undefined) return true;
  const path = opts.env?.PATH ?? '';
  return path.split(delimiter).some((d) => d && existsSync(join(d, 'virsh')));
}

function hostOf(opts: SessionOptions): { label: string; live: boolean; source: 'sample' | 'root' | 'snapshot' | 'listing' } {
  if (opts.from !== undefined) return { label: typeof opts.from === 'string' ? opts.from : opts.from.name, live: false, source: 'listing' };
  if (opts.sample !== undefined) return { label: `sample ${opts.sample === true ? 'q35-intel-iommu' : opts.sample}`, live: false, source: 'sample' };
  const root = opts.root ?? (opts.env?.VFIOCTL_ROOT || '/');
  if (/\.(tar\.gz|tgz)$/.test(root)) return { label: root, live: false, source: 'snapshot' };
  return { label: root, live: opts.live ?? root === '/', source: 'root' };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageDir(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function webDirOf(opts: ServeOptions): string | null {
  const dir = opts.webDir ?? join(packageDir(), 'dist', 'web');
  try {
    return statSync(join(dir, 'index.html')).isFile() ? dir : null;
  } catch {
    return null;
  }
}

function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const { status, text } = errorBody(e);
  return reply.code(status).type('application/json; charset=utf-8').send(text);
}

function sendJsonText(reply: FastifyReply, text: string | Buffer, status = 200): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(text);
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const tls = opts.tls ?? null;
  checkListen(opts.host, !!tls);
  const token = newToken();
  // a recorded host (sample, snapshot) and an imported listing are never changed: the server says so up front
  const readOnly = !!opts.readOnly || hostOf(opts.session).source !== 'root';
  const reads = new ReadService(opts.session, opts.readsInWorker === false ? false : undefined);
  const hub = new EventHub();
  const scheme = tls ? 'https' : 'http';
  const mutations = new Mutations({
    session: { ...opts.session, ...(opts.runtime ? { runtime: opts.runtime } : {}) },
    readOnly,
    hub,
    previewTtlMs: opts.previewTtlMs ?? 10 * 60_000,
    plan: (request) => reads.preview(request),
    changed: () => {
      reads.bump();
      void watch.rebaseline();
      hub.publish('host-changed', { sections: ['inventory', 'state'], at: new Date().toISOString() });
    },
  });
  const watch = new HostWatch(reads, hub, hostOf(opts.session).source === 'root' ? (opts.scanIntervalMs ?? 2000) : 0);
  const web = webDirOf(opts);
  const version = opts.version ?? packageVersion();

  const app = Fastify({
    logger: false,
    bodyLimit: 256 * 1024,
    // explain takes the message text as its path parameter
    routerOptions: { maxParamLength: 8192 },
    return503OnClosing: true,
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
  }) as unknown as FastifyInstance;
  app.decorateRequest('authBy', null);
  // bodies are JSON only (Fastify also parses text/plain by default): anything else is 415
  app.removeContentTypeParser('text/plain');
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD' && r.url.startsWith('/api/')) routes.push(`${m} ${r.url}`);
  });

  /** Mutations: same-origin browsers (cookie) or scripts (Bearer); never under --read-only. */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin === undefined) return req.authBy === 'bearer';
    return typeof host === 'string' && origin === `${scheme}://${host}`;
  };

  app.addHook('onRequest', async (req, reply) => {
    const url = new URL(req.url, 'http://h');
    if ((req.method === 'GET' || req.method === 'HEAD') && url.pathname === '/' && url.searchParams.has('token')) {
      if (!tokenMatches(url.searchParams.get('token'), token)) return reply.code(401).type('text/html; charset=utf-8').send(UNAUTHORIZED_PAGE);
      // the token leaves the address bar: a cookie only this origin's requests carry, never scripts
      const cookie = `${COOKIE_NAME}=${token}; HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}`;
      return reply.code(303).header('location', '/').header('set-cookie', cookie).header('cache-control', 'no-store').send();
    }
    req.authBy = authOf(req.headers, token);
    if (req.authBy) return;
    if (url.pathname.startsWith('/api/')) return sendError(reply, UNAUTHORIZED);
    return reply.code(401).type('text/html; charset=utf-8').send(UNAUTHORIZED_PAGE);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (req.url.startsWith('/api/') || reply.statusCode === 401) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((e: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : null;
    if (status) {
      const code = status === 413 ? 'too-large' : status === 415 ? 'unsupported-media-type' : 'bad-request';
      return sendError(reply, new HttpError(status, code, e.message, status === 415 ? 'send the body as application/json' : 'check the request against docs/server.md'));
    }
    return sendError(reply, e);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = new URL(req.url, 'http://h').pathname;
    // the front end's own routes (no file extension) load its page
    if (web && req.method === 'GET' && !path.startsWith('/api/') && !/\.[A-Za-z0-9]+$/.test(path)) return reply.type('text/html; charset=utf-8').sendFile('index.html');
    return sendError(reply, new HttpError(404, 'not-found', `no such resource: ${req.method} ${path.slice(0, 200)}`, 'docs/server.md lists the API'));
  });

  // ---- reads: the CLI's --json documents
  const read = (request: (req: FastifyRequest) => ReadRequest) => async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      return sendJsonText(reply, await reads.document(request(req)));
    } catch (e) {
      return sendError(reply, e);
    }
  };
  const q = (req: FastifyRequest): Record<string, string | string[] | undefined> => req.query as Record<string, string | string[] | undefined>;
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

  app.get('/api/v1/session', async (_req, reply) => {
    const connect = opts.session.connect ?? null;
    return sendJsonText(reply, `${JSON.stringify({ schemaVersion: 1, kind: 'serve-session', readOnly, host: hostOf(opts.session), version, connect, libvirt: libvirtPresent(opts.session) }, null, 2)}\n`);
  });
  app.get('/api/v1/ls', read(() => ({ route: 'ls' })));
  app.get('/api/v1/groups', read(() => ({ route: 'groups' })));
  app.get('/api/v1/doctor', read((req) => ({ route: 'doctor', addresses: list(q(req).address) })));
  app.get('/api/v1/show/:address', read((req) => ({ route: 'show', address: (req.params as { address: string }).address })));
  app.get('/api/v1/status', read((req) => ({ route: 'status', history: q(req).history === '1' || q(req).history === 'true' })));
  app.get('/api/v1/guests', read(() => ({ route: 'guests' })));
  app.get('/api/v1/lint/:guest', read((req) => ({ route: 'lint', guest: (req.params as { guest: string }).guest })));
  app.get('/api/v1/explain', read(() => ({ route: 'explain-list' })));
  app.get('/api/v1/explain/:text', read((req) => ({ route: 'explain', text: (req.params as { text: string }).text })));
  app.post('/api/v1/plan', read((req) => ({ route: 'plan', input: planInputOf(req.body, opts.session.connect !== undefined) })));
  app.post('/api/v1/render', async (req, reply) => {
    try {
      const { input, format, machine } = renderInputOf(req.body, opts.session.connect !== undefined);
      const text = await reads.document({ route: 'render', input, format, machine });
      // the CLI's render document, named as the dashboard asks for it (kind, target, filename)
      const doc = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
      return sendJsonText(reply, `${JSON.stringify({ ...doc, kind: 'render', target: format, filename: renderFilename(format) }, null, 2)}\n`);
    } catch (e) {
      return sendError(reply, e);
    }
  });

  // ---- mutations: preview (a read), then apply by plan id
  app.post('/api/v1/preview', async (req, reply) => {
    try {
      return sendJsonText(reply, await mutations.preview(previewRequestOf(req.body)));
    } catch (e) {
      return sendError(reply, e);
    }
  });
  app.post('/api/v1/apply', async (req, reply) => {
    try {
      if (!sameOrigin(req)) throw new HttpError(403, 'bad-origin', 'a change needs the Origin of this server (a page of another site cannot make it)', 'use the dashboard at the URL vfioctl serve printed, or a script with Authorization: Bearer TOKEN');
      if (readOnly) {
        throw opts.readOnly
          ? new HttpError(403, 'read-only', 'this server was started with --read-only: it changes nothing', 'restart vfioctl serve without --read-only to apply changes')
          : new HttpError(403, 'read-only', `this host is ${hostOf(opts.session).source === 'listing' ? 'an imported listing' : 'a recorded host (a sample or a snapshot)'}: vfioctl does not change it`, 'run vfioctl serve on the host itself (--root / or no host option) to apply changes');
      }
      const { planId, force } = applyRequestOf(req.body);
      return sendJsonText(reply, `${JSON.stringify(await mutations.apply(planId, force), null, 2)}\n`, 202);
    } catch (e) {
      return sendError(reply, e);
    }
  });
  app.get('/api/v1/operations/:id', async (req, reply) => {
    try {
      return sendJsonText(reply, `${JSON.stringify(mutations.operation((req.params as { id: string }).id), null, 2)}\n`);
    } catch (e) {
      return sendError(reply, e);
    }
  });

  // ---- live updates
  app.get('/api/v1/events', (req, reply) => {
    if (hub.size >= MAX_STREAMS) return sendError(reply, new HttpError(409, 'busy', `${MAX_STREAMS} event streams are open already`, 'close other dashboard tabs'));
    reply.hijack();
    reply.raw.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    hub.add(reply.raw);
    watch.start();
    return reply;
  });

  // ---- the front end
  if (web) await app.register(fastifyStatic, { root: web, prefix: '/', index: ['index.html'], dotfiles: 'deny', cacheControl: false, etag: true });
  else app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER_PAGE));

  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const urlHost = isIP(opts.host) === 6 ? `[${opts.host}]` : opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const origin = `${scheme}://${urlHost}:${port}`;
  watch.start();
  return {
    url: `${origin}/?token=${token}`,
    port,
    token,
    origin,
    app,
    reads,
    routes,
    async close() {
      watch.stop();
      hub.close();
      await app.close();
      await reads.close();
    },
  };
}

/** The file name the dashboard offers for a rendered text. */
export function renderFilename(format: string): string {
  const names: Record<string, string> = {
    libvirt: 'hostdevs.xml', 'libvirt-domain': 'domain.xml', virsh: 'virsh-attach.sh', 'virt-install': 'virt-install.sh', qemu: 'qemu-args.sh',
    'qemu-nested': 'qemu-nested-args.sh', 'host-config': 'host-config.sh', modprobe: 'vfio.conf', kubevirt: 'kubevirt.yaml',
  };
  return names[format] ?? `${format}.txt`;
}
