/** The captured sample hosts bundled with vfioctl (samples/<name>[/root]). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../model/errors.js';

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

export function listSamples(): string[] {
  const dir = join(packageDir(), 'samples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export function sampleRoot(name: string | true): string {
  const samples = listSamples();
  const wanted = name === true ? (samples.includes(DEFAULT_SAMPLE) ? DEFAULT_SAMPLE : samples[0]) : name;
  if (!wanted || !samples.includes(wanted)) {
    throw new UsageError('bad-sample', `no sample host named ${JSON.stringify(name === true ? DEFAULT_SAMPLE : name)}`, `available samples: ${samples.join(', ') || '(none shipped)'}`);
  }
  const base = join(packageDir(), 'samples', wanted);
  return existsSync(join(base, 'root')) ? join(base, 'root') : base;
}
