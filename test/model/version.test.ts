import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { VERSION } from '../../src/model/version.js';

it('VERSION is package.json\'s version', () => {
  assert.equal(VERSION, (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version);
});
