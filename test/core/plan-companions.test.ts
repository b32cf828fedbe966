/**
 * The functions of one slot (domain:bus:device) are planned together by default, in one IOMMU group or
 * in several; --single-function keeps one. From a listing without groups the plan says what it assumed,
 * marks itself unverified, and never claims to know a function's group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPassthrough, modprobeContent } from '../../src/core/plan.js';
import { importListing } from '../../src/model/import-listing.js';
import type { PciAddressString } from '../../src/model/pci-address.js';
import { buildInventory, impactFacts } from '../support/inventory-builder.js';

const A = (s: string): PciAddressString => (s.length === 7 ? `0000:${s}` : s) as PciAddressString;
const ids = (fs: { id: string }[]): string[] => fs.map((f) => f.id);

/** A GPU whose HDMI audio sits in its own IOMMU group (and an iGPU so the host keeps a display). */
function splitAudio() {
  return buildInventory([
    { addr: '00:01.0', id: '8086:1901', cls: '060400', group: 1, driver: 'pcieport' },
    { addr: '00:02.0', id: '8086:3e92', cls: '030000', group: 0, driver: 'i915', bootVga: true },
    { addr: '01:00.0', id: '10de:1b80', cls: '030000', group: 12, driver: 'nvidia', parents: ['00:01.0'], multifunction: true, bootVga: false },
    { addr: '01:00.1', id: '10de:10f0', cls: '040300', group: 13, driver: 'snd_hda_intel', parents: ['00:01.0'], multifunction: true },
  ]);
}

test('HDMI audio in its own IOMMU group goes with its GPU by default, with the reason shown', () => {
  const p = planPassthrough(splitAudio(), { addresses: [A('01:00.0')] }, { impact: impactFacts() });
  assert.deepEqual(p.claim, ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(p.functions.find((f) => f.address === '0000:01:00.1')?.reason, 'same-device');
  const f = p.findings.find((x) => x.id === 'slot-functions-added');
  assert.match(f?.summary ?? '', /0000:01:00\.1 .*in its own IOMMU group 13/);
  assert.match(f?.remedy ?? '', /--single-function/);
  assert.deepEqual(p.groups.map((g) => g.id), [12, 13], 'the companion\'s group is planned too');
  assert.deepEqual(p.slots, [{ device: '0000:01:00', functions: ['0000:01:00.0', '0000:01:00.1'], multifunction: true }]);
  assert.equal(p.verified, true);
  assert.deepEqual(p.assumptions, []);
});

test('--single-function keeps the named function only, and says which group the other one is in', () => {
  const p = planPassthrough(splitAudio(), { addresses: [A('01:00.0')], singleFunction: true }, { impact: impactFacts() });
  assert.deepEqual(p.claim, ['0000:01:00.0']);
  const f = p.findings.find((x) => x.id === 'multifunction-partial');
  assert.match(f?.summary ?? '', /0000:01:00\.1 \(IOMMU group 13\) \(same device as 0000:01:00\.0\) stays on the host \(--single-function\)/);
});

test('chipset functions sharing a device number (00:1f.*) are not companions', () => {
  const inv = buildInventory([
    { addr: '00:02.0', id: '8086:3e92', cls: '030000', group: 0, driver: 'i915', bootVga: true },
    { addr: '00:1f.0', id: '8086:a305', cls: '060100', group: 14, driver: null },
    { addr: '00:1f.3', id: '8086:a348', cls: '040300', group: 15, driver: 'snd_hda_intel' },
    { addr: '00:1f.4', id: '8086:a323', cls: '0c0500', group: 14, driver: 'i801_smbus' },
  ]);
  const p = planPassthrough(inv, { addresses: [A('00:1f.3')] }, { impact: impactFacts() });
  assert.deepEqual(p.claim, ['0000:00:1f.3']);
  assert.notEqual(p.verdict, 'blocked');
});

const NNK = `00:02.0 VGA compatible controller [0300]: Intel Corporation CometLake-S GT2 [UHD Graphics 630] [8086:3e92]
\tKernel driver in use: i915
04:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6800/6800 XT / 6900 XT] [1002:73bf] (rev c1)
\tSubsystem: Sapphire Technology Limited Device [1da2:e438]
\tKernel driver in use: amdgpu
\tKernel modules: amdgpu
04:00.1 Audio device [0403]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21/23 HDMI/DP Audio Controller [1002:ab28]
\tSubsystem: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21/23 HDMI/DP Audio Controller [1002:ab28]
\tKernel driver in use: snd_hda_intel
\tKernel modules: snd_hda_intel
`;

test('lspci -nnk (no groups): the audio function is planned along, ids= has both, groups are assumed, never stated', () => {
  const inv = importListing(NNK, 'lspci.txt', null);
  const p = planPassthrough(inv, { addresses: [A('04:00.0')] }, {});
  assert.deepEqual(p.claim, ['0000:04:00.0', '0000:04:00.1']);
  assert.deepEqual(p.binding.ids, ['1002:73bf', '1002:ab28']);
  assert.match(modprobeContent(p), /^options vfio-pci ids=1002:73bf,1002:ab28$/m);
  assert.equal(p.verified, false);
  assert.notEqual(p.verdict, 'ok');
  assert.match(p.assumptions.join('\n'), /IOMMU group of 0000:04:00\.0, 0000:04:00\.1 holds no other device/);
  assert.ok(ids(p.findings).includes('plan-unverified'));
  for (const f of p.findings) assert.doesNotMatch(`${f.summary} ${f.detail ?? ''}`, /is in another IOMMU group/, f.id);
  // with --single-function the left function's group is not claimed to be known
  const one = planPassthrough(inv, { addresses: [A('04:00.0')], singleFunction: true }, {});
  const partial = one.findings.find((f) => f.id === 'multifunction-partial');
  assert.match(partial?.summary ?? '', /whether it shares its IOMMU group is unknown from this listing/);
  for (const f of one.findings) assert.doesNotMatch(`${f.summary} ${f.detail ?? ''}`, /is in another IOMMU group/, f.id);
});

test('a listing with groups for some functions only: the others are assumed, the plan is unverified', () => {
  const text = `IOMMU Group 1 00:02.0 VGA compatible controller [0300]: Intel Corporation UHD Graphics 630 [8086:3e92]\n${NNK.split('\n').slice(2).join('\n')}`;
  const inv = importListing(text, 'mixed.txt', null);
  assert.ok(inv.groups.length > 0);
  const p = planPassthrough(inv, { addresses: [A('04:00.0')] }, {});
  assert.ok(!ids(p.findings).includes('no-iommu-group'), 'an untold group is not "no group"');
  assert.equal(p.verified, false);
  assert.deepEqual(p.claim, ['0000:04:00.0', '0000:04:00.1']);
});

test('CLI: plan --from a listing says UNVERIFIED and lists its assumptions; --single-function is passed through', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { runCli } = await import('../support/cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'vfioctl-nnk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lspci.txt');
  writeFileSync(file, NNK);
  const human = await runCli(['plan', '04:00.0', '--from', file]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /UNVERIFIED/);
  assert.match(human.stdout, /assumed \(not in the listing\):\n {2}the IOMMU group of 0000:04:00\.0, 0000:04:00\.1/);
  const one = (await runCli(['plan', '04:00.0', '--single-function', '--from', file, '--json'])).json<{ claim: string[]; verified: boolean }>();
  assert.deepEqual(one.claim, ['0000:04:00.0']);
  assert.equal(one.verified, false);
});
