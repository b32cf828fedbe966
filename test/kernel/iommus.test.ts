/**
 * The real-kernel suite for the other virtual IOMMUs (host side): Debian's kernel under QEMU/TCG with
 * QEMU's AMD IOMMU (amd-iommu, ACPI IVRS) with and without interrupt remapping, and with virtio-iommu-pci
 * (ACPI VIOT), each on its own topology (test/kernel/topologies.ts). Each boot runs several guest files:
 * the kernel's own signals (iommu-signals), the topology, groups against /sys/kernel/iommu_groups, the
 * doctor's IOMMU and interrupt-remapping findings against those signals (iommu-doctor), a bind round
 * trip through vfioctl with a nested QEMU taking the device (iommu-bind), and a snapshot that the host
 * then replays with --root and compares with the guest's live output.
 *
 * VFIOCTL_KERNEL_BOOTS=amd,amd-noir,virtio-iommu selects boots; VFIOCTL_KERNEL_GUEST_TESTS narrows the
 * guest files, as in kernel.test.ts.
 */
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GuestRun } from './harness.js';
import { type Boot, bootSuite, readJson, replayGuestSnapshot, vfioctlOnHost } from './boot-suite.js';
import { amdTopology, virtioIommuTopology } from './topologies.js';

/**
 * The doctor on a capture differs from the live one only where it must: it is not the live host, so the
 * evidence strings naming the root are normalised and the live-only libvirt runtime check is off in both.
 */
function doctorShape(doc: unknown): unknown {
  const d = doc as { findings: { id: string; severity: string; summary: string }[]; verdict: string };
  return { verdict: d.verdict, findings: d.findings.map((f) => `${f.id} ${f.severity} ${f.summary}`) };
}

/** The guest's snapshot, unpacked and read back here with --root, equals what the guest saw live. */
async function snapshotOnHost(t: TestContext, r: GuestRun): Promise<void> {
  const snap = await replayGuestSnapshot(t, r);
  if (!snap) return; // the guest's snapshot test failed and said why
  await t.test('host: vfioctl doctor --root <guest snapshot> gives the live verdict and findings', () => {
    const live = path.join(r.runDir, 'live-doctor.json');
    assert.ok(fs.existsSync(live), 'the guest saved no live-doctor.json');
    const host = vfioctlOnHost(['doctor', '--json', '--no-libvirt', '--root', snap]);
    assert.ok(host.json, host.out);
    assert.deepEqual(doctorShape(host.json), doctorShape(readJson(live)));
  });
}

const GUEST_FILES = ['iommu-signals.test.mjs', 'topology.test.mjs', 'groups.test.mjs', 'iommu-doctor.test.mjs', 'iommu-snapshot.test.mjs', 'iommu-bind.test.mjs'];

const boots: Boot[] = [
  {
    name: 'amd',
    options: {
      topology: amdTopology(true),
      cmdline: '',
      guestTests: GUEST_FILES,
      timeoutMs: 900_000,
      data: { expect: { model: 'amd', intremap: true, groups: true } },
    },
  },
  {
    // the same machine without interrupt remapping: vfio's type1 refuses until allow_unsafe_interrupts
    name: 'amd-noir',
    options: {
      topology: amdTopology(false),
      cmdline: '',
      guestTests: ['iommu-signals.test.mjs', 'iommu-doctor.test.mjs', 'iommu-bind.test.mjs'],
      timeoutMs: 540_000,
      data: { expect: { model: 'amd', intremap: false, groups: true } },
    },
  },
  {
    // Debian 12's 6.1 kernel is built without CONFIG_VIRTIO_IOMMU (and so without CONFIG_ACPI_VIOT)
    name: 'virtio-iommu',
    options: {
      topology: virtioIommuTopology(false),
      cmdline: '',
      guestTests: ['iommu-signals.test.mjs', 'topology.test.mjs', 'iommu-doctor.test.mjs', 'iommu-snapshot.test.mjs', 'iommu-bind.test.mjs'],
      timeoutMs: 420_000,
      data: { expect: { model: 'virtio', intremap: false, groups: false } },
    },
  },
];

// every boot's snapshot (when its guest made one) is replayed here
bootSuite({ title: 'real-kernel IOMMU suite', boots: boots.map((b) => ({ ...b, after: snapshotOnHost })), describe: (b) => b.options.topology.description });
