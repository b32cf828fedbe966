import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDocument, SCHEMA_VERSION } from '../../src/model/reports.js';

describe('jsonDocument (the --json envelope)', () => {
  it('puts schemaVersion first and keeps every field of the report, version included', () => {
    const doc = jsonDocument({ version: 1, verdict: 'ok', findings: [] });
    assert.deepEqual(Object.keys(doc), ['schemaVersion', 'version', 'verdict', 'findings']);
    assert.deepEqual(doc, { schemaVersion: SCHEMA_VERSION, version: 1, verdict: 'ok', findings: [] });
  });

  it('wraps errors the same way, and a report cannot claim another schemaVersion', () => {
    assert.equal(JSON.stringify(jsonDocument({ error: { code: 'x', message: 'y', remedy: null } })), '{"schemaVersion":1,"error":{"code":"x","message":"y","remedy":null}}');
    assert.equal(jsonDocument({ schemaVersion: 7 } as object as { a: number }).schemaVersion, 1);
  });
});
