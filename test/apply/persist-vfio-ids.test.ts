/**
 * persist --by-id when vfio-pci is built into the kernel: vfio-pci.ids= on the kernel command line,
 * merged with the IDs the user had, removed again exactly (golden in/out files in test/golden/boot/).
 * Real host trees and the production planner/applier; boot-loader commands are not run here
 * (runCommands: false) and are asserted as planned argv; the CLI tests run them as fake executables.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeEnv, type Env } from './helpers.js';
import { readGoldenInput, expectGoldenOutput } from '../support/golden.js';
import { applyConfigPlan, planPersist, planUnpersist, isCmdlineIdsRecord, MODPROBE_FILE, type ConfigPlan } from '../../src/apply/persist.js';
import { detectBootTooling } from '../../src/host/detect-boot.js';
import { newRunId } from '../../src/apply/state.js';

const BUILTIN = { 'proc/sys/kernel/osrelease': '6.8.9-300.fc40.x86_64\n', 'lib/modules/6.8.9-300.fc40.x86_64/modules.builtin': 'kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci.ko\n' };
const GRUB_DEBIAN = { ...BUILTIN, 'usr/sbin/update-grub': '#!/bin/sh\n', 'usr/sbin/mkinitramfs': '#!/bin/sh\n' };
const SYSTEMD_BOOT = { ...BUILTIN, 'boot/loader/loader.conf': 'default arch.conf\n', 'usr/bin/kernel-install': '#!/bin/sh\n' };

function persistIds(env: Env, addresses: string[], ids: string[]): ConfigPlan {
  return planPersist(env.host, detectBootTooling(env.host), env.ctx.store.readState(), { addresses, mode: 'ids', ids, softdeps: ['e1000e'], vfioPciBuiltin: true }, newRunId());
}
function unpersist(env: Env, keys: string[] | 'all' = 'all'): ConfigPlan {
  return planUnpersist(env.host, detectBootTooling(env.host), env.ctx.store.readState(), keys);
}
async function apply(env: Env, plan: ConfigPlan): Promise<void> {
  await applyConfigPlan(env.ctx, plan, { regenerate: true, runCommands: false });
}
const read = (env: Env, rel: string): string => fs.readFileSync(path.join(env.root, rel), 'utf8');

describe('persist --by-id with vfio-pci built in: vfio-pci.ids= on the kernel command line', () => {
  it('grub defaults with the user\'s vfio-pci.ids: merged in place, update-grub, reboot; twice changes nothing; unpersist gives the file back byte for byte', async () => {
    const input = readGoldenInput('boot', 'grub-vfio-ids');
    const env = makeEnv({ files: { ...GRUB_DEBIAN, 'etc/default/grub': input } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual(plan.files.map((f) => f.rel), ['etc/default/grub']);
      assert.deepEqual(plan.commands.map((c) => c.argv.join(' ')), ['update-grub']);
      assert.equal(plan.needsReboot, true);
      assert.ok(plan.notes.some((n) => /reboot is needed/.test(n)));
      await apply(env, plan);
      const after = read(env, 'etc/default/grub');
      expectGoldenOutput('boot', 'grub-vfio-ids.persist.out', after);
      assert.equal(fs.existsSync(path.join(env.root, MODPROBE_FILE)), false, 'modprobe.d is ignored for a built-in vfio-pci');
      assert.equal(fs.existsSync(path.join(env.root, 'etc/initramfs-tools/modules')), false);
      const rec = env.ctx.store.readState().persisted['id:8086:10d3']!;
      assert.ok(isCmdlineIdsRecord(rec));
      assert.deepEqual(rec.edits, [{ rel: 'etc/default/grub', added: ['8086:10d3'], replaced: [] }]);

      const again = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual([again.files, again.commands, again.delta], [[], [], {}]);

      const u = unpersist(env, ['id:8086:10d3']);
      assert.deepEqual(u.commands.map((c) => c.argv.join(' ')), ['update-grub']);
      await apply(env, u);
      assert.equal(read(env, 'etc/default/grub'), input);
      assert.deepEqual(env.ctx.store.readState().persisted, {});
    } finally {
      env.cleanup();
    }
  });

  it('IDs the user had already are recorded as not added: unpersist leaves them', async () => {
    const input = readGoldenInput('boot', 'grub-vfio-ids');
    const env = makeEnv({ files: { ...GRUB_DEBIAN, 'etc/default/grub': input } });
    try {
      const plan = persistIds(env, ['0000:02:00.0', '0000:02:00.1'], ['10de:1b80', '10de:10f0']);
      assert.deepEqual(plan.files, []);
      assert.deepEqual(plan.commands, []);
      assert.ok(plan.notes.some((n) => /10de:1b80, 10de:10f0 were on the command line already/.test(n)), plan.notes.join('\n'));
      await apply(env, plan);
      assert.deepEqual(env.ctx.store.readState().persisted['id:10de:1b80']!.edits[0]!.added, []);
      const u = unpersist(env);
      assert.deepEqual([u.files, u.commands], [[], []]);
      await apply(env, u);
      assert.equal(read(env, 'etc/default/grub'), input);
      assert.deepEqual(env.ctx.store.readState().persisted, {});
    } finally {
      env.cleanup();
    }
  });

  it('a vfio_pci.ids the user keeps in GRUB_CMDLINE_LINUX_DEFAULT stays there with its spelling and quotes', async () => {
    const input = readGoldenInput('boot', 'grub-vfio-ids-default');
    const env = makeEnv({ files: { ...BUILTIN, 'etc/default/grub': input, 'usr/bin/grub-mkconfig': '#!/bin/sh\n', 'etc/os-release': 'ID=arch\n' } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual(plan.commands.map((c) => c.argv.join(' ')), ['grub-mkconfig -o /boot/grub/grub.cfg']);
      await apply(env, plan);
      expectGoldenOutput('boot', 'grub-vfio-ids-default.persist.out', read(env, 'etc/default/grub'));
      await apply(env, unpersist(env));
      assert.equal(read(env, 'etc/default/grub'), input);
    } finally {
      env.cleanup();
    }
  });

  it('/etc/kernel/cmdline with the user\'s IDs: merged without duplicates, kernel-install; unpersist restores it', async () => {
    const input = readGoldenInput('boot', 'cmdline-vfio-ids');
    const env = makeEnv({ files: { ...SYSTEMD_BOOT, 'etc/kernel/cmdline': input } });
    try {
      // 1002:67df is the user's already; only 8086:10d3 is added
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3', '1002:67DF']);
      assert.deepEqual(plan.commands.map((c) => c.argv.join(' ')), ['kernel-install add 6.8.9-300.fc40.x86_64 /lib/modules/6.8.9-300.fc40.x86_64/vmlinuz']);
      await apply(env, plan);
      expectGoldenOutput('boot', 'cmdline-vfio-ids.persist.out', read(env, 'etc/kernel/cmdline'));
      await apply(env, unpersist(env));
      assert.equal(read(env, 'etc/kernel/cmdline'), input);
    } finally {
      env.cleanup();
    }
  });

  it('/etc/kernel/cmdline without the parameter: added before `--`, removed whole when its list empties', async () => {
    const input = readGoldenInput('boot', 'cmdline-builtin');
    const env = makeEnv({ files: { ...SYSTEMD_BOOT, 'etc/kernel/cmdline': input } });
    try {
      await apply(env, persistIds(env, ['0000:01:00.0'], ['8086:10d3']));
      expectGoldenOutput('boot', 'cmdline-builtin.persist.out', read(env, 'etc/kernel/cmdline'));
      // a second function later: merged into the same parameter
      await apply(env, persistIds(env, ['0000:04:00.0'], ['1b36:0010']));
      assert.match(read(env, 'etc/kernel/cmdline'), / quiet vfio-pci\.ids=8086:10d3,1b36:0010 -- single\n$/);
      await apply(env, unpersist(env, ['id:8086:10d3']));
      assert.match(read(env, 'etc/kernel/cmdline'), / quiet vfio-pci\.ids=1b36:0010 -- single\n$/);
      await apply(env, unpersist(env));
      assert.equal(read(env, 'etc/kernel/cmdline'), input);
    } finally {
      env.cleanup();
    }
  });

  it('a later per-address persist does not put the command-line IDs into modprobe.d', async () => {
    const env = makeEnv({ files: { ...SYSTEMD_BOOT, 'etc/kernel/cmdline': 'root=/dev/sda2 rw\n' } });
    try {
      await apply(env, persistIds(env, ['0000:01:00.0'], ['8086:10d3']));
      const p = planPersist(env.host, detectBootTooling(env.host), env.ctx.store.readState(), { addresses: ['0000:04:00.0'], mode: 'per-address', softdeps: ['nvme'] }, newRunId());
      await apply(env, p);
      const conf = read(env, MODPROBE_FILE);
      assert.match(conf, /softdep nvme pre: vfio-pci/);
      assert.doesNotMatch(conf, /ids=/);
      assert.doesNotMatch(conf, /e1000e/);
    } finally {
      env.cleanup();
    }
  });

  it('grubby with a grub defaults file: the file is edited for future kernels and grubby updates the entries; undo restores both', async () => {
    const grub = 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet vfio_pci.ids=10de:1b80"\n';
    const env = makeEnv({ files: { ...BUILTIN, 'usr/sbin/grubby': '#!/bin/sh\n', 'etc/default/grub': grub, 'etc/os-release': 'ID="rhel"\nVERSION_ID="9.4"\n' } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual(plan.commands.map((c) => [c.argv.join(' '), c.undoArgv?.join(' ')]), [
        ['grubby --update-kernel=ALL --args=vfio_pci.ids=10de:1b80,8086:10d3', 'grubby --update-kernel=ALL --args=vfio_pci.ids=10de:1b80'],
      ]);
      await apply(env, plan);
      assert.equal(read(env, 'etc/default/grub'), 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet vfio_pci.ids=10de:1b80,8086:10d3"\n');
      assert.deepEqual(env.ctx.store.readState().persisted['id:8086:10d3']!.edits, [{ rel: 'tool:grubby', added: ['8086:10d3'], replaced: [] }]);
      const u = unpersist(env);
      assert.deepEqual(u.commands.map((c) => c.argv.join(' ')), ['grubby --update-kernel=ALL --args=vfio_pci.ids=10de:1b80']);
      await apply(env, u);
      assert.equal(read(env, 'etc/default/grub'), grub);
    } finally {
      env.cleanup();
    }
  });

  it('kernelstub without its configuration file: the old value (from the running line) is deleted and the merged one added', () => {
    const env = makeEnv({ files: { ...BUILTIN, 'usr/bin/kernelstub': '#!/bin/sh\n', 'etc/os-release': 'ID=pop\n', 'proc/cmdline': 'initrd=\\EFI\\Pop_OS\\initrd.img root=UUID=abc ro vfio-pci.ids=10de:1b80 quiet\n' } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual(plan.commands.map((c) => c.argv.join(' ')), ['kernelstub --delete-options vfio-pci.ids=10de:1b80', 'kernelstub --add-options vfio-pci.ids=10de:1b80,8086:10d3']);
      assert.deepEqual(plan.files, []);
      assert.equal(plan.needsReboot, true);
      assert.ok(plan.notes.some((n) => /read from the running command line/.test(n)));
    } finally {
      env.cleanup();
    }
  });

  it('kernelstub: the configured options (user.kernel_options) are read; unpersist deletes exactly the value vfioctl set', async () => {
    const config = JSON.stringify({ default: { kernel_options: ['quiet', 'splash'] }, user: { kernel_options: ['quiet', 'loglevel=0', 'vfio_pci.ids=10de:1b80,10de:10f0'] } });
    const env = makeEnv({ files: { ...BUILTIN, 'etc/kernelstub/configuration': config, 'proc/cmdline': 'root=UUID=abc ro quiet\n' } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.deepEqual(plan.commands.map((c) => c.argv.join(' ')), ['kernelstub --delete-options vfio_pci.ids=10de:1b80,10de:10f0', 'kernelstub --add-options vfio_pci.ids=10de:1b80,10de:10f0,8086:10d3']);
      assert.ok(!plan.notes.some((n) => /running command line/.test(n)));
      await apply(env, plan);
      // kernelstub (not run here) would now hold the merged value
      fs.writeFileSync(path.join(env.root, 'etc/kernelstub/configuration'), config.replace('10de:10f0', '10de:10f0,8086:10d3'));
      const u = unpersist(env);
      assert.deepEqual(u.commands.map((c) => c.argv.join(' ')), ['kernelstub --delete-options vfio_pci.ids=10de:1b80,10de:10f0,8086:10d3', 'kernelstub --add-options vfio_pci.ids=10de:1b80,10de:10f0']);
    } finally {
      env.cleanup();
    }
  });

  it('Proxmox with /etc/kernel/cmdline: proxmox-boot-tool refresh after the edit', () => {
    const env = makeEnv({ files: { ...BUILTIN, 'etc/kernel/proxmox-boot-uuids': 'ABCD-1234\n', 'etc/kernel/cmdline': 'root=ZFS=rpool/ROOT/pve-1 boot=zfs\n' } });
    try {
      const plan = persistIds(env, ['0000:01:00.0'], ['8086:10d3']);
      assert.equal(plan.files[0]!.after, 'root=ZFS=rpool/ROOT/pve-1 boot=zfs vfio-pci.ids=8086:10d3\n');
      assert.deepEqual(plan.commands.map((c) => [c.argv.join(' '), c.regenerate]), [['proxmox-boot-tool refresh', true]]);
    } finally {
      env.cleanup();
    }
  });

  it('an unrecognised boot loader is refused with the parameter to add by hand, nothing written', () => {
    const env = makeEnv({ files: BUILTIN });
    try {
      assert.throws(() => persistIds(env, ['0000:01:00.0'], ['8086:10d3']), (e: Error & { remedy?: string }) => e.message.includes('boot loader') && /vfio-pci\.ids=8086:10d3/.test(e.remedy ?? ''));
    } finally {
      env.cleanup();
    }
  });
});
