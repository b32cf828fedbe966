/**
 * The CLI as a process, for the security suites: `node --import tsx test/security/cli-entry.ts ARGS`.
 * With VFIOCTL_TEST_FAKE_KERNEL=1 the sysfs writes go to the kernel-like fake (test/support/fake-kernel.ts),
 * as test/apply/cli.test.ts does in-process; everything else is the production path (processIo, main).
 * Not a test file on its own.
 */
import { main } from '../../src/cli/main.js';
import * as path from 'node:path';
import { applyRuntime } from '../../src/cli/context.js';
import { FakeKernel } from '../support/fake-kernel.js';

if (process.env.VFIOCTL_TEST_FAKE_KERNEL === '1') {
  applyRuntime.sysfsWriter = (host) => new FakeKernel(host.root);
  applyRuntime.moveTimeoutMs = 300;
  // the tree stands for the running system: host commands run (fakes on PATH), as on a real host
  const i = process.argv.indexOf('--root');
  if (i > 0 && process.argv[i + 1]) applyRuntime.liveRoots.add(path.resolve(process.argv[i + 1]!));
}
process.exitCode = await main(process.argv.slice(2));
