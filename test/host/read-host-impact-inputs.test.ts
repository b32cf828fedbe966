/**
 * Input devices classified from their capability bitmaps as udev's input_id does (not from handlers or
 * names), mapped to the PCI function they hang off, from /proc/bus/input/devices and from sys/class/input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostImpact } from '../../src/host/read-host-impact.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { planPassthrough } from '../../src/core/plan.js';
import { classifyInput, parseInputBitmap } from '../../src/model/host-impact.js';
import type { PciAddressString } from '../../src/model/pci-address.js';
import { makeTempHostTree, type HostSpec, type InputSpec } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';

const USB = 'devices/pci0000:00/0000:00:14.0/usb1';
// Bitmaps as real devices report them (64-bit kernel).
const KEYBOARD = { ev: '120013', key: '1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe' };
const MOUSE = { ev: '17', key: 'ff0000 0 0 0 0', rel: '903' };
const QEMU_TABLET = { ev: '1f', key: '70000 0 0 0 0', rel: '900', abs: '3' };
const PEN_TABLET = { ev: '1b', key: '1c03 0 0 0 0 0', abs: '1000003' };
const TOUCHSCREEN = { ev: 'b', key: '400 0 0 0 0 0', abs: '260800000000003', prop: '2' };
const TOUCHPAD = { ev: 'b', key: 'e520 10000 0 0 0 0', abs: '660800011000003', prop: '5' };
const GAMEPAD = { ev: '20000b', key: '7fdb000000000000 0 0 0 0', abs: '3003f' };
const POWER_BUTTON = { ev: '3', key: '10000000000000 0' };

function host(inputs: InputSpec[], inputsIn: HostSpec['inputsIn'] = 'both'): HostSpec {
  return { ...desktopGpu(), inputs, inputsIn };
}

const DEVICES: InputSpec[] = [
  // a USB keyboard whose handlers do not include kbd (and whose name says nothing)
  { id: 'input3', name: 'SONiX USB DEVICE', parent: `${USB}/1-2/1-2:1.0/0003:0C45:7603.0001`, handlers: ['sysrq', 'event3'], ...KEYBOARD },
  { id: 'input4', name: 'PixArt USB Optical', parent: `${USB}/1-3/1-3:1.0/0003:093A:2510.0002`, handlers: ['mouse0', 'event4'], ...MOUSE },
  { id: 'input5', name: 'QEMU QEMU USB Tablet', parent: `${USB}/1-4/1-4:1.0/0003:0627:0001.0003`, handlers: ['event5'], ...QEMU_TABLET },
  { id: 'input6', name: 'Wacom Intuos S Pen', parent: `${USB}/1-5/1-5:1.0/0003:056A:0374.0004`, handlers: ['event6'], ...PEN_TABLET },
  { id: 'input7', name: 'ELAN Touchscreen', parent: `${USB}/1-6/1-6:1.0/0003:04F3:2A1C.0005`, handlers: ['event7'], ...TOUCHSCREEN },
  { id: 'input8', name: 'Xbox Wireless Controller', parent: `${USB}/1-7/1-7:1.0/0003:045E:0B12.0006`, handlers: ['js0', 'event8'], ...GAMEPAD },
  // platform devices: the laptop keyboard on i8042, a touchpad on serio, the ACPI power button
  { id: 'input0', name: 'AT Translated Set 2 keyboard', parent: 'devices/platform/i8042/serio0', bus: '0011', handlers: ['kbd', 'event0'], ...KEYBOARD },
  { id: 'input1', name: 'SynPS/2 Synaptics TouchPad', parent: 'devices/platform/i8042/serio1', bus: '0011', handlers: ['event1'], ...TOUCHPAD },
  { id: 'input2', name: 'Power Button', parent: 'devices/LNXSYSTM:00/LNXPWRBN:00', bus: '0019', handlers: ['kbd', 'event2'], ...POWER_BUTTON },
  // uinput: no hardware the host could lose
  { id: 'input9', name: 'ydotoold virtual device', parent: 'devices/virtual', bus: '0006', handlers: ['event9'], ...KEYBOARD },
];

const EXPECTED: [string, string, string[], string | null][] = [
  ['input3', 'keyboard', ['keyboard', 'key'], '0000:00:14.0'],
  ['input4', 'pointer', ['mouse'], '0000:00:14.0'],
  ['input5', 'pointer', ['mouse'], '0000:00:14.0'],
  ['input6', 'pointer', ['tablet'], '0000:00:14.0'],
  ['input7', 'pointer', ['touchscreen'], '0000:00:14.0'],
  ['input8', 'other', ['joystick'], '0000:00:14.0'],
];
const PLATFORM: [string, string, string[]][] = [
  ['input0', 'keyboard', ['keyboard', 'key']],
  ['input1', 'pointer', ['touchpad']],
  ['input2', 'other', ['key']],
];

for (const where of ['procfs', 'sysfs'] as const) {
  test(`classification from capability bitmaps (${where === 'procfs' ? '/proc/bus/input/devices' : 'sys/class/input/*/capabilities'})`, (t) => {
    const tree = makeTempHostTree(host(DEVICES, where));
    t.after(tree.cleanup);
    const facts = readHostImpact(new HostRoot(tree.root));
    assert.deepEqual(facts.problems, []);
    assert.deepEqual(facts.inputs.map((i) => [i.id, i.kind, i.classes, i.controller]), EXPECTED);
    assert.deepEqual((facts.platformInputs ?? []).map((i) => [i.id, i.kind, i.classes]), PLATFORM);
  });
}

