/**
 * The real-kernel harness (host side): boots Debian's own kernel under QEMU/TCG on a q35 machine with an
 * emulated Intel IOMMU, so IOMMU groups, vfio-pci and /dev/vfio are the kernel's real ones, and runs a
 * node:test suite inside the guest.
 *
 * Pieces (all cached under test/kernel/work/, git-ignored):
 * - packages: test/kernel/packages.txt, installed with apt-get when missing (root only);
 * - kernel: the image package `linux-image-amd64` depends on, fetched with `apt-get download` and
 *   unpacked with `dpkg-deb -x` into work/kernel/<package>/, then `depmod -b` (the .deb ships no
 *   modules.dep);
 * - initramfs: busybox, the modules the suite needs (with their dependencies) and test/kernel/guest/init.sh,
 *   as an uncompressed cpio keyed by a hash of its inputs;
 * - shares (9p, `-virtfs`): the host's /usr read-only (Node.js and QEMU for the guest, no copies), the
 *   project read-only at /project, and a fresh run directory read-write at /results.
 *
 * A boot: `runGuest({ topology, cmdline, guestTests, timeoutMs })` writes run.json into a new run
 * directory, starts QEMU, waits (killing it at the timeout), and returns the guest's summary.json, the
 * console log and the QEMU exit status (isa-debug-exit: 1 = guest passed, 3 = guest failed, 5 = guest
 * setup failed, 0 = no report).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Topology } from './topologies.js';

export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KERNEL_TEST_DIR = path.join(PROJECT_DIR, 'test', 'kernel');
export const GUEST_DIR = path.join(KERNEL_TEST_DIR, 'guest');
export const WORK_DIR = process.env.VFIOCTL_KERNEL_WORK ?? path.join(KERNEL_TEST_DIR, 'work');

/** Root-bus slots of the harness's 9p devices (hostusr, project, results); topologies keep off them. */
export const HARNESS_SLOTS = { hostusr: 0x1a, project: 0x1b, results: 0x1c } as const;

/** Kernel modules the initramfs carries (with their dependencies, resolved by modprobe --show-depends). */
export const GUEST_MODULES = [
  'virtio_pci', '9pnet_virtio', '9p',
  'vfio-pci', 'vfio_iommu_type1',
  'e1000', 'e1000e', '8139too', 'nvme',
  // a libvirt network for the libvirt boot (a bridge) and the tap devices of its guests' NICs (/dev/net/tun)
  'bridge', 'tun',
];

/** Bumped when the initramfs layout changes in a way the hashed inputs do not show. */
const INITRAMFS_LAYOUT = 2;

export interface Availability {
  ok: boolean;
  /** why the harness cannot run here (shown as the skip reason) */
  reason?: string;
}

export interface KernelInfo {
  /** Debian package name, e.g. linux-image-6.1.0-56-amd64 */
  package: string;
  /** kernel release (uname -r), e.g. 6.1.0-56-amd64 */
  version: string;
  vmlinuz: string;
  /** directory holding lib/modules/<version> */
  modulesRoot: string;
}

export interface GuestTestResult {
  name: string;
  file: string | null;
  nesting: number;
  status: 'pass' | 'fail' | 'skip' | 'todo';
  skipReason: string | null;
  durationMs: number | null;
  error: string | null;
}

export interface GuestSummary {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
  tests: GuestTestResult[];
  diagnostics: string[];
}

export interface GuestRunOptions {
  topology: Topology;
  /** extra kernel command line, e.g. 'intel_iommu=on' */
  cmdline: string;
  /** file names in test/kernel/guest/, run in this order (one node:test process, concurrency 1) */
  guestTests: string[];
  /** the whole boot, QEMU killed after it (default 300 s) */
  timeoutMs?: number;
  /** environment for the guest tests */
  env?: Record<string, string>;
  /** guest memory (default 2048 MiB: the guest also runs a nested QEMU) */
  memoryMiB?: number;
  /** a label for the run directory (default: the topology name) */
  label?: string;
  /** extra data the guest tests can read from run.json */
  data?: Record<string, unknown>;
}

