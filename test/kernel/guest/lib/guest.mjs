// Helpers for the guest suite (plain JavaScript, run by node inside the QEMU guest).
// These read the kernel's sysfs directly: they are the independent oracle the tool's output is compared
// with, so they share no code with src/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export const PROJECT = '/project';
export const RESULTS = '/results';
export const PCI = '/sys/bus/pci/devices';
export const GROUPS = '/sys/kernel/iommu_groups';
/** vfioctl's state directory on the (guest's) running host. */
export const STATE = '/var/lib/vfioctl';
/** The QEMU the nested-guest tests start (the host's, from the shared /usr). */
export const QEMU = '/usr/bin/qemu-system-x86_64';

let runCache;
/** The host's run.json: topology, features, harness devices, data. */
export function runInfo() {
  runCache ??= JSON.parse(readFileSync(process.env.VFIOCTL_GUEST_RUN ?? join(RESULTS, 'run.json'), 'utf8'));
  return runCache;
}

export function readText(p) {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

export function pciAddresses() {
  return readdirSync(PCI).sort();
}

export function attr(addr, name) {
  return readText(join(PCI, addr, name));
}

/** Hex without 0x, lowercase: '0x8086' -> '8086'. */
export function hexAttr(addr, name) {
  const v = attr(addr, name);
  return v === null ? null : v.replace(/^0x/, '').toLowerCase();
}

export function driverOf(addr) {
  try {
    return basename(readlinkSync(join(PCI, addr, 'driver')));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

export function groupOf(addr) {
  try {
    return Number(basename(readlinkSync(join(PCI, addr, 'iommu_group'))));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

/** The kernel's groups: Map<number, string[] (sorted addresses)>. */
export function kernelGroups() {
  const m = new Map();
  if (!existsSync(GROUPS)) return m;
  for (const g of readdirSync(GROUPS)) {
    m.set(Number(g), readdirSync(join(GROUPS, g, 'devices')).sort());
  }
  return m;
}

export function classOf(addr) {
  return hexAttr(addr, 'class').padStart(6, '0');
}

/** PCI-to-PCI bridges and ports (class 06 04 xx, 06 09 xx). */
export function isBridgeClass(cls) {
  return cls.startsWith('0604') || cls.startsWith('0609');
}

/** The parent PCI function of a function (its upstream bridge), or null on a root bus. */
export function parentOf(addr) {
  const real = readlinkSync(join(PCI, addr));
  const parts = real.split('/');
  const parent = parts[parts.length - 2];
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(parent) ? parent : null;
}

// ------------------------------------------------------------------ config space

export function config(addr) {
  return readFileSync(join(PCI, addr, 'config'));
}

/** Standard capabilities: [{ id, offset }]. */
export function capabilities(cfg) {
  const out = [];
  if (cfg.length < 64 || !(cfg.readUInt16LE(6) & 0x10)) return out;
  let ptr = cfg[0x34] & 0xfc;
  const seen = new Set();
  while (ptr >= 0x40 && ptr + 2 <= cfg.length && !seen.has(ptr)) {
    seen.add(ptr);
    out.push({ id: cfg[ptr], offset: ptr });
    ptr = cfg[ptr + 1] & 0xfc;
  }
  return out;
}

/** Extended capabilities (config space >= 0x100): [{ id, offset }]. */
export function extCapabilities(cfg) {
  const out = [];
  if (cfg.length < 0x104) return out;
  let ptr = 0x100;
  const seen = new Set();
  while (ptr >= 0x100 && ptr + 4 <= cfg.length && !seen.has(ptr)) {
    seen.add(ptr);
    const h = cfg.readUInt32LE(ptr);
    if (h === 0 || h === 0xffffffff) break;
    out.push({ id: h & 0xffff, offset: ptr });
    ptr = (h >>> 20) & 0xffc;
  }
  return out;
}

/** Facts read from config space: PCIe port type, FLR (PCIe or AF), ACS presence, SR-IOV presence. */
export function configFacts(addr) {
  const cfg = config(addr);
  const caps = capabilities(cfg);
  const pcie = caps.find((c) => c.id === 0x10);
  const af = caps.find((c) => c.id === 0x13);
  const ext = extCapabilities(cfg);
  let portType = null;
  let pcieFlr = false;
  if (pcie) {
    portType = (cfg.readUInt16LE(pcie.offset + 2) >> 4) & 0xf;
    pcieFlr = Boolean(cfg.readUInt32LE(pcie.offset + 4) & (1 << 28));
  }
  const afFlr = af ? Boolean(cfg[af.offset + 3] & 0x02) && Boolean(cfg[af.offset + 3] & 0x01) : false;
  return {
    configSize: cfg.length,
    hasPcie: Boolean(pcie),
    portType,
    pcieFlr,
    hasAf: Boolean(af),
    afFlr,
    flr: pcieFlr || afFlr,
    hasAcs: ext.some((c) => c.id === 0x0d),
    hasSriov: ext.some((c) => c.id === 0x10),
  };
}

export const PORT_TYPES = {
  0: 'endpoint', 1: 'legacy endpoint', 4: 'root port', 5: 'switch upstream port', 6: 'switch downstream port',
  7: 'PCIe-to-PCI bridge', 8: 'PCI-to-PCIe bridge', 9: 'root complex integrated endpoint', 10: 'root complex event collector',
};

// ------------------------------------------------------------------ vfioctl

export const VFIOCTL = join(PROJECT, 'bin', 'vfioctl.js');

export function vfioctlBuilt() {
  return existsSync(join(PROJECT, 'dist', 'cli', 'main.js'));
}

/**
 * Run `node bin/vfioctl.js ARGS` and parse stdout as JSON when asked. Returns { status, stdout, stderr, json }.
 * Throws with the output when the JSON cannot be parsed, so a failing test shows what the CLI printed.
 */
export function vfioctl(args, { json = true, timeoutMs = 120_000 } = {}) {
  if (!vfioctlBuilt()) throw new Error('vfioctl is not built (dist/cli/main.js missing): run npm run build on the host');
  const r = spawnSync(process.execPath, [VFIOCTL, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: withoutRoot({ ...process.env, NO_COLOR: '1' }),
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`vfioctl ${args.join(' ')}: ${r.error.message}`);
  let parsed;
  if (json) {
    try {
      parsed = JSON.parse(r.stdout);
    } catch {
      throw new Error(`vfioctl ${args.join(' ')} (exit ${r.status}) printed no JSON:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`);
    }
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: parsed };
}

/** A vfioctl result that must have exited 0 (else the assertion shows its output); its JSON. */
export function expectOk(r, what) {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout.slice(0, 3000)}\n${r.stderr.slice(0, 3000)}`);
  return r.json;
}

/** The addresses state.json records as bound by vfioctl ([] when it has none or no state file). */
export function stateBound() {
  try {
    return Object.keys(JSON.parse(readFileSync(join(STATE, 'state.json'), 'utf8')).bound);
  } catch {
    return [];
  }
}

const memo = new Map();
/** vfioctl(args) once per process: for read-only commands several tests look at. */
export function vfioctlOnce(args) {
  const key = JSON.stringify(args);
  if (!memo.has(key)) memo.set(key, vfioctl(args));
  return memo.get(key);
}

/** Save a result file for the host to read (and for people to look at after a failure). */
export function saveResult(name, value) {
  writeFileSync(join(RESULTS, name), typeof value === 'string' ? value : JSON.stringify(value, null, 2) + '\n');
}

// ------------------------------------------------------------------ driver binding (kernel primitives)

function write(p, v) {
  writeFileSync(p, v);
}

export function modprobe(name) {
  const r = spawnSync('modprobe', [name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`modprobe ${name}: ${r.stderr}`);
}

/**
 * Move a function to `driver` the way driverctl does: driver_override, unbind from the current driver,
 * drivers_probe. Returns what it found before (for restore).
 */
export function overrideDriver(addr, driver) {
  const before = { addr, driver: driverOf(addr), override: attr(addr, 'driver_override') };
  write(join(PCI, addr, 'driver_override'), driver);
  if (before.driver) write(join(PCI, addr, 'driver', 'unbind'), addr);
  write('/sys/bus/pci/drivers_probe', addr);
  return before;
}

/** Undo overrideDriver: clear driver_override, unbind, re-probe (the original driver takes it back). */
export function restoreDriver(before) {
  const { addr } = before;
  write(join(PCI, addr, 'driver_override'), before.override && before.override !== '(null)' ? before.override : '\n');
  if (driverOf(addr)) write(join(PCI, addr, 'driver', 'unbind'), addr);
  write('/sys/bus/pci/drivers_probe', addr);
}

// ------------------------------------------------------------------ picking devices generically

/** Endpoints the tests may move between drivers: not bridges, not the harness's own 9p devices. */
export function movableEndpoints() {
  const harness = new Set(runInfo().harnessDevices ?? []);
  return pciAddresses().filter((a) => !harness.has(a) && !isBridgeClass(classOf(a)) && !classOf(a).startsWith('0600'));
}

/** An endpoint with a driver that is alone in its IOMMU group. */
export function singletonBoundEndpoint() {
  const groups = kernelGroups();
  return movableEndpoints().find((a) => driverOf(a) && groups.get(groupOf(a))?.length === 1) ?? null;
}

/** A group holding two or more functions of one slot, all endpoints with a driver: [addr...] or null. */
export function multifunctionBoundGroup() {
  const movable = new Set(movableEndpoints());
  for (const members of kernelGroups().values()) {
    if (members.length < 2 || !members.every((m) => movable.has(m) && driverOf(m))) continue;
    const slots = new Set(members.map((m) => m.slice(0, -2)));
    if (slots.size === 1) return members;
  }
  return null;
}

/** Wait (polling) until fn() is truthy or the time is up; returns the last value. */
export async function waitFor(fn, ms = 10_000, step = 100) {
  const end = Date.now() + ms;
  let v = fn();
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, step));
    v = fn();
  }
  return v;
}

function withoutRoot(env) {
  delete env.VFIOCTL_ROOT;
  return env;
}
