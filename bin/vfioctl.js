#!/usr/bin/env node
// vfioctl command-line entry point. The npm package runs the bundle (dist/bundle/vfioctl.cjs, made by
// scripts/bundle.mjs, with its V8 code cache); a source checkout runs the compiled modules in dist/cli/
// unless its bundle is at least as new as them (a bundle left from an earlier `npm run package` must never
// run older code than `npm run build` just compiled; an installed package, which has no src/, runs its bundle).
import { existsSync, readFileSync, statSync } from 'node:fs';

const argv = process.argv.slice(2);
const bundle = new URL('../dist/bundle/vfioctl.cjs', import.meta.url);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // the commonest probe of an installed copy: answered without loading the program
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else if (existsSync(bundle) && bundleIsCurrent()) {
  const { runBundle } = await import('./run-bundle.js');
  runBundle(bundle);
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(argv);
}

function bundleIsCurrent() {
  // an installed package has no sources: its bundle is what it ships
  if (!existsSync(new URL('../src/cli/main.ts', import.meta.url))) return true;
  const compiled = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(compiled)) return true;
  return statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs;
}
