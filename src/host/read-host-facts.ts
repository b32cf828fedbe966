/**
 * Gather the raw facts `vfioctl doctor` judges (src/core/doctor.ts) from a host root: CPU flags, ACPI
 * tables, the running and the configured kernel command lines, the kernel's build options, modules,
 * modprobe.d, /dev/vfio, IOMMU units, the kernel log (when a file copy exists), DMI, /proc/iomem,
 * memlock limits, libvirt's presence and the boot tooling. Nothing here judges; nothing here spawns.
 *
 * Missing and unreadable stay distinct in every Fact. Files that exist but cannot be read are also
 * listed in `problems` so the user sees them.
 */
import { gunzipSync } from './lazy-builtins.js';
import type { HostRoot, ReadResult } from './host-root.js';
import { parseKernelCmdline, readGrubVariable } from '../model/kernel-cmdline.js';
import { detectBootTooling } from './detect-boot.js';
import {
  type ConfiguredCmdline, type CpuFacts, type Fact, type HostFacts, type IommuUnit, type KernelLogFacts,
  type KernelParam, type MemlockLimit, type ModprobeDirective, type VirtFacts, hexBit, moduleFromPath, moduleName, parseInterruptChips, parseIomem, parseModulesBuiltin,
} from '../model/host-facts.js';

type Problems = HostFacts['problems'];

/** Evidence names files as the host they belong to sees them (/proc/cmdline), whatever the root. */
function shown(rel: string): string {
  return `/${rel}`;
}

function fact<T>(host: HostRoot, rel: string, r: ReadResult<unknown>, value: (v: never) => T, problems: Problems): Fact<T> {
  const source = shown(rel);
  if (r.state === 'ok') return { state: 'ok', source, value: value(r.value as never) };
  if (r.state === 'absent') return { state: 'absent', source };
  problems.push({ path: rel, code: r.code, message: r.message });
  return { state: 'unreadable', source, code: r.code, message: r.message };
}

function trimmedText(host: HostRoot, rel: string): string | null {
  const r = host.readText(rel);
  return r.state === 'ok' ? r.value.trim() : null;
}

/** Words of a kernel command line as {key, value}; the init part after `--` is left out. */
export function cmdlineParams(text: string): KernelParam[] {
  return parseKernelCmdline(text).params.map((p) => (p.value === undefined ? { key: p.key } : { key: p.key, value: p.value }));
}

export function readHostFacts(host: HostRoot): HostFacts {
  const problems: Problems = [];
  const release = fact(host, 'proc/sys/kernel/osrelease', host.readText('proc/sys/kernel/osrelease'), (v: string) => v.trim(), problems);
  const rel = release.state === 'ok' && /^[A-Za-z0-9_.+~-]+$/.test(release.value) ? release.value : null;

  const cmdline = fact(host, 'proc/cmdline', host.readText('proc/cmdline'), (v: string) => v.trim(), problems);
  const tables = fact(host, 'sys/firmware/acpi/tables', host.listDir('sys/firmware/acpi/tables'), (v: string[]) => [...v].sort(), problems);
  const tableNames = tables.state === 'ok' ? tables.value : [];

  const facts: HostFacts = {
    root: host.root,
    live: host.isLive,
    cpu: readCpu(host, problems),
    acpi: {
      tables,
      dmar: tableNames.includes('DMAR'),
      ivrs: tableNames.includes('IVRS'),
      iort: tableNames.includes('IORT'),
      viot: tableNames.includes('VIOT'),
    },
    kernel: {
      release,
      cmdline,
      params: cmdline.state === 'ok' ? cmdlineParams(cmdline.value) : [],
      configured: readConfiguredCmdlines(host, rel),
      config: readKernelConfig(host, rel, problems),
    },
    modules: readModules(host, rel, problems),
    modprobe: readModprobe(host, problems),
    allowUnsafeInterrupts: fact(host, 'sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', host.readText('sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts'), (v: string) => v.trim(), problems),
    devVfio: fact(host, 'dev/vfio', host.listDir('dev/vfio'), (v: string[]) => [...v].sort(), problems),
    devKvm: host.exists('dev/kvm'),
    iommuUnits: [],
    iommuClass: fact(host, 'sys/class/iommu', host.listDir('sys/class/iommu'), (v: string[]) => [...v].sort(), problems),
    interrupts: fact(host, 'proc/interrupts', host.readText('proc/interrupts'), (v: string) => parseInterruptChips(v), problems),
    kernelLog: readKernelLog(host),
    virt: readVirt(host),
    iomem: fact(host, 'proc/iomem', host.readText('proc/iomem'), (v: string) => parseIomem(v), problems),
    memlock: readMemlock(host, problems),
    libvirt: readLibvirt(host),
    boot: detectBootTooling(host),
    problems,
  };
  facts.iommuUnits = facts.iommuClass.state === 'ok' ? readIommuUnits(host, facts.iommuClass.value, problems) : [];
  return facts;
}

