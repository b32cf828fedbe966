import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { VERSION } from '../../src/model/version.js';

const REPO = path.resolve(import.meta.dirname, '../..');

test('the version constant is package.json\'s version', () => {
  assert.equal(VERSION, (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
});

test('vfioctl --version prints the version; --version --json describes the build and the running platform', async () => {
  const plain = await runCli(['--version']);
  assert.deepEqual([plain.code, plain.stdout], [0, `${VERSION}\n`]);
  const r = await runCli(['--json', '--version']);
  assert.equal(r.code, 0);
  const doc = JSON.parse(r.stdout) as Record<string, unknown> & { platform: Record<string, unknown> };
  assert.equal(Object.keys(doc)[0], 'schemaVersion');
  assert.equal(doc.version, VERSION);
  assert.equal(doc.build, 'npm', 'run from the sources: not a single executable');
  assert.equal(doc.platform.arch, process.arch);
  assert.equal(doc.platform.node, process.version);
  assert.equal(typeof doc.platform.kernel, 'string');
});

test('self-check verifies the samples, pci.ids and tools; a missing required tool is exit 3 with a remedy', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-selfcheck-'));
  try {
    const r = await runCli(['self-check', '--json'], { env: { PATH: empty } });
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout) as { verdict: string; checks: { id: string; ok: boolean; required: boolean; remedy: string | null; detail: string }[] };
    assert.equal(doc.verdict, 'incomplete');
    const by = new Map(doc.checks.map((c) => [c.id, c]));
    assert.equal(by.get('samples')?.ok, true, by.get('samples')?.detail);
    assert.match(by.get('samples')!.detail, /q35-intel-iommu reads \d+ functions/);
    assert.deepEqual([by.get('tool:modprobe')?.ok, by.get('tool:modprobe')?.required, by.get('tool:modprobe')?.remedy], [false, true, 'install kmod']);
    assert.equal(by.get('tool:virsh')?.required, false);
    // with modprobe on PATH the verdict is ok (optional tools only warn)
    fs.writeFileSync(path.join(empty, 'modprobe'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const ok = await runCli(['self-check'], { env: { PATH: empty } });
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^self-check: ok$/m);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});
