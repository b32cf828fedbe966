/**
 * The packages an administrator installs (`npm run package`, docs/packaging.md), installed and run the
 * way they would be:
 *   - the Debian package, installed with dpkg into a clean Debian root made here (debootstrap
 *     --variant=minbase, cached under test/e2e/work/ keyed by its inputs; no Node.js in it), run there;
 *   - the single executable, copied alone into an empty directory and run with a PATH that has no node;
 *   - the npm tarball, installed with `npm install -g --prefix` and run.
 * Skips with the reason when the machine lacks the tools (test/e2e/package/packages.txt lists them).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

const REPO = path.resolve(import.meta.dirname, '../../..');
const PKG = path.join(REPO, 'dist', 'pkg');
const WORK = path.join(REPO, 'test', 'e2e', 'work', 'package');
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = path.join(PKG, `vfioctl_${VERSION}_amd64.deb`);
const SEA = path.join(PKG, 'vfioctl');
const TGZ = path.join(PKG, `vfioctl-${VERSION}.tgz`);

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const TOOLS = ['dpkg-deb', 'fakeroot', 'dpkg-shlibdeps', 'strip', 'debootstrap', 'chroot', 'mount', 'lintian', 'npm'];
const missing = TOOLS.filter((t) => !have(t));
const notRoot = process.getuid?.() !== 0;
const skip = process.platform !== 'linux' || process.arch !== 'x64' ? 'packages are built for linux-x64 only' : missing.length ? `missing tools: ${missing.join(', ')} (install test/e2e/package/packages.txt)` : notRoot ? 'needs root (debootstrap, chroot, dpkg --root)' : false;

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; ok?: number[]; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (!(opts.ok ?? [0]).includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const timings: string[] = [];
function timed<T>(what: string, f: () => T): T {
  const t = Date.now();
  const v = f();
  timings.push(`${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return v;
}

/** The Debian mirror this machine's apt uses (the clean root is made from the same archive). */
function mirror(): string {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    try {
      const text = fs.readFileSync(f, 'utf8');
      const m = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(text);
      if (m) return m[1]!;
    } catch {
      // next
    }
  }
  return 'http://deb.debian.org/debian';
}

/**
 * A clean Debian root (minbase: dpkg, apt, bash, coreutils; no Node.js), made once per set of inputs
 * (suite, variant, mirror, debootstrap's version) and kept under test/e2e/work/; each test run installs
 * into a fresh copy of it.
 */
function cleanRoot(): string {
  const suite = 'bookworm';
  const dbVersion = run('dpkg-query', ['-W', '-f=${Version}', 'debootstrap']).stdout.trim();
  const key = createHash('sha256').update(JSON.stringify({ suite, variant: 'minbase', mirror: mirror(), dbVersion, arch: 'amd64' })).digest('hex').slice(0, 12);
  const cached = path.join(WORK, `debootstrap-${suite}-${key}`);
  if (!fs.existsSync(path.join(cached, '.complete'))) {
    fs.rmSync(cached, { recursive: true, force: true });
    fs.mkdirSync(WORK, { recursive: true });
    timed(`debootstrap --variant=minbase ${suite} (not cached)`, () => run('debootstrap', ['--variant=minbase', suite, path.join(cached, 'root'), mirror()], { timeoutMs: 1_800_000 }));
    fs.writeFileSync(path.join(cached, '.complete'), '');
  } else timings.push('debootstrap: cached');
  const fresh = path.join(WORK, 'install-root');
  fs.rmSync(fresh, { recursive: true, force: true });
  timed('copy of the clean root', () => run('cp', ['-a', '--reflink=auto', path.join(cached, 'root'), fresh]));
  return fresh;
}

const CHROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LC_ALL: 'C', NO_COLOR: '1' };

before(() => {
  if (skip) return;
  // build what this checkout makes (lintian runs below, as a test); VFIOCTL_PACKAGE_REUSE=1 keeps
  // packages already built (for iterating on these tests only)
  if (process.env.VFIOCTL_PACKAGE_REUSE === '1' && [DEB, SEA, TGZ].every((f) => fs.existsSync(f))) return;
  timed('npm run package', () => run(process.execPath, [path.join(REPO, 'scripts', 'package.mjs'), '--no-lintian'], { cwd: REPO, timeoutMs: 1_800_000 }));
});

