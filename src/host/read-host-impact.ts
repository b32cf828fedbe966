/**
 * Read what the host uses its PCI functions for (HostImpactFacts), through the host root only:
 *   block devices   sys/class/block/NAME links (the PCI functions on the path), slaves/ of dm and md
 *                   devices, sys/class/block/NAME/dev (major:minor)
 *   mounts          proc/self/mountinfo (major:minor of each mount), else proc/mounts; swap: proc/swaps
 *   network         sys/class/net/IF links, lower_ / upper_ / master entries (bridges, bonds, VLANs),
 *                   proc/net/route and proc/net/ipv6_route (default routes), proc/net/if_inet6 (IPv6),
 *                   proc/net/fib_trie local host entries matched to interfaces by proc/net/route (IPv4:
 *                   procfs has no per-interface IPv4 address file)
 *   framebuffers    proc/fb, sys/class/graphics/fbN links, firmware framebuffer regions (efifb, BOOTFB,
 *                   simplefb, vesafb) nested under a PCI function's BAR in proc/iomem
 *   input devices   proc/bus/input/devices (name, handlers, sysfs path, B: capability bitmaps), else
 *                   sys/class/input links with capabilities/{ev,key,rel,abs} and properties; classified
 *                   from the bitmaps as udev's input_id does (model/host-impact.ts classifyInput), by
 *                   handlers and name only when no bitmap is there; devices/virtual inputs are left out
 *   CPU vendor      proc/cpuinfo vendor_id; kernel: proc/sys/kernel/osrelease, proc/cmdline,
 *                   lib/modules/RELEASE/modules.builtin (vfio-pci built in)
 * A source that is absent is recorded as not checked (`sources`); a file that exists but cannot be read
 * is a problem, never silently empty.
 */
import { HostRoot, isSafeName, type ReadResult } from './host-root.js';
import { type PciAddressString, sysfsPciAddress } from '../model/pci-address.js';
import {
  emptyHostImpactFacts, type BlockDeviceFact, type CpuVendor, type FramebufferFact, type HostImpactFacts,
  type InputCapabilities, type InputDeviceFact, type MountFact, type NetInterfaceFact, classifyInput, inputKindOf, parseInputBitmap,
} from '../model/host-impact.js';
import { parseModulesBuiltin } from '../model/host-facts.js';
import { parseKernelCmdline } from '../model/kernel-cmdline.js';
import { readCpu } from './read-host-facts.js';

type Problems = HostImpactFacts['problems'];

/** PCI functions named in a sysfs path, in order (root first). */
export function pciComponents(linkText: string): PciAddressString[] {
  const out: PciAddressString[] = [];
  for (const part of linkText.split('/')) {
    const a = sysfsPciAddress(part);
    if (a) out.push(a);
  }
  return out;
}

function text(host: HostRoot, rel: string, problems: Problems): string | null {
  const r = host.readText(rel);
  if (r.state === 'ok') return r.value;
  if (r.state === 'unreadable') problems.push({ path: rel, code: r.code, message: r.message });
  return null;
}

function list(host: HostRoot, rel: string, problems: Problems): string[] | null {
  const r = host.listDir(rel);
  if (r.state === 'ok') {
    const bad = r.value.filter((n) => !isSafeName(n));
    for (const n of bad) problems.push({ path: rel, code: 'EBADNAME', message: `ignored entry ${JSON.stringify(n)}` });
    return r.value.filter(isSafeName).sort();
  }
  if (r.state === 'unreadable') problems.push({ path: rel, code: r.code, message: r.message });
  return null;
}

function link(host: HostRoot, rel: string, problems: Problems): string | null {
  const r: ReadResult<string> = host.readLink(rel);
  if (r.state === 'ok') return r.value;
  if (r.state === 'unreadable' && r.code !== 'EINVAL') problems.push({ path: rel, code: r.code, message: r.message });
  return null;
}

