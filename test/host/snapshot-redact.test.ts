/**
 * `vfioctl snapshot OUT [--redact]`: the summary of what a snapshot holds, the redaction of identifying
 * data (addresses, names, serials, kernel addresses), unchanged verdicts when a redacted snapshot is
 * replayed, and owner-only permissions.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';
import { runCli } from '../support/cli.js';
import { SnapshotRedactor, describeSnapshotContents } from '../../src/host/snapshot-redact.js';
import { openSnapshotArchive } from '../../src/host/snapshot.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-redact-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
const noIds = { VFIOCTL_PCI_IDS: '', NO_COLOR: '1' };

const NIC = 'devices/pci0000:00/0000:00:1c.0/0000:03:00.0';
const NVME = 'devices/pci0000:00/0000:00:1b.0/0000:02:00.0';
const HOSTNAME = 'alice-ws.corp.example.org';
// kernel addresses are looked for as they appear in proc/iomem ("d0000000-"): a bare 'd0000000' also
// matches a redacted IPv6 route whose mapped prefix ends in d and whose zero host bits follow it (3 snapshots
// in 12 when measured), which is not a leak
const SECRETS = [
  '192.168.1.10', '192.168.1.1', '10.20.30.40', '20010db8', '0a0027fffe123456', 'aa:bb:cc:dd:ee:01', 'AA:BB:CC:DD:EE:02',
  '3f1c0b2e-6b7a-4a4e-9c59-0d1e2f3a4b5c', 'alice', 'corp.example', 'SN-1234567', 'ffffffffc0a00000', 'd0000000-', 'fec7ffff',
];

/** desktopGpu plus the identifying data a real host has in what vfioctl reads. */
function leakyHost(): HostSpec {
  const spec = desktopGpu();
  const files: Record<string, string> = { ...(spec.files as Record<string, string>) };
  const links: Record<string, string> = { ...(spec.links ?? {}) };
  links['sys/class/block/nvme0n1'] = `../../${NVME}/nvme/nvme0/nvme0n1`;
  files[`sys/${NVME}/nvme/nvme0/nvme0n1/dev`] = '259:0\n';
  links['sys/class/block/nvme0n1p2'] = `../../${NVME}/nvme/nvme0/nvme0n1/nvme0n1p2`;
  files[`sys/${NVME}/nvme/nvme0/nvme0n1/nvme0n1p2/dev`] = '259:2\n';
  files['proc/self/mountinfo'] = [
    '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
    '30 22 259:2 /home /home/alice rw,relatime shared:5 - ext4 /dev/nvme0n1p2 rw',
    '31 22 0:50 / /mnt/nas rw,relatime shared:6 - nfs4 10.20.30.40:/export rw,addr=10.20.30.40',
    '',
  ].join('\n');
  files['proc/swaps'] = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
  links['sys/class/net/eno1'] = `../../${NIC}/net/eno1`;
  links['sys/class/net/lo'] = '../../devices/virtual/net/lo';
  files['sys/devices/virtual/net/lo/type'] = '772\n';
  files[`sys/${NIC}/net/eno1/type`] = '1\n';
  files['proc/net/route'] = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eno1\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eno1\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    '',
  ].join('\n');
  files['proc/net/ipv6_route'] = [
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000a0027fffe123456 00000400 00000001 00000000 00000003     eno1',
    '20010db8000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eno1',
    '',
  ].join('\n');
  files['proc/net/if_inet6'] = '00000000000000000000000000000001 01 80 10 80       lo\n20010db8000000010a0027fffe123456 02 40 00 00     eno1\nfe800000000000000a0027fffe123456 02 40 20 80     eno1\n';
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
  files['proc/bus/input/devices'] = [
    'I: Bus=0005 Vendor=046d Product=b35f Version=0013',
    'N: Name="MX Keys"',
    'P: Phys=aa:bb:cc:dd:ee:01',
    'S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/bluetooth/hci0/hci0:1/0005:046D:B35F.0001/input/input9',
    'U: Uniq=AA:BB:CC:DD:EE:02',
    'H: Handlers=sysrq kbd leds event9',
    '',
    'I: Bus=0003 Vendor=046d Product=c31c Version=0110',
    'N: Name="Logitech USB Keyboard"',
    'S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:046D:C31C.0002/input/input3',
    'U: Uniq=SN-1234567',
    'H: Handlers=sysrq kbd leds event3',
    '',
  ].join('\n');
  files['proc/fb'] = '0 EFI VGA\n';
  links['sys/class/graphics/fb0'] = '../../devices/platform/efi-framebuffer.0/graphics/fb0';
  files['proc/iomem'] = [
    '00000000-00000fff : Reserved',
    '00100000-3fffffff : System RAM',
    '  0a000000-0b000000 : Kernel code',
    'c0000000-fec7ffff : PCI Bus 0000:00',
    '  d0000000-e1ffffff : PCI Bus 0000:01',
    '    d0000000-dfffffff : 0000:01:00.0',
    '      d0000000-d02fffff : efifb',
    '',
  ].join('\n');
  files['proc/modules'] = 'vfio_pci 16384 0 - Live 0xffffffffc0a00000\nnvidia 56987648 0 - Live 0xffffffffc1000000 (POE)\n';
  files['proc/cmdline'] = `BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=3f1c0b2e-6b7a-4a4e-9c59-0d1e2f3a4b5c ro quiet ip=192.168.1.10::192.168.1.1:255.255.255.0:${HOSTNAME}:eno1:off\n`;
  files['etc/default/grub'] = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="root=UUID=3f1c0b2e-6b7a-4a4e-9c59-0d1e2f3a4b5c"\n';
  files['proc/sys/kernel/hostname'] = `${HOSTNAME}\n`;
  files['etc/hostname'] = 'alice-ws\n';
  files['proc/cpuinfo'] = 'processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n';
  files['proc/sys/kernel/osrelease'] = '6.1.0-18-amd64\n';
  return { ...spec, files, links };
}

