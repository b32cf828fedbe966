/**
 * More CLI paths: driverctl hosts, /etc/kernel/cmdline hosts (systemd-boot, Proxmox), SR-IOV persistence,
 * the terminal confirmation, built-in vfio-pci. Fake executables on PATH record their arguments.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { main } from '../../src/cli/main.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC, driverOf, useFakeApplyRuntime } from './helpers.js';

const runtime = useFakeApplyRuntime(['driverctl', 'proxmox-boot-tool', 'kernel-install', 'udevadm', 'update-initramfs', 'systemctl']);

function tree(files: Record<string, string>): { root: string; cleanup(): void; env: Record<string, string>; log(): string } {
  const t = makeTempHostTree({ ...SPEC, files });
  const logFile = path.join(t.root, 'fake.log');
  return {
    ...t,
    env: { PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: logFile, NO_COLOR: '1', VFIOCTL_EXEC_ON_ROOT: '1' },
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
  };
}

describe('more mutating paths', () => {
  it('driverctl installed: persist uses driverctl set-override, unpersist unset-override; no udev rule or unit', async () => {
    const t = tree({ 'usr/sbin/driverctl': '#!/bin/sh\n', 'etc/os-release': 'ID=fedora\nVERSION_ID=40\n' });
    try {
      const p = await runCli(['persist', '01:00.0', '--yes', '--root', t.root], { env: t.env });
      assert.equal(p.code, 0, p.stderr);
      assert.match(t.log(), /^driverctl set-override 0000:01:00\.0 vfio-pci$/m);
      assert.equal(fs.existsSync(path.join(t.root, 'etc/udev/rules.d/61-vfioctl.rules')), false);
      assert.match(fs.readFileSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf'), 'utf8'), /softdep e1000e pre: vfio-pci/);
      const u = await runCli(['unpersist', '01:00.0', '--yes', '--root', t.root], { env: t.env });
      assert.equal(u.code, 0, u.stderr);
      assert.match(t.log(), /^driverctl unset-override 0000:01:00\.0$/m);
      assert.equal(fs.existsSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf')), false);
    } finally {
      t.cleanup();
    }
  });

  it('Proxmox (systemd-boot): edits /etc/kernel/cmdline and runs proxmox-boot-tool refresh; disable restores it', async () => {
    const line = 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n';
    const t = tree({ 'etc/kernel/proxmox-boot-uuids': 'ABCD-1234\n', 'etc/kernel/cmdline': line, 'proc/cpuinfo': 'vendor_id\t: GenuineIntel\n' });
    try {
      const e = await runCli(['host', 'enable-iommu', '--yes', '--json', '--root', t.root], { env: t.env });
      assert.equal(e.code, 0, e.stdout);
      const j = e.json<{ result: { ran: string[]; needsReboot: boolean } }>();
      assert.deepEqual(j.result.ran, ['proxmox-boot-tool refresh']);
      assert.equal(j.result.needsReboot, true);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/kernel/cmdline'), 'utf8'), 'root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt\n');
      const d = await runCli(['host', 'disable-iommu', '--yes', '--root', t.root], { env: t.env });
      assert.equal(d.code, 0, d.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/kernel/cmdline'), 'utf8'), line);
    } finally {
      t.cleanup();
    }
  });

  it('AMD: nothing to add but iommu=pt; --no-pt on AMD adds nothing and says why', async () => {
    const t = tree({ 'etc/kernel/cmdline': 'root=/dev/sda2 rw\n', 'boot/loader/loader.conf': 'default x\n', 'proc/cpuinfo': 'vendor_id\t: AuthenticAMD\n' });
    try {
      const d = await runCli(['host', 'enable-iommu', '--dry-run', '--root', t.root], { env: t.env });
      assert.match(d.stdout, /\+root=\/dev\/sda2 rw iommu=pt/);
      assert.doesNotMatch(d.stdout, /amd_iommu/);
      const n = await runCli(['host', 'enable-iommu', '--no-pt', '--yes', '--root', t.root], { env: t.env });
      assert.equal(n.code, 0);
      assert.match(n.stdout, /amd_iommu=on is not a valid value/);
    } finally {
      t.cleanup();
    }
  });

  it('--allow-unsafe-interrupts writes its own modprobe file with a warning; disable-iommu removes it', async () => {
    const t = tree({ 'etc/kernel/cmdline': 'root=/dev/sda2 rw\n', 'boot/loader/loader.conf': 'default x\n', 'proc/cpuinfo': 'vendor_id\t: GenuineIntel\n' });
    try {
      const e = await runCli(['host', 'enable-iommu', '--allow-unsafe-interrupts', '--yes', '--root', t.root], { env: t.env });
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stderr, /WARNING: allow_unsafe_interrupts lets a guest inject interrupts/);
      assert.match(fs.readFileSync(path.join(t.root, 'etc/modprobe.d/vfioctl-unsafe-interrupts.conf'), 'utf8'), /^options vfio_iommu_type1 allow_unsafe_interrupts=1$/m);
      await runCli(['host', 'disable-iommu', '--yes', '--root', t.root], { env: t.env });
      assert.equal(fs.existsSync(path.join(t.root, 'etc/modprobe.d/vfioctl-unsafe-interrupts.conf')), false);
    } finally {
      t.cleanup();
    }
  });

  it('sriov set --persist: VFs now and a udev rule for every boot; count 0 removes the rule', async () => {
    const t = tree({});
    try {
      const r = await runCli(['sriov', 'set', '04:00.0', '2', '--persist', '--yes', '--json', '--root', t.root], { env: t.env });
      assert.equal(r.code, 0, r.stdout);
      const j = r.json<{ result: { vfs: string[] }; persisted: { written: { path: string }[] } }>();
      assert.deepEqual(j.result.vfs, ['0000:04:10.0', '0000:04:10.1']);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/udev/rules.d/62-vfioctl-sriov.rules'), 'utf8').split('\n')[1], 'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:04:00.0", ATTR{sriov_numvfs}="2"');
      const z = await runCli(['sriov', 'set', '04:00.0', '0', '--persist', '--yes', '--root', t.root], { env: t.env });
      assert.equal(z.code, 0, z.stderr);
      assert.equal(fs.existsSync(path.join(t.root, 'etc/udev/rules.d/62-vfioctl-sriov.rules')), false);
    } finally {
      t.cleanup();
    }
  });

  it('on a terminal the change is confirmed interactively; "no" changes nothing', async () => {
    const t = tree({});
    try {
      const asked: string[] = [];
      const io = (answer: boolean): Parameters<typeof main>[1] => ({
        stdout: { write: () => true }, stderr: { write: () => true }, isTTY: true, env: { NO_COLOR: '1' },
        confirm: async (q: string) => {
          asked.push(q);
          return answer;
        },
      });
      assert.equal(await main(['bind', '01:00.0', '--root', t.root], io(false)), 2);
      assert.equal(driverOf(t.root, '0000:01:00.0'), 'e1000e');
      assert.equal(await main(['bind', '01:00.0', '--root', t.root], io(true)), 0);
      assert.equal(driverOf(t.root, '0000:01:00.0'), 'vfio-pci');
      assert.match(asked[0]!, /move 1 function\(s\) to vfio-pci \(0000:01:00\.0\)\?/);
    } finally {
      t.cleanup();
    }
  });

  it('--by-id on a kernel with vfio-pci built in is refused (modprobe.d options would be ignored)', async () => {
    const t = tree({ 'proc/sys/kernel/osrelease': '6.8.0-x\n', 'lib/modules/6.8.0-x/modules.builtin': 'kernel/drivers/vfio/pci/vfio-pci.ko\n' });
    try {
      const r = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root], { env: t.env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /built into this kernel/);
      assert.match(r.stderr, /vfio-pci\.ids=8086:10d3/);
    } finally {
      t.cleanup();
    }
  });
});
