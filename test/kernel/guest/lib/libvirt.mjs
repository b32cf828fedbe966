// A private libvirt daemon inside the real-kernel guest, and the L2 guests it starts (plain JavaScript,
// run by node inside the L1 guest). The daemon is the host's own libvirtd from the 9p-shared /usr; its
// configuration, sockets, state and logs live in the initramfs root (tmpfs-like rootfs) and /tmp, so
// nothing is shared back. Everything runs as root (the guest's /init is root): the qemu driver in system
// mode with QEMU as root, no security driver, no dynamic ownership (the L2 kernel is on a read-only 9p
// share), no namespaces and no cgroups (the initramfs mounts none), no virtlogd.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RESULTS, runInfo } from './guest.mjs';

export const URI = 'qemu:///system';
export const LIBVIRTD = '/usr/sbin/libvirtd';
export const VIRSH = '/usr/bin/virsh';
const SOCKET = '/run/libvirt/libvirt-sock';
/** L2 serial consoles: in the run directory, so they can be read on the host while the boot runs. */
export const CONSOLE_DIR = join(RESULTS, 'l2-console');
/**
 * The only QEMU the daemon finds: libvirtd runs with this directory first in PATH and without /usr/bin,
 * so it probes one emulator (probing qemu-system-i386 as well doubles a start that takes minutes under
 * TCG). Domains name it as their <emulator>. The directory also holds the other /usr/bin programs the
 * daemon runs: qemu-img, which the storage driver needs for a qcow2 volume (virt-install --disk size=N;
 * without it libvirt says "creation of non-raw file images is not supported without qemu-img").
 */
export const EMULATOR_DIR = '/tmp/libvirt-bin';
export const EMULATOR = `${EMULATOR_DIR}/qemu-system-x86_64`;
const DAEMON_PROGRAMS = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img'];
/** libvirt's QEMU capability cache: restored from the previous boot (see libvirt.test.ts), saved after. */
/** Where libvirt's default storage pool lives. */
export const IMAGES = '/var/lib/libvirt/images';
export const CAPS_CACHE = '/var/cache/libvirt/qemu/capabilities';

const LIBVIRTD_CONF = `# private daemon of the real-kernel libvirt boot
auth_unix_ro = "none"
auth_unix_rw = "none"
log_level = 3
log_filters = "1:qemu 1:util.command 1:node_device 1:util.virhostcpu 1:daemon 1:rpc.netdaemon 3:*"
log_outputs = "3:stderr 1:file:/results/libvirtd-debug.log"
`;

const QEMU_CONF = `# private daemon of the real-kernel libvirt boot: QEMU as root, nothing the initramfs lacks
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]
`;

export const env = () => ({ ...process.env, LC_ALL: 'C', LIBVIRT_DEFAULT_URI: URI, HOME: '/tmp' });

