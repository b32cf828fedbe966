/**
 * Live updates and the front end: a change made outside the server (a device bound by someone else, a
 * VF created) reaches the event stream as host-changed and the next read shows it; the built front end
 * is served with its security headers, a placeholder page stands in when it is not built; TLS sets a
 * Secure cookie and the fingerprint is the certificate's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { serve } from './helpers.js';
import { SseReader } from './sse.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { SPEC } from '../apply/helpers.js';
import { startServer } from '../../src/server/server.js';
import { selfSignedTls } from '../../src/server/tls.js';

describe('serve: host changes without a reload', () => {
  it('someone else binds a device, then creates VFs: host-changed each time, and the next read shows it', async () => {
    const t = makeTempHostTree(SPEC);
    const s = await serve({ root: t.root }, { scanIntervalMs: 100 });
    const sse = new SseReader(`${s.base}/api/v1/events`, s.token);
    const k = new FakeKernel(t.root, { native: { '0000:04:00.0': 'nvme' } });
    try {
      await sse.ready;
      const before = await s.json<{ functions: { address: string; driver: string | null }[] }>('/api/v1/ls');
      assert.equal(before.body.functions.find((f) => f.address === '0000:01:00.0')!.driver, 'e1000e');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sse.events.filter((e) => e.event === 'host-changed').length, 0, 'no change, no event');
      // another tool unbinds the NIC
      k.writeDriverAttr('e1000e', 'unbind', '0000:01:00.0');
      const ev = await sse.waitFor((e) => e.event === 'host-changed');
      assert.deepEqual((ev.data as { sections: string[] }).sections, ['inventory']);
      const after = await s.json<{ functions: { address: string; driver: string | null }[] }>('/api/v1/ls');
      assert.equal(after.body.functions.find((f) => f.address === '0000:01:00.0')!.driver, null);
      // VFs appear
      const n = sse.events.length;
      k.writePciAttr({ domain: 0, bus: 4, slot: 0, fn: 0 } as never, 'sriov_numvfs', '2');
      await sse.waitFor((e) => e.event === 'host-changed' && sse.events.indexOf(e) >= n);
      const groups = await s.json<{ groups: unknown[] }>('/api/v1/groups');
      const ls = await s.json<{ functions: unknown[] }>('/api/v1/ls');
      assert.equal(ls.body.functions.length, before.body.functions.length + 2);
      assert.ok(groups.body.groups.length > 0);
    } finally {
      sse.close();
      k.dispose();
      await s.close();
      t.cleanup();
    }
  });
});

describe('serve: the front end', () => {
  it('serves dist/web (index at /, assets, SPA routes) with CSP and nosniff; a placeholder page when it is not built', async () => {
    const web = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-web-'));
    fs.mkdirSync(path.join(web, 'assets'));
    fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>dash</title><script type="module" src="/assets/app.js"></script>');
    fs.writeFileSync(path.join(web, 'assets', 'app.js'), 'export {};\n');
    fs.writeFileSync(path.join(web, '.secret'), 'x');
    const s = await serve({ sample: true }, { webDir: web });
    try {
      const cookie = `vfioctl_session=${s.token}`;
      const get = (p: string) => fetch(`${s.base}${p}`, { headers: { cookie }, redirect: 'manual' });
      const index = await get('/');
      assert.equal(index.status, 200);
      assert.match(await index.text(), /<title>dash<\/title>/);
      assert.equal(index.headers.get('content-security-policy')?.startsWith("default-src 'self'"), true);
      assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
      const js = await get('/assets/app.js');
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      assert.match(await (await get('/groups')).text(), /<title>dash<\/title>/, 'a front-end route loads the page');
      assert.ok([403, 404].includes((await get('/.secret')).status), 'no dot files');
      assert.doesNotMatch(await (await get('/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd')).text(), /root:/, 'nothing outside dist/web');
      assert.equal((await get('/assets/missing.js')).status, 404);
      assert.equal((await fetch(`${s.base}/assets/app.js`)).status, 401, 'assets need the cookie too');
    } finally {
      await s.close();
      fs.rmSync(web, { recursive: true, force: true });
    }
    const p = await serve({ sample: true }, { webDir: path.join(os.tmpdir(), 'vfioctl-no-such-dir') });
    try {
      const r = await fetch(`${p.base}/`, { headers: { cookie: `vfioctl_session=${p.token}` } });
      assert.equal(r.status, 200);
      assert.match(await r.text(), /front end is not built/);
    } finally {
      await p.close();
    }
  });
});

describe('serve: TLS', () => {
  it('a self-signed certificate: HTTPS, its SHA-256 fingerprint, a Secure cookie; a non-loopback listen is allowed with it', async (t) => {
    let tls;
    try {
      tls = await selfSignedTls('127.0.0.1', process.env);
    } catch (e) {
      t.skip(`openssl is not usable here: ${(e as Error).message}`);
      return;
    }
    assert.equal(tls.fingerprint, new X509Certificate(tls.cert).fingerprint256);
    assert.match(tls.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const server = await startServer({ session: { sample: true }, host: '127.0.0.1', port: 0, tls, scanIntervalMs: 0 });
    try {
      assert.ok(server.url.startsWith('https://127.0.0.1:'));
      const res = await new Promise<{ status: number; cookie: string; cert: string }>((resolve, reject) => {
        const req = https.get(server.url, { ca: tls.cert }, (r) => {
          r.resume();
          const peer = (r.socket as import('node:tls').TLSSocket).getPeerCertificate();
          resolve({ status: r.statusCode!, cookie: String(r.headers['set-cookie'] ?? ''), cert: peer.fingerprint256 });
        });
        req.on('error', reject);
      });
      assert.equal(res.status, 303);
      assert.match(res.cookie, /; Secure$/);
      assert.equal(res.cert, tls.fingerprint, 'the server presents the certificate whose fingerprint is printed');
    } finally {
      await server.close();
    }
  });
});
