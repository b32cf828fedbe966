import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { editDomainXml, parseDomainXml, pciHostdevs, renderPciHostdevXml, type DomainConfig } from '../../../src/adapters/libvirt/domain-xml.js';
import { parseLibvirtNumber } from '../../../src/adapters/libvirt/xml-dom.js';
import { type PciAddressString, pciAddressOf } from '../../../src/model/pci-address.js';
import { expectGoldenOutput } from '../../support/golden.js';
import { assertValidLibvirtXml, hasLibvirtValidator, NO_VALIDATOR } from '../../support/libvirt-schema.js';

const GOLDEN = path.resolve(import.meta.dirname, '../../golden/libvirt');
const input = (name: string) => fs.readFileSync(path.join(GOLDEN, name), 'utf8');
const golden = (file: string, actual: string) => expectGoldenOutput('libvirt', file, actual);

function parsed(name: string): DomainConfig {
  const r = parseDomainXml(input(name));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

describe('libvirt numbers (base 0, as libvirt parses address attributes)', () => {
  for (const [text, value] of [
    ['0x1f', 31], ['0X0A', 10], ['25', 25], ['010', 8], ['0', 0], ['00', 0], ['0x0000', 0], ['255', 255],
  ] as const) {
    it(`${text} -> ${value}`, () => assert.equal(parseLibvirtNumber(text), value));
  }
  for (const bad of ['08', '0x', '', '-1', '1e3', '0x1g', ' 12a', '+5']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseLibvirtNumber(bad), null));
  }
});

