// `vfioctl snapshot DIR` of a real kernel's host, read back with --root DIR, gives the same output as the
// live host. The capture is written to tmpfs (small writes over 9p cost ~4x the capture itself) and then
// handed to the host as one tar file, which kernel.test.ts unpacks and reads back with the host's vfioctl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vfioctl, saveResult, RESULTS } from './lib/guest.mjs';

const SNAP = '/tmp/snapshot';

/** Output names the root it read in `source.root`; everything else must be identical. */
function comparable(doc) {
  const copy = structuredClone(doc);
  if (copy.source && 'root' in copy.source) copy.source.root = '<root>';
  return copy;
}

/**
 * The live outputs: the ones groups.test.mjs and ls.test.mjs saved moments ago in this boot (nothing
 * changes the machine between them and this file), else taken now.
 */
function live(cmd) {
  const saved = join(RESULTS, `live-${cmd}.json`);
  if (existsSync(saved)) return JSON.parse(readFileSync(saved, 'utf8'));
  const r = vfioctl([cmd, '--json']);
  assert.equal(r.status, 0, r.stderr);
  saveResult(`live-${cmd}.json`, r.json);
  return r.json;
}

test('vfioctl snapshot writes a tree, and --root on it reproduces groups and ls', () => {
  const liveGroups = live('groups');
  const liveLs = live('ls');
  const s = vfioctl(['snapshot', SNAP, '--json']);
  assert.equal(s.status, 0, `${s.stdout}\n${s.stderr}`);
  saveResult('snapshot-result.json', s.json);
  assert.ok(existsSync(join(SNAP, 'sys', 'bus', 'pci', 'devices')), 'the snapshot has no sys/bus/pci/devices');
  assert.deepEqual(s.json.manifest.unreadable, {}, 'files the capture could not read');
  const tar = spawnSync('tar', ['-C', '/tmp', '-cf', join(RESULTS, 'snapshot.tar'), 'snapshot'], { encoding: 'utf8' });
  assert.equal(tar.status, 0, tar.stderr);
  const g = vfioctl(['groups', '--json', '--root', SNAP]);
  assert.equal(g.status, 0, g.stderr);
  assert.deepEqual(comparable(g.json), comparable(liveGroups));
  const l = vfioctl(['ls', '--json', '--root', SNAP]);
  assert.equal(l.status, 0, l.stderr);
  assert.deepEqual(comparable(l.json), comparable(liveLs));
});
