/**
 * The gate of `vfioctl serve`: without the token nothing about the host comes back; the tokened URL sets
 * an HttpOnly SameSite=Strict cookie and takes the token out of the address bar; mutations need the
 * server's own Origin (browsers) and are refused under --read-only; a non-loopback listen needs TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serve, postJson, type TestServer } from './helpers.js';
import { checkListen, isLoopback, parseListen } from '../../src/server/server.js';
import { tokenMatches } from '../../src/server/auth.js';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';

describe('serve: token and cookie', () => {
  let s: TestServer;
  before(async () => {
    s = await serve({ sample: true });
  });
  after(() => s.close());

  it('prints a token of at least 128 bits (32 random bytes, base64url)', () => {
    assert.match(s.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(s.server.url.endsWith(`/?token=${s.token}`));
  });

  it('401 without a token, with a wrong token and with a token prefix, and the body says nothing about the host', async () => {
    const hostWords = /q35|sample|8086|Intel|0000:00|vfio-pci|iommu|group/i;
    const variants: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${s.token.slice(0, 20)}` }, { cookie: `vfioctl_session=${s.token}x` }];
    for (const headers of variants) {
      for (const path of ['/api/v1/groups', '/api/v1/session', '/api/v1/show/00:01.0', '/api/v1/no-such-route', '/api/v1/events']) {
        const r = await s.api(path, { auth: false, headers });
        const text = await r.text();
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.deepEqual(JSON.parse(text), { schemaVersion: 1, error: { code: 'unauthorized', message: 'this request has no valid access token', remedy: 'open the URL vfioctl serve printed' } });
        assert.doesNotMatch(text, hostWords);
        assert.equal(r.headers.get('cache-control'), 'no-store');
      }
    }
    const page = await s.api('/', { auth: false });
    assert.equal(page.status, 401);
    const html = await page.text();
    assert.doesNotMatch(html, hostWords);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    // POST without a token is refused before the body is looked at
    const p = await s.api('/api/v1/plan', { ...postJson({ addresses: ['00:01.0'] }), auth: false });
    assert.equal(p.status, 401);
  });

  it('the tokened URL answers 303 to / with an HttpOnly, SameSite=Strict cookie; the cookie then authenticates', async () => {
    const r = await fetch(s.server.url, { redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/');
    const cookie = r.headers.get('set-cookie') ?? '';
    assert.equal(cookie, `vfioctl_session=${s.token}; HttpOnly; SameSite=Strict; Path=/`, 'no Secure without TLS');
    const g = await s.api('/api/v1/groups', { auth: false, headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(g.status, 200);
    const bad = await fetch(`${s.base}/?token=${s.token.slice(0, -1)}A`, { redirect: 'manual' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
  });

  it('every answer carries the security headers; API answers are not cached', async () => {
    const r = await s.api('/api/v1/groups');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-security-policy') ?? '', /^default-src 'self'/);
  });

  it('compares tokens in constant time over digests (length and prefix do not matter)', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('ab', 'abc'), false);
    assert.equal(tokenMatches('', 'abc'), false);
    assert.equal(tokenMatches(undefined, 'abc'), false);
  });
});

describe('serve: Origin and read-only', () => {
  it('a cookie-authenticated apply needs the server\'s own Origin (403 otherwise); Bearer scripts need none', async () => {
    const tree = makeTempHostTree(SPEC);
    const s = await serve({ root: tree.root });
    try {
      const cookie = `vfioctl_session=${s.token}`;
      for (const origin of [undefined, 'http://evil.example', `http://127.0.0.1:${s.server.port + 1}`, 'null']) {
        const r = await s.json('/api/v1/apply', { ...postJson({ planId: 'plan-x' }, { cookie, ...(origin ? { origin } : {}) }), headers: { 'content-type': 'application/json', cookie, ...(origin ? { origin } : {}), authorization: '' } });
        assert.equal(r.status, 403, String(origin));
        assert.equal((r.body as { error: { code: string } }).error.code, 'bad-origin');
      }
      // same origin: past the origin check (the plan id is unknown: 410)
      const ok = await s.json('/api/v1/apply', { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: s.base, authorization: '' }, body: JSON.stringify({ planId: 'plan-x' }) });
      assert.equal(ok.status, 410);
      const bearer = await s.json('/api/v1/apply', postJson({ planId: 'plan-x' }));
      assert.equal(bearer.status, 410);
    } finally {
      await s.close();
      tree.cleanup();
    }
  });

  it('--read-only refuses every apply with 403 read-only; previews still come back, marked not applicable', async () => {
    const s = await serve({ sample: true, readOnly: true }, { readOnly: true });
    try {
      const p = await s.json<{ applicable: boolean; planId: string; steps: unknown[] }>('/api/v1/preview', postJson({ action: 'bind', addresses: ['00:03.0'] }));
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.applicable, false);
      const r = await s.json<{ error: { code: string } }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'read-only');
      const session = await s.json<{ readOnly: boolean }>('/api/v1/session');
      assert.equal(session.body.readOnly, true);
    } finally {
      await s.close();
    }
  });

  it('a recorded host (the sample) is read-only without --read-only: the session says so, apply is refused', async () => {
    const s = await serve({ sample: true });
    try {
      assert.equal((await s.json<{ readOnly: boolean }>('/api/v1/session')).body.readOnly, true);
      const p = await s.json<{ applicable: boolean; planId: string }>('/api/v1/preview', postJson({ action: 'bind', addresses: ['00:03.0'] }));
      assert.equal(p.body.applicable, false);
      const r = await s.json<{ error: { code: string; message: string } }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'read-only');
      assert.match(r.body.error.message, /recorded host/);
    } finally {
      await s.close();
    }
  });
});

describe('serve: listen address', () => {
  it('loopback only without TLS; a non-loopback listen is refused with a remedy', async () => {
    assert.equal(isLoopback('127.0.0.1'), true);
    assert.equal(isLoopback('::1'), true);
    assert.equal(isLoopback('0.0.0.0'), false);
    assert.equal(isLoopback('192.168.1.5'), false);
    assert.throws(() => checkListen('0.0.0.0', false), (e: Error & { code?: string; remedy?: string }) => e.code === 'tls-required' && /--tls-cert/.test(e.remedy ?? ''));
    assert.doesNotThrow(() => checkListen('0.0.0.0', true));
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => parseListen('127.0.0.1'), /HOST:PORT/);
    assert.throws(() => parseListen('127.0.0.1:70000'), /HOST:PORT/);
    const r = await runCli(['--sample', 'serve', '--listen', '0.0.0.0:0', '--json']);
    assert.equal(r.code, 2);
    const doc = r.json<{ error: { code: string; remedy: string } }>();
    assert.equal(doc.error.code, 'tls-required');
    assert.match(doc.error.remedy, /ssh -L/);
  });
});
