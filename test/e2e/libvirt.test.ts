/**
 * attach / detach / guests / lint / nodedev against a real libvirt daemon (test/support/libvirtd.ts: a
 * private libvirtd in its own mount namespace, QEMU under TCG).
 *
 * Two views meet here, on purpose: vfioctl's own view of IOMMU groups comes from a synthetic host tree
 * (--root, the desktop-GPU topology) because this machine has no IOMMU, while libvirt's view (guest
 * definitions, node devices, its refusals) comes from the real daemon on the real machine. Results are
 * checked with the daemon's own `virsh dumpxml`, after libvirt's normalization.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startLibvirtd, type Libvirtd } from '../support/libvirtd.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';
import { runCli } from '../support/cli.js';
import { applyRuntime } from '../../src/cli/context.js';
import { expectGoldenOutput } from '../support/golden.js';
import { parseDomainXml, pciHostdevs, renderPciHostdevXml } from '../../src/adapters/libvirt/domain-xml.js';
import { parseNodedevXml } from '../../src/adapters/libvirt/nodedev-xml.js';
import { Virsh, VirshError } from '../../src/adapters/libvirt/virsh.js';
import { pciAddressOf } from '../../src/model/pci-address.js';
import type { Finding } from '../../src/model/finding.js';
import { assertValidLibvirtXml, hasLibvirtValidator, NO_VALIDATOR } from '../support/libvirt-schema.js';

const start = await startLibvirtd();
const skip = start.ok ? false : `no private libvirtd: ${start.skip}`;
if (!start.ok) console.log(`# skipped: ${start.skip}`);

let d: Libvirtd;
let root: string;
let cleanupTree: () => void;

const domainXml = (name: string, machine: string, devices = '') =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
  `<os><type arch='x86_64' machine='${machine}'>hvm</type></os><devices><console type='pty'/>${devices}</devices></domain>`;

function define(xml: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-e2e-'));
  try {
    fs.writeFileSync(path.join(dir, 'd.xml'), xml);
    const r = d.virsh(['define', path.join(dir, 'd.xml')]);
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The persistent definition as libvirt normalized it (oracle). */
function configOf(name: string) {
  const r = d.virsh(['dumpxml', '--inactive', name]);
  assert.equal(r.status, 0, r.stderr);
  const p = parseDomainXml(r.stdout);
  assert.ok(p.ok);
  return { xml: r.stdout, dom: p.value, sources: pciHostdevs(p.value).map((h) => h.source) };
}

// attach and detach change a guest: --yes confirms (they refuse without it when not on a terminal)
const cli = (args: string[]) => runCli(['--root', root, ...args, ...(args[0] === 'attach' || args[0] === 'detach' ? ['--yes'] : []), '--connect', d.uri]);
const ids = (fs: Finding[]) => fs.map((f) => `${f.id}:${f.severity}`);

/** A real node device of this machine that is harmless to reattach (a virtio RNG or balloon), or null. */
function harmlessRealDevice(): string | null {
  const list = d.virsh(['nodedev-list', '--cap', 'pci']).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  for (const name of list) {
    const p = parseNodedevXml(d.virsh(['nodedev-dumpxml', name]).stdout);
    if (p.ok && /RNG|balloon/i.test(p.value.productName ?? '')) return p.value.address;
  }
  return null;
}

const hasIommu = (() => {
  try {
    return fs.readdirSync('/sys/kernel/iommu_groups').length > 0;
  } catch {
    return false;
  }
})();

