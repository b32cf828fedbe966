/**
 * The libvirt adapter's only process boundary: it spawns `virsh`, one command per call.
 *
 * - No shell: arguments go to execve as an array.
 * - LC_ALL=C, so the messages parsed below are libvirt's English originals.
 * - XML reaches virsh through a 0600 file inside a fresh 0700 temporary directory (a child's stdin is
 *   a socketpair, `/dev/stdin` does not work), removed when the command ends.
 * - One command per call: virsh's batch mode exits 0 when a middle command fails.
 * - The connection URI is `--connect URI` when given, else virsh's own LIBVIRT_DEFAULT_URI handling.
 *
 * Failures become a VirshError carrying the command line, the exit code, libvirt's message (the last
 * "error: " line) and a remedy derived from the messages libvirt is known to print.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, VfioctlError } from '../../model/errors.js';
import { makeTempDir } from '../../host/temp-files.js';
import { nodeChildProcess } from '../../host/lazy-builtins.js';

export interface VirshOptions {
  /** Connection URI (--connect); when absent virsh uses LIBVIRT_DEFAULT_URI or its default. */
  uri?: string | undefined;
  /** Program to run, "virsh" on PATH by default (VFIOCTL_VIRSH overrides it). */
  program?: string | undefined;
  /** Per-command timeout; 120 s by default (the first QEMU capability probe takes seconds). */
  timeoutMs?: number | undefined;
  /** Environment for virsh; defaults to process.env. LC_ALL is always forced to C. */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface VirshResult {
  /** The command as run, for display (the XML file shown as "<xml>"). */
  command: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What a known libvirt message means, and what to do about it. */
export interface VirshDiagnosis {
  /** Stable id, e.g. "no-iommu", "domain-not-found". */
  kind: string;
  remedy: string;
}

const IOMMU_REMEDY =
  'this host has no usable IOMMU for device assignment: enable VT-d / AMD-Vi in the firmware and the IOMMU on the kernel command line, reboot, then check with `vfioctl doctor`';

/** Known libvirt messages, most specific first. Matched case-insensitively against libvirt's message. */
const KNOWN: { re: RegExp; kind: string; remedy: (m: RegExpExecArray, cmd: string[]) => string }[] = [
  { re: /VFIO device assignment is currently not supported on this system/i, kind: 'no-iommu', remedy: () => IOMMU_REMEDY },
  { re: /host doesn't support passthrough of host PCI devices/i, kind: 'no-iommu', remedy: () => IOMMU_REMEDY },
  { re: /group (\d+) is not viable/i, kind: 'group-not-viable', remedy: (m) => `every endpoint of IOMMU group ${m[1]} must be given to the guest or bound to vfio-pci: see \`vfioctl plan\`` },
  {
    re: /(failed to get domain|Domain not found)/i,
    kind: 'domain-not-found',
    remedy: () => 'check the guest name with `vfioctl guests` (or `virsh list --all`) and the connection URI (--connect)',
  },
  {
    re: /(failed to connect to the hypervisor|Failed to connect socket|no connection driver available|Cannot recv data|End of file while reading data)/i,
    kind: 'connection',
    remedy: () => 'start libvirtd (or virtqemud) and pass the right URI with --connect URI or LIBVIRT_DEFAULT_URI (e.g. qemu:///system)',
  },
  {
    re: /(authentication (failed|unavailable)|Permission denied|access denied)/i,
    kind: 'permission',
    remedy: () => 'run as root or as a member of the libvirt group, or connect to qemu:///system through polkit',
  },
  {
    re: /already in the domain configuration|is already (assigned|attached|in use)/i,
    kind: 'duplicate',
    remedy: () => 'the device is already attached to this guest: nothing to add (detach it first to change its options)',
  },
  {
    re: /in use by (driver \S+, )?domain (\S+)/i,
    kind: 'in-use',
    remedy: (m) => `the device is used by guest ${(m[2] ?? '').replace(/[,.]$/, '')}: stop that guest or detach the device from it first`,
  },
  {
    re: /device not (present|found) in domain configuration|device not found/i,
    kind: 'not-attached',
    remedy: () => 'the device is not attached to this guest (list its devices with `vfioctl guests`)',
  },
  {
    re: /domain is not running/i,
    kind: 'not-running',
    remedy: () => 'a live change needs a running guest: use --config to change only the persistent definition',
  },
  {
    re: /transient domain|cannot change persistent config of a transient domain/i,
    kind: 'transient',
    remedy: () => 'the guest is transient (no persistent definition): use --live, or define it first with `virsh define`',
  },
  {
    re: /XML error|XML document failed to validate|unsupported configuration/i,
    kind: 'xml',
    remedy: () => 'libvirt rejected the XML: run with --dry-run to see it, and report the message if vfioctl generated it',
  },
  { re: /operation not supported|this function is not supported/i, kind: 'unsupported', remedy: () => 'the libvirt driver behind this connection does not support the operation (the test:/// driver supports neither node devices nor device attach)' },
];

export function diagnoseVirshMessage(message: string, command: string[] = []): VirshDiagnosis | null {
  for (const k of KNOWN) {
    const m = k.re.exec(message);
    if (m) return { kind: k.kind, remedy: k.remedy(m, command) };
  }
  return null;
}

/** The "error: " lines virsh prints; the first names the failed step, the last is libvirt's own message. */
export function parseVirshErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('error: '))
    .map((l) => l.slice('error: '.length).trim())
    .filter(Boolean);
}

