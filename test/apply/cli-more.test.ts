/**
 * More CLI paths: driverctl hosts, /etc/kernel/cmdline hosts (systemd-boot, Proxmox), SR-IOV persistence,
 * the terminal confirmation, built-in vfio-pci (persist --by-id puts vfio-pci.ids= on the kernel command
 * line). Fake executables on PATH record their arguments.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { main } from '../../src/cli/main.js';
import { applyRuntime } from '../../src/cli/context.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC, driverOf, useFakeApplyRuntime } from './helpers.js';
import { readGoldenInput, expectGoldenOutput } from '../support/golden.js';

/** A kernel with vfio-pci built in (modules.builtin lists it), as on Fedora, RHEL and Arch. */
const BUILTIN = { 'proc/sys/kernel/osrelease': '6.8.0-x\n', 'lib/modules/6.8.0-x/modules.builtin': 'kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci.ko\n' };

const runtime = useFakeApplyRuntime(['driverctl', 'proxmox-boot-tool', 'kernel-install', 'udevadm', 'update-initramfs', 'systemctl', 'update-grub', 'grubby']);

function tree(files: Record<string, string>): { root: string; cleanup(): void; env: Record<string, string>; log(): string } {
  const t = makeTempHostTree({ ...SPEC, files });
  const logFile = path.join(t.root, 'fake.log');
  applyRuntime.liveRoots.add(t.root); // the root counts as the running system: commands run (fakes on PATH)
  return {
    ...t,
    env: { PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: logFile, NO_COLOR: '1' },
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

  it('--by-id with vfio-pci built in: --dry-run shows the grub diff; apply merges into the user\'s vfio-pci.ids, runs update-grub, says reboot; twice changes nothing; unpersist restores the file', async () => {
    const grub = readGoldenInput('boot', 'grub-vfio-ids');
    const t = tree({ ...BUILTIN, 'usr/sbin/update-grub': '#!/bin/sh\n', 'etc/default/grub': grub });
    const grubPath = path.join(t.root, 'etc/default/grub');
    try {
      const d = await runCli(['persist', '01:00.0', '--by-id', '--dry-run', '--root', t.root], { env: t.env });
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /^-GRUB_CMDLINE_LINUX="intel_iommu=on vfio-pci\.ids=10de:1b80,10de:10f0 rd\.driver\.pre=vfio-pci"$/m);
      assert.match(d.stdout, /^\+GRUB_CMDLINE_LINUX="intel_iommu=on vfio-pci\.ids=10de:1b80,10de:10f0,8086:10d3 rd\.driver\.pre=vfio-pci"$/m);
      assert.match(d.stdout, /^run: update-grub /m);
      assert.match(d.stdout, /reboot is needed/);
      assert.equal(fs.readFileSync(grubPath, 'utf8'), grub);
      assert.equal(t.log(), '');

      const a = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--json', '--root', t.root], { env: t.env });
      assert.equal(a.code, 0, a.stdout);
      const j = a.json<{ result: { ran: string[]; needsReboot: boolean; written: { path: string; backup: string | null }[] } }>();
      assert.deepEqual(j.result.ran, ['update-grub']);
      assert.equal(j.result.needsReboot, true);
      assert.ok(j.result.written[0]!.backup, 'the grub defaults file is backed up');
      expectGoldenOutput('boot', 'grub-vfio-ids.persist.out', fs.readFileSync(grubPath, 'utf8'));
      assert.equal(fs.existsSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf')), false);

      const h = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root], { env: t.env });
      assert.equal(h.code, 0, h.stderr);
      assert.match(h.stdout, /nothing to change/);
      assert.equal(t.log().match(/^update-grub/gm)?.length, 1, 'the second run ran nothing');

      const s = await runCli(['status', '--json', '--root', t.root], { env: t.env });
      const rec = s.json<{ persisted: Record<string, { mode: string; addresses: string[]; edits: { rel: string; added: string[] }[] }> }>().persisted['id:8086:10d3'];
      assert.deepEqual(rec && [rec.mode, rec.addresses, rec.edits], ['ids', ['0000:01:00.0'], [{ rel: 'etc/default/grub', added: ['8086:10d3'], replaced: [] }]]);
      const sh = await runCli(['status', '--root', t.root], { env: t.env });
      assert.match(sh.stdout, /persisted id:8086:10d3 \(ids\): .*etc\/default\/grub/);

      const u = await runCli(['unpersist', '01:00.0', '--yes', '--root', t.root], { env: t.env });
      assert.equal(u.code, 0, u.stderr);
      assert.equal(fs.readFileSync(grubPath, 'utf8'), grub, 'byte-identical, the user\'s IDs kept');
      assert.equal(t.log().match(/^update-grub/gm)?.length, 2);
    } finally {
      t.cleanup();
    }
  });

  it('--by-id with vfio-pci built in, --no-regenerate: the file is written, update-grub printed to run by hand', async () => {
    const t = tree({ ...BUILTIN, 'usr/sbin/update-grub': '#!/bin/sh\n', 'etc/default/grub': 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' });
    try {
      const r = await runCli(['persist', '01:00.0', '--by-id', '--no-regenerate', '--yes', '--root', t.root], { env: t.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^run by hand: update-grub$/m);
      assert.match(r.stdout, /^reboot needed:/m);
      assert.equal(t.log(), '');
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="vfio-pci.ids=8086:10d3"\n');
    } finally {
      t.cleanup();
    }
  });

  it('--by-id with vfio-pci built in: a failing update-grub rolls the grub file back and records nothing', async () => {
    const grub = readGoldenInput('boot', 'grub-vfio-ids');
    const t = tree({ ...BUILTIN, 'usr/sbin/update-grub': '#!/bin/sh\n', 'etc/default/grub': grub });
    try {
      const r = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root], { env: { ...t.env, FAKE_FAIL: 'update-grub' } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), grub);
      const s = await runCli(['status', '--json', '--root', t.root], { env: t.env });
      assert.deepEqual(s.json<{ persisted: object }>().persisted, {});
    } finally {
      t.cleanup();
    }
  });

  it('--by-id with vfio-pci built in on a grubby host: grubby --update-kernel=ALL --args=vfio-pci.ids=..., merged with the running IDs; unpersist gives back the user\'s', async () => {
    const t = tree({ ...BUILTIN, 'usr/sbin/grubby': '#!/bin/sh\n', 'boot/loader/entries/fedora.conf': 'title Fedora\n', 'etc/os-release': 'ID=fedora\nVERSION_ID=40\n', 'proc/cmdline': 'BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=UUID=abc ro vfio-pci.ids=10de:1b80 rhgb quiet\n' });
    try {
      const d = await runCli(['persist', '01:00.0', '--by-id', '--dry-run', '--root', t.root], { env: t.env });
      assert.match(d.stdout, /^run: grubby --update-kernel=ALL --args=vfio-pci\.ids=10de:1b80,8086:10d3 /m);
      const r = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root], { env: t.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^reboot needed:/m);
      assert.deepEqual(t.log().trim().split('\n'), ['grubby --update-kernel=ALL --args=vfio-pci.ids=10de:1b80,8086:10d3']);
      const again = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root], { env: t.env });
      assert.equal(again.code, 0);
      assert.equal(t.log().trim().split('\n').length, 1, 'idempotent: grubby not run again');
      const u = await runCli(['unpersist', '--all', '--yes', '--root', t.root], { env: t.env });
      assert.equal(u.code, 0, u.stderr);
      assert.equal(t.log().trim().split('\n')[1], 'grubby --update-kernel=ALL --args=vfio-pci.ids=10de:1b80');
    } finally {
      t.cleanup();
    }
  });

  it('--by-id with vfio-pci built in on a grubby host without IDs: unpersist removes the parameter', async () => {
    const t = tree({ ...BUILTIN, 'usr/sbin/grubby': '#!/bin/sh\n', 'boot/loader/entries/fedora.conf': 'title Fedora\n', 'proc/cmdline': 'root=UUID=abc ro\n' });
    try {
      assert.equal((await runCli(['persist', '02:00.0', '02:00.1', '--by-id', '--yes', '--root', t.root], { env: t.env })).code, 0);
      assert.equal((await runCli(['unpersist', '02:00.0', '--yes', '--root', t.root], { env: t.env })).code, 0);
      assert.deepEqual(t.log().trim().split('\n'), ['grubby --update-kernel=ALL --args=vfio-pci.ids=10de:1b80,10de:10f0', 'grubby --update-kernel=ALL --remove-args=vfio-pci.ids']);
    } finally {
      t.cleanup();
    }
  });
});
