/**
 * The sample hosts of a single executable: embedded as one tar archive (`samples.tar`) and unpacked, on
 * first use, into a per-user cache directory keyed by the archive's hash, so later runs read the same
 * tree without unpacking again. The cache is used only when it is a real directory owned by this user
 * and writable by nobody else; otherwise a private temporary directory is made for this run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { embeddedAsset } from './embedded.js';
import { nodeCrypto } from './lazy-builtins.js';

export const SAMPLES_ASSET = 'samples.tar';
const COMPLETE = '.vfioctl-complete';

function privateDir(dir: string): boolean {
  try {
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.() ?? st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The cache base: $XDG_CACHE_HOME/vfioctl or ~/.cache/vfioctl, each level private to this user. */
function cacheBase(env: Record<string, string | undefined>): string | null {
  const home = env.HOME || os.homedir();
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : home ? join(home, '.cache') : null;
  if (!xdg) return null;
  const base = join(xdg, 'vfioctl');
  try {
    fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  } catch {
    return null;
  }
  return privateDir(base) ? base : null;
}

function unpack(archive: Buffer, into: string): void {
  const tar = createRequire(import.meta.url)('tar') as typeof import('tar');
  const u = new tar.UnpackSync({ cwd: into, strict: true, preservePaths: false, preserveOwner: false });
  u.end(archive);
  fs.writeFileSync(join(into, COMPLETE), '');
}

/**
 * The directory holding the embedded samples (one folder per sample host), unpacked if needed; null
 * when this build embeds none.
 */
export function embeddedSamplesDir(env: Record<string, string | undefined> = process.env): string | null {
  const archive = embeddedAsset(SAMPLES_ASSET);
  if (!archive) return null;
  const key = nodeCrypto().createHash('sha256').update(archive).digest('hex').slice(0, 16);
  const base = cacheBase(env);
  if (base) {
    const dir = join(base, `samples-${key}`);
    if (privateDir(dir) && fs.existsSync(join(dir, COMPLETE))) return dir;
    const tmp = fs.mkdtempSync(join(base, `samples-${key}.tmp-`));
    try {
      unpack(archive, tmp);
      fs.renameSync(tmp, dir);
      return dir;
    } catch {
      // another run finished first (rename onto a non-empty directory fails), or the disk is full
      fs.rmSync(tmp, { recursive: true, force: true });
      if (privateDir(dir) && fs.existsSync(join(dir, COMPLETE))) return dir;
    }
  }
  const tmp = fs.mkdtempSync(join(os.tmpdir(), 'vfioctl-samples-'));
  unpack(archive, tmp);
  process.once('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  return tmp;
}