test('a USB keyboard without a kbd handler is the only keyboard: its controller blocks; an i8042 keyboard keeps the host usable', (t) => {
  const usbOnly = DEVICES.filter((d) => d.id === 'input3' || d.id === 'input6');
  const tree = makeTempHostTree(host(usbOnly, 'procfs'));
  t.after(tree.cleanup);
  const h = new HostRoot(tree.root);
  const inv = readInventory(h, { names: false });
  const p = planPassthrough(inv, { addresses: ['0000:00:14.0' as PciAddressString] }, { impact: readHostImpact(h) });
  const f = p.findings.find((x) => x.id === 'host-impact-input-controller');
  assert.equal(f?.severity, 'fail');
  assert.match(f?.summary ?? '', /only keyboard \(SONiX USB DEVICE, Wacom Intuos S Pen\)/);
  const laptop = makeTempHostTree(host(DEVICES.filter((d) => d.id === 'input3' || d.id === 'input0'), 'procfs'));
  t.after(laptop.cleanup);
  const h2 = new HostRoot(laptop.root);
  const q = planPassthrough(readInventory(h2, { names: false }), { addresses: ['0000:00:14.0' as PciAddressString] }, { impact: readHostImpact(h2) });
  assert.equal(q.findings.find((x) => x.id === 'host-impact-input-controller')?.severity, 'warn');
});

test('bitmaps: words are 64-bit, most significant first; keyboard needs every key from KEY_ESC to KEY_S', () => {
  assert.deepEqual([...parseInputBitmap('1 0')!], [64]);
  assert.deepEqual([...parseInputBitmap('903')!], [0, 1, 8, 11]);
  assert.equal(parseInputBitmap('xyz'), null);
  const none = new Set<number>();
  const keys = (n: number[]): Set<number> => new Set(n);
  const esc2s = Array.from({ length: 31 }, (_, i) => i + 1);
  assert.deepEqual(classifyInput({ ev: keys([1]), key: keys(esc2s), rel: none, abs: none, prop: none }), ['keyboard', 'key']);
  assert.deepEqual(classifyInput({ ev: keys([1]), key: keys(esc2s.slice(1)), rel: none, abs: none, prop: none }), ['key'], 'no KEY_ESC: not a full keyboard');
  // a pointer needs its button: REL_X/REL_Y alone (a jog wheel) is no mouse
  assert.deepEqual(classifyInput({ ev: keys([2]), key: none, rel: keys([0, 1]), abs: none, prop: none }), []);
});
