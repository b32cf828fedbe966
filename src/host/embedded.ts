/**
 * Data embedded in a single executable build (Node's single executable applications, `node:sea`):
 * the sample hosts, the pci.ids fallback, the build record and any other asset the packaging step
 * added (scripts/package.mjs). Outside such a build every lookup answers "not embedded".
 */
import { createRequire } from 'node:module';

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

let seaCache: SeaModule | null | undefined;

function sea(): SeaModule | null {
  if (seaCache === undefined) {
    seaCache = null;
    try {
      const m = createRequire(import.meta.url)('node:sea') as SeaModule;
      if (m.isSea()) seaCache = m;
    } catch {
      // node:sea is missing before Node 20.12: not a single executable
    }
  }
  return seaCache;
}

/** This process is vfioctl's single executable (not `node bin/vfioctl.js`). */
export function isSingleExecutable(): boolean {
  return sea() !== null;
}

/** The bytes of one embedded asset, or null when it is not embedded (or this is not a single executable). */
export function embeddedAsset(name: string): Buffer | null {
  const s = sea();
  if (!s) return null;
  try {
    return Buffer.from(s.getAsset(name));
  } catch {
    return null;
  }
}

/** The manifest the packaging step embeds: every asset's name, size and SHA-256. */
export interface EmbeddedManifest {
  version: string;
  commit: string | null;
  assets: { name: string; bytes: number; sha256: string }[];
}

export const MANIFEST_ASSET = 'manifest.json';

export function embeddedManifest(): EmbeddedManifest | null {
  const buf = embeddedAsset(MANIFEST_ASSET);
  if (!buf) return null;
  try {
    return JSON.parse(buf.toString('utf8')) as EmbeddedManifest;
  } catch {
    return null;
  }
}
