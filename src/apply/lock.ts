/**
 * The run lock: an exclusive flock(2) on var/lib/vfioctl/lock, held for the whole run.
 *
 * Node has no flock, but a lock belongs to an open file description, not to a process: vfioctl opens
 * the file and hands that descriptor to `flock --nonblock --exclusive 3` (util-linux) as its fd 3. The
 * child locks the shared description and exits; the lock stays with vfioctl's descriptor until it is
 * closed or vfioctl dies (the kernel releases it then, even after SIGKILL). So there is no window in
 * which a lock can be mistaken for stale: "stale" only ever means that the file still holds the
 * {pid, runId, command, startedAt} of a run that ended without clearing it, and the file is unlocked.
 *
 * Release clears the file and removes it while still holding the lock, then closes. A run that opened
 * the old file and locks it after that sees that the path no longer names its file (inode check) and
 * starts again, so two runs never hold the lock at once.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { VfioctlError } from '../model/errors.js';

export interface LockInfo {
  pid: number;
  runId: string;
  command: string;
  startedAt: string;
}

export interface HeldLock {
  /** the info a run that ended without releasing left in the file (it was unlocked) */
  readonly staleFrom: LockInfo | null;
  release(): void;
}

export function parseLockInfo(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text.slice(0, 4096)) as Partial<LockInfo>;
    if (typeof v !== 'object' || v === null || !Number.isInteger(v.pid) || typeof v.runId !== 'string' || typeof v.command !== 'string' || typeof v.startedAt !== 'string') return null;
    return { pid: v.pid!, runId: v.runId.slice(0, 64), command: v.command.slice(0, 64), startedAt: v.startedAt.slice(0, 64) };
  } catch {
    return null;
  }
}

function readFd(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8');
}

/** flock the open description of `fd` through a child; true when the lock was taken. */
function flockFd(fd: number): boolean {
  const r = spawnSync('flock', ['--nonblock', '--exclusive', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], timeout: 10_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new VfioctlError('lock-unavailable', `cannot take the run lock: flock(1) could not be run (${code ?? r.error.message})`, {
      remedy: code === 'ENOENT' ? 'install util-linux (it provides flock)' : 'check that flock(1) from util-linux runs',
    });
  }
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  throw new VfioctlError('lock-unavailable', `cannot take the run lock: flock exited with ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(0, 200)}`, { remedy: 'check the file system of the state directory supports locks' });
}

/**
 * Take the lock at `abs` (the directory exists and was checked). Refuses with `locked` when another
 * run holds it. `display` names the file in messages.
 */
export function acquireRunLock(abs: string, info: LockInfo, display: string): HeldLock {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(abs, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EROFS' || code === 'EDQUOT' || code === 'EIO') throw e;
      throw new VfioctlError(code === 'EACCES' || code === 'EPERM' ? 'state-unreadable' : 'state-unsafe', `cannot open the lock ${display}: ${code ?? (e as Error).message}`, {
        remedy: code === 'EACCES' || code === 'EPERM' ? 'run vfioctl as root' : `${display} must be a plain file: move whatever is there aside`,
      });
    }
    let keep = false;
    try {
      if (!fs.fstatSync(fd).isFile()) throw new VfioctlError('state-unsafe', `${display} is not a regular file`, { remedy: `remove ${display}` });
      if (!flockFd(fd)) {
        const holder = parseLockInfo(readFd(fd));
        throw new VfioctlError('locked', holder
          ? `another vfioctl run holds the lock: pid ${holder.pid}, \`vfioctl ${holder.command}\` since ${holder.startedAt}`
          : 'another vfioctl run holds the lock (it is starting)', {
          remedy: 'wait for it to finish and try again',
        });
      }
      // the path must still name the file we locked (a releasing run removes it before unlocking)
      let same = false;
      try {
        const a = fs.fstatSync(fd);
        const b = fs.lstatSync(abs);
        same = a.ino === b.ino && a.dev === b.dev;
      } catch {
        same = false;
      }
      if (!same) continue;
      const left = readFd(fd);
      const staleFrom = left.trim() ? parseLockInfo(left) ?? { pid: 0, runId: '?', command: '?', startedAt: '?' } : null;
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, `${JSON.stringify(info)}\n`, 0);
      fs.fsyncSync(fd);
      fs.fchmodSync(fd, 0o600);
      keep = true;
      let released = false;
      return {
        staleFrom,
        release: () => {
          if (released) return;
          released = true;
          try {
            fs.ftruncateSync(fd, 0);
            fs.rmSync(abs, { force: true });
          } finally {
            fs.closeSync(fd);
          }
        },
      };
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }
  throw new VfioctlError('locked', `cannot take the lock ${display}: it keeps being replaced`, { remedy: 'another vfioctl is starting and stopping runs; try again' });
}

/** The info in the lock file, when one is there (for messages and `status`). */
export function readLockInfo(abs: string): LockInfo | null {
  try {
    return parseLockInfo(fs.readFileSync(abs, 'utf8'));
  } catch {
    return null;
  }
}
