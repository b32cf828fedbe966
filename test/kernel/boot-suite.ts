/**
 * What every real-kernel suite file does on the host around its boots (kernel.test.ts, iommus.test.ts,
 * libvirt.test.ts): run vfioctl here against what a guest saved, replay a guest's snapshot with --root,
 * turn each guest test into a host subtest, and the skip / prepare / boot loop of a suite of boots.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkAvailability, prepare, runGuest, describeFailures, ensureBuilt, PROJECT_DIR, type GuestRun, type GuestRunOptions,
} from './harness.js';

export interface Boot {
  name: string;
  options: GuestRunOptions;
  /** host-side checks after the guest ran */
  after?: (t: TestContext, r: GuestRun) => Promise<void>;
}

/** vfioctl (the checkout's build) run on this host, its --json output parsed when it is JSON. */
export function vfioctlOnHost(args: string[]): { status: number | null; json: unknown; out: string } {
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

export function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Output may name the root it read; make the two comparable. */
export function normalizeRoot(v: unknown, root: string): unknown {
  return JSON.parse(JSON.stringify(v, (k, val: unknown) => (k === 'root' && val === root ? '<root>' : val)));
}

/**
 * The guest's snapshot (snapshot.tar in its run directory), unpacked here: `groups` and `ls` read from
 * it with --root must equal what the guest printed live (live-groups.json, live-ls.json). Returns the
 * unpacked tree, or null when the guest made no snapshot (its own test failed and said why).
 */
export async function replayGuestSnapshot(t: TestContext, r: GuestRun): Promise<string | null> {
  const tarFile = path.join(r.runDir, 'snapshot.tar');
  if (!fs.existsSync(tarFile)) return null;
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
  return snap;
}

/** The boot's one-line result (printed and kept as a diagnostic), then each guest test as a subtest. */
export async function reportGuestTests(t: TestContext, r: GuestRun, line: string): Promise<void> {
  console.log(`# ${line}`);
  t.diagnostic(line);
  for (const g of r.summary?.tests ?? []) {
    if (g.nesting !== 0) continue;
    await t.test(`guest ${g.file ?? ''}: ${g.name}`, { skip: g.status === 'skip' ? g.skipReason ?? 'skipped in the guest' : false }, () => {
      if (g.status === 'fail') assert.fail(`${g.name} failed in the guest:\n${g.error ?? '(no message)'}\n(run dir ${r.runDir})`);
    });
  }
}

/** "boot NAME: S s, VERDICT, guest P passed / F failed" */
export function bootLine(name: string, r: GuestRun): string {
  return `boot ${name}: ${(r.durationMs / 1000).toFixed(1)} s, ${r.verdict}, guest ${r.summary?.passed ?? 0} passed / ${r.summary?.failed ?? 0} failed`;
}

/** The guest suite passed and ran at least one test. */
export function assertGuestPassed(r: GuestRun): void {
  assert.equal(r.verdict, 'passed', describeFailures(r));
  assert.ok(r.summary && r.summary.passed > 0, `the guest ran no test\n${describeFailures(r)}`);
}

/**
 * A suite of boots: skipped with a printed reason where the machine cannot boot a kernel; else a
 * preparation test (packages, kernel, initramfs, build) and a test per boot, narrowed by
 * VFIOCTL_KERNEL_BOOTS (boot names) and VFIOCTL_KERNEL_GUEST_TESTS (guest files).
 */
export function bootSuite(o: { title: string; boots: Boot[]; describe: (b: Boot) => string; done?: () => void }): void {
  const availability = checkAvailability();
  if (!availability.ok) {
    const reason = `${o.title} SKIPPED: ${availability.reason}`;
    console.log(`# ${reason}`);
    test(o.title, { skip: reason }, () => {});
    return;
  }
  const onlyBoots = process.env.VFIOCTL_KERNEL_BOOTS?.split(',').filter(Boolean);
  const onlyGuest = process.env.VFIOCTL_KERNEL_GUEST_TESTS?.split(',').filter(Boolean);

  test('real kernel: prepare packages, kernel, initramfs and build', { timeout: 900_000 }, (t) => {
    const p = prepare();
    t.diagnostic(`kernel ${p.kernel.package} (${p.kernel.version}), initramfs ${path.basename(p.initramfs)}, prepared in ${p.seconds} s`);
    const buildError = ensureBuilt();
    // The guest tests that run vfioctl fail with their own message when dist/ is missing.
    if (buildError) t.diagnostic(`build: ${buildError}`);
  });

  for (const boot of o.boots) {
    if (onlyBoots && !onlyBoots.includes(boot.name)) continue;
    const options = onlyGuest ? { ...boot.options, guestTests: boot.options.guestTests.filter((g) => onlyGuest.includes(g)) } : boot.options;
    if (!options.guestTests.length) continue;
    test(`real kernel boot "${boot.name}": ${o.describe({ ...boot, options })}`, { timeout: (options.timeoutMs ?? 300_000) + 120_000 }, async (t) => {
      const r = await runGuest({ label: boot.name, ...options });
      await reportGuestTests(t, r, bootLine(boot.name, r));
      if (boot.after) await boot.after(t, r);
      assertGuestPassed(r);
    });
  }
  if (o.done) test('real kernel: suite wall time', o.done);
}
