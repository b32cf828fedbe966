/**
 * Where the start-up of the bundle goes (issue 15, item 2), phase by phase, in fresh processes: Node's
 * own start (process start to the first line of the runner), reading the bundle, compiling it with its
 * code cache, running its top level, and the command itself (the rest, to exit). Paired, alternating
 * runs of this checkout's dist/bundle and, with BENCH_BASE=DIR, an older checkout's (built there with
 * `npx tsc -p tsconfig.build.json && node scripts/bundle.mjs` and a code cache made by a run with
 * VFIOCTL_WRITE_CODE_CACHE); medians, wall clock (performance.now in the child).
 *
 *   npm run package && node --import tsx bench/startup-phases.ts [COMMAND...]   (default: groups --sample)
 *   BENCH_RUNS=21 BENCH_BASE=/tmp/base node --import tsx bench/startup-phases.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 15) || 15);
const base = process.env.BENCH_BASE ? path.resolve(process.env.BENCH_BASE) : null;
const PHASES = ['node', 'read', 'compile', 'top level', 'command', 'total'] as const;

/** The child: the runner of bin/run-bundle.js, with a clock between its steps (CommonJS, no loader of its own). */
const CHILD = String.raw`
const t0 = performance.now();
const fs = require('node:fs'), vm = require('node:vm'), path = require('node:path'), { createRequire } = require('node:module');
const file = process.env.BUNDLE;
const src = fs.readFileSync(file, 'utf8');
const t1 = performance.now();
let cache; try { cache = fs.readFileSync(file + '.cache'); } catch {}
const script = new vm.Script('(function (exports, require, module, __filename, __dirname) {' + src + '\n})', { filename: file, cachedData: cache });
const t2 = performance.now();
const m = { exports: {} };
process.argv = [process.argv[0], file, ...process.argv.slice(1)];
script.runInThisContext()(m.exports, createRequire(file), m, file, path.dirname(file));
const t3 = performance.now();
process.on('exit', () => {
  const t4 = performance.now();
  fs.writeSync(3, JSON.stringify({ node: t0, read: t1 - t0, compile: t2 - t1, 'top level': t3 - t2, command: t4 - t3, total: t4, cacheRejected: script.cachedDataRejected === true }));
});
`;

interface Phases extends Record<(typeof PHASES)[number], number> {
  cacheRejected: boolean;
}

function once(bundle: string, args: string[]): Phases {
  const r = spawnSync(process.execPath, ['-e', CHILD, ...args], {
    env: { ...process.env, BUNDLE: bundle, NO_COLOR: '1', LC_ALL: 'C' },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  const out = (r.output[3] as string | null) ?? '';
  if (!out) throw new Error(`the run printed no timings (exit ${r.status}): ${(r.stderr ?? '').slice(0, 400)}`);
  return JSON.parse(out) as Phases;
}

function main(): void {
  const args = process.argv.slice(2).length ? process.argv.slice(2) : ['groups', '--sample'];
  const subjects = [{ name: 'this checkout', bundle: path.join(repo, 'dist', 'bundle', 'vfioctl.cjs') }];
  if (base) subjects.unshift({ name: `base (${base})`, bundle: path.join(base, 'dist', 'bundle', 'vfioctl.cjs') });
  for (const s of subjects) if (!fs.existsSync(s.bundle)) throw new Error(`no ${s.bundle}: build the bundle first (npm run package, or node scripts/bundle.mjs)`);
  for (const s of subjects) once(s.bundle, args);
  const got: Phases[][] = subjects.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < subjects.length; j++) {
      const k = (i + j) % subjects.length;
      got[k]!.push(once(subjects[k]!.bundle, args));
    }
  }
  console.log(`vfioctl ${args.join(' ')}: medians of ${runs} paired, alternating runs, wall ms; node ${process.version}; ${os.availableParallelism()} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`| build | ${PHASES.join(' | ')} | code cache |`);
  console.log(`|---|${PHASES.map(() => '---:').join('|')}|---|`);
  subjects.forEach((s, k) => {
    const rejected = got[k]!.filter((p) => p.cacheRejected).length;
    console.log(`| ${s.name} | ${PHASES.map((p) => median(got[k]!.map((x) => x[p])).toFixed(1)).join(' | ')} | ${rejected ? `rejected ${rejected}/${runs}` : 'used'} |`);
  });
}

main();
