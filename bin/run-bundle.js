// Runs the CommonJS bundle with V8's code cache: dist/bundle/vfioctl.cjs.cache holds the compiled code
// of the bundle (made by scripts/package.mjs after a representative run). V8 rejects a cache made by
// another Node version or for other bytes, and the bundle is then compiled as usual. The packaging step
// makes the cache by running a command with VFIOCTL_WRITE_CODE_CACHE=FILE (written at exit).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import vm from 'node:vm';

const WRAP = ['(function (exports, require, module, __filename, __dirname) {', '\n})'];

export function compileBundle(url, cachedData) {
  const file = fileURLToPath(url);
  const source = WRAP[0] + readFileSync(file, 'utf8') + WRAP[1];
  const script = new vm.Script(source, { filename: file, cachedData, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
  return { script, file };
}

export function runBundle(url) {
  let cachedData;
  try {
    cachedData = readFileSync(new URL(`${url.href}.cache`));
  } catch {
    cachedData = undefined;
  }
  const { script, file } = compileBundle(url, cachedData);
  const module = { exports: {} };
  const out = process.env.VFIOCTL_WRITE_CODE_CACHE;
  if (out) process.once('exit', () => writeFileSync(out, script.createCachedData()));
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return script;
}