export class VirshError extends VfioctlError {
  readonly command: string[];
  readonly virshExitCode: number | null;
  /** libvirt's message (last error line), or a description of the spawn failure. */
  readonly libvirtMessage: string;
  readonly stderr: string;
  /** Known-message classification, e.g. "no-iommu", or "unknown". */
  readonly kind: string;

  constructor(command: string[], exitCode: number | null, stderr: string, opts: { message?: string; cause?: unknown; kind?: string; remedy?: string } = {}) {
    const lines = parseVirshErrors(stderr);
    const libvirtMessage = opts.message ?? lines[lines.length - 1] ?? (stderr.trim().split('\n').pop() || `virsh exited with status ${exitCode}`);
    const diag = opts.kind && opts.remedy ? { kind: opts.kind, remedy: opts.remedy } : diagnoseVirshMessage(lines.join('\n') || libvirtMessage, command);
    const step = lines.length > 1 ? `${lines[0]}: ` : '';
    super('virsh-failed', `virsh ${command[0] ?? ''} failed: ${step}${libvirtMessage}`, {
      remedy: diag?.remedy ?? "see libvirt's message above; `virsh` with the same arguments shows the same error",
      exitCode: ExitCode.error,
      cause: opts.cause,
      details: { command: ['virsh', ...command], exitCode, libvirtMessage, kind: diag?.kind ?? 'unknown' },
    });
    this.name = 'VirshError';
    this.command = command;
    this.virshExitCode = exitCode;
    this.libvirtMessage = libvirtMessage;
    this.stderr = stderr;
    this.kind = diag?.kind ?? 'unknown';
  }
}

/** Placeholder in an argument list for the temporary XML file. */
export const XML_FILE = Symbol('xml-file');
export type VirshArg = string | typeof XML_FILE;

