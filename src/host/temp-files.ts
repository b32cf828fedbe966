/**
 * Temporary directories vfioctl makes in the system temp directory (an unpacked snapshot archive, the
 * XML file handed to virsh, a snapshot being packed), kept in one process-wide registry:
 *   - each is named `vfioctl-KIND-PID-XXXXXX`, so that a later run can tell a stale one (its process is
 *     gone, e.g. after SIGKILL) from one in use, and remove it (`removeStaleTempDirs`);
 *   - on exit and on SIGINT / SIGTERM / SIGHUP the registered directories are removed; the signal is then
 *     raised again with the default action, so the process still ends as that signal says (a journaled
 *     run interrupted by ^C leaves its journal for `vfioctl recover`, as before).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const registered = new Set<string>();
let installed = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeAll(): void {
  for (const dir of registered) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort while exiting: the next run's stale sweep removes what is left
      continue;
    }
  }
  registered.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  removeAll();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', removeAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Add a directory to the registry (removed on exit and on SIGINT/TERM/HUP). */
export function registerTempDir(dir: string): string {
  install();
  for (const d of registered) if (!fs.existsSync(d)) registered.delete(d);
  registered.add(dir);
  return dir;
}

/** mkdtemp in the system temp directory as `PREFIXPID-XXXXXX` (mode 0700), registered for clean-up. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}${process.pid}-`));
  fs.chmodSync(dir, 0o700);
  return registerTempDir(dir);
}

/** Remove a registered directory now. */
export function removeTempDir(dir: string): void {
  registered.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const OURS = /^vfioctl-(root|virsh|snapshot)-(\d+)-[A-Za-z0-9]{6}$/;
/** Names from before the pid was part of them: stale once older than a day. */
const LEGACY = /^vfioctl-(root|virsh|snapshot)-[A-Za-z0-9]{6}$/;
const LEGACY_AGE_MS = 24 * 3600_000;

/** Remove temp directories left by vfioctl processes that are gone; returns the names removed. */
export function removeStaleTempDirs(tmp = os.tmpdir()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = OURS.exec(n);
    const abs = path.join(tmp, n);
    let stale = false;
    try {
      const st = fs.lstatSync(abs);
      // only our own directories: never follow a link, never another user's entry
      if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) continue;
      if (m) stale = Number(m[2]) !== process.pid && !processAlive(Number(m[2]));
      else if (LEGACY.test(n)) stale = Date.now() - st.mtimeMs > LEGACY_AGE_MS;
    } catch {
      continue;
    }
    if (!stale) continue;
    try {
      fs.rmSync(abs, { recursive: true, force: true });
      removed.push(n);
    } catch {
      continue;
    }
  }
  return removed;
}
