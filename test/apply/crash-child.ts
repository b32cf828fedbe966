/**
 * Child process for crash.test.ts: runs `bind` on a host tree with the kernel-like fake set to SIGKILL
 * this process at one write (before or after making it). Not a test file on its own.
 */
import { applyBind } from '../../src/apply/bind.js';
import { envFor } from './helpers.js';

const [root, index, when, ...claim] = process.argv.slice(2);
const env = envFor(root!, { crashAt: { index: Number(index), when: when as 'before' | 'after' }, timeoutMs: 500 });
await applyBind(env.ctx, claim);
process.exit(0);
