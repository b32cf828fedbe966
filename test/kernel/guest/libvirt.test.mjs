// The guides' procedures end to end on a real kernel (emulated VT-d): a real libvirt daemon in this L1
// guest (the host's libvirtd from the 9p /usr, test/kernel/guest/lib/libvirt.mjs) starts L2 guests (a
// tiny kernel + busybox initramfs that prints its PCI functions to its serial console) with devices
// vfioctl planned. The oracles are independent of src/: sysfs (drivers), libvirt's own XML (virsh
// dumpxml / nodedev-dumpxml) and what the L2 guest itself prints.
//
// The tests run in order and share one daemon; each leaves the devices on their host drivers. An L2 boot
// takes minutes here (TCG inside TCG): the managed and live cases wait on its console; the others read the
// L2 machine's PCI buses from QEMU's monitor (`info pci`, once the L2 firmware has numbered them).
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  vfioctl, driverOf, groupOf, kernelGroups, multifunctionBoundGroup, singletonBoundEndpoint, hexAttr, modprobe, saveResult, waitFor, pciAddresses, VFIOCTL,
} from './lib/guest.mjs';
import {
  startLibvirtd, startDefaultNetwork, DEFAULT_BRIDGE, saveCapsCache, virsh, virshOk, l2DomainXml, defineXml, hostdevXml, waitListing, domstate, hostdevSources, env, timing, URI,
} from './lib/libvirt.mjs';

let daemon;
/** What startDefaultNetwork gave: { seconds }, { gap } (this machine lacks a piece) or { error }. */
let network = { gap: 'the setup did not get to the network' };
const errors = [];
const started = Date.now();

/** A line in /results/progress.txt (readable on the host while the boot runs). */
function progress(line) {
  appendFileSync('/results/progress.txt', `${((Date.now() - started) / 1000).toFixed(1)} s ${line}\n`);
}

/** VFIOCTL_LIBVIRT_ONLY (a regular expression, from the host's VFIOCTL_KERNEL_LIBVIRT_TESTS) picks tests. */
const only = process.env.VFIOCTL_LIBVIRT_ONLY ? new RegExp(process.env.VFIOCTL_LIBVIRT_ONLY) : null;

/** node:test's test, with its start, end and error in progress.txt. */
function test(name, fn) {
  const skip = only && !only.test(name) ? `not selected by VFIOCTL_KERNEL_LIBVIRT_TESTS=${only.source}` : false;
  return nodeTest(name, { skip }, async (t) => {
    progress(`START ${name}`);
    try {
      await fn(t);
      progress(`PASS ${name}`);
    } catch (e) {
      progress(`FAIL ${name}: ${String(e?.stack ?? e).slice(0, 3000)}`);
      throw e;
    }
  });
}

/** vfioctl with the daemon's URI in the environment (as a user with LIBVIRT_DEFAULT_URI set). */
function vf(args, opts = {}) {
  process.env.LIBVIRT_DEFAULT_URI = URI;
  // a mutating command makes a dozen virsh calls: minutes on a busy machine under TCG
  return vfioctl(args, { timeoutMs: 900_000, ...opts });
}

const idOf = (a) => `${hexAttr(a, 'vendor').padStart(4, '0')}:${hexAttr(a, 'device').padStart(4, '0')}`;
const nodedevName = (a) => `pci_${a.replace(/[:.]/g, '_')}`;
const since = (t0) => (Date.now() - t0) / 1000;

async function backOnHost(addrs, drivers) {
  for (const [i, a] of addrs.entries()) {
    const ok = await waitFor(() => driverOf(a) === drivers[i], 30_000, 200);
    assert.ok(ok, `${a} is on ${driverOf(a)}, not back on ${drivers[i]}`);
  }
}

/**
 * The vendor:device IDs on the PCI buses of an L2 QEMU (its monitor's `info pci`; works while paused), and
 * each function's QEMU device id (libvirt's alias: hostdev0, net0...).
 */
