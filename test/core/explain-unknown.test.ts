/**
 * explain cites facts a pasted listing does not tell as unknown, never as "no driver" / "unbound (fine)":
 * an IOMMU group listing names no drivers, so a group mate's driver is not known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importListing } from '../../src/model/import-listing.js';
import { explainText } from '../../src/core/explain.js';
import { driverFact } from '../../src/core/explain-facts.js';
import { openSession } from '../../src/service/session.js';

const listing = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/listings/groups-inline.txt'), 'utf8');

test('a group listing tells no drivers: explain says the driver is not known, not that the device is unbound', () => {
  const inv = importListing(listing, 'groups-inline.txt', null);
  const g = inv.groups.find((x) => x.members.filter((m) => m.role === 'endpoint').length > 0)!;
  // host facts from a sample (the host the listing is explained on); the inventory is the listing's
  const facts = openSession({ sample: true }).hostFacts();
  const { matches } = explainText(`vfio-pci 0000:01:00.0: group ${g.id} is not viable`, facts, inv);
  const m = matches.find((x) => x.id === 'group-not-viable');
  assert.ok(m, 'the message is recognised');
  const members = m.facts.filter((f) => f.source.includes(`iommu_groups/${g.id}/devices/`));
  assert.ok(members.length > 0, 'the group members are cited');
  for (const f of members) {
    if (/bridge/.test(f.value)) continue;
    assert.doesNotMatch(f.value, /unbound \(fine\)|no driver/, f.value);
    assert.match(f.value, /driver not known from this listing/);
  }
  const fn = inv.functions.find((f) => f.address === g.members.find((x) => x.role === 'endpoint')!.address)!;
  assert.match(driverFact(fn).value, /^unknown \(/);
});
