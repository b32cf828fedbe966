/**
 * Where `vfioctl ls --json` spends its CPU time, measured in-process on the built library (dist/) with
 * process.cpuUsage(), so a loaded machine (which inflates wall times and sampling profiles) does not
 * distort the split. Complements inventory.bench.ts.
 *
 *   npm run build && node --import tsx bench/inventory-breakdown.ts [N]     (default N = 4000)
 *
 * Uses the tree inventory.bench.ts builds under bench/work/tree-N (run the bench once first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const n = Number(process.argv[2] ?? 4000);
const root = path.join(repo, 'bench', 'work', `tree-${n}`);
if (!fs.existsSync(root)) {
  console.error(`no tree at ${path.relative(repo, root)}: run \`BENCH_SIZES=${n} npm run bench\` first`);
  process.exit(1);
}
const dist = (p: string): string => path.join(repo, 'dist', p);
if (!fs.existsSync(dist('host/read-inventory.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const rows: [string, number][] = [];
async function step<T>(name: string, f: () => T | Promise<T>): Promise<T> {
  const c0 = cpu();
  const v = await f();
  rows.push([name, cpu() - c0]);
  return v;
}

const startup = cpu();
const hostMod = await step('import host-root + read-inventory + read-pci-ids', async () => ({
  hr: (await import(dist('host/host-root.js'))) as typeof import('../src/host/host-root.js'),
  ri: (await import(dist('host/read-inventory.js'))) as typeof import('../src/host/read-inventory.js'),
  rp: (await import(dist('host/read-pci-ids.js'))) as typeof import('../src/host/read-pci-ids.js'),
}));
await step('import the whole CLI (dist/cli/main.js: every command and its libraries)', async () => import(dist('cli/main.js')));
const host = new hostMod.hr.HostRoot(root);
const ids = await step('readPciIds (load + parse pci.ids)', () => hostMod.rp.readPciIds(host));
await step('list sys/bus/pci/devices', () => host.listPciAddresses());
const inv = await step(`readInventory, ${n} functions (names from the parsed pci.ids)`, () => hostMod.ri.readInventory(host, { ids }));
await step('JSON.stringify of the ls --json document', () => JSON.stringify({ version: 1, source: inv.source, iommu: inv.iommu, functions: inv.functions, problems: inv.problems }, null, 2).length);

// The primitives readInventory is made of, per function, on the same tree.
const devs = path.join(root, 'sys/bus/pci/devices');
const names = fs.readdirSync(devs);
const per = (name: string, f: (d: string) => void): void => {
  const c0 = cpu();
  for (const d of names) f(path.join(devs, d));
  rows.push([`  primitive: ${name} (per function)`, ((cpu() - c0) * 1000) / names.length]);
};
const buf = Buffer.allocUnsafe(4096);
per('readFileSync(vendor, utf8)', (d) => fs.readFileSync(path.join(d, 'vendor'), 'utf8'));
per('openSync+readSync+closeSync(vendor) into a reused buffer', (d) => {
  const fd = fs.openSync(path.join(d, 'vendor'), 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, 0);
  } finally {
    fs.closeSync(fd);
  }
});
per('readFileSync(config)', (d) => fs.readFileSync(path.join(d, 'config')));
per('readdirSync(device dir)', (d) => fs.readdirSync(d));
per('realpathSync (JS)', (d) => fs.realpathSync(d));
per('realpathSync.native', (d) => fs.realpathSync.native(d));
per('readlinkSync(iommu_group)', (d) => fs.readlinkSync(path.join(d, 'iommu_group')));
per('open of an absent attribute (ENOENT)', (d) => {
  try {
    fs.readFileSync(path.join(d, 'boot_vga'));
  } catch {
    // absent on most functions: this is the cost of asking
  }
});

// A prototype of the same per-function reading with the changes docs/performance.md proposes: IDs from
// the config header, a reused buffer instead of readFileSync, realpathSync.native, the directory listing
// kept (it makes absent optional attributes free). Not the product's reader: a floor to aim at.
{
  const small = (p: string): string | null => {
    let fd: number;
    try {
      fd = fs.openSync(p, 'r');
    } catch {
      return null;
    }
    try {
      return buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  };
  const c0 = cpu();
  let sink = 0;
  for (const d of names) {
    const dir = fs.realpathSync.native(path.join(devs, d));
    const present = new Set(fs.readdirSync(dir));
    const config = fs.readFileSync(path.join(dir, 'config'));
    sink += config.readUInt16LE(0);
    for (const a of ['class', 'driver_override', 'numa_node', 'd3cold_allowed', 'power_state', 'reset_method', 'boot_vga', 'sriov_totalvfs', 'sriov_numvfs']) {
      if (present.has(a)) sink += (small(path.join(dir, a)) ?? '').length;
    }
    for (const l of ['driver', 'iommu_group', 'physfn']) if (present.has(l)) sink += fs.readlinkSync(path.join(dir, l)).length;
  }
  rows.push([`  prototype: whole per-function read, proposed changes (sink ${sink > 0 ? 'ok' : '0'})`, ((cpu() - c0) * 1000) / names.length]);
}

console.log(`CPU time by step, ${n}-function tree (${path.relative(repo, root)}); total since start of script ${(cpu() - startup).toFixed(0)} ms`);
for (const [name, ms] of rows) console.log(`${name.startsWith('  ') ? ms.toFixed(1).padStart(9) + ' µs' : ms.toFixed(0).padStart(9) + ' ms'}  ${name.trim()}`);
console.log(`attribute files read per function by readInventory: see src/host/read-inventory.ts; functions read: ${inv.functions.length}`);