/** One virsh command: { status, stdout, stderr }. */
export function virsh(args, { timeoutMs = 300_000 } = {}) {
  const r = spawnSync(VIRSH, ['-c', URI, ...args], { encoding: 'utf8', env: env(), timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ?? '', stderr: r.stderr ?? '', signal: r.signal ?? null };
}

/** virsh that must succeed: its stdout. */
export function virshOk(args, opts) {
  const r = virsh(args, opts);
  if (r.status !== 0) throw new Error(`virsh ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

function ensureAccount(file, name, line) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!text.split('\n').some((l) => l.startsWith(`${name}:`))) appendFileSync(file, line + '\n');
}

/**
 * Write the configuration and start libvirtd (detached: it outlives the test process only if the test
 * forgets to stop it; /init powers off afterwards anyway). Returns { pid, seconds, log }.
 */
export async function startLibvirtd({ readyTimeoutMs = 1_200_000 } = {}) {
  // the qemu driver looks up its compiled-in account at start even when qemu.conf says root
  ensureAccount('/etc/group', 'libvirt-qemu', 'libvirt-qemu:x:64055:');
  ensureAccount('/etc/group', 'kvm', 'kvm:x:108:');
  ensureAccount('/etc/group', 'libvirt', 'libvirt:x:109:');
  ensureAccount('/etc/passwd', 'libvirt-qemu', 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin');
  // libvirt's client library reaches the daemon at /var/run/libvirt/libvirt-sock: /var/run is /run, as on any host
  mkdirSync('/var', { recursive: true });
  if (!existsSync('/var/run')) symlinkSync('/run', '/var/run');
  for (const d of ['/etc/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt', '/run/libvirt', CONSOLE_DIR]) mkdirSync(d, { recursive: true });
  // the default storage pool (virt-install --disk size=N): a tmpfs larger than the guest's memory, since
  // libvirt refuses a volume larger than the pool's free space even though it is created sparse
  mkdirSync(IMAGES, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64g,mode=0711', 'tmpfs', IMAGES], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs on ${IMAGES}: ${m.stderr}`);
  // pseudo-terminals, as every host has them (the initramfs mounts no devpts): a serial console of type
  // pty, which virt-install gives its guests, is one ("-chardev pty: Failed to create PTY" without it)
  mkdirSync('/dev/pts', { recursive: true });
  if (!readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/dev/pts')) {
    const pts = spawnSync('mount', ['-t', 'devpts', '-o', 'gid=5,mode=620,ptmxmode=000', 'devpts', '/dev/pts'], { encoding: 'utf8' });
    if (pts.status !== 0) throw new Error(`mount devpts on /dev/pts: ${pts.stderr}`);
  }
  writeFileSync('/etc/libvirt/libvirtd.conf', LIBVIRTD_CONF);
  writeFileSync('/etc/libvirt/qemu.conf', QEMU_CONF);
  mkdirSync(EMULATOR_DIR, { recursive: true });
  for (const p of DAEMON_PROGRAMS) {
    const link = join(EMULATOR_DIR, basename(p));
    if (existsSync(p) && !existsSync(link)) symlinkSync(p, link);
  }
  const saved = runInfo().data?.capsCache;
  let restored = 0;
  if (saved && existsSync(join('/project', saved))) {
    mkdirSync(CAPS_CACHE, { recursive: true });
    for (const f of readdirSync(join('/project', saved)).filter((n) => n.endsWith('.xml'))) {
      copyFileSync(join('/project', saved, f), join(CAPS_CACHE, f));
      restored++;
    }
  }
  const log = join(RESULTS, 'libvirtd.log');
  const fd = openSync(log, 'a');
  const t0 = Date.now();
  const child = spawn(LIBVIRTD, [], {
    stdio: ['ignore', fd, fd],
    env: { ...env(), LIBVIRT_DEFAULT_URI: undefined, PATH: `${EMULATOR_DIR}:/kmod:/usr/sbin:/sbin:/bin` },
    detached: true,
  });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = code ?? signal;
  });
  child.unref();
  const deadline = t0 + readyTimeoutMs;
  let nextPs = Date.now() + 20_000;
  for (;;) {
    if (Date.now() > nextPs) {
      nextPs = Date.now() + 30_000;
      const u = virsh(['uri'], { timeoutMs: 30_000 });
      const run = existsSync('/run/libvirt') ? readdirSync('/run/libvirt').join(' ') : '(none)';
      appendFileSync(join(RESULTS, 'libvirtd-wait.txt'), `--- ${(Date.now() - t0) / 1000} s; /run/libvirt: ${run}; virsh uri: ${u.status} ${u.stdout}${u.stderr}\n${processes()}\n`);
    }
    if (exited !== null) throw new Error(`libvirtd exited at start (${exited}): ${tail(log)}`);
    if (existsSync(SOCKET) && virsh(['uri'], { timeoutMs: 30_000 }).status === 0) break;
    if (Date.now() > deadline) throw new Error(`libvirtd did not answer within ${readyTimeoutMs} ms: ${tail(log)}`);
    await sleep(250);
  }
  return { pid: child.pid, seconds: (Date.now() - t0) / 1000, restoredCaps: restored, log, child, stop: () => stopLibvirtd(child) };
}

/** The Linux bridge behind libvirt's network "default" in this guest (an interface name: at most 15 bytes). */
export const DEFAULT_BRIDGE = 'vfioctl-br0';
const IP = '/usr/sbin/ip';
/** This guest's own address on that bridge. */
const HOST_ADDRESS = '192.0.2.1/24';

