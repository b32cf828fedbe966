/**
 * The real-kernel libvirt boot (host side): the guides' procedures end to end. One L1 boot of Debian's
 * kernel under QEMU/TCG with the emulated Intel IOMMU (test/kernel/harness.ts) runs a real libvirt daemon
 * from the host's /usr (9p, read-only) and test/kernel/guest/libvirt.test.mjs, which starts L2 guests
 * (Debian's kernel in ELF form + a busybox initramfs, test/kernel/l2.ts) with the devices vfioctl planned:
 * nodedev agreement, managed='yes' (whole group / half group), managed='no' (bind / detach), virt-install
 * as rendered, live hotplug and hot-unplug, a SIGKILL between libvirt calls recovered from the journal,
 * and a vIOMMU domain rendered with --nested.
 *
 * Needs what the kernel suite needs, plus libvirt-daemon, libvirt-clients and virtinst on the host
 * (test/kernel/packages.txt); skips with the reason otherwise. VFIOCTL_KERNEL_LIBVIRT_TESTS narrows the
 * guest tests (a regular expression over their names) while working on one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkAvailability, prepare, runGuest, ensureBuilt, PROJECT_DIR, WORK_DIR, type KernelInfo } from './harness.js';
import { assertGuestPassed, bootLine, reportGuestTests } from './boot-suite.js';
import type { Topology } from './topologies.js';
import { buildL2 } from './l2.js';

/**
 * A small machine for libvirt: two endpoints alone in their groups behind ACS root ports (managed,
 * unmanaged, virt-install, live, vIOMMU) and a two-function endpoint sharing one group (whole group, half
 * group, the interrupted attach). Slots 0x1a-0x1c stay free for the harness's shares.
 */
export const libvirtTopology: Topology = {
  name: 'libvirt',
  description: 'q35 + intel-iommu: e1000e alone behind ACS root ports, a two-function e1000e in one group',
  intelIommu: true,
  args: [
    '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x4',
    '-device', 'e1000e,bus=rp1,mac=52:54:00:00:21:00,romfile=',
    '-device', 'pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x5',
    '-device', 'e1000e,bus=rp2,addr=0x0.0x0,multifunction=on,mac=52:54:00:00:22:00,romfile=',
    '-device', 'e1000e,bus=rp2,addr=0x0.0x1,mac=52:54:00:00:22:01,romfile=',
  ],
  features: ['acsRootPortEndpoint', 'multifunctionGroup'],
};

const HOST_TOOLS = ['/usr/sbin/libvirtd', '/usr/bin/virsh', '/usr/bin/virt-install', '/usr/bin/xz'];

function unavailable(): string | null {
  const a = checkAvailability();
  if (!a.ok) return a.reason ?? 'unavailable';
  const missing = HOST_TOOLS.filter((f) => !fs.existsSync(f));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install libvirt-daemon libvirt-clients virtinst xz-utils; see test/kernel/packages.txt)`;
  return null;
}

const reason = unavailable();
if (reason) {
  console.log(`# real-kernel libvirt suite SKIPPED: ${reason}`);
  test('real kernel: libvirt inside the guest', { skip: `real-kernel libvirt suite SKIPPED: ${reason}` }, () => {});
} else {
  let kernel: KernelInfo;
  let l2: { vmlinux: string; initramfs: string };
  test('real kernel (libvirt): prepare kernel, initramfs, L2 and build', { timeout: 900_000 }, (t) => {
    const p = prepare();
    kernel = p.kernel;
    const t0 = performance.now();
    l2 = buildL2(kernel);
    t.diagnostic(`kernel ${p.kernel.version}, L2 ${path.relative(PROJECT_DIR, l2.vmlinux)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const buildError = ensureBuilt();
    if (buildError) t.diagnostic(`build: ${buildError}`);
  });

  const timeoutMs = Number(process.env.VFIOCTL_KERNEL_LIBVIRT_TIMEOUT_MS ?? 3_600_000);
  test('real kernel boot "libvirt": libvirtd in the guest starts L2 guests with assigned devices', { timeout: timeoutMs + 120_000 }, async (t) => {
    assert.ok(kernel && l2, 'preparation failed');
    const rel = (f: string): string => {
      const r = path.relative(PROJECT_DIR, f);
      assert.ok(!r.startsWith('..'), `${f} is outside the project (the guest sees only /project): unset VFIOCTL_KERNEL_WORK`);
      return r;
    };
    const pattern = process.env.VFIOCTL_KERNEL_LIBVIRT_TESTS;
    // libvirt's QEMU capability cache of the last boot: probing QEMU under TCG takes minutes, and libvirt
    // itself decides whether a cached entry is still valid (same binaries, same CPU)
    const capsCache = path.join(WORK_DIR, 'libvirt-qemu-caps');
    const r = await runGuest({
      topology: libvirtTopology,
      cmdline: 'intel_iommu=on',
      guestTests: ['libvirt.test.mjs'],
      timeoutMs,
      // virt-install's rendered guest has 4 GiB, all of it pinned by vfio in this guest
      memoryMiB: 6144,
      label: 'libvirt',
      data: { l2: { vmlinux: rel(l2.vmlinux), initramfs: rel(l2.initramfs) }, capsCache: rel(capsCache) },
      env: pattern ? { VFIOCTL_LIBVIRT_ONLY: pattern } : {},
    });
    const newCaps = path.join(r.runDir, 'qemu-caps');
    if (fs.existsSync(newCaps) && fs.readdirSync(newCaps).length) {
      fs.rmSync(capsCache, { recursive: true, force: true });
      fs.cpSync(newCaps, capsCache, { recursive: true });
    }
    let timings: Record<string, number> = {};
    try {
      timings = JSON.parse(fs.readFileSync(path.join(r.runDir, 'libvirt-timings.json'), 'utf8')) as Record<string, number>;
    } catch {
      // the guest got no further than its setup
    }
    await reportGuestTests(t, r, `${bootLine('libvirt', r)}; ${Object.entries(timings).map(([k, v]) => `${k} ${v} s`).join(', ')}`);
    assertGuestPassed(r);
  });
}
