import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostCommand, hostCommand, REGENERATE_SHAPES } from '../../src/model/host-command.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { HostRoot } from '../../src/host/host-root.js';
import { detectBootTooling } from '../../src/host/detect-boot.js';

describe('host command allowlist', () => {
  it('accepts exactly the shapes vfioctl builds', () => {
    for (const argv of [
      hostCommand.systemctl('enable', 'vfioctl-bind.service'), hostCommand.driverctlSet('0000:01:00.0'), hostCommand.driverctlUnset('0000:01:00.0'),
      hostCommand.udevReload(), hostCommand.grubbyArgs('intel_iommu=on iommu=pt'), hostCommand.grubbyRemoveArgs('vfio-pci.ids'),
      hostCommand.kernelstubAdd('vfio-pci.ids=10de:1b80,10de:10f0'), hostCommand.kernelstubDelete('iommu=pt'), hostCommand.updateGrub(),
      hostCommand.grubMkconfig('grub2-mkconfig', '/etc/grub2-efi.cfg'), hostCommand.proxmoxBootToolRefresh(), hostCommand.kernelInstall('6.8.0-31-generic'),
      hostCommand.updateInitramfs(), hostCommand.dracut(), hostCommand.mkinitcpio(),
    ]) assert.equal(checkHostCommand(argv).ok, true, argv.join(' '));
    assert.ok(REGENERATE_SHAPES.has('update-grub') && !REGENERATE_SHAPES.has('systemctl'));
  });

  it('refuses anything else, and a constructor never builds it', () => {
    for (const argv of [
      ['sh', '-c', 'id'], ['systemctl', 'enable', 'ssh.service'], ['systemctl', 'enable', 'vfioctl-bind.service', '--now'], ['systemctl', 'enable', 'vfioctl-x.service;id'],
      ['driverctl', 'set-override', '1:0.0', 'vfio-pci'], ['driverctl', 'set-override', '0000:01:00.0', 'nouveau'], ['grubby', '--update-kernel=ALL', '--args=init=/bin/sh'],
      ['grubby', '--update-kernel=ALL', '--args=iommu=pt;id'], ['grubby', '--update-kernel=DEFAULT', '--args=iommu=pt'], ['kernelstub', '--add-options', 'quiet'],
      ['grub-mkconfig', '-o', '/etc/passwd'], ['kernel-install', 'add', '../../x', '/lib/modules/../../x/vmlinuz'], ['kernel-install', 'add', '6.1', '/tmp/vmlinuz'],
      ['update-initramfs', '-u', '-k', '6.1'], ['/usr/sbin/update-grub'], [],
    ]) assert.equal(checkHostCommand(argv).ok, false, argv.join(' '));
    assert.throws(() => hostCommand.grubbyArgs('init=/bin/sh'), /outside the commands it runs/);
    assert.throws(() => hostCommand.systemctl('enable', 'ssh.service'), /outside the commands it runs/);
  });

  it('every regeneration command boot detection produces is in the table', () => {
    const hosts: Record<string, string>[] = [
      { 'etc/default/grub': '', 'usr/sbin/update-grub': '', 'usr/sbin/mkinitramfs': '' },
      { 'etc/default/grub': '', 'usr/sbin/grub2-mkconfig': '', 'etc/os-release': 'ID=rhel\nVERSION_ID=7.9\n', 'usr/bin/dracut': '' },
      { 'etc/default/grub': '', 'usr/bin/grub-mkconfig': '', 'usr/bin/mkinitcpio': '' },
      { 'etc/kernel/cmdline': 'root=x\n', 'etc/kernel/proxmox-boot-uuids': '' },
      { 'etc/kernel/cmdline': 'root=x\n', 'boot/loader/loader.conf': '', 'usr/bin/kernel-install': '', 'proc/sys/kernel/osrelease': '6.8.0-31-generic\n' },
    ];
    let n = 0;
    for (const files of hosts) {
      const t = makeTempHostTree({ functions: [], files });
      try {
        const b = detectBootTooling(new HostRoot(t.root));
        for (const argv of [...b.bootLoader.regenerate, ...(b.initramfs.regenerate ? [b.initramfs.regenerate] : [])]) {
          const r = checkHostCommand(argv);
          assert.ok(r.ok && REGENERATE_SHAPES.has(r.shape), argv.join(' '));
          n++;
        }
      } finally {
        t.cleanup();
      }
    }
    assert.equal(n, 8);
  });
});
