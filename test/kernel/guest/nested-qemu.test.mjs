// End-to-end proof on a real kernel: a nested QEMU inside the guest takes a device bound to vfio-pci
// (-device vfio-pci,host=ADDR), and refuses with "not viable" while another function of the same IOMMU
// group is still on its host driver. This is the all-or-nothing group rule the planner encodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  multifunctionBoundGroup, driverOf, groupOf, overrideDriver, restoreDriver, modprobe, saveResult,
  QEMU,
} from './lib/guest.mjs';

/** Start a paused nested QEMU with vfio-pci devices, list its PCI devices and quit. */
function nestedQemu(hosts) {
  const args = ['-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none', '-S', '-monitor', 'stdio'];
  for (const h of hosts) args.push('-device', `vfio-pci,host=${h}`);
  const t0 = Date.now();
  const r = spawnSync(QEMU, args, { input: 'info pci\nquit\n', encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, out: `${r.stdout}\n${r.stderr}`, ms: Date.now() - t0, error: r.error?.message };
}

test('nested QEMU: vfio-pci refuses a partly bound group, accepts the whole group', () => {
  assert.ok(existsSync(QEMU), `${QEMU} is missing in the guest (the host's /usr is shared over 9p)`);
  const members = multifunctionBoundGroup();
  assert.ok(members, 'the topology has no multifunction group of bound endpoints');
  const group = groupOf(members[0]);
  const originals = members.map((m) => driverOf(m));
  modprobe('vfio-pci');
  const restore = [];
  const log = {};
  try {
    // Only the first function on vfio-pci: the group is not viable.
    restore.push(overrideDriver(members[0], 'vfio-pci'));
    assert.equal(driverOf(members[0]), 'vfio-pci');
    assert.equal(driverOf(members[1]), originals[1]);
    const partial = nestedQemu([members[0]]);
    log.partial = partial;
    assert.notEqual(partial.status, 0, `nested QEMU started with a partly bound group:\n${partial.out}`);
    assert.match(partial.out, new RegExp(`group ${group} is not viable`), partial.out);

    // Every function of the group on vfio-pci: the nested QEMU starts and shows the devices.
    for (const m of members.slice(1)) restore.push(overrideDriver(m, 'vfio-pci'));
    for (const m of members) assert.equal(driverOf(m), 'vfio-pci');
    const whole = nestedQemu(members);
    log.whole = whole;
    assert.equal(whole.status, 0, `nested QEMU failed with the whole group bound:\n${whole.out}`);
    const vendorDevice = /Ethernet controller: PCI device ([0-9a-f]{4}:[0-9a-f]{4})/g;
    const shown = [...whole.out.matchAll(vendorDevice)].map((m) => m[1]);
    assert.equal(shown.length, members.length, `nested guest should show ${members.length} assigned functions:\n${whole.out}`);
  } finally {
    for (const b of restore.reverse()) restoreDriver(b);
    saveResult('nested-qemu.json', log);
  }
  members.forEach((m, i) => assert.equal(driverOf(m), originals[i], `${m} did not return to ${originals[i]}`));
});
