/**
 * The grub editor through `vfioctl host enable-iommu` / `disable-iommu`: duplicated parameters (the kernel
 * uses the last) and command substitutions, end to end on a synthetic host tree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC, useFakeApplyRuntime } from '../apply/helpers.js';

const runtime = useFakeApplyRuntime(['update-grub', 'update-initramfs']);

function debian(grub: string): { root: string; cleanup(): void } {
  return makeTempHostTree({
    ...SPEC,
    files: {
      'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
      'etc/default/grub': grub,
      'usr/sbin/update-grub': '#!/bin/sh\n',
      'usr/sbin/mkinitramfs': '#!/bin/sh\n',
      'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\n',
    },
  });
}

function env(root: string): Record<string, string> {
  return { PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: path.join(root, 'fake.log'), NO_COLOR: '1' };
}

describe('host enable-iommu / disable-iommu with a messy grub file', () => {
  it('duplicated intel_iommu (on, then off: off wins): enable turns it on, disable gives back the exact file (IOMMU off)', async () => {
    const grub = 'GRUB_DEFAULT=0\r\nGRUB_CMDLINE_LINUX="intel_iommu=on quiet intel_iommu=off"\r\n';
    const t = debian(grub);
    try {
      const e = await runCli(['host', 'enable-iommu', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(e.code, 0, e.stdout + e.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'latin1'), 'GRUB_DEFAULT=0\r\nGRUB_CMDLINE_LINUX="intel_iommu=on quiet intel_iommu=on iommu=pt"\r\n');
      const d = await runCli(['host', 'disable-iommu', '--yes', '--root', t.root], { env: env(t.root) });
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'latin1'), grub);
    } finally {
      t.cleanup();
    }
  });
  it('the RHEL crashkernel substitution: edited after it, and the plan says its output is not known', async () => {
    const grub = 'GRUB_CMDLINE_LINUX="rhgb quiet $([ -x /usr/sbin/rhcrashkernel-param ] && /usr/sbin/rhcrashkernel-param || :)"\n';
    const t = debian(grub);
    try {
      const p = await runCli(['host', 'enable-iommu', '--dry-run', '--root', t.root], { env: env(t.root) });
      assert.equal(p.code, 0, p.stdout + p.stderr);
      assert.match(p.stdout, /rhcrashkernel-param \|\| :\): its output is only known when grub-mkconfig runs/);
      assert.match(p.stdout, /\+GRUB_CMDLINE_LINUX="rhgb quiet \$\(\[ -x \/usr\/sbin\/rhcrashkernel-param \] && \/usr\/sbin\/rhcrashkernel-param \|\| :\) intel_iommu=on iommu=pt"/);
    } finally {
      t.cleanup();
    }
  });
});
