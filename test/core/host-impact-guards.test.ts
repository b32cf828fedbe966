/**
 * Console and input guards on full and on partial data: the host's last display, the boot display, the
 * controller of the only keyboard; unknown facts (a pasted listing, a tree without proc/fb or input
 * devices) are warnings that name the file that would tell, never silence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPassthrough, modprobeContent } from '../../src/core/plan.js';
import { checkHostImpact } from '../../src/core/host-impact.js';
import { importListing } from '../../src/model/import-listing.js';
import type { PciAddressString } from '../../src/model/pci-address.js';
import type { InputDeviceFact } from '../../src/model/host-impact.js';
import { buildInventory, impactFacts } from '../support/inventory-builder.js';

const A = (s: string): PciAddressString => (s.length === 7 ? `0000:${s}` : s) as PciAddressString;
const ids = (fs: { id: string }[]): string[] => fs.map((f) => f.id);

/** `lspci -nnk` of a laptop whose only display controller is the Intel iGPU (no groups). */
const LAPTOP = `00:00.0 Host bridge [0600]: Intel Corporation Device [8086:9a14] (rev 01)
\tSubsystem: Lenovo Device [17aa:22d8]
00:02.0 VGA compatible controller [0300]: Intel Corporation TigerLake-LP GT2 [Iris Xe Graphics] [8086:9a49] (rev 01)
\tSubsystem: Lenovo Device [17aa:22d8]
\tKernel driver in use: i915
\tKernel modules: i915
00:14.0 USB controller [0c03]: Intel Corporation Tiger Lake-LP USB 3.2 Gen 2x1 xHCI Host Controller [8086:a0ed] (rev 20)
\tKernel driver in use: xhci_hcd
00:1f.3 Audio device [0403]: Intel Corporation Tiger Lake-LP Smart Sound Technology Audio Controller [8086:a0c8] (rev 20)
\tKernel driver in use: sof-audio-pci-intel-tgl
`;

test('laptop listing: the only display controller (the iGPU) is a blocker, not "OK with warnings"', () => {
  const inv = importListing(LAPTOP, 'laptop.txt', null);
  const p = planPassthrough(inv, { addresses: [A('00:02.0')] }, {});
  assert.equal(p.verdict, 'blocked');
  const f = p.findings.find((x) => x.id === 'host-impact-last-display');
  assert.ok(f, ids(p.findings).join(' '));
  assert.equal(f.severity, 'fail');
  assert.match(f.summary, /only display controller \(an integrated GPU\): the host would boot without a display/);
  // the boot display flag is not in a listing: said so, naming the file that tells
  const u = p.findings.find((x) => x.id === 'host-impact-console-unknown');
  assert.equal(u?.severity, 'warn');
  assert.match(u?.summary ?? '', /\/sys\/bus\/pci\/devices\/0000:00:02\.0\/boot_vga/);
  // accepted with --force: a warning, the softdep stays what the user accepted
  const forced = planPassthrough(inv, { addresses: [A('00:02.0')], force: true }, {});
  assert.equal(forced.findings.find((x) => x.id === 'host-impact-last-display')?.severity, 'warn');
  assert.match(modprobeContent(forced), /softdep i915 pre: vfio-pci/);
});

test('a 3D controller is no display: an iGPU beside an NVIDIA 3D controller is still the last display', () => {
  const inv = buildInventory([
    { addr: '00:02.0', id: '8086:9a49', cls: '030000', group: 0, driver: 'i915', bootVga: true },
    { addr: '01:00.0', id: '10de:1f99', cls: '030200', group: 1, driver: 'nvidia', parents: ['00:01.0'] },
    { addr: '00:01.0', id: '8086:9a09', cls: '060400', group: 1, driver: 'pcieport' },
  ]);
  const p = planPassthrough(inv, { addresses: [A('00:02.0')] }, { impact: impactFacts() });
  assert.ok(ids(p.findings).includes('host-impact-last-display'));
  // the 3D controller itself leaves the iGPU: no display guard
  const q = planPassthrough(inv, { addresses: [A('01:00.0')] }, { impact: impactFacts() });
  assert.ok(!ids(q.findings).includes('host-impact-last-display'));
  assert.ok(!ids(q.findings).includes('host-impact-console-unknown'), 'a 3D controller is not a VGA console');
});

