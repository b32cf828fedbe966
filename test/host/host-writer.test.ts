/**
 * The write side under hostile conditions: umask 000 (every mode is explicit), bytes that are not UTF-8
 * (kept, in the file, the backup and the undo), owner/group/mode of an edited file (kept on the atomic
 * replace and given back by undo), and directories a write created (removed again on undo and remove,
 * only while empty).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { runCli } from '../support/cli.js';
import { HostRoot } from '../../src/host/host-root.js';
import { ConfigWriter, configDiff, encodeConfigText, mkdirInRoot, writeFileInRoot } from '../../src/host/host-writer.js';
import { SPEC } from '../apply/helpers.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function tree(files: Record<string, string> = {}): { root: string; host: HostRoot } {
  const t = makeTempHostTree({ ...SPEC, files });
  cleanups.push(t.cleanup);
  return { root: t.root, host: new HostRoot(t.root) };
}

function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

const mode = (p: string): number => fs.statSync(p).mode & 0o7777;

describe('modes are explicit (umask 000)', () => {
  it('system config directories 0755 and files 0644; backups and state 0700 directories and 0600 files', () => {
    const { root, host } = tree({ 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n' });
    withUmask(0, () => {
      const w = new ConfigWriter(host, 'var/lib/vfioctl/backups');
      const r = w.write('etc/udev/rules.d/61-vfioctl.rules', 'ACTION=="add"\n', 'run1');
      assert.deepEqual(r.createdDirs, ['etc/udev', 'etc/udev/rules.d']);
      w.write('etc/systemd/system/vfioctl-bind.service', '[Unit]\n', 'run1');
      w.write('etc/modprobe.d/vfioctl-vfio.conf', 'options vfio-pci ids=10de:1b80\n', 'run1');
      w.write('etc/default/grub', 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n', 'run1');
      writeFileInRoot(host, 'var/lib/vfioctl/state.json', '{}\n');
    });
    for (const d of ['etc/udev', 'etc/udev/rules.d', 'etc/systemd', 'etc/systemd/system', 'etc/modprobe.d']) assert.equal(mode(path.join(root, d)), 0o755, d);
    for (const f of ['etc/udev/rules.d/61-vfioctl.rules', 'etc/systemd/system/vfioctl-bind.service', 'etc/modprobe.d/vfioctl-vfio.conf', 'etc/default/grub']) assert.equal(mode(path.join(root, f)), 0o644, f);
    for (const d of ['var/lib/vfioctl', 'var/lib/vfioctl/backups', 'var/lib/vfioctl/backups/run1', 'var/lib/vfioctl/backups/run1/etc', 'var/lib/vfioctl/backups/run1/etc/default']) assert.equal(mode(path.join(root, d)), 0o700, d);
    for (const f of ['var/lib/vfioctl/backups/run1/etc/default/grub', 'var/lib/vfioctl/state.json', 'var/lib/vfioctl/backups/run1/ledger.json']) assert.equal(mode(path.join(root, f)), 0o600, f);
  });

  it('mkdirInRoot refuses a path through a link out of the root and creates nothing outside', () => {
    const { root, host } = tree();
    const outside = fs.mkdtempSync(path.join(path.dirname(root), 'vfioctl-out-'));
    cleanups.push(() => fs.rmSync(outside, { recursive: true, force: true }));
    fs.mkdirSync(path.join(root, 'var'), { recursive: true });
    fs.rmSync(path.join(root, 'var/lib'), { recursive: true, force: true });
    fs.symlinkSync(path.relative(path.join(root, 'var'), outside), path.join(root, 'var/lib'));
    assert.throws(() => mkdirInRoot(host, 'var/lib/vfioctl/backups', 0o700), /leads outside the host root[\s\S]*/);
    assert.deepEqual(fs.readdirSync(outside), []);
  });
});

