import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { HostRoot } from '../../src/host/host-root.js';
import { ConfigWriter, RealSysfsWriter, SysfsWriteError, unifiedDiff } from '../../src/host/host-writer.js';
import { createExec, ExecError } from '../../src/adapters/exec.js';
import { requirePciAddress } from '../../src/model/pci-address.js';
import { makeEnv } from './helpers.js';
import { applyRecover } from '../../src/apply/recover.js';

function tree(files: Record<string, string> = {}, links: Record<string, string> = {}): { root: string; host: HostRoot; cleanup(): void } {
  const t = makeTempHostTree({ functions: [{ address: '0000:01:00.0', vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: 'e1000e', iommuGroup: 1 }], files, links });
  return { ...t, host: new HostRoot(t.root) };
}

describe('ConfigWriter: allowlist, atomic writes, backups', () => {
  it('writes only allowlisted paths', () => {
    const t = tree();
    try {
      const w = new ConfigWriter(t.host, 'var/lib/vfioctl/backups');
      for (const ok of ['etc/default/grub', 'etc/kernel/cmdline', 'etc/modprobe.d/vfioctl-vfio.conf', 'etc/udev/rules.d/61-vfioctl.rules', 'etc/systemd/system/vfioctl-bind.service', 'var/lib/vfioctl/state.json', 'etc/initramfs-tools/modules']) assert.ok(w.isAllowed(ok), ok);
      for (const bad of ['etc/passwd', 'etc/modprobe.d/blacklist.conf', 'etc/udev/rules.d/70-net.rules', 'etc/systemd/system/sshd.service', 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'var/lib/vfioctl/../../etc/shadow', 'etc/default/grub.d/x.cfg']) {
        assert.equal(w.isAllowed(bad), false, bad);
      }
      assert.throws(() => w.write('etc/passwd', 'x', 'r1'), /never writes/);
    } finally {
      t.cleanup();
    }
  });
  it('an existing modprobe.d file the user names becomes writable; a missing one is refused', () => {
    const t = tree({ 'etc/modprobe.d/vfio.conf': 'options vfio-pci ids=10de:1b80\n' });
    try {
      const w = new ConfigWriter(t.host, 'var/lib/vfioctl/backups');
      assert.equal(w.isAllowed('etc/modprobe.d/vfio.conf'), false);
      w.allowExistingModprobeFile('etc/modprobe.d/vfio.conf');
      assert.ok(w.isAllowed('etc/modprobe.d/vfio.conf'));
      assert.throws(() => w.allowExistingModprobeFile('etc/modprobe.d/other.conf'), /does not exist/);
    } finally {
      t.cleanup();
    }
  });
  it('writes atomically, keeps the mode, backs up the old content under the run id, follows a link inside the root', () => {
    const t = tree({ 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n' }, { 'etc/sysconfig/grub': '../default/grub' });
    try {
      fs.chmodSync(path.join(t.root, 'etc/default/grub'), 0o600);
      const w = new ConfigWriter(t.host, 'var/lib/vfioctl/backups');
      const r = w.write('etc/sysconfig/grub', 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n', 'run1');
      assert.equal(r.rel, 'etc/default/grub');
      assert.equal(r.backup, 'var/lib/vfioctl/backups/run1/etc/default/grub');
      assert.ok(fs.lstatSync(path.join(t.root, 'etc/sysconfig/grub')).isSymbolicLink(), 'the link stays a link');
      assert.equal(fs.statSync(path.join(t.root, 'etc/default/grub')).mode & 0o777, 0o600);
      assert.equal(fs.readFileSync(path.join(t.root, r.backup!), 'utf8'), 'GRUB_CMDLINE_LINUX=""\n');
      assert.deepEqual(fs.readdirSync(path.join(t.root, 'etc/default')), ['grub'], 'no temporary file left');
      assert.equal(w.write('etc/default/grub', 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n', 'run2').changed, false);
    } finally {
      t.cleanup();
    }
  });
  it('refuses a link that leads outside the root or to a file it does not write', () => {
    const t = tree({ 'etc/shadow': 'x' }, { 'etc/default/grub': '../shadow', 'etc/kernel/cmdline': '../../../../../../tmp/x' });
    try {
      const w = new ConfigWriter(t.host, 'var/lib/vfioctl/backups');
      assert.throws(() => w.write('etc/default/grub', 'y', 'r'), /links to .*etc\/shadow, which vfioctl does not write/);
      assert.throws(() => w.write('etc/kernel/cmdline', 'y', 'r'), /leads outside the host root/);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/shadow'), 'utf8'), 'x');
    } finally {
      t.cleanup();
    }
  });
  it('renders a unified diff labelled with the host path', () => {
    const d = unifiedDiff('/etc/default/grub', 'A\nB\n', 'A\nC\n');
    assert.match(d, /--- a\/etc\/default\/grub/);
    assert.match(d, /-B\n\+C/);
    assert.match(unifiedDiff('/etc/x', null, 'n\n'), /--- \/dev\/null/);
  });
});

describe('RealSysfsWriter and exec', () => {
  it('never creates an attribute that does not exist, and reports the errno with a remedy', () => {
    const t = tree();
    try {
      const w = new RealSysfsWriter(t.host, createExec());
      const addr = requirePciAddress('0000:01:00.0');
      w.writePciAttr(addr, 'driver_override', 'vfio-pci\n');
      assert.equal(fs.readFileSync(path.join(t.root, 'sys/bus/pci/devices/0000:01:00.0/driver_override'), 'utf8'), 'vfio-pci\n');
      assert.throws(() => w.writePciAttr(requirePciAddress('0000:09:00.0'), 'driver_override', 'x'), (e: SysfsWriteError) => e.errno === 'ENOENT' && /kernel is too old|device is gone/.test(e.remedy ?? ''));
      assert.throws(() => w.writeDriverAttr('no-such', 'bind', '0000:01:00.0'), SysfsWriteError);
      assert.equal(fs.existsSync(path.join(t.root, 'sys/bus/pci/drivers/no-such')), false);
    } finally {
      t.cleanup();
    }
  });
  it('exec: structured errors for a failing, a missing and a hanging command', async () => {
    const ex = createExec();
    const okr = await ex.run(['sh', '-c', 'echo hi; echo warn >&2']);
    assert.equal(okr.stdout, 'hi\n');
    await assert.rejects(ex.run(['sh', '-c', 'echo boom >&2; exit 4']), (e: ExecError) => e.status === 4 && /exit status 4: boom/.test(e.message) && e.code === 'command-failed');
    await assert.rejects(ex.run(['vfioctl-no-such-command-x']), (e: ExecError) => e.status === null && /command not found/.test(e.message));
    await assert.rejects(ex.run(['sleep', '5'], { timeoutMs: 100 }), /did not finish within/);
  });
});

describe('recover: completing a run that reached its commit point', () => {
  it('commits the recorded state change without touching the host', async () => {
    const env = makeEnv();
    try {
      env.ctx.store.writeJournal({
        version: 1, runId: 'r9', command: 'bind', args: ['0000:01:00.0'], pid: 2 ** 22 + 9, startedAt: 'then', status: 'running',
        steps: [{ seq: 1, type: 'bind', address: '0000:01:00.0', original: { driver: 'e1000e', override: null }, target: { driver: 'vfio-pci', override: 'vfio-pci' }, status: 'done' }],
        commit: { bind: { '0000:01:00.0': { original: { driver: 'e1000e', override: null }, runId: 'r9', at: 'then', iommuGroup: 1 } } },
      });
      const r = await applyRecover(env.ctx);
      assert.equal(r.action, 'completed');
      assert.deepEqual(Object.keys(env.ctx.store.readState().bound), ['0000:01:00.0']);
      assert.deepEqual(env.kernel.writes, []);
      assert.equal(env.ctx.store.listRuns()[0]?.status, 'committed');
    } finally {
      env.cleanup();
    }
  });
});
