/**
 * Child process for lock.test.ts: takes the run lock ROOT's state directory N times (retrying while
 * another process holds it) and, while holding it, claims a marker file with O_EXCL: finding the marker
 * already there means two processes hold the lock at once. Prints {"held": N, "double": D}.
 * Not a test file on its own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostRoot } from '../../src/host/host-root.js';
import { StateStore } from '../../src/apply/state.js';
import { VfioctlError } from '../../src/model/errors.js';

const [root, n] = process.argv.slice(2);
const store = new StateStore(new HostRoot(root!));
const marker = path.join(root!, 'holder');
const sleep = new Int32Array(new SharedArrayBuffer(4));
let held = 0;
let double = 0;
let refused = 0;
while (held < Number(n)) {
  let lock;
  try {
    lock = store.acquireLock(`r${process.pid}-${held}`, 'test');
  } catch (e) {
    if (e instanceof VfioctlError && e.code === 'locked') {
      refused++;
      Atomics.wait(sleep, 0, 0, 2 + Math.floor(Math.random() * 6));
      continue;
    }
    throw e;
  }
  try {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx' });
  } catch {
    double++;
  }
  Atomics.wait(sleep, 0, 0, 1);
  fs.rmSync(marker, { force: true });
  held++;
  lock.release();
}
console.log(JSON.stringify({ held, double, refused }));
