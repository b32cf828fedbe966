/** Node labels (NFD local feature file): syntax, values from real trees, unknown facts, the size limit. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { featureFileText, parseFeatureFile, validLabel, FEATURE_FILE_LIMIT, type NodeLabel } from '../../src/core/node-labels.js';
import { openSession } from '../../src/index.js';
import { nodeFeatures } from '../../src/service/fleet.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';

describe('node labels', () => {
  it('validLabel follows Kubernetes label syntax and NFD\'s reserved namespaces', () => {
    assert.equal(validLabel('vfioctl.io/iommu', 'true'), null);
    assert.equal(validLabel('vfioctl.io/candidate.10de-1b80', 'isolated'), null);
    assert.equal(validLabel('feature.node.kubernetes.io/x', 'y'), null);
    assert.match(validLabel('iommu', 'true')!, /namespace/);
    assert.match(validLabel('kubernetes.io/x', 'y')!, /reserved/);
    assert.match(validLabel('vfioctl.io/a:b', 'y')!, /name/);
    assert.match(validLabel('vfioctl.io/x', 'a'.repeat(64))!, /value/);
    assert.match(validLabel('vfioctl.io/x', 'has space')!, /value/);
    assert.equal(validLabel('vfioctl.io/x', ''), null, 'an empty value is a valid label value');
  });

  it('a sample host: IOMMU on, Intel, interrupt remapping on, candidates by isolation', async () => {
    const s = openSession({ sample: true });
    const f = await nodeFeatures(s, { now: new Date('2026-12-01T00:00:00Z'), expirySeconds: 120 });
    const l = Object.fromEntries(f.labels.map((x) => [x.name, x.value]));
    assert.equal(l['vfioctl.io/iommu'], 'true');
    assert.equal(l['vfioctl.io/iommu.vendor'], 'intel');
    assert.equal(l['vfioctl.io/interrupt-remapping'], 'true');
    assert.equal(l['vfioctl.io/ready'], 'true');
    assert.ok(Object.keys(l).some((k) => k.startsWith('vfioctl.io/candidate.')));
    assert.equal(f.expiry, '2026-12-01T00:02:00Z');
    assert.deepEqual(parseFeatureFile(f.text).labels, l);
    for (const x of f.labels) assert.ok(x.why.length > 0, x.name);
  });

  it('a host without an IOMMU says false; an imported listing says unknown, never false', async () => {
    const t = makeTempHostTree({ ...SPEC, iommu: 'none', functions: SPEC.functions.map((f) => ({ ...f, iommuGroup: null })) });
    try {
      const f = await nodeFeatures(openSession({ root: t.root }));
      const l = Object.fromEntries(f.labels.map((x) => [x.name, x.value]));
      assert.equal(l['vfioctl.io/iommu'], 'false');
      assert.equal(l['vfioctl.io/ready'], 'false');
      assert.equal(Object.keys(l).filter((k) => k.includes('candidate.')).length, 0, 'no group isolation without groups');
    } finally {
      t.cleanup();
    }
    const listing = '00:02.0 VGA compatible controller [0300]: Intel Corporation Device [8086:9a49] (rev 01)\n';
    const f = await nodeFeatures(openSession({ from: { text: listing, name: 'pasted' } }));
    const l = Object.fromEntries(f.labels.map((x) => [x.name, x.value]));
    assert.equal(l['vfioctl.io/iommu'], 'unknown');
    assert.equal(l['vfioctl.io/interrupt-remapping'], 'unknown');
    assert.equal(l['vfioctl.io/iommufd'], 'unknown');
    assert.equal(l['vfioctl.io/ready'], undefined, 'no doctor verdict without the host');
  });

  it('the file drops invalid labels and stays under NFD\'s 64 KiB limit', () => {
    const many: NodeLabel[] = Array.from({ length: 3000 }, (_, i) => ({ name: `vfioctl.io/candidate.${String(i).padStart(4, '0')}-0000`, value: 'isolated', why: 'test' }));
    many.push({ name: 'vfioctl.io/bad name', value: 'x', why: 'test' });
    const f = featureFileText(many, { expiry: new Date(0), generatedAt: new Date(0), host: '/' });
    assert.ok(Buffer.byteLength(f.text) <= FEATURE_FILE_LIMIT);
    assert.ok(f.dropped.some((d) => d.name === 'vfioctl.io/bad name'));
    assert.ok(f.dropped.some((d) => /64|limit/.test(d.reason)));
    assert.match(f.text, /^# \+expiry-time=1970-01-01T00:00:00Z$/m);
  });
});
