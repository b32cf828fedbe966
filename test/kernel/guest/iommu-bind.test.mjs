// A bind round trip through vfioctl under a non-Intel IOMMU, and the proof that the device is usable:
// a nested QEMU takes it (-device vfio-pci,host=ADDR). Without interrupt remapping the kernel's
// vfio_iommu_type1 refuses the container ("No interrupt remapping support") until allow_unsafe_interrupts
// is set; the doctor said so beforehand (iommu-doctor.test.mjs). Without groups vfioctl refuses to bind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  vfioctl, driverOf, groupOf, attr, singletonBoundEndpoint, movableEndpoints, kernelGroups, classOf, isBridgeClass, saveResult,
  QEMU, expectOk, stateBound,
} from './lib/guest.mjs';
import { iommuSignals, setUnsafeInterrupts, dmesgLines } from './lib/iommu.mjs';

const sig = iommuSignals();

/**
 * A group whose endpoints are two or more functions of one slot, all with a driver, the rest bridges
 * (e.g. a switch downstream port and the multifunction card behind it): { endpoints, bridges } or null.
 */
function multifunctionGroupWithBridges() {
  const movable = new Set(movableEndpoints());
  for (const members of kernelGroups().values()) {
    const bridges = members.filter((m) => isBridgeClass(classOf(m)));
    const endpoints = members.filter((m) => !bridges.includes(m));
    if (endpoints.length < 2 || !endpoints.every((m) => movable.has(m) && driverOf(m))) continue;
    if (new Set(endpoints.map((m) => m.slice(0, -2))).size === 1) return { endpoints, bridges };
  }
  return null;
}

function nestedQemu(hosts) {
  const args = ['-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none', '-S', '-monitor', 'stdio'];
  for (const h of hosts) args.push('-device', `vfio-pci,host=${h}`);
  const r = spawnSync(QEMU, args, { input: 'info pci\nquit\n', encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function assertClean(addrs, originals) {
  addrs.forEach((a, i) => {
    assert.equal(driverOf(a), originals[i], `${a} is not back on ${originals[i]}`);
    assert.equal(attr(a, 'driver_override'), '(null)', `${a} kept a driver_override`);
  });
  assert.deepEqual(stateBound(), [], 'state.json still lists bound functions');
}

test('vfioctl bind, a nested QEMU takes the device (with allow_unsafe_interrupts only where nothing is remapped), vfioctl release', { skip: sig.groups === 0 ? 'no groups' : false }, () => {
  const addr = singletonBoundEndpoint();
  assert.ok(addr, 'no endpoint with a driver alone in its group');
  const original = driverOf(addr);
  const group = groupOf(addr);
  const b = expectOk(vfioctl(['bind', addr, '--yes', '--json']), 'bind');
  assert.deepEqual(b.claim, [addr]);
  const log = {};
  try {
    assert.equal(driverOf(addr), 'vfio-pci');
    assert.ok(existsSync(`/dev/vfio/${group}`), `/dev/vfio/${group} missing`);
    const first = nestedQemu([addr]);
    log.first = first;
    if (sig.irChips.length) {
      assert.equal(first.status, 0, `nested QEMU refused the device under remapped interrupts:\n${first.out}`);
    } else {
      assert.notEqual(first.status, 0, `nested QEMU took the device without interrupt remapping:\n${first.out}`);
      assert.ok(dmesgLines().some((l) => /No interrupt remapping support/.test(l)), 'the kernel did not log the type1 refusal');
      assert.equal(setUnsafeInterrupts(true), 'Y');
      try {
        const second = nestedQemu([addr]);
        log.second = second;
        assert.equal(second.status, 0, `nested QEMU refused the device with allow_unsafe_interrupts=Y:\n${second.out}`);
      } finally {
        setUnsafeInterrupts(false);
      }
    }
  } finally {
    saveResult('iommu-bind-nested.json', log);
    expectOk(vfioctl(['release', addr, '--yes', '--json']), 'release');
  }
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
  assertClean([addr], [original]);
});

test('vfioctl bind of one function of a multifunction device claims its endpoints (bridges stay), release returns them', { skip: sig.groups === 0 ? 'no groups' : false }, () => {
  const found = multifunctionGroupWithBridges();
  assert.ok(found, 'no group holding a multifunction device with drivers');
  const { endpoints, bridges } = found;
  const originals = endpoints.map(driverOf);
  const bridgeDrivers = bridges.map(driverOf);
  const b = expectOk(vfioctl(['bind', endpoints[0], '--yes', '--json']), 'bind');
  try {
    assert.deepEqual(b.claim, endpoints);
    for (const m of endpoints) assert.equal(driverOf(m), 'vfio-pci');
    assert.deepEqual(bridges.map(driverOf), bridgeDrivers, 'a bridge moved');
    assert.ok(existsSync(`/dev/vfio/${groupOf(endpoints[0])}`));
  } finally {
    expectOk(vfioctl(['release', '--all', '--yes', '--json']), 'release --all');
  }
  assertClean(endpoints, originals);
});

test('without groups vfioctl refuses to bind and leaves the device alone', { skip: sig.groups > 0 ? 'this kernel made groups' : false }, () => {
  // a NIC, not the virtio-iommu's own function
  const addr = movableEndpoints().find((a) => driverOf(a) && classOf(a).startsWith('02'));
  assert.ok(addr, 'no NIC with a driver');
  const original = driverOf(addr);
  const r = vfioctl(['bind', addr, '--yes', '--json']);
  saveResult('iommu-bind-refused.json', r.json);
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(JSON.stringify(r.json), /IOMMU/i);
  assert.equal(driverOf(addr), original);
  assert.deepEqual(stateBound(), []);
});
