// Guest-side runner of the real-kernel harness (plain JavaScript: the guest runs no TypeScript).
// Reads /results/run.json written by the host and runs the requested guest test files one after the
// other, in the given order (later files may change driver bindings; earlier ones read the untouched
// machine), one node process per file with node:test's reporters. Leaves in /results: tap.txt,
// summary.json (read by test/kernel/kernel.test.ts) and guest-info.json; the spec output goes to the
// console (console.log in the run directory).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RESULTS = '/results';
const GUEST_DIR = '/project/test/kernel/guest';
const COUNTERS = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /;

function uptime() {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

const run = JSON.parse(readFileSync(join(RESULTS, 'run.json'), 'utf8'));
const started = uptime();
// the host's timeout counts from QEMU's start: the time the kernel took to get here is already spent
const deadline = Date.now() + run.guestTimeoutMs - Math.round(started * 1000);
const summary = { passed: 0, failed: 0, skipped: 0, todo: 0, tests: [], diagnostics: [], files: [] };
const env = { ...process.env, ...run.env, VFIOCTL_GUEST_RUN: join(RESULTS, 'run.json'), NO_COLOR: '1' };
delete env.VFIOCTL_ROOT;
let ok = true;

for (const name of run.guestTests) {
  const file = join(GUEST_DIR, name);
  const part = join('/tmp', `${name}.summary.json`);
  const tap = join('/tmp', `${name}.tap`);
  rmSync(part, { force: true });
  const t0 = uptime();
  console.log(`vfioctl-guest: ${name}`);
  const r = spawnSync(process.execPath, [
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    `--test-reporter=${join(GUEST_DIR, 'lib', 'json-reporter.mjs')}`, `--test-reporter-destination=${part}`,
    file,
  ], { stdio: 'inherit', env, timeout: Math.max(1000, deadline - Date.now()), killSignal: 'SIGKILL' });
  const seconds = Math.round((uptime() - t0) * 100) / 100;
  summary.files.push({ file: name, exitStatus: r.status, signal: r.signal, seconds });
  if (existsSync(tap)) appendFileSync(join(RESULTS, 'tap.txt'), `# ${name}\n${readFileSync(tap, 'utf8')}`);
  let partial = null;
  try {
    partial = JSON.parse(readFileSync(part, 'utf8'));
  } catch {
    partial = null;
  }
  if (partial) {
    for (const t of partial.tests) summary.tests.push({ ...t, file: name });
    summary.diagnostics.push(...partial.diagnostics.filter((d) => !COUNTERS.test(d)));
  }
  if (r.status !== 0 || !partial) {
    ok = false;
    // A file that crashed, timed out or failed outside any test still shows up as a failed test.
    if (!partial || partial.failed === 0) {
      summary.tests.push({
        name: `${name} (file)`, file: name, nesting: 0, status: 'fail', skipReason: null, durationMs: seconds * 1000,
        error: r.signal ? `killed by ${r.signal} (guest suite time limit)` : `exited ${r.status} without a failed test (crash or error outside a test)`,
      });
    }
  }
}
for (const t of summary.tests) {
  if (t.nesting !== 0) continue;
  if (t.status === 'pass') summary.passed++;
  else if (t.status === 'fail') summary.failed++;
  else if (t.status === 'skip') summary.skipped++;
  else summary.todo++;
}
writeFileSync(join(RESULTS, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
const finished = uptime();
writeFileSync(join(RESULTS, 'guest-info.json'), JSON.stringify({
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  cmdline: readFileSync('/proc/cmdline', 'utf8').trim(),
  node: process.version,
  suiteStartedAtUptimeS: started,
  suiteSeconds: Math.round((finished - started) * 100) / 100,
  files: summary.files,
}, null, 2) + '\n');
process.exit(ok && summary.failed === 0 ? 0 : 1);
