/**
 * vfioctl as the Ansible module runs it in the e2e test: `node --import tsx vfioctl-entry.ts ARGS`. The
 * sysfs writes go to the kernel-like fake (test/support/fake-kernel.ts) and the root named by
 * VFIOCTL_TEST_LIVE_ROOT counts as the running system (its fake commands run); everything else is the
 * production path. Not a test file on its own.
 */
import { main } from '../../../src/cli/main.js';
import * as path from 'node:path';
import { applyRuntime } from '../../../src/cli/context.js';
import { FakeKernel } from '../../support/fake-kernel.js';

applyRuntime.sysfsWriter = (host) => new FakeKernel(host.root);
applyRuntime.moveTimeoutMs = 300;
if (process.env.VFIOCTL_TEST_LIVE_ROOT) applyRuntime.liveRoots.add(path.resolve(process.env.VFIOCTL_TEST_LIVE_ROOT));
process.exitCode = await main(process.argv.slice(2));
