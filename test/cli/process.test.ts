/**
 * The CLI as a real process (the same entry the bin uses, run from source): output cut short by a
 * reader that stops early is not an error, and exit codes reach the shell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after } from 'node:test';
import { makeTempHostTree } from '../support/host-tree.js';
import { scaledHost } from '../support/topologies.js';

const entry = ['--import', 'tsx', 'scripts/dev.mjs'];

test('a reader that closes the pipe early gets no stack trace and exit 0', async () => {
  // Enough output (about 1 MB) that it cannot all sit in the pipe's buffer when the reader goes away.
  const tree = makeTempHostTree(scaledHost(300));
  after(tree.cleanup);
  const child = spawn(process.execPath, [...entry, 'ls', '--json', '--root', tree.root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy(); // like `| head -1`
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('exit codes and error text reach the shell', () => {
  const bad = spawnSync(process.execPath, [...entry, 'show', '01:00.9', '--sample'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^vfioctl: not a PCI address/);
  const ok = spawnSync(process.execPath, [...entry, 'groups', '--sample', '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.ok(JSON.parse(ok.stdout).groups.length > 0);
});
