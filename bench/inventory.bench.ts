/**
 * Inventory benchmark: `vfioctl ls --json --root TREE` (the built CLI) side by side with
 * `lspci -nnk -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci` on the same synthetic host trees of 1k, 4k and 16k PCI
 * functions (test/support/topologies.ts scaledHost: root ports, switches, multifunction GPUs and NICs,
 * NVMe drives, one IOMMU group per slot, several PCI domains).
 *
 *   npm run build && npm run bench
 *   BENCH_SIZES=1000,4000 BENCH_RUNS=7 npm run bench
 *   npm run bench -- --json          figures as JSON on stdout (the table goes to stderr)
 *   BENCH_BASE=/tmp/base npm run bench   also time another build (before a change) in the same rotation,
 *                                        and `groups`, `doctor`, `plan GPU` (BENCH_COMMANDS, ';'-separated)
 *                                        on the 4000-function tree (BENCH_COMMAND_SIZES) against it
 *
 * Trees are built once under bench/work/ (git-ignored) and reused while the builder's sources are
 * unchanged. Each command runs once untimed (warm page cache), then BENCH_RUNS times (default 5),
 * rotating the order of the tools (the machine may be shared: pairing spreads its load over all); the table shows the median wall time of the whole process (start to exit),
 * stdout going to a file. The first timed run's output is checked: vfioctl must report n functions, lspci
 * must list n.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { buildHostTree } from '../test/support/host-tree.js';
import { scaledHost } from '../test/support/topologies.js';
import { type Series, type Timed, series, timeRun } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(repo, 'bench', 'work');
const sizes = (process.env.BENCH_SIZES ?? '1000,4000,16000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5) || 5);
const asJson = process.argv.includes('--json');
/** Commands timed besides `ls --json` (GPU: a display function of the tree); BENCH_COMMANDS='' for none. */
const commands = (process.env.BENCH_COMMANDS ?? 'groups;doctor;plan GPU').split(';').map((c) => c.trim()).filter(Boolean);
/** Another checkout of vfioctl with its own dist/ (the code before a change), timed in the same rotation. */
const base = process.env.BENCH_BASE ? path.resolve(process.env.BENCH_BASE) : null;
const log = (s: string): void => void (asJson ? process.stderr : process.stdout).write(s + '\n');

function builderHash(): string {
  const h = createHash('sha256');
  for (const f of ['test/support/host-tree.ts', 'test/support/topologies.ts']) h.update(fs.readFileSync(path.join(repo, f)));
  return h.digest('hex').slice(0, 16);
}

/** The tree for n functions, built (or rebuilt when the builder changed) under bench/work/. */
function treeFor(n: number, hash: string): string {
  const dir = path.join(work, `tree-${n}`);
  const stamp = path.join(work, `tree-${n}.stamp`);
  if (fs.existsSync(dir) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return dir;
  const tmp = `${dir}.building`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(stamp, { force: true });
  const t0 = performance.now();
  log(`building a ${n}-function tree in ${path.relative(repo, dir)} ...`);
  buildHostTree(tmp, scaledHost(n));
  fs.renameSync(tmp, dir);
  fs.writeFileSync(stamp, hash);
  log(`  built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

function lspciAvailable(): boolean {
  return spawnSync('lspci', ['--version']).status === 0;
}

/** Is the built CLI there, with an `ls --json --root` that answers? null when usable, else the reason. */
function vfioctlProblem(probeRoot: string): string | null {
  const bin = path.join(repo, 'bin', 'vfioctl.js');
  const main = path.join(repo, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(main)) return `the CLI is not built (${path.relative(repo, main)} is missing): run \`npm run build\` first`;
  const r = spawnSync(process.execPath, [bin, 'ls', '--json', '--root', probeRoot], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) return `\`vfioctl ls --json --root DIR\` does not work yet (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`;
  try {
    const j = JSON.parse(r.stdout) as { functions?: unknown[] };
    if (!Array.isArray(j.functions)) return '`vfioctl ls --json` printed no "functions" array';
  } catch {
    return '`vfioctl ls --json` did not print JSON';
  }
  return null;
}

function staleBuildWarning(): string | null {
  const main = path.join(repo, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(main)) return null;
  const built = fs.statSync(main).mtimeMs;
  const newer: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > built) newer.push(path.relative(repo, p));
    }
  };
  walk(path.join(repo, 'src'));
  return newer.length ? `note: ${newer.length} source file(s) are newer than dist/ (e.g. ${newer[0]}); \`npm run build\` to time the current code` : null;
}

interface Row {
  functions: number;
  vfioctl: Series | null;
  lspci: Series;
}

interface CommandRow {
  functions: number;
  command: string;
  base: Series | null;
  vfioctl: Series;
}

/** plan exits 3 when blocked, doctor 3 when the host is not ready: both are normal answers. */
const OK = [0, 3];

