/**
 * Every command, run in-process (test/support/cli.ts) against real trees: the bundled samples, synthetic
 * hosts (test/support/host-tree.ts, doctor-hosts.ts) with the kernel-like fake for the mutating commands,
 * imported listings (--from), libvirt through a stand-in virsh, and error cases. The contract tests run
 * this sequence once with --json (validating each document) and once without (scanning what a person
 * reads for self-references). Not a test file itself.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliRun } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import * as doctorHosts from '../support/doctor-hosts.js';
import { SPEC, debianFiles } from '../apply/helpers.js';
import { pciAddressOf } from '../../src/model/pci-address.js';
import { renderPciHostdevXml } from '../../src/adapters/libvirt/domain-xml.js';
import { RENDER_FORMATS } from '../../src/adapters/render/index.js';
import { knownMessages } from '../../src/core/explain.js';
import { COMMAND_SCHEMAS, type SchemaName } from '../../src/model/reports.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SAMPLES = fs.readdirSync(path.join(REPO, 'samples'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const LISTINGS = path.join(REPO, 'test/fixtures/listings');
const FAKE_VIRSH = path.join(REPO, 'test/adapters/libvirt/fake-virsh.mjs');

export interface Invocation {
  argv: string[];
  env: Record<string, string>;
  /** the schema of a successful document (an `error` document follows the error schema) */
  schema: SchemaName;
  run: CliRun;
}

/** The schema a command's document follows, from the command words in argv. */
export function schemaFor(argv: readonly string[]): SchemaName {
  if (argv.includes('--version')) return 'version';
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['--root', '--sample-host', '--from', '--connect', '--guest', '--rom-bar', '--machine', '--vendor', '--to', '--timeout', '--order', '--uuid', '--format'].includes(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) words.push(a);
  }
  const table = COMMAND_SCHEMAS as Record<string, SchemaName>;
  const two = words.slice(0, 2).join(' ');
  const name = table[two] ?? table[words[0] ?? ''];
  if (!name) throw new Error(`no schema for ${argv.join(' ')}`);
  return name;
}

/** Debian-like boot tooling for the persistent commands (grub, initramfs-tools, Intel CPU). */
const DEBIAN_FILES = debianFiles();

function endpoints(spec: HostSpec): string[] {
  return spec.functions.filter((f) => (f.classCode >> 8) !== 0x0604 && (f.classCode >> 8) !== 0x0600).map((f) => f.address);
}

/**
 * Run the whole sequence; `json` adds --json to every invocation. `visit` sees each one as it finishes.
 * The mutating commands need the kernel-like fake installed as the apply runtime (useFakeApplyRuntime).
 */
