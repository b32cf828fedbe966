// `vfioctl snapshot` under a non-Intel IOMMU, with the live groups, ls and doctor outputs taken right
// before it (nothing changes the machine in between); iommus.test.ts unpacks the tar on the host and
// checks that --root gives the same outputs. The capture must hold the signals the doctor read
// (/proc/interrupts, the IVRS/VIOT table, /sys/class/iommu).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { vfioctl, saveResult, RESULTS, kernelGroups } from './lib/guest.mjs';
import { iommuSignals } from './lib/iommu.mjs';

const SNAP = '/tmp/snapshot';

test('vfioctl snapshot holds what the doctor read; live outputs saved beside it', () => {
  for (const [cmd, args] of [['groups', ['groups', '--json']], ['ls', ['ls', '--json']], ['doctor', ['doctor', '--json', '--no-libvirt']]]) {
    const r = vfioctl(args);
    assert.ok(r.json, `${cmd}: ${r.stderr}`);
    saveResult(`live-${cmd}.json`, r.json);
  }
  const s = vfioctl(['snapshot', SNAP, '--json']);
  assert.equal(s.status, 0, `${s.stdout}\n${s.stderr}`);
  saveResult('snapshot-result.json', s.json);
  assert.deepEqual(s.json.manifest.unreadable, {}, 'files the capture could not read');
  const sig = iommuSignals();
  assert.ok(existsSync(join(SNAP, 'proc', 'interrupts')), 'the capture lacks proc/interrupts');
  for (const t of sig.tables) assert.ok(existsSync(join(SNAP, 'sys/firmware/acpi/tables', t)), `the capture lacks the ${t} table`);
  const units = existsSync(join(SNAP, 'sys/class/iommu')) ? readdirSync(join(SNAP, 'sys/class/iommu')).sort() : [];
  assert.deepEqual(units, sig.units);
  const groups = existsSync(join(SNAP, 'sys/kernel/iommu_groups')) ? readdirSync(join(SNAP, 'sys/kernel/iommu_groups')).length : 0;
  assert.equal(groups, kernelGroups().size);
  const tar = spawnSync('tar', ['-C', '/tmp', '-cf', join(RESULTS, 'snapshot.tar'), 'snapshot'], { encoding: 'utf8' });
  assert.equal(tar.status, 0, tar.stderr);
});
