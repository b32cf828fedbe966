/** bind to a VFIO variant driver (kernel-like fake): the driver the plan names is the driver apply binds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { applyBind, applyRelease, previewBind } from '../../src/apply/bind.js';
import { makeEnv, driverOf, overrideOf } from './helpers.js';
import { platformHost } from '../support/platform-hosts.js';

describe('bind to a variant driver', () => {
  it('moves the VF from mlx5_core to mlx5_vfio_pci, records the driver, counts the group viable, and releases it back', async () => {
    const env = makeEnv({ spec: platformHost() });
    try {
      const drivers = { '0000:00:05.0': 'mlx5_vfio_pci' };
      const p = previewBind(env.host, ['00:05.0'], drivers);
      assert.deepEqual(p.functions[0]!.to, { driver: 'mlx5_vfio_pci', override: 'mlx5_vfio_pci' });
      const r = await applyBind(env.ctx, ['00:05.0'], drivers);
      assert.equal(driverOf(env.root, '0000:00:05.0'), 'mlx5_vfio_pci');
      assert.equal(overrideOf(env.root, '0000:00:05.0'), 'mlx5_vfio_pci');
      assert.deepEqual(r.groups.map((g) => [g.group, g.viable]), [[5, true]]);
      assert.ok(fs.existsSync(`${env.root}/dev/vfio/5`));
      assert.equal(env.ctx.store.readState().bound['0000:00:05.0']?.driver, 'mlx5_vfio_pci');
      // without the driver map the same function goes to vfio-pci
      assert.deepEqual(previewBind(env.host, ['00:05.0']).functions[0]!.to, { driver: 'vfio-pci', override: 'vfio-pci' });
      await applyRelease(env.ctx, ['00:05.0']);
      assert.equal(driverOf(env.root, '0000:00:05.0'), 'mlx5_core');
      assert.deepEqual(env.ctx.store.readState().bound, {});
    } finally {
      env.cleanup();
    }
  });
});