// ---------------------------------------------------------------------------------------------------

/** proc/cpuinfo: vendor, model, flags (the one cpuinfo reader; host impact takes its vendor from here). */
export function readCpu(host: HostRoot, problems: Problems = []): CpuFacts {
  const r = host.readText('proc/cpuinfo');
  const source = fact(host, 'proc/cpuinfo', r, () => true as const, problems);
  const out: CpuFacts = { source, vendor: null, vendorId: null, modelName: null, flags: [], hypervisor: false };
  if (r.state !== 'ok') return out;
  // The first processor block is enough: flags are uniform across CPUs of one host.
  const block = r.value.split(/\n\s*\n/)[0] ?? '';
  for (const line of block.split('\n')) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.trim().toLowerCase();
    const val = m[2]!.trim();
    if (key === 'vendor_id') out.vendorId = val;
    else if (key === 'model name' || key === 'cpu' || key === 'uarch') out.modelName ??= val;
    else if (key === 'flags' || key === 'features') out.flags = val.split(/\s+/).filter(Boolean);
    else if (key === 'cpu implementer' && !out.vendorId) out.vendorId = `arm-implementer-${val}`;
  }
  out.vendor = out.vendorId === 'GenuineIntel' ? 'intel' : out.vendorId === 'AuthenticAMD' || out.vendorId === 'HygonGenuine' ? 'amd' : out.vendorId ? 'other' : null;
  out.hypervisor = out.flags.includes('hypervisor');
  return out;
}

