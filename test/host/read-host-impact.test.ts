import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostImpact, parseFibTrieLocal, parseIomemFramebuffers, parseMountinfo, unescapeMount } from '../../src/host/read-host-impact.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { planPassthrough } from '../../src/core/plan.js';
import type { PciAddressString } from '../../src/model/pci-address.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';

// Paths of the desktopGpu topology's functions in sys/devices (functions nest under their bridges).
const NVME = 'devices/pci0000:00/0000:00:1b.0/0000:02:00.0';
const SATA = 'devices/pci0000:00/0000:00:17.0';
const NIC = 'devices/pci0000:00/0000:00:1c.0/0000:03:00.0';
const USB = 'devices/pci0000:00/0000:00:14.0';

function blockDev(files: Record<string, string>, links: Record<string, string>, name: string, devPath: string, devno: string, extra: Record<string, string> = {}): void {
  links[`sys/class/block/${name}`] = `../../${devPath}`;
  files[`sys/${devPath}/dev`] = `${devno}\n`;
  for (const [k, v] of Object.entries(extra)) files[`sys/${devPath}/${k}`] = v;
}

/** desktopGpu plus everything host impact reads: disks, mounts, swap, LVM, a bridged NIC, input, framebuffer. */
function hostWithUse(): HostSpec {
  const spec = desktopGpu();
  const files: Record<string, string> = { ...(spec.files as Record<string, string>) };
  const links: Record<string, string> = { ...(spec.links ?? {}) };
  blockDev(files, links, 'nvme0n1', `${NVME}/nvme/nvme0/nvme0n1`, '259:0');
  blockDev(files, links, 'nvme0n1p1', `${NVME}/nvme/nvme0/nvme0n1/nvme0n1p1`, '259:1');
  blockDev(files, links, 'nvme0n1p2', `${NVME}/nvme/nvme0/nvme0n1/nvme0n1p2`, '259:2');
  blockDev(files, links, 'dm-0', 'devices/virtual/block/dm-0', '253:0', { 'dm/name': 'vg-root\n', 'slaves/.keep': '' });
  links['sys/devices/virtual/block/dm-0/slaves/nvme0n1p2'] = `../../../../${NVME}/nvme/nvme0/nvme0n1/nvme0n1p2`;
  blockDev(files, links, 'sda', `${SATA}/ata1/host0/target0:0:0/0:0:0:0/block/sda`, '8:0');
  blockDev(files, links, 'sda1', `${SATA}/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1`, '8:1');
  blockDev(files, links, 'loop0', 'devices/virtual/block/loop0', '7:0');
  files['proc/self/mountinfo'] = [
    '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw',
    '23 22 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw',
    '24 22 8:1 / /srv/my\\040data rw,relatime shared:3 - xfs /dev/sda1 rw',
    '25 22 0:22 / /proc rw,nosuid shared:4 - proc proc rw',
    '',
  ].join('\n');
  files['proc/swaps'] = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t2097148\t\t0\t\t-2\n';
  // network: eno1 (03:00.0) is a port of br0, which has the default route and 192.168.1.10
  links['sys/class/net/eno1'] = `../../${NIC}/net/eno1`;
  links['sys/class/net/br0'] = '../../devices/virtual/net/br0';
  links['sys/class/net/lo'] = '../../devices/virtual/net/lo';
  links[`sys/${NIC}/net/eno1/upper_br0`] = '../../../../../virtual/net/br0';
  links['sys/devices/virtual/net/br0/lower_eno1'] = `../../../${NIC.slice('devices/'.length)}/net/eno1`;
  files['sys/devices/virtual/net/lo/type'] = '772\n';
  files['proc/net/route'] = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'br0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'br0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    '',
  ].join('\n');
  files['proc/net/ipv6_route'] = '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n';
  files['proc/net/if_inet6'] = '00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000a0027fffe123456 03 40 20 80      br0\n';
  files['proc/net/fib_trie'] = [
    'Main:',
    '  +-- 0.0.0.0/0 3 0 5',
    '     |-- 0.0.0.0',
    '        /0 universe UNICAST',
    '     +-- 192.168.1.0/24 2 0 2',
    '        |-- 192.168.1.0',
    '           /24 link UNICAST',
    '        |-- 192.168.1.10',
    '           /32 host LOCAL',
    'Local:',
    '  +-- 127.0.0.0/8 2 0 2',
    '     |-- 127.0.0.1',
    '        /32 host LOCAL',
    '',
  ].join('\n');
  // input: a USB keyboard and an HDA jack (not an input the host needs), a power button (no PCI)
  files['proc/bus/input/devices'] = [
    'I: Bus=0019 Vendor=0000 Product=0001 Version=0000',
    'N: Name="Power Button"',
    'S: Sysfs=/devices/LNXSYSTM:00/LNXPWRBN:00/input/input0',
    'H: Handlers=kbd event0',
    'B: EV=3',
    '',
    'I: Bus=0003 Vendor=046d Product=c31c Version=0110',
    'N: Name="Logitech USB Keyboard"',
    `S: Sysfs=/${USB}/usb1/1-2/1-2:1.0/0003:046D:C31C.0001/input/input3`,
    'H: Handlers=sysrq kbd leds event3',
    'B: EV=120013',
    '',
    'I: Bus=0000 Vendor=0000 Product=0000 Version=0000',
    'N: Name="HDA Intel PCH Headphone"',
    'S: Sysfs=/devices/pci0000:00/0000:00:1f.3/sound/card0/input7',
    'H: Handlers=event7',
    'B: EV=21',
    '',
  ].join('\n');
  // framebuffer: efifb (platform device) whose memory sits in the GPU's BAR
  files['proc/fb'] = '0 EFI VGA\n';
  links['sys/class/graphics/fb0'] = '../../devices/platform/efi-framebuffer.0/graphics/fb0';
  files['proc/iomem'] = [
    '00000000-00000fff : Reserved',
    'c0000000-fec7ffff : PCI Bus 0000:00',
    '  d0000000-e1ffffff : PCI Bus 0000:01',
    '    d0000000-dfffffff : 0000:01:00.0',
    '      d0000000-d02fffff : efifb',
    '  f7000000-f70fffff : PCI Bus 0000:02',
    '    f7000000-f7003fff : 0000:02:00.0',
    '      f7000000-f7003fff : nvme',
    '',
  ].join('\n');
  files['proc/cpuinfo'] = 'processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n';
  files['proc/sys/kernel/osrelease'] = '6.1.0-18-amd64\n';
  files['lib/modules/6.1.0-18-amd64/modules.builtin'] = 'kernel/drivers/iommu/intel/iommu.ko\nkernel/drivers/vfio/vfio.ko\n';
  return { ...spec, files, links };
}