test('the Debian package installs into a clean Debian root without Node.js and runs there', { skip, timeout: 3_600_000 }, () => {
  const root = cleanRoot();
  assert.equal(fs.existsSync(path.join(root, 'usr/bin/node')) || fs.existsSync(path.join(root, 'usr/bin/nodejs')), false, 'the clean root has no Node.js');
  // dpkg checks Depends against the root's own package database: an unmet dependency fails the install
  timed('dpkg --root -i', () => run('dpkg', ['--root', root, '--force-script-chrootless', '-i', DEB], { env: { ...process.env, PATH: CHROOT_ENV.PATH } }));
  const status = run('dpkg', ['--root', root, '-s', 'vfioctl']).stdout;
  assert.match(status, /^Status: install ok installed$/m);
  assert.match(status, /^Depends: .*libc6/m);
  assert.match(status, /^Recommends: .*pciutils/m);
  assert.equal(fs.existsSync(path.join(root, 'usr/share/misc/pci.ids')), false, 'no pciutils in the root: names must come from the embedded copy');

  // a host has /proc (Node finds its own executable, and so vfioctl its data, through /proc/self/exe)
  run('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
  try {
    inChroot(root);
  } finally {
    run('umount', [path.join(root, 'proc')], { ok: [0, 1, 32] });
  }
  // removal leaves nothing of the package behind
  run('dpkg', ['--root', root, '--force-script-chrootless', '-r', 'vfioctl'], { env: { ...process.env, PATH: CHROOT_ENV.PATH } });
  assert.equal(fs.existsSync(path.join(root, 'usr/bin/vfioctl')), false);
  assert.equal(fs.existsSync(path.join(root, 'usr/share/vfioctl')), false);
  fs.rmSync(root, { recursive: true, force: true });
  console.log(`timings: ${timings.join('; ')}`);
});

function inChroot(root: string): void {
  const inRoot = (args: string[], ok = [0]): SpawnSyncReturns<string> => run('chroot', [root, ...args], { env: CHROOT_ENV, ok });
  assert.equal(inRoot(['vfioctl', '--version']).stdout, `${VERSION}\n`);
  const v = JSON.parse(inRoot(['vfioctl', '--version', '--json']).stdout) as { build: string; version: string; platform: { distribution: { id: string } | null } };
  assert.equal(v.build, 'deb');
  assert.equal(v.platform.distribution?.id, 'debian');
  const groups = inRoot(['vfioctl', 'groups', '--sample']).stdout;
  assert.match(groups, /^group 0\b/m);
  assert.match(groups, /Intel Corporation/, 'device names from the embedded pci.ids');
  const doctor = inRoot(['vfioctl', 'doctor', '--sample', '--json'], [0, 3]);
  const d = JSON.parse(doctor.stdout) as { schemaVersion: number; error?: unknown };
  assert.equal(d.schemaVersion, 1);
  assert.equal(d.error, undefined);
  const sc = JSON.parse(inRoot(['vfioctl', 'self-check', '--json'], [0, 3]).stdout) as { build: string; checks: { id: string; ok: boolean; detail: string }[] };
  const check = (id: string) => sc.checks.find((c) => c.id === id)!;
  assert.equal(sc.build, 'deb');
  assert.equal(check('embedded-data').ok, true, check('embedded-data').detail);
  assert.match(check('samples').detail, /\/usr\/share\/vfioctl\/samples/);
  assert.match(check('pci-ids').detail, /\(embedded\) pci\.ids\.gz/);
  // the installed completion completes commands in the root's own bash
  const comp = inRoot(['bash', '-c', 'source /usr/share/bash-completion/completions/vfioctl; COMP_WORDS=(vfioctl host ""); COMP_CWORD=2; _vfioctl; echo "${COMPREPLY[*]}"']).stdout;
  assert.equal(comp.trim(), 'enable-iommu disable-iommu');
  assert.ok(fs.statSync(path.join(root, 'usr/share/man/man8/vfioctl.8.gz')).size > 1000);
}

test('lintian finds no error or warning in the Debian package (overrides are listed with reasons)', { skip, timeout: 1_800_000 }, () => {
  const r = timed('lintian', () => run('lintian', ['--show-overrides', DEB], { ok: [0, 1, 2] }));
  const tags = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^[EW]: /.test(l));
  assert.deepEqual(tags, []);
  const overrides = fs.readFileSync(path.join(REPO, 'packaging', 'deb', 'lintian-overrides'), 'utf8');
  for (const line of overrides.split('\n').filter((l) => l.startsWith('vfioctl:'))) {
    const at = overrides.indexOf(line);
    assert.match(overrides.slice(0, at).split('\n').slice(-2, -1)[0] ?? '', /^# /, `override "${line}" has its reason above it`);
  }
});

test('the generated man page renders without warnings and the zsh and fish completions parse', { skip, timeout: 120_000 }, () => {
  const docs = path.join(PKG, 'docs');
  if (have('man')) {
    const r = run('man', ['--warnings', '-l', path.join(docs, 'vfioctl.8')], { env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat' } });
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /self-check/);
  }
  run('bash', ['-n', path.join(docs, 'vfioctl.bash')]);
  if (have('zsh')) run('zsh', ['-n', path.join(docs, '_vfioctl')]);
  if (have('fish')) run('fish', ['--no-execute', path.join(docs, 'vfioctl.fish')]);
});

test('the single executable runs alone, with a PATH that has no node, from embedded data', { skip, timeout: 600_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-sea-'));
  try {
    const exe = path.join(dir, 'vfioctl');
    fs.copyFileSync(SEA, exe);
    fs.chmodSync(exe, 0o755);
    const emptyPath = path.join(dir, 'empty-bin');
    fs.mkdirSync(emptyPath);
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const env = { PATH: emptyPath, HOME: home, LC_ALL: 'C', NO_COLOR: '1' };
    assert.equal(run(exe, ['--version'], { env }).stdout, `${VERSION}\n`);
    const v = JSON.parse(run(exe, ['--version', '--json'], { env }).stdout) as { build: string; bundled: boolean; commit: string | null };
    assert.equal(v.build, 'sea');
    assert.equal(v.bundled, true);
    assert.match(v.commit ?? '', /^[0-9a-f]{40}$/);
    // no samples beside it: the embedded archive is unpacked into the user's cache, once
    const first = run(exe, ['groups', '--sample'], { env }).stdout;
    assert.match(first, /^group 0\b/m);
    const cache = fs.readdirSync(path.join(home, '.cache', 'vfioctl')).filter((n) => n.startsWith('samples-'));
    assert.equal(cache.length, 1, `one unpacked copy: ${cache.join(', ')}`);
    assert.equal(run(exe, ['groups', '--sample'], { env }).stdout, first);
    const doctor = JSON.parse(run(exe, ['doctor', '--sample', '--json'], { env, ok: [0, 3] }).stdout) as { schemaVersion: number };
    assert.equal(doctor.schemaVersion, 1);
    const sc = JSON.parse(run(exe, ['self-check', '--json'], { env, ok: [3] }).stdout) as { verdict: string; checks: { id: string; ok: boolean; required: boolean }[] };
    assert.equal(sc.verdict, 'incomplete', 'modprobe is not on this PATH');
    assert.equal(sc.checks.find((c) => c.id === 'embedded-data')?.ok, true);
    assert.equal(sc.checks.find((c) => c.id === 'samples')?.ok, true);
    // Ansible runs a binary module as `MODULE ARGS_FILE`: the executable is the vfioctl_device module
    const tree = path.join(dir, 'tree');
    fs.cpSync(path.join(REPO, 'samples', 'q35-intel-iommu'), tree, { recursive: true, verbatimSymlinks: true });
    const args = path.join(dir, 'args');
    fs.writeFileSync(args, JSON.stringify({ state: 'bound', devices: ['00:03.0'], root: tree, _ansible_check_mode: true, _ansible_diff: false }));
    const mod = JSON.parse(run(exe, [args], { env }).stdout) as { changed: boolean; failed: boolean; msg: string; claim: string[] };
    assert.deepEqual([mod.changed, mod.failed, mod.claim], [true, false, ['0000:00:03.0']], mod.msg);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the npm tarball installs globally and runs its bundle (and its server with the read worker)', { skip, timeout: 900_000 }, async () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-npm-'));
  try {
    timed('npm install -g', () => run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', TGZ], { timeoutMs: 900_000 }));
    const bin = path.join(prefix, 'bin', 'vfioctl');
    const env = { ...process.env, NO_COLOR: '1', LC_ALL: 'C' } as Record<string, string>;
    assert.equal(run(bin, ['--version'], { env }).stdout, `${VERSION}\n`);
    const v = JSON.parse(run(bin, ['--version', '--json'], { env }).stdout) as { build: string; bundled: boolean };
    assert.deepEqual([v.build, v.bundled], ['npm', true]);
    assert.match(run(bin, ['groups', '--sample'], { env }).stdout, /^group 0\b/m);
    const installed = path.join(prefix, 'lib', 'node_modules', 'vfioctl');
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'bundle', 'vfioctl.cjs.cache')), 'the code cache is shipped');
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'bundle', 'read-worker.cjs')), "the server's read worker is shipped beside the bundle");
    assert.equal(fs.existsSync(path.join(installed, 'dist', 'pkg')), false, 'the packages themselves are not in the tarball');
    await serveChecks(bin, env);
    console.log(`timings: ${timings.join('; ')}`);
  } finally {
    fs.rmSync(prefix, { recursive: true, force: true });
  }
});

