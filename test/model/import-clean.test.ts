/** The wrapping removed before a pasted line is read, and how reported lines are shown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanLine, escapeLineText, splitPasteLines } from '../../src/model/import-clean.js';
import { LspciTreeReader } from '../../src/model/import-lspci-tree.js';

test('markup and prompts are removed; lspci brackets and indentation are kept', () => {
  assert.equal(cleanLine('[B]01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80][/B]').text, '01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80]');
  assert.equal(cleanLine('> \t01:00.0 x').text, '\t01:00.0 x');
  assert.equal(cleanLine('**IOMMU Group 1 01:00.0 x**').text, 'IOMMU Group 1 01:00.0 x');
  assert.deepEqual(cleanLine('root@pve:~# lspci -nnk'), { text: 'lspci -nnk', prompt: true, command: true, empty: false });
  assert.deepEqual(cleanLine('[root@host ~]# IOMMU Group 2 x'), { text: 'IOMMU Group 2 x', prompt: true, command: false, empty: false });
  assert.equal(cleanLine('```text').empty, true);
  assert.equal(cleanLine('[code]').empty, true);
  assert.equal(cleanLine('for my GPU I tried everything').command, false, 'a sentence is not a command');
  assert.equal(cleanLine('\x1b[01;31m\x1b[K01:00.0 VGA\x1b[m\x1b[K compatible').text, '01:00.0 VGA compatible');
});

test('lines split on \\n, \\r\\n, \\r and <br>, keeping the original line numbers', () => {
  assert.deepEqual(splitPasteLines('a<br>b\r\nc\rd\n'), [{ lineNo: 1, raw: 'a' }, { lineNo: 1, raw: 'b' }, { lineNo: 2, raw: 'c' }, { lineNo: 3, raw: 'd' }]);
});

test('reported text escapes control and bidi characters and is bounded', () => {
  assert.equal(escapeLineText('a\tb\x1b[31mc\u202ed'), 'a\\tb\\x1b[31mc\\u{202e}d');
  assert.equal(escapeLineText('x'.repeat(400)).length, 163);
});

test('a tree line whose list column is unknown is an error, not a guess', () => {
  const r = new LspciTreeReader();
  assert.deepEqual(r.readLine('           +-01.0  Intel'), { error: 'no open bus at column 11 (the lines above it are missing or were re-indented)' });
  assert.deepEqual(r.readLine('-[0000:00]-+-00.0  Intel'), { nodes: [{ address: '0000:00:00.0', parentChain: [], rootBus: 'pci0000:00', bridge: false }] });
});
