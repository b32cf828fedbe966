/**
 * A real, private libvirt daemon for the end-to-end suites.
 *
 * The daemon is Debian's monolithic `libvirtd`, started as root inside its own mount namespace
 * (`unshare --mount`) with private directories bind-mounted over /run/libvirt, /var/lib/libvirt,
 * /var/cache/libvirt, /var/log/libvirt and /etc/libvirt, so nothing it defines or writes touches the
 * machine's own libvirt state. A private qemu.conf runs QEMU as root (otherwise every define re-probes
 * QEMU for 30-60 s), without a security driver and without virtlogd. Clients reach it through
 * `qemu:///system?socket=<state>/run/libvirt-sock`.
 *
 * When the machine cannot run it (not root, packages missing) `startLibvirtd` returns a skip reason
 * instead of throwing; the suites print it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Libvirtd {
  /** Connection URI for virsh -c / --connect / LIBVIRT_DEFAULT_URI. */
  readonly uri: string;
  /** The private state directory (run/, lib/, cache/, log/, etc/ and the daemon's log). */
  readonly stateDir: string;
  /** Environment for child processes that should talk to this daemon. */
  readonly env: NodeJS.ProcessEnv;
  /** Run one virsh command against the daemon (test-side oracle, independent of vfioctl's adapter). */
  virsh(args: string[]): { status: number; stdout: string; stderr: string };
  /** Destroy running guests, stop the daemon, remove the state directory. */
  stop(): Promise<void>;
}

export type LibvirtdStart = { ok: true; daemon: Libvirtd } | { ok: false; skip: string };

/** Mount points bound to private directories, with the state subdirectory each one maps to. */
const BINDS: [target: string, sub: string][] = [
  ['/run/libvirt', 'run'],
  ['/var/lib/libvirt', 'lib'],
  ['/var/cache/libvirt', 'cache'],
  ['/var/log/libvirt', 'log'],
  ['/etc/libvirt', 'etc'],
];

const QEMU_CONF = `# private test daemon: run QEMU as root (no per-define re-probe), no security driver, no virtlogd
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
`;

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      continue;
    }
  }
  return null;
}

/** Why this machine cannot run a private libvirtd, or null when it can. */
export function libvirtdUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'libvirtd suites need Linux';
  if (process.getuid?.() !== 0) return 'libvirtd suites need root (private mount namespace, bind mounts)';
  const missing = ['libvirtd', 'virsh', 'unshare', 'qemu-system-x86_64'].filter((c) => which(c) === null);
  if (missing.length) {
    return `missing ${missing.join(', ')}: apt-get install --no-install-recommends libvirt-daemon libvirt-clients qemu-system-x86 (see test/e2e/packages.txt)`;
  }
  return null;
}

/** libvirtd exits at start when the QEMU driver's compiled-in user is unknown; create it like the package would. */
function ensureQemuUser(): string | null {
  if (spawnSync('getent', ['passwd', 'libvirt-qemu']).status === 0) return null;
  if (spawnSync('getent', ['group', 'libvirt-qemu']).status !== 0) {
    const g = spawnSync('groupadd', ['--system', 'libvirt-qemu'], { encoding: 'utf8' });
    if (g.status !== 0) return `cannot create group libvirt-qemu: ${g.stderr.trim()}`;
  }
  const u = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/libvirt', '--shell', '/usr/sbin/nologin', '-g', 'libvirt-qemu', 'libvirt-qemu'], { encoding: 'utf8' });
  if (u.status !== 0) return `cannot create user libvirt-qemu: ${u.stderr.trim()}`;
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kill the QEMU processes the daemon started (pid files in its private run directory). */
function killGuests(stateDir: string): void {
  const dir = path.join(stateDir, 'run', 'qemu');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.pid') && n !== 'driver.pid');
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(fs.readFileSync(path.join(dir, n), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
        continue;
      }
    }
  }
}

export async function startLibvirtd(opts: { readyTimeoutMs?: number } = {}): Promise<LibvirtdStart> {
  const reason = libvirtdUnavailableReason();
  if (reason) return { ok: false, skip: reason };
  const userProblem = ensureQemuUser();
  if (userProblem) return { ok: false, skip: userProblem };

  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-libvirtd-'));
  for (const [target, sub] of BINDS) {
    fs.mkdirSync(path.join(stateDir, sub), { recursive: true, mode: 0o700 });
    // The mount point itself must exist on the machine; an empty directory is all libvirt-daemon needs.
    fs.mkdirSync(target, { recursive: true });
  }
  fs.writeFileSync(path.join(stateDir, 'etc', 'qemu.conf'), QEMU_CONF, { mode: 0o600 });
  const logFile = path.join(stateDir, 'libvirtd.log');
  const pidFile = path.join(stateDir, 'libvirtd.pid');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    ...BINDS.map(([target, sub]) => `mount --bind ${q(path.join(stateDir, sub))} ${q(target)}`),
    `exec libvirtd --pid-file ${q(pidFile)}`,
  ].join(' && ');
  const log = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
    stdio: ['ignore', log, log],
    env: { ...process.env, LC_ALL: 'C' },
  });
  fs.closeSync(log);
  let exited: number | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 1);
      resolve();
    });
  });
  const onExit = () => {
    killGuests(stateDir);
    if (exited === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
        return;
      }
    }
  };
  process.on('exit', onExit);

  const uri = `qemu:///system?socket=${stateDir}/run/libvirt-sock`;
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LIBVIRT_DEFAULT_URI: uri };
  const virsh = (args: string[]) => {
    const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', env, timeout: 120_000 });
    return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited !== null) {
      process.off('exit', onExit);
      const why = tail(logFile);
      fs.rmSync(stateDir, { recursive: true, force: true });
      return { ok: false, skip: `libvirtd exited at start (status ${exited}):\n${why}` };
    }
    if (fs.existsSync(path.join(stateDir, 'run', 'libvirt-sock')) && virsh(['uri']).status === 0) break;
    if (Date.now() > deadline) {
      onExit();
      process.off('exit', onExit);
      const why = tail(logFile);
      await exitPromise;
      fs.rmSync(stateDir, { recursive: true, force: true });
      return { ok: false, skip: `libvirtd did not answer within ${opts.readyTimeoutMs ?? 15_000} ms:\n${why}` };
    }
    await sleep(100);
  }

  let stopped = false;
  const daemon: Libvirtd = {
    uri,
    stateDir,
    env,
    virsh,
    async stop() {
      if (stopped) return;
      stopped = true;
      const running = virsh(['list', '--name', '--state-running']);
      for (const name of running.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) virsh(['destroy', name]);
      killGuests(stateDir);
      if (exited === null && child.pid) child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        if (exited === null && child.pid) child.kill('SIGKILL');
      }, 10_000);
      await exitPromise;
      clearTimeout(killTimer);
      process.off('exit', onExit);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return { ok: true, daemon };
}
