import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';

// The bundled desktop-gpu sample: NVIDIA GPU 01:00.0 (+ audio 01:00.1, root port 00:01.0 in group 1) is the
// boot VGA; the e1000e NIC 03:00.0 is alone in group 7.
const S = ['--sample-host', 'desktop-gpu'];

interface PlanJson {
  version: number;
  request: string[];
  claim: string[];
  hostSide: string[];
  verdict: string;
  findings: { id: string; severity: string; summary: string; remedy?: string }[];
  steps: { id: string; kind: string; needsReboot: boolean }[];
}

test('plan --json: the documented contract, whole group claimed, root port on the host side, exit 3 when blocked', async () => {
  const r = await runCli([...S, 'plan', '01:00.0', '--guest', 'win11', '--json']);
  assert.equal(r.code, 3);
  const j = r.json<PlanJson>();
  assert.equal(j.version, 1);
  assert.deepEqual(j.request, ['0000:01:00.0']);
  assert.deepEqual(j.claim, ['0000:01:00.0', '0000:01:00.1']);
  assert.deepEqual(j.hostSide, ['0000:00:01.0']);
  assert.equal(j.verdict, 'blocked');
  assert.ok(j.findings.some((f) => f.id === 'host-impact-console-gpu' && f.severity === 'fail' && f.remedy));
  for (const f of j.findings) assert.deepEqual(Object.keys(f).filter((k) => ['id', 'severity', 'summary'].includes(k)).sort(), ['id', 'severity', 'summary']);
  assert.ok(j.steps.every((s) => typeof s.id === 'string' && ['runtime', 'persistent', 'both'].includes(s.kind) && typeof s.needsReboot === 'boolean'));
});

test('plan --force accepts the console GPU loss: verdict warn, exit 0', async () => {
  const r = await runCli([...S, 'plan', '01:00.0', '--force', '--json']);
  assert.equal(r.code, 0);
  assert.equal(r.json<PlanJson>().verdict, 'warn');
});

test('plan human output: verdict, claim table, host side, findings with remedies, steps with reboot markers, no colour', async () => {
  const r = await runCli([...S, 'plan', '0000:01:00.0'], { env: { NO_COLOR: '1' }, isTTY: true });
  assert.equal(r.code, 3);
  assert.match(r.stdout, /BLOCKED/);
  assert.match(r.stdout, /move to vfio-pci:/);
  assert.match(r.stdout, /0000:01:00\.1 .*same device/);
  assert.match(r.stdout, /stay on the host[^\n]*\n\s+0000:00:01\.0/);
  assert.match(r.stdout, /remedy: /);
  assert.match(r.stdout, /needs reboot/);
  assert.ok(!r.stdout.includes('\u001b['), 'NO_COLOR means no escape sequences');
  const colored = await runCli([...S, 'plan', '0000:01:00.0'], { isTTY: true, env: { TERM: 'xterm' } });
  assert.ok(colored.stdout.includes('\u001b['), 'a terminal without NO_COLOR gets colour');
});

test('plan of an isolated NIC is ok, with ordered runtime binding steps', async () => {
  const r = await runCli([...S, 'plan', 'pci_0000_03_00_0', '--json']);
  assert.equal(r.code, 0);
  const j = r.json<PlanJson>();
  assert.equal(j.verdict, 'ok');
  assert.deepEqual(j.steps.map((s) => s.id).slice(-2), ['load-vfio-pci', 'bind-0000:03:00.0']);
});

test('usage errors exit 2 with a remedy: malformed address, path tricks, bad --rom-bar, unknown format', async () => {
  for (const argv of [
    [...S, 'plan', '01:00.9'],
    [...S, 'plan', '../../etc/passwd'],
    [...S, 'plan', '03:00.0', '--rom-bar', 'maybe'],
    [...S, 'render', 'xen', '03:00.0'],
    [...S, 'render', 'libvirt', '03:00.0', '--machine', 'virt'],
  ]) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /remedy: /, argv.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const j = await runCli([...S, 'plan', 'zz:00.0', '--json']);
  assert.equal(j.code, 2);
  assert.equal(j.json<{ error: { code: string } }>().error.code, 'bad-address');
});

