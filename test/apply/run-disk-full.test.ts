/**
 * A full disk during a run: the state directory is a 16 KiB tmpfs (in a private mount namespace, so no
 * privilege is needed on the machine) and the journal of the file step does not fit. The run must say
 * so plainly (exit 4, no "internal error", no stack trace), leave the configuration file as it was,
 * and name `vfioctl recover` for the journal it could not finish.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from './helpers.js';

const ENTRY = path.join(import.meta.dirname, '../security/cli-entry.ts');
const probe = spawnSync('unshare', ['-rm', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs "$d" && umount "$d" && rmdir "$d"'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `cannot mount a tmpfs in a user namespace here (${(probe.error?.message ?? probe.stderr).trim()})`;

describe('disk full during a run', () => {
  it('ENOSPC while journaling: exit 4, a clear message, the file untouched', { skip }, () => {
    const grub = `GRUB_DEFAULT=0\n${'# padding comment line of a grub defaults file\n'.repeat(500)}GRUB_CMDLINE_LINUX="quiet"\n`;
    const t = makeTempHostTree({ ...SPEC, files: { 'etc/os-release': 'ID=debian\n', 'etc/default/grub': grub, 'usr/sbin/update-grub': '#!/bin/sh\n', 'proc/cpuinfo': 'vendor_id\t: GenuineIntel\n' } });
    try {
      fs.mkdirSync(path.join(t.root, 'var/lib/vfioctl'), { recursive: true });
      const script = `mount -t tmpfs -o size=16k tmpfs "$1/var/lib/vfioctl" && exec "$2" --import tsx "$3" host enable-iommu --yes --no-regenerate --root "$1"`;
      const r = spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', t.root, process.execPath, ENTRY], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      assert.equal(r.status, 4, r.stderr);
      assert.match(r.stderr, /vfioctl: no space left on the device \(ENOSPC\); rolled back: edit etc\/default\/grub; /);
      assert.match(r.stderr, /remedy: .*free space .*`vfioctl recover`/);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at \S/);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), grub, 'the grub file is as it was');
    } finally {
      t.cleanup();
    }
  });
});