function qemuPciIds(name) {
  const out = virshOk(['qemu-monitor-command', name, '--hmp', 'info pci']);
  const devices = out.split(/^\s*Bus\s/m).map((b) => ({ id: /PCI device ([0-9a-f]{4}:[0-9a-f]{4})/.exec(b)?.[1], qdev: /\bid "([^"]*)"/.exec(b)?.[1] ?? '' })).filter((d) => d.id);
  return { out, ids: devices.map((d) => d.id), devices };
}

/** The command line of a domain's QEMU (from libvirt's pid file). */
function qemuCmdline(name) {
  const pid = readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim();
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

/**
 * Wait until the L2 machine's PCI buses show `id`: QEMU's `info pci` lists devices behind a root port only
 * once the L2 firmware has numbered the buses (a few seconds of L2 time), so the domain runs, unpaused.
 */
async function waitQemuPci(name, id, ms = 600_000, { qdev = null } = {}) {
  const end = Date.now() + ms;
  for (;;) {
    let pci = { ids: [], devices: [], out: '' };
    try {
      pci = qemuPciIds(name);
    } catch (e) {
      pci.out = String(e); // not defined or not running yet
    }
    if (qdev ? pci.devices.some((d) => d.id === id && qdev.test(d.qdev)) : pci.ids.includes(id)) return pci;
    if (Date.now() > end) throw new Error(`the L2 machine ${name} shows no ${id}${qdev ? ` with a device id matching ${qdev}` : ''} after ${ms} ms:\n${pci.out}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

function liveXml(name) {
  return virshOk(['dumpxml', name]);
}

function inactiveXml(name) {
  return virshOk(['dumpxml', '--inactive', name]);
}

/** Each endpoint's host driver at the start: what every test must give the devices back to. */
const hostDriver = new Map();

before(async () => {
  for (const a of pciAddresses()) hostDriver.set(a, driverOf(a));
  modprobe('vfio-pci');
  const t0 = Date.now();
  daemon = await startLibvirtd();
  progress('libvirtd ready');
  timing(`libvirtd ready (${daemon.restoredCaps ? 'capability cache of the last boot' : 'no capability cache'})`, since(t0));
  // The first define probes QEMU's capabilities (slow under TCG): measure it on its own.
  const t1 = Date.now();
  virshOk(['domcapabilities', '--virttype', 'qemu', '--machine', 'q35']);
  timing('virsh domcapabilities', since(t1));
  saveCapsCache();
  // the network virt-install's NIC joins; a failure here fails the virt-install case, not every case
  try {
    network = startDefaultNetwork();
    if (network.seconds !== undefined) timing('network "default" (bridge) started', network.seconds);
  } catch (e) {
    network = { error: String(e?.message ?? e) };
  }
  progress(`network "default": ${JSON.stringify(network)}`);
});

after(async () => {
  if (daemon) await daemon.stop();
  saveResult('libvirt-errors.json', errors);
});

test('nodedev: virsh nodedev-list/nodedev-dumpxml agree with vfioctl ls and groups; vfioctl nodedev names them', () => {
  const names = virshOk(['nodedev-list', '--cap', 'pci']).split('\n').map((s) => s.trim()).filter(Boolean).sort();
  assert.deepEqual(names, pciAddresses().map(nodedevName).sort(), 'libvirt lists every PCI function of the kernel');
  const ls = vf(['ls', '--json']);
  assert.equal(ls.status, 0, ls.stderr);
  const groups = vf(['groups', '--json']);
  assert.equal(groups.status, 0, groups.stderr);
  const groupOfAddr = new Map();
  for (const g of groups.json.groups) for (const m of g.members) groupOfAddr.set(m.address, g.id);
  const dumps = {};
  for (const f of ls.json.functions) {
    const a = f.address;
    const xml = virshOk(['nodedev-dumpxml', nodedevName(a)]);
    dumps[a] = xml;
    const el = (tag) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
    // the function's own address: decimal element text
    const [dom, bus, slot, fn] = a.split(/[:.]/).map((x) => parseInt(x, 16));
    assert.deepEqual([el('domain'), el('bus'), el('slot'), el('function')].map(Number), [dom, bus, slot, fn], `decimal address of ${a}`);
    assert.equal(/<vendor id='0x([0-9a-f]{4})'/.exec(xml)?.[1], f.vendorId, `vendor of ${a}`);
    assert.equal(/<product id='0x([0-9a-f]{4})'/.exec(xml)?.[1], f.deviceId, `product of ${a}`);
    assert.equal(Number(el('class')), parseInt(f.class, 16), `class of ${a}`);
    assert.equal(/<driver>\s*<name>([^<]+)<\/name>/.exec(xml)?.[1] ?? null, f.driver, `driver of ${a}`);
    const g = /<iommuGroup number='(\d+)'>([\s\S]*?)<\/iommuGroup>/.exec(xml);
    assert.ok(g, `no iommuGroup in ${nodedevName(a)}`);
    assert.equal(Number(g[1]), f.iommuGroup, `group of ${a} (vfioctl ls)`);
    assert.equal(Number(g[1]), groupOfAddr.get(a), `group of ${a} (vfioctl groups)`);
    // group members: hex attributes
    const members = [...g[2].matchAll(/<address domain='0x([0-9a-f]+)' bus='0x([0-9a-f]+)' slot='0x([0-9a-f]+)' function='0x([0-9a-f]+)'/g)]
      .map((m) => `${m[1].padStart(4, '0')}:${m[2].padStart(2, '0')}:${m[3].padStart(2, '0')}.${m[4]}`).sort();
    assert.deepEqual(members, kernelGroups().get(groupOf(a)), `members of group ${g[1]}`);
  }
  saveResult('nodedev-dumps.json', dumps);
  // vfioctl nodedev on a few kinds: a singleton, a multifunction member, a bridge
  const samples = [singletonBoundEndpoint(), multifunctionBoundGroup()?.[1], ls.json.functions.find((f) => f.isBridge)?.address].filter(Boolean);
  for (const [i, a] of samples.entries()) {
    // the three spellings once; one each for the others (a vfioctl run takes seconds under TCG)
    for (const form of i === 0 ? [a, a.slice(5), nodedevName(a)] : [a]) {
      const r = vf(['nodedev', form, '--json']);
      assert.equal(r.status, 0, `vfioctl nodedev ${form}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json.name, nodedevName(a));
      assert.equal(r.json.address, a);
      assert.equal(r.json.nodedev.iommuGroup?.number, groupOf(a));
      assert.equal(r.json.nodedev.driver, driverOf(a));
      assert.deepEqual(r.json.crossCheck.map((c) => `${c.id}:${c.severity}`), ['nodedev-agrees:ok'], JSON.stringify(r.json.crossCheck));
    }
  }
});