test('render libvirt prints hostdevs; render --json wraps the text; blocked renders still print but exit 3', async () => {
  const ok = await runCli([...S, 'render', 'libvirt', '03:00.0', '--guest', 'router']);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /<hostdev mode='subsystem' type='pci' managed='yes'>/);
  assert.match(ok.stdout, /<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'\/>/);
  const j = await runCli([...S, 'render', 'virsh', '03:00.0', '--json']);
  const doc = j.json<{ version: number; format: string; verdict: string; text: string }>();
  assert.equal(doc.format, 'virsh');
  assert.match(doc.text, /virsh attach-device GUEST hostdev-0000_03_00_0\.xml --config/);
  const blocked = await runCli([...S, 'render', 'qemu', '01:00.0']);
  assert.equal(blocked.code, 3);
  assert.match(blocked.stdout, /-device vfio-pci,host=0000:01:00\.0/);
  assert.match(blocked.stderr, /blocked/);
});

test('render host-config on the sample reads its boot loader facts; qemu-nested turns nested on', async () => {
  const hc = await runCli([...S, 'render', 'host-config', '03:00.0']);
  assert.equal(hc.code, 0);
  assert.match(hc.stdout, /options vfio-pci ids=8086:10d3/);
  assert.match(hc.stdout, /softdep e1000e pre: vfio-pci/);
  const n = await runCli([...S, 'render', 'qemu-nested', '03:00.0']);
  assert.match(n.stdout, /intel-iommu,intremap=on,caching-mode=on,device-iotlb=on/);
  const k = await runCli([...S, 'render', 'kubevirt', '03:00.0']);
  assert.match(k.stdout, /pciVendorSelector: 8086:10D3/);
});

test('plan --from an imported lspci -nn listing: planned without groups, with a warning', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-from-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'lspci.txt');
  fs.writeFileSync(file, [
    '00:00.0 Host bridge [0600]: Intel Corporation 8th Gen Core Processor Host Bridge/DRAM Registers [8086:3ec2] (rev 07)',
    '01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [GeForce GTX 1070] [10de:1b81] (rev a1)',
    '01:00.1 Audio device [0403]: NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] (rev a1)',
    '',
  ].join('\n'));
  const r = await runCli(['plan', '01:00.0', '--from', file, '--json']);
  assert.notEqual(r.code, 2, r.stderr);
  const j = r.json<PlanJson>();
  assert.ok(j.claim.includes('0000:01:00.0'));
  assert.ok(j.findings.some((f) => f.id === 'groups-unknown' || f.id === 'group-functions-added'));
  assert.ok(j.findings.some((f) => f.id === 'nvidia-consumer-gpu'));
});

test('render libvirt --nested --viommu virtio|smmuv3; --viommu needs --nested and a known model', async () => {
  const v = await runCli([...S, 'render', 'libvirt-domain', '03:00.0', '--nested', '--viommu', 'virtio']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /<iommu model='virtio'\/>/);
  assert.match(v.stderr, /virtio-iommu .*remaps no interrupts on x86/, 'the plan\'s warning is shown');
  const s = await runCli([...S, 'render', 'libvirt', '03:00.0', '--nested', '--viommu', 'smmuv3']);
  assert.match(s.stdout, /<iommu model='smmuv3'\/>/);
  const i = await runCli([...S, 'render', 'libvirt', '03:00.0', '--nested']);
  const i2 = await runCli([...S, 'render', 'libvirt', '03:00.0', '--nested', '--viommu', 'intel']);
  assert.equal(i2.stdout, i.stdout);
  const noNested = await runCli([...S, 'render', 'libvirt', '03:00.0', '--viommu', 'virtio']);
  assert.equal(noNested.code, 2);
  assert.match(noNested.stderr, /--viommu chooses the virtual IOMMU of a nested guest/);
  const bad = await runCli([...S, 'render', 'libvirt', '03:00.0', '--nested', '--viommu', 'amd']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /use one of: intel, virtio, smmuv3/);
  const qemu = await runCli([...S, 'render', 'qemu-nested', '03:00.0', '--viommu', 'virtio']);
  assert.equal(qemu.code, 2);
  assert.match(qemu.stderr, /libvirt and libvirt-domain only/);
});
