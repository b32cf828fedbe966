#!/usr/bin/env node
// Bundles the CLI (src/cli/entry.ts and everything it loads, node_modules included) into one CommonJS
// file with esbuild: dist/bundle/vfioctl.cjs. The npm package's bin/vfioctl.js runs it when present, and
// the single executable embeds it (scripts/package.mjs).
//   node scripts/bundle.mjs [--out FILE] [--commit SHA]
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/**
 * The source's lazy `createRequire(import.meta.url)('pkg')` loads (kept lazy so the compiled modules
 * do not pay for zod, diff or xmldom at start-up) become plain `require('pkg')`, which esbuild bundles
 * and still evaluates only on first call.
 */
const lazyRequire = {
  name: 'lazy-require',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replaceAll('createRequire(import.meta.url)(', 'require('), loader: 'ts' };
    });
  },
};

/**
 * zod once, as its CommonJS build: the lazy `require('zod')` above and the static imports elsewhere
 * would otherwise bundle both of zod's builds. The CommonJS one is evaluated on first use; the ES one is
 * hoisted, and its namespace objects (about 1,100 getters) were built at every start-up (4-6 ms of the
 * bundle's top level, docs/performance.md). Its locale catalogue (`z.locales`, about 600 KiB minified,
 * every language zod translates messages into) is left out: vfioctl's messages are its own and zod's
 * English default is imported apart from the catalogue.
 */
const zodOnce = {
  name: 'zod-once',
  setup(build) {
    const zodDir = join(REPO, 'node_modules', 'zod');
    build.onResolve({ filter: /^zod$/ }, () => ({ path: join(zodDir, 'index.cjs') }));
    build.onResolve({ filter: /[\\/]locales[\\/]index\.c?js$/ }, (args) => (args.importer.startsWith(zodDir) ? { path: 'zod-locales', namespace: 'vfioctl-empty' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'vfioctl-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

export async function bundle({ out = join(REPO, 'dist/bundle/vfioctl.cjs'), commit = gitCommit(), minify = true } = {}) {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify,
    keepNames: false,
    legalComments: 'linked',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [lazyRequire, zodOnce],
    define: {
      'import.meta.url': '__vfioctl_module_url',
      __VFIOCTL_COMMIT__: JSON.stringify(commit ?? ''),
      __VFIOCTL_BUNDLED__: 'true',
    },
    banner: { js: `"use strict";var __vfioctl_module_url=require("node:url").pathToFileURL(__filename).href;` },
  };
  const result = await esbuild.build({ ...common, entryPoints: [join(REPO, 'src/cli/entry.ts')], outfile: out });
  // the server's read worker (src/server/reads.ts starts it from beside the bundle, or from a single
  // executable's asset of the same name)
  await esbuild.build({ ...common, metafile: false, entryPoints: [join(REPO, 'src/server/read-worker.ts')], outfile: join(dirname(out), 'read-worker.cjs') });
  return { out, metafile: result.metafile };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = (k) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
  const { out, metafile } = await bundle({ out: at('--out') ? resolve(at('--out')) : undefined, commit: at('--commit') });
  const bytes = Object.values(metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(`bundled ${out} (${(bytes / 1024).toFixed(0)} KiB)`);
}
