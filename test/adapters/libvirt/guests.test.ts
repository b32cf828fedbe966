import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseGuestSlot, planHostdevAttach, planHostdevDetach, type GuestInfo } from '../../../src/adapters/libvirt/guests.js';
import { parseDomainXml, pciHostdevs, renderPciHostdevXml } from '../../../src/adapters/libvirt/domain-xml.js';
import { planPassthrough } from '../../../src/core/plan.js';
import { type PciAddressString, pciAddressOf } from '../../../src/model/pci-address.js';
import { desktopGpu } from '../../support/inventory-builder.js';

function guest(machine: string, devices = ''): GuestInfo {
  const xml = `<domain type='kvm'>\n  <name>g</name>\n  <os>\n    <type arch='x86_64' machine='${machine}'>hvm</type>\n  </os>\n  <devices>\n${devices}  </devices>\n</domain>\n`;
  const r = parseDomainXml(xml);
  assert.ok(r.ok);
  return { name: 'g', running: false, state: 'shut off', config: r.value, configXml: xml };
}
const rootPorts = (n: number) => Array.from({ length: n }, (_, i) => `    <controller type='pci' index='${i + 1}' model='pcie-root-port'/>\n`).join('');
const A = (s: string) => s as PciAddressString;

describe('guest slot choice', () => {
  it('q35: the bus after the last PCI controller', () => {
    assert.deepEqual(chooseGuestSlot(guest('pc-q35-7.2', `    <controller type='pci' index='0' model='pcie-root'/>\n${rootPorts(3)}`).config), { bus: 4, slot: 0 });
    assert.deepEqual(chooseGuestSlot(guest('q35').config, [{ bus: 1, slot: 0 }]), { bus: 2, slot: 0 });
  });
  it('i440fx: the first free slot on bus 0 from 3', () => {
    const used = "    <interface type='network'><source network='default'/><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>\n";
    assert.deepEqual(chooseGuestSlot(guest('pc-i440fx-7.2', used).config), { bus: 0, slot: 4 });
    assert.deepEqual(chooseGuestSlot(guest('pc', used).config, [{ bus: 0, slot: 4 }]), { bus: 0, slot: 5 });
  });
  it('other machines: libvirt decides', () => assert.equal(chooseGuestSlot(guest('virt').config), null));
});

describe('planHostdevAttach / planHostdevDetach', () => {
  const plan = (addrs: string[]) => planPassthrough(desktopGpu(), { addresses: addrs.map(A), guest: 'g', force: true });

  it('--config: one multifunction slot, planner ROM decisions, the definition diff adds both', () => {
    const g = guest('q35', rootPorts(2));
    const set = planHostdevAttach(plan(['0000:01:00.0']), g, null, { live: false, config: true });
    assert.deepEqual(set.changes.map((c) => [c.address, c.guestAddress?.bus, c.guestAddress?.fn, c.guestAddress?.multifunction]), [['0000:01:00.0', 3, 0, true], ['0000:01:00.1', 3, 1, false]]);
    const after = parseDomainXml(set.configAfter!);
    assert.ok(after.ok);
    assert.deepEqual(pciHostdevs(after.value).map((h) => h.source), ['0000:01:00.0', '0000:01:00.1']);
  });

  it('--live: no guest addresses (hotplug is single-function) and a note says so', () => {
    const g = { ...guest('q35'), running: true, state: 'running' };
    const set = planHostdevAttach(plan(['0000:01:00.0']), g, g.config, { live: true, config: false });
    assert.deepEqual(set.changes.map((c) => c.guestAddress), [null, null]);
    assert.match(set.notes.join(' '), /single-function/);
    assert.equal(set.configAfter, null);
  });

  it('functions already attached are skipped, never sent twice', () => {
    const g = guest('q35', renderPciHostdevXml({ source: pciAddressOf('0000:01:00.0'), managed: true }));
    const set = planHostdevAttach(plan(['0000:01:00.0']), g, null, { live: false, config: true });
    assert.deepEqual(set.changes.map((c) => c.address), ['0000:01:00.1']);
    assert.deepEqual(set.skipped.map((s) => s.address), ['0000:01:00.0']);
  });

  it('half-attached (config but not live) is refused with a remedy', () => {
    const g = { ...guest('q35', renderPciHostdevXml({ source: pciAddressOf('0000:01:00.0'), managed: true })), running: true };
    const live = guest('q35').config;
    assert.throws(() => planHostdevAttach(plan(['0000:01:00.0']), g, live, { live: true, config: true }), /only one of the live and persistent/);
  });

  it('detach keeps the managed flag, reattaches unmanaged functions unless another guest lists them', () => {
    const g = guest('q35', renderPciHostdevXml({ source: pciAddressOf('0000:03:00.0'), managed: false }) + renderPciHostdevXml({ source: pciAddressOf('0000:02:00.0'), managed: false }));
    const set = planHostdevDetach([A('0000:03:00.0'), A('0000:02:00.0'), A('0000:05:00.0')], g, null, { live: false, config: true }, [{ name: 'other', running: false, hostdevs: ['0000:02:00.0'] }]);
    assert.deepEqual(set.changes.map((c) => [c.address, c.managed]), [['0000:03:00.0', false], ['0000:02:00.0', false]]);
    assert.deepEqual(set.reattach, ['0000:03:00.0']);
    assert.match(set.notes.join(' '), /also listed by other/);
    assert.deepEqual(set.skipped.map((s) => s.address), ['0000:05:00.0']);
    const after = parseDomainXml(set.configAfter!);
    assert.ok(after.ok);
    assert.deepEqual(pciHostdevs(after.value), []);
  });
});
