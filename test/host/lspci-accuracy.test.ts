/**
 * Accuracy against an independent reader: pciutils. On the machine running the tests (live sysfs) and on
 * every synthetic topology (`lspci -O sysfs.path=ROOT/sys/bus/pci`), the inventory must agree with
 * `lspci -nnk` (IDs, class, driver) and, as root, with `lspci -vvv` on the decoded capabilities (the
 * offsets of every standard and extended capability, PCIe port type, FLR, AF FLR, ACS control bits,
 * SR-IOV total VFs, ATS, Resizable BAR, AER).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import * as topologies from '../support/topologies.js';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';
import type { PciFunction } from '../../src/model/pci-function.js';

const haveLspci = spawnSync('lspci', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const skip = !haveLspci ? 'lspci not installed (apt-get install pciutils)' : false;

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function lspci(args: string[], root: string | null): string {
  const extra = root ? ['-A', 'linux-sysfs', '-O', `sysfs.path=${root}/sys/bus/pci`] : [];
  const r = spawnSync('lspci', [...extra, '-D', ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface LspciDevice {
  address: string;
  cls: string;
  vendor: string;
  device: string;
  driver: string | null;
  capOffsets: number[];
  extOffsets: number[];
  text: string;
}

function parseBlocks(out: string): Map<string, LspciDevice> {
  const map = new Map<string, LspciDevice>();
  for (const block of out.split(/\n(?=[0-9a-f]{4,8}:)/)) {
    const first = block.split('\n')[0] ?? '';
    const m = /^([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) .*\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}):([0-9a-f]{4})\]/.exec(first);
    if (!m) continue;
    const caps = [...block.matchAll(/Capabilities: \[([0-9a-f]+)( v\d+)?\]/g)];
    map.set(m[1]!, {
      address: m[1]!,
      cls: m[2]!,
      vendor: m[3]!,
      device: m[4]!,
      driver: /Kernel driver in use: (\S+)/.exec(block)?.[1] ?? null,
      capOffsets: caps.filter((c) => !c[2]).map((c) => parseInt(c[1]!, 16)),
      extOffsets: caps.filter((c) => c[2]).map((c) => parseInt(c[1]!, 16)),
      text: block,
    });
  }
  return map;
}

function section(text: string, capName: RegExp): string | null {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /Capabilities: \[/.test(l) && capName.test(l));
  if (i < 0) return null;
  const out = [lines[i]!];
  for (const l of lines.slice(i + 1)) {
    if (/^\t(Capabilities|Kernel)/.test(l)) break;
    out.push(l);
  }
  return out.join('\n');
}

const PORT_NAMES: Record<string, RegExp> = {
  endpoint: /Express \(v\d\) Endpoint/, 'legacy-endpoint': /Express \(v\d\) Legacy Endpoint/, 'root-port': /Express \(v\d\) Root Port/,
  'upstream-port': /Express \(v\d\) Upstream Port/, 'downstream-port': /Express \(v\d\) Downstream Port/,
  'pcie-to-pci-bridge': /Express \(v\d\) PCI-Express to PCI\/PCI-X Bridge/, 'pci-to-pcie-bridge': /Express \(v\d\) PCI\/PCI-X to PCI-Express Bridge/,
  'rc-integrated-endpoint': /Express \(v\d\) Root Complex Integrated Endpoint/, 'rc-event-collector': /Express \(v\d\) Root Complex Event Collector/,
};

function compare(functions: PciFunction[], root: string | null, label: string): number {
  const nnk = parseBlocks(lspci(['-nnk'], root));
  assert.equal(functions.length, nnk.size, `${label}: same number of functions`);
  let checked = 0;
  for (const f of functions) {
    const l = nnk.get(f.address);
    assert.ok(l, `${label}: lspci lists ${f.address}`);
    assert.equal(f.vendorId, l.vendor, `${label} ${f.address} vendor`);
    assert.equal(f.deviceId, l.device, `${label} ${f.address} device`);
    assert.equal(f.class.slice(0, 4), l.cls, `${label} ${f.address} class`);
    assert.equal(f.driver, l.driver, `${label} ${f.address} driver`);
  }
  if (!isRoot) return checked;
  const vvv = parseBlocks(lspci(['-vvv', '-nn'], root));
  for (const f of functions) {
    const l = vvv.get(f.address)!;
    const ours = f.capabilities.list;
    assert.deepEqual(ours.filter((c) => !c.extended).map((c) => c.offset), l.capOffsets, `${label} ${f.address} standard capability offsets`);
    assert.deepEqual(ours.filter((c) => c.extended).map((c) => c.offset), l.extOffsets, `${label} ${f.address} extended capability offsets`);
    const express = section(l.text, /Express/);
    if (f.capabilities.pcie) {
      assert.ok(express, `${label} ${f.address} lspci shows PCIe`);
      assert.match(express, PORT_NAMES[f.capabilities.pcie.portType]!, `${label} ${f.address} port type`);
      assert.equal(/FLReset\+/.test(express), f.capabilities.pcie.flr, `${label} ${f.address} PCIe FLR`);
    } else assert.equal(express, null);
    const af = section(l.text, /Advanced Features/);
    if (f.capabilities.af) assert.equal(/AFCap:.*FLR\+/.test(af ?? ''), f.capabilities.af.flr, `${label} ${f.address} AF FLR`);
    const acs = section(l.text, /Access Control Services/);
    if (f.capabilities.acs) {
      const ctl = /ACSCtl:\s*(.*)/.exec(acs ?? '')?.[1] ?? '';
      const bit = (name: string): boolean => new RegExp(`${name}\\+`).test(ctl);
      const c = f.capabilities.acs.control;
      assert.deepEqual([c.sv, c.tb, c.rr, c.cr, c.uf, c.ec, c.dt], ['SrcValid', 'TransBlk', 'ReqRedir', 'CmpltRedir', 'UpstreamFwd', 'EgressCtrl', 'DirectTrans'].map(bit), `${label} ${f.address} ACS control`);
    } else assert.equal(acs, null);
    const sriov = section(l.text, /Single Root I\/O Virtualization/);
    if (f.capabilities.sriov) assert.match(sriov ?? '', new RegExp(`Total VFs: ${f.capabilities.sriov.totalVfs}\\b`));
    assert.equal(!!section(l.text, /Address Translation Service/), !!f.capabilities.ats, `${label} ${f.address} ATS`);
    assert.equal(!!section(l.text, /Physical Resizable BAR/), !!f.capabilities.rebar, `${label} ${f.address} ReBAR`);
    assert.equal(!!section(l.text, /Advanced Error Reporting/), f.capabilities.aer, `${label} ${f.address} AER`);
    checked++;
  }
  return checked;
}

test('live host: inventory agrees with lspci -nnk and lspci -vvv', { skip }, () => {
  const inv = readInventory(new HostRoot('/'), { names: false });
  if (!inv.functions.length) return; // a machine with no PCI bus has nothing to compare
  compare(inv.functions, null, 'live');
});

const specs: [string, () => HostSpec][] = Object.entries(topologies)
  .filter(([name, f]) => typeof f === 'function' && f.length === 0 && name !== 'hostileDeviceEntries')
  .map(([name, f]) => [name, f as () => HostSpec]);

for (const [name, make] of specs) {
  test(`synthetic ${name}: inventory agrees with lspci on the same tree`, { skip }, () => {
    const t = makeTempHostTree(make());
    cleanups.push(t.cleanup);
    const inv = readInventory(new HostRoot(t.root), { names: false });
    const checked = compare(inv.functions, t.root, name);
    if (isRoot) assert.equal(checked, inv.functions.length);
  });
}
