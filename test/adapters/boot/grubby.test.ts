import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectGolden } from '../../support/golden.js';
import { bootHost, renderEdit, EXE, OS, IOMMU } from './support.js';

describe('grubby adapter', () => {
  it('EL9 with a grub defaults file: reads it, edits it for future kernels and runs grubby for every entry (golden); describes the same', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('rocky', '9.3', 'rhel centos fedora'), 'etc/default/grub': 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M rhgb quiet"\n', 'usr/sbin/grubby': EXE, 'boot/loader/entries/a.conf': 'title x\n' });
    assert.equal(adapter.kind, 'grubby');
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'etc/default/grub');
    assert.deepEqual(c.cmdline.params.map((p) => p.key), ['crashkernel', 'rhgb', 'quiet']);
    const plan = adapter.planEdit(host, IOMMU);
    expectGolden('boot/adapters/grubby-el9.enable.out', renderEdit(plan, host));
    assert.deepEqual(plan.commands.map((x) => x.argv), [['grubby', '--update-kernel=ALL', '--args=intel_iommu=on iommu=pt']]);
    assert.equal(adapter.describe(IOMMU).text, 'run: grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt"\nand in /etc/default/grub GRUB_CMDLINE_LINUX, add intel_iommu=on iommu=pt (so that future kernels inherit it)\nthen reboot');
  });
  it('Fedora without a grub defaults file: the running line stands for the entries; a one-parameter change undoes to the previous word', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('fedora', '40'), 'usr/sbin/grubby': EXE, 'boot/loader/entries/a.conf': 'title x\n', 'proc/cmdline': 'BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=UUID=abc ro vfio-pci.ids=10de:1b80 rhgb\n' });
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'proc/cmdline');
    assert.equal(c.unknown.length, 1, 'the boot entries themselves were not read');
    const plan = adapter.planEdit(host, { set: ['vfio-pci.ids=10de:1b80,8086:10d3'] }, { previous: 'vfio-pci.ids=10de:1b80' });
    assert.deepEqual(plan.files, []);
    assert.deepEqual(plan.commands.map((x) => [x.argv, x.undoArgv]), [[['grubby', '--update-kernel=ALL', '--args=vfio-pci.ids=10de:1b80,8086:10d3'], ['grubby', '--update-kernel=ALL', '--args=vfio-pci.ids=10de:1b80']]]);
    const fresh = adapter.planEdit(host, { set: ['vfio-pci.ids=8086:10d3'] }, { previous: null });
    assert.deepEqual(fresh.commands[0]!.undoArgv, ['grubby', '--update-kernel=ALL', '--remove-args=vfio-pci.ids']);
    assert.equal(adapter.describe({ remove: ['amd_iommu=on'] }).text, 'run: grubby --update-kernel=ALL --remove-args="amd_iommu=on"\nthen reboot');
  });
});
