/**
 * Hostile host trees: `--root` trees built by someone else, with symbolic links in every component of
 * the paths vfioctl reads and writes (absolute and relative, to a directory outside the root, and loops),
 * FIFOs, a character device (/dev/zero), and huge files. Every command must end with a clear
 * `vfioctl: ...` error and a `remedy:` (or succeed), never print a stack trace, never write outside the
 * root (an outside sentinel directory stays byte-identical) and never copy or print anything from it.
 * Cases that could hang (FIFO, endless device) run the CLI in a child process with a deadline, so a
 * regression fails instead of hanging the suite. The last test prints how many inputs were tried.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli, type CliRun } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { applyRuntime } from '../../src/cli/commands/bind.js';
import { SPEC } from '../apply/helpers.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.ts');
const SECRET = 'SECRET-OUTSIDE-THE-ROOT';
const counts = { readLinks: 0, writeLinks: 0, loops: 0, fifos: 0, devices: 0, huge: 0, commands: 0 };
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

const GRUB = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet"\n';
const FILES = {
  'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
  'etc/default/grub': GRUB,
  'usr/sbin/update-grub': '#!/bin/sh\n',
  'usr/sbin/mkinitramfs': '#!/bin/sh\n',
  'etc/initramfs-tools/modules': '# List of modules\nloop\n',
  'etc/modprobe.d/local.conf': 'options snd_hda_intel power_save=0\n',
  'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: vmx\n',
  'proc/cmdline': 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet\n',
};

function hostTree(extra: Partial<HostSpec> = {}): string {
  const t = makeTempHostTree({ ...SPEC, ...extra, files: { ...FILES, ...(extra.files ?? {}) } });
  cleanups.push(t.cleanup);
  return t.root;
}

/** A directory outside every root, filled with files a reader or writer that escaped would touch. */
function sentinel(): { dir: string; fingerprint(): string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-outside-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fingerprint = (): string => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const name of fs.readdirSync(d).sort()) {
        const p = path.join(d, name);
        const st = fs.lstatSync(p);
        out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid}`);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) out.push(fs.readFileSync(p).toString('base64'));
        else if (st.isSymbolicLink()) out.push(fs.readlinkSync(p));
      }
    };
    walk(dir);
    return out.join('\n');
  };
  return { dir, fingerprint };
}

/** Fill `outside` with `rest` (the path below the link) as a file (or directory tree) holding SECRET. */
function bait(outside: string, rest: string[]): void {
  if (!rest.length) return;
  const p = path.join(outside, ...rest);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (!fs.existsSync(p)) fs.writeFileSync(p, `${SECRET}\nGRUB_CMDLINE_LINUX="${SECRET}"\n`, { mode: 0o600 });
}

/** Replace root-relative `prefix` with a symbolic link. */
function linkAt(root: string, prefix: string, target: string): void {
  const p = path.join(root, prefix);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.rmSync(p, { recursive: true, force: true });
  fs.symlinkSync(target, p);
}

const STACK = /\n\s+at .+[:(].*\d+:\d+/;

function assertClean(r: CliRun | { code: number; stdout: string; stderr: string }, what: string): void {
  counts.commands++;
  assert.doesNotMatch(r.stdout + r.stderr, STACK, `${what}: a stack trace`);
  assert.doesNotMatch(r.stderr, /internal error/, `${what}: ${r.stderr}`);
  assert.ok(!(r.stdout + r.stderr).includes(SECRET), `${what}: printed something from outside the root`);
  if (r.code !== 0) {
    if (r.stdout.trimStart().startsWith('{')) {
      const j = JSON.parse(r.stdout) as { error?: { message?: string; remedy?: string } };
      if (j.error) assert.ok(j.error.remedy, `${what}: JSON error without a remedy: ${r.stdout}`);
    } else if (r.stderr.includes('vfioctl:')) {
      assert.match(r.stderr, /vfioctl: [^\n]+\n[\s\S]*remedy: /, `${what}: error without a remedy: ${r.stderr}`);
    }
  }
}

function assertNoSecretIn(dir: string, what: string): void {
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) assert.ok(!fs.readFileSync(p, 'latin1').includes(SECRET), `${what}: ${p} holds data from outside the root`);
    }
  };
  walk(dir);
}

/** Run the CLI in a child process with a deadline (for inputs that could block a read forever). */
function runChild(argv: string[], timeoutMs = 30_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(process.argv.slice(1));`, ...argv], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NO_COLOR: '1', VFIOCTL_PCI_IDS: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.error, undefined, `vfioctl ${argv.join(' ')} did not finish within ${timeoutMs} ms (${String(r.error)})`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const ADDR = '0000:01:00.0';
const DEV = `sys/bus/pci/devices/${ADDR}`;