test('boot VGA: known 1 blocks, known 0 says nothing, unknown (tree without proc/fb) warns naming what tells', () => {
  const inv = buildInventory([
    { addr: '00:02.0', id: '8086:3e92', cls: '030000', group: 0, driver: 'i915', bootVga: true },
    { addr: '01:00.0', id: '10de:1b80', cls: '030000', group: 1, driver: 'nvidia', bootVga: false, parents: ['00:01.0'] },
    { addr: '00:01.0', id: '8086:1901', cls: '060400', group: 1, driver: 'pcieport' },
  ]);
  const full = impactFacts();
  assert.equal(checkHostImpact(inv, [A('00:02.0')], full).find((f) => f.id === 'host-impact-console-gpu')?.severity, 'fail');
  assert.deepEqual(ids(checkHostImpact(inv, [A('01:00.0')], full)), []);
  const noFb = impactFacts({ sources: { mounts: true, block: true, routes: true, framebuffers: false, inputs: true } });
  const u = checkHostImpact(inv, [A('01:00.0')], noFb);
  assert.deepEqual(ids(u), ['host-impact-console-unknown']);
  assert.match(u[0]!.summary, /\/proc\/fb and \/proc\/iomem/);
  assert.equal(u[0]!.severity, 'warn');
});

const kbd = (id: string, anc: string[], kind: InputDeviceFact['kind'] = 'keyboard'): InputDeviceFact => ({ id, name: `${kind} ${id}`, kind, pciAncestors: anc.map(A), controller: anc.length ? A(anc[anc.length - 1]!) : null });

test('USB controller of the only keyboard blocks; with another keyboard left (i8042) or only a mouse, it warns', () => {
  const inv = buildInventory([
    { addr: '00:14.0', id: '8086:a36d', cls: '0c0330', group: 5, driver: 'xhci_hcd' },
    { addr: '05:00.0', id: '1b21:2142', cls: '0c0330', group: 6, driver: 'xhci_hcd', parents: ['00:1c.0'] },
    { addr: '00:1c.0', id: '8086:a338', cls: '060400', group: 6, driver: 'pcieport' },
  ]);
  const only = impactFacts({ inputs: [kbd('input3', ['00:14.0'])] });
  const f = checkHostImpact(inv, [A('00:14.0')], only);
  assert.equal(f.find((x) => x.id === 'host-impact-input-controller')?.severity, 'fail');
  assert.match(f[0]!.summary, /the host's only keyboard/);
  // a laptop keyboard on i8042 stays: passing the USB controller with a second keyboard is fine
  const laptop = impactFacts({ inputs: [kbd('input3', ['00:14.0'])], platformInputs: [kbd('input0', [])] });
  assert.equal(checkHostImpact(inv, [A('00:14.0')], laptop).find((x) => x.id === 'host-impact-input-controller')?.severity, 'warn');
  // two USB keyboards on two controllers: giving one away keeps the other
  const two = impactFacts({ inputs: [kbd('input3', ['00:14.0']), kbd('input4', ['00:1c.0', '05:00.0'])] });
  assert.equal(checkHostImpact(inv, [A('05:00.0')], two).find((x) => x.id === 'host-impact-input-controller')?.severity, 'warn');
  assert.equal(checkHostImpact(inv, [A('00:14.0'), A('05:00.0')], two).filter((x) => x.severity === 'fail').length, 2);
  // only a mouse on it
  const mouse = impactFacts({ inputs: [kbd('input5', ['00:14.0'], 'pointer'), kbd('input0', ['00:1c.0', '05:00.0'])] });
  assert.equal(checkHostImpact(inv, [A('00:14.0')], mouse).find((x) => x.id === 'host-impact-input-controller')?.severity, 'warn');
  // --force: the blocker becomes a warning
  assert.equal(checkHostImpact(inv, [A('00:14.0')], only, { force: true }).find((x) => x.id === 'host-impact-input-controller')?.severity, 'warn');
});

test('input devices unknown (a listing, no proc/bus/input/devices): a USB controller warns naming what tells', () => {
  const inv = importListing(LAPTOP, 'laptop.txt', null);
  const p = planPassthrough(inv, { addresses: [A('00:14.0')] }, {});
  const f = p.findings.find((x) => x.id === 'host-impact-input-unknown');
  assert.equal(f?.severity, 'warn');
  assert.match(f?.summary ?? '', /\/proc\/bus\/input\/devices/);
  assert.notEqual(p.verdict, 'ok');
  const noInputs = impactFacts({ sources: { mounts: true, block: true, routes: true, framebuffers: true, inputs: false } });
  const buildInv = buildInventory([{ addr: '00:14.0', id: '8086:a36d', cls: '0c0330', group: 5, driver: 'xhci_hcd' }]);
  assert.deepEqual(ids(checkHostImpact(buildInv, [A('00:14.0')], noInputs)), ['host-impact-input-unknown']);
  assert.deepEqual(ids(checkHostImpact(buildInv, [A('00:14.0')], impactFacts())), [], 'read and nothing on it: nothing to say');
});
