/**
 * Golden files: `expectGolden('render/libvirt-desktop.xml', actual)` compares with
 * test/golden/render/libvirt-desktop.xml. Regenerate with VFIOCTL_UPDATE_GOLDEN=1 and review the diff
 * before committing. A missing golden file fails (it is never created silently).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';

export const GOLDEN_ROOT = path.resolve(import.meta.dirname, '../golden');

export function goldenPath(relPath: string): string {
  const p = path.resolve(GOLDEN_ROOT, relPath);
  if (!p.startsWith(GOLDEN_ROOT + path.sep)) throw new Error(`golden path escapes test/golden: ${relPath}`);
  return p;
}

export function expectGolden(relPath: string, actual: string): void {
  const p = goldenPath(relPath);
  if (process.env.VFIOCTL_UPDATE_GOLDEN === '1') {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, actual);
    return;
  }
  let expected: string;
  try {
    expected = fs.readFileSync(p, 'utf8');
  } catch {
    assert.fail(`golden file ${path.relative(process.cwd(), p)} is missing; run with VFIOCTL_UPDATE_GOLDEN=1 and review it`);
  }
  assert.equal(actual, expected, `output differs from ${path.relative(process.cwd(), p)} (VFIOCTL_UPDATE_GOLDEN=1 regenerates)`);
}

/** In/out pairs for file editors: the input `test/golden/<area>/<name>.in`. */
export function readGoldenInput(area: string, name: string): string {
  return fs.readFileSync(goldenPath(`${area}/${name}.in`), 'utf8');
}

/** In/out pairs for file editors: compare with `test/golden/<area>/<file>` (e.g. `<name>.<suffix>.out`). */
export function expectGoldenOutput(area: string, file: string, actual: string): void {
  expectGolden(`${area}/${file}`, actual);
}
