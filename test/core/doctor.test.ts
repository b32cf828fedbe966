/**
 * doctor's host checks on fixture host trees, one per scenario of docs/doctor.md: the trees are read
 * through the production readers (read-host-facts, read-inventory) and judged by checkHost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { checkHost, summarize } from '../../src/core/doctor.js';
import type { Finding } from '../../src/model/finding.js';
import type { HostFacts } from '../../src/model/host-facts.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import {
  acsOverride, amdReady, firmwareOff, hostFiles, intelReady, kernelOff, noInterruptRemapping, pendingReboot, unsafeInterrupts, vfioBuiltin, vmWithViommu, vmWithoutViommu, getFinding,
} from '../support/doctor-hosts.js';
import { desktopGpu } from '../support/topologies.js';

function doctor(spec: HostSpec): { findings: Finding[]; facts: HostFacts; verdict: string } {
  const t = makeTempHostTree(spec);
  try {
    const host = new HostRoot(t.root);
    const facts = readHostFacts(host);
    const findings = checkHost(facts, readInventory(host, { names: false }));
    return { findings, facts, verdict: summarize(findings).verdict };
  } finally {
    t.cleanup();
  }
}

const get = getFinding;

function severities(findings: Finding[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of findings) out[f.id] ??= f.severity;
  return out;
}

test('Intel ready: every readiness check passes, remedies none, verdict ready', () => {
  const { findings, verdict } = doctor(intelReady());
  const s = severities(findings);
  assert.equal(verdict, 'ready');
  assert.equal(s['cpu-virtualization'], 'ok');
  assert.equal(s['kvm'], 'ok');
  assert.equal(s['iommu-firmware'], 'ok');
  assert.equal(s['iommu-kernel'], 'ok');
  assert.equal(s['interrupt-remapping'], 'ok');
  assert.equal(s['cmdline-pending-reboot'], 'ok');
  assert.equal(s['vfio-modules'], 'info', 'vfio modules are available but not loaded');
  assert.match(get(findings, 'vfio-modules').summary, /vfio, vfio_iommu_type1, vfio_pci/);
  assert.equal(s['iommu-passthrough-mode'], 'info');
  assert.match(get(findings, 'iommu-kernel').summary, /9 IOMMU groups/);
  assert.match(get(findings, 'boot-tooling').summary, /grub2 .*update-grub/);
  assert.ok(!findings.some((f) => f.category === 'security' && f.severity !== 'ok'), 'no security warnings on a clean host');
  assert.equal(s['virtual-machine'], undefined);
});

test('AMD ready (Fedora, grubby): IVRS, interrupt remapping from the kernel log, no Intel parameter finding', () => {
  const { findings, verdict } = doctor(amdReady());
  const s = severities(findings);
  assert.equal(verdict, 'ready');
  assert.equal(s['cpu-virtualization'], 'ok');
  assert.match(get(findings, 'cpu-virtualization').summary, /svm/);
  assert.match(get(findings, 'iommu-firmware').summary, /IVRS/);
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'ok');
  assert.match(ir.summary, /kernel log/);
  assert.ok(ir.evidence.some((e) => /AMD-Vi: Interrupt remapping enabled/.test(e.value) && /var\/log\/dmesg/.test(e.source)));
  assert.equal(s['iommu-kernel-param'], undefined, 'no Intel parameter talk on AMD');
  assert.match(get(findings, 'boot-tooling').summary, /grubby/);
  // grubby: the configured command line compared is the running kernel's BLS entry
  assert.match(get(findings, 'cmdline-pending-reboot').summary, /boot\/loader\/entries\/.*fc39/);
  assert.equal(s['kernel-log'], 'info');
});

test('firmware off: iommu-firmware fails with the Intel VT-d menu of the ASUS board; kernel finding points at it', () => {
  const { findings, verdict } = doctor(firmwareOff());
  assert.equal(verdict, 'not-ready');
  const fw = get(findings, 'iommu-firmware');
  assert.equal(fw.severity, 'fail');
  assert.match(fw.summary, /DMAR/);
  assert.match(fw.remedy ?? '', /VT-d/);
  assert.match(fw.remedy ?? '', /ASUS board typically Advanced > System Agent \(SA\) Configuration > VT-d/);
  const k = get(findings, 'iommu-kernel');
  assert.equal(k.severity, 'fail');
  assert.match(k.summary, /firmware does not report an IOMMU/);
  assert.doesNotMatch(k.remedy ?? '', /intel_iommu=on/, 'the command line is not the problem here');
});

test('firmware off on AMD names AMD-Vi / IOMMU menus (MSI board)', () => {
  const spec = amdReady();
  spec.functions = spec.functions.map((f) => ({ ...f, iommuGroup: null }));
  spec.iommu = 'none';
  spec.files = { ...spec.files, 'sys/firmware/acpi/tables/APIC': 'APIC' };
  const { findings } = doctor(spec);
  const fw = get(findings, 'iommu-firmware');
  assert.equal(fw.severity, 'fail');
  assert.match(fw.summary, /IVRS/);
  assert.match(fw.remedy ?? '', /AMD-Vi/);
  assert.match(fw.remedy ?? '', /MSI board typically OC > Advanced CPU Configuration > IOMMU/);
});

test('kernel off (RHEL 7 UEFI): DMAR present, default off, remedy edits /etc/default/grub and runs grub2-mkconfig -o /etc/grub2-efi.cfg', () => {
  const { findings, verdict, facts } = doctor(kernelOff());
  assert.equal(verdict, 'not-ready');
  assert.equal(get(findings, 'iommu-firmware').severity, 'ok');
  const k = get(findings, 'iommu-kernel');
  assert.equal(k.severity, 'fail');
  assert.match(k.summary, /CONFIG_INTEL_IOMMU_DEFAULT_ON is not set/);
  assert.match(k.remedy ?? '', /edit \/etc\/default\/grub: in GRUB_CMDLINE_LINUX, add intel_iommu=on/);
  assert.match(k.remedy ?? '', /grub2-mkconfig -o \/etc\/grub2-efi\.cfg/);
  assert.match(k.remedy ?? '', /reboot/);
  assert.match(get(findings, 'iommu-kernel-param').summary, /off by default in this kernel/);
  // etc/sysconfig/grub is a link to default/grub on RHEL 7: read once
  assert.equal(facts.kernel.configured.filter((c) => c.kind === 'grub-defaults').length, 1);
});

test('kernel off on BIOS RHEL 7 regenerates /etc/grub2.cfg', () => {
  const spec = kernelOff();
  const files = { ...(spec.files as Record<string, string>) };
  delete files['sys/firmware/efi/runtime'];
  const { findings } = doctor({ ...spec, files });
  assert.match(get(findings, 'iommu-kernel').remedy ?? '', /grub2-mkconfig -o \/etc\/grub2\.cfg/);
});

test('kernel off by intel_iommu=off: remedy removes it and adds intel_iommu=on; posture finding too', () => {
  const spec = pendingReboot();
  spec.files = { ...spec.files, ...hostFiles({ vendor: 'intel', params: 'intel_iommu=off', grub: 'quiet intel_iommu=off' }), 'sys/firmware/acpi/tables/DMAR': 'DMAR' };
  const { findings } = doctor(spec);
  const k = get(findings, 'iommu-kernel');
  assert.match(k.summary, /intel_iommu=off on the running command line/);
  assert.match(k.remedy ?? '', /add intel_iommu=on and remove intel_iommu=off/);
  assert.match(k.remedy ?? '', /then run: update-grub/);
  assert.equal(get(findings, 'security-iommu-off').severity, 'warn');
});

test('pending reboot: configured intel_iommu=on not active yet', () => {
  const { findings, verdict } = doctor(pendingReboot());
  assert.equal(verdict, 'not-ready');
  const p = get(findings, 'cmdline-pending-reboot');
  assert.equal(p.severity, 'warn');
  assert.match(p.summary, /\+intel_iommu=on/);
  assert.match(p.summary, /\+iommu=pt/);
  assert.match(p.remedy ?? '', /update-grub/);
  const k = get(findings, 'iommu-kernel');
  assert.match(k.summary, /configured \(etc\/default\/grub\) but the running kernel was booted without it/);
  assert.match(k.remedy ?? '', /reboot/);
});

test('no interrupt remapping, allow_unsafe_interrupts not set: fail with the downgrade offered as a last resort', () => {
  const { findings, verdict } = doctor(noInterruptRemapping());
  assert.equal(verdict, 'not-ready');
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail');
  assert.match(ir.summary, /No interrupt remapping support/);
  assert.match(ir.remedy ?? '', /allow_unsafe_interrupts=1/);
  assert.match(ir.remedy ?? '', /update-initramfs -u -k all/);
  assert.ok(ir.evidence.some((e) => /Failed to enable irq remapping/.test(e.value)));
  assert.equal(findings.find((f) => f.id === 'security-unsafe-interrupts'), undefined);
});

test('no interrupt remapping without a kernel log: ecap IR bit decides', () => {
  const spec = noInterruptRemapping();
  const files = { ...(spec.files as Record<string, string>) };
  delete files['var/log/kern.log'];
  const { findings } = doctor({ ...spec, files });
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'fail');
  assert.match(ir.summary, /ecap bit 3/);
  assert.ok(ir.evidence.some((e) => e.source.endsWith('dmar0/intel-iommu/ecap') && /f050d2/.test(e.value)));
});

test('no interrupt remapping with allow_unsafe_interrupts: ready, but two security warnings', () => {
  const { findings, verdict } = doctor(unsafeInterrupts());
  assert.equal(verdict, 'ready');
  const ir = get(findings, 'interrupt-remapping');
  assert.equal(ir.severity, 'warn');
  const u = get(findings, 'security-unsafe-interrupts');
  assert.equal(u.severity, 'warn');
  assert.equal(u.category, 'security');
  assert.ok(u.evidence.some((e) => /iommu_unsafe_interrupts\.conf:1$/.test(e.source)));
  assert.ok(u.evidence.some((e) => e.source.endsWith('allow_unsafe_interrupts') && e.value === 'Y'));
});

test('allow_unsafe_interrupts on a host with remapping: an unnecessary downgrade with a remedy', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'etc/modprobe.d/unsafe.conf': 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n' };
  const { findings } = doctor(spec);
  assert.equal(get(findings, 'interrupt-remapping').severity, 'ok');
  const u = get(findings, 'security-unsafe-interrupts');
  assert.match(u.summary, /unnecessary/);
  assert.match(u.remedy ?? '', /remove allow_unsafe_interrupts/);
});

test('ACS override (Proxmox, /etc/kernel/cmdline): security finding; remedy names proxmox-boot-tool refresh', () => {
  const { findings, verdict } = doctor(acsOverride());
  assert.equal(verdict, 'ready');
  const a = get(findings, 'security-acs-override');
  assert.equal(a.severity, 'warn');
  assert.match(a.summary, /pcie_acs_override=downstream,multifunction/);
  assert.match(a.remedy ?? '', /edit \/etc\/kernel\/cmdline: remove pcie_acs_override=downstream,multifunction/);
  assert.match(a.remedy ?? '', /then run: proxmox-boot-tool refresh/);
  assert.equal(get(findings, 'cmdline-pending-reboot').severity, 'ok');
});

test('vfio-pci built in: modprobe.d ids= is ignored; remedy puts vfio-pci.ids= on the command line with update-grub', () => {
  const { findings } = doctor(vfioBuiltin());
  const b = get(findings, 'vfio-pci-builtin');
  assert.equal(b.severity, 'warn');
  assert.match(b.summary, /ignored/);
  assert.match(b.remedy ?? '', /add vfio-pci\.ids=10de:1b80,10de:10f0/);
  assert.match(b.remedy ?? '', /update-grub/);
  assert.equal(get(findings, 'vfio-modules').severity, 'ok');
  assert.match(get(findings, 'vfio-modules').summary, /vfio_pci builtin/);
});

test('VM without a virtual IOMMU: viommu fails with the outer-host QEMU and libvirt settings', () => {
  const { findings, verdict } = doctor(vmWithoutViommu());
  assert.equal(verdict, 'not-ready');
  assert.match(get(findings, 'virtual-machine').summary, /QEMU\/KVM/);
  const v = get(findings, 'viommu');
  assert.equal(v.severity, 'fail');
  assert.match(v.remedy ?? '', /intel-iommu,intremap=on,caching-mode=on/);
  assert.match(v.remedy ?? '', /caching_mode='on'/);
  assert.equal(get(findings, 'iommu-firmware').remedy, 'see viommu');
});

test('VM with a virtual IOMMU (caching mode on): viommu ok and the host is ready', () => {
  const { findings, verdict } = doctor(vmWithViommu());
  assert.equal(verdict, 'ready');
  assert.equal(get(findings, 'virtual-machine').severity, 'info');
  const v = get(findings, 'viommu');
  assert.equal(v.severity, 'ok');
  assert.match(v.summary, /dmar0/);
});

test('VM with a virtual IOMMU without caching mode: info naming caching-mode=on', () => {
  const spec = vmWithViommu();
  spec.files = { ...spec.files, 'sys/devices/virtual/iommu/dmar0/intel-iommu/cap': 'd2008c40660462\n' };
  const v = get(doctor(spec).findings, 'viommu');
  assert.equal(v.severity, 'info');
  assert.match(v.remedy ?? '', /caching-mode=on/);
});

test('command line mistakes: amd_iommu=on, a typo, the other vendor\'s parameter', () => {
  const spec = amdReady();
  spec.files = { ...spec.files, 'proc/cmdline': 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro amd_iommu=on intel_iommu=on iommu=pt vfio-pci.ids=10de:1b80,10de1 pcie_acs_overide=downstream\n' };
  const { findings } = doctor(spec);
  const on = get(findings, 'cmdline-amd-iommu-on');
  assert.equal(on.severity, 'warn');
  assert.match(on.summary, /Unknown option/);
  assert.match(on.remedy ?? '', /grubby --update-kernel=ALL --remove-args="amd_iommu=on"/);
  const wrong = get(findings, 'cmdline-wrong-vendor');
  assert.match(wrong.summary, /intel_iommu=on has no effect on an AMD host/);
  const typo = get(findings, 'cmdline-typo');
  assert.match(typo.summary, /pcie_acs_overide=downstream looks like a misspelling of pcie_acs_override/);
  const ids = get(findings, 'cmdline-unknown-value');
  assert.match(ids.summary, /10de1/);
});

test('intel_iommu typo forms: missing "=" and unknown option values', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'proc/cmdline': `BOOT_IMAGE=/vmlinuz ro intel_iommu_on intel_iommu=on,sm_of\n` };
  const { findings } = doctor(spec);
  assert.match(get(findings, 'cmdline-typo').summary, /intel_iommu_on looks like a misspelling of intel_iommu/);
  assert.match(get(findings, 'cmdline-unknown-value').summary, /sm_of is not an intel_iommu option/);
  // valid values are not flagged
  const clean = doctor(intelReady()).findings;
  assert.equal(clean.find((f) => f.id.startsWith('cmdline-') && f.id !== 'cmdline-pending-reboot'), undefined);
});

test('remedy follows the boot loader: systemd-boot and kernelstub', () => {
  const sd = intelReady();
  const sdFiles = { ...(sd.files as Record<string, string>) };
  delete sdFiles['etc/default/grub'];
  delete sdFiles['usr/sbin/update-grub'];
  Object.assign(sdFiles, { 'etc/kernel/cmdline': 'root=/dev/nvme0n1p2 rw quiet\n', 'boot/loader/loader.conf': 'timeout 3\n', 'proc/cmdline': 'root=/dev/nvme0n1p2 rw quiet\n', 'sys/firmware/acpi/tables/DMAR': 'DMAR' });
  const noGroups = (s: HostSpec, files: Record<string, string>): HostSpec => ({ ...s, functions: s.functions.map((f) => ({ ...f, iommuGroup: null })), iommu: 'none', groupTypes: {}, files });
  const k1 = get(doctor(noGroups(sd, sdFiles)).findings, 'iommu-kernel');
  assert.match(k1.remedy ?? '', /edit \/etc\/kernel\/cmdline: add intel_iommu=on/);

  const ks = { ...sdFiles };
  delete ks['etc/kernel/cmdline'];
  delete ks['boot/loader/loader.conf'];
  Object.assign(ks, { 'etc/kernelstub/configuration': '{}\n', 'etc/os-release': 'ID=pop\nVERSION_ID="22.04"\n' });
  const k2 = get(doctor(noGroups(sd, ks)).findings, 'iommu-kernel');
  assert.match(k2.remedy ?? '', /kernelstub --add-options "intel_iommu=on"/);
});

test('Intel kernel default on (CONFIG_INTEL_IOMMU_DEFAULT_ON=y) without a parameter: ready, parameter finding says so', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, ...hostFiles({ vendor: 'intel', params: '', grub: 'quiet', intelDefaultOn: true }) };
  const { findings, verdict } = doctor(spec);
  assert.equal(verdict, 'ready');
  assert.match(get(findings, 'iommu-kernel-param').summary, /on by default in this kernel \(CONFIG_INTEL_IOMMU_DEFAULT_ON=y\)/);
});

test('unreadable and missing files stay apart: unreadable cpuinfo is a warning with a read problem', () => {
  const spec = intelReady();
  spec.unreadableFiles = ['proc/cpuinfo'];
  const { findings, facts } = doctor(spec);
  assert.equal(facts.cpu.source.state, 'unreadable');
  const c = get(findings, 'cpu-virtualization');
  assert.equal(c.severity, 'warn');
  assert.match(c.summary, /unreadable/);
  assert.equal(get(findings, 'host-read-problems').severity, 'warn');

  const missing = { ...(desktopGpu().files as Record<string, string>) };
  const m = doctor({ ...desktopGpu(), files: missing });
  assert.match(get(m.findings, 'cpu-virtualization').summary, /missing/);
  assert.equal(m.findings.find((f) => f.id === 'host-read-problems'), undefined);
});

test('vfio modules missing from the kernel: fail', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, [`lib/modules/6.1.0-18-amd64/modules.dep`]: 'kernel/arch/x86/kvm/kvm.ko: \n' };
  const v = get(doctor(spec).findings, 'vfio-modules');
  assert.equal(v.severity, 'fail');
  assert.match(v.summary, /vfio, vfio_iommu_type1, vfio_pci/);
});

test('every finding has an id, a category, a summary and evidence; fails carry a remedy', () => {
  for (const spec of [intelReady(), amdReady(), firmwareOff(), kernelOff(), pendingReboot(), noInterruptRemapping(), unsafeInterrupts(), acsOverride(), vfioBuiltin(), vmWithoutViommu(), vmWithViommu()]) {
    for (const f of doctor(spec).findings) {
      assert.match(f.id, /^[a-z0-9-]+$/);
      assert.ok(f.category, f.id);
      assert.ok(f.summary.length > 5, f.id);
      assert.ok(f.evidence.length > 0, `${f.id} has evidence`);
      if (f.severity === 'fail') assert.ok(f.remedy, `${f.id} fail has a remedy`);
    }
  }
});

test('pending reboot with grub.cfg not regenerated: update-grub was forgotten', () => {
  const cfg = (params: string): string => [
    "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux {",
    '\tinsmod gzio',
    "\techo\t'Loading Linux 6.1.0-18-amd64 ...'",
    `\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6a1d2f0e-3c57-4b7e-9d0a-2f5c1e8b9a44 ro ${params}`,
    '\tinitrd\t/boot/initrd.img-6.1.0-18-amd64',
    '}',
    '',
  ].join('\n');
  const stale = pendingReboot();
  stale.files = { ...stale.files, 'boot/grub/grub.cfg': cfg('quiet') };
  const f = get(doctor(stale).findings, 'cmdline-not-regenerated');
  assert.equal(f.severity, 'warn');
  assert.match(f.summary, /\/etc\/default\/grub has intel_iommu=on iommu=pt but \/boot\/grub\/grub\.cfg does not/);
  assert.match(f.remedy ?? '', /^run: update-grub\nthen reboot$/);

  const fresh = pendingReboot();
  fresh.files = { ...fresh.files, 'boot/grub/grub.cfg': cfg('quiet intel_iommu=on iommu=pt') };
  const r = doctor(fresh);
  assert.equal(r.findings.find((x) => x.id === 'cmdline-not-regenerated'), undefined);
  assert.equal(get(r.findings, 'cmdline-pending-reboot').severity, 'warn', 'still waiting for the reboot');
});
