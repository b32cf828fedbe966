import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectGolden } from '../../support/golden.js';
import { bootHost, renderEdit, EXE, OS, IOMMU } from './support.js';

const DEBIAN_GRUB = '# grub defaults\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash intel_iommu=off"\nGRUB_CMDLINE_LINUX="console=ttyS0,115200"\n';

describe('grub2 adapter', () => {
  it('Debian: reads GRUB_CMDLINE_LINUX then _DEFAULT, edits with update-grub (golden), describes the same', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('debian', '12'), 'etc/default/grub': DEBIAN_GRUB, 'usr/sbin/update-grub': EXE });
    assert.equal(adapter.kind, 'grub2');
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'etc/default/grub');
    assert.deepEqual(c.cmdline.params.map((p) => p.raw), ['console=ttyS0,115200', 'quiet', 'splash', 'intel_iommu=off']);
    assert.deepEqual(c.variables?.map((v) => v.name), ['GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT']);
    assert.deepEqual(c.unknown, []);
    const plan = adapter.planEdit(host, IOMMU);
    expectGolden('boot/adapters/grub2-debian.enable.out', renderEdit(plan, host));
    assert.deepEqual(plan.commands.map((x) => x.argv), [['update-grub']]);
    assert.equal(adapter.describe(IOMMU).text, 'edit /etc/default/grub: in GRUB_CMDLINE_LINUX, add intel_iommu=on iommu=pt (keep the other parameters and the quotes)\nthen run: update-grub\nthen reboot');
  });
  it('RHEL 7: grub2-mkconfig -o /etc/grub2-efi.cfg on UEFI, /etc/grub2.cfg on BIOS; a $(...) substitution is unknown, not guessed', () => {
    const grub = 'GRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\nGRUB_CMDLINE_LINUX="rhgb quiet $(cat /etc/extra-args)"\n';
    const base = { 'etc/os-release': OS('rhel', '7.9', 'fedora'), 'etc/default/grub': grub, 'usr/sbin/grub2-mkconfig': EXE };
    for (const [uefi, out] of [[true, '/etc/grub2-efi.cfg'], [false, '/etc/grub2.cfg']] as const) {
      const { host, adapter } = bootHost({ ...base, ...(uefi ? { 'sys/firmware/efi/runtime': '' } : {}) });
      const c = adapter.readConfigured(host);
      assert.equal(c.unknown.length, 1);
      assert.match(c.unknown[0]!, /runs a command/);
      const plan = adapter.planEdit(host, IOMMU);
      if (uefi) expectGolden('boot/adapters/grub2-rhel7-uefi.enable.out', renderEdit(plan, host));
      assert.deepEqual(plan.commands.map((x) => x.argv), [['grub2-mkconfig', '-o', out]]);
      assert.match(plan.notes.join('\n'), /cat \/etc\/extra-args/);
      assert.match(adapter.describe(IOMMU).text, new RegExp(`then run: grub2-mkconfig -o ${out.replace(/[/.]/g, '\\$&')}\\n`));
    }
  });
  it('SUSE-like (no update-grub, /boot/grub2): grub2-mkconfig -o /boot/grub2/grub.cfg', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('opensuse-tumbleweed', '20240101', 'opensuse suse'), 'etc/default/grub': 'GRUB_CMDLINE_LINUX_DEFAULT="splash=silent"\n', 'usr/sbin/grub2-mkconfig': EXE, 'boot/grub2/grub.cfg': '' });
    const plan = adapter.planEdit(host, { remove: ['iommu'] });
    assert.deepEqual(plan.files, [], 'nothing to remove');
    assert.deepEqual(plan.commands, [], 'no regeneration without an edit');
    assert.match(adapter.describe({ set: ['iommu=pt'] }).text, /then run: grub2-mkconfig -o \/boot\/grub2\/grub\.cfg/);
  });
});

describe('grub2: enable-iommu then disable-iommu', () => {
  it('a conflicting intel_iommu=off in GRUB_CMDLINE_LINUX_DEFAULT, which enable removes, is given back by disable (the next boot gets what it got before)', async () => {
    const { planKernelCmdline, iommuParams } = await import('../../../src/apply/persist.js');
    const { emptyState, applyDelta } = await import('../../../src/apply/state.js');
    const { detectBootTooling } = await import('../../../src/host/detect-boot.js');
    const { readGrubVariable } = await import('../../../src/model/kernel-cmdline.js');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { host } = bootHost({ 'etc/os-release': OS('debian', '12'), 'etc/default/grub': DEBIAN_GRUB, 'usr/sbin/update-grub': EXE });
    const tooling = detectBootTooling(host);
    const line = (): string => {
      const text = fs.readFileSync(path.join(host.root, 'etc/default/grub'), 'utf8');
      const v = (n: string): string => { const r = readGrubVariable(text, n); return r.ok ? r.value ?? '' : '?'; };
      return `${v('GRUB_CMDLINE_LINUX')} ${v('GRUB_CMDLINE_LINUX_DEFAULT')}`.trim();
    };
    const before = line();
    const on = planKernelCmdline(host, tooling, emptyState(), { enable: true, params: iommuParams('intel', true) }, 'r1');
    fs.writeFileSync(path.join(host.root, 'etc/default/grub'), on.files[0]!.after!);
    assert.match(line(), /intel_iommu=on iommu=pt/);
    const off = planKernelCmdline(host, tooling, applyDelta(emptyState(), on.delta), { enable: false, params: iommuParams('intel', true) }, 'r2');
    fs.writeFileSync(path.join(host.root, 'etc/default/grub'), off.files[0]!.after!);
    assert.deepEqual(line().split(' ').sort(), before.split(' ').sort());
  });
});
