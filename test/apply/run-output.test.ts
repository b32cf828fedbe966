/**
 * Output and disk errors: output to a full device is one clear line and exit 4 (no stack trace); a
 * reader that closes the pipe early stays quiet.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ENTRY = path.join(import.meta.dirname, '../security/cli-entry.ts');

function run(argv: string[], stdout: 'pipe' | number, closeEarly = false): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...argv], { stdio: ['ignore', stdout, 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d));
    if (closeEarly) c.stdout!.once('data', () => c.stdout!.destroy());
    c.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('output errors', () => {
  it('vfioctl ls > /dev/full: a clear message, exit 4, no stack trace', { skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, async () => {
    const fd = fs.openSync('/dev/full', 'w');
    try {
      for (const argv of [['--sample', 'ls'], ['--sample', 'ls', '--json'], ['--sample', 'doctor']]) {
        const r = await run(argv, fd);
        assert.equal(r.code, 4, `${argv.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^vfioctl: cannot write the output: ENOSPC; what the command did is done, only its report was lost\n {2}remedy: /);
        assert.doesNotMatch(r.stderr, /\n\s+at \S/);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a reader that stops early (EPIPE) is not an error: nothing on stderr', async () => {
    const r = await run(['--sample', 'ls'], 'pipe', true);
    assert.equal(r.stderr, '');
    assert.ok(r.code === 0, `exit ${r.code}`);
  });
});
