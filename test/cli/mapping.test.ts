/** `vfioctl mapping entry/check` and `plan --mapping` on a synthetic tree, end to end through the CLI. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';

describe('vfioctl mapping', () => {
  it('entry prints a mapping this node checks ok; a changed card is drift (exit 3); plan --mapping plans it', async () => {
    const t = makeTempHostTree({ ...SPEC, files: { 'etc/hostname': 'node-a\n' } });
    try {
      const e = await runCli(['mapping', 'entry', '02:00.0', '--name', 'gpu-1080', '--root', t.root]);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /node-a:/);
      const file = path.join(t.root, 'mappings.yaml');
      fs.writeFileSync(file, e.stdout);
      const ok = await runCli(['mapping', 'check', file, '--root', t.root, '--json']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.json<{ state: string }>().state, 'ok');

      const p = await runCli(['plan', '--mapping', 'gpu-1080', '--mappings', file, '--root', t.root, '--json']);
      assert.equal(p.code, 0, p.stderr);
      assert.deepEqual(p.json<{ claim: string[] }>().claim, ['0000:02:00.0', '0000:02:00.1']);

      fs.writeFileSync(file, e.stdout.replace(/id: 10de:1b80/, 'id: 10de:2204'));
      const drift = await runCli(['mapping', 'check', file, '--root', t.root]);
      assert.equal(drift.code, 3, drift.stdout);
      assert.match(drift.stdout, /id: mapping says 10de:2204, node has 10de:1b80/);
      const refused = await runCli(['plan', '--mapping', 'gpu-1080', '--mappings', file, '--root', t.root]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /does not match this host/);

      const other = await runCli(['mapping', 'check', file, '--root', t.root, '--node', 'node-b', '--json']);
      assert.equal(other.code, 0);
      assert.equal(other.json<{ state: string }>().state, 'absent');
    } finally {
      t.cleanup();
    }
  });

  it('the serial number (PCIe DSN) is part of the entry: a card with another serial at the same address is drift', async () => {
    const withDsn = (dsn: string) => ({ ...SPEC, files: { 'etc/hostname': 'node-a\n' }, functions: SPEC.functions.map((f) => (f.address === '0000:02:00.0' ? { ...f, caps: { ...f.caps, dsn } } : f)) });
    const t = makeTempHostTree(withDsn('0011223344556677'));
    const u = makeTempHostTree(withDsn('0011223344556678'));
    try {
      const e = await runCli(['mapping', 'entry', '02:00.0', '--name', 'gpu', '--root', t.root, '--json']);
      assert.equal(e.code, 0, e.stderr);
      const doc = e.json<{ mappings: { gpu: { nodes: { 'node-a': { serial?: string }[] } } } }>();
      assert.equal(doc.mappings.gpu.nodes['node-a'][0]!.serial, '0011223344556677');
      const file = path.join(t.root, 'm.json');
      const { schemaVersion: _s, version: _v, ...body } = doc as unknown as Record<string, unknown>;
      fs.writeFileSync(file, JSON.stringify(body));
      assert.equal((await runCli(['mapping', 'check', file, '--root', t.root])).code, 0);
      const other = await runCli(['mapping', 'check', file, '--root', u.root]);
      assert.equal(other.code, 3, other.stdout);
      assert.match(other.stdout, /serial: mapping says 0011223344556677, node has 0011223344556678/);
    } finally {
      t.cleanup();
      u.cleanup();
    }
  });
});