test("managed='yes': vfioctl attach --config on a whole group, virsh start detaches it, L2 sees it, virsh destroy gives it back", async () => {
  const members = multifunctionBoundGroup();
  assert.ok(members, 'the topology has a multifunction group');
  const drivers = members.map((m) => hostDriver.get(m));
  assert.equal(defineXml('l2-managed', l2DomainXml({ name: 'l2-managed', hold: true })).status, 0);
  const r = vf(['attach', 'l2-managed', members[0], '--config', '--yes', '--json']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(r.json.plan.claim, members, 'the whole group is claimed');
  const cfg = inactiveXml('l2-managed');
  assert.deepEqual(hostdevSources(cfg), members);
  assert.equal((cfg.match(/managed='yes'/g) ?? []).length, members.length);
  // nothing moved yet: managed='yes' detaches at start
  assert.deepEqual(members.map(driverOf), drivers);
  const t0 = Date.now();
  const start = virsh(['start', 'l2-managed']);
  assert.equal(start.status, 0, start.stderr);
  timing('managed: virsh start', since(t0));
  for (const m of members) assert.equal(driverOf(m), 'vfio-pci', `${m} was not detached by libvirt`);
  const listing = await waitListing('l2-managed', 0);
  timing('managed: L2 boot to listing', since(t0));
  const ids = listing.map((l) => l.id);
  for (const m of members) assert.ok(ids.includes(idOf(m)), `L2 does not see ${idOf(m)} (${m}): ${JSON.stringify(listing)}`);
  assert.equal(ids.filter((i) => i === idOf(members[0])).length, members.length, 'L2 sees every function of the group');
  const d = virsh(['destroy', 'l2-managed']);
  assert.equal(d.status, 0, d.stderr);
  await backOnHost(members, drivers);
});

test('half a group: vfioctl attach --exact refuses; a hand-written half-group domain fails in libvirt with the message vfioctl explain explains', async () => {
  const members = multifunctionBoundGroup();
  const drivers = members.map((m) => hostDriver.get(m));
  const group = groupOf(members[0]);
  assert.equal(defineXml('l2-half', l2DomainXml({ name: 'l2-half' })).status, 0);
  const r = vf(['attach', 'l2-half', members[0], '--exact', '--config', '--yes', '--json']);
  assert.equal(r.status, 3, `vfioctl attach --exact of half a group: ${r.stdout}${r.stderr}`);
  assert.deepEqual(hostdevSources(inactiveXml('l2-half')), [], 'nothing was attached');
  // hand-written: only the first function
  virshOk(['undefine', 'l2-half']);
  const hand = defineXml('l2-half', l2DomainXml({ name: 'l2-half', devices: hostdevXml(members[0], true) }));
  assert.equal(hand.status, 0, hand.stderr);
  const s = virsh(['start', 'l2-half']);
  errors.push({ case: 'half group start', status: s.status, stderr: s.stderr });
  assert.notEqual(s.status, 0, 'libvirt started a guest with half a group');
  assert.notEqual(domstate('l2-half'), 'running');
  assert.match(s.stderr, new RegExp(`group ${group} is not viable`), s.stderr);
  const ex = vf(['explain', '--json', s.stderr]);
  assert.equal(ex.status, 0, ex.stdout + ex.stderr);
  const ids = ex.json.matches.map((m) => m.id);
  assert.ok(ids.includes('group-not-viable'), `explain does not recognise libvirt's message: ${ids.join(', ')}\n${s.stderr}`);
  const gm = ex.json.matches.find((m) => m.id === 'group-not-viable');
  assert.match(gm.cause, new RegExp(`group ${group}\\b`));
  // libvirt gave the function back when the start failed
  await backOnHost(members, drivers);
  virsh(['undefine', 'l2-half']);
});

test("unmanaged (managed='no'): vfioctl bind, attach unmanaged, start, destroy, vfioctl detach gives the function back", async () => {
  const a = singletonBoundEndpoint();
  assert.ok(a);
  const driver = hostDriver.get(a);
  const b = vf(['bind', a, '--yes', '--json']);
  assert.equal(b.status, 0, b.stdout + b.stderr);
  assert.equal(driverOf(a), 'vfio-pci');
  assert.equal(defineXml('l2-unmanaged', l2DomainXml({ name: 'l2-unmanaged' })).status, 0);
  // the guide's hand-written unmanaged hostdev, added the way the guide does (virsh attach-device --config)
  writeFileSync('/tmp/hostdev-unmanaged.xml', hostdevXml(a, false));
  virshOk(['attach-device', 'l2-unmanaged', '/tmp/hostdev-unmanaged.xml', '--config']);
  // the L2 machine's PCI buses (QEMU's monitor) show the device once its firmware ran: no need to wait for
  // the L2 kernel, which takes minutes here
  const t0 = Date.now();
  const start = virsh(['start', 'l2-unmanaged']);
  assert.equal(start.status, 0, start.stderr);
  timing('unmanaged: virsh start', since(t0));
  await waitQemuPci('l2-unmanaged', idOf(a));
  timing('unmanaged: start to the device on the L2 PCI bus', since(t0));
  assert.deepEqual(hostdevSources(liveXml('l2-unmanaged')), [a]);
  virshOk(['destroy', 'l2-unmanaged']);
  assert.equal(domstate('l2-unmanaged'), 'shut off');
  assert.equal(driverOf(a), 'vfio-pci', "libvirt must not reattach a managed='no' device");
  const d = vf(['detach', 'l2-unmanaged', a, '--config', '--yes', '--json']);
  assert.equal(d.status, 0, d.stdout + d.stderr);
  assert.deepEqual(d.json.result.reattached, [a]);
  assert.deepEqual(hostdevSources(inactiveXml('l2-unmanaged')), []);
  await backOnHost([a], [driver]);
});

/**
 * What the rendered virt-install command needs from the machine beyond vfioctl's part: qemu-img (its new
 * disk is qcow2) and a libvirt network named "default" (it adds a NIC on it; the setup defines one on a
 * bridge, which needs ip(8) and the bridge and tun modules). Null when both are there.
 */
function virtInstallGap() {
  if (!existsSync('/usr/bin/qemu-img')) return "no /usr/bin/qemu-img (package qemu-utils): libvirt says \"creation of non-raw file images is not supported without qemu-img\" for virt-install's qcow2 disk";
  if (network.gap) return `no libvirt network "default" in the guest (${network.gap}): virt-install says "Network not found: no network with matching name 'default'"`;
  return null;
}

test('virt-install: the command vfioctl render virt-install prints, run as printed, creates a guest that starts with the device', async (t) => {
  const a = singletonBoundEndpoint();
  const driver = hostDriver.get(a);
  const r = vf(['render', 'virt-install', a, '--guest', 'l2-vi'], { json: false });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`--host-device=${nodedevName(a)}\\b`));
  saveResult('virt-install.sh', r.stdout);
  const gap = virtInstallGap();
  if (gap) return t.skip(`cannot run the rendered command here: ${gap}`);
  assert.ok(!network.error, `the network "default" did not start: ${network.error}`);
  assert.equal(virsh(['net-info', 'default']).status, 0, 'no libvirt network "default"');
  const script = '/tmp/virt-install.sh';
  writeFileSync(script, r.stdout);
  chmodSync(script, 0o755);
  const t0 = Date.now();
  // without a graphical console virt-install waits for the guest to shut down (--wait -1): it is stopped
  // once the guest runs with the device
  const vi = spawn('/bin/sh', [script], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  vi.stdout.on('data', (d) => (out += d));
  vi.stderr.on('data', (d) => (out += d));
  // virt-install that exits before the device shows (an error) fails the case at once, with its output
  let exited = false;
  const failed = new Promise((_, reject) => vi.on('close', (code, signal) => {
    exited = true;
    if (code !== 0) reject(new Error(`virt-install exited ${code ?? signal} before the device showed on the L2 PCI bus:\n${out.slice(-4000)}`));
  }));
  failed.catch(() => {}); // settled by the race below; an exit after it is the kill in finally
  try {
    // the assigned function by its libvirt alias: virt-install's NIC can be the same model (e1000e)
    const pci = await Promise.race([waitQemuPci('l2-vi', idOf(a), 900_000, { qdev: /^hostdev\d+$/ }), failed]);
    timing('virt-install: to the device on the L2 PCI bus', since(t0));
    saveResult('virt-install-info-pci.txt', pci.out);
    assert.equal(domstate('l2-vi'), 'running');
    const live = liveXml('l2-vi');
    saveResult('virt-install-domain.xml', live);
    assert.deepEqual(hostdevSources(live), [a]);
    assert.equal(driverOf(a), 'vfio-pci');
    // the NIC virt-install added is on the network "default": its tap device is a port of the bridge
    const nic = /<interface type='(?:bridge|network)'>[\s\S]*?<source network='default'[\s\S]*?<target dev='([^']+)'/.exec(live);
    assert.ok(nic, `no NIC on the network "default" in the domain virt-install created:\n${live}`);
    assert.equal(basename(realpathSync(`/sys/class/net/${nic[1]}/master`)), DEFAULT_BRIDGE, `${nic[1]} is not a port of ${DEFAULT_BRIDGE}`);
  } finally {
    if (!exited) vi.kill('SIGKILL');
    saveResult('virt-install.out', out);
    virsh(['destroy', 'l2-vi']);
    virsh(['undefine', 'l2-vi', '--remove-all-storage']);
  }
  await backOnHost([a], [driver]);
});

