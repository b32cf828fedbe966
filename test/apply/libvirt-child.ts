/**
 * Child process for libvirt.test.ts: the vfioctl CLI with the process's own stdio, so that the stand-in
 * virsh can SIGKILL it in the middle of an attach or detach. Not a test file on its own.
 */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
