import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { snapshotKernelState } from '../support/fake-kernel.js';
import { applyRuntime } from '../../src/cli/commands/bind.js';
import { DEBIAN_GRUB, SPEC, debianFiles, driverOf, changedPaths, useFakeApplyRuntime } from './helpers.js';

const GRUB = DEBIAN_GRUB;
const DEBIAN = debianFiles();

const runtime = useFakeApplyRuntime(['update-grub', 'update-initramfs', 'udevadm', 'systemctl', 'grubby']);

function tree(files: Record<string, string> = {}): { root: string; cleanup(): void } {
  return makeTempHostTree({ ...SPEC, files });
}

function envFor(root: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: `${runtime.bin()}:${process.env.PATH}`, FAKE_LOG: path.join(root, 'fake.log'), NO_COLOR: '1', ...extra };
}

/** The root counts as the running system for this test (commands run: the fake executables on PATH). */
function liveEnv(root: string, extra: Record<string, string> = {}): Record<string, string> {
  applyRuntime.liveRoots.add(root);
  return envFor(root, extra);
}

describe('vfioctl bind / release / status (CLI, kernel-like fake)', () => {
  it('--dry-run shows the plan\'s claim (group mates added) and the exact writes, changing nothing', async () => {
    const t = tree();
    try {
      const before = snapshotKernelState(t.root);
      const r = await runCli(['bind', '02:00.0', '--dry-run', '--json', '--root', t.root]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const j = r.json<{ claim: string[]; preview: { functions: { address: string; writes: string[] }[]; loadModule: string } }>();
      assert.deepEqual(j.claim, ['0000:02:00.0', '0000:02:00.1']);
      assert.equal(j.preview.loadModule, 'vfio-pci');
      assert.equal(j.preview.functions[1]!.writes.length, 3);
      assert.deepEqual(changedPaths(before, snapshotKernelState(t.root)), []);
      const human = await runCli(['bind', '02:00.0', '--dry-run', '--root', t.root]);
      assert.match(human.stdout, /group mates added by the plan: 0000:02:00\.1/);
      assert.match(human.stdout, /echo 0000:02:00\.1 > .*drivers\/snd_hda_intel\/unbind/);
    } finally {
      t.cleanup();
    }
  });

  it('refuses to change a recorded sample host before planning anything, for every mutating command', async () => {
    for (const argv of [['bind', '01:00.0'], ['release', '--all'], ['recover'], ['persist', '01:00.0'], ['unpersist', '--all'], ['host', 'enable-iommu'], ['host', 'disable-iommu'], ['sriov', 'set', '01:00.0', '1']]) {
      const r = await runCli([...argv, '--sample', '--yes']);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /this is a recorded host/, argv.join(' '));
    }
    const d = await runCli(['host', 'enable-iommu', '--vendor', 'intel', '--sample', '--dry-run']);
    assert.doesNotMatch(d.stderr, /recorded host/, 'a dry run on a sample is allowed');
    const samples = path.join(import.meta.dirname, '../../samples');
    for (const s of fs.readdirSync(samples)) assert.equal(fs.existsSync(path.join(samples, s, 'var/lib/vfioctl')), false);
  });

  it('refuses without --yes when not on a terminal', async () => {
    const t = tree();
    try {
      const r = await runCli(['bind', '01:00.0', '--root', t.root]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /without confirmation.*\n.*--yes/);
      assert.equal(driverOf(t.root, '0000:01:00.0'), 'e1000e');
    } finally {
      t.cleanup();
    }
  });

  it('binds, shows status, releases (--json contract)', async () => {
    const t = tree();
    try {
      const b = await runCli(['bind', '02:00.0', '--yes', '--json', '--root', t.root]);
      assert.equal(b.code, 0, b.stdout + b.stderr);
      const res = b.json<{ result: { moved: { address: string }[]; groups: { group: number; viable: boolean }[] } }>().result;
      assert.deepEqual(res.moved.map((m) => m.address), ['0000:02:00.0', '0000:02:00.1']);
      assert.deepEqual(res.groups, [{ group: 2, viable: true, blockers: [], devNode: true }]);
      const s = await runCli(['status', '--json', '--root', t.root]);
      const st = s.json<{ bound: { address: string; original: { driver: string }; drifted: boolean }[]; interrupted: unknown }>();
      assert.deepEqual(st.bound.map((x) => [x.address, x.original.driver, x.drifted]), [['0000:02:00.0', 'nouveau', false], ['0000:02:00.1', 'snd_hda_intel', false]]);
      assert.equal(st.interrupted, null);
      const rel = await runCli(['release', '--all', '--yes', '--root', t.root]);
      assert.equal(rel.code, 0, rel.stderr);
      assert.match(rel.stdout, /0000:02:00\.0: vfio-pci -> nouveau/);
      assert.equal(driverOf(t.root, '0000:02:00.1'), 'snd_hda_intel');
      const s2 = await runCli(['status', '--root', t.root]);
      assert.match(s2.stdout, /vfioctl has changed nothing on this host/);
    } finally {
      t.cleanup();
    }
  });

  it('bind and persist take the other functions of a card in another IOMMU group; --single-function keeps one', async () => {
    // the GPU's audio function in a group of its own (ACS splits it off)
    const spec = { ...SPEC, functions: SPEC.functions.map((f) => (f.address === '0000:02:00.1' ? { ...f, iommuGroup: 7 } : f)) };
    const t = makeTempHostTree({ ...spec, files: DEBIAN });
    try {
      const both = (await runCli(['bind', '02:00.0', '--dry-run', '--json', '--root', t.root])).json<{ claim: string[] }>();
      assert.deepEqual(both.claim, ['0000:02:00.0', '0000:02:00.1'], 'bind: the card goes together');
      const one = await runCli(['bind', '02:00.0', '--single-function', '--dry-run', '--json', '--root', t.root]);
      assert.deepEqual(one.json<{ claim: string[] }>().claim, ['0000:02:00.0'], `bind --single-function: ${one.stdout}`);
      // persist: the addresses the boot-time files name
      const named = async (extra: string[]): Promise<string[]> => {
        const r = await runCli(['persist', '02:00.0', ...extra, '--dry-run', '--json', '--root', t.root]);
        const files = r.json<{ files: { after: string | null }[] }>().files;
        return [...new Set(files.flatMap((f) => f.after?.match(/0000:02:00\.[0-7]/g) ?? []))].sort();
      };
      assert.deepEqual(await named([]), ['0000:02:00.0', '0000:02:00.1'], 'persist: the card goes together');
      assert.deepEqual(await named(['--single-function']), ['0000:02:00.0'], 'persist --single-function');
    } finally {
      t.cleanup();
    }
  });

  it('release --to with a name that is not a driver is refused before anything touches sysfs (exit 2)', async () => {
    const t = tree();
    try {
      const b = await runCli(['bind', '02:00.0', '--yes', '--root', t.root]);
      assert.equal(b.code, 0, b.stdout + b.stderr);
      // vfioctl forgets that it bound them: --to is what release goes by
      fs.rmSync(path.join(t.root, 'var/lib/vfioctl/state.json'));
      const before = snapshotKernelState(t.root);
      for (const to of ['../../../tmp', '', 'a b', '-x', 'vfio-pci/../../x', '.hidden']) {
        for (const dry of [[], ['--dry-run']]) {
          const r = await runCli(['release', '02:00.0', '--to', to, '--yes', ...dry, '--root', t.root]);
          assert.equal(r.code, 2, `--to ${JSON.stringify(to)}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, /is not a driver name[\s\S]*remedy:/);
          assert.deepEqual(changedPaths(before, snapshotKernelState(t.root)), [], `--to ${JSON.stringify(to)} touched sysfs`);
        }
      }
      const ok = await runCli(['release', '02:00.0', '--to', 'nouveau', '--yes', '--root', t.root]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(driverOf(t.root, '0000:02:00.0'), 'nouveau');
    } finally {
      t.cleanup();
    }
  });

  it('a dead tree (no kernel reacting, real writer) fails verification and is rolled back, exit 1', async () => {
    const t = tree();
    const saved = applyRuntime.sysfsWriter;
    applyRuntime.sysfsWriter = null;
    try {
      fs.mkdirSync(path.join(t.root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true });
      for (const f of ['bind', 'unbind']) fs.writeFileSync(path.join(t.root, 'sys/bus/pci/drivers/vfio-pci', f), '');
      const r = await runCli(['bind', '01:00.0', '--yes', '--timeout', '60', '--root', t.root]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /still bound to e1000e after unbind; rolled back: bind 0000:01:00\.0 to vfio-pci/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(fs.readFileSync(path.join(t.root, 'sys/bus/pci/devices/0000:01:00.0/driver_override'), 'utf8').trim(), '', 'override cleared again');
    } finally {
      applyRuntime.sysfsWriter = saved;
      t.cleanup();
    }
  });

  it('a --root that is not the running system: bind never runs modprobe on this machine (real writer, vfio-pci not loaded in the tree)', async () => {
    const t = tree();
    const saved = applyRuntime.sysfsWriter;
    applyRuntime.sysfsWriter = null;
    const bin = fs.mkdtempSync(path.join(t.root, '..', 'vfioctl-modprobe-'));
    const log = path.join(bin, 'log');
    fs.writeFileSync(path.join(bin, 'modprobe'), `#!/bin/sh\necho "modprobe $*" >> "${log}"\n`, { mode: 0o755 });
    try {
      const r = await runCli(['bind', '01:00.0', '--yes', '--root', t.root], { env: { PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1' } });
      assert.equal(fs.existsSync(log), false, `modprobe ran on the running system: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /loading it would run modprobe on the running system/);
      assert.equal(driverOf(t.root, '0000:01:00.0'), 'e1000e');
    } finally {
      applyRuntime.sysfsWriter = saved;
      fs.rmSync(bin, { recursive: true, force: true });
      t.cleanup();
    }
  });

  it('recover --dry-run and recover after an interrupted run', async () => {
    const t = tree();
    try {
      fs.mkdirSync(path.join(t.root, 'var/lib/vfioctl'), { recursive: true });
      fs.writeFileSync(path.join(t.root, 'sys/bus/pci/devices/0000:01:00.0/driver_override'), 'vfio-pci\n');
      fs.writeFileSync(path.join(t.root, 'var/lib/vfioctl/journal.json'), JSON.stringify({
        version: 1, runId: 'r1', command: 'bind', args: ['0000:01:00.0'], pid: 2 ** 22 + 5, startedAt: 'then', status: 'running', commit: {},
        steps: [{ seq: 1, type: 'bind', address: '0000:01:00.0', original: { driver: 'e1000e', override: null }, target: { driver: 'vfio-pci', override: 'vfio-pci' }, status: 'started' }],
      }));
      const s = await runCli(['status', '--root', t.root]);
      assert.equal(s.code, 1);
      assert.match(s.stdout, /interrupted run: `vfioctl bind` \(r1, running\); run `vfioctl recover`/);
      const d = await runCli(['recover', '--dry-run', '--root', t.root]);
      assert.match(d.stdout, /would undo: bind 0000:01:00\.0 to vfio-pci/);
      const r = await runCli(['recover', '--yes', '--json', '--root', t.root]);
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.json<{ action: string }>().action, 'rolled-back');
      assert.equal(fs.readFileSync(path.join(t.root, 'sys/bus/pci/devices/0000:01:00.0/driver_override'), 'utf8'), '(null)\n');
    } finally {
      t.cleanup();
    }
  });
});

describe('vfioctl persist / host enable-iommu (CLI, files and fake tools)', () => {
  it('persist per address: diff with --dry-run, then files + commands printed on a non-live root; unpersist removes exactly them', async () => {
    const t = tree(DEBIAN);
    try {
      const d = await runCli(['persist', '02:00.0', '02:00.1', '--dry-run', '--root', t.root], { env: envFor(t.root) });
      assert.equal(d.code, 0, d.stderr);
      // the rule matches only the device persisted (item 8 of issue 14: identity checked at boot)
      assert.match(d.stdout, /\+ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:02:00\.0", DEVPATH=="\/devices\/pci0000:00\/0000:00:02\.0\/0000:02:00\.0", ATTR\{vendor\}=="0x10de", ATTR\{device\}=="0x1b80", ATTR\{subsystem_vendor\}=="0x0000", ATTR\{subsystem_device\}=="0x0000", ATTR\{driver_override\}="vfio-pci"/);
      assert.match(d.stdout, /\+softdep nouveau pre: vfio-pci/);
      assert.match(d.stdout, /\+vfio_pci/);
      assert.match(d.stdout, /to run by hand: update-initramfs -u -k all/);
      assert.equal(fs.existsSync(path.join(t.root, 'etc/udev/rules.d/61-vfioctl.rules')), false);
      const p = await runCli(['persist', '02:00.0', '02:00.1', '--yes', '--root', t.root], { env: envFor(t.root) });
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /run by hand: systemctl enable vfioctl-bind\.service/);
      assert.ok(fs.existsSync(path.join(t.root, 'etc/systemd/system/vfioctl-bind.service')));
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/initramfs-tools/modules'), 'utf8'), '# List of modules\nloop\nvfio\nvfio_iommu_type1\nvfio_pci\n');
      // idempotent
      const again = await runCli(['persist', '02:00.0', '02:00.1', '--yes', '--root', t.root], { env: envFor(t.root) });
      assert.match(again.stdout, /nothing to change/);
      const u = await runCli(['unpersist', '--all', '--yes', '--root', t.root], { env: envFor(t.root) });
      assert.equal(u.code, 0, u.stderr);
      for (const f of ['etc/udev/rules.d/61-vfioctl.rules', 'etc/systemd/system/vfioctl-bind.service', 'etc/modprobe.d/vfioctl-vfio.conf']) assert.equal(fs.existsSync(path.join(t.root, f)), false, f);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/initramfs-tools/modules'), 'utf8'), '# List of modules\nloop\n');
      // backups of every changed file are kept under var/lib/vfioctl/backups
      const backups = fs.readdirSync(path.join(t.root, 'var/lib/vfioctl/backups'));
      assert.ok(backups.length >= 2);
    } finally {
      t.cleanup();
    }
  });

  it('persist refuses a blocked plan (exit 3, nothing written): the NIC carries the default route; --force says what the host loses', async () => {
    const t = makeTempHostTree({
      ...SPEC,
      links: { 'sys/class/net/eth0': '../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/eth0' },
      files: {
        ...DEBIAN,
        'sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/eth0/type': '1\n',
        'proc/net/route': 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
      },
    });
    try {
      const plan = await runCli(['plan', '01:00.0', '--root', t.root], { env: envFor(t.root) });
      assert.equal(plan.code, 3);
      for (const argv of [['persist', '01:00.0', '--yes'], ['persist', '01:00.0', '--dry-run'], ['persist', '01:00.0', '--by-id', '--yes'], ['bind', '01:00.0', '--persist', '--yes']]) {
        const r = await runCli([...argv, '--root', t.root], { env: envFor(t.root) });
        assert.equal(r.code, 3, `${argv.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /the plan is blocked; nothing was changed/);
      }
      for (const f of ['etc/udev/rules.d/61-vfioctl.rules', 'etc/modprobe.d/vfioctl-vfio.conf', 'var/lib/vfioctl/journal.json']) assert.equal(fs.existsSync(path.join(t.root, f)), false, f);
      const forced = await runCli(['persist', '01:00.0', '--force', '--yes', '--root', t.root], { env: envFor(t.root) });
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /--force: the host loses .*default route/);
      assert.ok(fs.existsSync(path.join(t.root, 'etc/udev/rules.d/61-vfioctl.rules')));
    } finally {
      t.cleanup();
    }
  });

  it('persist takes the whole IOMMU group as bind does, on the samples too (dry run): desktop-gpu 01:00.0 brings 01:00.1; q35 00:1f.2 is blocked', async () => {
    const blocked = await runCli(['persist', '01:00.0', '--sample-host', 'desktop-gpu', '--dry-run', '--json']);
    assert.equal(blocked.code, 3, 'the host would lose its display');
    const d = await runCli(['persist', '01:00.0', '--sample-host', 'desktop-gpu', '--force', '--dry-run', '--json']);
    assert.equal(d.code, 0, d.stderr);
    const rules = d.json<{ files: { path: string; after: string }[] }>().files.find((f) => f.path.endsWith('etc/udev/rules.d/61-vfioctl.rules'))!;
    assert.match(rules.after, /KERNEL=="0000:01:00\.0"/);
    assert.match(rules.after, /KERNEL=="0000:01:00\.1"/);
    const q = await runCli(['persist', '00:1f.2', '--sample', '--dry-run']);
    assert.equal(q.code, 3, q.stdout + q.stderr);
    assert.match(q.stderr, /LPC/);
  });

  it('plan, persist --dry-run and render host-config show the one modprobe file, with the bytes persist writes', async () => {
    const t = tree(DEBIAN);
    try {
      const plan = await runCli(['plan', '02:00.0', '--by-id', '--json', '--root', t.root], { env: envFor(t.root) });
      const steps = plan.json<{ steps: { id: string; file?: string; effects?: { type: string; path: string; after: string | null }[] }[] }>().steps;
      const mp = steps.find((s) => s.id === 'modprobe-vfio')!;
      assert.equal(mp.file, '/etc/modprobe.d/vfioctl-vfio.conf');
      const planned = mp.effects!.find((e) => e.type === 'file')!;
      const dry = await runCli(['persist', '02:00.0', '--by-id', '--dry-run', '--json', '--root', t.root], { env: envFor(t.root) });
      const shown = dry.json<{ files: { path: string; after: string }[] }>().files.find((f) => f.path.endsWith('etc/modprobe.d/vfioctl-vfio.conf'))!;
      assert.equal(shown.after, planned.after);
      const hc = await runCli(['render', 'host-config', '02:00.0', '--by-id', '--root', t.root], { env: envFor(t.root) });
      assert.ok(hc.stdout.includes(`cat > /etc/modprobe.d/vfioctl-vfio.conf <<'EOF'\n${planned.after}EOF\n`), hc.stdout);
      assert.doesNotMatch(hc.stdout + plan.stdout, /vfioctl apply|\/etc\/modprobe\.d\/vfio\.conf/);
      const p = await runCli(['persist', '02:00.0', '--by-id', '--yes', '--root', t.root], { env: envFor(t.root) });
      assert.equal(p.code, 0, p.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf'), 'utf8'), planned.after);
    } finally {
      t.cleanup();
    }
  });

  it('bind --persist --json: one document with the runtime result and the files written', async () => {
    const t = tree(DEBIAN);
    try {
      const r = await runCli(['bind', '01:00.0', '--persist', '--yes', '--json', '--root', t.root], { env: envFor(t.root) });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const j = r.json<{ result: { moved: unknown[] }; persisted: { written: { path: string }[]; toRun: string[] } }>();
      assert.equal(j.result.moved.length, 1);
      assert.ok(j.persisted.written.some((w) => w.path.endsWith('etc/udev/rules.d/61-vfioctl.rules')));
      assert.ok(j.persisted.toRun.includes('update-initramfs -u -k all'));
      assert.match(fs.readFileSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf'), 'utf8'), /^softdep e1000e pre: vfio-pci$/m);
    } finally {
      t.cleanup();
    }
  });

  it('--by-id claims the whole IOMMU group: 03:02.0 (same ID, same group) is persisted with 03:01.0', async () => {
    // Before, persist --by-id 03:01.0 was refused because 03:02.0 has the same ID; but 03:02.0 shares the
    // group and must go to vfio-pci with it, as bind and plan say: both are persisted, by the one ID.
    const t = tree(DEBIAN);
    try {
      const r = await runCli(['persist', '03:01.0', '--by-id', '--yes', '--root', t.root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /group mates added: 0000:03:02\.0/);
      assert.match(fs.readFileSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf'), 'utf8'), /^options vfio-pci ids=10ec:8139$/m);
    } finally {
      t.cleanup();
    }
  });

  it('--by-id is refused (plan blocked, exit 3) when a function outside the claim has the same ID', async () => {
    // two identical NICs in different groups: ids= would take the one that stays on the host
    const spec = { ...SPEC, functions: SPEC.functions.map((f) => (f.address === '0000:04:00.0' ? { ...f, vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: 'e1000e', sriov: undefined } : f)) };
    const t = makeTempHostTree({ ...spec, files: DEBIAN });
    try {
      const r = await runCli(['persist', '01:00.0', '--by-id', '--yes', '--root', t.root]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /would also take 0000:04:00\.0/);
      assert.equal(fs.existsSync(path.join(t.root, 'etc/modprobe.d/vfioctl-vfio.conf')), false);
      const plan = await runCli(['plan', '01:00.0', '--by-id', '--json', '--root', t.root]);
      assert.equal(plan.code, 3);
      assert.ok(plan.json<{ findings: { id: string }[] }>().findings.some((f) => f.id === 'ids-too-broad'));
    } finally {
      t.cleanup();
    }
  });

  it('host enable-iommu edits grub keeping the rest, runs update-grub; disable-iommu restores the file exactly', async () => {
    const t = tree(DEBIAN);
    try {
      const env = liveEnv(t.root);
      const d = await runCli(['host', 'enable-iommu', '--dry-run', '--root', t.root], { env });
      assert.match(d.stdout, /-GRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=off"\n\+GRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=on iommu=pt"/);
      const e = await runCli(['host', 'enable-iommu', '--yes', '--root', t.root], { env });
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /ran update-grub/);
      assert.match(e.stdout, /reboot needed/);
      assert.equal(fs.readFileSync(path.join(t.root, 'fake.log'), 'utf8'), 'update-grub \n');
      const again = await runCli(['host', 'enable-iommu', '--yes', '--root', t.root], { env });
      assert.match(again.stdout, /nothing to change/);
      const off = await runCli(['host', 'disable-iommu', '--yes', '--root', t.root], { env });
      assert.equal(off.code, 0, off.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), GRUB, 'intel_iommu=off given back, iommu=pt removed');
    } finally {
      t.cleanup();
    }
  });

  it('grubby hosts (EL9): grubby updates every entry and the grub defaults file is edited for future kernels; grub.d conflicts are reported', async () => {
    const t = tree({
      'etc/os-release': 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n',
      'etc/default/grub': 'GRUB_CMDLINE_LINUX="rhgb quiet"\n',
      'etc/default/grub.d/50-cloud.cfg': 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT iommu=nopt"\n',
      'usr/sbin/grubby': '#!/bin/sh\n',
      'boot/loader/entries/x.conf': 'title x\n',
      'proc/cpuinfo': 'vendor_id\t: GenuineIntel\n',
    });
    try {
      const env = liveEnv(t.root);
      const e = await runCli(['host', 'enable-iommu', '--yes', '--root', t.root], { env });
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /ran grubby --update-kernel=ALL '--args=intel_iommu=on iommu=pt'/);
      assert.match(e.stdout, /50-cloud\.cfg sets iommu=nopt, which overrides iommu=pt/);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), 'GRUB_CMDLINE_LINUX="rhgb quiet intel_iommu=on iommu=pt"\n');
      const off = await runCli(['host', 'disable-iommu', '--yes', '--root', t.root], { env });
      assert.equal(off.code, 0, off.stderr);
      assert.equal(fs.readFileSync(path.join(t.root, 'fake.log'), 'utf8'), 'grubby --update-kernel=ALL --args=intel_iommu=on iommu=pt\ngrubby --update-kernel=ALL --remove-args=intel_iommu=on iommu=pt\n');
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), 'GRUB_CMDLINE_LINUX="rhgb quiet"\n');
    } finally {
      t.cleanup();
    }
  });

  it('a failing update-grub rolls the grub file back and says so', async () => {
    const t = tree(DEBIAN);
    try {
      const r = await runCli(['host', 'enable-iommu', '--yes', '--root', t.root], { env: liveEnv(t.root, { FAKE_FAIL: 'update-grub' }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /update-grub: exit status 3: update-grub: simulated failure; rolled back: .*edit etc\/default\/grub/);
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), GRUB);
      const s = await runCli(['status', '--json', '--root', t.root]);
      assert.deepEqual(s.json<{ persisted: object }>().persisted, {});
    } finally {
      t.cleanup();
    }
  });

  it('--no-regenerate prints the command instead of running it', async () => {
    const t = tree(DEBIAN);
    try {
      const r = await runCli(['host', 'enable-iommu', '--yes', '--no-regenerate', '--root', t.root], { env: liveEnv(t.root) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /run by hand: update-grub/);
      assert.equal(fs.existsSync(path.join(t.root, 'fake.log')), false);
    } finally {
      t.cleanup();
    }
  });
});

describe('vfioctl sriov set (CLI, kernel-like fake)', () => {
  it('creates VFs in their own groups, removes them, and validates the count', async () => {
    const t = tree();
    try {
      const bad = await runCli(['sriov', 'set', '04:00.0', '9', '--yes', '--root', t.root]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /at most 4 VFs/);
      const r = await runCli(['sriov', 'set', '04:00.0', '2', '--yes', '--root', t.root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /0000:04:00\.0: 0 -> 2 VFs \(0000:04:10\.0 0000:04:10\.1\)/);
      assert.ok(fs.existsSync(path.join(t.root, 'sys/bus/pci/devices/0000:04:10.1/physfn')));
      const r2 = await runCli(['sriov', 'set', '04:00.0', '3', '--yes', '--root', t.root]);
      assert.match(r2.stdout, /2 -> 3 VFs/);
      const r3 = await runCli(['sriov', 'set', '04:00.0', '0', '--yes', '--root', t.root]);
      assert.equal(r3.code, 0);
      assert.equal(fs.existsSync(path.join(t.root, 'sys/bus/pci/devices/0000:04:10.0')), false);
    } finally {
      t.cleanup();
    }
  });
});