function readConfiguredCmdlines(host: HostRoot, release: string | null): ConfiguredCmdline[] {
  const out: ConfiguredCmdline[] = [];
  const seenGrub = new Set<string>();
  for (const rel of ['etc/default/grub', 'etc/sysconfig/grub']) {
    // RHEL 7: etc/sysconfig/grub is a link to ../default/grub; read it once.
    const link = host.readLink(rel);
    if (link.state === 'ok' && /(^|\/)default\/grub$/.test(link.value) && seenGrub.has('etc/default/grub')) continue;
    const r = host.readText(rel);
    if (r.state === 'absent') continue;
    if (r.state === 'unreadable') {
      out.push({ source: rel, kind: 'grub-defaults', text: '', params: [], problem: `unreadable: ${r.message}` });
      continue;
    }
    seenGrub.add(rel);
    const linux = readGrubVariable(r.value, 'GRUB_CMDLINE_LINUX');
    const dflt = readGrubVariable(r.value, 'GRUB_CMDLINE_LINUX_DEFAULT');
    const problem = !linux.ok ? linux.error.message : !dflt.ok ? dflt.error.message : undefined;
    const text = [linux.ok ? linux.value : null, dflt.ok ? dflt.value : null].filter((v): v is string => !!v).join(' ').trim();
    out.push({ source: rel, kind: 'grub-defaults', text, params: cmdlineParams(text), ...(problem ? { problem } : {}) });
  }
  const kc = host.readText('etc/kernel/cmdline');
  if (kc.state === 'ok') {
    const text = kc.value.split('\n').filter((l) => !l.trim().startsWith('#')).join(' ').trim();
    out.push({ source: 'etc/kernel/cmdline', kind: 'kernel-cmdline-file', text, params: cmdlineParams(text) });
  } else if (kc.state === 'unreadable') {
    out.push({ source: 'etc/kernel/cmdline', kind: 'kernel-cmdline-file', text: '', params: [], problem: `unreadable: ${kc.message}` });
  }
  // The generated grub.cfg: the first `linux` line of the running kernel (the default entry on most hosts).
  if (release) {
    for (const rel of ['boot/grub/grub.cfg', 'boot/grub2/grub.cfg']) {
      const r = host.readText(rel);
      if (r.state !== 'ok') continue;
      const text = grubCfgLinuxLine(r.value, release);
      if (text !== null) out.push({ source: rel, kind: 'grub-cfg', text, params: cmdlineParams(text) });
      break;
    }
  }
  // Boot Loader Specification entries (Fedora/EL8+ grubby, systemd-boot): the entry of the running kernel.
  if (release) {
    for (const dir of ['boot/loader/entries', 'boot/efi/loader/entries']) {
      const list = host.listDir(dir);
      if (list.state !== 'ok') continue;
      for (const name of list.value.sort()) {
        if (!name.endsWith('.conf') || !name.includes(release)) continue;
        const e = host.readText(`${dir}/${name}`);
        if (e.state !== 'ok') continue;
        const opts = e.value.split('\n').filter((l) => /^\s*options\s/.test(l)).map((l) => l.replace(/^\s*options\s+/, '')).join(' ').trim();
        let text = opts;
        let problem: string | undefined;
        if (/\$kernelopts\b/.test(opts)) {
          const env = host.readText('boot/grub2/grubenv');
          const m = env.state === 'ok' ? /^kernelopts=(.*)$/m.exec(env.value) : null;
          if (m) text = opts.replace(/\$kernelopts\b/, m[1]!.trim());
          else problem = 'options use $kernelopts but boot/grub2/grubenv has no kernelopts';
        }
        out.push({ source: `${dir}/${name}`, kind: 'bls-entry', text, params: cmdlineParams(text), ...(problem ? { problem } : {}) });
      }
    }
  }
  return out;
}

/** Parameters of the first grub.cfg `linux` line that boots this kernel release (after the image path). */
export function grubCfgLinuxLine(cfg: string, release: string): string | null {
  for (const line of cfg.split('\n')) {
    const m = /^\s*linux(?:efi|16)?\s+(\S+)\s*(.*)$/.exec(line);
    if (!m || !m[1]!.endsWith(`vmlinuz-${release}`)) continue;
    return m[2]!.trim();
  }
  return null;
}

const CONFIG_KEYS = /^CONFIG_(\w*IOMMU\w*|\w*VFIO\w*|KVM\w*|IRQ_REMAP|ACPI_VIOT|X86_X2APIC|DRM_SIMPLEDRM|FB_EFI|FB_SIMPLE|SYSFB_SIMPLEFB|PCI_IOV)$/;

function parseKernelConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    let m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m && CONFIG_KEYS.test(m[1]!)) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    m = /^# (CONFIG_\w+) is not set/.exec(line);
    if (m && CONFIG_KEYS.test(m[1]!)) out[m[1]!] = 'n';
  }
  return out;
}