describe('libvirt end to end', { skip }, () => {
  before(() => {
    if (!start.ok) return;
    d = start.daemon;
    const t = makeTempHostTree(desktopGpu());
    root = t.root;
    cleanupTree = t.cleanup;
    define(domainXml('g-q35', 'q35'));
    define(domainXml('g-pc', 'pc'));
    define(domainXml('g-other', 'q35'));
    assert.equal(d.virsh(['start', 'g-other']).status, 0, 'a guest without host devices runs under TCG');
  });
  after(async () => {
    cleanupTree?.();
    if (start.ok) await d.stop();
  });

  it('guests lists every guest with its state', async () => {
    const r = await cli(['guests', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json<{ guests: { name: string; running: boolean; chipset: string; hostdevs: unknown[] }[] }>();
    assert.deepEqual(j.guests.map((g) => [g.name, g.running, g.chipset]), [['g-other', true, 'q35'], ['g-pc', false, 'i440fx'], ['g-q35', false, 'q35']]);
  });

  it('attach --dry-run shows the whole group in one multifunction slot and changes nothing', async () => {
    // The synthetic host boots from this GPU: host impact blocks it until --force.
    const blocked = await cli(['attach', 'g-q35', '01:00.0', '--dry-run', '--json']);
    assert.equal(blocked.code, 3, blocked.stdout);
    assert.ok(ids(blocked.json<{ plan: { findings: Finding[] } }>().plan.findings).some((x) => x.endsWith(':fail')));
    const r = await cli(['attach', 'g-q35', '01:00.0', '--dry-run', '--force', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = r.json<{ plan: { claim: string[] }; change: { changes: { address: string; guestAddress: { bus: number; slot: number; fn: number; multifunction: boolean } }[]; configDiff: string; commands: string[] } }>();
    assert.deepEqual(j.plan.claim, ['0000:01:00.0', '0000:01:00.1']);
    const [gpu, audio] = j.change.changes;
    assert.equal(gpu!.guestAddress.bus, audio!.guestAddress.bus);
    assert.equal(gpu!.guestAddress.slot, audio!.guestAddress.slot);
    assert.deepEqual([gpu!.guestAddress.fn, gpu!.guestAddress.multifunction, audio!.guestAddress.fn], [0, true, 1]);
    assert.match(j.change.configDiff, /^\+\s+<hostdev mode='subsystem' type='pci' managed='yes'>/m);
    assert.equal(j.change.commands.length, 2);
    assert.deepEqual(configOf('g-q35').sources, []);
  });

  it('attach --config adds the whole group; libvirt stores it as expected (golden after normalization)', async () => {
    const r = await cli(['attach', 'g-q35', '01:00.0', '--config', '--force']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /live migration is off for g-q35/);
    const cfg = configOf('g-q35');
    assert.deepEqual(cfg.sources, ['0000:01:00.0', '0000:01:00.1']);
    const hostdevs = cfg.xml.match(/ *<hostdev[\s\S]*?<\/hostdev>\n/g)?.join('') ?? '';
    expectGoldenOutput('libvirt', 'e2e-q35-attach.hostdevs.xml', hostdevs);
    const [gpu, audio] = pciHostdevs(cfg.dom);
    assert.deepEqual([gpu!.guestAddress?.slot, gpu!.guestAddress?.fn, gpu!.guestAddress?.multifunction, audio!.guestAddress?.fn], [0, 0, true, 1]);
    assert.equal(gpu!.guestAddress?.bus, audio!.guestAddress?.bus);
    // the libvirt suite runs only where libvirt-clients (and so virt-xml-validate) is installed
    assert.ok(hasLibvirtValidator, NO_VALIDATOR);
    assertValidLibvirtXml(cfg.xml);
  });

  it('a duplicate is never added: vfioctl says nothing to do, and libvirt\'s own refusal is explained', async () => {
    const r = await cli(['attach', 'g-q35', '01:00.1', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to do/);
    assert.deepEqual(configOf('g-q35').sources, ['0000:01:00.0', '0000:01:00.1']);
    const v = new Virsh({ uri: d.uri });
    const e = await v.attachDevice('g-q35', renderPciHostdevXml({ source: pciAddressOf('0000:01:00.0'), managed: true }), { live: false, config: true }).catch((x: unknown) => x);
    assert.ok(e instanceof VirshError);
    assert.equal(e.kind, 'duplicate');
    assert.match(e.libvirtMessage, /already in the domain configuration/);
  });

  it('attaching a function another stopped guest lists warns and names that guest; i440fx gets one bus-0 slot', async () => {
    const r = await cli(['attach', 'g-pc', '01:00.0', '--force', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = r.json<{ plan: { findings: Finding[] } }>();
    const f = j.plan.findings.find((x) => x.id === 'assigned-to-other-guest');
    assert.ok(f, JSON.stringify(ids(j.plan.findings)));
    assert.equal(f.severity, 'warn');
    assert.match(f.summary, /g-q35/);
    const cfg = configOf('g-pc');
    assert.deepEqual(cfg.sources, ['0000:01:00.0', '0000:01:00.1']);
    const [gpu, audio] = pciHostdevs(cfg.dom);
    assert.equal(gpu!.guestAddress?.bus, 0);
    assert.equal(gpu!.guestAddress?.slot, audio!.guestAddress?.slot);
  });

  it('a function held by a running guest is refused (exit 3) and nothing changes', async () => {
    // g-other runs (no devices, TCG); give its persistent definition the NVMe controller.
    const frag = renderPciHostdevXml({ source: pciAddressOf('0000:02:00.0'), managed: true });
    await new Virsh({ uri: d.uri }).attachDevice('g-other', frag, { live: false, config: true });
    const r = await cli(['attach', 'g-q35', '02:00.0', '--force', '--json']);
    assert.equal(r.code, 3, r.stdout);
    const j = r.json<{ plan: { verdict: string; findings: Finding[] } }>();
    assert.equal(j.plan.verdict, 'blocked');
    const f = j.plan.findings.find((x) => x.id === 'assigned-to-running-guest');
    assert.ok(f);
    assert.match(f.summary, /g-other/);
    assert.deepEqual(configOf('g-q35').sources, ['0000:01:00.0', '0000:01:00.1']);
  });

  it('lint: a sound q35 guest gets warnings only; half a group fails (exit 3)', async () => {
    const r = await cli(['lint', 'g-q35', '--json']);
    assert.equal(r.code, 0, r.stdout);
    const f = r.json<{ findings: Finding[] }>().findings;
    const got = ids(f);
    for (const want of ['machine-q35:ok', 'group-complete:ok', 'firmware-bios:warn', 'nvidia-hidden-kvm:warn', 'hostdev-shared:warn', 'migration-blocked:info', 'hostdev-count:ok']) {
      assert.ok(got.includes(want), `${want} missing from ${got.join(' ')}`);
    }
    define(domainXml('g-half', 'pc', renderPciHostdevXml({ source: pciAddressOf('0000:03:00.0'), managed: true }) + renderPciHostdevXml({ source: pciAddressOf('0000:00:1f.3'), managed: true })));
    const half = await cli(['lint', 'g-half', '--json']);
    assert.equal(half.code, 3, half.stdout);
    const hf = half.json<{ findings: Finding[] }>().findings;
    const inc = hf.filter((x) => x.id === 'group-incomplete');
    assert.deepEqual(inc.map((x) => x.subjects), [['0000:00:1f.4']], 'the SMBus function of group 8 stays on i801_smbus');
    assert.ok(ids(hf).includes('machine-i440fx:info'));
    const human = await cli(['lint', 'g-half']);
    assert.match(human.stdout, /FAIL.*IOMMU group 8 is only partly assigned/);
  });

  it('detach --config takes the whole group back out; detaching again is an error', async () => {
    const r = await cli(['detach', 'g-q35', '01:00.0', '--config']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /01:00\.1 detached as well: same IOMMU group/);
    assert.deepEqual(configOf('g-q35').sources, []);
    const again = await cli(['detach', 'g-q35', '01:00.0', '--json']);
    assert.equal(again.code, 1);
    assert.equal(again.json<{ error: { code: string } }>().error.code, 'not-attached');
  });

  it('detach of an unmanaged hostdev gives the function back to the host (nodedev-reattach)', async (t) => {
    const real = harmlessRealDevice();
    if (!real) return t.skip('no virtio RNG or balloon on this machine to reattach safely');
    define(domainXml('g-unmanaged', 'q35', renderPciHostdevXml({ source: pciAddressOf(real), managed: false })));
    const r = await cli(['detach', 'g-unmanaged', real, '--exact', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = r.json<{ result: { done: string[]; reattached: string[] } }>();
    assert.deepEqual(j.result.done, [real]);
    assert.deepEqual(j.result.reattached, [real]);
    assert.deepEqual(configOf('g-unmanaged').sources, []);
  });

  it('without an IOMMU, libvirt refuses device assignment and vfioctl explains why', { skip: hasIommu ? 'this machine has an IOMMU' : false }, async () => {
    const real = harmlessRealDevice() ?? '0000:00:00.0';
    const v = new Virsh({ uri: d.uri });
    const e = await v.nodedevDetach(`pci_${real.replace(/[:.]/g, '_')}`).catch((x: unknown) => x);
    assert.ok(e instanceof VirshError, String(e));
    assert.equal(e.kind, 'no-iommu');
    assert.match(e.libvirtMessage, /VFIO device assignment is currently not supported on this system/);
    assert.match(e.remedy ?? '', /IOMMU/);
    // Hotplug into the running guest: libvirt refuses; nothing is left behind.
    const r = await cli(['attach', 'g-other', '03:00.0', '--live', '--force']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /host doesn't support passthrough of host PCI devices/);
    assert.match(r.stderr, /remedy: .*IOMMU/);
    const live = parseDomainXml(d.virsh(['dumpxml', 'g-other']).stdout);
    assert.ok(live.ok);
    assert.deepEqual(pciHostdevs(live.value).map((h) => h.source), []);
  });

  it('nodedev: libvirt\'s name, group and driver agree with sysfs on the live machine; a synthetic root does not know the device', async () => {
    const real = harmlessRealDevice();
    const addr = real ?? d.virsh(['nodedev-list', '--cap', 'pci']).stdout.split('\n')[0]!.trim().replace(/^pci_(\w{4})_(\w\w)_(\w\w)_(\w)$/, '$1:$2:$3.$4');
    const live = await runCli(['--root', '/', 'nodedev', addr, '--json', '--connect', d.uri]);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    const j = live.json<{ name: string; address: string; nodedev: { iommuGroup: { number: number } | null; driver: string | null }; crossCheck: Finding[] }>();
    assert.equal(j.address, addr);
    assert.equal(j.name, `pci_${addr.replace(/[:.]/g, '_')}`);
    assert.deepEqual(ids(j.crossCheck), ['nodedev-agrees:ok']);
    // Independent reading of the same facts from sysfs.
    const groupLink = (() => {
      try {
        return Number(path.basename(fs.readlinkSync(`/sys/bus/pci/devices/${addr}/iommu_group`)));
      } catch {
        return null;
      }
    })();
    assert.equal(j.nodedev.iommuGroup?.number ?? null, groupLink);
    // Against the synthetic root (another machine): the address is unknown there, or another device.
    const synthetic = await cli(['nodedev', addr, '--json']);
    const sj = synthetic.json<{ crossCheck: Finding[] }>();
    if (fs.existsSync(path.join(root, 'sys/bus/pci/devices', addr))) {
      assert.equal(synthetic.code, 3);
      assert.ok(ids(sj.crossCheck).includes('nodedev-id-mismatch:fail'), ids(sj.crossCheck).join(' '));
    } else {
      assert.deepEqual(ids(sj.crossCheck), ['nodedev-missing-in-sysfs:warn']);
    }
  });

  it('a SIGKILL between the two attach-device calls of a group is undone by `vfioctl recover` (journal, real libvirtd)', async () => {
    define(domainXml('g-crash', 'q35'));
    const original = configOf('g-crash');
    // virsh as usual, except that the second attach-device kills vfioctl (its parent) before it runs
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-e2e-'));
    try {
      const wrapper = path.join(dir, 'virsh');
      fs.writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" attach-device "*)\n  n=$(($(cat ${dir}/n 2>/dev/null || echo 0) + 1)); echo $n > ${dir}/n\n  if [ $n = 2 ]; then kill -KILL $PPID; exit 1; fi ;;\nesac\nexec /usr/bin/virsh "$@"\n`, { mode: 0o755 });
      const child = path.join(import.meta.dirname, '../apply/libvirt-child.ts');
      const r = spawnSync(process.execPath, ['--import', 'tsx', child, '--root', root, 'attach', 'g-crash', '01:00.0', '--config', '--force', '--yes', '--connect', d.uri], {
        encoding: 'utf8',
        env: { ...process.env, VFIOCTL_VIRSH: wrapper },
      });
      assert.equal(r.signal, 'SIGKILL', r.stdout + r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(configOf('g-crash').sources, ['0000:01:00.0'], 'half the group was left attached');
    const st = await runCli(['--root', root, 'status', '--json']);
    assert.equal(st.code, 1);
    assert.equal(st.json<{ interrupted: { libvirt: { guest: string; uri: string } } }>().interrupted.libvirt.uri, d.uri);
    // no --connect: recover talks to the daemon the journal recorded, with the real virsh (the tree stands
    // for the running system here; under any other root a journal does not choose the connection)
    applyRuntime.liveRoots.add(root);
    const rec = await runCli(['--root', root, 'recover', '--yes', '--json']);
    assert.equal(rec.code, 0, rec.stdout + rec.stderr);
    assert.equal(rec.json<{ action: string }>().action, 'rolled-back');
    const after = configOf('g-crash');
    assert.deepEqual(after.sources, []);
    // Byte for byte the same definition, except the empty pcie-root-port libvirt added for the hostdevs'
    // guest bus: libvirt keeps an auto-added controller when the device behind it is detached.
    const rootPorts = /^ *<controller type='pci' index='\d+' model='pcie-root-port'>[\s\S]*?<\/controller>\n/gm;
    assert.equal(after.xml.replace(rootPorts, ''), original.xml.replace(rootPorts, ''));
    assert.equal((after.xml.match(rootPorts) ?? []).length, (original.xml.match(rootPorts) ?? []).length + 1);
    assert.equal((await runCli(['--root', root, 'status'])).code, 0);
  });

  it('unknown guest and bad address are clear errors', async () => {
    const r = await cli(['lint', 'nosuch']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no guest named "nosuch"/);
    const bad = await cli(['attach', 'g-q35', '../../etc']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a PCI address/);
  });
});
