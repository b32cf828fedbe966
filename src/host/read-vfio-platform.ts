/**
 * Read the VFIO platform facts (src/model/vfio-platform.ts) of a host root: iommufd and the VFIO device
 * file (dev/iommu, dev/vfio/devices, sys/class/vfio-dev, the kernel config, the iommufd module), the
 * vfio_pci aliases of lib/modules/RELEASE/modules.alias and the best VFIO driver per function, the
 * kernel's vfio debugfs migration files, BAR sizes (the sysfs `resource` file) and resizable BAR files,
 * the CPU's physical address bits and the IOMMU address width. Every read is bounded by HostRoot's caps
 * and resolved inside the root; nothing here judges.
 */
import { gunzipSync } from './lazy-builtins.js';
import type { HostRoot, ReadResult } from './host-root.js';
import type { PciFunction } from '../model/pci-function.js';
import { pciAddressOf } from '../model/pci-address.js';
import {
  type FunctionVfioFacts, type IommufdFacts, type Tri, type VfioAlias, type VfioPlatformFacts,
  bestVfioDriver, intelIommuAddressBits, parseResourceFile, parseVfioAliases, vfioModalias,
} from '../model/vfio-platform.js';

const shown = (rel: string): string => `/${rel}`;

function tri<T, R>(rel: string, r: ReadResult<R>, value: (v: R) => T): Tri<T> {
  if (r.state === 'ok') return { state: 'ok', source: shown(rel), value: value(r.value) };
  if (r.state === 'absent') return { state: 'absent', source: shown(rel) };
  return { state: 'unreadable', source: shown(rel), reason: `${r.code}: ${r.message}` };
}

function releaseOf(host: HostRoot): string | null {
  const r = host.readText('proc/sys/kernel/osrelease', { maxBytes: 256 });
  const v = r.state === 'ok' ? r.value.trim() : '';
  return /^[A-Za-z0-9_.+~-]{1,100}$/.test(v) ? v : null;
}

const CONFIG_WANTED = /^(CONFIG_IOMMUFD|CONFIG_VFIO_DEVICE_CDEV|CONFIG_VFIO_CONTAINER)$/;

function configKeys(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    let m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m && CONFIG_WANTED.test(m[1]!)) out[m[1]!] = m[2]!;
    m = /^# (CONFIG_\w+) is not set/.exec(line);
    if (m && CONFIG_WANTED.test(m[1]!)) out[m[1]!] = 'n';
  }
  return out;
}

/** The kernel config options iommufd depends on, from boot/config-RELEASE, lib/modules/RELEASE/config or proc/config.gz. */
function readConfig(host: HostRoot, release: string | null): Tri<Record<string, string>> {
  if (release) {
    for (const rel of [`boot/config-${release}`, `lib/modules/${release}/config`]) {
      const r = host.readText(rel);
      if (r.state === 'absent') continue;
      return tri(rel, r, configKeys);
    }
  }
  const gz = host.readBytes('proc/config.gz', { maxBytes: 4 * 1024 * 1024 });
  if (gz.state === 'ok') {
    try {
      return { state: 'ok', source: shown('proc/config.gz'), value: configKeys(gunzipSync(gz.value, { maxOutputLength: 16 * 1024 * 1024 }).toString('utf8')) };
    } catch (e) {
      return { state: 'unreadable', source: shown('proc/config.gz'), reason: (e as Error).message };
    }
  }
  return { state: 'absent', source: shown(release ? `boot/config-${release}` : 'boot/config-RELEASE') };
}

function option(cfg: Tri<Record<string, string>>, key: string): Tri<string> {
  if (cfg.state === 'ok') {
    const v = cfg.value[key];
    // an option the config does not mention was not offered for this kernel: not set
    return { state: 'ok', source: cfg.source, value: v ?? 'n' };
  }
  return { state: 'unknown', source: cfg.source, reason: cfg.state === 'absent' ? 'the kernel config is not on this host' : `the kernel config is not readable (${cfg.reason})` };
}

function moduleState(host: HostRoot, release: string | null, name: string): IommufdFacts['module'] {
  const loaded = host.readText('proc/modules');
  if (loaded.state === 'ok' && loaded.value.split('\n').some((l) => l.split(/\s+/)[0] === name)) return 'loaded';
  if (!release) return loaded.state === 'ok' && host.exists(`sys/module/${name}`) ? 'builtin' : 'unknown';
  const base = `lib/modules/${release}`;
  const builtin = host.readText(`${base}/modules.builtin`);
  const re = new RegExp(`(^|/)${name.replace(/_/g, '[-_]')}\\.ko\\b`, 'm');
  if (builtin.state === 'ok' && re.test(builtin.value)) return 'builtin';
  const dep = host.readText(`${base}/modules.dep`);
  if (dep.state === 'ok') return re.test(dep.value) ? 'available' : 'missing';
  return 'unknown';
}

