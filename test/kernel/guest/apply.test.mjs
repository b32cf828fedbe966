// vfioctl's apply layer on a real kernel (inside the QEMU guest, real vfio-pci, real IOMMU groups):
// bind/release of a single function, a multifunction group and the devices behind a conventional
// bridge, a nested QEMU taking a device vfioctl bound, a forced failure rolled back, 50 bind/release
// cycles with nothing leaked, and SR-IOV VFs on the emulated NVMe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PROJECT, PCI, vfioctl, driverOf, groupOf, attr, kernelGroups, classOf, isBridgeClass, movableEndpoints,
  singletonBoundEndpoint, multifunctionBoundGroup, saveResult, modprobe,
  QEMU, STATE, expectOk, stateBound,
} from './lib/guest.mjs';


function assertClean(addrs, originals) {
  addrs.forEach((a, i) => {
    assert.equal(driverOf(a), originals[i], `${a} is not back on ${originals[i]}`);
    assert.equal(attr(a, 'driver_override'), '(null)', `${a} kept a driver_override`);
  });
  assert.deepEqual(stateBound(), [], 'state.json still lists bound functions');
  assert.equal(existsSync(join(STATE, 'lock')), false, 'lock left behind');
  assert.equal(existsSync(join(STATE, 'journal.json')), false, 'journal left behind');
}

test('bind and release a single function (endpoint alone in its group)', () => {
  const addr = singletonBoundEndpoint();
  assert.ok(addr);
  const original = driverOf(addr);
  const group = groupOf(addr);
  const b = expectOk(vfioctl(['bind', addr, '--yes', '--json']), 'bind');
  assert.deepEqual(b.claim, [addr]);
  assert.equal(driverOf(addr), 'vfio-pci');
  assert.ok(existsSync(`/dev/vfio/${group}`));
  assert.deepEqual(b.result.groups.map((g) => [g.group, g.viable]), [[group, true]]);
  const st = expectOk(vfioctl(['status', '--json']), 'status');
  assert.deepEqual(st.bound.map((x) => [x.address, x.original.driver]), [[addr, original]]);
  expectOk(vfioctl(['release', addr, '--yes', '--json']), 'release');
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
  assertClean([addr], [original]);
});