function readKernelConfig(host: HostRoot, release: string | null, problems: Problems): Fact<Record<string, string>> {
  if (release) {
    for (const rel of [`boot/config-${release}`, `lib/modules/${release}/config`]) {
      const r = host.readText(rel);
      if (r.state === 'absent') continue;
      return fact(host, rel, r, (v: string) => parseKernelConfig(v), problems);
    }
  }
  const gz = host.readBytes('proc/config.gz');
  if (gz.state === 'ok') {
    try {
      return { state: 'ok', source: shown('proc/config.gz'), value: parseKernelConfig(gunzipSync(gz.value).toString('utf8')) };
    } catch (e) {
      problems.push({ path: 'proc/config.gz', code: 'EBADGZ', message: (e as Error).message });
      return { state: 'unreadable', source: shown('proc/config.gz'), code: 'EBADGZ', message: (e as Error).message };
    }
  }
  return { state: 'absent', source: shown(release ? `boot/config-${release}` : 'boot/config-RELEASE') };
}

function readModules(host: HostRoot, release: string | null, problems: Problems): HostFacts['modules'] {
  const loaded = fact(host, 'proc/modules', host.readText('proc/modules'), (v: string) => v.split('\n').map((l) => l.split(/\s+/)[0] ?? '').filter(Boolean).map(moduleName), problems);
  const noRelease = (name: string): Fact<string[]> => ({ state: 'absent', source: shown(`lib/modules/RELEASE/${name}`) });
  let builtin: Fact<string[]> = noRelease('modules.builtin');
  let available: Fact<string[]> = noRelease('modules.dep');
  if (release) {
    const base = `lib/modules/${release}`;
    builtin = fact(host, `${base}/modules.builtin`, host.readText(`${base}/modules.builtin`), parseModulesBuiltin, problems);
    const dep = host.readText(`${base}/modules.dep`);
    if (dep.state !== 'absent') {
      available = fact(host, `${base}/modules.dep`, dep, (v: string) => v.split('\n').map((l) => l.split(':')[0] ?? '').filter((l) => l.trim()).map(moduleFromPath), problems);
    } else {
      // No modules.dep (a freshly unpacked kernel before depmod): list the vfio and kvm directories.
      const names: string[] = [];
      let any = false;
      for (const dir of ['kernel/drivers/vfio', 'kernel/drivers/vfio/pci', 'kernel/arch/x86/kvm']) {
        const l = host.listDir(`${base}/${dir}`);
        if (l.state === 'ok') {
          any = true;
          for (const n of l.value) if (/\.ko(\.(xz|gz|zst))?$/.test(n)) names.push(moduleFromPath(n));
        }
      }
      if (any) available = { state: 'ok', source: shown(`${base}/kernel/drivers/vfio`), value: names };
      else available = { state: 'absent', source: shown(`${base}/modules.dep`) };
    }
  }
  const sm = host.listDir('sys/module');
  return { loaded, builtin, available, sysModules: sm.state === 'ok' ? sm.value.map(moduleName).sort() : [] };
}

const MODPROBE_DIRS = ['etc/modprobe.d', 'run/modprobe.d', 'usr/local/lib/modprobe.d', 'usr/lib/modprobe.d', 'lib/modprobe.d'];

export function parseModprobeConf(text: string, file: string): ModprobeDirective[] {
  const out: ModprobeDirective[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!;
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(t);
    if (!m) continue;
    out.push({ file, line: start + 1, command: m[1]!, module: m[2]!, args: m[3]!.trim() });
  }
  return out;
}

function readModprobe(host: HostRoot, problems: Problems): ModprobeDirective[] {
  // modprobe.d(5): a file name in an earlier directory hides the same name in later ones; files are read
  // in lexical order of their names across directories.
  const chosen = new Map<string, string>();
  for (const dir of MODPROBE_DIRS) {
    const l = host.listDir(dir);
    if (l.state === 'unreadable') problems.push({ path: dir, code: l.code, message: l.message });
    if (l.state !== 'ok') continue;
    for (const name of l.value) {
      if (!name.endsWith('.conf') || chosen.has(name)) continue;
      chosen.set(name, `${dir}/${name}`);
    }
  }
  const out: ModprobeDirective[] = [];
  for (const name of [...chosen.keys()].sort()) {
    const rel = chosen.get(name)!;
    const r = host.readText(rel);
    if (r.state === 'ok') out.push(...parseModprobeConf(r.value, rel));
    else if (r.state === 'unreadable') problems.push({ path: rel, code: r.code, message: r.message });
  }
  return out;
}