/**
 * libvirt's network "default" as on a host whose guests join a bridged LAN: <forward mode='bridge'/> onto
 * a Linux bridge, with no <ip>, so libvirt runs no dnsmasq and adds no firewall rules. virt-install puts a
 * NIC on this network when the host's default route is not on a bridge (virtinst's
 * DeviceInterface.set_default_source); libvirt plugs that NIC's tap device (/dev/net/tun) into the bridge.
 *
 * Returns { gap } when this machine lacks a piece (no ip(8), no bridge or tun module: the caller skips
 * what needs the network), { seconds } when the network runs; throws when the kernel or libvirt refuses.
 */
export function startDefaultNetwork({ bridge = DEFAULT_BRIDGE } = {}) {
  const t0 = Date.now();
  if (!existsSync(IP)) return { gap: `no ${IP} (package iproute2) to create the bridge ${bridge}` };
  for (const m of ['bridge', 'tun']) {
    const r = spawnSync('modprobe', [m], { encoding: 'utf8' });
    if (r.status !== 0) return { gap: `modprobe ${m} failed (is it in the harness's GUEST_MODULES?): ${r.stderr.trim()}` };
  }
  if (!existsSync('/dev/net/tun')) throw new Error('tun is loaded but there is no /dev/net/tun (devtmpfs creates it)');
  const ip = (args) => {
    const r = spawnSync(IP, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  };
  // The loopback up and an IPv4 address on the bridge, as a host on a bridged LAN has them (the initramfs
  // has neither): QEMU's SPICE server, the graphics virt-install adds by default, listens on 127.0.0.1 and
  // resolves it with AI_ADDRCONFIG, which fails ("Address family for hostname not supported") while the
  // machine has no IPv4 address besides the loopback's. The address is a documentation one (RFC 5737);
  // there is no default route, so virt-install still picks the network "default".
  ip(['link', 'set', 'lo', 'up']);
  if (!existsSync(`/sys/class/net/${bridge}`)) ip(['link', 'add', bridge, 'type', 'bridge']);
  ip(['link', 'set', bridge, 'up']);
  ip(['address', 'replace', HOST_ADDRESS, 'dev', bridge]);
  if (!existsSync(`/sys/class/net/${bridge}/bridge`)) throw new Error(`${bridge} is not a bridge (no /sys/class/net/${bridge}/bridge)`);
  const file = '/tmp/network-default.xml';
  writeFileSync(file, `<network>
  <name>default</name>
  <forward mode='bridge'/>
  <bridge name='${bridge}'/>
</network>
`);
  virshOk(['net-define', file]);
  virshOk(['net-start', 'default']);
  return { seconds: (Date.now() - t0) / 1000 };
}

/** What runs in the guest, with each thread's kernel wait channel (for a daemon that does not answer). */
export function processes() {
  const out = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!cmd) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const threads = readdirSync(`/proc/${pid}/task`).map((t) => {
        let w = '?';
        try {
          w = readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8');
        } catch {
          // gone
        }
        return `${t}:${w}`;
      });
      out.push(`${pid} ppid=${f[1]} state=${f[0]} utime=${f[11]} stime=${f[12]} ${cmd.slice(0, 200)} [${threads.join(' ')}]`);
    } catch {
      // gone
    }
  }
  return out.join('\n');
}

/** Keep libvirt's QEMU capability cache for the next boot (the host copies it into its work directory). */
export function saveCapsCache() {
  if (!existsSync(CAPS_CACHE)) return 0;
  const out = join(RESULTS, 'qemu-caps');
  mkdirSync(out, { recursive: true });
  const files = readdirSync(CAPS_CACHE).filter((n) => n.endsWith('.xml'));
  for (const f of files) copyFileSync(join(CAPS_CACHE, f), join(out, f));
  return files.length;
}

