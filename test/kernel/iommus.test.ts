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
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkAvailability, prepare, runGuest, describeFailures, ensureBuilt, PROJECT_DIR, type GuestRun, type GuestRunOptions,
} from './harness.js';
import { amdTopology, virtioIommuTopology } from './topologies.js';

interface Boot {
  name: string;
  options: GuestRunOptions;
}

function vfioctlOnHost(args: string[]): { status: number | null; json: unknown; out: string } {
  const r = spawnSync(process.execPath, [path.join(PROJECT_DIR, 'bin', 'vfioctl.js'), ...args], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 * 1024 * 1024, timeout: 120_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, out: `${r.stdout}\n${r.stderr}` };
}

/** Output may name the root it read; make the two comparable. */
function normalizeRoot(v: unknown, root: string): unknown {
  return JSON.parse(JSON.stringify(v, (k, val: unknown) => (k === 'root' && val === root ? '<root>' : val)));
}

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
  const tarFile = path.join(r.runDir, 'snapshot.tar');
  if (!fs.existsSync(tarFile)) return; // the guest's snapshot test failed and said why
  const snap = path.join(r.runDir, 'snapshot');
  const x = spawnSync('tar', ['-C', r.runDir, '-xf', tarFile], { encoding: 'utf8' });
  assert.equal(x.status, 0, `unpacking the guest's snapshot: ${x.stderr}`);
  for (const cmd of ['groups', 'ls']) {
    await t.test(`host: vfioctl ${cmd} --json --root <guest snapshot> equals the guest's live output`, () => {
      const live = path.join(r.runDir, `live-${cmd}.json`);
      assert.ok(fs.existsSync(live), `the guest saved no live-${cmd}.json`);
      const host = vfioctlOnHost([cmd, '--json', '--root', snap]);
      assert.equal(host.status, 0, host.out);
      assert.deepEqual(normalizeRoot(host.json, snap), normalizeRoot(JSON.parse(fs.readFileSync(live, 'utf8')), '/'));
    });
  }
  await t.test('host: vfioctl doctor --root <guest snapshot> gives the live verdict and findings', () => {
    const live = path.join(r.runDir, 'live-doctor.json');
    assert.ok(fs.existsSync(live), 'the guest saved no live-doctor.json');
    const host = vfioctlOnHost(['doctor', '--json', '--no-libvirt', '--root', snap]);
    assert.ok(host.json, host.out);
    assert.deepEqual(doctorShape(host.json), doctorShape(JSON.parse(fs.readFileSync(live, 'utf8'))));
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

const availability = checkAvailability();
if (!availability.ok) {
  const reason = `real-kernel IOMMU suite SKIPPED: ${availability.reason}`;
  console.log(`# ${reason}`);
  test('real kernel under QEMU (amd-iommu, virtio-iommu)', { skip: reason }, () => {});
} else {
  const onlyBoots = process.env.VFIOCTL_KERNEL_BOOTS?.split(',').filter(Boolean);
  const onlyGuest = process.env.VFIOCTL_KERNEL_GUEST_TESTS?.split(',').filter(Boolean);

  test('real kernel: prepare packages, kernel, initramfs and build', { timeout: 900_000 }, (t) => {
    const p = prepare();
    t.diagnostic(`kernel ${p.kernel.package} (${p.kernel.version}), initramfs ${path.basename(p.initramfs)}, prepared in ${p.seconds} s`);
    const buildError = ensureBuilt();
    if (buildError) t.diagnostic(`build: ${buildError}`);
  });

  for (const boot of boots) {
    if (onlyBoots && !onlyBoots.includes(boot.name)) continue;
    const options = onlyGuest ? { ...boot.options, guestTests: boot.options.guestTests.filter((g) => onlyGuest.includes(g)) } : boot.options;
    if (!options.guestTests.length) continue;
    test(`real kernel boot "${boot.name}": ${options.topology.description}`, { timeout: (options.timeoutMs ?? 300_000) + 120_000 }, async (t) => {
      const r = await runGuest({ label: boot.name, ...options });
      const line = `boot ${boot.name}: ${(r.durationMs / 1000).toFixed(1)} s, ${r.verdict}, guest ${r.summary?.passed ?? 0} passed / ${r.summary?.failed ?? 0} failed`;
      console.log(`# ${line}`);
      t.diagnostic(line);
      for (const g of r.summary?.tests ?? []) {
        if (g.nesting !== 0) continue;
        await t.test(`guest ${g.file ?? ''}: ${g.name}`, { skip: g.status === 'skip' ? g.skipReason ?? 'skipped in the guest' : false }, () => {
          if (g.status === 'fail') assert.fail(`${g.name} failed in the guest:\n${g.error ?? '(no message)'}\n(run dir ${r.runDir})`);
        });
      }
      await snapshotOnHost(t, r);
      assert.equal(r.verdict, 'passed', describeFailures(r));
      assert.ok(r.summary && r.summary.passed > 0, `the guest ran no test\n${describeFailures(r)}`);
    });
  }
}