export async function runScenarios(json: boolean, visit: (inv: Invocation) => void): Promise<number> {
  let count = 0;
  const temps: string[] = [];
  const cleanups: (() => void)[] = [];
  const run = async (argv: string[], env: Record<string, string> = {}): Promise<CliRun> => {
    const full = json ? [...argv, '--json'] : argv;
    const r = await runCli(full, { env: { NO_COLOR: '1', ...env } });
    count++;
    visit({ argv: full, env, schema: schemaFor(argv), run: r });
    return r;
  };
  const tmp = (prefix: string): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    temps.push(d);
    return d;
  };
  try {
    // ---- this copy: version and self-check
    await run(['--version']);
    await run(['self-check']);

    // ---- the bundled samples: every read-only command, every render format, the dry runs
    for (const s of SAMPLES) {
      const h = ['--sample-host', s];
      const ls = await runCli(['ls', '--json', ...h]);
      const fns = (JSON.parse(ls.stdout) as { functions: { address: string; isBridge: boolean; class: string; sriov: unknown }[] }).functions;
      const eps = fns.filter((f) => !f.isBridge && !f.class.startsWith('06')).map((f) => f.address);
      await run(['ls', ...h]);
      await run(['groups', ...h]);
      for (const f of fns) await run(['show', f.address, ...h]);
      await run(['doctor', ...h]);
      await run(['doctor', '--verbose', ...eps.slice(0, 3), ...h]);
      for (const a of eps) await run(['check', a, ...h]);
      for (const a of eps) await run(['plan', a, ...h]);
      await run(['plan', ...eps.slice(0, 2), '--guest', 'win11', '--exact', '--rom-bar', 'off', '--nested', ...h]);
      for (const fmt of RENDER_FORMATS) await run(['render', fmt, eps[0]!, ...h]);
      await run(['render', 'libvirt', eps[0]!, '--machine', 'pc', ...h]);
      await run(['explain', 'vfio-pci 0000:01:00.0: group 14 is not viable', ...h]);
      await run(['bind', eps[0]!, '--dry-run', ...h]);
      await run(['release', '--all', '--dry-run', ...h]);
      await run(['persist', eps[0]!, '--dry-run', ...h]);
      await run(['persist', eps[0]!, '--by-id', '--dry-run', ...h]);
      await run(['unpersist', '--all', '--dry-run', ...h]);
      await run(['host', 'enable-iommu', '--dry-run', ...h]);
      await run(['host', 'enable-iommu', '--vendor', 'amd', '--no-pt', '--dry-run', ...h]);
      await run(['host', 'disable-iommu', '--dry-run', ...h]);
      await run(['recover', '--dry-run', ...h]);
      await run(['status', ...h]);
      await run(['snapshot', path.join(tmp('vfioctl-contract-snap-'), 'out'), ...h]);
      await run(['snapshot', path.join(tmp('vfioctl-contract-snap-'), 'out.tar.gz'), ...h]);
      // a recorded host refuses changes (an error document)
      await run(['bind', eps[0]!, '--yes', ...h]);
    }
    for (const m of knownMessages()) await run(['explain', m.title, '--no-host']);
    await run(['explain', '--list']);
    await run(['explain', 'nothing vfioctl knows about', '--no-host']);

    // ---- imported listings (--from)
    for (const file of fs.readdirSync(LISTINGS).sort()) {
      const from = ['--from', path.join(LISTINGS, file)];
      const ls = await runCli(['ls', '--json', ...from]);
      const fns = (JSON.parse(ls.stdout) as { functions: { address: string; class: string }[] }).functions;
      const ep = fns.find((f) => f.class.startsWith('03'))?.address ?? fns.find((f) => !f.class.startsWith('06'))!.address;
      await run(['ls', ...from]);
      await run(['groups', ...from]);
      await run(['show', ep, ...from]);
      await run(['plan', ep, ...from]);
      await run(['render', 'libvirt', ep, ...from]);
      await run(['render', 'host-config', ep, ...from]);
    }

    // ---- synthetic doctor hosts: readiness, plans and host configuration on each
    const hosts = [doctorHosts.intelReady, doctorHosts.amdReady, doctorHosts.firmwareOff, doctorHosts.kernelOff, doctorHosts.pendingReboot, doctorHosts.noInterruptRemapping, doctorHosts.unsafeInterrupts, doctorHosts.acsOverride, doctorHosts.vfioBuiltin, doctorHosts.vmWithoutViommu, doctorHosts.vmWithViommu];
    for (const make of hosts) {
      const spec = make();
      const t = makeTempHostTree(spec);
      cleanups.push(t.cleanup);
      const r = ['--root', t.root];
      const ep = endpoints(spec)[0]!;
      await run(['doctor', ...r]);
      await run(['doctor', ep, ...r]);
      await run(['check', ep, '--verbose', ...r]);
      await run(['plan', ep, ...r]);
      await run(['render', 'host-config', ep, ...r]);
      await run(['host', 'enable-iommu', '--dry-run', ...r]);
      await run(['persist', ep, '--by-id', '--dry-run', ...r]);
    }

    // ---- reset policy and mediated devices (kernel-like fake)
    {
      const MDEV = 'sys/devices/pci0000:00/0000:00:06.0/mdev_supported_types/fake-1';
      const spec: HostSpec = { ...SPEC, functions: SPEC.functions.map((f) => (f.address === '0000:02:00.0' ? { ...f, resetMethod: ['flr', 'bus'] } : f)) };
      const t = makeTempHostTree({ ...spec, files: { ...DEBIAN_FILES, [`${MDEV}/name`]: 'fake\n', [`${MDEV}/available_instances`]: '2\n', [`${MDEV}/device_api`]: 'vfio-pci\n', [`${MDEV}/create`]: '' } });
      cleanups.push(t.cleanup);
      const r = ['--root', t.root];
      const u = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001';
      await run(['reset-policy', 'show', ...r]);
      await run(['reset-policy', 'show', '02:00.0', ...r]);
      await run(['reset-policy', 'set', '02:00.0', '--order', 'bus,flr', '--persist', '--dry-run', ...r]);
      await run(['reset-policy', 'set', '02:00.0', '--order', 'bus,flr', '--persist', '--yes', ...r]);
      await run(['reset-policy', 'set', '02:00.0', '--order', 'bus,flr', '--yes', ...r]); // already so
      await run(['reset-policy', 'set', '02:00.0', '--order', 'default', '--persist', '--yes', ...r]);
      await run(['reset-policy', 'set', '02:00.0', '--order', 'bogus', '--yes', ...r]); // error
      await run(['mdev', 'types', ...r]);
      await run(['mdev', 'ls', ...r]);
      await run(['mdev', 'create', '00:06.0', 'fake-1', '--uuid', u, '--persist', '--dry-run', ...r]);
      await run(['mdev', 'create', '00:06.0', 'fake-1', '--uuid', u, '--persist', '--yes', ...r]);
      await run(['mdev', 'ls', ...r]);
      await run(['mdev', 'remove', '--uuid', u, '--persist', '--yes', ...r]);
      await run(['mdev', 'render', u, ...r]);
      await run(['mdev', 'render', u, '--format', 'qemu', ...r]);
      await run(['status', ...r]);
    }

    // ---- a synthetic host changed for real (kernel-like fake): bind, persist, host, sriov, release, recover
    {
      const t = makeTempHostTree({ ...SPEC, files: { ...(SPEC.files ?? {}), ...DEBIAN_FILES } });
      cleanups.push(t.cleanup);
      const r = ['--root', t.root];
      await run(['ls', ...r]);
      await run(['groups', ...r]);
      for (const f of SPEC.functions) await run(['show', f.address, ...r]);
      await run(['doctor', '02:00.0', ...r]);
      await run(['plan', '02:00.0', ...r]);
      await run(['plan', '00:05.0', ...r]); // no IOMMU group: blocked
      await run(['plan', '03:01.0', '--exact', ...r]);
      for (const fmt of RENDER_FORMATS) await run(['render', fmt, '02:00.0', ...r]);
      await run(['status', ...r]);
      await run(['bind', '00:05.0', '--yes', ...r]); // blocked
      await run(['bind', '02:00.0', '--dry-run', ...r]);
      await run(['bind', '02:00.0', ...r]); // no --yes off a terminal: error
      await run(['bind', '02:00.0', '--yes', ...r]);
      await run(['bind', '01:00.0', '--yes', '--persist', ...r]);
      await run(['status', ...r]);
      await run(['status', '--history', ...r]);
      await run(['persist', '02:00.0', '--dry-run', ...r]);
      await run(['persist', '02:00.0', '--yes', ...r]);
      await run(['persist', '02:00.0', '--yes', ...r]); // nothing to change
      await run(['persist', '03:01.0', '--by-id', '--dry-run', ...r]); // another function has the ID: refused
      await run(['unpersist', '02:00.0', '--dry-run', ...r]);
      await run(['unpersist', '--all', '--yes', ...r]);
      await run(['unpersist', '02:00.0', '--yes', ...r]); // not persisted: error
      await run(['host', 'enable-iommu', '--dry-run', ...r]);
      await run(['host', 'enable-iommu', '--allow-unsafe-interrupts', '--dry-run', ...r]);
      await run(['host', 'enable-iommu', '--yes', '--no-regenerate', ...r]);
      await run(['host', 'disable-iommu', '--dry-run', ...r]);
      await run(['host', 'disable-iommu', '--yes', ...r]);
      await run(['host', 'enable-iommu', '--vendor', 'via', '--dry-run', ...r]); // bad vendor: error
      await run(['sriov', 'set', '04:00.0', '2', '--dry-run', ...r]);
      await run(['sriov', 'set', '04:00.0', '2', '--persist', '--dry-run', ...r]);
      await run(['sriov', 'set', '04:00.0', '2', '--yes', ...r]);
      await run(['sriov', 'set', '04:00.0', '2', '--yes', ...r]); // already 2
      await run(['sriov', 'set', '04:00.0', '0', '--yes', '--persist', ...r]);
      await run(['sriov', 'set', '04:00.0', 'many', '--yes', ...r]); // error
      await run(['status', ...r]);
      await run(['persist', '02:00.0', '--acknowledge', '--dry-run', ...r]); // not persisted now: error
      await run(['status', ...r]);
      await run(['release', '--all', '--dry-run', ...r]);
      await run(['release', '02:00.0', '--yes', ...r]);
      await run(['release', '--all', '--yes', ...r]);
      await run(['release', '--all', '--yes', ...r]); // nothing to release
      await run(['release', ...r]); // neither addresses nor --all: error
      await run(['recover', '--dry-run', ...r]);
      await run(['recover', '--yes', ...r]);
      // an interrupted run: status says so (exit 1), recover previews and rolls it back
      fs.mkdirSync(path.join(t.root, 'var/lib/vfioctl'), { recursive: true });
      fs.writeFileSync(path.join(t.root, 'sys/bus/pci/devices/0000:01:00.0/driver_override'), 'vfio-pci\n');
      fs.writeFileSync(path.join(t.root, 'var/lib/vfioctl/journal.json'), JSON.stringify({
        version: 1, runId: 'r1', command: 'bind', args: ['0000:01:00.0'], pid: 2 ** 22 + 5, startedAt: 'then', status: 'running', commit: {},
        steps: [{ seq: 1, type: 'bind', address: '0000:01:00.0', original: { driver: 'e1000e', override: null }, target: { driver: 'vfio-pci', override: 'vfio-pci' }, status: 'started' }],
      }));
      await run(['status', ...r]);
      await run(['bind', '02:00.0', '--yes', ...r]); // refused: an interrupted run
      await run(['recover', '--dry-run', ...r]);
      await run(['recover', '--yes', ...r]);
    }

    // ---- libvirt through the stand-in virsh (and a one-line stand-in for nodedev-dumpxml)
    {
      const t = makeTempHostTree(SPEC);
      cleanups.push(t.cleanup);
      const dir = tmp('vfioctl-contract-virsh-');
      const nic = renderPciHostdevXml({ source: pciAddressOf('0000:01:00.0'), managed: true, guestAddress: { domain: 0, bus: 1, slot: 0, fn: 0, multifunction: false } });
      const unmanaged = renderPciHostdevXml({ source: pciAddressOf('0000:03:01.0'), managed: false });
      const domains = { g: { running: false, config: [nic], live: [] }, r: { running: true, config: [], live: [] }, u: { running: false, config: [unmanaged], live: [] } };
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ domains }));
      const env = { VFIOCTL_VIRSH: FAKE_VIRSH, FAKE_VIRSH_DIR: dir };
      const r = ['--root', t.root];
      await run(['guests', ...r], env);
      await run(['lint', 'g', ...r], env);
      await run(['lint', 'r', '--all', ...r], env);
      await run(['lint', 'u', ...r], env); // an unmanaged hostdev still on its host driver
      await run(['lint', 'nobody', ...r], env); // error
      await run(['attach', 'g', '02:00.0', '--dry-run', ...r], env);
      await run(['attach', 'r', '02:00.0', '--live', '--config', '--dry-run', ...r], env);
      await run(['attach', 'g', '00:05.0', '--yes', ...r], env); // blocked
      await run(['attach', 'g', '01:00.0', '--yes', ...r], env); // already attached: nothing to do
      await run(['attach', 'g', '02:00.0', '--yes', ...r], env);
      await run(['guests', ...r], env);
      await run(['status', ...r], env);
      await run(['detach', 'g', '02:00.0', '--dry-run', ...r], env);
      await run(['detach', 'g', '02:00.1', '--yes', ...r], env);
      await run(['detach', 'g', '02:00.0', '--yes', ...r], env); // not attached any more: error
      await run(['guests', ...r], { VFIOCTL_VIRSH: path.join(dir, 'no-such-virsh') }); // error
      const nodedev = path.join(dir, 'virsh-nodedev');
      fs.writeFileSync(nodedev, `#!/bin/sh\ncat '${path.join(REPO, 'test/golden/libvirt/nodedev-gpu.xml')}'\n`, { mode: 0o755 });
      await run(['nodedev', '01:00.0', ...r], { VFIOCTL_VIRSH: nodedev });
      await run(['nodedev', 'zz:zz', ...r], { VFIOCTL_VIRSH: nodedev }); // error
    }

    // ---- usage and input errors
    await run(['show', '99:00.0', '--sample']);
    await run(['show', '../../etc', '--sample']);
    await run(['render', 'nope', '01:00.0', '--sample']);
    await run(['render', 'libvirt', '01:00.0', '--machine', 'isa', '--sample']);
    await run(['plan', '01:00.0', '--rom-bar', 'sometimes', '--sample']);
    await run(['plan', '01:00.0', '--guest', 'a b', '--sample']);
    await run(['ls', '--sample-host', 'no-such-sample']);
    await run(['ls', '--from', path.join(tmp('vfioctl-contract-'), 'missing.txt')]);
    await run(['ls', '--sample', '--root', '/']);
    await run(['explain', '--no-host']);
  } finally {
    for (const c of cleanups) c();
    for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
  }
  return count;
}
