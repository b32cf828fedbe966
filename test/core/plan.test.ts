import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPassthrough, modprobeContent } from '../../src/core/plan.js';
import { canonicalPciAddress, type PciAddressString } from '../../src/model/pci-address.js';
import { parseKernelCmdline } from '../../src/model/kernel-cmdline.js';
import type { PlanRequest } from '../../src/model/plan.js';
import {
  buildInventory, chipsetShared, desktopGpu, gpuWithRootPort, impactFacts, platformGroup, sriovNic, twoIdenticalGpus,
} from '../support/inventory-builder.js';

const A = (s: string): PciAddressString => canonicalPciAddress(s) as PciAddressString;
const req = (addrs: string[], extra: Partial<PlanRequest> = {}): PlanRequest => ({ addresses: addrs.map(A), ...extra });
const ids = (p: { findings: { id: string }[] }): string[] => p.findings.map((f) => f.id);

test('GPU + audio in one group: requesting the GPU claims the audio function too (same device, info)', () => {
  const p = planPassthrough(desktopGpu(), req(['01:00.0']), { impact: impactFacts() });
  assert.deepEqual(p.request, ['0000:01:00.0']);
  assert.deepEqual(p.claim, ['0000:01:00.0', '0000:01:00.1']);
  assert.deepEqual(p.hostSide, ['0000:00:01.0']);
  assert.ok(ids(p).includes('group-functions-added'));
  assert.ok(!ids(p).includes('group-devices-added'));
  assert.equal(p.functions.find((f) => f.address === '0000:01:00.1')?.reason, 'same-device');
  assert.deepEqual(p.slots, [{ device: '0000:01:00', functions: ['0000:01:00.0', '0000:01:00.1'], multifunction: true }]);
  // NVIDIA consumer GPU: warn + hidden KVM features
  assert.ok(ids(p).includes('nvidia-consumer-gpu'));
  assert.equal(p.features.kvmHidden, true);
  assert.equal(p.verdict, 'warn');
  // GPU ROM kept (display), audio has none
  assert.equal(p.functions[0]?.romBar, null);
});

test('--exact refuses to add group members and blocks, naming them', () => {
  const p = planPassthrough(desktopGpu(), req(['01:00.0'], { exact: true }), { impact: impactFacts() });
  assert.equal(p.verdict, 'blocked');
  const f = p.findings.find((x) => x.id === 'group-member-not-requested');
  assert.ok(f);
  assert.deepEqual(f.subjects, ['0000:01:00.1']);
  assert.match(f.remedy ?? '', /01:00\.0 0000:01:00\.1/);
  assert.deepEqual(p.claim, ['0000:01:00.0']);
});

test('GPU sharing its group with its root port: port stays on the host, GPU + audio claimed, AMD reset warning', () => {
  const p = planPassthrough(gpuWithRootPort(), req(['08:00.0', '08:00.1']), { impact: impactFacts() });
  assert.deepEqual(p.claim, ['0000:08:00.0', '0000:08:00.1']);
  assert.deepEqual(p.hostSide, ['0000:00:03.0']);
  assert.deepEqual(p.groups, [{ id: 40, endpoints: ['0000:08:00.0', '0000:08:00.1'], bridges: ['0000:00:03.0'] }]);
  assert.ok(ids(p).includes('amd-gpu-reset'));
  assert.ok(!ids(p).includes('nvidia-consumer-gpu'));
  assert.equal(p.features.kvmHidden, false);
});

test('requesting a bridge is refused', () => {
  const p = planPassthrough(gpuWithRootPort(), req(['00:03.0']), {});
  assert.equal(p.verdict, 'blocked');
  assert.ok(ids(p).includes('request-is-bridge'));
  assert.deepEqual(p.claim, []);
});

