import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importListing, detectListingFormat } from '../../src/model/import-listing.js';
import { UsageError } from '../../src/model/errors.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/listings/${name}`, import.meta.url), 'utf8');

test('detects each listing format', () => {
  assert.equal(detectListingFormat(fixture('groups-inline.txt')), 'iommu-groups-inline');
  assert.equal(detectListingFormat(fixture('groups-heading.txt')), 'iommu-groups-heading');
  assert.equal(detectListingFormat(fixture('lspci-nnk.txt')), 'lspci-nnk');
  assert.equal(detectListingFormat(fixture('lspci-nn-domain.txt')), 'lspci-nn');
  assert.equal(detectListingFormat('hello world\n'), null);
});

test('one-line group listing: groups, roles, isolation, host-critical members', () => {
  const inv = importListing(fixture('groups-inline.txt'), 'x.txt', null);
  assert.equal(inv.functions.length, 12);
  assert.equal(inv.groups.length, 7);
  const g1 = inv.groups.find((g) => g.id === 1)!;
  assert.deepEqual(g1.members.map((m) => [m.address, m.role]), [
    ['0000:00:01.0', 'bridge'], ['0000:01:00.0', 'endpoint'], ['0000:01:00.1', 'endpoint'],
  ]);
  assert.equal(g1.isolation, 'isolated', 'a GPU and its audio function are one device; the root port is a bridge');
  const g4 = inv.groups.find((g) => g.id === 4)!;
  assert.equal(g4.isolation, 'isolated', 'all functions of slot 00:1f are one device');
  assert.deepEqual(g4.hostCritical.map((h) => h.address), ['0000:00:1f.0', '0000:00:1f.4']);
  const g2 = inv.groups.find((g) => g.id === 2)!;
  assert.deepEqual(g2.hostCritical.map((h) => h.address), ['0000:00:14.2'], 'RAM memory class is a memory controller');
  const gpu = inv.functions.find((f) => f.address === '0000:01:00.0')!;
  assert.equal(gpu.vendorId, '10de');
  assert.equal(gpu.deviceId, '1b80');
  assert.equal(gpu.class, '030000');
  assert.equal(gpu.revision, 'a1');
  assert.equal(gpu.driver, null);
  assert.equal(inv.source.kind, 'import');
  if (inv.source.kind === 'import') {
    assert.ok(inv.source.unknown.includes('drivers in use'));
    assert.ok(!inv.source.unknown.includes('IOMMU groups'));
  }
});

test('heading group listing keeps brackets inside names and sorts groups numerically', () => {
  const inv = importListing(fixture('groups-heading.txt'), 'x.txt', null);
  assert.deepEqual(inv.groups.map((g) => g.id), [2, 13, 14]);
  const amd = inv.functions.find((f) => f.address === '0000:0a:00.1')!;
  assert.equal(amd.vendorId, '1002');
  assert.equal(amd.deviceId, 'aaf0');
  assert.match(amd.names.device ?? '', /Ellesmere HDMI Audio/);
  assert.equal(inv.groups.find((g) => g.id === 2)!.isolation, 'empty');
});

test('lspci -nnk: drivers and subsystems, no groups, says what it cannot know', () => {
  const inv = importListing(fixture('lspci-nnk.txt'), 'x.txt', null);
  assert.equal(inv.groups.length, 0);
  assert.equal(inv.iommu.enabled, false);
  const gpu = inv.functions.find((f) => f.address === '0000:01:00.0')!;
  assert.equal(gpu.driver, 'vfio-pci');
  assert.equal(gpu.subsystemVendorId, '1458');
  assert.equal(gpu.subsystemDeviceId, '3702');
  assert.equal(inv.functions.find((f) => f.address === '0000:01:00.1')!.driver, null, 'modules listed but no driver in use');
  if (inv.source.kind === 'import') {
    assert.ok(inv.source.unknown.includes('IOMMU groups'));
    assert.ok(!inv.source.unknown.includes('drivers in use'));
  }
});

test('lspci -D with VMD (five-digit) domains', () => {
  const inv = importListing(fixture('lspci-nn-domain.txt'), 'x.txt', null);
  assert.deepEqual(inv.functions.map((f) => f.address), ['0000:00:00.0', '0000:00:00.2', '0000:00:01.1', '0000:01:00.0', '10000:e0:17.0']);
});

test('rejects text that is not a listing with a remedy; a repeated address merges, a disagreeing one is reported', () => {
  assert.throws(() => importListing('<domain/>', 'd.xml', null), (e: unknown) => e instanceof UsageError && /lspci -nn/.test(e.remedy ?? ''));
  // pasting the same listing twice is common: the same facts twice are one function (formerly an error)
  const dup = '01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n';
  const inv = importListing(dup, 'd.txt', null);
  assert.equal(inv.functions.length, 1);
  assert.deepEqual(inv.source.kind === 'import' ? inv.source.skipped : null, []);
  const other = '01:00.0 VGA compatible controller [0300]: X [10de:1b80]\n01:00.0 VGA compatible controller [0300]: Y [1002:67df]\n';
  const inv2 = importListing(other, 'd.txt', null);
  assert.equal(inv2.functions[0]!.vendorId, '10de', 'the first reading is kept');
  assert.deepEqual(inv2.source.kind === 'import' ? inv2.source.skipped?.map((x) => [x.line, /^conflicts with line 1: 01:00.0 is \[10de:1b80\]/.test(x.reason)]) : null, [[2, true]]);
});
