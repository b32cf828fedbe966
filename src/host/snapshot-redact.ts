/**
 * What a snapshot holds, and `vfioctl snapshot OUT --redact` for snapshots meant to be shared.
 *
 * `describeSnapshotContents` groups the captured files into areas (PCI devices, IOMMU groups, kernel and
 * boot configuration, network, memory map, mounts, input devices, ...) and says which of them hold
 * identifying data. docs/snapshot.md lists them.
 *
 * `SnapshotRedactor` rewrites each captured file before it is written, keeping what vfioctl's readers
 * need so that a replay of the redacted snapshot gives the same `ls`/`groups`/`doctor`/`plan` verdicts:
 * - IPv4 and IPv6 addresses (proc/net/*, command lines, mount tables): replaced by a keyed, prefix-
 *   preserving mapping (two addresses share as many leading bits afterwards as before, within one first
 *   octet), so routes still cover the same local addresses; network addresses keep their zero host bits,
 *   0.0.0.0, 255.255.255.255, 127.0.0.0/8, :: and ::1 stay as they are. The key is random per snapshot.
 * - MAC addresses (`xx:xx:xx:xx:xx:xx` anywhere): a keyed, locally administered `02:..` address.
 * - UUIDs (file systems, boot entries): a keyed UUID of the same form (equal stays equal).
 * - the host name (from proc/sys/kernel/hostname and etc/hostname): `redacted-host` everywhere.
 * - user names in `/home/NAME` paths: a keyed `u-xxxxxx`.
 * - serial numbers: `U: Uniq=` of input devices, files named serial/product_serial/..., the PCI Express
 *   Device Serial Number capability in config space (zeroed, the capability kept).
 * - kernel addresses: the ranges of proc/iomem and proc/ioports (zeros of the same width; the nesting that
 *   ties a framebuffer to a PCI BAR is kept), the load addresses in proc/modules.
 * Files are handled as bytes (latin1, one char per byte): everything not matched stays byte for byte.
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { HostRoot } from './host-root.js';

export interface SnapshotArea {
  readonly area: string;
  readonly files: number;
  /** what in it identifies the host or its network, when something does */
  readonly sensitive: string | null;
}

interface AreaRule {
  area: string;
  test: RegExp;
  sensitive: string | null;
}

