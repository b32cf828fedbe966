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
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkAvailability, prepare, runGuest, describeFailures, ensureBuilt, PROJECT_DIR, type GuestRun, type GuestRunOptions,
} from './harness.js';
import { mainTopology, noIommuTopology } from './topologies.js';

const SAMPLE_DIR = path.join(PROJECT_DIR, 'samples', 'q35-intel-iommu');

interface Boot {
  name: string;
  options: GuestRunOptions;
  /** host-side checks after the guest ran */
  after?: (t: TestContext, r: GuestRun) => Promise<void>;
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

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Snapshot output read back on the host equals the guest's live output; optionally refresh the sample. */
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
      assert.deepEqual(normalizeRoot(host.json, snap), normalizeRoot(readJson(live), '/'));
    });
  }
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

/** Output may name the root it read; make the two comparable. */
function normalizeRoot(v: unknown, root: string): unknown {
  return JSON.parse(JSON.stringify(v, (k, val: unknown) => (k === 'root' && val === root ? '<root>' : val)));
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

const availability = checkAvailability();
if (!availability.ok) {
  const reason = `real-kernel suite SKIPPED: ${availability.reason}`;
  console.log(`# ${reason}`);
  test('real kernel under QEMU (q35 + intel-iommu)', { skip: reason }, () => {});
} else {
  const onlyBoots = process.env.VFIOCTL_KERNEL_BOOTS?.split(',').filter(Boolean);
  const onlyGuest = process.env.VFIOCTL_KERNEL_GUEST_TESTS?.split(',').filter(Boolean);
  const suiteStart = performance.now();

  test('real kernel: prepare packages, kernel, initramfs and build', { timeout: 900_000 }, (t) => {
    const p = prepare();
    t.diagnostic(`kernel ${p.kernel.package} (${p.kernel.version}), initramfs ${path.basename(p.initramfs)}, prepared in ${p.seconds} s`);
    const buildError = ensureBuilt();
    // The guest tests that run vfioctl fail with their own message when dist/ is missing.
    if (buildError) t.diagnostic(`build: ${buildError}`);
  });

  for (const boot of boots) {
    if (onlyBoots && !onlyBoots.includes(boot.name)) continue;
    const options = onlyGuest ? { ...boot.options, guestTests: boot.options.guestTests.filter((g) => onlyGuest.includes(g)) } : boot.options;
    if (!options.guestTests.length) continue;
    test(`real kernel boot "${boot.name}": ${options.topology.description}, ${options.cmdline}`, { timeout: (options.timeoutMs ?? 300_000) + 120_000 }, async (t) => {
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
      if (boot.after) await boot.after(t, r);
      assert.equal(r.verdict, 'passed', describeFailures(r));
      assert.ok(r.summary && r.summary.passed > 0, `the guest ran no test\n${describeFailures(r)}`);
    });
  }

  test('real kernel: suite wall time', () => {
    console.log(`# real-kernel suite: ${((performance.now() - suiteStart) / 1000).toFixed(1)} s`);
  });
}