export function readIommufdFacts(host: HostRoot): IommufdFacts {
  const release = releaseOf(host);
  const cfg = readConfig(host, release);
  const list = (rel: string): Tri<string[]> => tri(rel, host.listDir(rel), (v: string[]) => v.filter((n) => /^vfio\d{1,6}$/.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))));
  return {
    devIommu: { state: 'ok', source: shown('dev/iommu'), value: host.exists('dev/iommu') },
    deviceFiles: list('dev/vfio/devices'),
    vfioDevClass: list('sys/class/vfio-dev'),
    configIommufd: option(cfg, 'CONFIG_IOMMUFD'),
    configDeviceCdev: option(cfg, 'CONFIG_VFIO_DEVICE_CDEV'),
    configContainer: option(cfg, 'CONFIG_VFIO_CONTAINER'),
    module: moduleState(host, release, 'iommufd'),
    devVfioContainer: { state: 'ok', source: shown('dev/vfio/vfio'), value: host.exists('dev/vfio/vfio') },
    kernelRelease: release,
  };
}

/** The vfio_pci aliases of the running kernel's modules.alias (lib/modules/RELEASE, or usr/lib/modules/RELEASE). */
export function readVfioAliases(host: HostRoot): Tri<VfioAlias[]> {
  const release = releaseOf(host);
  if (!release) return { state: 'unknown', source: shown('lib/modules/RELEASE/modules.alias'), reason: 'the kernel release (proc/sys/kernel/osrelease) is not known' };
  let last: Tri<VfioAlias[]> | null = null;
  for (const rel of [`lib/modules/${release}/modules.alias`, `usr/lib/modules/${release}/modules.alias`]) {
    const r = host.readText(rel);
    const t = tri(rel, r, parseVfioAliases);
    if (t.state !== 'absent') return t;
    last ??= t;
  }
  return last!;
}

function cpuPhysBits(host: HostRoot): number | null {
  const r = host.readText('proc/cpuinfo');
  if (r.state !== 'ok') return null;
  const m = /^address sizes\s*:\s*(\d+) bits physical/m.exec(r.value);
  return m ? Number(m[1]) : null;
}

function iommuAddressBits(host: HostRoot): number | null {
  const l = host.listDir('sys/class/iommu');
  if (l.state !== 'ok') return null;
  let min: number | null = null;
  for (const name of l.value) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) continue;
    const cap = host.readText(`sys/class/iommu/${name}/intel-iommu/cap`, { maxBytes: 4096 });
    if (cap.state !== 'ok') continue;
    const bits = intelIommuAddressBits(cap.value);
    if (bits !== null && (min === null || bits < min)) min = bits;
  }
  return min;
}

function readFunction(host: HostRoot, fn: PciFunction, aliases: Tri<VfioAlias[]>, debugfs: boolean): FunctionVfioFacts {
  const rel = host.pciDeviceRel(pciAddressOf(fn.address));
  const modalias = vfioModalias(fn);
  const match = aliases.state === 'ok' && modalias ? bestVfioDriver(aliases.value, modalias) : null;
  const attrs = host.listDir(rel);
  const names = attrs.state === 'ok' ? attrs.value : [];
  const vfioDevs = names.includes('vfio-dev') ? host.listDir(`${rel}/vfio-dev`) : null;
  const vfioDev = vfioDevs?.state === 'ok' ? (vfioDevs.value.filter((n) => /^vfio\d{1,6}$/.test(n)).sort()[0] ?? null) : null;
  let dbg: FunctionVfioFacts['debugfs'] = null;
  if (debugfs && vfioDev) {
    const base = `sys/kernel/debug/vfio/${vfioDev}/migration`;
    const text = (name: string): Tri<string> => tri(`${base}/${name}`, host.readText(`${base}/${name}`, { maxBytes: 4096 }), (v: string) => v.trim());
    dbg = { state: text('state'), features: text('features') };
  }
  const resize = names
    .map((n) => /^resource([0-5])_resize$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => {
      const r = host.readText(`${rel}/${m[0]}`, { maxBytes: 4096 });
      return { index: Number(m[1]), value: r.state === 'ok' ? r.value.trim() : null };
    })
    .sort((a, b) => a.index - b.index);
  return {
    address: fn.address,
    modalias,
    match,
    matchState: aliases.state !== 'ok' || !modalias ? 'unknown' : match ? 'matched' : 'no-match',
    vfioDev,
    debugfs: dbg,
    bars: tri(`${rel}/resource`, host.readText(`${rel}/resource`, { maxBytes: 4096 }), parseResourceFile),
    resize,
  };
}

/** The VFIO platform facts for these functions (the ones a command names, or all of them). */
export function readVfioPlatform(host: HostRoot, functions: readonly PciFunction[]): VfioPlatformFacts {
  const aliases = readVfioAliases(host);
  const debugfsVfio = tri('sys/kernel/debug/vfio', host.listDir('sys/kernel/debug/vfio'), (v: string[]) => [...v].sort());
  return {
    iommufd: readIommufdFacts(host),
    aliases: aliases.state === 'ok' ? { ...aliases, value: aliases.value.length } : aliases,
    debugfsVfio,
    cpuPhysBits: cpuPhysBits(host),
    iommuAddressBits: iommuAddressBits(host),
    functions: functions.filter((f) => !f.isBridge).map((f) => readFunction(host, f, aliases, debugfsVfio.state === 'ok')),
  };
}
