// The kernel primitive `vfioctl bind` wraps, done by hand on a real kernel: driver_override, unbind,
// drivers_probe -> the function is on vfio-pci and /dev/vfio/<group> exists; then back to its own driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import {
  singletonBoundEndpoint, driverOf, groupOf, attr, overrideDriver, restoreDriver, modprobe, waitFor,
} from './lib/guest.mjs';

test('vfio-pci round trip of an endpoint alone in its group', async () => {
  const addr = singletonBoundEndpoint();
  assert.ok(addr, 'the topology has no endpoint with a driver alone in its group');
  const group = groupOf(addr);
  const original = driverOf(addr);
  assert.notEqual(original, 'vfio-pci');
  assert.equal(attr(addr, 'driver_override'), '(null)', 'an empty driver_override reads back as (null)');
  assert.equal(existsSync(`/dev/vfio/${group}`), false, `/dev/vfio/${group} exists before binding`);

  modprobe('vfio-pci');
  assert.ok(existsSync('/dev/vfio/vfio'), '/dev/vfio/vfio (the container device) appears with the vfio module');
  const before = overrideDriver(addr, 'vfio-pci');
  try {
    assert.equal(driverOf(addr), 'vfio-pci');
    assert.equal(attr(addr, 'driver_override'), 'vfio-pci');
    assert.ok(await waitFor(() => existsSync(`/dev/vfio/${group}`)), `/dev/vfio/${group} did not appear`);
  } finally {
    restoreDriver(before);
  }
  assert.equal(driverOf(addr), original, `${addr} did not return to ${original}`);
  assert.equal(attr(addr, 'driver_override'), '(null)');
  assert.ok(await waitFor(() => !existsSync(`/dev/vfio/${group}`)), `/dev/vfio/${group} stayed after the last member left vfio-pci`);
});

test('driver_override alone does not move a bound function', () => {
  const addr = singletonBoundEndpoint();
  assert.ok(addr);
  const original = driverOf(addr);
  const p = `/sys/bus/pci/devices/${addr}/driver_override`;
  try {
    writeFileSync(p, 'vfio-pci');
    assert.equal(attr(addr, 'driver_override'), 'vfio-pci');
    assert.equal(driverOf(addr), original, 'writing driver_override must not unbind by itself');
  } finally {
    writeFileSync(p, '\n');
  }
  assert.equal(attr(addr, 'driver_override'), '(null)');
});