function readIommuUnits(host: HostRoot, names: string[], problems: Problems): IommuUnit[] {
  const out: IommuUnit[] = [];
  for (const name of names) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) {
      problems.push({ path: 'sys/class/iommu', code: 'EBADNAME', message: `ignored entry ${JSON.stringify(name)}` });
      continue;
    }
    const base = `sys/class/iommu/${name}`;
    const link = host.readLink(base);
    if (link.state === 'ok' && link.value.startsWith('/')) {
      // A captured tree must not lead reads back to the machine vfioctl runs on.
      problems.push({ path: base, code: 'EESCAPE', message: `link ${base} -> ${link.value} is absolute; not followed` });
      continue;
    }
    const intelCap = trimmedText(host, `${base}/intel-iommu/cap`);
    const intelEcap = trimmedText(host, `${base}/intel-iommu/ecap`);
    if (intelCap !== null || intelEcap !== null || host.exists(`${base}/intel-iommu`)) {
      out.push({ name, kind: 'intel', cap: intelCap, ecap: intelEcap, interruptRemapping: hexBit(intelEcap, 3), cachingMode: hexBit(intelCap, 7) });
      continue;
    }
    if (host.exists(`${base}/amd-iommu`)) {
      out.push({ name, kind: 'amd', cap: trimmedText(host, `${base}/amd-iommu/cap`), ecap: trimmedText(host, `${base}/amd-iommu/features`), interruptRemapping: null, cachingMode: null });
      continue;
    }
    // virtio-iommu registers its unit under the virtio device it drives (…/0000:00:02.0/virtio0/iommu/NAME),
    // named after the PCI function (virtio-pci) or the platform device (virtio-mmio)
    const kind = link.state === 'ok' && /(^|\/)virtio\d+\/iommu\/[^/]+$/.test(link.value) ? 'virtio' : 'other';
    out.push({ name, kind, cap: null, ecap: null, interruptRemapping: null, cachingMode: null });
  }
  return out;
}

const LOG_FILES = ['var/log/dmesg', 'var/log/kern.log', 'var/log/messages', 'var/log/syslog'];
const LOG_LINE = /DMAR|IOMMU|AMD-Vi|remapping|vfio|x2apic|efifb|simplefb|simpledrm|vesafb|can't reserve|BAR \d|Command line:|Linux version|D3cold|reset/i;
const BOOT_MARK = /Linux version \d|Command line: /;

function readKernelLog(host: HostRoot): KernelLogFacts {
  const unreadable: string[] = [];
  for (const rel of LOG_FILES) {
    const r = host.readText(rel);
    if (r.state === 'absent') continue;
    if (r.state === 'unreadable') {
      unreadable.push(rel);
      continue;
    }
    const all = r.value.split('\n');
    // Only the last boot in the file counts: earlier boots may have had other parameters.
    let from = 0;
    for (let i = all.length - 1; i >= 0; i--) {
      if (/Linux version \d/.test(all[i]!)) {
        from = i;
        break;
      }
    }
    const lines = all.slice(from).filter((l) => LOG_LINE.test(l)).slice(-400);
    if (!lines.some((l) => !BOOT_MARK.test(l))) continue;
    return { source: rel, lines, unreadable };
  }
  return { source: null, lines: [], unreadable };
}

function readVirt(host: HostRoot): VirtFacts {
  const sysVendor = trimmedText(host, 'sys/class/dmi/id/sys_vendor');
  const productName = trimmedText(host, 'sys/class/dmi/id/product_name');
  const boardVendor = trimmedText(host, 'sys/class/dmi/id/board_vendor');
  const hypervisorType = trimmedText(host, 'sys/hypervisor/type');
  return { sysVendor, productName, boardVendor, hypervisorType, hypervisorName: hypervisorFromDmi(sysVendor, productName, hypervisorType) };
}

