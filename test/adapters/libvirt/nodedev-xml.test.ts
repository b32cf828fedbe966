import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crossCheckNodedev, parseNodedevXml, type NodedevPci, type SysfsView } from '../../../src/adapters/libvirt/nodedev-xml.js';
import type { PciAddressString } from '../../../src/model/pci-address.js';
import { expectGoldenOutput } from '../../support/golden.js';

const GOLDEN = path.resolve(import.meta.dirname, '../../golden/libvirt');
const input = (name: string) => fs.readFileSync(path.join(GOLDEN, name), 'utf8');

function nodedev(name: string): NodedevPci {
  const r = parseNodedevXml(input(name));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

const A = (s: string) => s as PciAddressString;

describe('parseNodedevXml', () => {
  it('GPU with an IOMMU group of two functions (golden model)', () => {
    const n = nodedev('nodedev-gpu.xml');
    expectGoldenOutput('libvirt', 'nodedev-gpu.parsed.json', JSON.stringify(n, null, 2) + '\n');
    assert.equal(n.address, '0000:01:00.0');
    assert.equal(n.name, 'pci_0000_01_00_0');
    assert.equal(n.driver, 'nvidia');
    assert.equal(n.class, '030000');
    assert.equal(n.vendorId, '10de');
    assert.equal(n.productId, '1b80');
    assert.deepEqual(n.iommuGroup, { number: 14, members: ['0000:01:00.0', '0000:01:00.1'] });
    assert.equal(n.pciExpress, true);
  });

  it('decimal element text: bus 59 slot 16 is 3b:10', () => {
    const n = nodedev('nodedev-vf.xml');
    assert.equal(n.address, '0000:3b:10.1');
    assert.equal(n.physFunction, '0000:3b:00.1');
    assert.deepEqual(n.iommuGroup, { number: 93, members: ['0000:3b:10.1'] });
    assert.deepEqual(n.virtFunctions, []);
  });

  it('a VMD domain (65536 = 0x10000), virtual functions, no IOMMU group, no driver', () => {
    const n = nodedev('nodedev-pf-noiommu.xml');
    assert.equal(n.address, '10000:e1:00.0');
    assert.deepEqual(n.virtFunctions, ['10000:e1:00.1', '10000:e1:00.2']);
    assert.equal(n.iommuGroup, null);
    assert.equal(n.driver, null);
    assert.equal(n.productName, null);
    assert.deepEqual(n.problems, []);
  });

  it('rejects non-PCI devices and malformed XML as values', () => {
    assert.equal(parseNodedevXml("<device><name>net_eth0</name><capability type='net'/></device>").ok, false);
    assert.equal(parseNodedevXml('<device>').ok, false);
    const bad = parseNodedevXml("<device><name>pci_x</name><capability type='pci'><domain>0</domain><bus>1</bus><slot>40</slot><function>0</function></capability></device>");
    assert.equal(bad.ok, false, 'slot 40 is out of range');
  });
});

describe('crossCheckNodedev', () => {
  const gpu = () => nodedev('nodedev-gpu.xml');
  const view = (over: Partial<SysfsView> = {}): SysfsView => ({
    address: A('0000:01:00.0'),
    vendorId: '10de',
    deviceId: '1b80',
    class: '030000',
    driver: 'nvidia',
    iommuGroup: 14,
    groupMembers: [A('0000:01:00.1'), A('0000:01:00.0')],
    source: '/sys',
    ...over,
  });
  const ids = (fs: { id: string; severity: string }[]) => fs.map((f) => `${f.id}:${f.severity}`);

  it('agreement', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), view())), ['nodedev-agrees:ok']));
  it('group number differs', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), view({ iommuGroup: 15 }))), ['nodedev-group-mismatch:warn']));
  it('group members differ', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), view({ groupMembers: [A('0000:01:00.0')] }))), ['nodedev-group-members-mismatch:warn']));
  it('driver differs (libvirt caches without udev)', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), view({ driver: 'vfio-pci' }))), ['nodedev-driver-mismatch:info']));
  it('identity differs', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), view({ deviceId: '1b81' }))), ['nodedev-id-mismatch:fail']));
  it('absent from sysfs', () => assert.deepEqual(ids(crossCheckNodedev(gpu(), null)), ['nodedev-missing-in-sysfs:warn']));
  it('no IOMMU on either side agrees', () => {
    const n = nodedev('nodedev-pf-noiommu.xml');
    const f = crossCheckNodedev(n, { address: n.address, vendorId: '144d', deviceId: 'a808', class: '010802', driver: null, iommuGroup: null, groupMembers: null, source: '/tmp/x' });
    assert.deepEqual(ids(f), ['nodedev-agrees:ok']);
  });
});
