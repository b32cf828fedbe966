/**
 * `vfioctl serve` as a process: the one line it prints (the URL with the real port and the token, the
 * ssh -L hint; or the --json line tests read), a server that answers on that port with that token, and
 * a clean exit on SIGTERM.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const ENTRY = path.resolve('test/security/cli-entry.ts');

function run(args: string[]): Promise<{ line: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        resolve({
          line: out.split('\n')[0]!,
          stop: () => new Promise((r) => {
            child.once('exit', (code) => r(code));
            child.kill('SIGTERM');
          }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing: ${err}`)));
  });
}

describe('vfioctl serve (the command)', () => {
  it('prints the URL with the real port and the token and the ssh -L hint; answers there; exits 0 on SIGTERM', async () => {
    const p = await run(['--sample', 'serve', '--listen', '127.0.0.1:0']);
    const m = /^vfioctl serve: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]{43})) {2}\(from another machine: ssh -L (\d+):127\.0\.0\.1:(\d+) \S+, then open the same URL\)$/.exec(p.line);
    assert.ok(m, p.line);
    assert.notEqual(m[2], '0');
    assert.equal(m[4], m[2]);
    assert.equal(m[5], m[2]);
    const r = await fetch(`http://127.0.0.1:${m[2]}/api/v1/session`, { headers: { authorization: `Bearer ${m[3]}` } });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { host: { source: string } }).host.source, 'sample');
    assert.equal(await p.stop(), 0);
  });

  it('--json prints one serve-started line', async () => {
    const p = await run(['--sample', 'serve', '--listen', '127.0.0.1:0', '--read-only', '--json']);
    const j = JSON.parse(p.line) as { schemaVersion: number; kind: string; url: string; port: number; token: string; tls: null; readOnly: boolean; reads: string };
    assert.deepEqual(Object.keys(j), ['schemaVersion', 'kind', 'url', 'port', 'token', 'tls', 'readOnly', 'reads']);
    assert.equal(j.reads, 'worker');
    assert.equal(j.kind, 'serve-started');
    assert.equal(j.url, `http://127.0.0.1:${j.port}/?token=${j.token}`);
    assert.equal(j.readOnly, true);
    const r = await fetch(`http://127.0.0.1:${j.port}/api/v1/groups`, { headers: { authorization: `Bearer ${j.token}` } });
    assert.equal(r.status, 200);
    assert.equal(await p.stop(), 0);
  });
});
