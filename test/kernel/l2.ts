/**
 * The L2 guest of the libvirt boot (test/kernel/libvirt.test.ts): what the libvirt daemon inside the L1
 * guest starts with an assigned device. Two files, cached in work/l2-<key>/:
 * - vmlinux: Debian's own kernel (the one the harness boots), decompressed from the bzImage into its ELF
 *   form so QEMU boots it through the PVH entry point: no real-mode setup and no in-guest xz
 *   decompression, which under TCG inside TCG is most of a boot;
 * - initramfs.cpio: busybox and test/kernel/guest/l2-init.sh as /init (prints the PCI functions it sees
 *   to the serial console, then powers off; stays up with `l2.hold`).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GUEST_DIR, WORK_DIR, type KernelInfo } from './harness.js';

export interface L2Files {
  vmlinux: string;
  initramfs: string;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** The ELF kernel inside a bzImage: the first xz stream of the payload, decompressed with xz(1). */
function extractVmlinux(bzImage: string, out: string): void {
  const data = fs.readFileSync(bzImage);
  let at = data.indexOf(XZ_MAGIC);
  while (at >= 0) {
    const r = spawnSync('xz', ['-dc', '--single-stream', '-q'], { input: data.subarray(at), maxBuffer: 512 * 1024 * 1024 });
    if (r.stdout && r.stdout.length > 4 && r.stdout.subarray(0, 4).equals(ELF_MAGIC)) {
      fs.writeFileSync(out, r.stdout);
      return;
    }
    at = data.indexOf(XZ_MAGIC, at + 1);
  }
  throw new Error(`no xz-compressed ELF kernel found in ${bzImage} (is xz-utils installed?)`);
}

export function buildL2(kernel: KernelInfo): L2Files {
  const init = fs.readFileSync(path.join(GUEST_DIR, 'l2-init.sh'));
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  if (!busybox) throw new Error('no busybox (busybox-static) for the L2 initramfs');
  const bb = fs.statSync(busybox);
  const key = createHash('sha256').update(JSON.stringify({ kernel: kernel.package, busybox: [bb.size, bb.mtimeMs] })).update(init).digest('hex').slice(0, 12);
  const dir = path.join(WORK_DIR, `l2-${key}`);
  const files: L2Files = { vmlinux: path.join(dir, 'vmlinux'), initramfs: path.join(dir, 'initramfs.cpio') };
  if (fs.existsSync(files.vmlinux) && fs.existsSync(files.initramfs)) return files;

  for (const f of fs.readdirSync(WORK_DIR)) if (/^l2-[0-9a-f]+$/.test(f)) fs.rmSync(path.join(WORK_DIR, f), { recursive: true, force: true });
  const stage = path.join(dir, 'stage');
  fs.mkdirSync(path.join(stage, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev']) fs.mkdirSync(path.join(stage, d));
  fs.copyFileSync(busybox, path.join(stage, 'bin', 'busybox'));
  fs.chmodSync(path.join(stage, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'mount', 'cat', 'cut', 'grep', 'sleep', 'poweroff', 'echo']) fs.symlinkSync('busybox', path.join(stage, 'bin', a));
  fs.writeFileSync(path.join(stage, 'init'), init, { mode: 0o755 });
  const tmp = `${files.initramfs}.tmp`;
  const r = spawnSync('sh', ['-c', 'find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet > "$0"', tmp], { cwd: stage, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpio (L2 initramfs) failed: ${r.stderr}`);
  fs.renameSync(tmp, files.initramfs);
  fs.rmSync(stage, { recursive: true, force: true });
  extractVmlinux(kernel.vmlinuz, `${files.vmlinux}.tmp`);
  fs.renameSync(`${files.vmlinux}.tmp`, files.vmlinux);
  return files;
}
