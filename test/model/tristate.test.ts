/**
 * Unknown is not false, from pasted listings: every fact a listing does not tell is in the function's
 * `unknown` with the file that would tell; facts the listing does tell are not. The planner treats the
 * unknown facts as unknown (a warning, libvirt's default), and a fully read tree as known.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importListing } from '../../src/model/import-listing.js';
import type { PciFunction, PciInventory, UnknownFact } from '../../src/model/pci-function.js';
import { planPassthrough } from '../../src/core/plan.js';
import type { PciAddressString } from '../../src/model/pci-address.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { buildInventory } from '../support/inventory-builder.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/listings');
const load = (name: string) => importListing(fs.readFileSync(path.join(dir, name), 'utf8'), name, null);
const A = (s: string) => s as PciAddressString;
const fn = (inv: PciInventory, a: string): PciFunction => {
  const f = inv.functions.find((x) => x.address === a);
  assert.ok(f, `missing ${a}`);
  return f;
};
const cleanups: (() => void)[] = [];
/** the function's entry for `fact` (read from the data itself, so the test runs against any version of the model) */
const factUnknown = (f: PciFunction, fact: string): UnknownFact | null => (f.unknown ?? []).find((u) => u.fact === fact) ?? null;
after(() => cleanups.forEach((c) => c()));

test('lspci -nn: driver, FLR, ROM, reset methods and groups are unknown for every function, each with its source', () => {
  const inv = load('lspci-nn-domain.txt');
  for (const f of inv.functions) {
    for (const fact of ['driver', 'flr', 'hasRom', 'resetMethods', 'iommuGroup', 'capabilities', 'bootVga'] as const) {
      const u = factUnknown(f, fact);
      assert.ok(u, `${f.address} ${fact} is unknown`);
      assert.match(u.reason, /the pasted lspci -nn listing does not tell/);
      assert.ok(u.source.startsWith(fact === 'iommuGroup' ? 'sys/kernel/iommu_groups' : `sys/bus/pci/devices/${f.address}`), u.source);
    }
  }
  const nvme = fn(inv, '0000:01:00.0');
  assert.equal(factUnknown(nvme, 'flr')!.source, 'sys/bus/pci/devices/0000:01:00.0/config (capabilities)');
  assert.equal(factUnknown(nvme, 'hasRom')!.source, 'sys/bus/pci/devices/0000:01:00.0/rom');
});

test('lspci -nnk: "no driver" is known (no Kernel driver line), a bound driver is known', () => {
  const inv = load('lspci-nnk.txt');
  const audio = fn(inv, '0000:01:00.1');
  assert.equal(audio.driver, null);
  assert.equal(factUnknown(audio, 'driver'), null, 'a -k listing tells that no driver is bound');
  assert.equal(fn(inv, '0000:01:00.0').driver, 'vfio-pci');
  assert.ok(factUnknown(audio, 'flr'), 'but -k does not tell FLR');
});

test('lspci -vvv: the ROM and FLR it shows are known', () => {
  const inv = load('lspci-vvv-gpu.txt');
  const gpu = fn(inv, '0000:01:00.0');
  assert.equal(gpu.hasRom, true);
  assert.equal(factUnknown(gpu, 'hasRom'), null);
  assert.equal(gpu.flr, false);
  assert.equal(factUnknown(gpu, 'flr'), null, 'DevCap FLReset- is read: FLR known absent');
  assert.ok(factUnknown(gpu, 'resetMethods'), 'no listing tells reset_method');
});

test('plan from lspci -nn: an unknown reset warns naming config space; an unknown ROM leaves rom bar to libvirt; unknown drivers warn', () => {
  const p = planPassthrough(load('lspci-nn-domain.txt'), { addresses: [A('0000:01:00.0')] });
  const reset = p.findings.find((f) => f.id === 'reset-unknown');
  assert.ok(reset, p.findings.map((f) => f.id).join(' '));
  assert.equal(reset.severity, 'warn');
  assert.ok(reset.evidence.some((e) => e.source === 'sys/bus/pci/devices/0000:01:00.0/config (capabilities)'));
  assert.equal(p.functions[0]!.romBar, null);
  const rom = p.findings.find((f) => f.id === 'rom-unknown');
  assert.ok(rom);
  assert.match(rom.summary, /left to libvirt's default/);
  assert.ok(!p.findings.some((f) => f.id === 'expansion-rom'), 'no ROM decision on an unknown ROM');
  const drv = p.findings.find((f) => f.id === 'driver-unknown');
  assert.equal(drv?.severity, 'warn');
  assert.notEqual(p.verdict, 'ok');
});

test('plan from lspci -nn: --rom-bar off is the user\'s decision and is kept, with the note', () => {
  const p = planPassthrough(load('lspci-nn-domain.txt'), { addresses: [A('0000:01:00.0')], romBar: 'off' });
  assert.equal(p.functions[0]!.romBar, 'off');
  assert.ok(p.findings.some((f) => f.id === 'rom-unknown'));
});

test('plan from lspci -vvv: a known ROM and known drivers need no unknown findings', () => {
  const p = planPassthrough(load('lspci-vvv-gpu.txt'), { addresses: [A('0000:01:00.0')] });
  assert.ok(p.findings.some((f) => f.id === 'expansion-rom'));
  for (const id of ['rom-unknown', 'driver-unknown', 'reset-unknown']) assert.ok(!p.findings.some((f) => f.id === id), id);
});

test('plan on a tree with a short config and no reset_method: reset unknown warns; on the full tree it does not', () => {
  const spec = desktopGpu();
  const nic = spec.functions.find((f) => f.address === '0000:03:00.0')!;
  delete nic.resetMethod;
  const full = makeTempHostTree(spec);
  cleanups.push(full.cleanup);
  const known = planPassthrough(readInventory(new HostRoot(full.root), { names: false }), { addresses: [A('0000:03:00.0')] });
  assert.ok(!known.findings.some((f) => f.id === 'reset-unknown'));
  nic.configSize = 64;
  const short = makeTempHostTree(spec);
  cleanups.push(short.cleanup);
  const p = planPassthrough(readInventory(new HostRoot(short.root), { names: false }), { addresses: [A('0000:03:00.0')] });
  const f = p.findings.find((x) => x.id === 'reset-unknown');
  assert.ok(f, p.findings.map((x) => x.id).join(' '));
  assert.match(f.summary, /64 bytes/);
});

test('plan on known facts: no FLR and a PM capability with No_Soft_Reset set warns no-function-reset; with it clear (PM reset works) it does not', () => {
  const inv = buildInventory([{ addr: '03:00.0', id: '8086:10d3', cls: '020000', group: 7, bus: 'pcie-noflr', resetMethods: null }]);
  const f = inv.functions[0]!;
  f.capabilities.pm = { version: 3, d1: false, d2: false, noSoftReset: true, powerState: 'D0' };
  assert.ok(planPassthrough(inv, { addresses: [A('0000:03:00.0')] }).findings.some((x) => x.id === 'no-function-reset'), 'no FLR, no PM reset: warned');
  f.capabilities.pm = { ...f.capabilities.pm, noSoftReset: false };
  const p = planPassthrough(inv, { addresses: [A('0000:03:00.0')] });
  assert.ok(!p.findings.some((x) => x.id === 'no-function-reset' || x.id === 'reset-unknown'), p.findings.map((x) => x.id).join(' '));
});
