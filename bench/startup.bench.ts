/**
 * Start-up benchmark (issue 15, item 2): `vfioctl --version` and `vfioctl groups --sample` against the
 * floor they are measured by, in paired, alternating runs (bench/timing.ts), medians of whole-process
 * wall and CPU time:
 *   - the npm entry (`node bin/vfioctl.js ...`) against `node -e 0`;
 *   - the single executable (dist/pkg/vfioctl) against an empty single executable built the same way
 *     (dist/pkg/empty-sea), when `npm run package` has made them;
 *   - optionally an older checkout's entry (BENCH_BASE=DIR, built there) for before/after.
 *
 *   npm run package && node --import tsx bench/startup.bench.ts
 *   BENCH_RUNS=21 BENCH_BASE=/tmp/before node --import tsx bench/startup.bench.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Series, type Timed, series, timeRun } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(repo, 'bench', 'work');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 15) || 15);
const base = process.env.BENCH_BASE ? path.resolve(process.env.BENCH_BASE) : null;
const sea = path.join(repo, 'dist', 'pkg', 'vfioctl');
const emptySea = path.join(repo, 'dist', 'pkg', 'empty-sea');

interface Subject {
  name: string;
  cmd: string;
  args: string[];
}

/** Time each subject `runs` times, rotating which one goes first, after one untimed warm-up each. */
function paired(subjects: Subject[], out: string): Series[] {
  for (const s of subjects) timeRun(s.cmd, s.args, out);
  const timed: Timed[][] = subjects.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < subjects.length; j++) {
      const k = (i + j) % subjects.length;
      timed[k]!.push(timeRun(subjects[k]!.cmd, subjects[k]!.args, out));
    }
  }
  return timed.map(series);
}

function main(): void {
  fs.mkdirSync(work, { recursive: true });
  const out = path.join(work, 'out-startup.txt');
  const node = process.execPath;
  const groups: { floor: Subject; subjects: Subject[] }[] = [];
  const npm = (name: string, dir: string): Subject[] => [
    { name: `${name} --version`, cmd: node, args: [path.join(dir, 'bin', 'vfioctl.js'), '--version'] },
    { name: `${name} groups --sample`, cmd: node, args: [path.join(dir, 'bin', 'vfioctl.js'), 'groups', '--sample'] },
  ];
  groups.push({ floor: { name: 'node -e 0', cmd: node, args: ['-e', '0'] }, subjects: [...(base ? npm('before: node bin/vfioctl.js', base) : []), ...npm('node bin/vfioctl.js', repo)] });
  if (fs.existsSync(sea) && fs.existsSync(emptySea)) {
    groups.push({
      floor: { name: 'empty single executable', cmd: emptySea, args: [] },
      subjects: [
        { name: 'single executable --version', cmd: sea, args: ['--version'] },
        { name: 'single executable groups --sample', cmd: sea, args: ['groups', '--sample'] },
      ],
    });
  } else console.log(`(no ${path.relative(repo, sea)}: run \`npm run package\` to time the single executable)`);

  const f0 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));
  const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? 'n/a' : (a / b).toFixed(2));
  console.log(`median of ${runs} paired, alternating runs; node ${process.version}; ${os.availableParallelism()} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| command | wall ms | floor wall ms | wall ratio | cpu ms | floor cpu ms | cpu ratio |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const g of groups) {
    const all = [g.floor, ...g.subjects];
    const s = paired(all, out);
    const fl = s[0]!;
    console.log(`| ${g.floor.name} | ${f0(fl.wallMs)} | | | ${f0(fl.cpuMs)} | | |`);
    g.subjects.forEach((sub, i) => {
      const r = s[i + 1]!;
      console.log(`| ${sub.name} | ${f0(r.wallMs)} | ${f0(fl.wallMs)} | ${ratio(r.wallMs, fl.wallMs)} | ${f0(r.cpuMs)} | ${f0(fl.cpuMs)} | ${ratio(r.cpuMs, fl.cpuMs)} |`);
    });
  }
  console.log(`load average after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

main();
