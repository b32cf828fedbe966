/**
 * I/O strategies for reading the per-function files of a tree, measured apart from vfioctl's reader:
 * the same files a full inventory reads (the device link, the directory listing, config and seven
 * attributes, the driver and iommu_group links) read synchronously, or through fs.promises / the
 * callback API with bounded concurrency on libuv's thread pool (UV_THREADPOOL_SIZE 4 and 8). Each
 * strategy runs in its own process (the pool size is fixed when first used), in alternating order,
 * BENCH_RUNS times; medians of wall and CPU (process.cpuUsage: all threads).
 *
 *   node --import tsx bench/inventory-io.ts [N]        (default N = 4000; tree from inventory.bench.ts)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './timing.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ATTRS = ['class', 'driver_override', 'numa_node', 'd3cold_allowed', 'power_state', 'reset_method'];
const LINKS = ['driver', 'iommu_group'];

async function child(root: string, strategy: string, limit: number): Promise<void> {
  const devs = path.join(root, 'sys/bus/pci/devices');
  const names = fs.readdirSync(devs);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sink = 0;
  if (strategy === 'sync') {
    const buf = Buffer.allocUnsafe(65536);
    const small = (p: string): number => {
      let fd: number;
      try {
        fd = fs.openSync(p, 'r');
      } catch {
        return 0;
      }
      try {
        return fs.readSync(fd, buf, 0, buf.length, null);
      } finally {
        fs.closeSync(fd);
      }
    };
    for (const n of names) {
      const dir = path.resolve(devs, fs.readlinkSync(path.join(devs, n)));
      sink += fs.readdirSync(dir).length;
      sink += small(`${dir}/config`);
      for (const a of ATTRS) sink += small(`${dir}/${a}`);
      for (const l of LINKS) {
        try {
          sink += fs.readlinkSync(`${dir}/${l}`).length;
        } catch {
          // unbound
        }
      }
    }
  } else {
    const fp = fs.promises;
    const one = async (n: string): Promise<number> => {
      const dir = path.resolve(devs, await fp.readlink(path.join(devs, n)));
      const reads: Promise<number>[] = [fp.readdir(dir).then((x) => x.length)];
      for (const a of ['config', ...ATTRS]) {
        reads.push(
          strategy === 'promises'
            ? fp.readFile(`${dir}/${a}`).then((b) => b.length, () => 0)
            : new Promise<number>((resolve) => {
                fs.open(`${dir}/${a}`, 'r', (e, fd) => {
                  if (e) return resolve(0);
                  const b = Buffer.allocUnsafe(a === 'config' ? 4096 : 256);
                  fs.read(fd, b, 0, b.length, null, (_e, got) => fs.close(fd, () => resolve(got ?? 0)));
                });
              }),
        );
      }
      for (const l of LINKS) reads.push(fp.readlink(`${dir}/${l}`).then((x) => x.length, () => 0));
      return (await Promise.all(reads)).reduce((x, y) => x + y, 0);
    };
    let next = 0;
    const workers = Array.from({ length: limit }, async () => {
      while (next < names.length) sink += await one(names[next++]!);
    });
    await Promise.all(workers);
  }
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ wall: performance.now() - t0, cpu: (c.user + c.system) / 1000, sink }) + '\n');
}

async function main(): Promise<void> {
  const [mode, root, strategy, limit] = process.argv.slice(2);
  if (mode === '--child') return child(root!, strategy!, Number(limit));
  const n = Number(process.argv[2] ?? 4000);
  const tree = path.join(repo, 'bench', 'work', `tree-${n}`);
  if (!fs.existsSync(tree)) throw new Error(`no tree at ${tree}: run \`BENCH_SIZES=${n} npm run bench\` once`);
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 7) || 7);
  const variants = [
    { name: 'sync (one thread)', strategy: 'sync', limit: 1, pool: 4 },
    { name: 'fs.promises readFile, 16 functions at a time, pool 4', strategy: 'promises', limit: 16, pool: 4 },
    { name: 'fs.promises readFile, 16 functions at a time, pool 8', strategy: 'promises', limit: 16, pool: 8 },
    { name: 'callbacks open/read/close, 16 at a time, pool 4', strategy: 'callbacks', limit: 16, pool: 4 },
    { name: 'callbacks open/read/close, 64 at a time, pool 8', strategy: 'callbacks', limit: 64, pool: 8 },
  ];
  const res = variants.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < runs; i++) {
    const order = variants.map((_, k) => (k + i) % variants.length);
    for (const k of order) {
      const v = variants[k]!;
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', tree, v.strategy, String(v.limit)], {
        encoding: 'utf8',
        env: { ...process.env, UV_THREADPOOL_SIZE: String(v.pool) },
      });
      if (r.status !== 0) throw new Error(r.stderr);
      const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { wall: number; cpu: number };
      res[k]!.wall.push(j.wall);
      res[k]!.cpu.push(j.cpu);
    }
  }
  console.log(`per-function files of the ${n}-function tree, median of ${runs} alternating runs; ${os.availableParallelism()} CPUs; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| strategy | wall ms | cpu ms (all threads) |');
  console.log('|---|---:|---:|');
  variants.forEach((v, k) => console.log(`| ${v.name} | ${median(res[k]!.wall).toFixed(0)} | ${median(res[k]!.cpu).toFixed(0)} |`));
}

await main();