describe('parseDomainXml', () => {
  it('reads the q35 GPU guest (golden model)', () => {
    const d = parsed('domain-q35-gpu.xml');
    golden('domain-q35-gpu.parsed.json', JSON.stringify(d, null, 2) + '\n');
    assert.equal(d.name, 'win11');
    assert.equal(d.chipset, 'q35');
    assert.deepEqual(d.firmware, { kind: 'efi', basis: 'loader', loader: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', secureBoot: true });
    assert.equal(d.features.hyperv, true);
    assert.equal(d.features.hypervVendorId, null);
    assert.equal(d.features.kvmHidden, null);
    assert.equal(d.features.smm, true);
    assert.deepEqual(
      pciHostdevs(d).map((h) => [h.source, h.managed]),
      [['0000:01:00.0', true], ['0000:01:00.1', true], ['0000:03:08.0', false]],
    );
    assert.equal(d.hostdevs.length, 4);
    assert.deepEqual(d.hostdevs[3], { kind: 'other', mode: 'subsystem', type: 'usb', alias: null });
  });

  it("reads decimal source addresses and slot='010' as octal 8 (as libvirt does)", () => {
    const [, audio, nvme] = pciHostdevs(parsed('domain-q35-gpu.xml'));
    assert.equal(audio!.source, '0000:01:00.1');
    assert.equal(nvme!.source, '0000:03:08.0');
    assert.deepEqual(nvme!.rom, { bar: 'off', file: null, enabled: null });
    assert.equal(nvme!.driverName, 'vfio');
    assert.equal(nvme!.bootOrder, 1);
  });

  it('reads guest addresses with the multifunction flag', () => {
    const [gpu, audio] = pciHostdevs(parsed('domain-q35-gpu.xml'));
    assert.deepEqual(gpu!.guestAddress, { domain: 0, bus: 1, slot: 0, fn: 0, multifunction: true });
    assert.deepEqual(audio!.guestAddress, { domain: 0, bus: 1, slot: 0, fn: 1, multifunction: false });
  });

  it("keeps an address libvirt would reject ('08') as a problem, not a wrong number", () => {
    const d = parsed('domain-pc-viommu.xml');
    const bad = d.hostdevs[2];
    assert.ok(bad && bad.kind === 'pci');
    assert.equal(bad.source, null);
    assert.match(bad.sourceProblem ?? '', /slot='08'/);
    assert.equal(d.chipset, 'i440fx');
    assert.equal(d.features.kvmHidden, true);
    assert.deepEqual(d.iommu, { model: 'intel', intremap: 'on', cachingMode: null, eim: null, iotlb: null });
    assert.deepEqual(d.firmware, { kind: 'bios', basis: 'default', loader: null, secureBoot: null });
  });

  it("reads <os firmware='efi'> and a guest without hostdevs", () => {
    const d = parsed('domain-minimal.xml');
    assert.equal(d.firmware.kind, 'efi');
    assert.equal(d.firmware.basis, 'firmware-attribute');
    assert.equal(d.hostdevs.length, 0);
    assert.equal(d.machine, 'q35');
    assert.equal(d.id, null);
  });

  it('returns malformed XML as a value and prints nothing', () => {
    const writes: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => void writes.push(a.join(' '));
    try {
      const r = parseDomainXml('<domain><name>x</name>');
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.error.message, /not well-formed/);
      assert.equal(parseDomainXml('<device/>').ok, false);
      assert.equal(parseDomainXml('<domain type="kvm"></domain>').ok, false); // no <name>
    } finally {
      console.error = orig;
    }
    assert.deepEqual(writes, []);
  });
});

describe('renderPciHostdevXml', () => {
  it('writes zero-padded hex, ROM and guest placement (golden)', () => {
    const gpu = renderPciHostdevXml({ source: pciAddressOf('0000:0a:1f.0'), managed: true, guestAddress: { domain: 0, bus: 7, slot: 0, fn: 0, multifunction: true } });
    const nic = renderPciHostdevXml({ source: pciAddressOf('10000:e1:00.3'), managed: false, romBarOff: true, driverName: 'vfio' });
    golden('hostdev-multifunction-fn0.xml', gpu);
    golden('hostdev-unmanaged-rom-off.xml', nic);
    assert.match(gpu, /bus='0x0a' slot='0x1f' function='0x0'/);
    assert.match(nic, /domain='0x10000' bus='0xe1' slot='0x00' function='0x3'/);
  });

  it('round-trips through the parser inside a domain', () => {
    const frag = renderPciHostdevXml({ source: pciAddressOf('0000:03:08.0'), managed: true, romBarOff: true, guestAddress: { domain: 0, bus: 0, slot: 0x0a, fn: 2, multifunction: false } });
    const r = parseDomainXml(`<domain type='kvm'><name>x</name><devices>${frag}</devices></domain>`);
    assert.ok(r.ok);
    const [h] = pciHostdevs(r.value);
    assert.equal(h!.source, '0000:03:08.0');
    assert.equal(h!.rom?.bar, 'off');
    assert.deepEqual(h!.guestAddress, { domain: 0, bus: 0, slot: 10, fn: 2, multifunction: false });
  });
});

describe('editDomainXml', () => {
  const add = [
    renderPciHostdevXml({ source: pciAddressOf('0000:05:00.0'), managed: true, guestAddress: { domain: 0, bus: 4, slot: 0, fn: 0, multifunction: true } }),
    renderPciHostdevXml({ source: pciAddressOf('0000:05:00.1'), managed: true, guestAddress: { domain: 0, bus: 4, slot: 0, fn: 1, multifunction: false } }),
  ];

  it('adds hostdevs after the last one, keeping every other node (golden)', () => {
    const before = input('domain-q35-gpu.xml');
    const r = editDomainXml(before, { addHostdevs: add });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    golden('domain-q35-gpu.add.xml', r.value);
    // Every line of the input survives, in order (comments, metadata namespaces, unmodelled elements).
    const after = r.value.split('\n');
    let i = 0;
    for (const line of before.split('\n')) {
      while (i < after.length && after[i] !== line) i++;
      assert.ok(i < after.length, `line lost: ${line}`);
    }
    const d = parseDomainXml(r.value);
    assert.ok(d.ok);
    assert.deepEqual(pciHostdevs(d.value).map((h) => h.source).slice(-2), ['0000:05:00.0', '0000:05:00.1']);
    if (hasLibvirtValidator) assertValidLibvirtXml(r.value);
  });

  it('adds into a <devices> without hostdevs (golden)', () => {
    const r = editDomainXml(input('domain-minimal.xml'), { addHostdevs: add });
    assert.ok(r.ok);
    golden('domain-minimal.add.xml', r.value);
    if (hasLibvirtValidator) assertValidLibvirtXml(r.value);
  });

  it('removes hostdevs by source address, whatever base the XML used (golden)', () => {
    const r = editDomainXml(input('domain-q35-gpu.xml'), { removeHostdevSources: ['0000:01:00.1', '0000:03:08.0'] as PciAddressString[] });
    assert.ok(r.ok);
    golden('domain-q35-gpu.remove.xml', r.value);
    const d = parseDomainXml(r.value);
    assert.ok(d.ok);
    assert.deepEqual(pciHostdevs(d.value).map((h) => h.source), ['0000:01:00.0']);
    assert.equal(d.value.hostdevs.length, 2, 'the USB hostdev stays');
    if (hasLibvirtValidator) assertValidLibvirtXml(r.value);
  });

  it('add then remove gives back the original text', () => {
    for (const name of ['domain-q35-gpu.xml', 'domain-minimal.xml']) {
      const before = input(name);
      const added = editDomainXml(before, { addHostdevs: add });
      assert.ok(added.ok);
      const removed = editDomainXml(added.value, { removeHostdevSources: ['0000:05:00.0', '0000:05:00.1'] as PciAddressString[] });
      assert.ok(removed.ok);
      assert.equal(removed.value, before, name);
    }
  });

  it('the hand-written inputs are valid libvirt XML', { skip: hasLibvirtValidator ? false : NO_VALIDATOR }, () => {
    assertValidLibvirtXml(input('domain-q35-gpu.xml'));
    assertValidLibvirtXml(input('domain-minimal.xml'));
  });
});

describe('editDomainXml on unusual layouts', () => {
  const frag = renderPciHostdevXml({ source: pciAddressOf('0000:05:00.0'), managed: true });
  for (const [what, xml] of [
    ['one line, empty <devices/>', "<domain type='kvm'><name>x</name><devices/></domain>"],
    ['no <devices>', "<domain type='kvm'>\n  <name>x</name>\n</domain>\n"],
    ['hostdev in a comment is not a hostdev', "<domain type='kvm'><name>x</name><devices><!-- <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='5' slot='0' function='0'/></source></hostdev> --></devices></domain>"],
  ] as const) {
    it(`${what}: adds, and removes again`, () => {
      const r = editDomainXml(xml, { addHostdevs: [frag] });
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      const d = parseDomainXml(r.value);
      assert.ok(d.ok);
      assert.deepEqual(pciHostdevs(d.value).map((h) => h.source), ['0000:05:00.0']);
      const back = editDomainXml(r.value, { removeHostdevSources: ['0000:05:00.0'] as PciAddressString[] });
      assert.ok(back.ok);
      const d2 = parseDomainXml(back.value);
      assert.ok(d2.ok);
      assert.deepEqual(pciHostdevs(d2.value), []);
      if (what.includes('comment')) assert.match(back.value, /<!-- <hostdev/, 'the comment is kept');
    });
  }

  it('refuses a malformed fragment without changing anything', () => {
    const r = editDomainXml(input('domain-minimal.xml'), { addHostdevs: ['<hostdev>'] });
    assert.equal(r.ok, false);
  });
});
