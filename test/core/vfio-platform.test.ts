/**
 * The VFIO platform in plans, render and doctor, through the CLI on synthetic trees: backend choice
 * (auto with unknown versions stays legacy and says why), variant driver binding and its prerequisite,
 * migration per device, large BARs (maxphysaddr, pcihole64), and the doctor's backend report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { expectGolden } from '../support/golden.js';
import { platformHost, type PlatformOptions } from '../support/platform-hosts.js';
import { chooseBackend, backendSupport, functionMigration, plannedDriver } from '../../src/core/vfio-platform.js';
import { bestVfioDriver, globMatch, guestAddressing, parseResourceFile, parseVfioAliases } from '../../src/model/vfio-platform.js';
import type { Finding } from '../../src/model/finding.js';
import type { PassthroughPlan } from '../../src/model/plan.js';
import type { PciAddressString } from '../../src/model/pci-address.js';

const A = (s: string): PciAddressString => s as PciAddressString;

async function onHost<T>(o: PlatformOptions, fn: (root: string) => Promise<T>): Promise<T> {
  const t = makeTempHostTree(platformHost(o));
  try {
    return await fn(t.root);
  } finally {
    t.cleanup();
  }
}

const ids = (fs: Finding[]): string[] => fs.map((f) => f.id);
const VERS = ['--libvirt-version', '12.2.0', '--qemu-version', '9.2'];

test('backend auto: unknown QEMU/libvirt versions keep legacy and say why; known versions pick iommufd', async () => {
  await onHost({}, async (root) => {
    const auto = (await runCli(['plan', '00:06.0', '--root', root, '--json'])).json<PassthroughPlan>();
    assert.equal(auto.platform!.backend.chosen, 'legacy');
    assert.ok(auto.platform!.backend.reasons.some((r) => /QEMU version is unknown/.test(r)), auto.platform!.backend.reasons.join('; '));
    assert.ok(auto.platform!.backend.reasons.some((r) => /libvirt version is unknown/.test(r)));
    const known = (await runCli(['plan', '00:06.0', '--root', root, '--json', ...VERS])).json<PassthroughPlan>();
    assert.equal(known.platform!.backend.chosen, 'iommufd');
    assert.equal(known.platform!.backend.libvirtForm, 'domain', 'libvirt 12.2: the domain-wide <iommufd/>');
    const old = (await runCli(['plan', '00:06.0', '--root', root, '--json', '--libvirt-version', '12.1.0', '--qemu-version', '8.2'])).json<PassthroughPlan>();
    assert.equal(old.platform!.backend.chosen, 'legacy');
    assert.ok(old.platform!.backend.reasons.some((r) => /QEMU 8\.2 is older than 9\.0/.test(r)));
    const bad = await runCli(['plan', '00:06.0', '--root', root, '--backend', 'vfio']);
    assert.equal(bad.code, 2);
  });
});

test('backend: a host without the VFIO device file never gets iommufd from auto; --backend iommufd says it is unavailable', async () => {
  await onHost({ config: { CONFIG_IOMMUFD: 'y', CONFIG_VFIO_DEVICE_CDEV: 'n', CONFIG_VFIO_CONTAINER: 'y' }, iommufdNodes: false }, async (root) => {
    const auto = (await runCli(['plan', '00:06.0', '--root', root, '--json', ...VERS])).json<PassthroughPlan>();
    assert.equal(auto.platform!.backend.chosen, 'legacy');
    assert.ok(auto.platform!.backend.reasons.some((r) => /does not offer iommufd/.test(r)));
    const forced = (await runCli(['plan', '00:06.0', '--root', root, '--json', '--backend', 'iommufd'])).json<PassthroughPlan>();
    assert.ok(ids(forced.findings).includes('iommufd-unavailable'));
  });
});

test('variant driver: the ConnectX VF binds to mlx5_vfio_pci (devlink first), migration is possible; --driver vfio-pci keeps the generic driver', async () => {
  await onHost({}, async (root) => {
    const p = (await runCli(['plan', '00:05.0', '--root', root, '--json'])).json<PassthroughPlan>();
    const bind = p.steps.find((s) => s.id === 'bind-0000:00:05.0')!;
    assert.deepEqual(bind.action, { type: 'bind-vfio', address: '0000:00:05.0', fromDriver: 'mlx5_core', driver: 'mlx5_vfio_pci' });
    assert.deepEqual(bind.effects!.map((e) => e.type === 'sysfs-write' ? `${e.path}=${e.value}` : e.type), [
      '/sys/bus/pci/devices/0000:00:05.0/driver_override=mlx5_vfio_pci',
      '/sys/bus/pci/drivers/mlx5_core/unbind=0000:00:05.0',
      '/sys/bus/pci/drivers_probe=0000:00:05.0',
    ]);
    const variant = p.findings.find((f) => f.id === 'vfio-variant-driver')!;
    assert.equal(variant.severity, 'warn');
    assert.match(variant.summary, /unbind it from mlx5_core, run devlink port function set .* migratable enable/);
    assert.ok(ids(p.findings).includes('live-migration-possible'));
    assert.ok(!ids(p.findings).includes('no-live-migration'), 'the migration finding tells the truth per device');
    assert.equal(p.platform!.functions[0]!.migration.dirtyTracking, 'device');

    const generic = (await runCli(['plan', '00:05.0', '--root', root, '--json', '--driver', 'vfio-pci'])).json<PassthroughPlan>();
    const gb = generic.steps.find((s) => s.id === 'bind-0000:00:05.0')!;
    assert.deepEqual(gb.action, { type: 'bind-vfio', address: '0000:00:05.0', fromDriver: 'mlx5_core' });
    const nm = generic.findings.find((f) => f.id === 'no-live-migration')!;
    assert.match(nm.summary, /0000:00:05\.0 \(vfio-pci does not implement VFIO migration\)/);
    // libvirt would pick mlx5_vfio_pci itself: the rendering names the driver the plan chose
    const xml = (await runCli(['render', 'libvirt', '00:05.0', '--root', root, '--driver', 'vfio-pci'])).stdout;
    assert.match(xml, /<driver model='vfio_pci'\/>/);
  });
});

test('migration: the function already on mlx5_vfio_pci reports the kernel\'s debugfs state; without modules.alias migration is unknown', async () => {
  await onHost({}, async (root) => {
    const p = (await runCli(['plan', '00:07.0', '--root', root, '--json'])).json<PassthroughPlan>();
    assert.equal(p.platform!.functions[0]!.migration.debugfsState, 'RUNNING');
    assert.equal(p.platform!.functions[0]!.migration.debugfsFeatures, 'PRE_COPY P2P');
    assert.equal(p.steps.some((s) => s.id === 'bind-0000:00:07.0'), false, 'already on its VFIO driver: nothing to bind');
  });
  await onHost({ aliases: false }, async (root) => {
    const p = (await runCli(['plan', '00:05.0', '--root', root, '--json'])).json<PassthroughPlan>();
    const nm = p.findings.find((f) => f.id === 'no-live-migration')!;
    assert.match(nm.summary, /unknown: the kernel's modules\.alias was not read/);
    assert.deepEqual(nm.fact, { id: 'live-migration', value: 'unknown' });
  });
});

test('large BARs: a 128 GiB BAR needs a 256 GiB hole and 39 address bits, within the host\'s 39; two need 41 and warn', async () => {
  await onHost({}, async (root) => {
    const p = (await runCli(['plan', '00:06.0', '--root', root, '--json'])).json<PassthroughPlan>();
    assert.deepEqual({ ...p.platform!.addressing }, { mmio64: String(128 * 1024 ** 3 + 32 * 1024 ** 2), largestBar: String(128 * 1024 ** 3), hole64: String(256 * 1024 ** 3), physBits: 39, hostLimitBits: 39, unknownBars: [] });
    const lb = p.findings.find((f) => f.id === 'large-bars')!;
    assert.equal(lb.severity, 'info');
  });
  await onHost({ secondGpu: true, gpuBar: 256 * 1024 ** 3 }, async (root) => {
    const p = (await runCli(['plan', '00:06.0', '00:08.0', '--root', root, '--json'])).json<PassthroughPlan>();
    assert.equal(p.platform!.addressing.physBits, 41);
    const lb = p.findings.find((f) => f.id === 'large-bars')!;
    assert.equal(lb.severity, 'warn');
    assert.match(lb.summary, /this host offers 39/);
  });
});

test('render (golden): iommufd, maxphysaddr and pcihole64 for libvirt, QEMU and virt-install; without them the output is unchanged', async () => {
  await onHost({}, async (root) => {
    const lv = await runCli(['render', 'libvirt', '00:06.0', '--root', root, '--guest', 'ai', ...VERS]);
    expectGolden('render/libvirt-platform-gpu.xml', lv.stdout);
    const dom = await runCli(['render', 'libvirt-domain', '00:06.0', '--root', root, '--guest', 'ai', ...VERS]);
    expectGolden('render/libvirt-platform-gpu.domain.xml', dom.stdout);
    const q = await runCli(['render', 'qemu', '00:06.0', '--root', root, ...VERS]);
    expectGolden('render/qemu-platform-gpu.txt', q.stdout);
    const vi = await runCli(['render', 'virt-install', '00:05.0', '--root', root, '--guest', 'net', '--libvirt-version', '12.1.0', '--qemu-version', '9.0']);
    expectGolden('render/virt-install-platform-vf.txt', vi.stdout);
    assert.match(vi.stdout, /--host-device=pci_0000_00_05_0,driver\.iommufd=yes/);
    const hd = await runCli(['render', 'libvirt', '00:05.0', '--root', root, '--libvirt-version', '12.1.0', '--qemu-version', '9.0']);
    assert.match(hd.stdout, /<hostdev mode='subsystem' type='pci' managed='yes'>\n {2}<driver iommufd='yes'\/>/, 'libvirt 12.1: per hostdev');
    // the VF needs nothing of this: legacy, no large BARs, the variant driver left to libvirt's own choice
    const plain = await runCli(['render', 'libvirt', '00:05.0', '--root', root]);
    assert.doesNotMatch(plain.stdout, /driver|maxphysaddr|pcihole64|iommufd/);
  });
});

test('doctor reports the backends this host offers and the iommufd BAR mapping limit before 6.19', async () => {
  await onHost({}, async (root) => {
    const r = (await runCli(['doctor', '--root', root, '--json', '--no-libvirt'])).json<{ findings: Finding[] }>();
    const b = r.findings.find((f) => f.id === 'vfio-backends')!;
    assert.equal(b.summary, 'VFIO device backends: legacy type1 container yes, iommufd with the VFIO device file yes');
    assert.match(r.findings.find((f) => f.id === 'iommufd-bar-mapping')!.summary, /before 6\.19 .*this host runs 6\.8\.0-31-generic/);
  });
  await onHost({ release: '6.19.2' }, async (root) => {
    const r = (await runCli(['doctor', '--root', root, '--json', '--no-libvirt'])).json<{ findings: Finding[] }>();
    assert.ok(!ids(r.findings).includes('iommufd-bar-mapping'));
  });
});

test('model: fnmatch, alias specificity, resource lines, addressing and migration by kernel release', () => {
  assert.ok(globMatch('vfio_pci:v000015B3d0000101[EF]sv*', 'vfio_pci:v000015B3d0000101Fsv0000'));
  assert.ok(!globMatch('vfio_pci:v000015B3d0000101[!EF]sv*', 'vfio_pci:v000015B3d0000101Fsv0000'));
  assert.ok(globMatch('a*b?c', 'axxbyc') && !globMatch('a*b?c', 'axxbc'));
  const aliases = parseVfioAliases('alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias vfio_pci:v00001AF4d*sv*sd*bc02sc*i* virtio-vfio-pci\n');
  assert.equal(bestVfioDriver(aliases, 'vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00')!.module, 'virtio_vfio_pci');
  assert.deepEqual(parseResourceFile('0x0000000000000000 0x0000000000000000 0x0000000000000000\n0x0000380000000000 0x0000381fffffffff 0x000000000014220c\n').map((b) => [b.index, b.size, b.kind]), [[1, String(128 * 1024 ** 3), 'mem64']]);
  assert.equal(guestAddressing([{ address: A('0000:01:00.0'), bars: [{ index: 0, start: '0x0', size: String(16 * 1024 ** 3), kind: 'mem64', prefetchable: true }] }], null).hole64, null, '16 GiB fits q35\'s 32 GiB default');
  assert.deepEqual(guestAddressing([{ address: A('0000:01:00.0'), bars: null }], null).unknownBars, ['0000:01:00.0']);
  // virtio_vfio_pci migrates from 6.13: on 6.8 the driver is there but migration is not
  const d = plannedDriver({ address: A('0000:02:00.0'), modalias: 'x', match: { module: 'virtio_vfio_pci', driver: 'virtio_vfio_pci', pattern: 'p', specificity: 1, candidates: [] }, matchState: 'matched', vfioDev: null, debugfs: null, bars: { state: 'absent', source: '' }, resize: [] }, A('0000:02:00.0'), null);
  assert.equal(functionMigration(d, undefined, '6.8.0').verdict, 'not-supported');
  assert.equal(functionMigration(d, undefined, '6.13.1').verdict, 'supported');
  assert.equal(functionMigration(d, undefined, '6.13.1').dirtyTracking, 'iommu');
  const unknownHost = backendSupport({ devIommu: { state: 'ok', source: '/dev/iommu', value: false }, deviceFiles: { state: 'absent', source: '' }, vfioDevClass: { state: 'absent', source: '' }, configIommufd: { state: 'unknown', source: '', reason: '' }, configDeviceCdev: { state: 'unknown', source: '', reason: '' }, configContainer: { state: 'unknown', source: '', reason: '' }, module: 'unknown', devVfioContainer: { state: 'ok', source: '', value: false }, kernelRelease: null });
  assert.equal(chooseBackend('auto', unknownHost, { libvirt: '12.2.0', qemu: '10.0' }).backend, 'legacy', 'an unknown host never gets iommufd from auto');
});

test('show: VFIO driver, migration, BARs and the resizable BAR (capability and resourceN_resize)', async () => {
  await onHost({}, async (root) => {
    const r = (await runCli(['show', '00:06.0', '--root', root, '--json'])).json<{ platform: { vfioDriver: string; bars: { size: string }[]; resizableBars: { bar: number; current: string; sizes: string[]; resizeFile: string | null }[] } }>();
    assert.equal(r.platform.vfioDriver, 'vfio-pci');
    assert.equal(r.platform.bars.length, 3);
    assert.deepEqual(r.platform.resizableBars, [{ bar: 1, sizes: ['256MB', '512MB', '1GB', '128GB'], current: '128GB', resizeFile: '000000000001c700' }]);
    const human = await runCli(['show', '00:05.0', '--root', root], { env: { NO_COLOR: '1' } });
    assert.match(human.stdout, /vfio driver\s+mlx5_vfio_pci \(modules\.alias vfio_pci:v000015B3d0000101Esv\*sd\*bc\*sc\*i\*\)/);
    assert.match(human.stdout, /migration\s+supported: mlx5_vfio_pci implements VFIO migration \(kernel 5\.18\+\); dirty tracking: device/);
  });
});

test('bind --dry-run shows the variant driver the plan chose, and --driver vfio-pci the generic one', async () => {
  await onHost({}, async (root) => {
    const r = await runCli(['bind', '00:05.0', '--root', root, '--dry-run'], { env: { NO_COLOR: '1' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /0000:00:05\.0 \(group 5\): mlx5_core -> mlx5_vfio_pci/);
    assert.match(r.stdout, /echo mlx5_vfio_pci > \S*\/sys\/bus\/pci\/devices\/0000:00:05\.0\/driver_override/);
    assert.match(r.stdout, /verify: every endpoint of group 5 on its VFIO driver/);
    const g = await runCli(['bind', '00:05.0', '--root', root, '--dry-run', '--driver', 'vfio-pci'], { env: { NO_COLOR: '1' } });
    assert.match(g.stdout, /mlx5_core -> vfio-pci/);
  });
});

test('plan on iommufd with several functions before 6.19 says peer-to-peer DMA between them does not work; snapshot replays the platform facts', async () => {
  await onHost({ secondGpu: true }, async (root) => {
    const p = (await runCli(['plan', '00:06.0', '00:08.0', '--root', root, '--json', ...VERS])).json<PassthroughPlan>();
    assert.equal(p.platform!.backend.chosen, 'iommufd');
    assert.match(p.findings.find((f) => f.id === 'iommufd-bar-mapping')!.summary, /before 6\.19 .* 2 assigned functions/);
    const out = `${root}-snap`;
    try {
      assert.equal((await runCli(['snapshot', out, '--root', root])).code, 0);
      const again = (await runCli(['plan', '00:06.0', '00:08.0', '--root', out, '--json', ...VERS])).json<PassthroughPlan>();
      assert.deepEqual(again.platform, p.platform, 'a snapshot carries modules.alias, debugfs, resource files and the iommufd nodes');
    } finally {
      (await import('node:fs')).rmSync(out, { recursive: true, force: true });
    }
  });
});