export interface GuestRun {
  label: string;
  runDir: string;
  consoleLog: string;
  /** QEMU's exit status (null if killed) */
  qemuExit: number | null;
  timedOut: boolean;
  durationMs: number;
  /** what the guest reported through isa-debug-exit */
  verdict: 'passed' | 'failed' | 'setup-failed' | 'no-report' | 'timeout';
  summary: GuestSummary | null;
  /** the tail of the console, for failure messages */
  consoleTail: string;
}

// ---------------------------------------------------------------- processes

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 600_000,
    input: opts.input,
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

function runOrThrow(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): string {
  const r = run(cmd, args, opts);
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

// ---------------------------------------------------------------- packages

export function requiredPackages(): string[] {
  return fs.readFileSync(path.join(KERNEL_TEST_DIR, 'packages.txt'), 'utf8')
    .split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

function missingPackages(pkgs: string[]): string[] {
  const r = run('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...pkgs]);
  const installed = new Set(
    (r.stdout ?? '').split('\n').filter((l) => l.endsWith(' install ok installed')).map((l) => l.split(' ')[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/**
 * Whether this machine can run the harness at all. Cheap (no installs); the reason is what the suite
 * prints when it skips.
 */
export function checkAvailability(): Availability {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, reason: `needs an x86-64 Linux host (this is ${process.platform}/${process.arch})` };
  if (process.env.VFIOCTL_SKIP_KERNEL) return { ok: false, reason: `VFIOCTL_SKIP_KERNEL is set (${process.env.VFIOCTL_SKIP_KERNEL})` };
  if (!which('dpkg-query')) return { ok: false, reason: 'needs a Debian-family host (no dpkg-query): the harness boots Debian\'s kernel package' };
  const missing = missingPackages(requiredPackages());
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (missing.length && !isRoot) return { ok: false, reason: `packages missing (${missing.join(', ')}) and not root to install them: run as root or apt-get install them` };
  if (missing.length && !which('apt-get')) return { ok: false, reason: `packages missing (${missing.join(', ')}) and no apt-get` };
  if (!isRoot && !fs.existsSync(path.join(WORK_DIR, 'kernel'))) return { ok: false, reason: 'not root: the kernel package must be fetched with apt-get download (run once as root)' };
  const writable = fs.existsSync(WORK_DIR) ? WORK_DIR : KERNEL_TEST_DIR;
  try {
    fs.accessSync(writable, fs.constants.W_OK);
  } catch {
    return { ok: false, reason: `${writable} is not writable for this user (kernel cache and run directories live there)` };
  }
  try {
    if (!fs.lstatSync('/lib').isSymbolicLink()) return { ok: false, reason: 'needs a merged-/usr host (/lib -> usr/lib): the guest runs the host\'s Node.js and QEMU from a 9p share of /usr' };
  } catch {
    return { ok: false, reason: 'no /lib on this host' };
  }
  return { ok: true };
}

let aptUpdated = false;

/** Install what packages.txt lists and is missing (apt-get; runs `apt-get update` once if needed). */
export function ensurePackages(): void {
  const missing = missingPackages(requiredPackages());
  if (!missing.length) return;
  const install = (): SpawnSyncReturns<string> => run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { timeoutMs: 600_000 });
  let r = install();
  if (r.status !== 0 && !aptUpdated) {
    aptUpdated = true;
    run('apt-get', ['update'], { timeoutMs: 600_000 });
    r = install();
  }
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
}

// ---------------------------------------------------------------- kernel

/** The versioned image package `linux-image-amd64` depends on (apt's view), or null. */
function currentKernelPackage(): string | null {
  const r = run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(r.stdout ?? '');
  if (m?.[1]) return m[1];
  if (!aptUpdated && typeof process.getuid === 'function' && process.getuid() === 0) {
    aptUpdated = true;
    run('apt-get', ['update'], { timeoutMs: 600_000 });
    const r2 = run('apt-cache', ['depends', 'linux-image-amd64']);
    const m2 = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(r2.stdout ?? '');
    if (m2?.[1]) return m2[1];
  }
  return null;
}

function readyKernel(dir: string): KernelInfo | null {
  const f = path.join(dir, 'kernel.json');
  if (!fs.existsSync(f)) return null;
  const k = JSON.parse(fs.readFileSync(f, 'utf8')) as KernelInfo;
  return fs.existsSync(k.vmlinuz) ? k : null;
}

/**
 * The kernel image and its modules, cached in work/kernel/<package>/. Uses apt's current kernel package;
 * without apt metadata, falls back to the newest cached one.
 */
export function prepareKernel(): KernelInfo {
  const kernelsDir = path.join(WORK_DIR, 'kernel');
  fs.mkdirSync(kernelsDir, { recursive: true });
  const pkg = process.env.VFIOCTL_KERNEL_PACKAGE ?? currentKernelPackage();
  if (!pkg) {
    const cached = fs.readdirSync(kernelsDir).sort().reverse().map((d) => readyKernel(path.join(kernelsDir, d))).find((k) => k);
    if (cached) return cached;
    throw new Error('cannot tell which kernel package to use: `apt-cache depends linux-image-amd64` names none (run apt-get update) and none is cached');
  }
  const dir = path.join(kernelsDir, pkg);
  const ready = readyKernel(dir);
  if (ready) return ready;

  fs.rmSync(dir, { recursive: true, force: true });
  const dl = path.join(dir, 'download');
  fs.mkdirSync(dl, { recursive: true });
  fs.chmodSync(dl, 0o777); // lets apt's sandbox user write the .deb
  runOrThrow('apt-get', ['download', pkg], { cwd: dl, timeoutMs: 600_000 });
  const deb = fs.readdirSync(dl).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${dl}`);
  const tree = path.join(dir, 'tree');
  runOrThrow('dpkg-deb', ['-x', path.join(dl, deb), tree], { timeoutMs: 600_000 });
  fs.rmSync(dl, { recursive: true, force: true });
  const bootDir = path.join(tree, 'boot');
  const image = fs.readdirSync(bootDir).find((f) => f.startsWith('vmlinuz-'));
  if (!image) throw new Error(`${pkg} has no boot/vmlinuz-*`);
  const version = image.slice('vmlinuz-'.length);
  runOrThrow('depmod', ['-b', tree, version]);
  const info: KernelInfo = { package: pkg, version, vmlinuz: path.join(bootDir, image), modulesRoot: tree };
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(info, null, 2) + '\n');
  return info;
}

// ---------------------------------------------------------------- initramfs

/** Module files (absolute, in dependency order) for GUEST_MODULES. */
function moduleClosure(kernel: KernelInfo): string[] {
  const files: string[] = [];
  for (const m of GUEST_MODULES) {
    const out = runOrThrow('modprobe', ['-d', kernel.modulesRoot, '-S', kernel.version, '--show-depends', m]);
    for (const line of out.split('\n')) {
      const mm = /^insmod\s+(\S+)/.exec(line.trim());
      if (mm?.[1] && !files.includes(mm[1])) files.push(mm[1]);
    }
  }
  return files;
}

/** Directories of the shared libraries node and QEMU load, under /lib* (so the guest can link them to /usr). */
function libraryDirs(): string[] {
  const dirs = new Set<string>();
  for (const bin of ['/usr/bin/node', process.execPath, '/usr/bin/qemu-system-x86_64']) {
    if (!fs.existsSync(bin)) continue;
    const out = run('ldd', [bin]).stdout ?? '';
    for (const m of out.matchAll(/(\/\S+\.so[^\s]*)/g)) {
      const d = path.dirname(m[1] ?? '');
      if (/^\/lib(32|64|x32)?(\/|$)/.test(d)) dirs.add(d);
    }
  }
  return [...dirs].sort();
}

/**
 * Build (or reuse) the initramfs for `kernel`: busybox + applet links, the module closure with its own
 * depmod, links from /lib/<multiarch> and /lib64 into the 9p-mounted /usr, and /init.
 */
export function buildInitramfs(kernel: KernelInfo): string {
  const busybox = which('busybox') ?? '/bin/busybox';
  const initScript = fs.readFileSync(path.join(GUEST_DIR, 'init.sh'));
  const modules = moduleClosure(kernel);
  const libDirs = libraryDirs();
  const bbStat = fs.statSync(busybox);
  const key = createHash('sha256')
    .update(JSON.stringify({ INITRAMFS_LAYOUT, kernel: kernel.package, modules, libDirs, busybox: [bbStat.size, bbStat.mtimeMs] }))
    .update(initScript)
    .digest('hex').slice(0, 16);
  const out = path.join(WORK_DIR, `initramfs-${kernel.version}-${key}.cpio`);
  if (fs.existsSync(out)) return out;

  const stage = path.join(WORK_DIR, `initramfs-stage-${key}`);
  fs.rmSync(stage, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'usr', 'project', 'results', 'etc', 'lib']) fs.mkdirSync(path.join(stage, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(stage, 'bin', 'busybox'));
  fs.chmodSync(path.join(stage, 'bin', 'busybox'), 0o755);
  const applets = runOrThrow(busybox, ['--list']).split('\n').map((s) => s.trim()).filter((s) => /^[a-z0-9_.[-]+$/.test(s) && s !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(stage, 'bin', a));
  // the kernel runs /sbin/modprobe for request_module()
  for (const a of ['modprobe', 'insmod', 'rmmod', 'lsmod', 'depmod', 'poweroff', 'reboot', 'halt', 'mdev']) {
    if (applets.includes(a)) fs.symlinkSync('../bin/busybox', path.join(stage, 'sbin', a));
  }
  const modSrc = path.join(kernel.modulesRoot, 'lib', 'modules', kernel.version);
  const modDst = path.join(stage, 'lib', 'modules', kernel.version);
  for (const f of modules) {
    const rel = path.relative(modSrc, f);
    if (rel.startsWith('..')) throw new Error(`module outside the kernel tree: ${f}`);
    fs.mkdirSync(path.dirname(path.join(modDst, rel)), { recursive: true });
    fs.copyFileSync(f, path.join(modDst, rel));
  }
  for (const f of fs.readdirSync(modSrc)) {
    if (f === 'modules.order' || f.startsWith('modules.builtin')) fs.copyFileSync(path.join(modSrc, f), path.join(modDst, f));
  }
  runOrThrow('depmod', ['-b', stage, kernel.version]);
  // Shared libraries live in the host's /usr, mounted over 9p at /usr: /lib64 and /lib/<multiarch> point there.
  fs.symlinkSync('/usr/lib64', path.join(stage, 'lib64'));
  for (const d of libDirs) {
    if (d === '/lib64') continue;
    const rel = d.replace(/^\/lib\/?/, '');
    if (!rel) continue;
    const link = path.join(stage, 'lib', rel);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    if (!fs.existsSync(link)) fs.symlinkSync(`/usr/lib/${rel}`, link);
  }
  // kmod from the host's /usr once it is mounted (init.sh puts /kmod first in PATH)
  fs.mkdirSync(path.join(stage, 'kmod'));
  for (const a of ['modprobe', 'insmod', 'rmmod', 'lsmod', 'modinfo', 'depmod']) fs.symlinkSync('/usr/bin/kmod', path.join(stage, 'kmod', a));
  fs.writeFileSync(path.join(stage, 'etc', 'passwd'), 'root:x:0:0:root:/tmp:/bin/sh\n');
  fs.writeFileSync(path.join(stage, 'etc', 'group'), 'root:x:0:\n');
  fs.writeFileSync(path.join(stage, 'init'), initScript, { mode: 0o755 });

  const tmp = `${out}.tmp`;
  const r = spawnSync('sh', ['-c', 'find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet > "$0"', tmp], { cwd: stage, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr}`);
  fs.renameSync(tmp, out);
  fs.rmSync(stage, { recursive: true, force: true });
  // Old archives of other keys are stale.
  for (const f of fs.readdirSync(WORK_DIR)) {
    if (f.startsWith('initramfs-') && f.endsWith('.cpio') && path.join(WORK_DIR, f) !== out) fs.rmSync(path.join(WORK_DIR, f), { force: true });
  }
  return out;
}

// ---------------------------------------------------------------- project build

/**
 * The newest modification time of the files below `dir`, skipping the folders in `skip` (dist/pkg, where
 * the packaging suite builds at the same time) and entries that vanish while they are walked.
 */
function newestMtime(dir: string, skip: ReadonlySet<string> = new Set()): number {
  let newest = 0;
  const gone = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch (e) {
      if (gone(e)) return;
      throw e;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (skip.has(p)) continue;
      if (e.isDirectory()) walk(p);
      else {
        try {
          newest = Math.max(newest, fs.statSync(p).mtimeMs);
        } catch (err) {
          if (!gone(err)) throw err;
        }
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return newest;
}

/**
 * Make sure dist/ is built and newer than src/ (the guest runs the built CLI). Returns null when the
 * build is current or succeeded, else the build's error text.
 */
export function ensureBuilt(): string | null {
  const dist = path.join(PROJECT_DIR, 'dist');
  const main = path.join(dist, 'cli', 'main.js');
  if (fs.existsSync(main) && newestMtime(dist, new Set([path.join(dist, 'pkg'), path.join(dist, 'web'), path.join(dist, 'bundle')])) >= newestMtime(path.join(PROJECT_DIR, 'src'))) return null;
  const tsc = path.join(PROJECT_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PROJECT_DIR, timeoutMs: 300_000 });
  if (r.status !== 0) return `npm run build failed: ${(r.stdout + r.stderr).trim().slice(-3000)}`;
  if (!fs.existsSync(main)) return 'npm run build did not produce dist/cli/main.js';
  return null;
}

// ---------------------------------------------------------------- boot

export interface Prepared {
  kernel: KernelInfo;
  initramfs: string;
  /** seconds spent preparing (packages, kernel, initramfs) */
  seconds: number;
}

let prepared: Prepared | undefined;

/** Packages, kernel and initramfs, once per process. */
export function prepare(): Prepared {
  if (prepared) return prepared;
  const t0 = performance.now();
  ensurePackages();
  const kernel = prepareKernel();
  const initramfs = buildInitramfs(kernel);
  prepared = { kernel, initramfs, seconds: Math.round((performance.now() - t0) / 10) / 100 };
  return prepared;
}

function qemuArgs(p: Prepared, o: GuestRunOptions, runDir: string): string[] {
  const used = o.topology.args.join(' ');
  for (const [tag, slot] of Object.entries(HARNESS_SLOTS)) {
    if (new RegExp(`bus=pcie\\.0,addr=0x${slot.toString(16)}\\b`, 'i').test(used)) throw new Error(`topology ${o.topology.name} uses slot 0x${slot.toString(16)}, reserved for the ${tag} share`);
  }
  const share = (tag: keyof typeof HARNESS_SLOTS, dir: string, readonly: boolean): string[] => [
    '-fsdev', `local,id=fs_${tag},path=${dir},security_model=none${readonly ? ',readonly=on' : ''}`,
    '-device', `virtio-9p-pci,fsdev=fs_${tag},mount_tag=${tag},bus=pcie.0,addr=0x${HARNESS_SLOTS[tag].toString(16)}`,
  ];
  return [
    '-nodefaults', '-no-user-config',
    '-machine', 'q35', '-accel', 'tcg',
    '-m', String(o.memoryMiB ?? 2048), '-smp', '2',
    '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', p.kernel.vmlinuz, '-initrd', p.initramfs,
    // no_timer_check: under TCG on a loaded machine the kernel's IO-APIC timer check can miss its window and
    // panic ("timer doesn't work through Interrupt-remapped IO-APIC"); the check proves nothing about vfio
    '-append', `console=ttyS0 panic=-1 loglevel=4 no_timer_check ${o.cmdline}`.trim(),
    ...(o.topology.intelIommu ? ['-device', 'intel-iommu,intremap=on,caching-mode=on'] : []),
    ...(o.topology.iommuArgs ?? []),
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    ...share('hostusr', '/usr', true),
    ...share('project', PROJECT_DIR, true),
    ...share('results', runDir, false),
    ...o.topology.args,
  ];
}

function verdictOf(exit: number | null, timedOut: boolean): GuestRun['verdict'] {
  if (timedOut) return 'timeout';
  if (exit === 1) return 'passed';
  if (exit === 3) return 'failed';
  if (exit === 5) return 'setup-failed';
  return 'no-report';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * runs/<label>.<pid>: private to this process, so two suites running at once (several people share a
 * tree) never mix results. Run directories of processes that are gone are removed; runs/<label> links
 * to the newest one for people to look at.
 */
function newRunDir(runsDir: string, label: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(label)) throw new Error(`bad run label ${JSON.stringify(label)}`);
  for (const name of fs.readdirSync(runsDir)) {
    const m = /^(.+)\.(\d+)$/.exec(name);
    if (m && m[1] === label && (Number(m[2]) === process.pid || !alive(Number(m[2])))) fs.rmSync(path.join(runsDir, name), { recursive: true, force: true });
  }
  const runDir = path.join(runsDir, `${label}.${process.pid}`);
  fs.mkdirSync(runDir, { recursive: true });
  const latest = path.join(runsDir, label);
  try {
    const st = fs.lstatSync(latest);
    if (st.isSymbolicLink()) fs.unlinkSync(latest);
    else fs.rmSync(latest, { recursive: true, force: true });
  } catch {
    // no previous link
  }
  fs.symlinkSync(path.basename(runDir), latest);
  return runDir;
}

/** Boot one guest with a topology, run guest tests in it, and collect what it reported. */
export async function runGuest(o: GuestRunOptions): Promise<GuestRun> {
  const p = prepare();
  const label = o.label ?? o.topology.name;
  const runsDir = path.join(WORK_DIR, 'runs');
  fs.mkdirSync(runsDir, { recursive: true });
  const runDir = newRunDir(runsDir, label);
  const timeoutMs = o.timeoutMs ?? 300_000;
  for (const t of o.guestTests) {
    if (!fs.existsSync(path.join(GUEST_DIR, t))) throw new Error(`no guest test ${t} in ${GUEST_DIR}`);
  }
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({
    label,
    topology: {
      name: o.topology.name, description: o.topology.description, intelIommu: o.topology.intelIommu, features: o.topology.features,
      iommuModel: o.topology.iommuModel ?? (o.topology.intelIommu ? 'intel' : null), expectGroups: o.topology.expectGroups ?? o.topology.intelIommu,
    },
    cmdline: o.cmdline,
    guestTests: o.guestTests,
    // the guest suite must end before the boot's timeout so it can still report
    guestTimeoutMs: Math.max(10_000, timeoutMs - 30_000),
    harnessDevices: Object.values(HARNESS_SLOTS).map((s) => `0000:00:${s.toString(16).padStart(2, '0')}.0`),
    env: o.env ?? {},
    data: o.data ?? {},
  }, null, 2) + '\n');

  const consoleLog = path.join(runDir, 'console.log');
  const fd = fs.openSync(consoleLog, 'w');
  const t0 = performance.now();
  const child = spawn('qemu-system-x86_64', qemuArgs(p, o, runDir), { stdio: ['ignore', fd, fd] });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const qemuExit = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  }).finally(() => {
    clearTimeout(timer);
    fs.closeSync(fd);
  });
  const durationMs = Math.round(performance.now() - t0);
  let summary: GuestSummary | null = null;
  const sumFile = path.join(runDir, 'summary.json');
  if (fs.existsSync(sumFile)) {
    try {
      summary = JSON.parse(fs.readFileSync(sumFile, 'utf8')) as GuestSummary;
    } catch {
      summary = null; // truncated: the guest died while writing it; the verdict says so
    }
  }
  const consoleText = fs.readFileSync(consoleLog, 'utf8');
  return {
    label,
    runDir,
    consoleLog,
    qemuExit,
    timedOut,
    durationMs,
    verdict: verdictOf(qemuExit, timedOut),
    summary,
    consoleTail: consoleText.split('\n').slice(-60).join('\n'),
  };
}

/** One line per failing guest test, for assertion messages. */
export function describeFailures(r: GuestRun): string {
  const lines = [`guest run ${r.label}: ${r.verdict} (QEMU exit ${r.qemuExit}, ${(r.durationMs / 1000).toFixed(1)} s), run dir ${r.runDir}`];
  for (const t of r.summary?.tests ?? []) {
    if (t.status === 'fail') lines.push(`  FAIL ${t.file ?? ''} › ${t.name}: ${(t.error ?? '').split('\n').slice(0, 6).join('\n        ')}`);
  }
  if (!r.summary || r.verdict !== 'passed') lines.push('--- console tail ---', r.consoleTail);
  return lines.join('\n');
}
