/**
 * What killed runs leave: atomic-write temporaries in the state directory and next to the files vfioctl
 * writes, and vfioctl-* directories in the temp directory, are removed when the next mutating run starts;
 * an unpacked snapshot archive is removed on SIGINT as on a normal exit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar';
import { applyBind } from '../../src/apply/bind.js';
import { makeEnv } from './helpers.js';

const DEAD = 2 ** 22 + 11;

describe('stale temporaries', () => {
  it('a mutating run removes temporaries of dead runs (state directory, config directories, temp directory)', async () => {
    const env = makeEnv();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-tmpdir-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const planted = [
        `var/lib/vfioctl/.journal.json.vfioctl-${DEAD}-ab12cd`,
        `var/lib/vfioctl/.state.json.vfioctl-${DEAD}-ef34gh`,
        `etc/systemd/system/.vfioctl-bind.service.vfioctl-${DEAD}-zz99yy`,
        `etc/default/.grub.vfioctl-${DEAD}-q1w2e3`,
      ];
      for (const p of planted) {
        fs.mkdirSync(path.dirname(path.join(env.root, p)), { recursive: true });
        fs.writeFileSync(path.join(env.root, p), 'half-written');
      }
      fs.writeFileSync(path.join(env.root, 'etc/default/grub.keep'), 'not ours');
      for (const d of [`vfioctl-root-${DEAD}-AbCdEf`, `vfioctl-virsh-${DEAD}-a1b2c3`]) fs.mkdirSync(path.join(tmp, d, 'sys'), { recursive: true });
      fs.mkdirSync(path.join(tmp, `vfioctl-root-${process.pid}-Mine00`));
      await applyBind(env.ctx, ['0000:01:00.0']);
      for (const p of planted) assert.equal(fs.existsSync(path.join(env.root, p)), false, p);
      assert.ok(fs.existsSync(path.join(env.root, 'etc/default/grub.keep')));
      assert.deepEqual(fs.readdirSync(tmp), [`vfioctl-root-${process.pid}-Mine00`], 'only directories of live processes stay');
      assert.ok(env.logs.some((l) => /removed 6 temporary file\(s\) left by interrupted runs/.test(l)), env.logs.join('\n'));
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      fs.rmSync(tmp, { recursive: true, force: true });
      env.cleanup();
    }
  });

  it('SIGINT, SIGTERM and SIGHUP remove an unpacked snapshot archive; the process still ends by the signal', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-sig-'));
    try {
      fs.mkdirSync(path.join(work, 'tree/sys/bus/pci/devices'), { recursive: true });
      fs.writeFileSync(path.join(work, 'tree/sys/bus/pci/devices/.keep'), '');
      const archive = path.join(work, 'snap.tar.gz');
      await tar.create({ gzip: true, file: archive, cwd: path.join(work, 'tree') }, ['sys']);
      const snapshot = path.resolve(import.meta.dirname, '../../src/host/snapshot.ts');
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        const c = spawn(process.execPath, ['--import', 'tsx', '-e', `
          const { openSnapshotArchive } = await import(${JSON.stringify(snapshot)});
          console.log(openSnapshotArchive(${JSON.stringify(archive)}));
          setInterval(() => {}, 1000);`], { env: { ...process.env, TMPDIR: work }, stdio: ['ignore', 'pipe', 'pipe'] });
        const dir = await new Promise<string>((resolve) => c.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
        assert.ok(fs.existsSync(path.join(dir, 'sys/bus/pci/devices')), 'unpacked');
        const ended = new Promise<NodeJS.Signals | null>((resolve) => c.on('close', (_code, s) => resolve(s)));
        c.kill(sig);
        assert.equal(await ended, sig);
        assert.equal(fs.existsSync(dir), false, `${sig}: ${dir} removed`);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
