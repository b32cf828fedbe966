/**
 * Disk and output errors (a full disk, a read-only or failing file system) as VfioctlErrors with a
 * remedy and exit code 4 (docs/exit-codes.md), instead of an "internal error".
 */
import { ExitCode, VfioctlError } from '../model/errors.js';

const DISK: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EIO: 'an input/output error',
  EFBIG: 'the file is too large for the file system or the limit',
};

/** The errno of a disk error (ENOSPC, EDQUOT, EROFS, EIO, EFBIG), found through `cause` chains. */
export function diskErrno(e: unknown): string | null {
  for (let cur = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && Object.hasOwn(DISK, code)) return code;
  }
  return null;
}

/** "no space left on the device (ENOSPC) writing PATH", or null when `e` is not a disk error. */
export function diskSummary(e: unknown): string | null {
  const code = diskErrno(e);
  if (!code) return null;
  let p: string | undefined;
  for (let cur = e, depth = 0; cur && depth < 5 && !p; cur = (cur as { cause?: unknown }).cause, depth++) p = (cur as NodeJS.ErrnoException).path;
  return `${DISK[code]} (${code})${p ? ` writing ${p}` : ''}`;
}

/** A disk error as a VfioctlError (null when `e` is not one); `done` says what state the host is in. */
export function diskError(e: unknown, done = 'nothing was changed'): VfioctlError | null {
  const code = diskErrno(e);
  if (!code) return null;
  return new VfioctlError('disk-error', `${diskSummary(e)!}; ${done}`, {
    remedy: code === 'EROFS' ? 'remount the file system read-write and run the command again' : 'free space on that file system (df -h shows which) and run the command again; `vfioctl status` shows what vfioctl has changed',
    exitCode: ExitCode.io,
    cause: e,
  });
}
