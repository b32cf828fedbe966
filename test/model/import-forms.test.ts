/**
 * The forms people paste (test/fixtures/listings/): for each, exactly how many functions and groups are
 * read, which lines are reported as skipped and why, and what stays unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importListing, importFactUnknown } from '../../src/model/import-listing.js';
import { UsageError } from '../../src/model/errors.js';
import type { ImportSkippedLine, PciInventory } from '../../src/model/pci-function.js';

const load = (name: string): PciInventory => importListing(readFileSync(new URL(`../fixtures/listings/${name}`, import.meta.url), 'utf8'), name, null);

function src(inv: PciInventory) {
  assert.equal(inv.source.kind, 'import');
  if (inv.source.kind !== 'import') throw new Error('not an import');
  return inv.source;
}
const skipped = (inv: PciInventory): ImportSkippedLine[] => src(inv).skipped ?? [];
const skippedLines = (inv: PciInventory): number[] => skipped(inv).map((s) => s.line);
const fn = (inv: PciInventory, a: string) => {
  const f = inv.functions.find((x) => x.address === a);
  assert.ok(f, `${a} read`);
  return f;
};
const groupsOf = (inv: PciInventory) => inv.groups.map((g) => [g.id, g.members.map((m) => m.address.slice(5))]);

test('mixed group styles in one paste: inline, "Group 6:" with and without a space, headings with indented members', () => {
  const inv = load('mixed-group-styles.txt');
  assert.equal(inv.functions.length, 26);
  assert.equal(inv.groups.length, 16);
  assert.deepEqual(skipped(inv), []);
  assert.equal(src(inv).format, 'iommu-groups-inline+iommu-groups-heading');
  assert.equal(fn(inv, '0000:00:14.3').iommuGroup, 6, 'IOMMU Group 6:00:14.3 (no space)');
  assert.equal(fn(inv, '0000:00:14.0').iommuGroup, 5);
  assert.equal(fn(inv, '0000:01:00.3').iommuGroup, 1);
  assert.deepEqual(inv.groups.find((g) => g.id === 12)!.members.map((m) => m.address), ['0000:00:1f.0', '0000:00:1f.3', '0000:00:1f.4', '0000:00:1f.5']);
  assert.equal(fn(inv, '0000:07:00.0').iommuGroup, 15, 'the last heading member');
  assert.ok(!src(inv).unknown.includes('IOMMU groups'));
});

test('forum BBCode: [code] fences and [B]/** wrapped lines are read, prose lines are reported', () => {
  const inv = load('forum-bbcode.txt');
  assert.equal(inv.functions.length, 6);
  assert.deepEqual(inv.groups.map((g) => g.id), [0, 1, 15, 16, 17, 18]);
  assert.equal(fn(inv, '0000:0b:00.0').deviceId, '73bf', '[B]...[/B] line');
  assert.equal(fn(inv, '0000:0b:00.0').revision, 'c1');
  assert.equal(fn(inv, '0000:0c:00.0').iommuGroup, 17, '**...** line');
  assert.match(fn(inv, '0000:0b:00.0').names.device ?? '', /\[Radeon RX 6800\/6800 XT \/ 6900 XT\]$/, 'lspci brackets are not BBCode');
  assert.deepEqual(skippedLines(inv), [1, 10]);
  assert.match(skipped(inv)[1]!.text, /^\[COLOR=red\]The 6800 XT/, 'the reported text is the line as pasted');
});

test('Markdown: > quotes, ``` fences and `backticks` are removed', () => {
  const inv = load('markdown-quoted.txt');
  assert.deepEqual(groupsOf(inv), [[12, ['03:00.0', '03:00.1']], [13, ['04:00.0']], [14, ['05:00.0']]]);
  assert.deepEqual(skippedLines(inv), [1]);
  assert.equal(src(inv).format, 'iommu-groups-heading+iommu-groups-inline');
});

test('root prompts: "# " before every line is read, commands are understood, a comment after a prompt is reported', () => {
  const inv = load('root-prompt.txt');
  assert.equal(inv.functions.length, 4);
  assert.deepEqual(groupsOf(inv), [[1, ['00:01.0', '01:00.0', '01:00.1']], [2, ['00:14.0']]]);
  assert.deepEqual(skippedLines(inv), [15]);
  assert.match(skipped(inv)[0]!.reason, /shell prompt/);
  // -nnk and the group listing merge: drivers from one, groups from the other
  assert.equal(fn(inv, '0000:01:00.0').driver, 'vfio-pci');
  assert.equal(fn(inv, '0000:01:00.0').subsystemVendorId, '3842');
  assert.deepEqual(src(inv).unknownFor?.find((u) => u.fact === 'drivers in use')?.addresses, ['0000:00:01.0', '0000:00:14.0']);
  assert.ok(importFactUnknown(inv, 'drivers in use', '0000:00:14.0'));
  assert.ok(!importFactUnknown(inv, 'drivers in use', '0000:01:00.1'));
});

test('user prompts ([user@host ~]$) and a script: headings, then a plain lspci -nn paste that is not part of the last group', () => {
  const inv = load('user-prompt-script.txt');
  assert.deepEqual(groupsOf(inv), [[14, ['0a:00.0', '0a:00.1']], [15, ['0b:00.0']]]);
  assert.equal(fn(inv, '0000:00:14.0').iommuGroup, null, 'after a prompt the heading context is closed');
  assert.deepEqual(skipped(inv), []);
  assert.deepEqual(src(inv).unknownFor, [{ fact: 'IOMMU groups', addresses: ['0000:00:14.0'] }]);
});

test('lspci -nnk -D with a VMD domain: drivers, subsystems, "Kernel modules" alone means no driver', () => {
  const inv = load('lspci-nnkq-vmd-domain.txt');
  assert.deepEqual(inv.functions.map((f) => f.address), ['0000:00:00.0', '0000:00:01.0', '0000:00:0e.0', '0000:01:00.0', '0000:01:00.1', '10000:e0:06.0', '10000:e1:00.0']);
  assert.equal(fn(inv, '0000:01:00.0').driver, null);
  assert.equal(fn(inv, '10000:e1:00.0').driver, 'nvme');
  assert.equal(fn(inv, '10000:e1:00.0').subsystemDeviceId, 'a801');
  assert.deepEqual(skipped(inv), []);
  assert.equal(src(inv).format, 'lspci-nnk');
  assert.ok(!src(inv).unknown.includes('drivers in use'));
});

test('lspci -vvv: groups, drivers, ROM, PCIe port types, FLReset, PM NoSoftRst and ACS are read; <access denied> stays unknown', () => {
  const inv = load('lspci-vvv-gpu.txt');
  assert.equal(inv.functions.length, 5);
  assert.deepEqual(groupsOf(inv), [[1, ['00:01.0', '01:00.0', '01:00.1']], [9, ['00:1c.4', '02:00.0']]]);
  assert.deepEqual(skipped(inv), [], 'every -vvv line is lspci detail');
  assert.equal(src(inv).format, 'lspci-vvv');
  const gpu = fn(inv, '0000:01:00.0');
  assert.equal(gpu.driver, 'vfio-pci');
  assert.equal(gpu.hasRom, true);
  assert.equal(gpu.capabilities.pcie?.portType, 'legacy-endpoint');
  assert.equal(gpu.capabilities.pcie?.linkSpeed, '2.5GT/s');
  assert.equal(gpu.flr, false, 'DevCap FLReset-');
  assert.equal(gpu.capabilities.aer, true);
  assert.deepEqual(gpu.capabilities.msi, { vectors: 1, addr64: true, maskable: false, enabled: true });
  assert.equal(gpu.capabilities.list.length, 9);
  assert.equal(fn(inv, '0000:01:00.1').capabilities.pm?.noSoftReset, false, 'Status: NoSoftRst-');
  assert.equal(gpu.capabilities.pm?.noSoftReset, true);
  const port = fn(inv, '0000:00:1c.4');
  assert.equal(port.capabilities.pcie?.portType, 'root-port');
  assert.equal(port.capabilities.pcie?.slot, true);
  assert.deepEqual(port.capabilities.acs?.control, { sv: true, tb: false, rr: true, cr: true, uf: false, ec: false, dt: false });
  assert.equal(port.capabilities.extendedReadable, true);
  const nic = fn(inv, '0000:02:00.0');
  assert.equal(nic.capabilities.standardReadable, false, 'Capabilities: <access denied>');
  assert.equal(nic.driver, 'igb');
  assert.deepEqual(src(inv).unknownFor?.find((u) => u.fact.startsWith('capabilities'))?.addresses, ['0000:02:00.0']);
  assert.ok(!src(inv).unknown.includes('expansion ROM'), 'every block is verbose: the ROM line is there or not');
  assert.ok(!src(inv).unknown.includes('drivers in use'));
});

test('lspci -v (one v): Flags give the IOMMU group and NUMA node; capabilities without their detail lines leave FLR and ACS unknown', () => {
  const inv = load('lspci-v-flags.txt');
  assert.equal(inv.functions.length, 2);
  assert.deepEqual(groupsOf(inv), [[4, ['00:03.1', '09:00.0']]]);
  assert.deepEqual(skipped(inv), []);
  const gpu = fn(inv, '0000:09:00.0');
  assert.equal(gpu.numaNode, 0);
  assert.equal(gpu.hasRom, true);
  assert.equal(gpu.flr, false);
  assert.equal(fn(inv, '0000:00:03.1').capabilities.acs, null, 'ACS listed but ACSCtl not shown: not guessed');
  const u = src(inv).unknown;
  assert.ok(u.includes('function-level reset (FLR)'));
  assert.ok(u.includes('capability details (ACS, SR-IOV, ATS, Resizable BAR)'));
  assert.ok(u.includes('NUMA node (for 1 of 2 functions)'));
  assert.ok(!u.some((x) => x.startsWith('capabilities (')), 'the capability lists were read');
});

test('lspci -tv with lspci -nn: parent bridges and root bus from the tree; a tree function without IDs is reported', () => {
  const inv = load('lspci-tree-with-nn.txt');
  assert.equal(inv.functions.length, 11);
  assert.equal(inv.groups.length, 0);
  assert.equal(src(inv).format, 'lspci-tree+lspci-nn');
  assert.deepEqual(fn(inv, '0000:01:00.1').parentChain, ['0000:00:01.0']);
  assert.equal(fn(inv, '0000:01:00.1').rootBus, 'pci0000:00');
  assert.deepEqual(fn(inv, '0000:02:00.0').parentChain, ['0000:00:1b.0'], 'single child after ----');
  assert.deepEqual(fn(inv, '0000:03:00.0').parentChain, ['0000:00:1c.0'], '[03-04] range: secondary bus 03');
  assert.deepEqual(fn(inv, '0000:00:1f.6').parentChain, []);
  assert.deepEqual(skippedLines(inv), [7]);
  assert.match(skipped(inv)[0]!.reason, /04:00\.0 is not listed with \[vvvv:dddd\] IDs/);
  assert.ok(!src(inv).unknown.includes('topology (parent bridges)'));
});

test('lspci -tvnn with several root buses: columns are followed across lines', () => {
  const inv = load('lspci-tree-multiroot.txt');
  assert.equal(inv.functions.length, 3);
  assert.deepEqual(fn(inv, '0000:41:00.0').parentChain, ['0000:40:01.1']);
  assert.equal(fn(inv, '0000:41:00.0').rootBus, 'pci0000:40');
  assert.deepEqual(fn(inv, '0000:42:00.1').parentChain, ['0000:40:03.1']);
  // the tree names 00:00.0, 00:07.1, 01:00.0, 40:00.0, 40:01.1, 40:03.1 that no -nn line gives IDs for
  assert.deepEqual(skippedLines(inv), [2, 3, 4, 6, 7]);
  assert.match(skipped(inv)[4]!.reason, /00:07\.1, 01:00\.0 are not listed/);
});

test('virsh nodedev-dumpxml: address, IDs, class, driver, IOMMU group (members included), topology from <path>', () => {
  const inv = load('nodedev-dumpxml.txt');
  assert.equal(inv.functions.length, 2);
  assert.deepEqual(groupsOf(inv), [[21, ['0a:00.0', '0a:00.1']], [24, ['0c:00.3']]]);
  const gpu = fn(inv, '0000:0a:00.0');
  assert.deepEqual([gpu.vendorId, gpu.deviceId, gpu.class, gpu.driver], ['1002', '73bf', '030000', 'vfio-pci']);
  assert.deepEqual(gpu.parentChain, ['0000:00:03.1']);
  assert.equal(gpu.names.vendor, 'Advanced Micro Devices, Inc. [AMD/ATI]');
  assert.equal(fn(inv, '0000:0c:00.3').class, '0c0330', 'prog-if from the class');
  assert.equal(inv.groups[0]!.isolation, 'isolated', '0a:00.1 is a member without IDs: an endpoint of the same device');
  assert.deepEqual(skippedLines(inv), [52]);
  assert.match(skipped(inv)[0]!.reason, /lines 52-60.*not a PCI device \(capability net\)/);
  const u = src(inv).unknown;
  assert.ok(!u.includes('IOMMU groups') && !u.includes('drivers in use') && !u.includes('topology (parent bridges)') && !u.some((x) => x.startsWith('programming interface')));
});

test('nodedev-dumpxml: a broken document is reported with its line range; its group members stay in the group', () => {
  const inv = load('nodedev-broken.txt');
  assert.equal(inv.functions.length, 1);
  assert.deepEqual(groupsOf(inv), [[2, ['00:01.0', '01:00.0', '01:00.1']]]);
  assert.deepEqual(skippedLines(inv), [20]);
  assert.match(skipped(inv)[0]!.reason, /lines 20-31.*not well-formed XML/);
});

test('concatenated pastes of one host merge: groups from the listing, drivers from lspci -nnk; the same line twice is no conflict', () => {
  const inv = load('concatenated-merge.txt');
  assert.equal(inv.functions.length, 7);
  assert.deepEqual(groupsOf(inv), [[1, ['00:01.0', '01:00.0', '01:00.1']], [7, ['00:1f.0', '00:1f.2', '00:1f.3', '00:1f.4']]]);
  assert.deepEqual(skipped(inv), []);
  assert.equal(fn(inv, '0000:01:00.0').driver, 'nvidia');
  assert.equal(fn(inv, '0000:01:00.0').iommuGroup, 1);
  assert.equal(src(inv).format, 'iommu-groups-inline+lspci-nnk');
  assert.deepEqual(src(inv).unknownFor, [{ fact: 'drivers in use', addresses: ['0000:00:1f.0', '0000:00:1f.2', '0000:00:1f.3', '0000:00:1f.4'] }]);
});

test('concatenated pastes that disagree: each conflicting line is reported and the first reading kept', () => {
  const inv = load('concatenated-conflict.txt');
  assert.equal(inv.functions.length, 4);
  assert.deepEqual(groupsOf(inv), [[12, ['03:00.0', '03:00.1', '03:00.2']], [13, ['04:00.0']]]);
  assert.deepEqual(skippedLines(inv), [5, 6, 7, 8]);
  assert.match(skipped(inv)[1]!.reason, /^conflicts with line 1: 03:00\.0 IOMMU group 12 there, 14 here/);
  assert.match(skipped(inv)[3]!.reason, /^conflicts with line 4: 04:00\.0 is \[10ec:8168\]/);
  assert.equal(fn(inv, '0000:04:00.0').class, '020000');
  assert.equal(fn(inv, '0000:03:00.0').driver, 'vfio-pci');
});

test('find /sys/kernel/iommu_groups output with lspci -nn: groups from the paths, IDs from lspci', () => {
  const inv = load('sysfs-find-with-nn.txt');
  assert.equal(inv.functions.length, 6);
  assert.deepEqual(groupsOf(inv), [[0, ['00:00.0']], [1, ['00:01.0', '01:00.0', '01:00.1']], [2, ['00:02.0']], [3, ['00:14.0', '00:14.2']]]);
  assert.equal(inv.groups.find((g) => g.id === 3)!.isolation, 'isolated', '00:14.2 (no IDs in the paste) is a member of the same device');
  assert.deepEqual(skipped(inv), []);
  assert.equal(src(inv).format, 'iommu-groups-sysfs+lspci-nn');
});

test('HTML export: <br> separated records, CRLF, &gt; quotes; the leftover <b> line is reported', () => {
  const inv = load('html-br-crlf.txt');
  assert.deepEqual(groupsOf(inv), [[2, ['00:02.0']], [3, ['00:04.0']], [9, ['01:00.0']], [10, ['02:00.0']]]);
  assert.deepEqual(skipped(inv).map((s) => [s.line, s.text]), [[3, '<b>thanks!</b>']]);
});

test('grep --color output: colour escapes removed, -- separators understood, a control-character line reported escaped', () => {
  const inv = load('grep-color-escapes.txt');
  assert.deepEqual(inv.functions.map((f) => [f.address, f.driver]), [['0000:00:02.0', 'i915'], ['0000:01:00.0', 'nvidia']]);
  assert.deepEqual(skipped(inv).map((s) => [s.line, s.text]), [[11, '\\x07\\x01pasted junk']]);
});

test('heading variants (### Group N ###, Group N:, IOMMU Group: N), digits run into the address, hand notes reported', () => {
  const inv = load('heading-variants.txt');
  assert.equal(inv.functions.length, 8);
  assert.deepEqual(groupsOf(inv), [[0, ['00:00.0']], [1, ['00:01.0', '00:14.0']], [2, ['00:01.1', '01:00.0', '01:00.1']], [11, ['00:14.3']]]);
  assert.equal(fn(inv, '0000:00:08.1').iommuGroup, null, 'a bare lspci line after group lines is not in a group');
  assert.deepEqual(skippedLines(inv), [9, 12]);
  assert.match(skipped(inv)[0]!.reason, /indented text under a device/);
  assert.match(skipped(inv)[1]!.reason, /not an `lspci -nn` line/);
});

test('an ambiguous group number is reported, not guessed', () => {
  const text = 'IOMMU Group 10000:00:14.0 USB controller [0c03]: Intel Corporation USB [8086:a36d]\n00:02.0 VGA compatible controller [0300]: Intel Corporation GPU [8086:5912]\n';
  const inv = importListing(text, 't', null);
  assert.deepEqual(inv.functions.map((f) => f.address), ['0000:00:02.0']);
  assert.match(skipped(inv)[0]!.reason, /ambiguous: .*group 10000 00:14\.0 or group 1 0000:00:14\.0/);
});

test('nothing usable: a UsageError naming the first lines not understood', () => {
  for (const text of ['my gpu does not work\nplease help\n', '-[0000:00]-+-00.0  Intel Corporation Host bridge\n', '']) {
    assert.throws(() => importListing(text, 'p.txt', null), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /no PCI function with IDs/.test(e.message) && /lspci -nn/.test(e.remedy ?? ''));
  }
  assert.throws(() => importListing('hello\n', 'p.txt', null), /line 1: not a line of any listing/);
});

test('every line is accounted for: many lines not understood are capped with a count', () => {
  const junk = Array.from({ length: 700 }, (_, i) => `junk ${i}`).join('\n');
  const inv = importListing(`01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n${junk}\n`, 't', null);
  const s = skipped(inv);
  assert.equal(s.length, 501);
  assert.equal(s[499]!.line, 501);
  assert.equal(s[500]!.reason, 'and 200 more lines not understood (not listed)');
});

test('hostile nodedev XML (entities, oversize) is reported, not expanded', () => {
  const bomb = '<!DOCTYPE d [<!ENTITY a "aaaa">]>\n<device><name>&a;</name></device>\n01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n';
  const inv = importListing(bomb, 't', null);
  assert.equal(inv.functions.length, 1);
  assert.match(skipped(inv).map((s) => s.reason).join('\n'), /DOCTYPE|not a line/);
  const big = `<device>\n${'  <x/>\n'.repeat(12000)}</device>\n01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n`;
  const inv2 = importListing(big, 't', null);
  assert.equal(inv2.functions.length, 1);
  assert.match(skipped(inv2)[0]!.reason, /longer than/);
});
