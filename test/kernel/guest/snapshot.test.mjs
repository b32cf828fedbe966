// `vfioctl snapshot DIR` of a real kernel's host. The capture is written to tmpfs (small writes over 9p
// cost ~4x the capture itself) and handed to the host as one tar file with the live outputs beside it;
// kernel.test.ts unpacks it and checks that the host's vfioctl with --root gives the same output as the
// guest did live (reading it back here as well would cost ~20 s of guest time for the same comparison).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { vfioctl, saveResult, RESULTS } from './lib/guest.mjs';

const SNAP = '/tmp/snapshot';

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

test('vfioctl snapshot writes a tree for --root, next to the live groups and ls outputs', () => {
  const liveGroups = live('groups');
  const liveLs = live('ls');
  const s = vfioctl(['snapshot', SNAP, '--json']);
  assert.equal(s.status, 0, `${s.stdout}\n${s.stderr}`);
  saveResult('snapshot-result.json', s.json);
  assert.ok(existsSync(join(SNAP, 'sys', 'bus', 'pci', 'devices')), 'the snapshot has no sys/bus/pci/devices');
  assert.deepEqual(s.json.manifest.unreadable, {}, 'files the capture could not read');
  const tar = spawnSync('tar', ['-C', '/tmp', '-cf', join(RESULTS, 'snapshot.tar'), 'snapshot'], { encoding: 'utf8' });
  assert.equal(tar.status, 0, tar.stderr);
  // the capture holds every function the live output lists, and every group
  const devices = readdirSync(join(SNAP, 'sys', 'bus', 'pci', 'devices')).sort();
  assert.deepEqual(devices, liveLs.functions.map((f) => f.address).sort());
  const groups = existsSync(join(SNAP, 'sys', 'kernel', 'iommu_groups')) ? readdirSync(join(SNAP, 'sys', 'kernel', 'iommu_groups')).map(Number).sort((a, b) => a - b) : [];
  assert.deepEqual(groups, liveGroups.groups.map((g) => g.id).sort((a, b) => a - b));
  assert.equal(s.json.manifest.kernel, readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
});