/** Decode the octal escapes the kernel uses in mount tables (\040 space, \011 tab, \012, \134). */
export function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readHostImpact(host: HostRoot): HostImpactFacts {
  const facts = emptyHostImpactFacts();
  const problems = facts.problems;
  readBlock(host, facts, problems);
  readNet(host, facts, problems);
  readFramebuffers(host, facts, problems);
  readInputs(host, facts, problems);
  facts.cpuVendor = readCpuVendor(host, problems);
  const kernel = readVfioPciBuiltin(host, problems);
  facts.kernel.release = kernel.release;
  facts.kernel.vfioPciBuiltin = kernel.vfioPciBuiltin;
  const cmdline = text(host, 'proc/cmdline', problems);
  facts.kernel.cmdline = cmdline === null ? null : parseKernelCmdline(cmdline.trim());
  return facts;
}

/**
 * Whether vfio-pci is built into the running kernel (lib/modules/RELEASE/modules.builtin): then
 * modprobe.d options are ignored and IDs go on the kernel command line. null when it cannot be told.
 */
export function readVfioPciBuiltin(host: HostRoot, problems: Problems = []): { release: string | null; vfioPciBuiltin: boolean | null } {
  const release = text(host, 'proc/sys/kernel/osrelease', problems)?.trim() ?? null;
  if (!release || !isSafeName(release)) return { release, vfioPciBuiltin: null };
  const builtin = text(host, `lib/modules/${release}/modules.builtin`, problems);
  return { release, vfioPciBuiltin: builtin === null ? null : parseModulesBuiltin(builtin).includes('vfio_pci') };
}

// ---------------------------------------------------------------- block devices and mounts

interface MountEntry extends MountFact {
  devno: string | null;
}

export function parseMountinfo(t: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of t.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0) continue;
    out.push({ devno: f[2] ?? null, mountPoint: unescapeMount(f[4] ?? ''), fsType: f[sep + 1] ?? '', source: unescapeMount(f[sep + 2] ?? '') });
  }
  return out;
}

export function parseMounts(t: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of t.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    out.push({ devno: null, source: unescapeMount(f[0]!), mountPoint: unescapeMount(f[1]!), fsType: f[2]! });
  }
  return out;
}