const A = (s: string): PciAddressString => s as PciAddressString;

test('reads disks (partitions, LVM slaves), mounts by major:minor, swap files, and their PCI functions', (t) => {
  const tree = makeTempHostTree(hostWithUse());
  t.after(tree.cleanup);
  const facts = readHostImpact(new HostRoot(tree.root));
  assert.deepEqual(facts.problems, []);
  const by = new Map(facts.block.map((b) => [b.name, b]));
  assert.ok(!by.has('loop0'), 'virtual block devices without PCI are left out');
  assert.deepEqual(by.get('dm-0')?.pciAncestors, ['0000:00:1b.0', '0000:02:00.0']);
  assert.deepEqual(by.get('dm-0')?.mounts, [{ mountPoint: '/', fsType: 'ext4', source: '/dev/mapper/vg-root' }]);
  assert.equal(by.get('dm-0')?.swap, true, '/swapfile lives on the root filesystem');
  assert.deepEqual(by.get('nvme0n1p1')?.mounts.map((m) => m.mountPoint), ['/boot/efi']);
  assert.deepEqual(by.get('sda1')?.mounts.map((m) => m.mountPoint), ['/srv/my data']);
  assert.deepEqual(by.get('sda1')?.pciAncestors, ['0000:00:17.0']);
  assert.equal(facts.cpuVendor, 'intel');
  assert.equal(facts.kernel.vfioPciBuiltin, false);
  assert.equal(facts.kernel.release, '6.1.0-18-amd64');
});

test('reads the default route and addresses through a bridge down to the PCI NIC', (t) => {
  const tree = makeTempHostTree(hostWithUse());
  t.after(tree.cleanup);
  const facts = readHostImpact(new HostRoot(tree.root));
  assert.deepEqual(facts.net.map((n) => n.name), ['eno1'], 'virtual interfaces are folded into their physical ports');
  const eno1 = facts.net[0]!;
  assert.equal(eno1.device, '0000:03:00.0');
  assert.equal(eno1.defaultRoute, true);
  assert.deepEqual(eno1.upper, ['br0']);
  assert.ok(eno1.addresses.includes('192.168.1.10'));
  assert.ok(eno1.addresses.some((a) => a.startsWith('fe80:')));
});

