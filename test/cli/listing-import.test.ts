/** --from: skipped lines in human and JSON output, per-function unknown drivers, nothing usable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';

const LISTINGS = new URL('../fixtures/listings/', import.meta.url).pathname;
const env = { NO_COLOR: '1', VFIOCTL_PCI_IDS: '/nonexistent' };

test('ls --from: "N lines not understood" with the first few, and source.skipped in --json', async () => {
  const r = await runCli(['ls', '--from', join(LISTINGS, 'forum-bbcode.txt')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 lines not understood:\n {2}line 1: Hi all, here is what my groups look like after enabling the \.\.\. {2}\(not a line of any listing vfioctl reads\)\n {2}line 10: \[COLOR=red\]/);
  const j = (await runCli(['ls', '--json', '--from', join(LISTINGS, 'forum-bbcode.txt')])).json<{ source: { skipped: { line: number }[] } }>();
  assert.deepEqual(j.source.skipped.map((s) => s.line), [1, 10]);
});

test('groups --from a merged paste: known drivers shown, unknown ones "?", not "-"', async () => {
  const r = await runCli(['groups', '--from', join(LISTINGS, 'concatenated-merge.txt')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /01:00\.0 .*driver nvidia/);
  assert.match(r.stdout, /00:1f\.3 .*driver \?/);
  assert.match(r.stdout, /drivers in use \(for 4 of 7 functions\)/);
  assert.doesNotMatch(r.stdout, /not understood/);
});

test('plan --from the mixed listing finds the GPU that the old reader lost', async () => {
  const r = await runCli(['plan', '00:14.3', '--json', '--from', join(LISTINGS, 'mixed-group-styles.txt')]);
  const j = r.json<{ findings: { id: string }[]; claim: string[] }>();
  assert.ok(!j.findings.some((f) => f.id === 'device-not-found'), JSON.stringify(j.findings.map((f) => f.id)));
  assert.deepEqual(j.claim, ['0000:00:14.3']);
});

test('--from text with nothing usable exits 2 with a remedy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfioctl-from-'));
  const f = join(dir, 'p.txt');
  writeFileSync(f, '# my GPU is not detected\nplease help\n');
  const r = await runCli(['ls', '--from', f], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no PCI function with IDs found \(2 lines not understood: line 1: text after a shell prompt/);
  assert.match(r.stderr, /remedy: paste the output of `lspci -nn`/);
});