function readBlock(host: HostRoot, facts: HostImpactFacts, problems: Problems): void {
  const names = list(host, 'sys/class/block', problems);
  if (names === null) return;
  facts.sources.block = true;
  const own = new Map<string, PciAddressString[]>();
  const slaves = new Map<string, string[]>();
  const byDevno = new Map<string, string>();
  const dmNames = new Map<string, string>();
  for (const n of names) {
    const l = link(host, `sys/class/block/${n}`, problems);
    own.set(n, l ? pciComponents(l) : []);
    const s = host.listDir(`sys/class/block/${n}/slaves`);
    if (s.state === 'ok') slaves.set(n, s.value.filter(isSafeName));
    const dev = host.readText(`sys/class/block/${n}/dev`);
    if (dev.state === 'ok') byDevno.set(dev.value.trim(), n);
    if (n.startsWith('dm-')) {
      const dm = host.readText(`sys/class/block/${n}/dm/name`);
      if (dm.state === 'ok') dmNames.set(dm.value.trim(), n);
    }
  }
  const ancestors = (n: string, seen = new Set<string>()): PciAddressString[] => {
    if (seen.has(n)) return [];
    seen.add(n);
    const set = new Set<PciAddressString>(own.get(n) ?? []);
    for (const s of slaves.get(n) ?? []) for (const a of ancestors(s, seen)) set.add(a);
    return [...set];
  };

  // Mounts.
  let mounts: MountEntry[] | null = null;
  const mi = text(host, 'proc/self/mountinfo', problems);
  if (mi !== null) mounts = parseMountinfo(mi);
  else {
    const m = text(host, 'proc/mounts', problems);
    if (m !== null) mounts = parseMounts(m);
  }
  facts.sources.mounts = mounts !== null;
  const nameOfSource = (source: string): string | null => {
    if (!source.startsWith('/dev/')) return null;
    const rest = source.slice(5);
    if (rest.startsWith('mapper/')) return dmNames.get(rest.slice(7)) ?? null;
    if (own.has(rest)) return rest;
    // /dev/disk/by-*/X or /dev/VG/LV: a link to the kernel name
    const segs = rest.split('/');
    if (segs.every(isSafeName)) {
      const l = host.readLink(`dev/${rest}`);
      if (l.state === 'ok') {
        const base = l.value.split('/').pop() ?? '';
        if (own.has(base)) return base;
      }
    }
    return null;
  };
  const mountsOf = new Map<string, MountFact[]>();
  for (const m of mounts ?? []) {
    const n = (m.devno && byDevno.get(m.devno)) || nameOfSource(m.source);
    if (!n) continue;
    const arr = mountsOf.get(n) ?? [];
    arr.push({ mountPoint: m.mountPoint, fsType: m.fsType, source: m.source });
    mountsOf.set(n, arr);
  }

  // Swap: partitions by name, swap files by the filesystem that holds them.
  const swapOn = new Set<string>();
  const sw = text(host, 'proc/swaps', problems);
  for (const line of (sw ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const file = unescapeMount(f[0]!);
    if (f[1] === 'file') {
      let best: { n: string; len: number } | null = null;
      for (const [n, ms] of mountsOf) {
        for (const m of ms) {
          const mp = m.mountPoint === '/' ? '/' : `${m.mountPoint}/`;
          if (file.startsWith(mp) && (!best || mp.length > best.len)) best = { n, len: mp.length };
        }
      }
      if (best) swapOn.add(best.n);
    } else {
      const n = nameOfSource(file);
      if (n) swapOn.add(n);
    }
  }

  for (const n of names) {
    const anc = ancestors(n);
    if (!anc.length) continue;
    const fact: BlockDeviceFact = { name: n, pciAncestors: anc, mounts: mountsOf.get(n) ?? [], swap: swapOn.has(n) };
    facts.block.push(fact);
  }
}

// ---------------------------------------------------------------- network

/** proc/net/route: little-endian hex IPv4 words. */
function ipv4FromHex(h: string): number {
  const v = parseInt(h, 16) >>> 0;
  return (((v & 0xff) << 24) | (((v >> 8) & 0xff) << 16) | (((v >> 16) & 0xff) << 8) | ((v >> 24) & 0xff)) >>> 0;
}
function ipv4Text(v: number): string {
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}
function ipv4Parse(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return null;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export interface RouteEntry {
  iface: string;
  dest: number;
  mask: number;
}

export function parseRoutes(t: string): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const line of t.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) continue;
    out.push({ iface: f[0]!, dest: ipv4FromHex(f[1]!), mask: ipv4FromHex(f[7]!) });
  }
  return out;
}