export class Virsh {
  readonly uri: string | undefined;
  private readonly program: string;
  private readonly timeoutMs: number;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: VirshOptions = {}) {
    this.uri = opts.uri || undefined;
    this.env = { ...(opts.env ?? process.env), LC_ALL: 'C' };
    this.program = opts.program ?? this.env.VFIOCTL_VIRSH ?? 'virsh';
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  /** The URI in effect, for messages: --connect, else LIBVIRT_DEFAULT_URI, else libvirt's default. */
  get effectiveUri(): string {
    return this.uri ?? this.env.LIBVIRT_DEFAULT_URI ?? '(libvirt default)';
  }

  /**
   * Run one virsh command. `xml`, when given, is written to a 0600 temporary file whose path replaces
   * XML_FILE in `args`. Throws VirshError on a non-zero exit or a spawn failure.
   */
  async run(args: VirshArg[], opts: { xml?: string } = {}): Promise<VirshResult> {
    const shown = args.map((a) => (a === XML_FILE ? '<xml>' : a));
    let tmpDir: string | undefined;
    let real: string[];
    if (args.includes(XML_FILE)) {
      if (opts.xml === undefined) throw new Error('internal: XML_FILE argument without xml');
      tmpDir = makeTempDir('vfioctl-virsh-');
      fs.chmodSync(tmpDir, 0o700);
      const file = path.join(tmpDir, 'device.xml');
      fs.writeFileSync(file, opts.xml, { mode: 0o600, flag: 'wx' });
      real = args.map((a) => (a === XML_FILE ? file : a));
    } else {
      real = args as string[];
    }
    try {
      const argv = this.uri ? ['--connect', this.uri, ...real] : real;
      const r = await this.spawn(argv, shown);
      if (r.exitCode !== 0) {
        // The temporary file is gone once we return: name it "<xml>" in the message.
        const stderr = tmpDir ? r.stderr.split(path.join(tmpDir, 'device.xml')).join('<xml>') : r.stderr;
        throw new VirshError(shown, r.exitCode, stderr);
      }
      return r;
    } finally {
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  }

  private spawn(argv: string[], shown: string[]): Promise<VirshResult> {
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = nodeChildProcess().spawn(this.program, argv, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        reject(this.spawnError(shown, e));
        return;
      }
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => errOut.push(b));
      let settled = false;
      const timer = setTimeout(() => {
        // Answer now: a grandchild holding the pipes open must not keep the caller waiting.
        settled = true;
        child.kill('SIGKILL');
        reject(
          new VirshError(shown, null, Buffer.concat(errOut).toString('utf8'), {
            message: `no answer within ${Math.round(this.timeoutMs / 1000)} s`,
            kind: 'timeout',
            remedy: `check that the libvirt daemon behind ${this.effectiveUri} is running and responsive`,
          }),
        );
      }, this.timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(this.spawnError(shown, e));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(errOut).toString('utf8');
        resolve({ command: shown, exitCode: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  private spawnError(shown: string[], e: unknown): VirshError {
    const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
    if (code === 'ENOENT') {
      return new VirshError(shown, null, '', {
        message: `${this.program} is not installed (not found on PATH)`,
        kind: 'virsh-missing',
        remedy: 'install the libvirt client tools (Debian/Ubuntu: apt-get install libvirt-clients; Fedora/RHEL: dnf install libvirt-client)',
        cause: e,
      });
    }
    return new VirshError(shown, null, '', { message: `cannot run ${this.program}: ${e instanceof Error ? e.message : String(e)}`, kind: 'spawn', remedy: 'check that virsh can be run by this user', cause: e });
  }

  // ----- typed commands (one virsh command each) -----

  /** All domain names, persistent and transient. */
  async listDomainNames(): Promise<string[]> {
    const r = await this.run(['list', '--all', '--name']);
    return splitNames(r.stdout);
  }

  async listRunningDomainNames(): Promise<string[]> {
    const r = await this.run(['list', '--state-running', '--name']);
    return splitNames(r.stdout);
  }

  /** Domain XML; `inactive` gives the persistent definition (what --config changes). */
  async dumpxml(domain: string, opts: { inactive?: boolean } = {}): Promise<string> {
    const r = await this.run(['dumpxml', ...(opts.inactive ? ['--inactive'] : []), '--', domain]);
    return r.stdout;
  }

  /** "running", "shut off", "paused"... as virsh prints it. */
  async domstate(domain: string): Promise<string> {
    const r = await this.run(['domstate', '--', domain]);
    return r.stdout.trim();
  }

  async define(xml: string): Promise<void> {
    await this.run(['define', XML_FILE], { xml });
  }

  async attachDevice(domain: string, xml: string, flags: { live: boolean; config: boolean }): Promise<void> {
    await this.run(['attach-device', ...deviceFlags(flags), '--', domain, XML_FILE], { xml });
  }

  async detachDevice(domain: string, xml: string, flags: { live: boolean; config: boolean }): Promise<void> {
    await this.run(['detach-device', ...deviceFlags(flags), '--', domain, XML_FILE], { xml });
  }

  async nodedevList(cap = 'pci'): Promise<string[]> {
    const r = await this.run(['nodedev-list', '--cap', cap]);
    return splitNames(r.stdout);
  }

  async nodedevDumpxml(name: string): Promise<string> {
    const r = await this.run(['nodedev-dumpxml', '--', name]);
    return r.stdout;
  }

  async nodedevDetach(name: string): Promise<void> {
    await this.run(['nodedev-detach', '--', name]);
  }

  async nodedevReattach(name: string): Promise<void> {
    await this.run(['nodedev-reattach', '--', name]);
  }

  async domcapabilities(): Promise<string> {
    const r = await this.run(['domcapabilities']);
    return r.stdout;
  }
}

function deviceFlags(f: { live: boolean; config: boolean }): string[] {
  if (!f.live && !f.config) throw new Error('internal: device change with neither --live nor --config');
  return [...(f.live ? ['--live'] : []), ...(f.config ? ['--config'] : [])];
}

function splitNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}
