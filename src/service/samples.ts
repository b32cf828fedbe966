/** The captured sample hosts bundled with vfioctl (samples/<name>[/root]). */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../model/errors.js';
import { isSingleExecutable } from '../host/embedded.js';
import { embeddedSamplesDir } from '../host/embedded-samples.js';

/** The directory holding the package (for samples/): found from this module's location. */
export function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vfioctl') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new Error('internal: cannot find the vfioctl package directory');
}

export const DEFAULT_SAMPLE = 'q35-intel-iommu';

/**
 * The data directory an installed single executable finds beside itself (the Debian package puts the
 * binary in /usr/bin and its data in /usr/share/vfioctl); null when there is none.
 */
export function installDataDir(): string | null {
  if (!isSingleExecutable()) return null;
  try {
    const dir = join(dirname(realpathSync(process.execPath)), '..', 'share', 'vfioctl');
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

let samplesDirCache: string | null | undefined;

/**
 * Where the sample hosts are: samples/ of the package; for a single executable the installed data
 * directory's samples/, else the samples embedded in the executable (unpacked once into a cache).
 */
export function samplesDir(): string | null {
  if (samplesDirCache === undefined) {
    if (isSingleExecutable()) {
      const data = installDataDir();
      samplesDirCache = data && existsSync(join(data, 'samples')) ? join(data, 'samples') : embeddedSamplesDir();
    } else {
      samplesDirCache = join(packageDir(), 'samples');
    }
  }
  return samplesDirCache;
}

export function listSamples(): string[] {
  const dir = samplesDir();
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export function sampleRoot(name: string | true): string {
  const samples = listSamples();
  const wanted = name === true ? (samples.includes(DEFAULT_SAMPLE) ? DEFAULT_SAMPLE : samples[0]) : name;
  if (!wanted || !samples.includes(wanted)) {
    throw new UsageError('bad-sample', `no sample host named ${JSON.stringify(name === true ? DEFAULT_SAMPLE : name)}`, `available samples: ${samples.join(', ') || '(none shipped)'}`);
  }
  const base = join(samplesDir()!, wanted);
  return existsSync(join(base, 'root')) ? join(base, 'root') : base;
}