/** Paths the read-only commands read, as root-relative paths whose components are replaced one by one. */
const READ_PATHS = [
  `${DEV}/config`,
  `${DEV}/driver_override`,
  'sys/kernel/iommu_groups/1/type',
  'etc/default/grub',
  'etc/modprobe.d/local.conf',
  'proc/cmdline',
  'proc/cpuinfo',
  'usr/sbin/update-grub',
];

async function readCommands(root: string, what: string, snapshotToo: boolean): Promise<void> {
  const env = { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' };
  for (const argv of [['ls', '--json'], ['groups', '--json'], ['show', ADDR, '--json'], ['doctor', '--json'], ['host', 'enable-iommu', '--dry-run']]) {
    const r = await runCli([...argv, '--root', root], { env });
    assertClean(r, `${what}: ${argv.join(' ')}`);
  }
  if (snapshotToo) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-snap-'));
    cleanups.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const r = await runCli(['snapshot', path.join(out, 's'), '--root', root], { env });
    assertClean(r, `${what}: snapshot`);
    if (fs.existsSync(path.join(out, 's'))) assertNoSecretIn(path.join(out, 's'), `${what}: snapshot`);
  }
}

describe('hostile trees: links in every component of what vfioctl reads', () => {
  for (const rel of READ_PATHS) {
    const segs = rel.split('/');
    it(`links replacing each component of ${rel} (absolute, relative, loop) stay inside the root`, async () => {
      for (let i = 1; i <= segs.length; i++) {
        const prefix = segs.slice(0, i).join('/');
        for (const kind of ['absolute', 'relative', 'loop'] as const) {
          const root = hostTree();
          const out = sentinel();
          bait(out.dir, segs.slice(i));
          if (i === segs.length) fs.writeFileSync(path.join(out.dir, 'leaf'), `${SECRET}\n`, { mode: 0o600 });
          const target = i === segs.length ? path.join(out.dir, 'leaf') : out.dir;
          const before = out.fingerprint();
          if (kind === 'absolute') linkAt(root, prefix, target);
          else if (kind === 'relative') linkAt(root, prefix, path.relative(path.dirname(path.join(root, prefix)), target));
          else linkAt(root, prefix, path.basename(prefix));
          if (kind === 'loop') counts.loops++;
          else counts.readLinks++;
          // The snapshot (which copies what was read) for the paths with the most to leak.
          await readCommands(root, `${prefix} -> ${kind}`, i === segs.length || i === segs.length - 1);
          assert.equal(out.fingerprint(), before, `${prefix} -> ${kind}: the outside directory changed`);
        }
      }
    });
  }

  it('show and snapshot never copy a private file from outside through an absolute link', async () => {
    const root = hostTree();
    const out = sentinel();
    fs.writeFileSync(path.join(out.dir, 'shadow'), `${SECRET}\n`, { mode: 0o600 });
    linkAt(root, `${DEV}/driver_override`, path.join(out.dir, 'shadow'));
    linkAt(root, 'etc/modprobe.d/local.conf', path.join(out.dir, 'shadow'));
    counts.readLinks += 2;
    await readCommands(root, 'absolute links to a 0600 file', true);
  });
});

