// `vfioctl snapshot DIR` of a real kernel's host, read back with --root DIR, gives the same output as the
// live host. The snapshot lands in the run directory; the host side reads it back again (kernel.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { vfioctl, saveResult, RESULTS } from './lib/guest.mjs';

const SNAP = join(RESULTS, 'snapshot');

/** Output names the root it read in `source.root`; everything else must be identical. */
function comparable(doc) {
  const copy = structuredClone(doc);
  if (copy.source && 'root' in copy.source) copy.source.root = '<root>';
  return copy;
}

test('vfioctl snapshot writes a tree, and --root on it reproduces groups and ls', () => {
  const liveGroups = vfioctl(['groups', '--json']).json;
  const liveLs = vfioctl(['ls', '--json']).json;
  saveResult('live-groups.json', liveGroups);
  saveResult('live-ls.json', liveLs);
  const s = vfioctl(['snapshot', SNAP, '--json']);
  assert.equal(s.status, 0, `${s.stdout}\n${s.stderr}`);
  saveResult('snapshot-result.json', s.json);
  assert.ok(existsSync(join(SNAP, 'sys', 'bus', 'pci', 'devices')), 'the snapshot has no sys/bus/pci/devices');
  assert.deepEqual(s.json.manifest.unreadable, {}, 'files the capture could not read');
  const g = vfioctl(['groups', '--json', '--root', SNAP]);
  assert.equal(g.status, 0, g.stderr);
  assert.deepEqual(comparable(g.json), comparable(liveGroups));
  const l = vfioctl(['ls', '--json', '--root', SNAP]);
  assert.equal(l.status, 0, l.stderr);
  assert.deepEqual(comparable(l.json), comparable(liveLs));
});
