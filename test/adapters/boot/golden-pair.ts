/**
 * In/out golden pairs for the file editors: `test/golden/<area>/<name>.in` is edited and the result
 * compared with `<name>.<suffix>.out` (or an error message with `<name>.<suffix>.err`). Regenerate
 * with VFIOCTL_UPDATE_GOLDEN=1 and review the diff before committing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';

const ROOT = path.resolve(import.meta.dirname, '../../golden');

export function readGoldenInput(area: string, name: string): string {
  return fs.readFileSync(path.join(ROOT, area, `${name}.in`), 'utf8');
}

export function expectGoldenOutput(area: string, file: string, actual: string): void {
  const p = path.join(ROOT, area, file);
  if (process.env.VFIOCTL_UPDATE_GOLDEN === '1') {
    fs.writeFileSync(p, actual);
    return;
  }
  let expected: string;
  try {
    expected = fs.readFileSync(p, 'utf8');
  } catch {
    assert.fail(`golden file ${path.relative(process.cwd(), p)} is missing; run with VFIOCTL_UPDATE_GOLDEN=1 and review it`);
  }
  assert.equal(actual, expected, `output differs from ${path.relative(process.cwd(), p)}`);
}
