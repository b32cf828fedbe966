/**
 * The run lock under real concurrency: 8 processes take it 100 times each and count the times another
 * process held it too (must be 0); a live holder is refused with its pid and command; the info a killed
 * run left is taken over and reported as stale.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostRoot } from '../../src/host/host-root.js';
import { StateStore } from '../../src/apply/state.js';

const CHILD = path.join(import.meta.dirname, 'lock-child.ts');

function tmpRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-lock-'));
  fs.mkdirSync(path.join(root, 'var/lib'), { recursive: true });
  return root;
}

describe('run lock', () => {
  it('8 processes x 100 acquisitions: never two holders at once', async () => {
    const root = tmpRoot();
    try {
      const procs = 8;
      const each = 100;
      const results = await Promise.all(Array.from({ length: procs }, () => new Promise<{ held: number; double: number; refused: number }>((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', CHILD, root, String(each)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stdout.on('data', (d: Buffer) => (out += d));
        c.stderr.on('data', (d: Buffer) => (err += d));
        c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { held: number; double: number; refused: number }) : reject(new Error(`child exit ${code}: ${err}`))));
      })));
      const held = results.reduce((a, r) => a + r.held, 0);
      const double = results.reduce((a, r) => a + r.double, 0);
      const refused = results.reduce((a, r) => a + r.refused, 0);
      console.log(`lock: ${procs} processes, ${held} acquisitions, ${refused} refusals while held, ${double} double holds`);
      assert.equal(held, procs * each);
      assert.equal(double, 0);
      assert.equal(fs.existsSync(path.join(root, 'var/lib/vfioctl/lock')), false, 'the last release removes the file');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a live holder is refused with its pid and command; the lock file is 0600 in a 0700 directory', () => {
    const root = tmpRoot();
    const old = process.umask(0o000);
    try {
      const store = new StateStore(new HostRoot(root));
      const a = store.acquireLock('r-a', 'bind');
      assert.equal(fs.statSync(path.join(root, 'var/lib/vfioctl')).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.join(root, 'var/lib/vfioctl/lock')).mode & 0o777, 0o600);
      assert.throws(() => new StateStore(new HostRoot(root)).acquireLock('r-b', 'persist'), (e: Error & { code?: string; remedy?: string }) => {
        assert.equal(e.code, 'locked');
        assert.match(e.message, new RegExp(`pid ${process.pid}, \`vfioctl bind\``));
        return true;
      });
      a.release();
      const b = store.acquireLock('r-b', 'persist');
      assert.equal(b.staleFrom, null, 'a released lock leaves nothing stale');
      b.release();
    } finally {
      process.umask(old);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('the info of a killed holder is taken over as stale, and the lock is free the moment it dies', () => {
    const root = tmpRoot();
    try {
      // a real process takes the lock and is killed while holding it
      const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
        const { StateStore } = await import(${JSON.stringify(path.resolve('src/apply/state.ts'))});
        const { HostRoot } = await import(${JSON.stringify(path.resolve('src/host/host-root.ts'))});
        new StateStore(new HostRoot(${JSON.stringify(root)})).acquireLock('r-dead', 'host enable-iommu');
        process.kill(process.pid, 'SIGKILL');`], { encoding: 'utf8' });
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      const store = new StateStore(new HostRoot(root));
      assert.equal(store.readLock()?.runId, 'r-dead', 'its info is still in the file');
      const l = store.acquireLock('r-new', 'recover');
      assert.equal(l.staleFrom?.runId, 'r-dead');
      assert.equal(l.staleFrom?.command, 'host enable-iommu');
      assert.equal(store.readLock()?.runId, 'r-new');
      l.release();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a state directory that is a symbolic link', () => {
    const root = tmpRoot();
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-elsewhere-'));
    try {
      fs.symlinkSync(elsewhere, path.join(root, 'var/lib/vfioctl'));
      assert.throws(() => new StateStore(new HostRoot(root)).acquireLock('r', 'bind'), /var\/lib\/vfioctl is a symbolic link/);
      fs.rmSync(path.join(root, 'var/lib/vfioctl'));
      fs.mkdirSync(path.join(root, 'var/lib/vfioctl'));
      fs.symlinkSync(elsewhere, path.join(root, 'var/lib/vfioctl/runs'));
      assert.throws(() => new StateStore(new HostRoot(root)).archiveJournal({ version: 1, runId: 'r', command: 'bind', args: [], pid: 1, startedAt: '', status: 'committed', steps: [], commit: {} }), /runs is a symbolic link/);
      assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing written through the link');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
