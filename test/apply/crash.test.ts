/**
 * Crash at every write: a child process running `vfioctl bind` is killed with SIGKILL just before and
 * just after each sysfs write (a real kill, not a simulated exception); `recover` in a fresh process
 * state must bring the host back to where it began, and leave no lock, journal or state behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { snapshotKernelState } from '../support/fake-kernel.js';
import { applyRecover } from '../../src/apply/recover.js';
import { applyBind } from '../../src/apply/bind.js';
import { SPEC, envFor, changedPaths } from './helpers.js';

const CLAIM = ['02:00.0', '02:00.1'];
const CHILD = path.join(import.meta.dirname, 'crash-child.ts');

describe('crash at every step, then recover', () => {
  it('recover restores the starting state after a kill before or after each write', async () => {
    // how many writes a clean bind makes
    const probe = makeTempHostTree(SPEC);
    const n = await (async () => {
      const env = envFor(probe.root);
      try {
        await applyBind(env.ctx, CLAIM);
        return env.kernel.writes.length;
      } finally {
        env.cleanup();
        probe.cleanup();
      }
    })();
    assert.equal(n, 7);
    let crashes = 0;
    for (let i = 0; i < n; i++) {
      for (const when of ['before', 'after'] as const) {
        const t = makeTempHostTree(SPEC);
        try {
          envFor(t.root).kernel.dispose(); // record native drivers from the pristine tree
          const before = snapshotKernelState(t.root);
          const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, t.root, String(i), when, ...CLAIM], { encoding: 'utf8' });
          assert.equal(r.signal, 'SIGKILL', `child should have been killed at write ${i} ${when}: ${r.stderr}`);
          crashes++;
          assert.ok(fs.existsSync(path.join(t.root, 'var/lib/vfioctl/lock')), 'the dead run left its lock');
          const env = envFor(t.root, { timeoutMs: 300 });
          const rec = await applyRecover(env.ctx);
          assert.ok(rec.staleLockPid !== null);
          assert.equal(rec.action, 'rolled-back', `write ${i} ${when}`);
          assert.deepEqual(changedPaths(before, snapshotKernelState(t.root)), [], `write ${i} ${when}`);
          assert.deepEqual(env.ctx.store.readState().bound, {});
          assert.equal(env.ctx.store.readJournal(), null);
          assert.equal(fs.existsSync(path.join(t.root, 'var/lib/vfioctl/lock')), false);
          // and the host is usable again: a new bind succeeds
          await applyBind(env.ctx, CLAIM);
          env.kernel.dispose();
        } finally {
          t.cleanup();
        }
      }
    }
    console.log(`crash points covered: ${crashes} (kill before and after each of ${n} writes)`);
  });
});
