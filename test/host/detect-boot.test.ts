import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempHostTree } from '../support/host-tree.js';
import { HostRoot } from '../../src/host/host-root.js';
import { detectBootTooling, parseOsRelease, formatArgv, type BootTooling } from '../../src/host/detect-boot.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function detect(files: Record<string, string>): BootTooling {
  const t = makeTempHostTree({ functions: [], files });
  cleanups.push(t.cleanup);
  return detectBootTooling(new HostRoot(t.root));
}

const OS = (id: string, version: string, like = ''): string => `NAME="x"\nID=${id}\nVERSION_ID="${version}"\n${like ? `ID_LIKE="${like}"\n` : ''}`;
const EXE = '#!/bin/sh\nexit 0\n';

describe('detectBootTooling', () => {
  it('Debian: grub defaults + update-grub, initramfs-tools', () => {
    const d = detect({ 'etc/os-release': OS('debian', '12'), 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n', 'usr/sbin/update-grub': EXE, 'usr/sbin/mkinitramfs': EXE, 'usr/sbin/update-initramfs': EXE });
    assert.equal(d.bootLoader.kind, 'grub2');
    assert.deepEqual(d.bootLoader.cmdline, { via: 'grub-defaults', file: 'etc/default/grub' });
    assert.deepEqual(d.bootLoader.regenerate, [['update-grub']]);
    assert.equal(d.initramfs.kind, 'initramfs-tools');
    assert.deepEqual(d.initramfs.regenerate, ['update-initramfs', '-u', '-k', 'all']);
    assert.equal(d.initramfs.modulesFile, 'etc/initramfs-tools/modules');
  });
  it('RHEL 7 BIOS and UEFI: grub2-mkconfig to /etc/grub2.cfg or /etc/grub2-efi.cfg', () => {
    const base = { 'etc/os-release': OS('rhel', '7.9', 'fedora'), 'etc/default/grub': 'GRUB_CMDLINE_LINUX="rhgb quiet"\n', 'usr/sbin/grub2-mkconfig': EXE, 'usr/sbin/dracut': EXE, 'usr/sbin/grubby': EXE };
    const bios = detect(base);
    assert.equal(bios.uefi, false);
    assert.deepEqual(bios.bootLoader.regenerate, [['grub2-mkconfig', '-o', '/etc/grub2.cfg']]);
    assert.equal(bios.initramfs.kind, 'dracut');
    const uefi = detect({ ...base, 'sys/firmware/efi/runtime': '' });
    assert.equal(uefi.uefi, true);
    assert.deepEqual(uefi.bootLoader.regenerate, [['grub2-mkconfig', '-o', '/etc/grub2-efi.cfg']]);
    assert.equal(formatArgv(uefi.bootLoader.regenerate[0]!), 'grub2-mkconfig -o /etc/grub2-efi.cfg');
  });
  it('RHEL 9 / Fedora: grubby, and the grub defaults file for future kernels', () => {
    const d = detect({ 'etc/os-release': OS('rocky', '9.3', 'rhel centos fedora'), 'etc/default/grub': 'GRUB_CMDLINE_LINUX="rhgb"\n', 'usr/sbin/grubby': EXE, 'usr/sbin/grub2-mkconfig': EXE, 'boot/loader/entries/a.conf': 'title x\n', 'usr/bin/dracut': EXE });
    assert.equal(d.bootLoader.kind, 'grubby');
    assert.deepEqual(d.bootLoader.cmdline, { via: 'tool', tool: 'grubby', alsoFile: 'etc/default/grub' });
  });
  it('Proxmox with systemd-boot: /etc/kernel/cmdline + proxmox-boot-tool refresh', () => {
    const d = detect({ 'etc/os-release': OS('debian', '12'), 'etc/kernel/proxmox-boot-uuids': 'ABCD-1234\n', 'etc/kernel/cmdline': 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n', 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n', 'usr/sbin/update-grub': EXE, 'usr/sbin/mkinitramfs': EXE });
    assert.equal(d.bootLoader.kind, 'proxmox-boot-tool');
    assert.deepEqual(d.bootLoader.cmdline, { via: 'kernel-cmdline', file: 'etc/kernel/cmdline' });
    assert.deepEqual(d.bootLoader.regenerate, [['proxmox-boot-tool', 'refresh']]);
  });
  it('Proxmox with grub: grub defaults + proxmox-boot-tool refresh', () => {
    const d = detect({ 'etc/kernel/proxmox-boot-uuids': 'ABCD\n', 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n', 'usr/sbin/update-grub': EXE });
    assert.deepEqual(d.bootLoader.cmdline, { via: 'grub-defaults', file: 'etc/default/grub' });
    assert.deepEqual(d.bootLoader.regenerate, [['proxmox-boot-tool', 'refresh']]);
  });
  it('Pop!_OS: kernelstub', () => {
    const d = detect({ 'etc/os-release': OS('pop', '22.04', 'ubuntu debian'), 'etc/kernelstub/configuration': '{}', 'usr/bin/kernelstub': EXE, 'etc/kernel/cmdline': 'x\n' });
    assert.equal(d.bootLoader.kind, 'kernelstub');
    assert.deepEqual(d.bootLoader.cmdline, { via: 'tool', tool: 'kernelstub' });
  });
  it('systemd-boot (Arch): /etc/kernel/cmdline, kernel-install for the running kernel, mkinitcpio', () => {
    const d = detect({ 'etc/os-release': OS('arch', ''), 'etc/kernel/cmdline': 'root=/dev/nvme0n1p2 rw\n', 'boot/loader/loader.conf': 'default arch\n', 'usr/bin/kernel-install': EXE, 'proc/sys/kernel/osrelease': '6.9.1-arch1-1\n', 'usr/bin/mkinitcpio': EXE });
    assert.equal(d.bootLoader.kind, 'systemd-boot');
    assert.deepEqual(d.bootLoader.regenerate, [['kernel-install', 'add', '6.9.1-arch1-1', '/lib/modules/6.9.1-arch1-1/vmlinuz']]);
    assert.equal(d.initramfs.kind, 'mkinitcpio');
    assert.deepEqual(d.initramfs.regenerate, ['mkinitcpio', '-P']);
  });
  it('Arch with grub: grub-mkconfig -o /boot/grub/grub.cfg', () => {
    const d = detect({ 'etc/os-release': OS('arch', ''), 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n', 'usr/bin/grub-mkconfig': EXE });
    assert.deepEqual(d.bootLoader.regenerate, [['grub-mkconfig', '-o', '/boot/grub/grub.cfg']]);
  });
  it('nothing recognisable: unknown with evidence', () => {
    const d = detect({});
    assert.equal(d.bootLoader.kind, 'unknown');
    assert.equal(d.initramfs.kind, 'unknown');
    assert.equal(d.os, null);
    assert.match(d.bootLoader.evidence.join(' '), /none of/);
  });
  it('parses os-release quoting', () => {
    const o = parseOsRelease('ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="8.10"\nPRETTY_NAME="Red Hat \\"Enterprise\\""\n');
    assert.deepEqual(o, { id: 'rhel', idLike: ['fedora'], versionId: '8.10', prettyName: 'Red Hat "Enterprise"' });
  });
});
