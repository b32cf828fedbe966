/** Shared set-up for apply/ tests: a synthetic host tree, the kernel-like fake, an ApplyContext. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, after } from 'node:test';
import { applyRuntime } from '../../src/cli/commands/bind.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { FakeKernel, type FakeKernelOptions } from '../support/fake-kernel.js';
import { HostRoot } from '../../src/host/host-root.js';
import { ConfigWriter } from '../../src/host/host-writer.js';
import { createExec } from '../../src/adapters/exec.js';
import { StateStore, STATE_DIR } from '../../src/apply/state.js';
import type { ApplyContext } from '../../src/apply/run.js';

/**
 * 00:01.0 root port (pcieport) -> 01:00.0 NIC (e1000e), group 1
 * 00:02.0 root port -> 02:00.0 GPU (nouveau) + 02:00.1 audio (snd_hda_intel), group 2 (multifunction)
 * 00:03.0 PCIe-to-PCI bridge -> 03:01.0 + 03:02.0 conventional NICs (8139cp), group 3 with the bridge
 * 00:04.0 root port -> 04:00.0 NVMe (nvme) with SR-IOV, group 4
 * 00:05.0 a function with no IOMMU group (ahci)
 * 00:06.0 the host's console display (bochs-drm, boot VGA), group 6: the GPU is not the host's only display
 */
export const SPEC: HostSpec = {
  functions: [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x29c0, classCode: 0x060000, iommuGroup: 0 },
    { address: '0000:00:01.0', vendor: 0x1b36, device: 0x000c, classCode: 0x060400, driver: 'pcieport', iommuGroup: 1, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:01:00.0', vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: 'e1000e', iommuGroup: 1, parent: '0000:00:01.0', caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:00:02.0', vendor: 0x1b36, device: 0x000c, classCode: 0x060400, driver: 'pcieport', iommuGroup: 2, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:02:00.0', vendor: 0x10de, device: 0x1b80, classCode: 0x030000, driver: 'nouveau', iommuGroup: 2, parent: '0000:00:02.0', caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:02:00.1', vendor: 0x10de, device: 0x10f0, classCode: 0x040300, driver: 'snd_hda_intel', iommuGroup: 2, parent: '0000:00:02.0', caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:00:03.0', vendor: 0x1b36, device: 0x000e, classCode: 0x060400, iommuGroup: 3, caps: { pcie: { portType: 'pcie-to-pci-bridge' } } },
    { address: '0000:03:01.0', vendor: 0x10ec, device: 0x8139, classCode: 0x020000, driver: '8139cp', iommuGroup: 3, parent: '0000:00:03.0' },
    { address: '0000:03:02.0', vendor: 0x10ec, device: 0x8139, classCode: 0x020000, driver: '8139cp', iommuGroup: 3, parent: '0000:00:03.0' },
    { address: '0000:00:04.0', vendor: 0x1b36, device: 0x000c, classCode: 0x060400, driver: 'pcieport', iommuGroup: 4, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:04:00.0', vendor: 0x1b36, device: 0x0010, classCode: 0x010802, driver: 'nvme', iommuGroup: 4, parent: '0000:00:04.0', sriov: { totalVfs: 4, numVfs: 0 }, caps: { pcie: { portType: 'endpoint' } } },
    { address: '0000:00:05.0', vendor: 0x8086, device: 0x2922, classCode: 0x010601, driver: 'ahci', iommuGroup: null },
    { address: '0000:00:06.0', vendor: 0x1234, device: 0x1111, classCode: 0x030000, driver: 'bochs-drm', iommuGroup: 6, bootVga: true },
  ],
  iommu: 'intel',
};

export interface Env {
  root: string;
  host: HostRoot;
  kernel: FakeKernel;
  ctx: ApplyContext;
  logs: string[];
  cleanup(): void;
}

export function makeEnv(opts: FakeKernelOptions & { spec?: HostSpec; timeoutMs?: number; files?: Record<string, string> } = {}): Env {
  const spec = opts.spec ?? SPEC;
  const t = makeTempHostTree({ ...spec, files: { ...(spec.files ?? {}), ...(opts.files ?? {}) } });
  return envFor(t.root, opts, t.cleanup);
}

export function envFor(root: string, opts: FakeKernelOptions & { timeoutMs?: number } = {}, cleanup = (): void => {}): Env {
  const host = new HostRoot(root);
  const kernel = new FakeKernel(root, opts);
  const logs: string[] = [];
  const ctx: ApplyContext = {
    host,
    sysfs: kernel,
    files: new ConfigWriter(host, `${STATE_DIR}/backups`),
    exec: createExec({ env: process.env }),
    store: new StateStore(host),
    move: { timeoutMs: opts.timeoutMs ?? 300, pollMs: 5 },
    log: (l) => logs.push(l),
  };
  return { root, host, kernel, ctx, logs, cleanup: () => { kernel.dispose(); cleanup(); } };
}

export function driverOf(root: string, addr: string): string | null {
  try {
    return fs.readlinkSync(`${root}/sys/bus/pci/devices/${addr}/driver`).split('/').pop() ?? null;
  } catch {
    return null;
  }
}

export function overrideOf(root: string, addr: string): string {
  return fs.readFileSync(`${root}/sys/bus/pci/devices/${addr}/driver_override`, 'utf8').trim();
}

/**
 * Paths whose content differs between two kernel-state snapshots (compact for assertion messages).
 * `ignore` drops entries that legitimately remain (a module that was loaded stays loaded, like
 * the vfio-pci driver directory and /dev/vfio/vfio).
 */
export function changedPaths(a: Record<string, string>, b: Record<string, string>, ignore: RegExp = /drivers\/vfio-pci(\/|$)|^dev\/vfio\/vfio$/): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !ignore.test(k) && a[k] !== b[k]).sort();
}