test('bind one function of a multifunction device: the plan claims the group; a nested QEMU takes it', () => {
  const members = multifunctionBoundGroup();
  assert.ok(members);
  const originals = members.map(driverOf);
  const b = expectOk(vfioctl(['bind', members[0], '--yes', '--json']), 'bind');
  assert.deepEqual(b.claim, members);
  for (const m of members) assert.equal(driverOf(m), 'vfio-pci');
  try {
    assert.ok(existsSync(QEMU), `${QEMU} missing in the guest`);
    const args = ['-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none', '-S', '-monitor', 'stdio'];
    for (const m of members) args.push('-device', `vfio-pci,host=${m}`);
    const q = spawnSync(QEMU, args, { input: 'info pci\nquit\n', encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
    saveResult('apply-nested-qemu.txt', `${q.stdout}\n${q.stderr}`);
    assert.equal(q.status, 0, `nested QEMU refused the group vfioctl bound:\n${q.stdout}\n${q.stderr}`);
  } finally {
    expectOk(vfioctl(['release', '--all', '--yes', '--json']), 'release --all');
  }
  assertClean(members, originals);
});

test('devices behind a conventional PCIe-to-PCI bridge: the bridge stays on the host', () => {
  const movable = new Set(movableEndpoints());
  let found = null;
  for (const [g, members] of kernelGroups()) {
    const bridges = members.filter((m) => isBridgeClass(classOf(m)));
    const endpoints = members.filter((m) => movable.has(m) && driverOf(m));
    if (bridges.length && endpoints.length >= 1 && endpoints.length + bridges.length === members.length) found = { g, bridges, endpoints };
  }
  assert.ok(found, 'no group with a bridge and endpoints behind it');
  const originals = found.endpoints.map(driverOf);
  const bridgeDrivers = found.bridges.map(driverOf);
  const b = expectOk(vfioctl(['bind', found.endpoints[0], '--yes', '--json']), 'bind');
  assert.deepEqual(b.claim, found.endpoints);
  assert.deepEqual(b.result.groups.map((g) => g.viable), [true]);
  for (const e of found.endpoints) assert.equal(driverOf(e), 'vfio-pci');
  assert.deepEqual(found.bridges.map(driverOf), bridgeDrivers, 'the bridge moved');
  expectOk(vfioctl(['release', '--all', '--yes', '--json']), 'release');
  assertClean(found.endpoints, originals);
});

test('a forced failure (return to a driver that does not exist) is rolled back to the journal\'s state', () => {
  const addr = singletonBoundEndpoint();
  const original = driverOf(addr);
  expectOk(vfioctl(['bind', addr, '--yes', '--json']), 'bind');
  const r = vfioctl(['release', addr, '--to', 'no-such-driver', '--yes', '--json', '--timeout', '3000']);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.json.error.message, /did not bind to no-such-driver.*rolled back: return .* to no-such-driver/);
  assert.equal(driverOf(addr), 'vfio-pci', 'rollback put it back on vfio-pci, as the journal says');
  assert.equal(attr(addr, 'driver_override'), 'vfio-pci');
  assert.deepEqual(stateBound(), [addr]);
  expectOk(vfioctl(['release', addr, '--yes', '--json']), 'release');
  assertClean([addr], [original]);
});

test('50 bind/release cycles through the library leave nothing behind', async () => {
  const { applyBind, applyRelease } = await import(join(PROJECT, 'dist/apply/bind.js'));
  const { HostRoot } = await import(join(PROJECT, 'dist/host/host-root.js'));
  const { RealSysfsWriter, ConfigWriter } = await import(join(PROJECT, 'dist/host/host-writer.js'));
  const { createExec } = await import(join(PROJECT, 'dist/adapters/exec.js'));
  const { StateStore } = await import(join(PROJECT, 'dist/apply/state.js'));
  const host = new HostRoot('/');
  const exec = createExec();
  const ctx = { host, exec, sysfs: new RealSysfsWriter(host, exec), files: new ConfigWriter(host, 'var/lib/vfioctl/backups'), store: new StateStore(host), move: { timeoutMs: 10_000, pollMs: 10 }, log: () => {} };
  const addr = singletonBoundEndpoint();
  const original = driverOf(addr);
  const group = groupOf(addr);
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const t0 = Date.now();
  for (let i = 0; i < 50; i++) {
    await applyBind(ctx, [addr]);
    assert.equal(driverOf(addr), 'vfio-pci', `cycle ${i}`);
    await applyRelease(ctx, [addr]);
    assert.equal(driverOf(addr), original, `cycle ${i}`);
  }
  const ms = Date.now() - t0;
  saveResult('apply-cycles.json', { cycles: 50, ms, perCycleMs: ms / 50 });
  console.log(`# 50 bind/release cycles of ${addr}: ${ms} ms (${(ms / 50).toFixed(1)} ms per cycle, under TCG)`);
  assert.equal(existsSync(`/dev/vfio/${group}`), false);
  assert.ok(readdirSync('/proc/self/fd').length <= fdsBefore + 1, 'file descriptors leaked');
  assertClean([addr], [original]);
  assert.equal(readdirSync(join(STATE, 'runs')).length >= 100, true);
});

test('SR-IOV: VFs on the emulated NVMe through vfioctl sriov set', () => {
  const pf = readdirSync(PCI).find((a) => existsSync(join(PCI, a, 'sriov_totalvfs')));
  assert.ok(pf, 'no SR-IOV physical function in the topology');
  const total = Number(attr(pf, 'sriov_totalvfs'));
  const r = vfioctl(['sriov', 'set', pf, String(Math.min(2, total)), '--yes', '--json']);
  saveResult('apply-sriov.json', { pf, total, driver: driverOf(pf), status: r.status, stdout: r.stdout, stderr: r.stderr });
  assert.equal(r.status, 0, `sriov set failed on ${pf} (driver ${driverOf(pf)}, total ${total}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(existsSync(join(PCI, pf, 'virtfn0')), 'virtfn0 missing');
  const vf = readFileSync(join(PCI, pf, 'virtfn0', 'uevent'), 'utf8');
  console.log(`# SR-IOV on ${pf}: ${attr(pf, 'sriov_numvfs')} VFs; virtfn0: ${vf.replace(/\n/g, ' ')}`);
  expectOk(vfioctl(['sriov', 'set', pf, '0', '--yes', '--json']), 'sriov set 0');
  assert.equal(existsSync(join(PCI, pf, 'virtfn0')), false);
});

test('modules stay usable afterwards', () => {
  modprobe('vfio-pci');
  assert.ok(existsSync('/sys/bus/pci/drivers/vfio-pci'));
});