async function stopLibvirtd(child) {
  const running = virsh(['list', '--name']).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  for (const name of running) virsh(['destroy', name]);
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(child.pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
}

export function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ L2 guests

/** The L2 kernel and initramfs (built on the host, shared in the project tree). */
export function l2Files() {
  const l2 = runInfo().data?.l2;
  if (!l2) throw new Error('run.json has no data.l2 (the host test builds the L2 kernel and initramfs)');
  return { kernel: join('/project', l2.vmlinux), initrd: join('/project', l2.initramfs) };
}

export function consoleFile(name) {
  return join(CONSOLE_DIR, `${name}.log`);
}

/**
 * A tiny L2 domain: the L2 kernel + initramfs, 128 MiB, one vCPU, a serial console written to a file, no
 * USB, no balloon, no disk, no network; TCG (there is no /dev/kvm in the L1 guest). `devices` and
 * `features` are XML inserted as they are; `spareRootPorts` empty pcie-root-ports for hotplug.
 */
export function l2DomainXml({ name, devices = '', features = '', hold = false, spareRootPorts = 0, cmdline = '' }) {
  const { kernel, initrd } = l2Files();
  // an index-less controller would take index 0, which q35 reserves for pcie-root
  const ports = spareRootPorts
    ? ["    <controller type='pci' index='0' model='pcie-root'/>\n", ...Array.from({ length: spareRootPorts }, (_, i) => `    <controller type='pci' index='${i + 1}' model='pcie-root-port'/>\n`)].join('')
    : '';
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${kernel}</kernel>
    <initrd>${initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet mitigations=off${hold ? ' l2.hold' : ''}${cmdline ? ` ${cmdline}` : ''}</cmdline>
  </os>
  <features>
    <acpi/>
${features}  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${EMULATOR}</emulator>
    <controller type='usb' model='none'/>
${ports}    <serial type='file'>
      <source path='${consoleFile(name)}'/>
    </serial>
    <memballoon model='none'/>
${devices}  </devices>
</domain>
`;
}

/** `virsh define` of an XML text; returns virsh's result. */
export function defineXml(name, xml) {
  const file = join('/tmp', `${name}.xml`);
  writeFileSync(file, xml);
  return virsh(['define', file]);
}

/** A hand-written <hostdev> (the oracle's own, not vfioctl's renderer). */
export function hostdevXml(addr, managed) {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(addr);
  return `    <hostdev mode='subsystem' type='pci' managed='${managed ? 'yes' : 'no'}'>
      <source><address domain='0x${m[1]}' bus='0x${m[2]}' slot='0x${m[3]}' function='0x${m[4]}'/></source>
    </hostdev>
`;
}

/**
 * Wait until the L2 console holds a complete listing `n` ("l2: listing n" ... "l2: listed n") and
 * return its PCI lines as [{ addr, id: 'vvvv:dddd' }]. Throws with the console at the time limit.
 */
export async function waitListing(name, n, ms = 1_800_000) {
  const file = consoleFile(name);
  const end = Date.now() + ms;
  const re = new RegExp(`l2: listing ${n}\\r?\\n([\\s\\S]*?)l2: listed ${n}\\b`);
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const m = re.exec(text);
    if (m) {
      return [...m[1].matchAll(/l2-pci: (\S+) 0x([0-9a-f]{4}):0x([0-9a-f]{4})/g)].map((x) => ({ addr: x[1], id: `${x[2]}:${x[3]}` }));
    }
    if (Date.now() > end) throw new Error(`L2 ${name} printed no listing ${n} within ${ms} ms; console:\n${text.slice(-3000)}`);
    await sleep(500);
  }
}

export function domstate(name) {
  return virsh(['domstate', name]).stdout.trim();
}

export async function waitState(name, want, ms = 300_000) {
  const end = Date.now() + ms;
  for (;;) {
    const s = domstate(name);
    if (s === want) return s;
    if (Date.now() > end) throw new Error(`${name} is "${s}", not "${want}", after ${ms} ms`);
    await sleep(500);
  }
}

/** PCI hostdev sources of a domain's XML (hex attributes), as 'dddd:bb:ss.f'. */
export function hostdevSources(xml) {
  const out = [];
  for (const h of xml.matchAll(/<hostdev [^>]*type='pci'[^>]*>([\s\S]*?)<\/hostdev>/g)) {
    const a = /<source[^>]*>\s*<address domain='0x([0-9a-f]+)' bus='0x([0-9a-f]+)' slot='0x([0-9a-f]+)' function='0x([0-9a-f]+)'/.exec(h[1]);
    if (a) out.push(`${a[1].padStart(4, '0')}:${a[2].padStart(2, '0')}:${a[3].padStart(2, '0')}.${a[4]}`);
  }
  return out;
}

/** Timings of the boot's steps, saved for the host's report. */
const timings = {};
export function timing(label, seconds) {
  timings[label] = Math.round(seconds * 10) / 10;
  writeFileSync(join(RESULTS, 'libvirt-timings.json'), JSON.stringify(timings, null, 2) + '\n');
}
