/**
 * Load test of `vfioctl serve` on loopback: GET /api/v1/groups on the q35 sample and on the synthetic
 * 4,096-function tree (test/support/topologies.ts scaledHost, the tree bench/inventory.bench.ts builds
 * under bench/work/), 20 concurrent keep-alive clients, 2,000 requests per round.
 *
 *   npm run build && npm run bench:serve
 *   SERVE_BENCH_ROUNDS=5 npm run bench:serve        rounds per host (default 3), hosts alternating
 *   npm run bench:serve -- --json                   figures as JSON on stdout
 *   npm run bench:serve -- --event-loop-only        only the second part
 *
 * The server is the built CLI (`node bin/vfioctl.js serve --json`) in its own process, so the load
 * generator does not share its event loop. Each round starts a fresh server, times the first request
 * (the document built cold in the read worker), then the load (documents kept for the generation, as a
 * dashboard sees them); the server's CPU time for the round comes from /proc/PID/stat. Rounds alternate
 * between the hosts; the table shows medians over rounds.
 *
 * Second part, in this process: how long the server's event loop is held while a cold 4k groups document
 * is built, with reads in the worker (the default) and on the main thread (readsInWorker: false): the
 * longest event loop delay over the build.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildHostTree } from '../test/support/host-tree.js';
import { scaledHost } from '../test/support/topologies.js';
import { median } from './timing.js';
import { startServer } from '../src/server/server.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(repo, 'bench', 'work');
const rounds = Math.max(1, Number(process.env.SERVE_BENCH_ROUNDS ?? 3) || 3);
const CLIENTS = 20;
const REQUESTS = 2000;
const asJson = process.argv.includes('--json');
const log = (s: string): void => void (asJson ? process.stderr : process.stdout).write(s + '\n');

function tree4k(): string {
  const n = 4000;
  const h = createHash('sha256');
  for (const f of ['test/support/host-tree.ts', 'test/support/topologies.ts']) h.update(fs.readFileSync(path.join(repo, f)));
  const hash = h.digest('hex').slice(0, 16);
  const dir = path.join(work, `tree-${n}`);
  const stamp = path.join(work, `tree-${n}.stamp`);
  if (fs.existsSync(dir) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return dir;
  fs.mkdirSync(work, { recursive: true });
  const tmp = `${dir}.building`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  log(`building a ${n}-function tree in ${path.relative(repo, dir)} ...`);
  buildHostTree(tmp, scaledHost(n));
  fs.renameSync(tmp, dir);
  fs.writeFileSync(stamp, hash);
  return dir;
}

function cpuMsOf(pid: number): number {
  // utime and stime (fields 14 and 15) in clock ticks of 10 ms on Linux; the whole process, all threads
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface Started {
  child: ChildProcess;
  port: number;
  token: string;
}

function startServe(hostArgs: string[]): Promise<Started> {
  const child = spawn(process.execPath, [path.join(repo, 'bin', 'vfioctl.js'), ...hostArgs, 'serve', '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        const j = JSON.parse(line) as { port: number; token: string };
        resolve({ child, port: j.port, token: j.token });
      }
    });
    child.on('exit', (code) => reject(new Error(`vfioctl serve exited ${code}: ${err.slice(0, 500)}`)));
  });
}

function get(agent: http.Agent, port: number, token: string, p: string): Promise<{ ms: number; status: number; bytes: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
  });
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

interface Round {
  coldMs: number;
  p50: number;
  p99: number;
  max: number;
  wallMs: number;
  rps: number;
  serverCpuMs: number;
  bytes: number;
}

async function round(hostArgs: string[]): Promise<Round> {
  const s = await startServe(hostArgs);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    const cold = await get(agent, s.port, s.token, '/api/v1/groups');
    if (cold.status !== 200) throw new Error(`GET /api/v1/groups: ${cold.status}`);
    const cpu0 = cpuMsOf(s.child.pid!);
    const lat: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < REQUESTS) {
          next++;
          const r = await get(agent, s.port, s.token, '/api/v1/groups');
          if (r.status !== 200 || r.bytes !== cold.bytes) throw new Error(`status ${r.status}, ${r.bytes} bytes`);
          lat.push(r.ms);
        }
      }),
    );
    const wallMs = performance.now() - t0;
    const serverCpuMs = cpuMsOf(s.child.pid!) - cpu0;
    return { coldMs: cold.ms, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), wallMs, rps: (lat.length / wallMs) * 1000, serverCpuMs, bytes: cold.bytes };
  } finally {
    agent.destroy();
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
  }
}

/**
 * How long the server's event loop is held while a cold 4k groups document is built: the maximum event
 * loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) of this process, which runs the server,
 * over the build. The load generator is not used here (in the same process it would be held too and
 * could not see it).
 */