test('reads keyboards (not audio jacks) and the firmware framebuffer owner from iomem', (t) => {
  const tree = makeTempHostTree(hostWithUse());
  t.after(tree.cleanup);
  const facts = readHostImpact(new HostRoot(tree.root));
  assert.deepEqual(facts.inputs.map((i) => [i.name, i.kind, i.pciAncestors.at(-1)]), [
    ['Logitech USB Keyboard', 'keyboard', '0000:00:14.0'],
    ['HDA Intel PCH Headphone', 'other', '0000:00:1f.3'],
  ]);
  assert.deepEqual(facts.framebuffers, [{ name: 'fb0', driver: 'EFI VGA', pci: '0000:01:00.0', via: 'iomem' }]);
});

test('plan on the real tree: each host use blocks the function it depends on, and says what is lost', (t) => {
  const tree = makeTempHostTree(hostWithUse());
  t.after(tree.cleanup);
  const host = new HostRoot(tree.root);
  const inv = readInventory(host, { names: false });
  const impact = readHostImpact(host);
  const plan = (a: string) => planPassthrough(inv, { addresses: [A(a)] }, { impact });
  const nvme = plan('0000:02:00.0');
  assert.equal(nvme.verdict, 'blocked');
  assert.match(nvme.findings.find((f) => f.id === 'host-impact-boot-disk')?.summary ?? '', /\/, \/boot\/efi, swap/);
  const nic = plan('0000:03:00.0');
  assert.match(nic.findings.find((f) => f.id === 'host-impact-default-route')?.summary ?? '', /eno1 via br0/);
  const usb = plan('0000:00:14.0');
  assert.ok(usb.findings.some((f) => f.id === 'host-impact-input-controller'));
  const gpu = plan('0000:01:00.0');
  const g = gpu.findings.find((f) => f.id === 'host-impact-console-gpu');
  assert.ok(g?.evidence.some((e) => e.source === 'proc/iomem'));
  const sata = plan('0000:00:17.0');
  assert.ok(sata.findings.some((f) => f.id === 'host-impact-mounted-disk'));
  assert.ok(!sata.findings.some((f) => f.id === 'host-impact-boot-disk'));
  // the audio controller with only a headphone jack input is not an input controller the host needs
  const audio = plan('0000:00:1f.3');
  assert.ok(!audio.findings.some((f) => f.id === 'host-impact-input-controller'));
});

test('a host root without these files: sources marked unchecked, no problems invented', (t) => {
  const tree = makeTempHostTree({ functions: [] });
  t.after(tree.cleanup);
  const facts = readHostImpact(new HostRoot(tree.root));
  assert.deepEqual(facts.sources, { mounts: false, block: false, routes: false, framebuffers: false, inputs: false });
  assert.equal(facts.cpuVendor, null);
});

test('an unreadable mount table is reported as a problem, not as "nothing mounted"', (t) => {
  const spec = hostWithUse();
  const tree = makeTempHostTree({ ...spec, unreadableFiles: ['proc/self/mountinfo', 'proc/mounts'] });
  t.after(tree.cleanup);
  const facts = readHostImpact(new HostRoot(tree.root));
  assert.ok(facts.problems.some((p) => p.path === 'proc/self/mountinfo'));
  assert.equal(facts.sources.mounts, false);
});

test('parsers: mountinfo escapes, fib_trie local entries, nested iomem', () => {
  assert.equal(unescapeMount('/a\\040b\\011c'), '/a b\tc');
  assert.deepEqual(parseMountinfo('1 0 8:1 / /x rw shared:1 master:2 - ext4 /dev/sda1 rw'), [{ devno: '8:1', mountPoint: '/x', fsType: 'ext4', source: '/dev/sda1' }]);
  assert.deepEqual(parseFibTrieLocal('     |-- 10.0.0.5\n        /32 host LOCAL\n     |-- 10.0.0.0\n        /24 link UNICAST\n'), ['10.0.0.5']);
  assert.deepEqual(parseIomemFramebuffers('a-b : 0000:0a:00.0\n  a-b : BOOTFB\nc-d : efifb\n'), [{ region: 'BOOTFB', pci: '0000:0a:00.0' }]);
});