function binOf(dir: string): string {
  if (!fs.existsSync(path.join(dir, 'dist', 'cli', 'main.js'))) throw new Error(`${dir} is not built: run \`npm run build\` there`);
  return path.join(dir, 'bin', 'vfioctl.js');
}

/** A GPU (class 03xx) of the tree, to plan; its functions are read from the `ls --json` output. */
function gpuOf(outFile: string): string {
  const j = JSON.parse(fs.readFileSync(outFile, 'utf8')) as { functions: { address: string; class: string }[] };
  return (j.functions.find((f) => f.class.startsWith('03')) ?? j.functions[0]!).address;
}

function main(): number {
  if (!sizes.length) {
    log('bench: BENCH_SIZES has no positive integers');
    return 2;
  }
  if (!lspciAvailable()) {
    log('bench: lspci is not installed (apt-get install pciutils pci.ids); it is the reference this benchmark compares with');
    return 1;
  }
  fs.mkdirSync(work, { recursive: true });
  const hash = builderHash();
  const trees = sizes.map((n) => [n, treeFor(n, hash)] as const);
  const problem = vfioctlProblem(trees[0]?.[1] as string);
  if (problem) log(`bench: vfioctl is not measured: ${problem}\n       (lspci is timed alone below; rerun once \`vfioctl ls --json --root DIR\` works)`);
  const stale = staleBuildWarning();
  if (stale) log(stale);

  const bin = path.join(repo, 'bin', 'vfioctl.js');
  const baseBin = base ? binOf(base) : null;
  const outV = path.join(work, 'out-vfioctl.json');
  const outB = path.join(work, 'out-base.json');
  const outL = path.join(work, 'out-lspci.txt');
  const rows: Row[] = [];
  const cmdRows: CommandRow[] = [];
  for (const [n, dir] of trees) {
    const vArgs = [bin, 'ls', '--json', '--root', dir];
    const lArgs = ['-nnk', '-A', 'linux-sysfs', '-O', `sysfs.path=${dir}/sys/bus/pci`];
    // warm-up (untimed) and output checks
    timeRun('lspci', lArgs, outL);
    const listed = fs.readFileSync(outL, 'utf8').split('\n').filter((l) => /^[0-9a-f]/.test(l)).length;
    if (listed !== n) throw new Error(`lspci listed ${listed} functions in the ${n}-function tree`);
    if (!problem) {
      timeRun(process.execPath, vArgs, outV);
      const j = JSON.parse(fs.readFileSync(outV, 'utf8')) as { functions: unknown[] };
      if (j.functions.length !== n) throw new Error(`vfioctl reported ${j.functions.length} functions in the ${n}-function tree`);
    }
    const gpu = problem ? null : gpuOf(outV);
    // ls --json: vfioctl (and the base build) against lspci, in alternating order
    const vt: Timed[] = [];
    const lt: Timed[] = [];
    const bt: Timed[] = [];
    const who = ['v', 'l', ...(baseBin ? ['b'] : [])];
    if (baseBin) timeRun(process.execPath, [baseBin, ...vArgs.slice(1)], outB);
    for (let i = 0; i < runs; i++) {
      // rotate which tool goes first so none always runs on the others' leftovers
      const order = who.map((_, k) => who[(k + i) % who.length]!);
      for (const which of order) {
        if (which === 'l') lt.push(timeRun('lspci', lArgs, outL));
        else if (which === 'b' && baseBin) bt.push(timeRun(process.execPath, [baseBin, ...vArgs.slice(1)], outB));
        else if (which === 'v' && !problem) vt.push(timeRun(process.execPath, vArgs, outV));
      }
    }
    rows.push({ functions: n, vfioctl: problem ? null : series(vt), lspci: series(lt) });
    if (baseBin && !problem) cmdRows.push({ functions: n, command: 'ls --json', base: series(bt), vfioctl: series(vt) });
    else if (!problem) cmdRows.push({ functions: n, command: 'ls --json', base: null, vfioctl: series(vt) });
    // the other commands (only on the sizes BENCH_COMMAND_SIZES names, default 4000 or the first size)
    if (!problem && gpu && commandSizes(sizes).includes(n)) {
      for (const c of commands) {
        const args = [...c.split(' ').map((w) => (w === 'GPU' ? gpu : w)), '--json', '--root', dir];
        const tt: Timed[] = [];
        const bb: Timed[] = [];
        timeRun(process.execPath, [bin, ...args], outV, OK);
        if (baseBin) timeRun(process.execPath, [baseBin, ...args], outB, OK);
        for (let i = 0; i < runs; i++) {
          const order = baseBin ? (i % 2 === 0 ? ['v', 'b'] : ['b', 'v']) : ['v'];
          for (const which of order) {
            if (which === 'v') tt.push(timeRun(process.execPath, [bin, ...args], outV, OK));
            else bb.push(timeRun(process.execPath, [baseBin!, ...args], outB, OK));
          }
        }
        cmdRows.push({ functions: n, command: `${c.replace('GPU', gpu)} --json`, base: baseBin ? series(bb) : null, vfioctl: series(tt) });
      }
    }
    log(`  ${n} functions: measured`);
  }

  const f0 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(0));
  const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a == null || b == null || b === 0 ? 'n/a' : (a / b).toFixed(2));
  const per = (ms: number | null | undefined, n: number): number | null => (ms == null ? null : (ms * 1000) / n);
  const first = rows[0];
  const header = [
    'functions', 'vfioctl wall ms', 'lspci wall ms', 'wall ratio', 'vfioctl cpu ms', 'lspci cpu ms', 'cpu ratio',
    'vfioctl cpu µs/fn', 'lspci cpu µs/fn', 'vfioctl growth', 'lspci growth', 'vfioctl marginal µs/fn', 'lspci marginal µs/fn',
  ];
  const cpuOrWall = (sr: Series | null | undefined): number | null => (sr ? (sr.cpuMs ?? sr.wallMs) : null);
  const marginal = (i: number, pick: (r: Row) => Series | null): string => {
    const prev = rows[i - 1];
    const cur = rows[i];
    if (!prev || !cur) return '-';
    const a = cpuOrWall(pick(prev));
    const b = cpuOrWall(pick(cur));
    return a === null || b === null ? 'n/a' : (((b - a) * 1000) / (cur.functions - prev.functions)).toFixed(0);
  };
  const table = rows.map((r, i) => {
    const vPer = per(cpuOrWall(r.vfioctl), r.functions);
    const lPer = per(cpuOrWall(r.lspci), r.functions);
    const vFirst = first ? per(cpuOrWall(first.vfioctl), first.functions) : null;
    const lFirst = first ? per(cpuOrWall(first.lspci), first.functions) : null;
    return [
      String(r.functions), f0(r.vfioctl?.wallMs ?? null), f0(r.lspci.wallMs), ratio(r.vfioctl?.wallMs, r.lspci.wallMs),
      f0(r.vfioctl?.cpuMs ?? null), f0(r.lspci.cpuMs), ratio(r.vfioctl?.cpuMs, r.lspci.cpuMs),
      vPer === null ? 'n/a' : vPer.toFixed(0), lPer === null ? 'n/a' : lPer.toFixed(0), ratio(vPer, vFirst), ratio(lPer, lFirst),
      marginal(i, (x) => x.vfioctl), marginal(i, (x) => x.lspci),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ') + ' |';
  log('');
  log(`median of ${runs} runs each; node ${process.version}; ${os.availableParallelism()} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  log('wall = whole process start to exit; cpu = user + system time (GNU time); growth = cpu µs/function relative to the first size; marginal = extra cpu µs per extra function from the previous size (constant = linear)');
  log(line(header));
  log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of table) log(line(r));
  if (cmdRows.length) {
    const lsOf = (n: number): CommandRow | undefined => cmdRows.find((r) => r.functions === n && r.command === 'ls --json');
    log('');
    log(base ? `commands, this build against the base (${base}), paired alternating runs; "× ls" = this build's command over its own ls --json` : 'commands; "× ls" = the command over ls --json');
    const h2 = base ? '| functions | command | base wall ms | this wall ms | wall ratio | base cpu ms | this cpu ms | cpu ratio | this wall × ls | this cpu × ls |' : '| functions | command | wall ms | cpu ms | wall × ls | cpu × ls |';
    log(h2);
    log(h2.replace(/[^|]/g, '-'));
    for (const r of cmdRows) {
      const ls = lsOf(r.functions)?.vfioctl;
      const rel = `${ratio(r.vfioctl.wallMs, ls?.wallMs)} | ${ratio(r.vfioctl.cpuMs, ls?.cpuMs)}`;
      if (base && r.base) log(`| ${r.functions} | ${r.command} | ${f0(r.base.wallMs)} | ${f0(r.vfioctl.wallMs)} | ${ratio(r.vfioctl.wallMs, r.base.wallMs)} | ${f0(r.base.cpuMs)} | ${f0(r.vfioctl.cpuMs)} | ${ratio(r.vfioctl.cpuMs, r.base.cpuMs)} | ${rel} |`);
      else log(`| ${r.functions} | ${r.command} | ${f0(r.vfioctl.wallMs)} | ${f0(r.vfioctl.cpuMs)} | ${rel} |`);
    }
  }
  if (asJson) process.stdout.write(JSON.stringify({ runs, node: process.version, cpus: os.availableParallelism(), loadavg: os.loadavg(), rows, commands: cmdRows }, null, 2) + '\n');
  return problem ? 1 : 0;
}

/** The sizes the other commands run on: BENCH_COMMAND_SIZES, else 4000 when measured, else the first size. */
function commandSizes(all: number[]): number[] {
  const env = process.env.BENCH_COMMAND_SIZES;
  if (env !== undefined) return env.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  return all.includes(4000) ? [4000] : all.slice(0, 1);
}

process.exitCode = main();