async function eventLoopHold(root: string, inWorker: boolean): Promise<{ buildMs: number; maxDelayMs: number; p99DelayMs: number; idleMaxDelayMs: number }> {
  const server = await startServer({ session: { root, env: { PATH: process.env.PATH } }, host: '127.0.0.1', port: 0, readsInWorker: inWorker, scanIntervalMs: 0 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    if (inWorker) await get(agent, server.port, server.token, '/api/v1/explain'); // the worker is up (its start-up is not the build)
    // the same second of an idle server first: what this (shared) machine does to the loop by itself
    const idle = monitorEventLoopDelay({ resolution: 10 });
    idle.enable();
    await new Promise((r) => setTimeout(r, 1000));
    idle.disable();
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    await new Promise((r) => setTimeout(r, 50)); // the histogram's first samples, so a hold that follows is measured
    const b = await get(agent, server.port, server.token, '/api/v1/groups');
    await new Promise((r) => setTimeout(r, 50));
    h.disable();
    return { buildMs: b.ms, maxDelayMs: h.max / 1e6, p99DelayMs: h.percentile(99) / 1e6, idleMaxDelayMs: idle.max / 1e6 };
  } finally {
    agent.destroy();
    await server.close();
  }
}

async function main(): Promise<number> {
  if (!fs.existsSync(path.join(repo, 'dist', 'server', 'server.js'))) {
    log('bench: the server is not built (dist/server/server.js is missing): run `npm run build` first');
    return 1;
  }
  const big = tree4k();
  const loopOnly = process.argv.includes('--event-loop-only');
  const hosts: [string, string[]][] = [['q35 sample', ['--sample']], ['synthetic 4k tree', ['--root', big]]];
  const results = new Map<string, Round[]>(hosts.map(([n]) => [n, []]));
  for (let i = 0; i < (loopOnly ? 0 : rounds); i++) {
    for (const [name, args] of i % 2 === 0 ? hosts : [...hosts].reverse()) {
      const r = await round(args);
      results.get(name)!.push(r);
      log(`  round ${i + 1} ${name}: cold ${r.coldMs.toFixed(0)} ms, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.rps.toFixed(0)} req/s, server CPU ${r.serverCpuMs} ms`);
    }
  }
  const summary = loopOnly ? [] : hosts.map(([name]) => {
    const rs = results.get(name)!;
    const m = (k: keyof Round): number => median(rs.map((r) => r[k]));
    return { host: name, rounds: rs.length, bytes: rs[0]!.bytes, coldMs: m('coldMs'), p50Ms: m('p50'), p99Ms: m('p99'), maxMs: m('max'), wallMs: m('wallMs'), rps: m('rps'), serverCpuMs: m('serverCpuMs') };
  });
  log(`\nGET /api/v1/groups, ${CLIENTS} concurrent clients, ${REQUESTS} requests per round, medians of ${rounds} rounds:`);
  log('host                document   cold (first)   p50       p99       max       req/s    wall      server CPU');
  for (const s of summary) {
    log(`${s.host.padEnd(20)}${`${(s.bytes / 1024).toFixed(0)} KiB`.padEnd(11)}${`${s.coldMs.toFixed(0)} ms`.padEnd(15)}${`${s.p50Ms.toFixed(2)} ms`.padEnd(10)}${`${s.p99Ms.toFixed(2)} ms`.padEnd(10)}${`${s.maxMs.toFixed(1)} ms`.padEnd(10)}${s.rps.toFixed(0).padEnd(9)}${`${s.wallMs.toFixed(0)} ms`.padEnd(10)}${s.serverCpuMs.toFixed(0)} ms`);
  }
  const hold: Record<string, Awaited<ReturnType<typeof eventLoopHold>>[]> = { worker: [], main: [] };
  for (let i = 0; i < rounds; i++) {
    for (const w of i % 2 === 0 ? [true, false] : [false, true]) hold[w ? 'worker' : 'main']!.push(await eventLoopHold(big, w));
  }
  log(`\nthe server's event loop while a cold 4k groups document is built, medians of ${rounds}:`);
  const holdSummary = Object.fromEntries(Object.entries(hold).map(([k, v]) => [k, { buildMs: median(v.map((x) => x.buildMs)), maxDelayMs: median(v.map((x) => x.maxDelayMs)), p99DelayMs: median(v.map((x) => x.p99DelayMs)), idleMaxDelayMs: median(v.map((x) => x.idleMaxDelayMs)) }]));
  for (const [k, v] of Object.entries(holdSummary)) log(`  reads ${k === 'worker' ? 'in the worker ' : 'on main thread'}: build ${v.buildMs.toFixed(0)} ms, longest event loop delay ${v.maxDelayMs.toFixed(0)} ms (p99 ${v.p99DelayMs.toFixed(0)} ms; idle server, same machine: ${v.idleMaxDelayMs.toFixed(0)} ms)`);
  if (asJson) process.stdout.write(`${JSON.stringify({ clients: CLIENTS, requests: REQUESTS, rounds, groups: summary, eventLoop: holdSummary }, null, 2)}\n`);
  return 0;
}

process.exitCode = await main();