/** Local host addresses (/32 host LOCAL) in proc/net/fib_trie. */
export function parseFibTrieLocal(t: string): string[] {
  const out = new Set<string>();
  let last: string | null = null;
  for (const line of t.split('\n')) {
    const leaf = /^[\s|`+-]*-- (\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line);
    if (leaf) {
      last = leaf[1]!;
      continue;
    }
    if (last && /\/32 host LOCAL/.test(line)) out.add(last);
  }
  return [...out];
}

function ipv6Text(hex: string): string {
  const groups = hex.match(/.{4}/g) ?? [];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

function readNet(host: HostRoot, facts: HostImpactFacts, problems: Problems): void {
  const names = list(host, 'sys/class/net', problems);
  if (names === null) return;
  const routeText = text(host, 'proc/net/route', problems);
  const route6Text = text(host, 'proc/net/ipv6_route', problems);
  facts.sources.routes = routeText !== null || route6Text !== null;

  const own = new Map<string, { device: PciAddressString | null; ancestors: PciAddressString[] }>();
  const uppers = new Map<string, Set<string>>();
  const addUpper = (lower: string, upper: string): void => {
    if (!uppers.has(lower)) uppers.set(lower, new Set());
    uppers.get(lower)!.add(upper);
  };
  for (const n of names) {
    const l = link(host, `sys/class/net/${n}`, problems);
    const anc = l ? pciComponents(l) : [];
    own.set(n, { device: anc[anc.length - 1] ?? null, ancestors: anc });
    const entries = host.listDir(`sys/class/net/${n}`);
    if (entries.state === 'ok') {
      for (const e of entries.value) {
        if (e.startsWith('upper_') && isSafeName(e)) addUpper(n, e.slice(6));
        if (e.startsWith('lower_') && isSafeName(e)) addUpper(e.slice(6), n);
      }
    }
    const master = host.readLink(`sys/class/net/${n}/master`);
    if (master.state === 'ok') addUpper(n, master.value.split('/').pop() ?? '');
  }

  const defaults = new Set<string>();
  const routes = routeText ? parseRoutes(routeText) : [];
  for (const r of routes) if (r.dest === 0 && r.mask === 0) defaults.add(r.iface);
  for (const line of (route6Text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (/^0{32}$/.test(f[0]!) && f[1] === '00' && f[9] !== 'lo') {
      const flags = parseInt(f[8]!, 16);
      if (!(flags & 0x0200)) defaults.add(f[9]!); // RTF_REJECT routes are not a way out
    }
  }

  const addrs = new Map<string, string[]>();
  const push = (iface: string, a: string): void => {
    addrs.set(iface, [...(addrs.get(iface) ?? []), a]);
  };
  const inet6 = text(host, 'proc/net/if_inet6', problems);
  for (const line of (inet6 ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    push(f[5]!, `${ipv6Text(f[0]!)}/${parseInt(f[2]!, 16)}`);
  }
  const trie = text(host, 'proc/net/fib_trie', problems);
  if (trie !== null) {
    for (const ip of parseFibTrieLocal(trie)) {
      const v = ipv4Parse(ip);
      if (v === null || ip.startsWith('127.')) continue;
      let best: RouteEntry | null = null;
      for (const r of routes) {
        if (r.mask === 0 || ((v & r.mask) >>> 0) !== r.dest) continue;
        if (!best || r.mask > best.mask) best = r;
      }
      if (best) push(best.iface, ip);
    }
  }

  const above = (n: string, seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const u of uppers.get(n) ?? []) {
      if (seen.has(u)) continue;
      seen.add(u);
      out.push(u, ...above(u, seen));
    }
    return out;
  };
  for (const n of names) {
    const o = own.get(n)!;
    if (!o.ancestors.length) continue; // virtual: counted on the physical devices below it
    const stack = above(n);
    const carriers = [n, ...stack];
    const fact: NetInterfaceFact = {
      name: n,
      device: o.device,
      pciAncestors: o.ancestors,
      defaultRoute: carriers.some((c) => defaults.has(c)),
      addresses: carriers.flatMap((c) => addrs.get(c) ?? []),
      upper: stack.filter((u) => defaults.has(u) || (addrs.get(u) ?? []).length > 0),
    };
    facts.net.push(fact);
  }
  if (trie === null && routeText !== null) {
    problems.push({ path: 'proc/net/fib_trie', code: 'ENOENT', message: 'IPv4 addresses per interface unknown (proc/net/fib_trie absent): only default routes and IPv6 addresses were checked' });
  }
}

// ---------------------------------------------------------------- framebuffers

interface IomemNode {
  depth: number;
  name: string;
  parent: IomemNode | null;
}

const FIRMWARE_FB = /^(efifb|BOOTFB|simplefb|simple-framebuffer|vesafb|vesa framebuffer)/i;

/** Firmware framebuffer regions in proc/iomem and the PCI function whose BAR encloses each. */
export function parseIomemFramebuffers(t: string): { region: string; pci: PciAddressString }[] {
  const out: { region: string; pci: PciAddressString }[] = [];
  const stack: IomemNode[] = [];
  for (const line of t.split('\n')) {
    const m = /^(\s*)[0-9a-fA-F]+-[0-9a-fA-F]+ : (.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length;
    while (stack.length && stack[stack.length - 1]!.depth >= depth) stack.pop();
    const node: IomemNode = { depth, name: m[2]!.trim(), parent: stack[stack.length - 1] ?? null };
    stack.push(node);
    if (!FIRMWARE_FB.test(node.name)) continue;
    for (let p = node.parent; p; p = p.parent) {
      const a = sysfsPciAddress(p.name);
      if (a) {
        out.push({ region: node.name, pci: a });
        break;
      }
    }
  }
  return out;
}

function readFramebuffers(host: HostRoot, facts: HostImpactFacts, problems: Problems): void {
  const fbText = text(host, 'proc/fb', problems);
  const iomem = text(host, 'proc/iomem', problems);
  facts.sources.framebuffers = fbText !== null || iomem !== null;
  const fbs: { name: string; driver: string }[] = [];
  for (const line of (fbText ?? '').split('\n')) {
    const m = /^(\d+)\s+(.+)$/.exec(line.trim());
    if (m) fbs.push({ name: `fb${m[1]}`, driver: m[2]!.trim() });
  }
  const regions = iomem ? parseIomemFramebuffers(iomem) : [];
  const out: FramebufferFact[] = [];
  for (const fb of fbs) {
    const l = link(host, `sys/class/graphics/${fb.name}`, problems);
    const anc = l ? pciComponents(l) : [];
    if (anc.length) {
      out.push({ name: fb.name, driver: fb.driver, pci: anc[anc.length - 1]!, via: 'device-link' });
      continue;
    }
    if (/efi|simple|vesa/i.test(fb.driver) && regions.length) {
      out.push({ name: fb.name, driver: fb.driver, pci: regions[0]!.pci, via: 'iomem' });
      continue;
    }
    out.push({ name: fb.name, driver: fb.driver, pci: null, via: null });
  }
  // A firmware framebuffer region with no fb device (simpledrm, or fbdev off) still holds the BAR.
  for (const r of regions) {
    if (!out.some((f) => f.pci === r.pci)) out.push({ name: r.region, driver: r.region, pci: r.pci, via: 'iomem' });
  }
  facts.framebuffers = out;
}

// ---------------------------------------------------------------- input devices

export interface InputDeviceEntry {
  name: string;
  handlers: string[];
  sysfs: string;
  ev: number | null;
  /** The B: bitmaps as printed (EV, KEY, REL, ABS, PROP ...), by name. */
  bitmaps: Record<string, string>;
}

export function parseInputDevices(t: string): InputDeviceEntry[] {
  const out: InputDeviceEntry[] = [];
  for (const block of t.split(/\n\s*\n/)) {
    let name = '';
    let handlers: string[] = [];
    let sysfs = '';
    let ev: number | null = null;
    const bitmaps: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([A-Z]): (.*)$/.exec(line.trim());
      if (!m) continue;
      const v = m[2]!;
      if (m[1] === 'N') name = (/^Name="(.*)"$/.exec(v)?.[1] ?? v).trim();
      else if (m[1] === 'S') sysfs = v.replace(/^Sysfs=/, '');
      else if (m[1] === 'H') handlers = v.replace(/^Handlers=/, '').trim().split(/\s+/).filter(Boolean);
      else if (m[1] === 'B') {
        const b = /^([A-Z]+)=(.*)$/.exec(v);
        if (b) bitmaps[b[1]!] = b[2]!.trim();
        if (v.startsWith('EV=')) ev = parseInt(v.slice(3), 16);
      }
    }
    if (sysfs) out.push({ name, handlers, sysfs, ev, bitmaps });
  }
  return out;
}

/** The old rule, for devices without a KEY= bitmap: handlers and name. */
function inputKindByHandlers(name: string, handlers: string[], ev: number | null): InputDeviceFact['kind'] {
  if (handlers.some((h) => /^mouse\d*$/.test(h))) return 'pointer';
  const kbd = handlers.includes('kbd');
  const leds = handlers.includes('leds') || (ev !== null && (ev & (1 << 0x11)) !== 0);
  if (kbd && (leds || /keyboard/i.test(name))) return 'keyboard';
  if (/mouse|touchpad|trackpad|trackball/i.test(name)) return 'pointer';
  return 'other';
}

/** Capabilities from the bitmaps when the key map (or another pointer map) is there; null otherwise. */
function capabilitiesOf(bitmaps: Record<string, string | undefined>): InputCapabilities | null {
  if (bitmaps.KEY === undefined && bitmaps.REL === undefined && bitmaps.ABS === undefined) return null;
  const bits = (t: string | undefined): Set<number> => (t === undefined ? new Set() : parseInputBitmap(t) ?? new Set());
  return { ev: bits(bitmaps.EV), key: bits(bitmaps.KEY), rel: bits(bitmaps.REL), abs: bits(bitmaps.ABS), prop: bits(bitmaps.PROP) };
}

function inputFact(id: string, name: string, path: string, caps: InputCapabilities | null, fallback: () => InputDeviceFact['kind']): InputDeviceFact {
  const anc = pciComponents(path);
  const classes = caps ? classifyInput(caps) : null;
  return {
    id,
    name,
    kind: classes ? inputKindOf(classes) : fallback(),
    pciAncestors: anc,
    ...(classes ? { classes } : {}),
    controller: anc[anc.length - 1] ?? null,
  };
}

/** A device under /devices/virtual (uinput, a software keyboard): no hardware the host could lose. */
function isVirtualInput(path: string): boolean {
  return /(^|\/)devices\/virtual\//.test(path);
}

function readInputs(host: HostRoot, facts: HostImpactFacts, problems: Problems): void {
  const t = text(host, 'proc/bus/input/devices', problems);
  const all: InputDeviceFact[] = [];
  if (t !== null) {
    facts.sources.inputs = true;
    for (const d of parseInputDevices(t)) {
      if (isVirtualInput(d.sysfs)) continue;
      all.push(inputFact(d.sysfs.split('/').pop() ?? '', d.name, d.sysfs, capabilitiesOf(d.bitmaps), () => inputKindByHandlers(d.name, d.handlers, d.ev)));
    }
  } else {
    const names = list(host, 'sys/class/input', problems);
    if (names !== null) {
      facts.sources.inputs = true;
      for (const n of names.filter((x) => /^input\d+$/.test(x))) {
        const l = link(host, `sys/class/input/${n}`, problems);
        if (!l || isVirtualInput(l)) continue;
        const name = host.readText(`sys/class/input/${n}/name`);
        const nm = name.state === 'ok' ? name.value.trim() : n;
        const cap = (f: string): string | undefined => {
          const r = host.readText(`sys/class/input/${n}/capabilities/${f}`);
          if (r.state === 'unreadable') problems.push({ path: `sys/class/input/${n}/capabilities/${f}`, code: r.code, message: r.message });
          return r.state === 'ok' ? r.value.trim() : undefined;
        };
        const prop = host.readText(`sys/class/input/${n}/properties`);
        const bitmaps = { EV: cap('ev'), KEY: cap('key'), REL: cap('rel'), ABS: cap('abs'), PROP: prop.state === 'ok' ? prop.value.trim() : undefined };
        all.push(inputFact(n, nm, l, capabilitiesOf(bitmaps), () => inputKindByHandlers(nm, [], null)));
      }
    }
  }
  facts.inputs = all.filter((i) => i.pciAncestors.length > 0);
  facts.platformInputs = all.filter((i) => i.pciAncestors.length === 0);
}

// ---------------------------------------------------------------- CPU

/** The CPU vendor from proc/cpuinfo, by the one cpuinfo reader (null: unreadable; 'other' when not Intel or AMD). */
export function readCpuVendor(host: HostRoot, problems: Problems = []): CpuVendor | null {
  const cpu = readCpu(host, problems);
  if (cpu.source.state !== 'ok') return null;
  return cpu.vendor ?? 'other';
}

/** For evidence lines: an IPv4 word from proc/net/route as text. */
export const _internal = { ipv4FromHex, ipv4Text };
