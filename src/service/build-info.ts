/**
 * What this copy of vfioctl is and where it runs (`vfioctl --version --json`, docs/json.md): the
 * version, the commit it was built from, how it was built (npm package, single executable, Debian
 * package) and the platform detected on the running system.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../model/version.js';
import { embeddedManifest, isSingleExecutable } from '../host/embedded.js';
import { installDataDir } from './samples.js';
import type { VersionReport, BuildKind } from '../model/reports.js';

// Set by the bundler (scripts/bundle.mjs); absent when running the TypeScript or tsc output directly.
declare const __VFIOCTL_COMMIT__: string | undefined;
declare const __VFIOCTL_BUNDLED__: boolean | undefined;

const BUNDLE_COMMIT = typeof __VFIOCTL_COMMIT__ === 'string' && __VFIOCTL_COMMIT__ ? __VFIOCTL_COMMIT__ : null;
const BUNDLED = typeof __VFIOCTL_BUNDLED__ === 'boolean' ? __VFIOCTL_BUNDLED__ : false;

/** The build record the Debian package installs beside the binary (/usr/share/vfioctl/build.json). */
export const INSTALL_RECORD = 'build.json';

export function buildKind(): BuildKind {
  if (!isSingleExecutable()) return 'npm';
  const data = installDataDir();
  if (data) {
    try {
      const rec = JSON.parse(fs.readFileSync(join(data, INSTALL_RECORD), 'utf8')) as { build?: unknown };
      if (rec.build === 'deb') return 'deb';
    } catch {
      // no record: a single executable copied next to a share/vfioctl directory of something else
    }
  }
  return 'sea';
}

/** KEY=value lines of an os-release file (quotes removed), bounded. */
function osRelease(): Record<string, string> | null {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    let text: string;
    try {
      const fd = fs.openSync(p, 'r');
      try {
        const buf = Buffer.alloc(16384);
        text = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      continue;
    }
    const out: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2').slice(0, 200);
    }
    return out;
  }
  return null;
}

export function versionReport(): VersionReport {
  const rel = osRelease();
  return {
    version: VERSION,
    commit: embeddedManifest()?.commit ?? BUNDLE_COMMIT,
    build: buildKind(),
    bundled: BUNDLED || isSingleExecutable(),
    platform: {
      kernel: os.release(),
      distribution: rel ? { id: rel.ID ?? null, versionId: rel.VERSION_ID ?? null, prettyName: rel.PRETTY_NAME ?? null } : null,
      arch: process.arch,
      node: process.version,
    },
  };
}