/** Start `cmd serve --sample` on a free loopback port; check its reads run in the worker and answer. */
async function serveChecks(cmd: string, env: Record<string, string>): Promise<void> {
  const { spawn } = await import('node:child_process');
  const child = spawn(cmd, ['serve', '--sample', '--listen', '127.0.0.1:0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const started = JSON.parse(line) as { port: number; token: string; reads: string };
    assert.equal(started.reads, 'worker', `${cmd} starts its read worker from its bundle`);
    const groups = await fetch(`http://127.0.0.1:${started.port}/api/v1/groups`, { headers: { authorization: `Bearer ${started.token}` } });
    assert.equal(groups.status, 200);
    assert.ok(Array.isArray(((await groups.json()) as { groups: unknown[] }).groups));
    const page = await fetch(`http://127.0.0.1:${started.port}/`, { headers: { cookie: `vfioctl_session=${started.token}` } });
    assert.match(await page.text(), /<script type="module"[^>]+src="\/assets\//, 'the front end is served');
  } finally {
    child.kill('SIGTERM');
  }
}

test('the single executable serves the dashboard and its API, reads built in its embedded read worker', { skip, timeout: 120_000 }, async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-sea-serve-'));
  try {
    await serveChecks(SEA, { PATH: '/nonexistent', HOME: home, NO_COLOR: '1' });
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
