/** Per-device verdicts (checkDevice) on fixture host trees read through the production readers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { checkDevice, framebuffersInBars } from '../../src/core/doctor-device.js';
import { parseIomem } from '../../src/model/host-facts.js';
import type { Finding } from '../../src/model/finding.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { amdGpu, chipsetShared, conventionalBridge, desktopGpu, noIommu, sriovNic } from '../support/topologies.js';
import { hostFiles, intelReady, getFinding } from '../support/doctor-hosts.js';

function check(spec: HostSpec, address: string): Finding[] {
  const t = makeTempHostTree(spec);
  try {
    const host = new HostRoot(t.root);
    return checkDevice(readHostFacts(host), readInventory(host, { names: false }), address);
  } finally {
    t.cleanup();
  }
}

const get = getFinding;

// A GTX 1080 booted through UEFI: efifb sits inside its prefetchable BAR (as /proc/iomem nests it).
const IOMEM_EFIFB = [
  '00000000-00000fff : Reserved',
  '00001000-0009ffff : System RAM',
  'c0000000-dfffffff : PCI Bus 0000:01',
  '  c0000000-cfffffff : 0000:01:00.0',
  '    c0000000-c02fffff : efifb',
  '  d0000000-d1ffffff : 0000:01:00.0',
  'de000000-df0fffff : PCI Bus 0000:01',
  '  de000000-deffffff : 0000:01:00.0',
  '  df080000-df083fff : 0000:01:00.1',
  '    df080000-df083fff : ICH HD audio',
  '',
].join('\n');

test('boot GPU with its audio function: group mates, boot VGA, framebuffer in a BAR, bus reset only, ROM', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'proc/iomem': IOMEM_EFIFB };
  const fs = check(spec, '0000:01:00.0');
  const g = get(fs, 'device-group');
  assert.equal(g.severity, 'info');
  assert.match(g.summary, /other functions of the same device: 0000:01:00\.1/);
  assert.match(g.summary, /bridges that stay: 0000:00:01\.0/);
  assert.match(g.remedy ?? '', /0000:01:00\.1 \(snd_hda_intel\)/);
  assert.equal(get(fs, 'device-boot-vga').severity, 'warn');
  const fb = get(fs, 'device-framebuffer');
  assert.equal(fb.severity, 'warn');
  assert.match(fb.summary, /efifb/);
  assert.match(fb.summary, /BAR N: can't reserve/);
  assert.match(fb.remedy ?? '', /video=efifb:off initcall_blacklist=sysfb_init/);
  assert.match(fb.remedy ?? '', /update-grub/);
  const r = get(fs, 'device-reset');
  assert.equal(r.severity, 'info');
  assert.match(r.summary, /only a bus reset/);
  assert.equal(get(fs, 'device-rom').severity, 'info');
  const d = get(fs, 'device-driver');
  assert.equal(d.severity, 'warn', 'the boot GPU on a host driver');
  assert.match(d.summary, /nouveau/);
  for (const f of fs) assert.deepEqual(f.subjects, ['0000:01:00.0']);
});

test('no framebuffer in the BARs when efifb sits elsewhere', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'proc/iomem': IOMEM_EFIFB.replace('    c0000000-c02fffff : efifb', '') + 'e0000000-e02fffff : efifb\n' };
  assert.equal(get(check(spec, '0000:01:00.0'), 'device-framebuffer').severity, 'ok');
});

test('framebuffersInBars finds simpledrm and BOOTFB nested at any depth, only under the named function', () => {
  const im = parseIomem('4000000000-400fffffff : PCI Bus 0000:03\n  4000000000-400fffffff : 0000:03:00.0\n    4000000000-40002fffff : BOOTFB\n      4000000000-40002fffff : simpledrm\n  4010000000-4010ffffff : 0000:03:00.1\n');
  assert.deepEqual(framebuffersInBars(im, '0000:03:00.0').map((h) => h.fb.name), ['BOOTFB', 'simpledrm']);
  assert.deepEqual(framebuffersInBars(im, '0000:03:00.1'), []);
});

test('NIC in a chipset group shared with USB and SATA: warn, and the SATA controller is host-critical', () => {
  const spec = chipsetShared();
  spec.files = { ...spec.files, ...hostFiles({ vendor: 'amd', params: 'iommu=pt' }) };
  const fs = check(spec, '0000:04:00.0');
  const g = get(fs, 'device-group');
  assert.equal(g.severity, 'warn');
  assert.match(g.summary, /other devices: 0000:05:00\.0, 0000:06:00\.0/);
  assert.match(g.summary, /bridges that stay: 0000:02:00\.0, 0000:03:04\.0, 0000:03:08\.0, 0000:03:09\.0/);
  const c = get(fs, 'device-group-host-critical');
  assert.match(c.summary, /0000:06:00\.0 storage controller/);
  assert.equal(get(fs, 'device-reset').severity, 'ok');
  assert.match(get(fs, 'device-reset').summary, /flr, pm, bus/);
});

test('SR-IOV: the PF and a VF are named as such', () => {
  const spec = sriovNic();
  const pf = get(check(spec, '0000:03:00.0'), 'device-sriov');
  assert.match(pf.summary, /physical function: 2 of 8 virtual functions/);
  const vf = check(spec, '0000:03:10.0');
  assert.match(get(vf, 'device-sriov').summary, /virtual function of 0000:03:00\.0 \(PF driver ixgbe stays on the host\)/);
  assert.equal(get(vf, 'device-group').severity, 'ok');
});

test('conventional PCI behind a PCIe-to-PCI bridge: warned; INTx-only noted', () => {
  const fs = check(conventionalBridge(), '0000:05:00.0');
  const c = get(fs, 'device-conventional-pci');
  assert.equal(c.severity, 'warn');
  assert.match(c.evidence[0]!.value, /no PCI Express capability/);
  assert.equal(get(fs, 'device-interrupts').severity, 'info');
  assert.equal(get(fs, 'device-group').severity, 'warn', 'shares the bridge group with other conventional devices');
});

test('no reset mechanism (empty reset_method) is a warning', () => {
  const spec = desktopGpu();
  spec.functions = spec.functions.map((f) => (f.address === '0000:03:00.0' ? { ...f, resetMethod: [] } : f));
  const r = get(check(spec, '0000:03:00.0'), 'device-reset');
  assert.equal(r.severity, 'warn');
  assert.match(r.summary, /no reset mechanism/);
  assert.equal(r.evidence[0]!.value, '(none)');
});

test('reset derived from config space when reset_method is absent (older kernels)', () => {
  const spec = desktopGpu();
  spec.functions = spec.functions.map((f) => (f.address === '0000:02:00.0' ? { ...f, resetMethod: undefined } : f));
  const r = get(check(spec, '0000:02:00.0'), 'device-reset');
  assert.equal(r.severity, 'ok');
  assert.match(r.summary, /flr/);
  assert.match(r.evidence[0]!.source, /config$/);
});

test('AMD GPU: reset quirk noted', () => {
  assert.equal(get(check(amdGpu(), '0000:08:00.0'), 'device-reset-quirk').severity, 'info');
});

test('bridges cannot be assigned; unknown addresses and hosts without groups fail', () => {
  assert.equal(get(check(desktopGpu(), '0000:00:01.0'), 'device-is-bridge').severity, 'fail');
  assert.equal(get(check(desktopGpu(), '0000:09:00.0'), 'device-not-found').severity, 'fail');
  const g = get(check(noIommu(), '0000:03:00.0'), 'device-group');
  assert.equal(g.severity, 'fail');
  assert.match(g.summary, /not in any IOMMU group/);
});

test('bound to vfio-pci: driver ok; D3cold is warned with the disable_idle_d3 remedy', () => {
  const spec = desktopGpu();
  spec.functions = spec.functions.map((f) => (f.address === '0000:03:00.0' ? { ...f, driver: 'vfio-pci', powerState: 'D3cold' } : f));
  const fs = check(spec, '0000:03:00.0');
  assert.equal(get(fs, 'device-driver').severity, 'ok');
  const p = get(fs, 'device-power');
  assert.equal(p.severity, 'warn');
  assert.match(p.remedy ?? '', /disable_idle_d3=1/);
  assert.match(p.summary, /in power state D3cold now/);
});

test('doctor: a Polaris GPU (reset-bug family) warns with the concrete fix; ok once reset_method uses device_specific first', () => {
  const f = get(check(amdGpu(), '0000:08:00.0'), 'device-reset-bug');
  assert.equal(f.severity, 'warn');
  assert.match(f.summary, /AMD Polaris 10\/11/);
  assert.match(f.remedy!, /vendor-reset.*reset-policy set 0000:08:00\.0 --order device_specific --persist/);
  const fixed = amdGpu();
  fixed.functions = fixed.functions.map((x) => (x.address === '0000:08:00.0' ? { ...x, resetMethod: ['device_specific', 'bus'] } : x));
  assert.equal(get(check(fixed, '0000:08:00.0'), 'device-reset-bug').severity, 'ok');
  assert.equal(check(desktopGpu(), '0000:01:00.0').some((x) => x.id === 'device-reset-bug'), false);
});
