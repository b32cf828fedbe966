// The planner on imported real listings (IOMMU group listings people post), read through the production
// importer: groups come from the text, host use cannot be known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importListing } from '../../src/model/import-listing.js';
import { planPassthrough } from '../../src/core/plan.js';
import type { PciAddressString } from '../../src/model/pci-address.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/listings');
const load = (name: string) => importListing(fs.readFileSync(path.join(dir, name), 'utf8'), name, null);
const A = (s: string) => s as PciAddressString;

test('inline group listing: GPU pulls in its audio function, the root port stays on the host', () => {
  const p = planPassthrough(load('groups-inline.txt'), { addresses: [A('0000:01:00.0')] });
  assert.deepEqual(p.claim, ['0000:01:00.0', '0000:01:00.1']);
  assert.deepEqual(p.hostSide, ['0000:00:01.0']);
  assert.ok(p.findings.some((f) => f.id === 'nvidia-consumer-gpu'));
  assert.ok(!p.findings.some((f) => f.id === 'groups-unknown'), 'the listing has groups');
});

test('inline group listing: the PCH audio shares a group with LPC and SMBus, so it is blocked', () => {
  const p = planPassthrough(load('groups-inline.txt'), { addresses: [A('0000:00:1f.3')] });
  assert.equal(p.verdict, 'blocked');
  assert.deepEqual(p.findings.filter((f) => f.id === 'host-impact-platform-device').map((f) => f.subjects?.[0]), ['0000:00:1f.0', '0000:00:1f.4']);
});

test('inline group listing: storage cannot be checked for mounts from a listing, and says so', () => {
  const p = planPassthrough(load('groups-inline.txt'), { addresses: [A('0000:02:00.0')] });
  assert.ok(p.findings.some((f) => f.id === 'host-impact-storage-unchecked' && f.severity === 'warn'));
});

test('heading group listing: AMD Polaris GPU claimed with its audio and warned about resets', () => {
  const p = planPassthrough(load('groups-heading.txt'), { addresses: [A('0000:0a:00.0')] });
  assert.deepEqual(p.claim, ['0000:0a:00.0', '0000:0a:00.1']);
  assert.ok(p.findings.some((f) => f.id === 'amd-gpu-reset'));
});
