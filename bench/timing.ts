/**
 * Whole-process timing shared by the benchmarks: wall time from spawn to exit, CPU time (user + system)
 * from GNU time when /usr/bin/time is present, and medians over a series of runs.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface Timed {
  /** Wall time of the whole process, start to exit. */
  ms: number;
  /** CPU time (user + system) of the process, from GNU time; null when /usr/bin/time is missing. */
  cpuMs: number | null;
}

export interface Series {
  /** Median wall time, ms. */
  wallMs: number;
  /** Median CPU time (user + system), ms; null without GNU time. */
  cpuMs: number | null;
  runs: Timed[];
}

const GNU_TIME = '/usr/bin/time';
export const haveGnuTime = fs.existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%U', 'true'], { encoding: 'utf8' }).status === 0;

/**
 * Run `cmd args` once with stdout to `outFile`, and time it. `okStatus` lists the exit codes that count
 * as a normal run (e.g. 3 for a blocked plan or a host that is not ready).
 */
export function timeRun(cmd: string, args: string[], outFile: string, okStatus: readonly number[] = [0]): Timed {
  const fd = fs.openSync(outFile, 'w');
  const timeFile = `${outFile}.time`;
  const argv = haveGnuTime ? [GNU_TIME, '-f', '%U %S', '-o', timeFile, cmd, ...args] : [cmd, ...args];
  const t0 = performance.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', NO_COLOR: '1' } });
  const ms = performance.now() - t0;
  fs.closeSync(fd);
  if (r.error) throw r.error;
  if (!okStatus.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(0, 500)}`);
  let cpuMs: number | null = null;
  if (haveGnuTime) {
    const [u, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()?.split(' ').map(Number) ?? [];
    if (u !== undefined && sys !== undefined && Number.isFinite(u) && Number.isFinite(sys)) cpuMs = (u + sys) * 1000;
  }
  return { ms, cpuMs };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export function series(runs: Timed[]): Series {
  const cpu = runs.map((r) => r.cpuMs).filter((x): x is number => x !== null);
  return { wallMs: median(runs.map((r) => r.ms)), cpuMs: cpu.length === runs.length ? median(cpu) : null, runs };
}