describe('hostile trees: links in every component of what vfioctl writes', () => {
  it('host enable-iommu never edits a file outside the root (links in etc, etc/default, etc/default/grub)', async () => {
    for (const prefix of ['etc/default', 'etc/default/grub']) {
      for (const kind of ['absolute', 'relative', 'loop'] as const) {
        const root = hostTree();
        const out = sentinel();
        const rest = prefix === 'etc/default' ? ['grub'] : [];
        bait(out.dir, rest);
        if (!rest.length) fs.writeFileSync(path.join(out.dir, 'grub'), `GRUB_CMDLINE_LINUX="${SECRET}"\n`, { mode: 0o600 });
        const target = rest.length ? out.dir : path.join(out.dir, 'grub');
        const before = out.fingerprint();
        if (kind === 'absolute') linkAt(root, prefix, target);
        else if (kind === 'relative') linkAt(root, prefix, path.relative(path.dirname(path.join(root, prefix)), target));
        else linkAt(root, prefix, path.basename(prefix));
        counts.writeLinks++;
        const r = await runCli(['host', 'enable-iommu', '--yes', '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
        assertClean(r, `enable-iommu with ${prefix} -> ${kind}`);
        assert.equal(out.fingerprint(), before, `enable-iommu with ${prefix} -> ${kind}: the outside file was edited`);
      }
    }
  });

  it('persist never creates or edits files outside the root (links at etc/modprobe.d, etc/udev/rules.d, etc/initramfs-tools/modules)', async () => {
    for (const prefix of ['etc/modprobe.d', 'etc/udev', 'etc/udev/rules.d', 'etc/initramfs-tools', 'etc/initramfs-tools/modules']) {
      for (const kind of ['absolute', 'relative'] as const) {
        const root = hostTree();
        const out = sentinel();
        fs.writeFileSync(path.join(out.dir, 'modules'), `${SECRET}\n`, { mode: 0o600 });
        const target = prefix.endsWith('/modules') ? path.join(out.dir, 'modules') : out.dir;
        const before = out.fingerprint();
        if (kind === 'absolute') linkAt(root, prefix, target);
        else linkAt(root, prefix, path.relative(path.dirname(path.join(root, prefix)), target));
        counts.writeLinks++;
        const r = await runCli(['persist', '02:00.0', '02:00.1', '--yes', '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
        assertClean(r, `persist with ${prefix} -> ${kind}`);
        assert.equal(out.fingerprint(), before, `persist with ${prefix} -> ${kind}: something outside the root changed`);
      }
    }
  });

  it('bind (the real sysfs writer on a tree) never writes through a link out of the root', async () => {
    assert.equal(applyRuntime.sysfsWriter, null, 'this test uses the real writer');
    const drv = 'sys/bus/pci/drivers';
    const targets = [`${DEV}/driver_override`, 'sys/bus/pci/drivers_probe', `${drv}/e1000e/unbind`, `${drv}/vfio-pci/bind`, `${drv}/vfio-pci`, 'sys/bus/pci/drivers', 'sys/bus'];
    for (const prefix of targets) {
      for (const kind of ['absolute', 'relative', 'loop'] as const) {
        const root = hostTree();
        fs.mkdirSync(path.join(root, `${drv}/vfio-pci`), { recursive: true });
        for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) fs.writeFileSync(path.join(root, `${drv}/vfio-pci`, f), '');
        for (const f of ['drivers_probe', 'rescan']) fs.writeFileSync(path.join(root, 'sys/bus/pci', f), '');
        const out = sentinel();
        for (const f of ['file', 'bind', 'unbind', 'driver_override', 'drivers_probe']) fs.writeFileSync(path.join(out.dir, f), 'precious\n', { mode: 0o600 });
        fs.mkdirSync(path.join(out.dir, 'e1000e'));
        fs.writeFileSync(path.join(out.dir, 'e1000e', 'unbind'), 'precious\n');
        const leaf = !['sys/bus/pci/drivers', 'sys/bus', `${drv}/vfio-pci`].includes(prefix);
        const target = leaf ? path.join(out.dir, 'file') : out.dir;
        const before = out.fingerprint();
        if (kind === 'absolute') linkAt(root, prefix, target);
        else if (kind === 'relative') linkAt(root, prefix, path.relative(path.dirname(path.join(root, prefix)), target));
        else linkAt(root, prefix, path.basename(prefix));
        if (kind === 'loop') counts.loops++;
        else counts.writeLinks++;
        const r = await runCli(['bind', '01:00.0', '--yes', '--timeout', '40', '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
        assertClean(r, `bind with ${prefix} -> ${kind}`);
        assert.equal(out.fingerprint(), before, `bind with ${prefix} -> ${kind}: a file outside the root was written`);
      }
    }
  });
});

describe('hostile trees: the state directory (journal, lock, state.json)', () => {
  // The state store refuses a link in any component of var/lib/vfioctl that leads outside the root
  // (StateStore.checkPath), before the lock or the journal is written.
  it('a link at var/lib/vfioctl (or var/lib) never makes a run write its journal outside the root', async () => {
    for (const prefix of ['var/lib', 'var/lib/vfioctl']) {
      const root = hostTree();
      const out = sentinel();
      const before = out.fingerprint();
      linkAt(root, prefix, out.dir);
      counts.writeLinks++;
      const r = await runCli(['host', 'enable-iommu', '--yes', '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
      assertClean(r, `enable-iommu with ${prefix} -> outside`);
      assert.equal(out.fingerprint(), before, `${prefix} -> outside: the journal or lock was written outside the root`);
    }
  });
});

describe('hostile trees: FIFOs, devices and huge files end, with bounded reads', () => {
  const mkfifo = (p: string): void => {
    fs.rmSync(p, { recursive: true, force: true });
    const r = spawnSync('mkfifo', [p]);
    assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
  };
  const mknodZero = (p: string): boolean => {
    fs.rmSync(p, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(p), { recursive: true });
    return spawnSync('mknod', [p, 'c', '1', '5']).status === 0;
  };

  it('a FIFO in place of an attribute, a config file or a procfs file never blocks a read', () => {
    // One tree with every FIFO (each command reads all of them; a blocking read would stop it).
    const root = hostTree();
    for (const rel of [`${DEV}/vendor`, `${DEV}/config`, `${DEV}/driver_override`, 'sys/kernel/iommu_groups/1/type', 'etc/default/grub', 'proc/cmdline', 'etc/modprobe.d/local.conf']) {
      mkfifo(path.join(root, rel));
      counts.fifos++;
    }
    for (const argv of [['ls', '--json'], ['show', ADDR, '--json'], ['doctor'], ['host', 'enable-iommu', '--yes']]) {
      assertClean(runChild([...argv, '--root', root]), `FIFOs: ${argv.join(' ')}`);
    }
    assert.match(runChild(['show', ADDR, '--json', '--root', root]).stdout, /ENOTREG/, 'the FIFO is reported as not a regular file');
  });

  it('a character device (/dev/zero) as an attribute or behind a link is refused, not read without end', (t) => {
    const root = hostTree();
    if (!mknodZero(path.join(root, 'dev/zero'))) {
      t.skip('mknod is not permitted here (not root, or a nodev file system): cannot build a device node');
      return;
    }
    linkAt(root, `${DEV}/config`, '/dev/zero'); // an absolute target means ROOT/dev/zero: a device in the tree
    linkAt(root, 'etc/default/grub', '../../dev/zero');
    mknodZero(path.join(root, DEV, 'class'));
    mknodZero(path.join(root, 'proc/cmdline'));
    counts.devices += 4;
    for (const argv of [['ls', '--json'], ['show', ADDR, '--json'], ['doctor'], ['host', 'enable-iommu', '--dry-run']]) {
      const r = runChild([...argv, '--root', root]);
      assertClean(r, `/dev/zero: ${argv.join(' ')}`);
    }
    const show = runChild(['show', ADDR, '--json', '--root', root]);
    assert.match(show.stdout, /ENOTREG/, 'the device is reported as not a regular file');
  });

  it('--from /dev/zero, a directory or a huge file is refused with a clear error', () => {
    const big = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-big-')), 'lspci.txt');
    cleanups.push(() => fs.rmSync(path.dirname(big), { recursive: true, force: true }));
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 512 * 1024 * 1024); // sparse: no disk used
    for (const from of ['/dev/zero', os.tmpdir(), big]) {
      counts.devices++;
      const r = runChild(['ls', '--from', from]);
      assert.notEqual(r.code, 0);
      assertClean(r, `--from ${from}`);
      assert.match(r.stderr, /vfioctl: .*(larger than|directory)/, r.stderr);
    }
  });

  it('huge files (sparse, 256 MiB) in place of a config file, an attribute and config space are refused quickly', async () => {
    const root = hostTree();
    for (const rel of ['etc/default/grub', `${DEV}/config`, `${DEV}/driver_override`, 'proc/cmdline', 'proc/cpuinfo', 'sys/kernel/iommu_groups/1/type']) {
      const p = path.join(root, rel);
      fs.rmSync(p, { force: true });
      fs.writeFileSync(p, 'GRUB_CMDLINE_LINUX="x"\n');
      fs.truncateSync(p, 256 * 1024 * 1024);
      counts.huge++;
    }
    for (const argv of [['ls', '--json'], ['show', ADDR, '--json'], ['doctor', '--json'], ['host', 'enable-iommu', '--yes']]) {
      const r = await runCli([...argv, '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
      assertClean(r, `huge files: ${argv.join(' ')}`);
    }
    const show = await runCli(['show', ADDR, '--json', '--root', root], { env: { VFIOCTL_PCI_IDS: '' } });
    assert.match(show.stdout, /EFBIG/, 'the huge attribute is reported, not read');
    const e = await runCli(['host', 'enable-iommu', '--yes', '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /EFBIG[\s\S]*remedy:/);
    assert.equal(fs.statSync(path.join(root, 'etc/default/grub')).size, 256 * 1024 * 1024, 'the huge file is left alone');
  });

  it('link loops (self, pairs, a device entry pointing at itself) end with ELOOP, not a hang', async () => {
    const root = hostTree();
    linkAt(root, 'etc/default', 'default');
    linkAt(root, 'proc/cmdline', 'cmdline2');
    linkAt(root, 'proc/cmdline2', 'cmdline');
    linkAt(root, `sys/bus/pci/devices/0000:02:00.0`, '0000:02:00.0');
    linkAt(root, 'sys/kernel/iommu_groups/2', '../iommu_groups/2/../2');
    counts.loops += 5;
    for (const argv of [['ls', '--json'], ['groups', '--json'], ['show', ADDR], ['doctor'], ['host', 'enable-iommu', '--yes'], ['bind', '02:00.1', '--yes', '--timeout', '40']]) {
      const r = await runCli([...argv, '--root', root], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
      assertClean(r, `loops: ${argv.join(' ')}`);
    }
  });
});

describe('hostile trees: totals', () => {
  it('prints the number of hostile inputs tried', () => {
    assert.ok(counts.commands > 0);
    console.log(`hostile-trees: ${counts.readLinks} read-path links, ${counts.writeLinks} write-path links, ${counts.loops} loops, ${counts.fifos} FIFOs, ${counts.devices} devices, ${counts.huge} huge files; ${counts.commands} commands checked`);
  });
});
