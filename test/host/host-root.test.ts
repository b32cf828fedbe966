/** HostRoot path resolution inside the root, bounded reads, and the live-host test. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInputFile } from '../../src/host/read-input.js';
import { SPEC } from '../apply/helpers.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function tree(files: Record<string, string> = {}, links: Record<string, string> = {}): { root: string; host: HostRoot } {
  const t = makeTempHostTree({ ...SPEC, files, links });
  cleanups.push(t.cleanup);
  return { root: t.root, host: new HostRoot(t.root) };
}

describe('HostRoot', () => {
  it('a --root that resolves to / is the live host', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-live-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.symlinkSync('/', path.join(dir, 'slash'));
    for (const r of [path.join(dir, 'slash'), '/.', '//', `${dir}/../../..`]) {
      const h = new HostRoot(r);
      assert.ok(h.isLive, r);
      assert.equal(h.root, '/');
      assert.equal(h.display('etc/default/grub'), '/etc/default/grub');
    }
  });

  it('follows links in any component inside the root: absolute targets mean ROOT/target, .. above the root is EESCAPE, loops end with ELOOP', () => {
    const { host } = tree({ 'etc/real/grub': 'inside\n' }, { 'etc/default': '/etc/real', 'etc/up': '../../..', 'etc/loop': 'loop', 'etc/a': 'b', 'etc/b': 'a' });
    const r = host.readText('etc/default/grub');
    assert.deepEqual(r, { state: 'ok', value: 'inside\n' });
    const res = host.resolveInRoot('etc/default/grub');
    assert.equal(res.state === 'ok' && res.rel, 'etc/real/grub');
    const up = host.readText('etc/up/etc/passwd');
    assert.equal(up.state, 'unreadable');
    assert.equal(up.state === 'unreadable' && up.code, 'EESCAPE');
    for (const rel of ['etc/loop/x', 'etc/a']) {
      const l = host.readText(rel);
      assert.equal(l.state === 'unreadable' && l.code, 'ELOOP', rel);
    }
    assert.equal(host.exists('etc/loop'), true, 'the link itself exists');
    assert.equal(host.isDirectory('etc/loop'), false);
  });

  it('readConfigText keeps every byte (one character per byte)', () => {
    const { root, host } = tree();
    const bytes = Buffer.from([0x41, 0xe9, 0xff, 0xc3, 0x28, 0x0d, 0x0a]);
    fs.mkdirSync(path.join(root, 'etc/default'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/default/grub'), bytes);
    const r = host.readConfigText('etc/default/grub');
    assert.equal(r.state, 'ok');
    assert.deepEqual(Buffer.from(r.state === 'ok' ? r.value : '', 'latin1'), bytes);
  });

  it('reads are capped: over the cap is EFBIG; caps can be given per read', () => {
    const { root, host } = tree({ 'etc/x.conf': 'x'.repeat(5000) });
    assert.equal(host.readText('etc/x.conf').state, 'ok');
    const small = host.readText('etc/x.conf', { maxBytes: 4096 });
    assert.equal(small.state === 'unreadable' && small.code, 'EFBIG');
    fs.truncateSync(path.join(root, 'etc/x.conf'), 2 * 1024 * 1024);
    const big = host.readText('etc/x.conf');
    assert.equal(big.state === 'unreadable' && big.code, 'EFBIG');
  });

  it('readInputFile reads files and refuses ones over the cap', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-in-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'l.txt'), '00:00.0 Host bridge [0600]: Intel [8086:29c0]\n');
    assert.match(readInputFile(path.join(dir, 'l.txt')), /Host bridge/);
    assert.throws(() => readInputFile(path.join(dir, 'l.txt'), 10), /larger than 10 bytes/);
    assert.throws(() => readInputFile(dir), /directory/);
    assert.throws(() => readInputFile(path.join(dir, 'missing')), /cannot read/);
  });
});
