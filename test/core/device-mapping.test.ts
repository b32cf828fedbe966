/** Device mappings: validation of hostile files, and drift detection against a real tree. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkMapping, entryOf, mappingAddresses, parseDeviceMappings } from '../../src/core/device-mapping.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { HostRoot } from '../../src/host/host-root.js';
import { UsageError } from '../../src/model/errors.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';

const doc = (entries: unknown[], node = 'node-a') => ({ apiVersion: 'vfioctl.io/v1', kind: 'DeviceMappings', mappings: { gpu: { nodes: { [node]: entries } } } });

describe('device mappings', () => {
  it('refuses malformed files with the field that is wrong', () => {
    const bad: [unknown, RegExp][] = [
      [{ ...doc([]), kind: 'Other' }, /kind/],
      [doc([{ address: '../../etc', id: '10de:1b80' }]), /address/],
      [doc([{ address: '02:00.0', id: '10de' }]), /id/],
      [doc([{ address: '02:00.0', id: '10de:1b80', extra: 1 }]), /extra|unrecognized/i],
      [{ ...doc([]), mappings: { 'bad name!': { nodes: {} } } }, /mapping name|mappings/],
      ['a string', /top level|expected/],
    ];
    for (const [d, re] of bad) {
      assert.throws(() => parseDeviceMappings(d, 'f.yaml'), (e: unknown) => e instanceof UsageError && re.test(e.message) && /f\.yaml/.test(e.message), JSON.stringify(d).slice(0, 80));
    }
  });

  it('an entry made on the host checks ok; a changed card, group or subsystem is drift; a gone one is missing', () => {
    const t = makeTempHostTree(SPEC);
    try {
      const inv = readInventory(new HostRoot(t.root));
      const gpu = inv.functions.find((f) => f.address === '0000:02:00.0')!;
      const e = entryOf(gpu);
      assert.equal(e.iommuGroup, 2);
      assert.ok(e.path?.endsWith('0000:00:02.0/0000:02:00.0'), e.path);
      const m = parseDeviceMappings(doc([e]), 'f');
      assert.equal(checkMapping(m, 'gpu', 'node-a', inv).state, 'ok');
      assert.deepEqual(mappingAddresses(m, 'gpu', 'node-a', inv), ['0000:02:00.0']);
      assert.equal(checkMapping(m, 'gpu', 'node-b', inv).state, 'absent');

      const moved = parseDeviceMappings(doc([{ ...e, id: '10de:2204', iommuGroup: 9 }]), 'f');
      const c = checkMapping(moved, 'gpu', 'node-a', inv);
      assert.equal(c.state, 'drift');
      assert.deepEqual(c.entries[0]!.differences.map((d) => d.field).sort(), ['id', 'iommuGroup']);
      assert.throws(() => mappingAddresses(moved, 'gpu', 'node-a', inv), /does not match/);

      const gone = parseDeviceMappings(doc([{ ...e, address: '0000:09:00.0' }]), 'f');
      assert.equal(checkMapping(gone, 'gpu', 'node-a', inv).state, 'missing');

      // a serial the node cannot read is unknown, not drift
      const serial = parseDeviceMappings(doc([{ ...e, serial: '00-11-22-33-44-55-66-77' }]), 'f');
      const sc = checkMapping(serial, 'gpu', 'node-a', inv, () => null);
      assert.equal(sc.state, 'ok');
      assert.deepEqual(sc.entries[0]!.unknown, ['serial']);
      assert.equal(checkMapping(serial, 'gpu', 'node-a', inv, () => '00-11-22-33-44-55-66-78').state, 'drift');
    } finally {
      t.cleanup();
    }
  });
});