function allText(dir: string): string {
  let out = '';
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out += `\n${p}\n${fs.readFileSync(p, 'latin1')}`;
    }
  };
  walk(dir);
  return out;
}

test('snapshot prints what it holds and warns about network addresses; --redact removes them and says how many', async () => {
  const t = makeTempHostTree(leakyHost());
  cleanups.push(t.cleanup);
  const plain = path.join(tmp(), 'plain');
  const p = await runCli(['snapshot', plain, '--root', t.root], { env: noIds });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /it holds:/);
  assert.match(p.stdout, /network: routes, local and IPv6 addresses \(proc\/net\)\s+\(IP addresses, routes, gateways\)/);
  assert.match(p.stdout, /physical memory map \(proc\/iomem\)/);
  assert.match(p.stdout, /it contains network addresses, host and device identifiers: .*--redact/);
  const plainText = allText(plain);
  for (const s of SECRETS) assert.ok(plainText.includes(s), `the plain snapshot carries ${s} (the test host is leaky)`);

  const red = path.join(tmp(), 'red');
  const r = await runCli(['snapshot', red, '--redact', '--root', t.root], { env: noIds });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /redacted: .*ipv4.*mac.*uuid.*hostname.*home.*serial.*kernel-address/);
  const text = allText(red);
  const where = (s: string): string => text.split('\n/').find((chunk) => chunk.toLowerCase().includes(s.toLowerCase()))?.split('\n')[0] ?? '?';
  for (const s of SECRETS) assert.ok(!text.toLowerCase().includes(s.toLowerCase()), `${s} is still in the redacted snapshot (in /${where(s)})`);
  const manifest = JSON.parse(fs.readFileSync(path.join(red, 'vfioctl-snapshot.json'), 'utf8')) as { hostname: unknown; redacted?: boolean };
  assert.equal(manifest.hostname, null);
  assert.equal(manifest.redacted, true);
  // the structure the readers need is kept
  assert.match(fs.readFileSync(path.join(red, 'proc/iomem'), 'latin1'), /^ {4}00000000-00000000 : 0000:01:00\.0\n {6}00000000-00000000 : efifb$/m);
  assert.match(fs.readFileSync(path.join(red, 'proc/net/fib_trie'), 'latin1'), /127\.0\.0\.1\n\s+\/32 host LOCAL/);
  const j = await runCli(['snapshot', path.join(tmp(), 'j'), '--redact', '--json', '--root', t.root], { env: noIds });
  const jj = j.json<{ contents: { area: string; files: number }[]; redactions: Record<string, number> }>();
  assert.ok(jj.contents.some((c) => c.area.startsWith('network') && c.files >= 4));
  assert.ok((jj.redactions.ipv4 ?? 0) > 0 && (jj.redactions.ipv6 ?? 0) > 0 && (jj.redactions.mac ?? 0) >= 1 && (jj.redactions.serial ?? 0) >= 2, JSON.stringify(jj.redactions));
});

