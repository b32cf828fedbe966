/**
 * Failure injection at every write the apply layer makes: for each injected fault the host must end
 * exactly as it began (bind) or as it was before the run (release), with nothing left in state.json.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyBind, applyRelease } from '../../src/apply/bind.js';
import { applyRecover } from '../../src/apply/recover.js';
import type { VfioctlError } from '../../src/model/errors.js';
import { snapshotKernelState, type FaultKind } from '../support/fake-kernel.js';
import { makeEnv, envFor, changedPaths } from './helpers.js';

const CLAIM = ['02:00.0', '02:00.1', '03:01.0', '03:02.0'];
const ERRNO: FaultKind[] = ['EBUSY', 'EINVAL', 'ENODEV', 'EIO'];
const PROBE: FaultKind[] = ['never-binds', 'late-bind'];

function baselineWrites(run: (env: ReturnType<typeof makeEnv>) => Promise<unknown>, prepare?: (env: ReturnType<typeof makeEnv>) => Promise<unknown>): Promise<{ step: string }[]> {
  const env = makeEnv();
  return (async () => {
    try {
      if (prepare) await prepare(env);
      const start = env.kernel.writes.length;
      await run(env);
      return env.kernel.writes.slice(start);
    } finally {
      env.cleanup();
    }
  })();
}

describe('fault injection at every write', () => {
  it('bind: every fault at every write is rolled back to the exact starting state', async () => {
    const writes = await baselineWrites((env) => applyBind(env.ctx, CLAIM));
    assert.equal(writes.length, 1 + CLAIM.length * 3, 'modprobe + (override, unbind, probe) per function');
    let points = 0;
    for (let i = 0; i < writes.length; i++) {
      const step = writes[i]!.step;
      const kinds = step === 'drivers_probe' ? [...ERRNO, ...PROBE] : step === 'modprobe' ? [...ERRNO, 'never-binds' as const] : ERRNO;
      for (const kind of kinds) {
        const env = makeEnv({ faults: [{ at: i, kind }], lateMs: 1000, timeoutMs: 150 });
        try {
          const before = snapshotKernelState(env.root);
          await assert.rejects(applyBind(env.ctx, CLAIM), (e: VfioctlError) => {
            assert.match(e.message, /rolled back|nothing had been changed/, `write ${i} (${writes[i]!.step}) ${kind}: ${e.message}`);
            return true;
          });
          assert.deepEqual(changedPaths(before, snapshotKernelState(env.root)), [], `write ${i} (${writes[i]!.step}) ${kind}`);
          assert.deepEqual(env.ctx.store.readState().bound, {});
          assert.equal(env.ctx.store.readJournal(), null, 'a clean rollback archives the journal');
          points++;
        } finally {
          env.cleanup();
        }
      }
    }
    console.log(`bind: ${points} fault points covered over ${writes.length} writes`);
    assert.ok(points >= writes.length * ERRNO.length);
  });

  it('release: every fault at every write is rolled back to the bound state', async () => {
    const writes = await baselineWrites((env) => applyRelease(env.ctx, 'all'), (env) => applyBind(env.ctx, CLAIM));
    assert.equal(writes.length, CLAIM.length * 3);
    let points = 0;
    for (let i = 0; i < writes.length; i++) {
      const kinds = writes[i]!.step === 'drivers_probe' ? [...ERRNO, ...PROBE] : ERRNO;
      for (const kind of kinds) {
        const absorbed = PROBE.includes(kind);
        const env = makeEnv({ lateMs: 1000, timeoutMs: 150 });
        try {
          const start = snapshotKernelState(env.root);
          await applyBind(env.ctx, CLAIM);
          const bound = snapshotKernelState(env.root);
          const stateBefore = env.ctx.store.readState();
          const offset = env.kernel.writes.length;
          const env2 = envFor(env.root, { faults: [{ at: offset + i, kind }], lateMs: 1000, timeoutMs: 150 });
          // the second fake must count from the same index: replay the count
          for (let k = 0; k < offset; k++) env2.kernel.writes.push({ step: 'other', target: '', value: '' });
          if (absorbed) {
            // a probe that does not bind a plain driver is retried with the driver's own bind file
            await applyRelease(env2.ctx, 'all');
            env2.kernel.dispose();
            assert.deepEqual(changedPaths(start, snapshotKernelState(env.root)), [], `write ${i} (${writes[i]!.step}) ${kind}`);
            assert.deepEqual(env.ctx.store.readState().bound, {});
          } else {
            await assert.rejects(applyRelease(env2.ctx, 'all'));
            env2.kernel.dispose();
            assert.deepEqual(changedPaths(bound, snapshotKernelState(env.root)), [], `write ${i} (${writes[i]!.step}) ${kind}`);
            assert.deepEqual(env.ctx.store.readState(), stateBefore);
          }
          points++;
        } finally {
          env.cleanup();
        }
      }
    }
    console.log(`release: ${points} fault points covered over ${writes.length} writes`);
  });

  it('a rollback that itself fails keeps the journal; recover finishes it', async () => {
    // the probe of the 3rd function fails; then the first unbind from vfio-pci during rollback fails too
    const env = makeEnv();
    try {
      env.kernel.dispose();
      const env2 = envFor(env.root, { faults: [{ step: 'drivers_probe', address: '0000:03:01.0', kind: 'EBUSY' }, { step: 'unbind', driver: 'vfio-pci', kind: 'EBUSY', times: 1 }], timeoutMs: 150 });
      const before = snapshotKernelState(env.root);
      await assert.rejects(applyBind(env2.ctx, CLAIM), (e: VfioctlError) => e.code === 'rollback-failed' && /COULD NOT UNDO/.test(e.message));
      const j = env2.ctx.store.readJournal();
      assert.equal(j?.status, 'rollback-failed');
      assert.notDeepEqual(changedPaths(before, snapshotKernelState(env.root)), []);
      const env3 = envFor(env.root, { timeoutMs: 150 });
      const r = await applyRecover(env3.ctx);
      assert.equal(r.action, 'rolled-back');
      assert.deepEqual(changedPaths(before, snapshotKernelState(env.root)), []);
      assert.equal(env3.ctx.store.readJournal(), null);
    } finally {
      env.cleanup();
    }
  });
});
