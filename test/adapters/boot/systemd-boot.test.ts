import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectGolden } from '../../support/golden.js';
import { bootHost, renderEdit, EXE, OS, IOMMU } from './support.js';

describe('systemd-boot adapter', () => {
  it('Arch: /etc/kernel/cmdline (comment lines are not the line), kernel-install add for the running kernel (golden); describes the same', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('arch', ''), 'etc/kernel/cmdline': '# vfio-pci.ids=1234:5678 was tried\nroot=/dev/nvme0n1p2 rw intel_iommu=off\n', 'boot/loader/loader.conf': 'default arch\n', 'usr/bin/kernel-install': EXE, 'proc/sys/kernel/osrelease': '6.9.1-arch1-1\n' });
    assert.equal(adapter.kind, 'systemd-boot');
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'etc/kernel/cmdline');
    assert.deepEqual(c.cmdline.params.map((p) => p.raw), ['root=/dev/nvme0n1p2', 'rw', 'intel_iommu=off']);
    const plan = adapter.planEdit(host, IOMMU);
    expectGolden('boot/adapters/systemd-boot-arch.enable.out', renderEdit(plan, host));
    assert.deepEqual(plan.replaced, [{ from: 'intel_iommu=off', to: 'intel_iommu=on' }]);
    assert.deepEqual(plan.commands.map((x) => x.argv), [['kernel-install', 'add', '6.9.1-arch1-1', '/lib/modules/6.9.1-arch1-1/vmlinuz']]);
    assert.equal(adapter.describe(IOMMU).text, 'edit /etc/kernel/cmdline: add intel_iommu=on iommu=pt (one line, keep the other parameters)\nthen run: kernel-install add 6.9.1-arch1-1 /lib/modules/6.9.1-arch1-1/vmlinuz\nthen reboot');
  });
  it('without the running kernel\'s version: the file is edited, no command is run, and describe says how to reinstall the entries', () => {
    const { host, adapter } = bootHost({ 'etc/kernel/cmdline': 'root=/dev/sda2 rw\n', 'boot/loader/loader.conf': 'default x\n' });
    const plan = adapter.planEdit(host, IOMMU);
    assert.equal(plan.files.length, 1);
    assert.deepEqual(plan.commands, []);
    assert.match(adapter.describe(IOMMU).text, /then reinstall the boot entries \(kernel-install add "\$\(uname -r\)"/);
  });
});

describe('systemd-boot: vfio-pci.ids on /etc/kernel/cmdline', () => {
  it('an ID on a comment line is not on the command line: persist --by-id adds it (it was taken as configured and left out)', async () => {
    const { planVfioIdsCmdline } = await import('../../../src/apply/persist.js');
    const { detectBootTooling } = await import('../../../src/host/detect-boot.js');
    const { host } = bootHost({ 'etc/kernel/cmdline': '# vfio-pci.ids=10de:1b80 (kept for later)\nroot=/dev/sda2 rw\n', 'boot/loader/loader.conf': 'default x\n' });
    const plan = planVfioIdsCmdline(host, detectBootTooling(host), { add: ['10de:1b80'], remove: [] });
    assert.deepEqual(plan.added, ['10de:1b80']);
    assert.deepEqual(plan.files.map((f) => f.after), ['# vfio-pci.ids=10de:1b80 (kept for later)\nroot=/dev/sda2 rw vfio-pci.ids=10de:1b80\n']);
  });
});
