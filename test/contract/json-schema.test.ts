/**
 * The --json contract (docs/json.md): the committed schemas are what src/model/reports.ts generates, and
 * every document every command prints (test/contract/scenarios.ts: samples, synthetic hosts, imports,
 * libvirt, dry runs, real changes through the kernel-like fake, errors) validates against its schema.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { generateSchemas, SCHEMA_DIR, staleSchemas } from '../../scripts/gen-schemas.js';
import { SCHEMA_TYPES, SCHEMA_VERSION, type SchemaName } from '../../src/model/reports.js';
import { useFakeApplyRuntime } from '../apply/helpers.js';
import { runScenarios } from './scenarios.js';

useFakeApplyRuntime([]);

function compileAll(): Record<SchemaName, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const out = {} as Record<SchemaName, ValidateFunction>;
  for (const name of Object.keys(SCHEMA_TYPES) as SchemaName[]) {
    out[name] = ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, `${name}.schema.json`), 'utf8')));
  }
  return out;
}

describe('JSON schemas (schemas/*.schema.json)', () => {
  it('are up to date with src/model/reports.ts (npm run schemas regenerates them)', () => {
    const generated = generateSchemas();
    assert.deepEqual([...generated.keys()].sort(), Object.keys(SCHEMA_TYPES).map((n) => `${n}.schema.json`).sort());
    assert.deepEqual(staleSchemas(generated), [], 'run `npm run schemas` and commit schemas/');
  });

  it('reject a document that does not follow them (the validation has teeth)', () => {
    const v = compileAll();
    assert.equal(v.error({ schemaVersion: SCHEMA_VERSION, error: { code: 'x', message: 'y', remedy: null } }), true);
    assert.equal(v.error({ error: { code: 'x', message: 'y', remedy: null } }), false, 'schemaVersion is required');
    assert.equal(v.error({ schemaVersion: 2, error: { code: 'x', message: 'y', remedy: null } }), false);
    assert.equal(v.error({ schemaVersion: 1, error: { code: 'x', message: 'y', remedy: null, extra: 1 } }), false, 'undescribed fields fail');
    assert.equal(v.plan({ schemaVersion: 1, version: 1 }), false);
  });
});

describe('every command\'s --json output validates against its schema', () => {
  it('runs every command and option variant and validates each document', async () => {
    const v = compileAll();
    const failures: string[] = [];
    const seen = new Set<SchemaName>();
    const count = await runScenarios(true, ({ argv, schema, run }) => {
      const what = `vfioctl ${argv.join(' ')} (exit ${run.code})`;
      if (!run.stdout.trim()) {
        failures.push(`${what}: no JSON on stdout; stderr: ${run.stderr.slice(0, 300)}`);
        return;
      }
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(run.stdout) as Record<string, unknown>;
      } catch (e) {
        failures.push(`${what}: not one JSON document (${(e as Error).message})`);
        return;
      }
      const name: SchemaName = 'error' in doc ? 'error' : schema;
      // an error document always comes with a failing exit code, and a usage error (2) always with one
      if (name === 'error' && run.code === 0) failures.push(`${what}: an error document with exit code 0`);
      if (run.code === 2 && name !== 'error') failures.push(`${what}: exit code 2 without an error document`);
      seen.add(name);
      if (!v[name](doc)) failures.push(`${what}: does not follow ${name}.schema.json:\n${JSON.stringify(v[name].errors?.slice(0, 5), null, 1)}`);
    });
    console.log(`validated ${count} --json documents against ${seen.size} schemas`);
    assert.deepEqual(failures, []);
    assert.deepEqual([...seen].sort(), Object.keys(SCHEMA_TYPES).sort(), 'every schema is exercised by at least one real document');
  });
});
