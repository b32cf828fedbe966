/**
 * `recover --dry-run` shows what recover then does: after a real SIGKILL of `bind` at each write, the
 * sysfs writes the preview lists are exactly the writes recover makes (in order), and it names no command.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { applyRecover, previewRecover } from '../../src/apply/recover.js';
import { SPEC, envFor } from './helpers.js';

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');

describe('recover preview', () => {
  it('lists exactly the writes recover makes, for a kill at each write of a bind', async () => {
    let compared = 0;
    for (let i = 0; i < 7; i++) {
      const t = makeTempHostTree(SPEC);
      try {
        envFor(t.root).kernel.dispose();
        const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, t.root, String(i), 'after', '02:00.0', '02:00.1'], { encoding: 'utf8' });
        assert.equal(r.signal, 'SIGKILL', r.stderr);
        const env = envFor(t.root, { timeoutMs: 300 });
        const p = previewRecover(env.ctx);
        assert.equal(p.action, 'rolled-back');
        assert.deepEqual(p.commands, []);
        assert.deepEqual(p.manual, []);
        await applyRecover(env.ctx);
        const made = env.kernel.writes.map((w) => `echo ${w.value || "''"} > ${env.host.display(w.target)}`);
        assert.deepEqual(p.writes, made, `kill after write ${i}`);
        compared += made.length;
        env.kernel.dispose();
      } finally {
        t.cleanup();
      }
    }
    assert.ok(compared > 10, `${compared} writes compared`);
  });
});
