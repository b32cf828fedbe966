import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { applyBind, applyRelease, previewBind } from '../../src/apply/bind.js';
import { VfioctlError } from '../../src/model/errors.js';
import { snapshotKernelState } from '../support/fake-kernel.js';
import { makeEnv, driverOf, overrideOf, changedPaths } from './helpers.js';

describe('bind and release (kernel-like fake)', () => {
  it('binds a single function with driverctl\'s sequence, loads vfio-pci, and releases it back', async () => {
    const env = makeEnv();
    try {
      const before = snapshotKernelState(env.root);
      const r = await applyBind(env.ctx, ['01:00.0']);
      assert.equal(r.loadedModule, 'vfio-pci');
      assert.equal(driverOf(env.root, '0000:01:00.0'), 'vfio-pci');
      assert.equal(overrideOf(env.root, '0000:01:00.0'), 'vfio-pci');
      assert.ok(fs.existsSync(`${env.root}/dev/vfio/1`));
      assert.deepEqual(r.groups.map((g) => [g.group, g.viable]), [[1, true]]);
      assert.deepEqual(env.kernel.writes.map((w) => `${w.step} ${w.value}`), [
        'modprobe vfio-pci', 'driver_override vfio-pci', 'unbind 0000:01:00.0', 'drivers_probe 0000:01:00.0',
      ]);
      const state = env.ctx.store.readState();
      assert.deepEqual(state.bound['0000:01:00.0']?.original, { driver: 'e1000e', override: null });
      // second bind is a no-op
      const again = await applyBind(env.ctx, ['0000:01:00.0']);
      assert.deepEqual(again.moved, []);
      assert.deepEqual(again.unchanged, ['0000:01:00.0']);

      const rel = await applyRelease(env.ctx, ['01:00.0']);
      assert.equal(rel.released.length, 1);
      assert.equal(driverOf(env.root, '0000:01:00.0'), 'e1000e');
      assert.equal(overrideOf(env.root, '0000:01:00.0'), '(null)');
      assert.equal(fs.existsSync(`${env.root}/dev/vfio/1`), false);
      assert.deepEqual(env.ctx.store.readState().bound, {});
      // the kernel side is as it began, apart from the vfio-pci driver now being loaded
      assert.deepEqual(changedPaths(before, snapshotKernelState(env.root)), []);
      assert.equal(env.ctx.store.readJournal(), null, 'finished journals are archived');
      assert.equal(env.ctx.store.listRuns().length, 3);
    } finally {
      env.cleanup();
    }
  });

  it('binds a multifunction group and the conventional devices behind a bridge (the bridge stays)', async () => {
    const env = makeEnv();
    try {
      const r = await applyBind(env.ctx, ['02:00.0', '02:00.1', '03:01.0', '03:02.0']);
      assert.deepEqual(r.groups.map((g) => [g.group, g.viable]), [[2, true], [3, true]]);
      for (const a of ['0000:02:00.0', '0000:02:00.1', '0000:03:01.0', '0000:03:02.0']) assert.equal(driverOf(env.root, a), 'vfio-pci');
      assert.equal(driverOf(env.root, '0000:00:02.0'), 'pcieport');
      await applyRelease(env.ctx, 'all');
      assert.equal(driverOf(env.root, '0000:02:00.0'), 'nouveau');
      assert.equal(driverOf(env.root, '0000:02:00.1'), 'snd_hda_intel');
      assert.equal(driverOf(env.root, '0000:03:02.0'), '8139cp');
    } finally {
      env.cleanup();
    }
  });

  it('rolls back when a group would be left split (one function of a multifunction device)', async () => {
    const env = makeEnv();
    try {
      const before = snapshotKernelState(env.root);
      await assert.rejects(applyBind(env.ctx, ['02:00.0']), (e: VfioctlError) => {
        assert.equal(e.code, 'group-not-viable');
        assert.match(e.message, /0000:02:00\.1 is on snd_hda_intel/);
        assert.match(e.message, /rolled back: bind 0000:02:00\.0 to vfio-pci/);
        return true;
      });
      assert.deepEqual(changedPaths(before, snapshotKernelState(env.root)), []);
      assert.deepEqual(env.ctx.store.readState().bound, {});
    } finally {
      env.cleanup();
    }
  });

  it('refuses a function without an IOMMU group before changing anything', async () => {
    const env = makeEnv();
    try {
      await assert.rejects(applyBind(env.ctx, ['00:05.0']), (e: VfioctlError) => e.code === 'no-iommu-group' && e.exitCode === 3);
      assert.deepEqual(env.kernel.writes, []);
    } finally {
      env.cleanup();
    }
  });

  it('previews the exact writes without making them', () => {
    const env = makeEnv();
    try {
      const p = previewBind(env.host, ['01:00.0']);
      assert.equal(p.loadModule, 'vfio-pci');
      assert.deepEqual(p.functions[0]!.writes, [
        `echo vfio-pci > ${env.root}/sys/bus/pci/devices/0000:01:00.0/driver_override`,
        `echo 0000:01:00.0 > ${env.root}/sys/bus/pci/drivers/e1000e/unbind`,
        `echo 0000:01:00.0 > ${env.root}/sys/bus/pci/drivers_probe`,
      ]);
      assert.deepEqual(env.kernel.writes, []);
    } finally {
      env.cleanup();
    }
  });

  it('refuses to release a vfio-pci device vfioctl did not bind unless told where to return it', async () => {
    const env = makeEnv({ spec: { functions: [{ address: '0000:01:00.0', vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: 'vfio-pci', driverOverride: 'vfio-pci', iommuGroup: 1 }], drivers: ['e1000e'], iommu: 'intel' }, native: { '0000:01:00.0': 'e1000e' } });
    try {
      await assert.rejects(applyRelease(env.ctx, ['01:00.0']), (e: VfioctlError) => e.code === 'not-bound-by-vfioctl');
      const r = await applyRelease(env.ctx, ['01:00.0'], { to: 'e1000e' });
      assert.equal(r.released.length, 1);
      assert.equal(driverOf(env.root, '0000:01:00.0'), 'e1000e');
    } finally {
      env.cleanup();
    }
  });

  it('a second run is refused while the lock is held by a live process, and over an interrupted journal', async () => {
    const env = makeEnv();
    try {
      const lock = env.ctx.store.acquireLock('other-run', 'bind 01:00.0');
      await assert.rejects(applyBind(env.ctx, ['01:00.0']), (e: VfioctlError) => e.code === 'locked' && /pid \d+/.test(e.message));
      lock.release();
      env.ctx.store.writeJournal({ version: 1, runId: 'x', command: 'bind', args: [], pid: 999999, startedAt: 'then', status: 'running', steps: [], commit: {} });
      await assert.rejects(applyBind(env.ctx, ['01:00.0']), (e: VfioctlError) => e.code === 'interrupted-run');
      assert.deepEqual(env.kernel.writes, []);
    } finally {
      env.cleanup();
    }
  });

  it('refuses to release a group a process holds open (a running guest), before changing anything', async () => {
    const env = makeEnv();
    try {
      await applyBind(env.ctx, ['02:00.0', '02:00.1']);
      fs.mkdirSync(`${env.root}/proc/4242/fd`, { recursive: true });
      fs.writeFileSync(`${env.root}/proc/4242/comm`, 'qemu-system-x86\n');
      fs.symlinkSync('/dev/vfio/2', `${env.root}/proc/4242/fd/17`);
      const writes = env.kernel.writes.length;
      await assert.rejects(applyRelease(env.ctx, 'all'), (e: VfioctlError) => e.code === 'group-in-use' && /qemu-system-x86 \(pid 4242\)/.test(e.message));
      assert.equal(env.kernel.writes.length, writes);
      assert.equal(driverOf(env.root, '0000:02:00.0'), 'vfio-pci');
    } finally {
      env.cleanup();
    }
  });

  it('takes over a stale lock left by a dead process', async () => {
    const env = makeEnv();
    try {
      fs.mkdirSync(`${env.root}/var/lib/vfioctl`, { recursive: true });
      fs.writeFileSync(`${env.root}/var/lib/vfioctl/lock`, JSON.stringify({ pid: 2 ** 22 + 7, runId: 'dead', command: 'bind', startedAt: 'then' }));
      await applyBind(env.ctx, ['01:00.0']);
      assert.match(env.logs.join('\n'), /took over a stale lock/);
      assert.equal(fs.existsSync(`${env.root}/var/lib/vfioctl/lock`), false);
    } finally {
      env.cleanup();
    }
  });
});
