/**
 * The real-kernel suite (host side): boots Debian's kernel under QEMU/TCG with an emulated Intel IOMMU
 * (test/kernel/harness.ts), runs the guest suite (test/kernel/guest/*.test.mjs) inside, and turns every
 * guest test into a host subtest. Skips with a printed reason where the machine cannot run it.
 *
 * Boots (each ~10-60 s under TCG, see docs/testing.md):
 *   1. main topology, intel_iommu=on: topology, groups, ls, snapshot (then read back here with --root),
 *      SR-IOV VFs, vfio-pci round trip, nested QEMU viability proof (files that change bindings last);
 *   2. intel_iommu=off: no groups, seen as such.
 * VFIOCTL_KERNEL_BOOTS=main,no-iommu selects boots; VFIOCTL_KERNEL_GUEST_TESTS=a.test.mjs,b.test.mjs
 * narrows the guest files of every boot (for working on one file).
 */
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_DIR, type GuestRun } from './harness.js';
import { type Boot, bootSuite, readJson, replayGuestSnapshot, vfioctlOnHost } from './boot-suite.js';
import { mainTopology, noIommuTopology } from './topologies.js';

const SAMPLE_DIR = path.join(PROJECT_DIR, 'samples', 'q35-intel-iommu');

/** Snapshot output read back on the host equals the guest's live output; optionally refresh the sample. */
async function snapshotOnHost(t: TestContext, r: GuestRun): Promise<void> {
  const snap = await replayGuestSnapshot(t, r);
  if (!snap) return; // the guest's snapshot test failed and said why
  if (process.env.VFIOCTL_UPDATE_SAMPLE === '1') {
    // Replace the capture, keep the sample's README.md.
    fs.mkdirSync(SAMPLE_DIR, { recursive: true });
    for (const name of fs.readdirSync(SAMPLE_DIR)) {
      if (name !== 'README.md') fs.rmSync(path.join(SAMPLE_DIR, name), { recursive: true, force: true });
    }
    fs.cpSync(snap, SAMPLE_DIR, { recursive: true, verbatimSymlinks: true });
    t.diagnostic(`sample refreshed: ${SAMPLE_DIR}`);
  }
  await t.test('host: the packaged sample samples/q35-intel-iommu has the groups of this boot', () => {
    assert.ok(fs.existsSync(SAMPLE_DIR), 'no packaged sample: run the kernel suite once with VFIOCTL_UPDATE_SAMPLE=1');
    const sample = vfioctlOnHost(['groups', '--json', '--root', SAMPLE_DIR]);
    assert.equal(sample.status, 0, sample.out);
    // Membership and roles only: drivers and group numbers may move with a kernel update without the
    // sample being wrong; a different grouping means the topology or the kernel changed.
    const shape = (doc: unknown): string[] => ((doc as { groups: { members: { address: string; role: string }[] }[] }).groups)
      .map((g) => g.members.map((m) => `${m.address}:${m.role}`).sort().join(' ')).sort();
    assert.deepEqual(shape(sample.json), shape(readJson(path.join(r.runDir, 'live-groups.json'))),
      'the packaged sample no longer matches the harness topology: refresh it with VFIOCTL_UPDATE_SAMPLE=1 node scripts/run-tests.mjs test/kernel/kernel.test.ts');
  });
}

const boots: Boot[] = [
  {
    name: 'main',
    options: {
      topology: mainTopology,
      cmdline: 'intel_iommu=on',
      guestTests: ['topology.test.mjs', 'groups.test.mjs', 'ls.test.mjs', 'snapshot.test.mjs', 'doctor.test.mjs', 'sriov.test.mjs', 'vfio-roundtrip.test.mjs', 'nested-qemu.test.mjs'],
      timeoutMs: 420_000,
    },
    after: snapshotOnHost,
  },
  {
    // the apply layer (bind/release/rollback/SR-IOV) on the main topology, in a boot of its own
    name: 'apply',
    options: {
      topology: mainTopology,
      cmdline: 'intel_iommu=on',
      guestTests: ['apply.test.mjs'],
      timeoutMs: 900_000,
      label: 'apply',
    },
  },
  {
    name: 'no-iommu',
    options: {
      topology: noIommuTopology,
      cmdline: 'intel_iommu=off',
      guestTests: ['topology.test.mjs', 'no-iommu.test.mjs', 'doctor.test.mjs'],
      timeoutMs: 240_000,
    },
  },
];

const suiteStart = performance.now();
bootSuite({
  title: 'real-kernel suite',
  boots,
  describe: (b) => `${b.options.topology.description}, ${b.options.cmdline}`,
  done: () => {
    console.log(`# real-kernel suite: ${((performance.now() - suiteStart) / 1000).toFixed(1)} s`);
  },
});
