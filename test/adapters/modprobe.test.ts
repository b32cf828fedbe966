import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editModprobeConf, parseModprobeConf, renderVfioModprobeConf, isEffectivelyEmpty } from '../../src/adapters/modprobe.js';
import { readGoldenInput, expectGoldenOutput } from '../support/golden.js';

const ADD = { addIds: ['10de:1b80', '10de:10f0'], addSoftdeps: ['nouveau', 'snd_hda_intel'] };
const REMOVE = { removeIds: ['10de:1b80', '10de:10f0'], removeSoftdeps: ['nouveau', 'snd_hda_intel'] };

describe('modprobe.d editing (golden in/out)', () => {
  for (const [name, suffix, edit] of [
    ['existing-vfio', 'add', ADD], ['existing-vfio', 'remove', REMOVE], ['other-softdep', 'add', ADD], ['vfioctl-managed', 'remove', REMOVE],
  ] as const) {
    it(`${name} ${suffix}`, () => {
      const input = readGoldenInput('modprobe', name);
      const r = editModprobeConf(input, edit);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      expectGoldenOutput('modprobe', `${name}.${suffix}.out`, r.value.text);
      const again = editModprobeConf(r.value.text, edit);
      assert.ok(again.ok);
      assert.equal(again.value.changed, false);
      const facts = parseModprobeConf(r.value.text);
      assert.ok(facts.ok);
      if (suffix === 'add') {
        for (const id of ADD.addIds) assert.ok(facts.value.ids.includes(id));
        for (const d of ADD.addSoftdeps) assert.ok(facts.value.softdeps.includes(d));
      } else {
        for (const id of REMOVE.removeIds) assert.ok(!facts.value.ids.includes(id));
        assert.deepEqual(facts.value.softdeps.filter((d) => REMOVE.removeSoftdeps.includes(d)), []);
      }
    });
  }
  it('add then remove gives back a file with only the header (which the unpersist step deletes)', () => {
    const added = renderVfioModprobeConf({ ids: ['8086:10d3'], softdeps: ['e1000e'] });
    assert.match(added, /^options vfio-pci ids=8086:10d3$/m);
    assert.match(added, /^softdep e1000e pre: vfio-pci$/m);
    const r = editModprobeConf(added, { removeIds: ['8086:10d3'], removeSoftdeps: ['e1000e'] });
    assert.ok(r.ok);
    assert.ok(isEffectivelyEmpty(r.value.text));
  });
  it('keeps lines it does not change byte for byte, including continuations', () => {
    const input = readGoldenInput('modprobe', 'other-softdep');
    const r = editModprobeConf(input, ADD);
    assert.ok(r.ok);
    assert.ok(r.value.text.includes('options snd_hda_intel \\\n    power_save=0\n'));
  });
  it('refuses a file whose vfio-pci ids it cannot read', () => {
    const r = editModprobeConf(readGoldenInput('modprobe', 'bad-ids'), ADD);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error.message, /"gpu" is not a vendor:device ID/);
  });
  it('rejects malformed IDs and module names in the request', () => {
    assert.equal(editModprobeConf('', { addIds: ['10de'] }).ok, false);
    assert.equal(editModprobeConf('', { addSoftdeps: ['../x'] }).ok, false);
  });
  it('sets and removes other module options (unsafe interrupts)', () => {
    const opt = { module: 'vfio_iommu_type1', key: 'allow_unsafe_interrupts', value: '1' };
    const r = editModprobeConf('options vfio_iommu_type1 allow_unsafe_interrupts=0\n', { setOptions: [opt] });
    assert.ok(r.ok);
    assert.equal(r.value.text, 'options vfio_iommu_type1 allow_unsafe_interrupts=1\n');
    const back = editModprobeConf(r.value.text, { removeOptions: [opt] });
    assert.ok(back.ok);
    assert.equal(back.value.text, '');
  });
  it('a later ids= wins: new IDs merge into the effective entry', () => {
    const r = editModprobeConf('options vfio-pci ids=1111:2222\noptions vfio_pci ids=3333:4444\n', { addIds: ['5555:6666'] });
    assert.ok(r.ok);
    assert.equal(r.value.text, 'options vfio-pci ids=1111:2222\noptions vfio_pci ids=3333:4444,5555:6666\n');
  });
});
