/** readHostFacts on synthetic host trees: what it reads, and missing kept apart from unreadable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts, parseModprobeConf, hypervisorFromDmi, grubCfgLinuxLine } from '../../src/host/read-host-facts.js';
import type { HostFacts } from '../../src/model/host-facts.js';
import { hexBit } from '../../src/model/host-facts.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { RELEASE, amdReady, intelReady } from '../support/doctor-hosts.js';

function facts(spec: HostSpec): HostFacts {
  const t = makeTempHostTree(spec);
  try {
    return readHostFacts(new HostRoot(t.root));
  } finally {
    t.cleanup();
  }
}

test('Intel host: CPU, ACPI, command lines, kernel config, modules, IOMMU unit, DMI, boot tooling', () => {
  const f = facts(intelReady());
  assert.equal(f.cpu.vendor, 'intel');
  assert.ok(f.cpu.flags.includes('vmx'));
  assert.equal(f.cpu.hypervisor, false);
  assert.equal(f.acpi.dmar, true);
  assert.equal(f.acpi.ivrs, false);
  assert.deepEqual(f.kernel.release, { state: 'ok', source: '/proc/sys/kernel/osrelease', value: RELEASE });
  assert.ok(f.kernel.params.some((p) => p.key === 'intel_iommu' && p.value === 'on'));
  assert.ok(f.kernel.params.some((p) => p.key === 'quiet' && p.value === undefined));
  const grub = f.kernel.configured.find((c) => c.source === 'etc/default/grub');
  assert.equal(grub?.text, 'quiet intel_iommu=on iommu=pt');
  assert.equal(grub?.problem, undefined);
  assert.equal(f.kernel.config.state === 'ok' && f.kernel.config.value.CONFIG_INTEL_IOMMU_DEFAULT_ON, 'n');
  assert.equal(f.kernel.config.state === 'ok' && f.kernel.config.value.CONFIG_VFIO_PCI, 'm');
  assert.ok(f.modules.loaded.state === 'ok' && f.modules.loaded.value.includes('kvm_intel'));
  assert.ok(f.modules.available.state === 'ok' && f.modules.available.value.includes('vfio_pci'), 'vfio-pci.ko becomes vfio_pci');
  assert.ok(f.modules.builtin.state === 'ok' && f.modules.builtin.value.includes('pcieport'));
  assert.equal(f.iommuUnits.length, 1);
  assert.deepEqual({ ...f.iommuUnits[0], cap: undefined, ecap: undefined }, { name: 'dmar0', kind: 'intel', cap: undefined, ecap: undefined, interruptRemapping: true, cachingMode: false });
  assert.equal(f.virt.sysVendor, 'ASUSTeK COMPUTER INC.');
  assert.equal(f.virt.hypervisorName, null);
  assert.equal(f.boot.bootLoader.kind, 'grub2');
  assert.deepEqual(f.boot.bootLoader.regenerate, [['update-grub']]);
  assert.equal(f.boot.initramfs.kind, 'initramfs-tools');
  assert.equal(f.devKvm, true);
  assert.deepEqual(f.problems, []);
});

test('AMD host with Fedora BLS entry and a dmesg copy', () => {
  const f = facts(amdReady());
  assert.equal(f.cpu.vendor, 'amd');
  assert.equal(f.acpi.ivrs, true);
  assert.equal(f.iommuUnits[0]?.kind, 'amd');
  const bls = f.kernel.configured.find((c) => c.kind === 'bls-entry');
  assert.ok(bls, 'the running kernel\'s BLS entry is read');
  assert.match(bls.text, /iommu=pt/);
  assert.equal(f.kernelLog.source, 'var/log/dmesg');
  assert.ok(f.kernelLog.lines.some((l) => /Interrupt remapping enabled/.test(l)));
});

test('missing files are absent; unreadable ones are unreadable and reported as problems', () => {
  const spec = intelReady();
  spec.unreadableFiles = ['proc/cmdline', 'etc/modprobe.d/x.conf'];
  spec.files = { ...spec.files, 'etc/modprobe.d/x.conf': 'options kvm ignore_msrs=1\n' };
  const f = facts(spec);
  assert.equal(f.kernel.cmdline.state, 'unreadable');
  assert.deepEqual(f.kernel.params, []);
  assert.equal(f.iomem.state, 'absent');
  assert.ok(f.problems.some((p) => p.path === 'proc/cmdline'));
  assert.ok(f.problems.some((p) => p.path === 'etc/modprobe.d/x.conf' && p.code === 'EISDIR'));
  assert.ok(!f.problems.some((p) => p.path === 'proc/iomem'), 'absent is not a problem');
});

test('modprobe.d: continuation lines, comments, and an /etc file hiding the same name in /lib', () => {
  const d = parseModprobeConf('# comment\noptions vfio-pci \\\n  ids=10de:1b80,10de:10f0\nsoftdep nouveau pre: vfio-pci\n\nblacklist nouveau\n', 'etc/modprobe.d/vfio.conf');
  assert.deepEqual(d.map((x) => [x.command, x.module, x.args, x.line]), [
    ['options', 'vfio-pci', 'ids=10de:1b80,10de:10f0', 2],
    ['softdep', 'nouveau', 'pre: vfio-pci', 4],
    ['blacklist', 'nouveau', '', 6],
  ]);
  const spec = intelReady();
  spec.files = { ...spec.files, 'lib/modprobe.d/vfio.conf': 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n', 'etc/modprobe.d/vfio.conf': 'options vfio-pci ids=8086:10d3\n', 'lib/modprobe.d/aliases.conf': 'alias foo bar\n' };
  const f = facts(spec);
  assert.deepEqual(f.modprobe.map((x) => `${x.file} ${x.command} ${x.module}`), ['lib/modprobe.d/aliases.conf alias foo', 'etc/modprobe.d/vfio.conf options vfio-pci']);
});

test('kernel log: only the last boot in the file counts', () => {
  const spec = intelReady();
  spec.files = {
    ...spec.files,
    'var/log/kern.log': 'k: Linux version 5.10.0-1\nk: DMAR-IR: Enabled IRQ remapping in x2apic mode\nk: Linux version 6.1.0-18\nk: DMAR-IR: Failed to enable irq remapping\n',
  };
  const f = facts(spec);
  assert.deepEqual(f.kernelLog.lines, ['k: Linux version 6.1.0-18', 'k: DMAR-IR: Failed to enable irq remapping']);
});

test('an absolute sys/class/iommu link in a captured tree is not followed', () => {
  const spec = intelReady();
  spec.links = { ...(spec.links ?? {}), 'sys/class/iommu/dmar9': '/sys/devices/virtual/iommu/dmar0' };
  const f = facts(spec);
  assert.deepEqual(f.iommuUnits.map((u) => u.name), ['dmar0']);
  assert.ok(f.problems.some((p) => p.code === 'EESCAPE' && p.path === 'sys/class/iommu/dmar9'));
});

test('kernel config from /proc/config.gz when boot/config-RELEASE is missing', () => {
  const spec = intelReady();
  const files = { ...(spec.files as Record<string, string | Buffer>) };
  delete files[`boot/config-${RELEASE}`];
  files['proc/config.gz'] = gzipSync('CONFIG_INTEL_IOMMU=y\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y\n');
  const f = facts({ ...spec, files });
  assert.equal(f.kernel.config.source, '/proc/config.gz');
  assert.equal(f.kernel.config.state === 'ok' && f.kernel.config.value.CONFIG_INTEL_IOMMU_DEFAULT_ON, 'y');
});

test('BLS options using $kernelopts are expanded from grubenv', () => {
  const spec = amdReady();
  const entry = Object.keys(spec.files!).find((k) => k.startsWith('boot/loader/entries/'))!;
  spec.files = { ...spec.files, [entry]: 'title x\noptions $kernelopts intel_iommu=on\n', 'boot/grub2/grubenv': '# GRUB Environment Block\nkernelopts=root=/dev/sda2 ro iommu=pt\n' };
  const bls = facts(spec).kernel.configured.find((c) => c.kind === 'bls-entry')!;
  assert.equal(bls.text, 'root=/dev/sda2 ro iommu=pt intel_iommu=on');
});

test('memlock limits and the libvirt QEMU user', () => {
  const spec = intelReady();
  spec.files = {
    ...spec.files,
    'etc/security/limits.d/90-qemu.conf': '@kvm  soft  memlock  unlimited\n# qemu hard memlock 1\nqemu - memlock 65536 # 64 MiB\n',
    'etc/libvirt/qemu.conf': '#user = "root"\nuser = "libvirt-qemu"\n',
    'usr/bin/virsh': '',
  };
  const f = facts(spec);
  assert.deepEqual(f.memlock.map((l) => [l.domain, l.type, l.value, l.line]), [['@kvm', 'soft', 'unlimited', 1], ['qemu', '-', '65536', 3]]);
  assert.equal(f.libvirt.qemuUser, 'libvirt-qemu');
  assert.equal(f.libvirt.virsh, true);
});

test('hypervisor names from DMI, and register bits', () => {
  assert.equal(hypervisorFromDmi('QEMU', 'Standard PC (Q35 + ICH9, 2009)', null), 'QEMU/KVM');
  assert.equal(hypervisorFromDmi('VMware, Inc.', 'VMware Virtual Platform', null), 'VMware');
  assert.equal(hypervisorFromDmi('Microsoft Corporation', 'Virtual Machine', null), 'Microsoft Hyper-V');
  assert.equal(hypervisorFromDmi('Microsoft Corporation', 'Surface Pro 9', null), null);
  assert.equal(hypervisorFromDmi('Dell Inc.', 'PowerEdge R740', null), null);
  assert.equal(hexBit('f050da', 3), true);
  assert.equal(hexBit('f050d2', 3), false);
  assert.equal(hexBit('d2008c406604e2', 7), true);
  assert.equal(hexBit('not hex', 3), null);
});

test('grub.cfg: the linux line of the running release, with linuxefi and other kernels around it', () => {
  const cfg = [
    "menuentry 'Red Hat Enterprise Linux Server (3.10.0-1160.el7.x86_64) 7.9 (Maipo)' {",
    '\tlinuxefi /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet intel_iommu=on',
    '}',
    "menuentry 'older' {",
    '\tlinuxefi /vmlinuz-3.10.0-957.el7.x86_64 root=/dev/mapper/rhel-root ro quiet',
    '}',
  ].join('\n');
  assert.equal(grubCfgLinuxLine(cfg, '3.10.0-1160.el7.x86_64'), 'root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet intel_iommu=on');
  assert.equal(grubCfgLinuxLine(cfg, '3.10.0-957.el7.x86_64'), 'root=/dev/mapper/rhel-root ro quiet');
  assert.equal(grubCfgLinuxLine(cfg, '6.1.0-18-amd64'), null);
});
