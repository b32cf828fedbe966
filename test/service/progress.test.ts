/** Progress of runs through the session's runtime option (src/model/progress.ts), on the kernel-like fake. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSession } from '../../src/index.js';
import type { Progress } from '../../src/model/progress.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { SPEC, debianFiles } from '../apply/helpers.js';

test('a bind reports one unit per journaled step to the progress reporter the session was given, then ends', async () => {
  const t = makeTempHostTree({ ...SPEC, files: { ...(SPEC.files ?? {}), ...debianFiles() } });
  const kernels: FakeKernel[] = [];
  const events: string[] = [];
  const progress: Progress = {
    begin: (label, total) => {
      events.push(`begin ${label} ${total}`);
      return { advance: (done, detail) => events.push(`${done} ${detail ?? ''}`), end: () => events.push('end') };
    },
  };
  try {
    const s = openSession({
      root: t.root,
      env: { PATH: process.env.PATH },
      runtime: { sysfsWriter: (host) => { const k = new FakeKernel(host.root); kernels.push(k); return k; }, moveTimeoutMs: 300, progress },
    });
    const r = await s.apply(await s.changeBind({ addresses: ['02:00.0'] }));
    assert.deepEqual(r.bind!.moved.map((m) => m.address), ['0000:02:00.0', '0000:02:00.1']);
    assert.equal(events[0], 'begin bind null');
    const steps = events.filter((e) => /^\d+ bind /.test(e));
    assert.deepEqual(steps.map((e) => e.split(' ')[0]), steps.map((_, i) => String(Number(steps[0]!.split(' ')[0]) + i)), 'counted in order');
    assert.ok(steps.some((e) => e.includes('0000:02:00.1')), events.join('\n'));
    assert.equal(events.at(-2)?.endsWith('committing'), true);
    assert.equal(events.at(-1), 'end');
  } finally {
    kernels.forEach((k) => k.dispose());
    t.cleanup();
  }
});
