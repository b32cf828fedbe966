/**
 * Node's built-in modules that only some commands need, loaded on first use. `node:child_process`,
 * `node:zlib`, `node:crypto` and the stream modules cost 1–3 ms each to load (they are not in Node's
 * start-up snapshot), and most invocations (`ls`, `groups`, `doctor` on a tree) never call them
 * (docs/performance.md, start-up). The bundle turns each `createRequire(import.meta.url)(...)` into a
 * plain `require` (scripts/bundle.mjs).
 */
import { createRequire } from 'node:module';

export function nodeZlib(): typeof import('node:zlib') {
  return createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
}

export function nodeChildProcess(): typeof import('node:child_process') {
  return createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
}

export function nodeCrypto(): typeof import('node:crypto') {
  return createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
}

/** gunzip with Node's zlib, loaded on first use. */
export function gunzipSync(buf: Buffer, options?: import('node:zlib').ZlibOptions): Buffer {
  return nodeZlib().gunzipSync(buf, options);
}
