/**
 * In-process benchmark of the inventory work, apart from process start-up (node, module loading, the
 * CLI): the session calls behind `ls --json`, `groups --json`, `doctor --json` and `plan ADDR --json`
 * on the synthetic trees under bench/work/ (built by inventory.bench.ts), each run on a fresh session
 * (nothing cached but the parsed pci.ids, which a process parses once: its cost is shown on its own
 * line), the JSON text made as the CLI makes it (JSON.stringify with two-space indent).
 *
 *   npm run build && node --import tsx bench/inventory-inprocess.ts
 *   BENCH_BASE=/path/to/other/checkout BENCH_SIZES=1000,4000,16000 BENCH_RUNS=9 BENCH_COMMANDS=ls,groups ...
 *
 * With BENCH_BASE (another checkout with its own dist/, e.g. `git archive main | tar -x -C /tmp/base`,
 * node_modules linked, `npx tsc -p tsconfig.build.json`) both builds are loaded into this one process and
 * run in paired, alternating order (base first on even runs, this build first on odd ones), so machine
 * load hits both alike. Figures are medians of wall time (performance.now) and CPU time (process.cpuUsage:
 * user + system of the whole process, which includes libuv's and V8's helper threads).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(repo, 'bench', 'work');
const sizes = (process.env.BENCH_SIZES ?? '4000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 7) || 7);
const commands = (process.env.BENCH_COMMANDS ?? 'ls,groups,doctor,plan').split(',').map((s) => s.trim()).filter(Boolean);
const base = process.env.BENCH_BASE ? path.resolve(process.env.BENCH_BASE) : null;

type SessionModule = typeof import('../src/service/session.js');
interface Build {
  name: string;
  session: SessionModule;
}

async function load(dir: string, name: string): Promise<Build> {
  const file = path.join(dir, 'dist', 'service', 'session.js');
  if (!fs.existsSync(file)) throw new Error(`${dir} is not built: run \`npm run build\` there`);
  return { name, session: (await import(pathToFileURL(file).href)) as SessionModule };
}

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One command's work on a fresh session; returns the length of the JSON text (a check and a sink). */
async function runCommand(b: Build, root: string, command: string, planAddr: string): Promise<number> {
  const s = b.session.openSession({ root, live: false });
  const text = (v: unknown): number => JSON.stringify(v, null, 2).length;
  switch (command) {
    case 'ls':
      return text(s.inventoryReport());
    case 'groups':
      return text(s.groupsReport());
    case 'doctor':
      return text(await s.doctor({ libvirt: false }));
    case 'plan':
      return text(s.planReport(await s.plan({ addresses: [planAddr] })));
    default:
      throw new Error(`unknown command ${command} (ls, groups, doctor, plan)`);
  }
}

async function main(): Promise<number> {
  const builds: Build[] = [];
  if (base) builds.push(await load(base, 'base'));
  builds.push(await load(repo, 'this'));
  console.log(`in-process, median of ${runs} paired runs; node ${process.version}; ${os.availableParallelism()} CPUs; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at start`);
  const header = base
    ? '| functions | command | base wall ms | this wall ms | wall ratio | base cpu ms | this cpu ms | cpu ratio |'
    : '| functions | command | wall ms | cpu ms | cpu µs/fn |';
  const lines: string[] = [];
  for (const n of sizes) {
    const root = path.join(work, `tree-${n}`);
    if (!fs.existsSync(root)) throw new Error(`no tree at ${path.relative(repo, root)}: run \`BENCH_SIZES=${n} npm run bench\` once to build it`);
    // first run per build: pci.ids parse, JIT warm-up, page cache; also finds a GPU to plan
    let planAddr = '';
    for (const b of builds) {
      const c0 = cpu();
      const inv = b.session.openSession({ root, live: false }).inventoryReport();
      if (inv.functions.length !== n) throw new Error(`${b.name} read ${inv.functions.length} functions in the ${n}-function tree`);
      planAddr ||= inv.functions.find((f) => f.class.startsWith('0300'))?.address ?? inv.functions[0]!.address;
      console.log(`  ${n}: first ls of ${b.name} (pci.ids parse + warm-up): ${(cpu() - c0).toFixed(0)} ms cpu`);
    }
    for (const command of commands) {
      const wall: number[][] = builds.map(() => []);
      const cp: number[][] = builds.map(() => []);
      const lens = builds.map(() => 0);
      for (let i = 0; i < runs; i++) {
        const order = builds.map((_, k) => k);
        if (i % 2 === 1) order.reverse();
        for (const k of order) {
          const t0 = performance.now();
          const c0 = cpu();
          lens[k] = await runCommand(builds[k]!, root, command, planAddr);
          cp[k]!.push(cpu() - c0);
          wall[k]!.push(performance.now() - t0);
        }
      }
      const f0 = (x: number): string => x.toFixed(0);
      const w = wall.map(median);
      const c = cp.map(median);
      if (base) lines.push(`| ${n} | ${command} | ${f0(w[0]!)} | ${f0(w[1]!)} | ${(w[1]! / w[0]!).toFixed(2)} | ${f0(c[0]!)} | ${f0(c[1]!)} | ${(c[1]! / c[0]!).toFixed(2)} |`);
      else lines.push(`| ${n} | ${command} | ${f0(w[0]!)} | ${f0(c[0]!)} | ${((c[0]! * 1000) / n).toFixed(0)} |`);
      if (base && lens[0] !== lens[1]) lines.push(`|   | (${command}: JSON length differs: base ${lens[0]}, this ${lens[1]}) | | | | | | |`);
    }
  }
  console.log(header);
  console.log(header.replace(/[^|]/g, '-'));
  for (const l of lines) console.log(l);
  return 0;
}

process.exitCode = await main();
