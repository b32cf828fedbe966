#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx).
//   node scripts/run-tests.mjs               unit + fixture tests (fast)
//   node scripts/run-tests.mjs --all         also the real-component suites (kernel under QEMU, libvirtd, browser)
//   node scripts/run-tests.mjs FILE...       just these files
// Real-component suites live under test/e2e/ and test/kernel/ and skip with a printed reason when the
// machine cannot run them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const all = args.includes('--all');
const explicit = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'work' || name === 'guest' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = explicit.length ? explicit : walk('test', []);
if (!all && !explicit.length) files = files.filter((f) => !f.startsWith('test/e2e/') && !f.startsWith('test/kernel/'));
if (!files.length) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