/**
 * Whether the host is a virtual machine and its DMI identity, by the readers `readHostFacts` uses
 * (cpuinfo's hypervisor flag, DMI): for callers that need only this, e.g. a plan on a host without IOMMU groups.
 */
export function readPlatform(host: HostRoot): { vm: boolean; sysVendor: string | null; boardVendor: string | null; iommuTables: string[] } {
  const virt = readVirt(host);
  const tables = host.listDir('sys/firmware/acpi/tables');
  return {
    vm: readCpu(host).hypervisor || virt.hypervisorName !== null, sysVendor: virt.sysVendor, boardVendor: virt.boardVendor,
    iommuTables: iommuTableNames(tables.state === 'ok' ? tables.value : []),
  };
}

/** The ACPI tables among `names` that describe an IOMMU, sorted. */
export function iommuTableNames(names: readonly string[]): string[] {
  return names.filter((n) => ['DMAR', 'IVRS', 'VIOT', 'IORT'].includes(n)).sort();
}

/** The hypervisor a DMI identity names, or null (bare metal, or not recognisable). */
export function hypervisorFromDmi(sysVendor: string | null, product: string | null, hvType: string | null): string | null {
  const v = sysVendor ?? '';
  const p = product ?? '';
  if (/^QEMU/i.test(v) || /^(KVM|Standard PC \()/i.test(p) || /^Bochs/i.test(v)) return 'QEMU/KVM';
  if (/VMware/i.test(v) || /^VMware/i.test(p)) return 'VMware';
  if (/innotek|VirtualBox/i.test(v) || /VirtualBox/i.test(p)) return 'VirtualBox';
  if (/Microsoft/i.test(v) && /Virtual Machine/i.test(p)) return 'Microsoft Hyper-V';
  if (/^Xen/i.test(v) || /HVM domU/i.test(p) || hvType === 'xen') return 'Xen';
  if (/Parallels/i.test(v)) return 'Parallels';
  if (/OpenStack/i.test(v) || /OpenStack/i.test(p)) return 'OpenStack (KVM)';
  if (/Google/i.test(v) && /Compute Engine/i.test(p)) return 'Google Compute Engine';
  return null;
}

function readMemlock(host: HostRoot, problems: Problems): MemlockLimit[] {
  const files = ['etc/security/limits.conf'];
  const d = host.listDir('etc/security/limits.d');
  if (d.state === 'ok') for (const n of d.value.sort()) if (n.endsWith('.conf')) files.push(`etc/security/limits.d/${n}`);
  const out: MemlockLimit[] = [];
  for (const rel of files) {
    const r = host.readText(rel);
    if (r.state === 'unreadable') problems.push({ path: rel, code: r.code, message: r.message });
    if (r.state !== 'ok') continue;
    r.value.split('\n').forEach((line, i) => {
      const t = line.replace(/#.*/, '').trim();
      const m = /^(\S+)\s+(soft|hard|-)\s+memlock\s+(\S+)$/.exec(t);
      if (m) out.push({ file: rel, line: i + 1, domain: m[1]!, type: m[2]!, value: m[3]! });
    });
  }
  return out;
}

function readLibvirt(host: HostRoot): HostFacts['libvirt'] {
  const virsh = host.exists('usr/bin/virsh') || host.exists('usr/sbin/virsh') || host.exists('usr/local/bin/virsh');
  const daemons = ['usr/sbin/libvirtd', 'usr/sbin/virtqemud'].filter((p) => host.exists(p)).map((p) => p.split('/').pop()!);
  let qemuUser: string | null = null;
  const conf = host.readText('etc/libvirt/qemu.conf');
  if (conf.state === 'ok') {
    const m = /^\s*user\s*=\s*"([^"]*)"/m.exec(conf.value);
    if (m) qemuUser = m[1]!;
  }
  return { virsh, daemons, qemuUser, runtime: null };
}
