/**
 * The library serves a second front end: a full plan -> preview -> apply -> status -> release through the
 * session API alone, on the kernel-like fake (no IOMMU hardware needed). Nothing here imports src/cli/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openSession, type Session } from '../../src/index.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { SPEC, debianFiles, driverOf } from '../apply/helpers.js';
import { firmwareRemedyFor } from '../../src/core/doctor-remedy.js';
import { FILL_GROUPS } from '../../src/host/read-inventory.js';

const DEBIAN = debianFiles({ grub: 'GRUB_CMDLINE_LINUX=""\n', modules: '# List of modules\n' });

function world(spec: HostSpec = SPEC, files: Record<string, string> = DEBIAN): { root: string; session(): Session; cleanup(): void; kernels: FakeKernel[] } {
  const t = makeTempHostTree({ ...spec, files: { ...(spec.files ?? {}), ...files } });
  const kernels: FakeKernel[] = [];
  return {
    root: t.root,
    kernels,
    session: () => openSession({
      root: t.root,
      env: { PATH: process.env.PATH },
      runtime: { sysfsWriter: (host) => { const k = new FakeKernel(host.root); kernels.push(k); return k; }, moveTimeoutMs: 300 },
    }),
    cleanup() {
      kernels.forEach((k) => k.dispose());
      t.cleanup();
    },
  };
}

describe('session API (a front end without the CLI)', () => {
  it('plan -> preview -> apply -> status -> release, with the effects shown being the effects made', async () => {
    const w = world();
    try {
      const s = w.session();
      const plan = await s.plan({ addresses: ['02:00.0'] });
      assert.deepEqual(plan.claim, ['0000:02:00.0', '0000:02:00.1'], 'the whole group');
      const bindStep = plan.steps.find((x) => x.id === 'bind-0000:02:00.1')!;
      assert.deepEqual(bindStep.effects, [
        { type: 'sysfs-write', path: '/sys/bus/pci/devices/0000:02:00.1/driver_override', value: 'vfio-pci' },
        { type: 'sysfs-write', path: '/sys/bus/pci/drivers/snd_hda_intel/unbind', value: '0000:02:00.1' },
        { type: 'sysfs-write', path: '/sys/bus/pci/drivers_probe', value: '0000:02:00.1' },
      ]);
      const mp = plan.steps.find((x) => x.id === 'modprobe-vfio')!;
      const mpFile = mp.effects!.find((e) => e.type === 'file');
      assert.ok(mpFile && mpFile.type === 'file');
      assert.equal(mpFile.path, '/etc/modprobe.d/vfioctl-vfio.conf');

      const change = await s.changeBind({ addresses: ['02:00.0'], persist: true });
      const preview = s.preview(change);
      assert.deepEqual(preview.steps.map((x) => x.id), ['modprobe-vfio', 'persist-driver-override', 'regenerate-initramfs', 'load-vfio-pci', 'bind-0000:02:00.0', 'bind-0000:02:00.1']);
      const shown = preview.steps.find((x) => x.id === 'modprobe-vfio')!.effects!.find((e) => e.type === 'file');
      assert.ok(shown && shown.type === 'file');
      const perAddress = await s.plan({ addresses: ['02:00.0'], persistBy: 'address' });
      assert.deepEqual(perAddress.steps.find((x) => x.id === 'modprobe-vfio')!.effects!.find((e) => e.type === 'file'), shown, 'plan --per-address shows the file bind --persist writes');
      const r = await s.apply(change);
      assert.deepEqual(r.bind!.moved.map((m) => m.address), ['0000:02:00.0', '0000:02:00.1']);
      // the file written is byte for byte the one the plan showed
      assert.equal(fs.readFileSync(path.join(w.root, 'etc/modprobe.d/vfioctl-vfio.conf'), 'utf8'), shown.after);
      assert.match(mpFile.after ?? '', /^options vfio-pci ids=10de:1b80,10de:10f0$/m, 'the plan (by ID: no twins) shows the ids= line persist --by-id writes');
      assert.deepEqual(r.config!.toRun, ['systemctl enable vfioctl-bind.service', 'udevadm control --reload', 'update-initramfs -u -k all'], 'a root that is not the running system runs no command');
      assert.deepEqual(r.config!.ran, []);
      assert.equal(driverOf(w.root, '0000:02:00.1'), 'vfio-pci');

      const st = await w.session().status();
      assert.deepEqual(st.bound.map((b) => [b.address, b.original.driver, b.drifted]), [['0000:02:00.0', 'nouveau', false], ['0000:02:00.1', 'snd_hda_intel', false]]);
      assert.deepEqual(Object.keys(st.persisted).sort(), ['address:0000:02:00.0', 'address:0000:02:00.1', 'initramfs']);

      // a second plan on the bound host still names the original drivers' softdeps (from state.json)
      const again = await w.session().plan({ addresses: ['02:00.0'] });
      assert.deepEqual(again.hostDrivers, ['nouveau', 'snd_hda_intel']);

      const rel = await w.session().release('all');
      assert.deepEqual(rel.released.map((f) => [f.address, f.to.driver]), [['0000:02:00.0', 'nouveau'], ['0000:02:00.1', 'snd_hda_intel']]);
      assert.deepEqual((await w.session().status()).bound, []);
    } finally {
      w.cleanup();
    }
  });

  it('a blocked plan is refused by apply (exit 3) and changes nothing; force says what the host loses', async () => {
    // 01:00.0 carries the default route: the host would lose its network
    const files = {
      ...DEBIAN,
      'proc/net/route': 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
    };
    const spec: HostSpec = { ...SPEC, links: { 'sys/class/net/eth0': '../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/eth0' }, files: { 'sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/eth0/type': '1\n' } };
    const w = world(spec, files);
    try {
      const s = w.session();
      const change = await s.changePersist({ addresses: ['01:00.0'] });
      assert.equal(change.verdict, 'blocked', JSON.stringify(change.findings.map((f) => f.id)));
      await assert.rejects(s.apply(change), (e: Error & { exitCode?: number; code?: string }) => e.code === 'plan-blocked' && e.exitCode === 3);
      assert.equal(fs.existsSync(path.join(w.root, 'etc/udev/rules.d/61-vfioctl.rules')), false);
      assert.equal(fs.existsSync(path.join(w.root, 'var/lib/vfioctl/journal.json')), false, 'not even a journal');
      const forced = await w.session().changePersist({ addresses: ['01:00.0'], force: true });
      assert.notEqual(forced.verdict, 'blocked');
      assert.ok(forced.findings.some((f) => f.severity === 'warn' && f.category === 'host-impact' && /default route|network/i.test(f.summary)));
    } finally {
      w.cleanup();
    }
  });

  it('persist claims the whole IOMMU group, as bind does', async () => {
    const w = world();
    try {
      const s = w.session();
      const change = await s.changePersist({ addresses: ['02:00.0'] });
      assert.deepEqual(change.claim, ['0000:02:00.0', '0000:02:00.1']);
      const r = await s.apply(change);
      assert.ok(r.config!.written.length > 0);
      const rules = fs.readFileSync(path.join(w.root, 'etc/udev/rules.d/61-vfioctl.rules'), 'utf8');
      assert.match(rules, /KERNEL=="0000:02:00\.0"/);
      assert.match(rules, /KERNEL=="0000:02:00\.1"/);
    } finally {
      w.cleanup();
    }
  });

  it('a recorded host (a bundled sample) cannot be changed; its facts are read once per section', async () => {
    const s = openSession({ sample: true, env: {} });
    assert.throws(() => s.assertMutable(), /recorded host/);
    await assert.rejects(s.changeBind({ addresses: ['00:02.0'] }).then((c) => s.apply(c)), /recorded host/);
    assert.equal(s.inventory(), s.inventory(), 'cached');
    assert.equal(s.hostImpact(), s.hostImpact(), 'cached');
  });

  it('no IOMMU groups in a VM: the plan gives the virtual IOMMU remedy (as the doctor does), not the firmware one', async () => {
    const spec: HostSpec = { ...SPEC, iommu: 'none', functions: SPEC.functions.map((f) => ({ ...f, iommuGroup: null })) };
    const w = world(spec, { ...DEBIAN, 'proc/cpuinfo': 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu hypervisor\n' });
    try {
      const plan = await w.session().plan({ addresses: ['01:00.0'] });
      const f = plan.findings.find((x) => x.id === 'iommu-not-enabled')!;
      assert.match(f.remedy ?? '', /give this VM a virtual IOMMU/);
      assert.doesNotMatch(f.remedy ?? '', /AMD-Vi/);
    } finally {
      w.cleanup();
    }
  });

  it('no IOMMU groups on bare metal: the plan gives the firmware remedy the doctor gives for this vendor and board', async () => {
    const spec: HostSpec = { ...SPEC, iommu: 'none', functions: SPEC.functions.map((f) => ({ ...f, iommuGroup: null })) };
    const w = world(spec, { ...DEBIAN, 'sys/class/dmi/id/sys_vendor': 'ASUSTeK COMPUTER INC.\n', 'sys/class/dmi/id/board_vendor': 'ASUSTeK COMPUTER INC.\n' });
    try {
      const plan = await w.session().plan({ addresses: ['01:00.0'] });
      const remedy = plan.findings.find((x) => x.id === 'iommu-not-enabled')!.remedy ?? '';
      assert.ok(remedy.startsWith(firmwareRemedyFor('intel', { sysVendor: 'ASUSTeK COMPUTER INC.', boardVendor: 'ASUSTeK COMPUTER INC.' })), remedy);
      assert.match(remedy, /Advanced > System Agent \(SA\) Configuration > VT-d/);
      assert.match(remedy, /intel_iommu=on/);
    } finally {
      w.cleanup();
    }
  });
});

describe('session: facts read per command (fill flags)', () => {
  it('groupsReport reads less than show; a later call that needs more reads again, never answers from the smaller read', () => {
    const w = world();
    try {
      const s = w.session();
      const groups = s.groupsReport();
      assert.ok(groups.groups.length > 0);
      const small = s.inventory({ fill: FILL_GROUPS });
      assert.ok(small.functions.every((f) => f.unknown.some((u) => u.fact === 'resetMethods')), 'groups did not read reset_method');
      assert.equal(s.inventory({ fill: FILL_GROUPS }), small, 'the same mask is answered from the cache');
      const full = s.inventory();
      assert.notEqual(full, small);
      assert.ok(full.functions.every((f) => !f.unknown.some((u) => /^not read/.test(u.reason))), 'show, plan and doctor get every fact');
      assert.equal(s.inventory({ fill: FILL_GROUPS }), full, 'a bigger read answers a smaller mask');
      assert.ok(s.inventoryReport().functions.every((f) => !f.unknown.length), 'ls --json prints every fact');
    } finally {
      w.cleanup();
    }
  });
});
