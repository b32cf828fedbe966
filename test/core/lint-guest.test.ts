import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lintGuest, type GuestDomainFacts, type LintGuestInput } from '../../src/core/lint-guest.js';
import { parseDomainXml } from '../../src/adapters/libvirt/domain-xml.js';
import { renderPciHostdevXml } from '../../src/adapters/libvirt/domain-xml.js';
import { pciAddressOf } from '../../src/model/pci-address.js';
import type { Finding } from '../../src/model/finding.js';
import { buildInventory, desktopGpu } from '../support/inventory-builder.js';

interface DomOpts {
  machine?: string;
  os?: string;
  features?: string;
  devices?: string;
}

/** A guest definition as libvirt would hand it over, parsed by the production parser. */
function domain(o: DomOpts = {}): GuestDomainFacts {
  const xml = `<domain type='kvm'><name>g</name><memory unit='MiB'>1024</memory>
  <os${o.os ?? " firmware='efi'"}><type arch='x86_64' machine='${o.machine ?? 'pc-q35-7.2'}'>hvm</type></os>
  <features>${o.features ?? ''}</features><devices>${o.devices ?? ''}</devices></domain>`;
  const r = parseDomainXml(xml);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

const hd = (addr: string, o: { bus?: number; slot?: number; fn?: number; mf?: boolean; managed?: boolean; romOff?: boolean } = {}) =>
  renderPciHostdevXml({
    source: pciAddressOf(addr),
    managed: o.managed ?? true,
    romBarOff: o.romOff,
    guestAddress: o.bus !== undefined ? { domain: 0, bus: o.bus, slot: o.slot ?? 0, fn: o.fn ?? 0, multifunction: o.mf ?? false } : undefined,
  });

const gpuPair = hd('0000:01:00.0', { bus: 5, fn: 0, mf: true }) + hd('0000:01:00.1', { bus: 5, fn: 1 });

function lint(input: Partial<LintGuestInput> & { domain: GuestDomainFacts }): Finding[] {
  return lintGuest({ inventory: desktopGpu(), otherGuests: [], ...input });
}
const find = (fs: Finding[], id: string) => fs.filter((f) => f.id === id);
const sev = (fs: Finding[], id: string) => find(fs, id).map((f) => f.severity);

describe('lintGuest', () => {
  it('a well-formed GPU guest: q35, UEFI, whole group, one multifunction slot, hidden KVM', () => {
    const f = lint({ domain: domain({ devices: gpuPair, features: "<kvm><hidden state='on'/></kvm>" }) });
    assert.deepEqual(sev(f, 'machine-q35'), ['ok']);
    assert.deepEqual(sev(f, 'firmware-efi'), ['ok']);
    assert.deepEqual(sev(f, 'group-complete'), ['ok']);
    assert.deepEqual(sev(f, 'multifunction-together'), ['ok']);
    assert.deepEqual(sev(f, 'nvidia-hidden-kvm'), ['ok']);
    assert.deepEqual(sev(f, 'migration-blocked'), ['info']);
    assert.equal(f.filter((x) => x.severity === 'fail' || x.severity === 'warn').length, 0, JSON.stringify(f.filter((x) => x.severity !== 'ok' && x.severity !== 'info'), null, 1));
  });

  it('half a group on the host driver fails, naming the function left behind', () => {
    const f = lint({ domain: domain({ devices: hd('0000:01:00.0'), features: "<kvm><hidden state='on'/></kvm>" }) });
    const g = find(f, 'group-incomplete');
    assert.equal(g.length, 1);
    assert.equal(g[0]!.severity, 'fail');
    assert.deepEqual(g[0]!.subjects, ['0000:01:00.1']);
    assert.match(g[0]!.summary, /snd_hda_intel/);
  });

  it('a group member on vfio-pci outside the guest is only information', () => {
    const inv = desktopGpu();
    inv.functions.find((x) => x.address === '0000:01:00.1')!.driver = 'vfio-pci';
    const f = lint({ inventory: inv, domain: domain({ devices: hd('0000:01:00.0') }) });
    assert.deepEqual(sev(f, 'group-member-unassigned'), ['info']);
    assert.deepEqual(find(f, 'group-incomplete'), []);
  });

  it('a group split with another guest fails; the same function in a stopped guest warns, in a running one fails', () => {
    const split = lint({ domain: domain({ devices: hd('0000:01:00.0') }), otherGuests: [{ name: 'other', running: false, hostdevs: ['0000:01:00.1'] }] });
    assert.deepEqual(sev(split, 'group-split-guests'), ['fail']);
    const shared = lint({ domain: domain({ devices: gpuPair }), otherGuests: [{ name: 'other', running: false, hostdevs: ['0000:01:00.0'] }] });
    assert.deepEqual(sev(shared, 'hostdev-shared'), ['warn']);
    assert.match(find(shared, 'hostdev-shared')[0]!.summary, /other/);
    const running = lint({ domain: domain({ devices: gpuPair }), otherGuests: [{ name: 'other', running: true, hostdevs: ['0000:01:00.0'] }] });
    assert.deepEqual(sev(running, 'hostdev-shared'), ['fail']);
  });

  it('functions of one device on two guest slots warn; one slot without multifunction=on warns', () => {
    const split = lint({ domain: domain({ devices: hd('0000:01:00.0', { bus: 5 }) + hd('0000:01:00.1', { bus: 6 }) }) });
    assert.deepEqual(sev(split, 'multifunction-split'), ['warn']);
    const noFlag = lint({ domain: domain({ devices: hd('0000:01:00.0', { bus: 5, fn: 0 }) + hd('0000:01:00.1', { bus: 5, fn: 1 }) }) });
    assert.deepEqual(sev(noFlag, 'multifunction-flag-missing'), ['warn']);
  });

  it('NVIDIA consumer GPU without hidden KVM warns; with Hyper-V it also wants a vendor_id', () => {
    const bare = lint({ domain: domain({ devices: gpuPair }) });
    assert.deepEqual(sev(bare, 'nvidia-hidden-kvm'), ['warn']);
    assert.doesNotMatch(find(bare, 'nvidia-hidden-kvm')[0]!.remedy ?? '', /vendor_id/);
    const hv = lint({ domain: domain({ devices: gpuPair, features: "<kvm><hidden state='on'/></kvm><hyperv mode='custom'><relaxed state='on'/></hyperv>" }) });
    assert.deepEqual(sev(hv, 'nvidia-hidden-kvm'), ['warn']);
    assert.match(find(hv, 'nvidia-hidden-kvm')[0]!.remedy ?? '', /vendor_id/);
    const amd = lint({
      inventory: buildInventory([{ addr: '0a:00.0', id: '1002:73bf', cls: '030000', group: 3, rom: true }]),
      domain: domain({ devices: hd('0000:0a:00.0') }),
    });
    assert.deepEqual(find(amd, 'nvidia-hidden-kvm'), []);
  });

  it("intremap without <ioapic driver='qemu'/> fails; caching_mode off with hostdevs fails; fixed guest passes", () => {
    const bad = lint({ domain: domain({ devices: gpuPair + "<iommu model='intel'><driver intremap='on'/></iommu>" }) });
    assert.deepEqual(sev(bad, 'viommu-ioapic'), ['fail']);
    assert.deepEqual(sev(bad, 'viommu-caching-mode'), ['fail']);
    const good = lint({ domain: domain({ features: "<ioapic driver='qemu'/>", devices: gpuPair + "<iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu>" }) });
    assert.deepEqual(sev(good, 'viommu-ioapic'), ['ok']);
    assert.deepEqual(find(good, 'viommu-caching-mode'), []);
    const pc = lint({ domain: domain({ machine: 'pc-i440fx-7.2', devices: "<iommu model='intel'/>" }) });
    assert.deepEqual(sev(pc, 'viommu-needs-q35'), ['fail']);
  });

  it('i440fx and BIOS with a GPU warn; without a GPU they are information', () => {
    const gpu = lint({ domain: domain({ machine: 'pc-i440fx-7.2', os: '', devices: gpuPair }) });
    assert.deepEqual(sev(gpu, 'machine-i440fx'), ['warn']);
    assert.deepEqual(sev(gpu, 'firmware-bios'), ['warn']);
    const nic = lint({ domain: domain({ machine: 'pc', os: '', devices: hd('0000:00:1f.6') }) });
    assert.deepEqual(sev(nic, 'machine-i440fx'), ['info']);
    assert.deepEqual(sev(nic, 'firmware-bios'), ['info']);
  });

  it('a non-GPU ROM is pointed out unless it is masked; a GPU ROM is left alone', () => {
    const inv = desktopGpu();
    inv.functions.find((x) => x.address === '0000:00:1f.6')!.hasRom = true;
    assert.deepEqual(sev(lint({ inventory: inv, domain: domain({ devices: hd('0000:00:1f.6') }) }), 'rom-exposed'), ['info']);
    assert.deepEqual(sev(lint({ inventory: inv, domain: domain({ devices: hd('0000:00:1f.6', { romOff: true }) }) }), 'rom-exposed'), []);
    assert.deepEqual(sev(lint({ domain: domain({ devices: gpuPair }) }), 'rom-exposed'), []);
  });

  it('more than 32 functions fail', () => {
    const specs = Array.from({ length: 33 }, (_, i) => ({ addr: `${(0x40 + i).toString(16)}:00.0`, id: '8086:10d3', cls: '020000', group: 100 + i, driver: 'vfio-pci' }));
    const devs = specs.map((s) => hd(`0000:${s.addr}`)).join('');
    const f = lintGuest({ inventory: buildInventory(specs), domain: domain({ devices: devs }) });
    assert.deepEqual(sev(f, 'hostdev-count'), ['fail']);
    assert.match(find(f, 'hostdev-count')[0]!.summary, /33/);
    const ok = lintGuest({ inventory: buildInventory(specs.slice(0, 32)), domain: domain({ devices: specs.slice(0, 32).map((s) => hd(`0000:${s.addr}`)).join('') }) });
    assert.deepEqual(sev(ok, 'hostdev-count'), ['ok']);
  });

  it('unknown and unparsable sources, unmanaged hostdevs on host drivers', () => {
    const f = lint({ domain: domain({ devices: hd('0000:09:00.0') + "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='1' slot='08' function='0'/></source></hostdev>" + hd('0000:00:1f.6', { managed: false }) }) });
    assert.deepEqual(sev(f, 'hostdev-missing-on-host'), ['fail']);
    assert.deepEqual(sev(f, 'hostdev-bad-source'), ['fail']);
    assert.deepEqual(sev(f, 'hostdev-unmanaged-bound'), ['warn']);
  });

  it('no IOMMU groups on the host: completeness cannot be checked', () => {
    const inv = buildInventory([{ addr: '01:00.0', id: '8086:10d3', cls: '020000', driver: 'e1000e' }], { iommu: false });
    assert.deepEqual(sev(lintGuest({ inventory: inv, domain: domain({ devices: hd('0000:01:00.0') }) }), 'groups-unknown'), ['warn']);
  });

  it('a guest without hostdevs gets no migration or count findings', () => {
    const f = lint({ domain: domain() });
    assert.deepEqual(find(f, 'migration-blocked'), []);
    assert.deepEqual(find(f, 'hostdev-count'), []);
  });
});

describe('lintGuest: migration per device', () => {
  const sup = { driver: 'mlx5_vfio_pci', migration: 'supported' as const, reason: 'mlx5_vfio_pci implements VFIO migration' };
  it('every assigned device on a migration-capable VFIO driver: migration-possible, not migration-blocked', () => {
    const f = lint({ domain: domain({ devices: gpuPair }), vfioDrivers: { '0000:01:00.0': sup, '0000:01:00.1': sup } });
    assert.deepEqual(sev(f, 'migration-possible'), ['info']);
    assert.deepEqual(find(f, 'migration-blocked'), []);
  });
  it('one device on vfio-pci blocks it, and the finding names that device and why', () => {
    const f = lint({ domain: domain({ devices: gpuPair }), vfioDrivers: { '0000:01:00.0': sup, '0000:01:00.1': { driver: 'vfio-pci', migration: 'not-supported', reason: 'vfio-pci does not implement VFIO migration' } } });
    const b = find(f, 'migration-blocked');
    assert.equal(b.length, 1);
    assert.match(b[0]!.summary, /0000:01:00\.1: vfio-pci does not implement VFIO migration/);
    assert.doesNotMatch(b[0]!.summary, /0000:01:00\.0/);
  });
});
