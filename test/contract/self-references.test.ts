/**
 * Honest self-references: every `vfioctl COMMAND --option` that vfioctl prints or documents names a
 * command and options the program really has. Sources: the string literals of src/ (remedies, rendered
 * scripts, notes), the code of docs/*.md and README.md, and the human and --json output of every command
 * on the samples and synthetic hosts (test/contract/scenarios.ts). The checker is tested first.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badReferences, badReferencesInProse, commandTree, jsonStrings, markdownCode, stringLiterals, type CommandNode } from './self-references.js';
import { useFakeApplyRuntime } from '../apply/helpers.js';
import { runScenarios } from './scenarios.js';

useFakeApplyRuntime([]);
const REPO = path.resolve(import.meta.dirname, '../..');

function walk(dir: string, ext: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, ext, out);
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

let tree: CommandNode;
before(async () => {
  tree = await commandTree();
});

describe('self-reference checker', () => {
  it('knows the real commands, subcommands and options, and flags the rest', () => {
    assert.deepEqual(badReferences(tree, 'vfioctl persist 01:00.0 --by-id --dry-run', true), []);
    assert.deepEqual(badReferences(tree, 'vfioctl host enable-iommu --no-pt --root /x', true), []);
    assert.deepEqual(badReferences(tree, 'vfioctl --sample sriov set 01:00.0 4 --persist --json', true), []);
    assert.deepEqual(badReferences(tree, 'vfioctl host enable-iommu|disable-iommu', true), []);
    assert.deepEqual(badReferences(tree, 'vfioctl bind/release ADDR...', true), []);
    assert.equal(badReferences(tree, 'vfioctl bind/apply ADDR...', true).length, 1);
    assert.equal(badReferences(tree, 'vfioctl apply', true).length, 1);
    assert.equal(badReferences(tree, 'vfioctl persist 01:00.0 --by-address', true).length, 1);
    assert.equal(badReferences(tree, 'vfioctl host enable-vfio', true).length, 1);
    assert.equal(badReferences(tree, 'vfioctl sriov set 01:00.0 4 --no-pt', true).length, 1, 'an option of another command');
    // prose: "run vfioctl as root" is a sentence, but not in a code span
    assert.deepEqual(badReferencesInProse(tree, 'run vfioctl as root; vfioctl has changed nothing'), []);
    assert.equal(badReferencesInProse(tree, 'try `vfioctl as root`').length, 1);
    assert.equal(badReferencesInProse(tree, 'binding at runtime (vfioctl apply) works now').length, 1);
    assert.deepEqual(badReferencesInProse(tree, 'var/lib/vfioctl apply, vfioctl-vfio.conf, vfioctl: failed, hv-vendor-id=vfioctl \\'), []);
  });
});

describe('every vfioctl command vfioctl names exists', () => {
  it('in the string literals of src/', () => {
    const bad: string[] = [];
    let n = 0;
    for (const file of walk(path.join(REPO, 'src'), '.ts')) {
      for (const lit of stringLiterals(file, fs.readFileSync(file, 'utf8'))) {
        if (!/vfioctl /.test(lit.text)) continue;
        n++;
        for (const p of badReferencesInProse(tree, lit.text)) bad.push(`${path.relative(REPO, lit.file)}:${lit.line}: ${p}`);
      }
    }
    console.log(`checked ${n} string literals naming vfioctl`);
    assert.ok(n > 50, `only ${n} literals found: the scan is broken`);
    assert.deepEqual(bad, []);
  });

  it('in the code spans and blocks of README.md and docs/*.md', () => {
    const bad: string[] = [];
    for (const file of [path.join(REPO, 'README.md'), ...walk(path.join(REPO, 'docs'), '.md')]) {
      for (const code of markdownCode(fs.readFileSync(file, 'utf8'))) {
        for (const line of code.split('\n')) for (const p of badReferences(tree, line.replace(/^\s*\$\s+/, ''), true)) bad.push(`${path.relative(REPO, file)}: ${p}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('in the human and --json output of every command', async () => {
    const bad = new Set<string>();
    let n = 0;
    for (const json of [false, true]) {
      n += await runScenarios(json, ({ argv, run }) => {
        const texts = json && run.stdout.trim() ? [...jsonStrings(JSON.parse(run.stdout)), run.stderr] : [run.stdout, run.stderr];
        for (const text of texts) for (const line of text.split('\n')) for (const p of badReferencesInProse(tree, line)) bad.add(`vfioctl ${argv.join(' ').replace(/\/\S+/g, 'PATH')}: ${p}`);
      });
    }
    console.log(`scanned the output of ${n} invocations`);
    assert.deepEqual([...bad], []);
  });
});
