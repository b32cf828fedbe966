import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePciAddress, formatPciAddress, formatNodedevName, canonicalPciAddress, formatShortAddress, requirePciAddress, sysfsPciAddress, comparePciAddressStrings } from '../../src/model/pci-address.js';
import { UsageError } from '../../src/model/errors.js';

test('accepts the three spellings and canonicalizes them', () => {
  for (const input of ['01:00.0', '0000:01:00.0', 'pci_0000_01_00_0', ' 0000:01:00.0\n', '0000:01:00.0'.toUpperCase()]) {
    assert.equal(canonicalPciAddress(input), '0000:01:00.0', input);
  }
  assert.equal(canonicalPciAddress('0a:1f.7'), '0000:0a:1f.7');
  assert.equal(canonicalPciAddress('10000:e0:17.0'), '10000:e0:17.0', 'VMD domains have five hex digits');
  assert.equal(canonicalPciAddress('pci_10000_e0_17_0'), '10000:e0:17.0');
});

test('rejects path tricks, wrong shapes and out-of-range parts', () => {
  const bad = [
    '../01:00.0', '01:00.0/../../etc', '/sys/bus/pci/devices/0000:01:00.0', '0000:01:00.0/', '01:00.8', '01:20.0',
    '1:00.0', '001:00.0', '01:00', '01.00.0', '', ' ', 'pci_0000_01_00', '0000:01:00.0\u0000', 'pci_0000_01_00_0/x',
    '0000:01:0g.0', '123456789:01:00.0', '01:00.0 02:00.0', '..', 'pci_0000_01_00_8', '01:00.-1',
  ];
  for (const b of bad) {
    const r = parsePciAddress(b);
    assert.equal(r.ok, false, `should reject ${JSON.stringify(b)}`);
    if (!r.ok) assert.ok(r.error.remedy && r.error.remedy.includes('01:00.0'));
  }
});

test('slot range message names the slot', () => {
  const r = parsePciAddress('00:3f.0');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error.message, /slot 0x3f/);
});

test('formats: canonical, nodedev, short', () => {
  const a = { domain: 0, bus: 0x1a, slot: 0x1f, fn: 3 };
  assert.equal(formatPciAddress(a), '0000:1a:1f.3');
  assert.equal(formatNodedevName(a), 'pci_0000_1a_1f_3');
  assert.equal(formatShortAddress(a), '1a:1f.3');
  assert.equal(formatShortAddress({ ...a, domain: 1 }), '0001:1a:1f.3');
});

test('requirePciAddress throws a usage error with a remedy (exit 2)', () => {
  assert.throws(() => requirePciAddress('../../etc/passwd'), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && !!e.remedy);
});

test('sysfsPciAddress accepts only the kernel spelling', () => {
  assert.equal(sysfsPciAddress('0000:01:00.0'), '0000:01:00.0');
  assert.equal(sysfsPciAddress('10000:e0:17.0'), '10000:e0:17.0');
  for (const loose of ['01:00.0', '0000:01:00.0 ', '0000:0A:00.0', 'pci_0000_01_00_0', 'pci0000:00', 'card0', '']) {
    assert.equal(sysfsPciAddress(loose), null, loose);
  }
});

test('address strings sort numerically, VMD domains after 0xffff', () => {
  const list = ['10000:e0:17.0', 'ffff:00:00.0', '0000:10:00.0', '0000:02:00.1', '0000:02:00.0'];
  assert.deepEqual([...list].sort(comparePciAddressStrings), ['0000:02:00.0', '0000:02:00.1', '0000:10:00.0', 'ffff:00:00.0', '10000:e0:17.0']);
});
