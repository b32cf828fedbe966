/**
 * Command benchmark, before vs after: the same read-only commands (by default `plan 00:02.0` and
 * `doctor` on the bundled q35 sample) run by two builds of vfioctl, in paired, alternating runs; the
 * table shows the medians of whole-process wall and CPU time, and the after/before ratio.
 *
 *   npm run build && BENCH_BASE=/path/to/other/checkout npm run bench:commands
 *   BENCH_RUNS=15 BENCH_COMMANDS='plan --sample 00:02.0;doctor --sample;groups --sample' ...
 *
 * BENCH_BASE is another checkout of vfioctl with its own dist/ (e.g. `git worktree add ../base main &&
 * (cd ../base && npm ci)`); without it only this build is timed. Each command runs once untimed per build
 * (warm page cache); then BENCH_RUNS times (default 11), the order of the two builds alternating.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Series, type Timed, series, timeRun } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(repo, 'bench', 'work');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 11) || 11);
const commands = (process.env.BENCH_COMMANDS ?? 'plan --sample 00:02.0;doctor --sample').split(';').map((c) => c.trim()).filter(Boolean);
const base = process.env.BENCH_BASE ? path.resolve(process.env.BENCH_BASE) : null;
/** plan exits 3 when blocked, doctor 3 when the host is not ready: both are normal answers. */
const OK = [0, 3];

function binOf(dir: string): string {
  const bin = path.join(dir, 'bin', 'vfioctl.js');
  if (!fs.existsSync(path.join(dir, 'dist', 'cli', 'main.js'))) throw new Error(`${dir} is not built: run \`npm run build\` there`);
  return bin;
}

function main(): number {
  fs.mkdirSync(work, { recursive: true });
  const builds: { name: string; bin: string }[] = [{ name: 'this build', bin: binOf(repo) }];
  if (base) builds.unshift({ name: `base (${base})`, bin: binOf(base) });
  const out = path.join(work, 'out-commands.txt');
  const rows: { command: string; series: Series[] }[] = [];
  for (const command of commands) {
    const args = command.split(/\s+/);
    for (const b of builds) timeRun(process.execPath, [b.bin, ...args], out, OK);
    const timed: Timed[][] = builds.map(() => []);
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? builds.map((_, k) => k) : builds.map((_, k) => k).reverse();
      for (const k of order) timed[k]!.push(timeRun(process.execPath, [builds[k]!.bin, ...args], out, OK));
    }
    rows.push({ command, series: timed.map(series) });
  }
  const f0 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(0));
  const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? 'n/a' : (a / b).toFixed(2));
  console.log(`median of ${runs} paired runs; node ${process.version}; ${os.availableParallelism()} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const b of builds) console.log(`  ${b.name}: ${b.bin}`);
  const header = base ? '| command | base wall ms | this wall ms | wall ratio | base cpu ms | this cpu ms | cpu ratio |' : '| command | wall ms | cpu ms |';
  console.log(header);
  console.log(header.replace(/[^|]/g, '-'));
  for (const r of rows) {
    if (base) {
      const [b, t] = r.series as [Series, Series];
      console.log(`| vfioctl ${r.command} | ${f0(b.wallMs)} | ${f0(t.wallMs)} | ${ratio(t.wallMs, b.wallMs)} | ${f0(b.cpuMs)} | ${f0(t.cpuMs)} | ${ratio(t.cpuMs, b.cpuMs)} |`);
    } else {
      const [t] = r.series as [Series];
      console.log(`| vfioctl ${r.command} | ${f0(t.wallMs)} | ${f0(t.cpuMs)} |`);
    }
  }
  return 0;
}

process.exitCode = main();
