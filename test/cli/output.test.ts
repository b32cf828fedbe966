import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeTerminal, toJson } from '../../src/cli/output.js';

/** Every character the terminal sanitiser escapes, and ESC sequences a hostile name could carry. */
function hostileText(): string {
  let s = 'plain \t tab, \n newline, \x1b]0;title\x07 and \x1b[2J: ';
  for (let c = 0; c < 0x20; c++) s += String.fromCharCode(c);
  for (let c = 0x7f; c <= 0x9f; c++) s += String.fromCharCode(c);
  for (const c of [0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) s += String.fromCharCode(c);
  return s;
}

test('toJson text needs no terminal sanitising: printJson writes it as it is, and it is the same JSON value', () => {
  const value = { name: hostileText(), nested: [{ [hostileText()]: hostileText() }] };
  const text = toJson(value);
  assert.equal(sanitizeTerminal(text), text, 'sanitizeTerminal would change the JSON text: printJson may not skip it');
  assert.deepEqual(JSON.parse(text), value);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(text), 'no raw control or bidi character');
});