describe('bytes are kept', () => {
  const ORIGINAL = Buffer.concat([
    Buffer.from('# caf'),
    Buffer.from([0xe9, 0x20, 0xff, 0xfe, 0xc3, 0x28]), // latin1 é, stray bytes, an invalid UTF-8 pair
    Buffer.from('\nGRUB_DEFAULT=0\r\nGRUB_CMDLINE_LINUX="quiet"\n# Gr\u00fc\u00dfe\n', 'utf8'),
  ]);
  const DEBIAN = { 'etc/default/grub': '', 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'usr/sbin/update-grub': '#!/bin/sh\n', 'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\n' };

  it('an edit keeps every byte it does not touch, the backup is a byte copy, and undoing gives the file back exactly', async () => {
    const { root } = tree(DEBIAN);
    const grub = path.join(root, 'etc/default/grub');
    fs.writeFileSync(grub, ORIGINAL);
    const e = await runCli(['host', 'enable-iommu', '--yes', '--root', root], { env: { NO_COLOR: '1' } });
    assert.equal(e.code, 0, e.stderr);
    const after = fs.readFileSync(grub);
    const expected = Buffer.from(ORIGINAL.toString('latin1').replace('GRUB_CMDLINE_LINUX="quiet"', 'GRUB_CMDLINE_LINUX="quiet intel_iommu=on iommu=pt"'), 'latin1');
    assert.deepEqual(after, expected, 'only the tokens were added');
    const runs = fs.readdirSync(path.join(root, 'var/lib/vfioctl/backups')).filter((n) => !n.endsWith('.undo'));
    assert.deepEqual(fs.readFileSync(path.join(root, 'var/lib/vfioctl/backups', runs[0]!, 'etc/default/grub')), ORIGINAL, 'the backup is a byte copy');
    const off = await runCli(['host', 'disable-iommu', '--yes', '--root', root], { env: { NO_COLOR: '1' } });
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(fs.readFileSync(grub), ORIGINAL, 'removing the tokens gives back the same bytes');
  });

  it('the diff a person sees shows UTF-8 text decoded, and bytes that are not UTF-8 as they are', async () => {
    const { root } = tree(DEBIAN);
    fs.writeFileSync(path.join(root, 'etc/default/grub'), 'GRUB_CMDLINE_LINUX="quiet"\n# Gr\u00fc\u00dfe\n');
    const d = await runCli(['host', 'enable-iommu', '--dry-run', '--root', root], { env: { NO_COLOR: '1' } });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, / # Grüße/);
    const latin = Buffer.from('A\nB\xe9\n', 'latin1').toString('latin1');
    assert.match(configDiff('/etc/x', latin, `${latin}C\n`), /B\u00e9/);
    assert.deepEqual(encodeConfigText(latin), Buffer.from([0x41, 0x0a, 0x42, 0xe9, 0x0a]));
    assert.deepEqual(encodeConfigText('\u2014'), Buffer.from('\u2014', 'utf8'), 'generated text above U+00FF is UTF-8');
  });
});

describe('owner, group and mode', () => {
  it('are kept on the atomic replace, and undo gives back what the file had before the run', () => {
    const { root, host } = tree({ 'etc/default/grub': 'GRUB_CMDLINE_LINUX=""\n' });
    const grub = path.join(root, 'etc/default/grub');
    fs.chownSync(grub, 1234, 5678);
    fs.chmodSync(grub, 0o640);
    const w = new ConfigWriter(host, 'var/lib/vfioctl/backups');
    w.write('etc/default/grub', 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n', 'run1');
    let st = fs.statSync(grub);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o640], 'kept on replace');
    fs.chownSync(grub, 0, 0);
    fs.chmodSync(grub, 0o600);
    w.restore('etc/default/grub', 'GRUB_CMDLINE_LINUX=""\n', 'run1');
    st = fs.statSync(grub);
    assert.equal(fs.readFileSync(grub, 'utf8'), 'GRUB_CMDLINE_LINUX=""\n');
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o640], 'undo restores owner and mode');
    assert.ok(fs.existsSync(path.join(root, 'var/lib/vfioctl/backups/run1/etc/default/grub')), 'the original backup is not overwritten by the undo');
    assert.equal(fs.readFileSync(path.join(root, 'var/lib/vfioctl/backups/run1/etc/default/grub'), 'utf8'), 'GRUB_CMDLINE_LINUX=""\n');
  });
});

describe('directories vfioctl created', () => {
  it('are removed again on undo (only while empty) and on a later remove; directories that existed stay', () => {
    const { root, host } = tree({ 'etc/modprobe.d/.keep': '' });
    fs.rmSync(path.join(root, 'etc/modprobe.d/.keep'));
    const w = new ConfigWriter(host, 'var/lib/vfioctl/backups');
    w.write('etc/udev/rules.d/61-vfioctl.rules', 'x\n', 'run1');
    w.write('etc/modprobe.d/vfioctl-vfio.conf', 'options vfio-pci ids=10de:1b80\n', 'run1');
    w.restore('etc/udev/rules.d/61-vfioctl.rules', null, 'run1');
    w.restore('etc/modprobe.d/vfioctl-vfio.conf', null, 'run1');
    assert.ok(!fs.existsSync(path.join(root, 'etc/udev')), 'etc/udev (created by the run) is gone');
    assert.ok(fs.existsSync(path.join(root, 'etc/modprobe.d')), 'etc/modprobe.d existed before: it stays, empty');
    // created by one run, removed by a later one
    w.write('etc/systemd/system/vfioctl-bind.service', '[Unit]\n', 'run2');
    fs.mkdirSync(path.join(root, 'etc/systemd/user'));
    w.remove('etc/systemd/system/vfioctl-bind.service', 'run3');
    assert.ok(!fs.existsSync(path.join(root, 'etc/systemd/system')), 'etc/systemd/system is gone');
    assert.ok(fs.existsSync(path.join(root, 'etc/systemd/user')), 'etc/systemd holds something else now: it stays');
  });
});
