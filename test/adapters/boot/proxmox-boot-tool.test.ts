import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectGolden } from '../../support/golden.js';
import { bootHost, renderEdit, EXE, OS, IOMMU } from './support.js';

describe('proxmox-boot-tool adapter', () => {
  it('systemd-boot (ZFS): /etc/kernel/cmdline, then proxmox-boot-tool refresh (golden); describes the same', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('debian', '12'), 'etc/kernel/proxmox-boot-uuids': 'ABCD-1234\n', 'etc/kernel/cmdline': 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n', 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n', 'usr/sbin/update-grub': EXE, 'usr/sbin/proxmox-boot-tool': EXE });
    assert.equal(adapter.kind, 'proxmox-boot-tool');
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'etc/kernel/cmdline');
    assert.deepEqual(c.cmdline.params.map((p) => p.raw), ['root=ZFS=rpool/ROOT/pve-1', 'boot=zfs']);
    const plan = adapter.planEdit(host, IOMMU);
    expectGolden('boot/adapters/proxmox-systemd-boot.enable.out', renderEdit(plan, host));
    assert.deepEqual(plan.commands.map((x) => x.argv), [['proxmox-boot-tool', 'refresh']]);
    assert.equal(adapter.describe(IOMMU).text, 'edit /etc/kernel/cmdline: add intel_iommu=on iommu=pt (one line, keep the other parameters)\nthen run: proxmox-boot-tool refresh\nthen reboot');
  });
  it('grub: the grub defaults file, then proxmox-boot-tool refresh (not update-grub)', () => {
    const { host, adapter } = bootHost({ 'etc/kernel/proxmox-boot-uuids': 'ABCD\n', 'etc/default/grub': 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n', 'usr/sbin/update-grub': EXE });
    assert.equal(adapter.readConfigured(host).source, 'etc/default/grub');
    const plan = adapter.planEdit(host, IOMMU);
    assert.deepEqual(plan.files.map((f) => f.after), ['GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"\n']);
    assert.deepEqual(plan.commands.map((x) => x.argv), [['proxmox-boot-tool', 'refresh']]);
    assert.match(adapter.describe(IOMMU).text, /^edit \/etc\/default\/grub: .*\nthen run: proxmox-boot-tool refresh\n/);
  });
  it('unknown boot loader: planEdit refuses with a remedy, describe says to do it by hand', () => {
    const { host, adapter } = bootHost({});
    assert.equal(adapter.kind, 'unknown');
    assert.throws(() => adapter.planEdit(host, IOMMU), (e: Error & { code?: string; remedy?: string }) => e.code === 'no-boot-loader' && /add intel_iommu=on iommu=pt on the kernel command line/.test(e.remedy ?? ''));
    assert.match(adapter.describe(IOMMU).text, /no grub defaults, \/etc\/kernel\/cmdline, grubby, kernelstub or proxmox-boot-tool found/);
  });
});