test('NIC sharing a chipset group with SATA and USB: SATA root disk and USB keyboard block, with what the host loses', () => {
  const facts = impactFacts({
    block: [{ name: 'sda2', pciAncestors: [A('00:01.2'), A('02:00.1')], mounts: [{ mountPoint: '/', fsType: 'ext4', source: '/dev/sda2' }], swap: false }],
    inputs: [{ id: 'input3', name: 'Logitech USB Keyboard', kind: 'keyboard', pciAncestors: [A('00:01.2'), A('02:00.0')] }],
  });
  const p = planPassthrough(chipsetShared(), req(['05:00.0']), { impact: facts });
  assert.deepEqual(p.claim, ['0000:02:00.0', '0000:02:00.1', '0000:05:00.0']);
  assert.deepEqual(p.hostSide, ['0000:00:01.2', '0000:02:00.2', '0000:03:04.0']);
  assert.equal(p.verdict, 'blocked');
  const disk = p.findings.find((f) => f.id === 'host-impact-boot-disk');
  assert.ok(disk);
  assert.equal(disk.severity, 'fail');
  assert.match(disk.summary, /holds the host's \//);
  assert.deepEqual(disk.subjects, ['0000:02:00.1']);
  assert.ok(disk.evidence.some((e) => /shares IOMMU group 10 with 0000:05:00.0/.test(e.value)));
  const kbd = p.findings.find((f) => f.id === 'host-impact-input-controller');
  assert.ok(kbd);
  assert.match(kbd.summary, /Logitech USB Keyboard/);
  assert.ok(ids(p).includes('group-devices-added'));
  // fail findings come first
  assert.equal(p.findings[0]?.severity, 'fail');
});

test('--force turns host-impact blockers into warnings but not group or request blockers', () => {
  const facts = impactFacts({
    block: [{ name: 'sda2', pciAncestors: [A('02:00.1')], mounts: [{ mountPoint: '/', fsType: 'ext4', source: '/dev/sda2' }], swap: false }],
  });
  const p = planPassthrough(chipsetShared(), req(['05:00.0'], { force: true }), { impact: facts });
  assert.equal(p.verdict, 'warn');
  assert.equal(p.findings.find((f) => f.id === 'host-impact-boot-disk')?.severity, 'warn');
  const q = planPassthrough(chipsetShared(), req(['05:00.0', '00:01.2'], { force: true }), { impact: facts });
  assert.equal(q.verdict, 'blocked');
});

test('platform group with LPC/SMBus/audio: requesting audio blocks on the platform devices', () => {
  const p = planPassthrough(platformGroup(), req(['00:1f.3']), { impact: impactFacts() });
  assert.equal(p.verdict, 'blocked');
  const plat = p.findings.filter((f) => f.id === 'host-impact-platform-device');
  assert.deepEqual(plat.map((f) => f.subjects?.[0]).sort(), ['0000:00:1f.0', '0000:00:1f.4']);
  assert.match(plat[0]!.summary, /ISA\/LPC bridge|SMBus/);
  assert.deepEqual(p.claim, ['0000:00:1f.0', '0000:00:1f.3', '0000:00:1f.4', '0000:00:1f.5']);
});

test('SR-IOV: a VF is claimed alone, identical VFs force per-address binding; the PF warns about its VFs', () => {
  const p = planPassthrough(sriovNic(), req(['03:10.0']), { impact: impactFacts() });
  assert.deepEqual(p.claim, ['0000:03:10.0']);
  assert.equal(p.binding.mode, 'per-address');
  assert.ok(ids(p).includes('identical-devices-per-address'));
  assert.ok(ids(p).includes('sriov-vf'));
  assert.ok(!ids(p).includes('multifunction-partial'));
  assert.ok(p.steps.some((s) => s.id === 'persist-driver-override'));
  assert.doesNotMatch(modprobeContent(p), /ids=/);
  const pf = planPassthrough(sriovNic(), req(['03:00.0']), { impact: impactFacts() });
  assert.ok(ids(pf).includes('sriov-pf-with-vfs'));
  assert.equal(pf.binding.mode, 'ids');
});

test('two identical GPUs: passing one binds per address; passing both binds by id', () => {
  const one = planPassthrough(twoIdenticalGpus(), req(['0a:00.0']), { impact: impactFacts() });
  assert.deepEqual(one.claim, ['0000:0a:00.0', '0000:0a:00.1']);
  assert.equal(one.binding.mode, 'per-address');
  assert.equal(one.verdict, 'ok');
  const both = planPassthrough(twoIdenticalGpus(), req(['0a:00.0', '0b:00.0'], { force: true }), { impact: impactFacts() });
  assert.equal(both.binding.mode, 'ids');
  assert.deepEqual(both.binding.ids, ['1002:73bf', '1002:ab28']);
  assert.match(modprobeContent(both), /^options vfio-pci ids=1002:73bf,1002:ab28$/m);
  assert.match(modprobeContent(both), /^softdep amdgpu pre: vfio-pci$/m);
  // 0b:00.0 is the boot VGA: console GPU warning under --force
  assert.equal(both.findings.find((f) => f.id === 'host-impact-console-gpu')?.severity, 'warn');
  const blocked = planPassthrough(twoIdenticalGpus(), req(['0b:00.0']), { impact: impactFacts() });
  assert.equal(blocked.verdict, 'blocked');
  assert.ok(ids(blocked).includes('host-impact-console-gpu'));
});

test('default-route NIC behind a bridge interface blocks; an unaddressed NIC does not', () => {
  const inv = desktopGpu();
  const facts = impactFacts({
    net: [
      { name: 'eno1', device: A('00:1f.6'), pciAncestors: [A('00:1f.6')], defaultRoute: true, addresses: ['192.168.1.10'], upper: ['br0'] },
    ],
  });
  const p = planPassthrough(inv, req(['00:1f.6']), { impact: facts });
  assert.equal(p.verdict, 'blocked');
  const f = p.findings.find((x) => x.id === 'host-impact-default-route');
  assert.match(f?.summary ?? '', /eno1 via br0/);
  const quiet = impactFacts({ net: [{ name: 'eno1', device: A('00:1f.6'), pciAncestors: [A('00:1f.6')], defaultRoute: false, addresses: ['fe80::1'], upper: [] }] });
  assert.notEqual(planPassthrough(inv, req(['00:1f.6']), { impact: quiet }).verdict, 'blocked');
  const mgmt = impactFacts({ net: [{ name: 'eno1', device: A('00:1f.6'), pciAncestors: [A('00:1f.6')], defaultRoute: false, addresses: ['10.0.0.5'], upper: [] }] });
  assert.ok(ids(planPassthrough(inv, req(['00:1f.6']), { impact: mgmt })).includes('host-impact-management-nic'));
});

test('storage: swap or /boot on an NVMe controller block; an idle disk only warns; no facts warns it was not checked', () => {
  const inv = desktopGpu();
  const swap = impactFacts({ block: [{ name: 'nvme0n1p3', pciAncestors: [A('00:1d.0'), A('02:00.0')], mounts: [], swap: true }] });
  const s = planPassthrough(inv, req(['02:00.0']), { impact: swap });
  assert.match(s.findings.find((f) => f.id === 'host-impact-boot-disk')?.summary ?? '', /swap/);
  const data = impactFacts({ block: [{ name: 'nvme0n1p1', pciAncestors: [A('02:00.0')], mounts: [{ mountPoint: '/srv/data', fsType: 'xfs', source: '/dev/nvme0n1p1' }], swap: false }] });
  assert.ok(ids(planPassthrough(inv, req(['02:00.0']), { impact: data })).includes('host-impact-mounted-disk'));
  const idle = impactFacts({ block: [{ name: 'nvme0n1', pciAncestors: [A('02:00.0')], mounts: [], swap: false }] });
  const i = planPassthrough(inv, req(['02:00.0']), { impact: idle });
  assert.equal(i.verdict, 'warn');
  assert.ok(ids(i).includes('host-impact-unmounted-disk'));
  const none = planPassthrough(inv, req(['02:00.0']), {});
  assert.ok(ids(none).includes('host-impact-storage-unchecked'));
});

test('console GPU found through a firmware framebuffer in iomem, with the BAR reservation hint', () => {
  const inv = buildInventory([{ addr: '01:00.0', id: '10de:2204', cls: '030000', group: 1, driver: 'nvidia', name: 'GA102 [GeForce RTX 3090]' }]);
  const p = planPassthrough(inv, req(['01:00.0']), { impact: impactFacts({ framebuffers: [{ name: 'fb0', driver: 'EFI VGA', pci: A('01:00.0'), via: 'iomem' }] }) });
  const f = p.findings.find((x) => x.id === 'host-impact-console-gpu');
  assert.equal(f?.severity, 'fail');
  assert.match(f?.detail ?? '', /can't reserve/);
});

test('guest limits: 32 functions warn, 33 block, existing hostdevs of the same guest count', () => {
  const specs = Array.from({ length: 33 }, (_, i) => ({ addr: `${(0x40 + i).toString(16)}:00.0`, id: '1af4:1041', cls: '020000', group: 100 + i }));
  const inv = buildInventory(specs);
  const addrs = specs.map((s) => s.addr);
  const at = planPassthrough(inv, req(addrs.slice(0, 32)), { impact: impactFacts() });
  assert.ok(ids(at).includes('guest-function-limit'));
  assert.notEqual(at.verdict, 'blocked');
  const over = planPassthrough(inv, req(addrs), { impact: impactFacts() });
  assert.equal(over.verdict, 'blocked');
  assert.ok(ids(over).includes('guest-function-limit-exceeded'));
  const existing = planPassthrough(inv, req(addrs.slice(0, 2), { guest: 'win' }), {
    impact: impactFacts(),
    otherGuests: [{ name: 'win', running: false, hostdevs: Array.from({ length: 31 }, (_, i) => `0000:${(0x90 + i).toString(16)}:00.0`) }],
  });
  assert.ok(ids(existing).includes('guest-function-limit-exceeded'));
});

test('a function listed by another guest: warning naming it, blocker while it runs', () => {
  const inv = twoIdenticalGpus();
  const stopped = planPassthrough(inv, req(['0a:00.0'], { guest: 'gaming' }), { impact: impactFacts(), otherGuests: [{ name: 'work', running: false, hostdevs: ['0000:0a:00.1'] }] });
  const f = stopped.findings.find((x) => x.id === 'assigned-to-other-guest');
  assert.equal(f?.severity, 'warn');
  assert.match(f?.summary ?? '', /"work"/);
  const running = planPassthrough(inv, req(['0a:00.0'], { guest: 'gaming' }), { impact: impactFacts(), otherGuests: [{ name: 'work', running: true, hostdevs: ['0000:0a:00.1'] }] });
  assert.equal(running.verdict, 'blocked');
  // the target guest itself is not "another guest"
  const self = planPassthrough(inv, req(['0a:00.0'], { guest: 'gaming' }), { impact: impactFacts(), otherGuests: [{ name: 'gaming', running: true, hostdevs: ['0000:0a:00.0'] }] });
  assert.notEqual(self.verdict, 'blocked');
});

test('device warnings: conventional PCI, no reset, ROM bar choices', () => {
  const inv = buildInventory([
    { addr: '06:00.0', id: '10ec:8139', cls: '020000', group: 50, bus: 'conventional', driver: '8139too', rom: true },
    { addr: '07:00.0', id: '1b21:0612', cls: '010601', group: 51, bus: 'pcie-noflr', resetMethods: [] },
  ]);
  const p = planPassthrough(inv, req(['06:00.0', '07:00.0']), { impact: impactFacts() });
  assert.ok(ids(p).includes('conventional-pci'));
  assert.ok(ids(p).includes('no-reset-method'));
  assert.equal(p.functions.find((f) => f.address === '0000:06:00.0')?.romBar, 'off');
  const on = planPassthrough(inv, req(['06:00.0'], { romBar: 'on' }), { impact: impactFacts() });
  assert.equal(on.functions[0]?.romBar, 'on');
  const gpu = planPassthrough(desktopGpu(), req(['01:00.0'], { romBar: 'off' }), { impact: impactFacts() });
  assert.equal(gpu.functions[0]?.romBar, 'off');
  assert.equal(gpu.functions[1]?.romBar, null, 'no ROM, no rom element');
});

test('no IOMMU on a live host: blocked, remedy by CPU vendor, steps enable it and reboot', () => {
  const inv = buildInventory([{ addr: '01:00.0', id: '8086:10d3', cls: '020000', driver: 'e1000e' }], { iommu: false });
  const intel = planPassthrough(inv, req(['01:00.0']), { impact: impactFacts({ cpuVendor: 'intel' }), boot: { loader: 'grub', file: '/etc/default/grub', apply: 'update-grub', initramfs: 'update-initramfs -u -k all' } });
  assert.equal(intel.verdict, 'blocked');
  assert.match(intel.findings.find((f) => f.id === 'iommu-not-enabled')?.remedy ?? '', /intel_iommu=on/);
  assert.equal(intel.steps[0]?.id, 'enable-iommu');
  assert.equal(intel.steps[0]?.file, '/etc/default/grub');
  assert.equal(intel.steps.at(-1)?.id, 'reboot');
  assert.ok(!intel.steps.some((s) => s.action.type === 'bind-vfio'));
  assert.equal(intel.needsReboot, true);
  const amd = planPassthrough(inv, req(['01:00.0']), { impact: impactFacts({ cpuVendor: 'amd' }) });
  assert.match(amd.findings.find((f) => f.id === 'iommu-not-enabled')?.detail ?? '', /amd_iommu=on is not a valid value/);
  assert.ok(!amd.steps.some((s) => s.id === 'enable-iommu'));
});

test('imported listing without groups: warns, claims the functions of the slot, unverified', () => {
  const inv = buildInventory([{ addr: '01:00.0', id: '10de:1b81', cls: '030000' }, { addr: '01:00.1', id: '10de:10f0', cls: '040300' }], { iommu: false, importFormat: 'lspci-nn' });
  const p = planPassthrough(inv, req(['01:00.0']), {});
  assert.ok(ids(p).includes('groups-unknown'));
  // before: claim was only 01:00.0 (ids= without the audio function)
  assert.deepEqual(p.claim, ['0000:01:00.0', '0000:01:00.1']);
  // the listing's only display controller: blocked unless forced (before: not blocked)
  assert.equal(p.verdict, 'blocked');
  assert.ok(ids(p).includes('host-impact-last-display'));
  const forced = planPassthrough(inv, req(['01:00.0'], { force: true }), {});
  assert.notEqual(forced.verdict, 'blocked');
  assert.equal(forced.verified, false);
  assert.ok(ids(forced).includes('plan-unverified'));
  assert.match(forced.assumptions.join(' '), /0000:01:00\.0, 0000:01:00\.1/);
});

test('unknown address is a blocker; steps are ordered persistent → initramfs → runtime → guest', () => {
  const bad = planPassthrough(desktopGpu(), req(['09:00.0']), {});
  assert.equal(bad.verdict, 'blocked');
  assert.ok(ids(bad).includes('device-not-found'));
  const p = planPassthrough(desktopGpu(), req(['01:00.0'], { guest: 'win11' }), { impact: impactFacts() });
  assert.deepEqual(p.steps.map((s) => s.id), ['modprobe-vfio', 'regenerate-initramfs', 'load-vfio-pci', 'bind-0000:01:00.0', 'bind-0000:01:00.1', 'attach-hostdevs']);
  assert.deepEqual(p.steps.filter((s) => s.needsReboot).map((s) => s.id), ['regenerate-initramfs']);
  assert.equal(p.steps.find((s) => s.id === 'bind-0000:01:00.0')?.kind, 'runtime');
  assert.match(p.steps.find((s) => s.id === 'bind-0000:01:00.0')?.command ?? '', /driver_override/);
});

test('vfio-pci built in: ids go on the kernel command line, modprobe keeps only softdeps', () => {
  const p = planPassthrough(desktopGpu(), req(['01:00.0']), { impact: impactFacts(), vfioPciBuiltin: true });
  const k = p.steps.find((s) => s.id === 'kernel-cmdline-vfio-ids');
  assert.deepEqual(k?.action, { type: 'kernel-cmdline', set: ['vfio-pci.ids=10de:10f0,10de:1b81'], remove: [] });
  assert.equal(k?.needsReboot, true);
  assert.doesNotMatch(modprobeContent(p), /options vfio-pci/);
  assert.match(modprobeContent(p), /softdep nouveau pre: vfio-pci/);
});

test('pcie_acs_override is read from the parsed command line: not inside a quoted value, not after `--` (init arguments)', () => {
  for (const cmdline of ['ro -- pcie_acs_override=downstream', 'ro note="pcie_acs_override=downstream"']) {
    const p = planPassthrough(desktopGpu(), req(['02:00.0']), { impact: impactFacts({ kernel: { release: 'x', vfioPciBuiltin: false, cmdline: parseKernelCmdline(cmdline) } }) });
    assert.ok(!ids(p).includes('acs-override-active'), cmdline);
  }
  const q = planPassthrough(desktopGpu(), req(['02:00.0']), { impact: impactFacts({ kernel: { release: 'x', vfioPciBuiltin: false, cmdline: parseKernelCmdline('ro "pcie_acs_override=downstream"') } }) });
  assert.ok(ids(q).includes('acs-override-active'), 'a quoted parameter is still the parameter');
});

test('pcie_acs_override on the running kernel is a security warning', () => {
  const p = planPassthrough(desktopGpu(), req(['02:00.0']), { impact: impactFacts({ kernel: { release: 'x', vfioPciBuiltin: false, cmdline: parseKernelCmdline('ro pcie_acs_override=downstream,multifunction') } }) });
  assert.ok(ids(p).includes('acs-override-active'));
});