test('a redacted snapshot replays to the same ls/groups/doctor/plan verdicts as the host', async () => {
  const t = makeTempHostTree(leakyHost());
  cleanups.push(t.cleanup);
  for (const archive of [false, true]) {
    const out = path.join(tmp(), archive ? 'red.tar.gz' : 'red');
    assert.equal((await runCli(['snapshot', out, '--redact', '--root', t.root], { env: noIds })).code, 0);
    for (const cmd of [['ls'], ['groups'], ['doctor'], ['doctor', '01:00.0'], ['plan', '01:00.0'], ['plan', '03:00.0'], ['plan', '02:00.0']]) {
      const live = await runCli([...cmd, '--json', '--root', t.root], { env: noIds });
      const replay = await runCli([...cmd, '--json', '--root', out], { env: noIds });
      assert.equal(replay.code, live.code, cmd.join(' '));
      // everything but the host root, user names in paths and the raw text quoted as evidence (redacted)
      const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(o, function (this: unknown, k, v: unknown) {
        if (k === 'source' || k === 'root') return undefined;
        if (k === 'value' && this && typeof this === 'object' && 'source' in this) return undefined;
        // a mount point under /home names its user: redacted on one side
        return typeof v === 'string' ? v.split(t.root).join('ROOT').split(out).join('ROOT').replace(/\/home\/(alice|u-[0-9a-f]{6})/g, '/home/USER') : v;
      }));
      assert.deepEqual(strip(replay.json()), strip(live.json()), `${cmd.join(' ')}: the whole JSON, the host root aside`);
    }
    // the host's network use is still seen: the NIC carrying the default route and an address
    const plan = (await runCli(['plan', '03:00.0', '--json', '--root', out], { env: noIds })).stdout;
    assert.match(plan, /default route/);
  }
});

test('archives are written 0600, directories 0700', async () => {
  const t = makeTempHostTree(leakyHost());
  cleanups.push(t.cleanup);
  const d = tmp();
  const prev = process.umask(0o022);
  try {
    assert.equal((await runCli(['snapshot', path.join(d, 'a.tar.gz'), '--root', t.root], { env: noIds })).code, 0);
    assert.equal((await runCli(['snapshot', path.join(d, 'dir'), '--root', t.root], { env: noIds })).code, 0);
  } finally {
    process.umask(prev);
  }
  assert.equal(fs.statSync(path.join(d, 'a.tar.gz')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(d, 'dir')).mode & 0o777, 0o700);
  assert.ok(fs.existsSync(path.join(openSnapshotArchive(path.join(d, 'a.tar.gz')), 'proc/iomem')));
});

test('IPv4 mapping is keyed, prefix-preserving and keeps the special addresses', () => {
  const r = new SnapshotRedactor({ key: Buffer.alloc(32, 7) });
  const ip = (s: string): number => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
  const common = (a: number, b: number): number => Math.clz32((a ^ b) >>> 0);
  const pairs = [['192.168.1.10', '192.168.1.77'], ['192.168.1.10', '192.168.200.1'], ['10.0.0.1', '10.255.0.1'], ['172.16.5.4', '172.16.5.5']];
  for (const [a, b] of pairs) assert.equal(common(r.ipv4(ip(a!)), r.ipv4(ip(b!))), common(ip(a!), ip(b!)), `${a} ${b}`);
  for (const s of ['0.0.0.0', '255.255.255.255', '127.0.0.1', '127.1.2.3']) assert.equal(r.ipv4(ip(s)), ip(s));
  assert.notEqual(r.ipv4(ip('192.168.1.10')), ip('192.168.1.10'));
  for (let k = 0; k < 2000; k++) {
    const v = ((k * 2654435761) >>> 0) | 0x01000000;
    if (v >>> 24 !== 127) assert.notEqual(r.ipv4(v) >>> 24, 127, 'nothing else lands in 127/8');
  }
  assert.notEqual(new SnapshotRedactor().ipv4(ip('192.168.1.10')), new SnapshotRedactor().ipv4(ip('192.168.1.10')), 'a new key per snapshot');
  // a PCIe Device Serial Number capability is zeroed, the rest of config space kept
  const cfg = Buffer.alloc(0x200, 0);
  cfg.writeUInt32LE(0x10de, 0);
  cfg.writeUInt32LE((0x140 << 20) | (1 << 16) | 0x0001, 0x100); // AER, next 0x140
  cfg.writeUInt32LE((0 << 20) | (1 << 16) | 0x0003, 0x140); // DSN
  cfg.writeUInt32LE(0x12345678, 0x144);
  cfg.writeUInt32LE(0x9abcdef0, 0x148);
  const out = r.redact('sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/config', cfg);
  assert.equal(out.readUInt32LE(0x144), 0);
  assert.equal(out.readUInt32LE(0x148), 0);
  assert.equal(out.readUInt32LE(0x140), cfg.readUInt32LE(0x140));
  assert.equal(out.readUInt32LE(0), 0x10de);
  assert.deepEqual(describeSnapshotContents(['proc/net/route', 'proc/iomem', 'sys/kernel/iommu_groups/1/type', 'weird']).map((a) => a.files), [1, 1, 1, 1]);
});