const AREAS: AreaRule[] = [
  { area: 'network: routes, local and IPv6 addresses (proc/net)', test: /^proc\/net\//, sensitive: 'IP addresses, routes, gateways' },
  { area: 'network interfaces (sys/class/net)', test: /^sys\/(class\/net|devices\/.*\/net)\//, sensitive: 'interface names, MAC addresses when read' },
  { area: 'physical memory map (proc/iomem)', test: /^proc\/(iomem|ioports)$/, sensitive: 'kernel and device memory addresses' },
  { area: 'loaded modules (proc/modules)', test: /^proc\/modules$/, sensitive: 'kernel load addresses' },
  { area: 'mounts and swap (proc/self/mountinfo, proc/mounts, proc/swaps)', test: /^proc\/(self\/mountinfo|mounts|swaps|\d+\/mountinfo)$/, sensitive: 'mount points (may hold user names), NFS servers' },
  { area: 'input devices (proc/bus/input/devices)', test: /^proc\/bus\/input\//, sensitive: 'device serial numbers (Uniq), Bluetooth addresses' },
  { area: 'host name (proc/sys/kernel/hostname, etc/hostname)', test: /^(proc\/sys\/kernel\/hostname|etc\/hostname)$/, sensitive: 'the host name' },
  { area: 'kernel command line (proc/cmdline)', test: /^proc\/cmdline$/, sensitive: 'file system UUIDs, ip= settings' },
  { area: 'boot configuration (grub, kernel cmdline, boot entries)', test: /^(etc\/(default\/grub|sysconfig\/grub|kernel\/|kernelstub\/)|boot\/)/, sensitive: 'file system UUIDs' },
  { area: 'PCI config space (sys/devices/.../config)', test: /^sys\/devices\/.*\/config$/, sensitive: 'device serial numbers (PCIe DSN capability)' },
  { area: 'PCI devices and drivers (sysfs)', test: /^sys\/(devices|bus\/pci)\//, sensitive: null },
  { area: 'IOMMU groups and IOMMU units (sysfs)', test: /^sys\/(kernel\/iommu_groups|class\/iommu)\//, sensitive: null },
  { area: 'block devices (sys/class/block)', test: /^sys\/class\/block\//, sensitive: null },
  { area: 'DMI system identity (sys/class/dmi)', test: /dmi\/id\//, sensitive: 'machine vendor and model' },
  { area: 'CPU (proc/cpuinfo)', test: /^proc\/cpuinfo$/, sensitive: null },
  { area: 'module configuration (modprobe.d, initramfs, libvirt, limits)', test: /^(etc|usr\/lib|lib|run|usr\/local\/lib)\//, sensitive: null },
];

/** The areas a list of captured files (snapshot-relative) belongs to, in a fixed order. */
export function describeSnapshotContents(files: readonly string[]): SnapshotArea[] {
  const counts = new Map<AreaRule, number>();
  let other = 0;
  for (const f of files) {
    const rule = AREAS.find((r) => r.test.test(f));
    if (rule) counts.set(rule, (counts.get(rule) ?? 0) + 1);
    else other++;
  }
  const out: SnapshotArea[] = AREAS.filter((r) => counts.has(r)).map((r) => ({ area: r.area, files: counts.get(r)!, sensitive: r.sensitive }));
  if (other) out.push({ area: 'other', files: other, sensitive: null });
  return out;
}

export type RedactionKind = 'ipv4' | 'ipv6' | 'mac' | 'uuid' | 'hostname' | 'home' | 'serial' | 'kernel-address';

const IPV4 = /(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?(?![\d.])/g;
const MAC = /(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:])/g;
const UUID = /(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])/g;
const HOME = /(\/home\/)([^/\s:\\]+)/g;
const SERIAL_FILES = new Set(['serial', 'product_serial', 'board_serial', 'chassis_serial', 'serial_number', 'product_uuid', 'wwid']);

export class SnapshotRedactor {
  readonly counts: Record<RedactionKind, number> = { ipv4: 0, ipv6: 0, mac: 0, uuid: 0, hostname: 0, home: 0, serial: 0, 'kernel-address': 0 };
  private readonly key: Buffer;
  private readonly hostnames: string[];
  private readonly cache = new Map<string, number>();
  private firstOctet: number[] | null = null;

  constructor(opts: { key?: Buffer; hostnames?: readonly string[] } = {}) {
    this.key = opts.key ?? randomBytes(32);
    // longest first (the FQDN before its short name); names too short or too common to replace safely are left
    this.hostnames = [...new Set((opts.hostnames ?? []).map((h) => h.trim()).filter((h) => h.length >= 3 && !/^(localhost|localhost\.localdomain|\(none\))$/.test(h)))].sort((a, b) => b.length - a.length);
  }

  /** A redactor for a source host: its host names are read from the source. */
  static forHost(host: HostRoot, opts: { key?: Buffer } = {}): SnapshotRedactor {
    const names: string[] = [];
    for (const p of ['proc/sys/kernel/hostname', 'etc/hostname']) {
      const r = host.readText(p);
      if (r.state === 'ok') {
        const n = r.value.trim();
        if (n) names.push(n, n.split('.')[0]!);
      }
    }
    return new SnapshotRedactor({ ...opts, hostnames: names });
  }

  private hmac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest();
  }

  /** The redacted bytes of one captured file (snapshot-relative path). */
  redact(rel: string, data: Buffer): Buffer {
    const base = path.basename(rel);
    if (/^sys\/.*\/config$/.test(rel) && base === 'config') return this.pciConfig(data);
    if (data.includes(0)) return data; // other binary files: nothing textual to find
    let t = data.toString('latin1');
    const before = t;
    if (rel === 'proc/sys/kernel/hostname' || rel === 'etc/hostname') {
      if (t.trim()) {
        t = t.replace(/\S+/, 'redacted-host');
        this.counts.hostname++;
      }
      return Buffer.from(t, 'latin1');
    }
    if (SERIAL_FILES.has(base) && t.trim()) {
      this.counts.serial++;
      return Buffer.from('redacted\n', 'latin1');
    }
    if (rel === 'proc/iomem' || rel === 'proc/ioports') {
      t = t.replace(/^(\s*)([0-9a-fA-F]+)-([0-9a-fA-F]+)(?= : )/gm, (_all, ws: string, a: string, b: string) => {
        this.counts['kernel-address']++;
        return `${ws}${'0'.repeat(a.length)}-${'0'.repeat(b.length)}`;
      });
    }
    if (/^sys\/devices\/.*\/resource$/.test(rel)) {
      // BAR addresses are device memory addresses: keep each size (end - start) and the flags, move the start to 0
      t = t.replace(/^0x([0-9a-fA-F]{16}) 0x([0-9a-fA-F]{16})(?= 0x)/gm, (all, a: string, b: string) => {
        const start = BigInt(`0x${a}`);
        const end = BigInt(`0x${b}`);
        if (start === 0n) return all;
        this.counts['kernel-address']++;
        return `0x${'0'.repeat(16)} 0x${(end - start).toString(16).padStart(16, '0')}`;
      });
    }
    if (rel === 'proc/modules') {
      t = t.replace(/ 0x[0-9a-fA-F]+$/gm, (all) => {
        this.counts['kernel-address']++;
        return ` 0x${'0'.repeat(all.length - 3)}`;
      });
    }
    if (rel === 'proc/net/route') t = this.routeFile(t);
    else if (rel === 'proc/net/ipv6_route') t = this.ipv6RouteFile(t);
    else if (rel === 'proc/net/if_inet6') t = this.ifInet6File(t);
    if (rel.startsWith('proc/bus/input/')) {
      t = t.replace(/^U: Uniq=(\S+)$/gm, () => {
        this.counts.serial++;
        return 'U: Uniq=redacted';
      });
    }
    // dotted IPv4 addresses in text outside sysfs and shipped module data (cmdline, fib_trie, mounts)
    if (!/^(sys|lib|usr)\//.test(rel) && rel !== 'proc/net/route') t = this.dottedIpv4(t);
    t = t.replace(MAC, (m) => {
      this.counts.mac++;
      const h = this.hmac(`mac:${m.toLowerCase()}`);
      return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
    });
    t = t.replace(UUID, (m) => {
      this.counts.uuid++;
      const h = this.hmac(`uuid:${m.toLowerCase()}`).toString('hex');
      const u = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      return m === m.toUpperCase() ? u.toUpperCase() : u;
    });
    t = t.replace(HOME, (_all, p: string, user: string) => {
      this.counts.home++;
      return `${p}u-${this.hmac(`home:${user}`).toString('hex').slice(0, 6)}`;
    });
    for (const h of this.hostnames) {
      const re = new RegExp(`(?<![A-Za-z0-9-])${h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9-])`, 'g');
      t = t.replace(re, () => {
        this.counts.hostname++;
        return 'redacted-host';
      });
    }
    return t === before ? data : Buffer.from(t, 'latin1');
  }

  // ------------------------------------------------------------------ IPv4

  private octetPermutation(): number[] {
    if (this.firstOctet) return this.firstOctet;
    // first octets other than 0, 127 and 255 are shuffled among themselves (keyed); those three stay
    const free = Array.from({ length: 256 }, (_, i) => i).filter((o) => o !== 0 && o !== 127 && o !== 255);
    const shuffled = [...free];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.hmac(`perm:${i}`).readUInt32BE(0) % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const map = Array.from({ length: 256 }, (_, i) => i);
    free.forEach((o, k) => (map[o] = shuffled[k]!));
    this.firstOctet = map;
    return map;
  }

  /** Prefix-preserving keyed mapping of an IPv4 address (as a 32-bit number). */
  ipv4(v: number): number {
    v >>>= 0;
    if (v === 0 || v === 0xffffffff || v >>> 24 === 127) return v;
    const hit = this.cache.get(`4:${v}`);
    if (hit !== undefined) return hit;
    let out = (this.octetPermutation()[v >>> 24]! << 24) >>> 0;
    for (let i = 8; i < 32; i++) {
      const prefix = i === 0 ? 0 : v >>> (32 - i);
      const flip = this.hmac(`4:${i}:${prefix}`)[0]! & 1;
      const bit = ((v >>> (31 - i)) & 1) ^ flip;
      out = (out | (bit << (31 - i))) >>> 0;
    }
    this.cache.set(`4:${v}`, out);
    this.counts.ipv4++;
    return out;
  }

  private dottedIpv4(t: string): string {
    return t.replace(IPV4, (all, a: string, b: string, c: string, d: string, len: string | undefined) => {
      const parts = [a, b, c, d].map(Number);
      if (parts.some((p) => p > 255) || (len !== undefined && Number(len) > 32)) return all;
      const v = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
      let m = this.ipv4(v);
      if (len !== undefined) {
        const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
        // a network address keeps its zero host bits
        if (((v & mask) >>> 0) === v) m = (m & mask) >>> 0;
      }
      const text = [m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff].join('.');
      return len !== undefined ? `${text}/${len}` : text;
    });
  }

  /** proc/net/route: little-endian hex; destinations keep their zero host bits, masks stay. */
  private routeFile(t: string): string {
    const le = (h: string): number => {
      const x = parseInt(h, 16) >>> 0;
      return (((x & 0xff) << 24) | (((x >> 8) & 0xff) << 16) | (((x >> 16) & 0xff) << 8) | ((x >> 24) & 0xff)) >>> 0;
    };
    const toLe = (v: number, like: string): string => {
      const x = (((v & 0xff) << 24) | (((v >> 8) & 0xff) << 16) | (((v >> 16) & 0xff) << 8) | ((v >>> 24) & 0xff)) >>> 0;
      const h = x.toString(16).padStart(8, '0');
      return like === like.toLowerCase() ? h : h.toUpperCase();
    };
    return t.split('\n').map((line, k) => {
      if (k === 0) return line;
      const parts = line.split(/(\s+)/);
      const f = parts.filter((_, i) => i % 2 === 0);
      if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[2]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) return line;
      const mask = le(f[7]!);
      parts[2] = toLe((this.ipv4(le(f[1]!)) & mask) >>> 0, f[1]!);
      parts[4] = toLe(this.ipv4(le(f[2]!)), f[2]!);
      return parts.join('');
    }).join('\n');
  }

  // ------------------------------------------------------------------ IPv6

  /** Prefix-preserving keyed mapping of a 32-hex-digit IPv6 address; `len` zeroes the host bits. */
  ipv6(hex: string, len = 128): string {
    if (/^0{32}$/.test(hex) || /^0{31}1$/.test(hex)) return hex;
    const bits = [...hex].map((c) => parseInt(c, 16).toString(2).padStart(4, '0')).join('');
    let out = '';
    for (let i = 0; i < 128; i++) {
      const flip = this.hmac(`6:${i}:${bits.slice(0, i)}`)[0]! & 1;
      out += i < len ? String(Number(bits[i]) ^ flip) : '0';
    }
    this.counts.ipv6++;
    const h = (out.match(/.{4}/g) ?? []).map((b) => parseInt(b, 2).toString(16)).join('');
    return hex === hex.toUpperCase() && /[A-F]/.test(hex) ? h.toUpperCase() : h;
  }

  private ifInet6File(t: string): string {
    return t.replace(/^([0-9a-fA-F]{32})(?=\s)/gm, (h) => this.ipv6(h));
  }

  /** proc/net/ipv6_route: destination and source (with their prefix lengths), next hop. */
  private ipv6RouteFile(t: string): string {
    return t.split('\n').map((line) => {
      const parts = line.split(/(\s+)/);
      const lead = parts[0] === '' ? 2 : 0;
      const f = (i: number): string | undefined => parts[lead + 2 * i];
      if (!/^[0-9a-fA-F]{32}$/.test(f(0) ?? '') || !/^[0-9a-fA-F]{32}$/.test(f(2) ?? '') || !/^[0-9a-fA-F]{32}$/.test(f(4) ?? '')) return line;
      const dst = this.ipv6(f(0)!, parseInt(f(1)!, 16));
      const src = this.ipv6(f(2)!, parseInt(f(3)!, 16));
      const hop = this.ipv6(f(4)!);
      parts[lead] = dst;
      parts[lead + 4] = src;
      parts[lead + 8] = hop;
      return parts.join('');
    }).join('\n');
  }

  // ------------------------------------------------------------------ PCI config space

  /** Zero the serial of a PCI Express Device Serial Number capability (extended capability 0x0003). */
  private pciConfig(data: Buffer): Buffer {
    if (data.length < 0x104) return data;
    const out = Buffer.from(data);
    let off = 0x100;
    for (let guard = 0; off >= 0x100 && off + 4 <= out.length && guard < 64; guard++) {
      const hdr = out.readUInt32LE(off);
      if (hdr === 0 || hdr === 0xffffffff) break;
      if ((hdr & 0xffff) === 0x0003 && off + 12 <= out.length) {
        if (out.readUInt32LE(off + 4) !== 0 || out.readUInt32LE(off + 8) !== 0) this.counts.serial++;
        out.fill(0, off + 4, off + 12);
      }
      off = (hdr >>> 20) & 0xffc;
    }
    return out;
  }
}