test('journal: a SIGKILL between the two attach-device calls of a group (real daemon, real group) is undone by vfioctl recover', async () => {
  const members = multifunctionBoundGroup();
  const drivers = members.map((m) => hostDriver.get(m));
  assert.equal(defineXml('l2-crash', l2DomainXml({ name: 'l2-crash' })).status, 0);
  const before = inactiveXml('l2-crash');
  const dir = '/tmp/kill-virsh';
  spawnSync('mkdir', ['-p', dir]);
  const wrapper = join(dir, 'virsh');
  // virsh as usual, except that the second attach-device kills vfioctl (its parent) before it runs
  writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" attach-device "*)\n  n=$(($(cat ${dir}/n 2>/dev/null || echo 0) + 1)); echo $n > ${dir}/n\n  if [ $n = 2 ]; then kill -KILL $PPID; exit 1; fi ;;\nesac\nexec /usr/bin/virsh "$@"\n`);
  chmodSync(wrapper, 0o755);
  const r = spawnSync(process.execPath, [VFIOCTL, 'attach', 'l2-crash', members[0], '--config', '--yes'], {
    encoding: 'utf8', env: { ...env(), VFIOCTL_VIRSH: wrapper, NO_COLOR: '1' }, timeout: 300_000,
  });
  assert.equal(r.signal, 'SIGKILL', r.stdout + r.stderr);
  assert.deepEqual(hostdevSources(inactiveXml('l2-crash')), [members[0]], 'half the group was left attached');
  const st = vf(['status', '--json']);
  assert.equal(st.status, 1, st.stdout);
  assert.equal(st.json.interrupted.libvirt.guest, 'l2-crash');
  const busy = vf(['attach', 'l2-crash', members[0], '--config', '--yes', '--json']);
  assert.notEqual(busy.status, 0, 'another mutating command refuses while the journal is open');
  const t0 = Date.now();
  const rec = vf(['recover', '--yes', '--json']);
  timing('journal: recover', since(t0));
  errors.push({ case: 'recover', status: rec.status, stdout: rec.stdout, stderr: rec.stderr });
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  assert.equal(rec.json.action, 'rolled-back');
  const after = inactiveXml('l2-crash');
  assert.deepEqual(hostdevSources(after), []);
  // libvirt keeps the pcie-root-port it added for the hostdev's bus (docs/libvirt.md, Limits)
  const rootPorts = /^ *<controller type='pci' index='\d+' model='pcie-root-port'>[\s\S]*?<\/controller>\n/gm;
  assert.equal(after.replace(rootPorts, ''), before.replace(rootPorts, ''));
  assert.deepEqual(members.map(driverOf), drivers, 'a --config change moves no driver');
  assert.equal(vf(['status', '--json']).status, 0);
  virsh(['undefine', 'l2-crash']);
});

test("vIOMMU: vfioctl render libvirt --nested (<iommu model='intel'>, <ioapic driver='qemu'/>) is accepted and started by libvirt", async () => {
  const a = singletonBoundEndpoint();
  const driver = hostDriver.get(a);
  const r = vf(['render', 'libvirt', a, '--nested', '--guest', 'l2-nested'], { json: false });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  saveResult('render-libvirt-nested.xml', r.stdout);
  const parts = r.stdout.split(/<!-- vfioctl: add inside <(devices|features)>[^>]*-->\n/);
  const devices = parts[parts.indexOf('devices') + 1] ?? '';
  const features = parts[parts.indexOf('features') + 1] ?? '';
  assert.match(devices, /<iommu model='intel'>/);
  assert.match(features, /<ioapic driver='qemu'\/>/);
  const def = defineXml('l2-nested', l2DomainXml({ name: 'l2-nested', devices, features, cmdline: 'intel_iommu=on' }));
  errors.push({ case: 'nested define', status: def.status, stderr: def.stderr });
  assert.equal(def.status, 0, def.stderr);
  const cfg = inactiveXml('l2-nested');
  assert.match(cfg, /<iommu model='intel'>/);
  assert.match(cfg, /<ioapic driver='qemu'\/>/);
  const t0 = Date.now();
  const s = virsh(['start', 'l2-nested']);
  errors.push({ case: 'nested start', status: s.status, stderr: s.stderr });
  assert.equal(s.status, 0, s.stderr);
  timing('nested: virsh start', since(t0));
  const argv = qemuCmdline('l2-nested');
  saveResult('nested-qemu-cmdline.txt', argv.join(' '));
  assert.ok(argv.some((w) => /intel-iommu/.test(w) && /intremap/.test(w) && /caching-mode/.test(w)), `no intel-iommu with intremap and caching-mode: ${argv.join(' ')}`);
  assert.ok(argv.some((w) => /kernel.irqchip.split|kernel-irqchip.split/.test(w)), `no split irqchip (<ioapic driver='qemu'/>): ${argv.join(' ')}`);
  await waitQemuPci('l2-nested', idOf(a));
  timing('nested: start to the device on the L2 PCI bus', since(t0));
  assert.equal(driverOf(a), 'vfio-pci');
  virshOk(['destroy', 'l2-nested']);
  await backOnHost([a], [driver]);
});

test('live: vfioctl attach --live hotplugs into a running L2 (pcie-root-port), vfioctl detach --live unplugs it; the host gets it back', async () => {
  const a = singletonBoundEndpoint();
  const driver = hostDriver.get(a);
  assert.equal(defineXml('l2-live', l2DomainXml({ name: 'l2-live', hold: true, spareRootPorts: 3 })).status, 0);
  const t0 = Date.now();
  virshOk(['start', 'l2-live']);
  const first = await waitListing('l2-live', 0);
  timing('live: L2 boot to listing', since(t0));
  assert.ok(!first.some((l) => l.id === idOf(a)));
  const t1 = Date.now();
  const at = vf(['attach', 'l2-live', a, '--live', '--yes', '--json']);
  assert.equal(at.status, 0, at.stdout + at.stderr);
  assert.equal(driverOf(a), 'vfio-pci');
  const plugged = await waitListing('l2-live', 1);
  timing('live: hotplug seen by L2', since(t1));
  assert.ok(plugged.some((l) => l.id === idOf(a)), `L2 did not see the hotplugged ${idOf(a)}: ${JSON.stringify(plugged)}`);
  assert.deepEqual(hostdevSources(liveXml('l2-live')), [a]);
  assert.deepEqual(hostdevSources(inactiveXml('l2-live')), [], '--live leaves the persistent definition alone');
  const t2 = Date.now();
  const dt = vf(['detach', 'l2-live', a, '--live', '--yes', '--json']);
  errors.push({ case: 'live detach', status: dt.status, stdout: dt.stdout, stderr: dt.stderr });
  assert.equal(dt.status, 0, dt.stdout + dt.stderr);
  const unplugged = await waitListing('l2-live', 2);
  timing('live: hot-unplug seen by L2', since(t2));
  assert.ok(!unplugged.some((l) => l.id === idOf(a)), `L2 still sees ${idOf(a)} after the unplug`);
  assert.deepEqual(hostdevSources(liveXml('l2-live')), []);
  await backOnHost([a], [driver]);
});