/**
 * Installs, for the enclosing test file, the runtime the apply CLI tests share: small fake executables on
 * PATH that append their argv to $FAKE_LOG (and fail with exit 3 when $FAKE_FAIL names them), and the
 * kernel-like fake as the sysfs writer. `bin()` is the directory to put first on PATH.
 */
export function useFakeApplyRuntime(commands: readonly string[]): { bin(): string } {
  let fakeBin = '';
  const kernels: FakeKernel[] = [];
  before(() => {
    fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-bin-'));
    for (const name of commands) {
      fs.writeFileSync(path.join(fakeBin, name), `#!/bin/sh\necho "${name} $*" >> "$FAKE_LOG"\nif [ "$FAKE_FAIL" = "${name}" ]; then echo "${name}: simulated failure" >&2; exit 3; fi\n`, { mode: 0o755 });
    }
    applyRuntime.sysfsWriter = (host) => {
      const k = new FakeKernel(host.root);
      kernels.push(k);
      return k;
    };
    applyRuntime.moveTimeoutMs = 300;
  });
  after(() => {
    applyRuntime.sysfsWriter = null;
    applyRuntime.moveTimeoutMs = null;
    kernels.forEach((k) => k.dispose());
    fs.rmSync(fakeBin, { recursive: true, force: true });
  });
  return { bin: () => fakeBin };
}

/** The grub defaults most apply tests start from (IOMMU off, a serial console). */
export const DEBIAN_GRUB = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=off"\n';

/** Debian-like boot tooling for the persistent commands: grub (update-grub), initramfs-tools, an Intel CPU. */
export function debianFiles(opts: { grub?: string; modules?: string } = {}): Record<string, string> {
  return {
    'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
    'etc/default/grub': opts.grub ?? DEBIAN_GRUB,
    'usr/sbin/update-grub': '#!/bin/sh\n',
    'usr/sbin/mkinitramfs': '#!/bin/sh\n',
    'etc/initramfs-tools/modules': opts.modules ?? '# List of modules\nloop\n',
    'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: GenuineIntel\n',
  };
}
