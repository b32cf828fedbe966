#!/usr/bin/env node
// vfioctl command-line entry point. The npm package runs the bundle (dist/bundle/vfioctl.cjs, made by
// scripts/bundle.mjs) when it is there; a source checkout runs the compiled modules in dist/cli/.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/vfioctl.cjs', import.meta.url);
if (existsSync(bundle)) {
  const { runBundle } = await import('./run-bundle.js');
  runBundle(bundle);
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
