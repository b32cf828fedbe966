import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { terminalProgress } from '../../src/cli/progress.js';
import { CliContext } from '../../src/cli/context.js';
import { NO_PROGRESS, type Progress } from '../../src/model/progress.js';
import { captureSnapshot } from '../../src/host/snapshot.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { sampleRoot } from '../../src/service/samples.js';

function clocked(opts: { columns?: number } = {}) {
  let t = 0;
  let out = '';
  const p = terminalProgress({ write: (s) => (out += s), now: () => t, ...opts });
  return { p, tick: (ms: number) => (t += ms), out: () => out, reset: () => (out = '') };
}

test('the progress line appears only after a second, is redrawn in place at most every 100 ms, and is erased at the end', () => {
  const c = clocked();
  const task = c.p.begin('bind', 12);
  task.advance(1, 'bind 0000:01:00.0');
  c.tick(900);
  task.advance(2, 'bind 0000:01:00.1');
  assert.equal(c.out(), '', 'nothing before one second');
  c.tick(200);
  task.advance(3, 'bind 0000:02:00.0');
  assert.equal(c.out(), '\r\x1b[Kvfioctl bind: 3/12, bind 0000:02:00.0 (1 s)');
  c.reset();
  c.tick(50);
  task.advance(4);
  assert.equal(c.out(), '', 'throttled');
  c.tick(60);
  task.advance(5);
  assert.equal(c.out(), '\r\x1b[Kvfioctl bind: 5/12 (1 s)');
  c.reset();
  task.end();
  assert.equal(c.out(), '\r\x1b[K');
  c.reset();
  task.end();
  assert.equal(c.out(), '', 'erased once');
});

test('the progress line escapes control characters from host data and fits the terminal width', () => {
  const c = clocked({ columns: 40 });
  const task = c.p.begin('snapshot', null);
  c.tick(1500);
  task.advance(7, 'name\x1b[2J\nwith a newline and a very long tail that does not fit');
  const line = c.out().slice('\r\x1b[K'.length);
  assert.ok(!line.includes('\x1b'), JSON.stringify(line));
  assert.ok(!line.includes('\n'));
  assert.equal(line.length, 39);
  assert.ok(line.startsWith('vfioctl snapshot: 7 done, name\\e[2J'), line);
});

test('the CLI draws progress only on a terminal and never with --json', () => {
  const io = (isTTY: boolean) => ({ stdout: { write: () => true }, stderr: { write: () => true }, isTTY, env: {} });
  const tty = new CliContext(io(true));
  assert.notEqual(tty.progress(), NO_PROGRESS);
  const json = new CliContext(io(true));
  json.setGlobal({ json: true });
  assert.equal(json.progress(), NO_PROGRESS);
  assert.equal(new CliContext(io(false)).progress(), NO_PROGRESS);
});

test('a snapshot reports its progress: each reader, each file copied, then the end', async () => {
  const events: string[] = [];
  const recorder: Progress = {
    begin: (label, total) => {
      events.push(`begin ${label} ${total}`);
      return { advance: (done, detail) => events.push(`${done} ${detail ?? ''}`), end: () => events.push('end') };
    },
  };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-progress-'));
  try {
    const res = await captureSnapshot(new HostRoot(sampleRoot(true)), path.join(out, 'snap'), [(h) => void readInventory(h)], { progress: recorder });
    assert.equal(events[0], 'begin snapshot null');
    assert.equal(events[1], '0 reading the host');
    const copies = events.filter((e) => / copying \d+ files$/.test(e));
    assert.equal(copies.length >= res.manifest.files, true, `${copies.length} file events for ${res.manifest.files} files`);
    const counts = copies.map((e) => Number(e.split(' ')[0]));
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'counts only grow');
    assert.equal(events.at(-1), 'end');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
