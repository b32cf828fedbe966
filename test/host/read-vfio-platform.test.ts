/** readVfioPlatform on synthetic trees: iommufd nodes and config, modules.alias matches, debugfs, BARs. */
import * as fs from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { readVfioPlatform } from '../../src/host/read-vfio-platform.js';
import type { VfioPlatformFacts } from '../../src/model/vfio-platform.js';
import { backendSupport } from '../../src/core/vfio-platform.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { PLATFORM_RELEASE, platformHost, type PlatformOptions } from '../support/platform-hosts.js';

function read(o: PlatformOptions = {}): VfioPlatformFacts {
  const t = makeTempHostTree(platformHost(o));
  try {
    const host = new HostRoot(t.root);
    return readVfioPlatform(host, readInventory(host).functions);
  } finally {
    t.cleanup();
  }
}

const fn = (f: VfioPlatformFacts, a: string) => f.functions.find((x) => x.address === a)!;

test('iommufd: /dev/iommu, the VFIO device files, sys/class/vfio-dev and the kernel config are read', () => {
  const f = read();
  assert.deepEqual(f.iommufd.devIommu, { state: 'ok', source: '/dev/iommu', value: true });
  assert.deepEqual(f.iommufd.deviceFiles, { state: 'ok', source: '/dev/vfio/devices', value: ['vfio0'] });
  assert.deepEqual(f.iommufd.vfioDevClass, { state: 'ok', source: '/sys/class/vfio-dev', value: ['vfio0'] });
  assert.deepEqual(f.iommufd.configDeviceCdev, { state: 'ok', source: `/boot/config-${PLATFORM_RELEASE}`, value: 'y' });
  assert.equal(f.iommufd.module, 'loaded');
  assert.equal(f.iommufd.kernelRelease, PLATFORM_RELEASE);
  const [legacy, io] = backendSupport(f.iommufd);
  assert.equal(legacy!.supported, true);
  assert.equal(io!.supported, true);
});

test('iommufd: a kernel without CONFIG_VFIO_DEVICE_CDEV offers no iommufd; no config and no nodes leave it unknown', () => {
  const without = read({ config: { CONFIG_IOMMUFD: 'y', CONFIG_VFIO_DEVICE_CDEV: 'n', CONFIG_VFIO_CONTAINER: 'y' }, iommufdNodes: false });
  assert.equal(backendSupport(without.iommufd)[1]!.supported, false);
  assert.match(backendSupport(without.iommufd)[1]!.reason, /CONFIG_VFIO_DEVICE_CDEV/);
  const unknown = read({ config: null, iommufdNodes: false });
  assert.equal(unknown.iommufd.configDeviceCdev.state, 'unknown');
  assert.equal(backendSupport(unknown.iommufd)[1]!.supported, null, 'not read is unknown, not "no"');
});

test('variant drivers: the most specific vfio_pci alias wins over vfio_pci\'s catch-all; non-vfio aliases are ignored', () => {
  const f = read();
  const vf = fn(f, '0000:00:05.0');
  assert.equal(vf.modalias, 'vfio_pci:v000015B3d0000101Esv000015B3sd00000052bc02sc00i00');
  assert.equal(vf.matchState, 'matched');
  assert.equal(vf.match!.module, 'mlx5_vfio_pci');
  assert.equal(vf.match!.pattern, 'vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*', 'the literal pattern is more specific than the bracket one');
  assert.deepEqual(vf.match!.candidates.map((c) => c.module), ['mlx5_vfio_pci', 'mlx5_vfio_pci', 'vfio_pci']);
  // the GPU (10de:2330) matches only the catch-all: vfio-pci
  assert.equal(fn(f, '0000:00:06.0').match!.module, 'vfio_pci');
  assert.equal(f.aliases.state === 'ok' && f.aliases.value, 5);
});

test('variant drivers: without modules.alias the match is unknown, never "vfio-pci"', () => {
  const f = read({ aliases: false });
  assert.equal(fn(f, '0000:00:05.0').matchState, 'unknown');
  assert.equal(fn(f, '0000:00:05.0').match, null);
  assert.equal(f.aliases.state, 'absent');
});

test('migration debugfs: state and features of the function bound to a VFIO driver (vfio-dev/vfio0)', () => {
  const f = read();
  const bound = fn(f, '0000:00:07.0');
  assert.equal(bound.vfioDev, 'vfio0');
  assert.deepEqual(bound.debugfs, {
    state: { state: 'ok', source: '/sys/kernel/debug/vfio/vfio0/migration/state', value: 'RUNNING' },
    features: { state: 'ok', source: '/sys/kernel/debug/vfio/vfio0/migration/features', value: 'PRE_COPY P2P' },
  });
  assert.equal(fn(f, '0000:00:05.0').debugfs, null, 'a function on its host driver has no VFIO device');
  assert.equal(fn(read({ debugfs: false }), '0000:00:07.0').debugfs, null, 'debugfs not mounted: not read');
});

test('BARs from the resource file (sizes, 64-bit, prefetchable) and the host address limits', () => {
  const f = read();
  const g = fn(f, '0000:00:06.0');
  assert.equal(g.bars.state, 'ok');
  const bars = g.bars.state === 'ok' ? g.bars.value : [];
  assert.deepEqual(bars.map((b) => [b.index, b.size, b.kind, b.prefetchable]), [
    [0, String(16 * 1024 * 1024), 'mem32', false],
    [1, String(128 * 1024 ** 3), 'mem64', true],
    [3, String(32 * 1024 * 1024), 'mem64', true],
  ]);
  assert.equal(f.cpuPhysBits, 46);
  assert.equal(f.iommuAddressBits, 39, 'VT-d cap d2008c40660462: MGAW 38 -> 39 bits');
});

test('sysfs attributes report a size of 4096: the IOMMU cap is read at that size (the real kernel showed EFBIG with a 64-byte cap)', () => {
  const t = makeTempHostTree(platformHost({}));
  try {
    // a sysfs attribute's stat size is the page size, whatever it holds; pad the file to that size
    const cap = `${t.root}/sys/devices/virtual/iommu/dmar0/intel-iommu/cap`;
    fs.writeFileSync(cap, `d2008c40660462\n${' '.repeat(4096 - 15)}`);
    const host = new HostRoot(t.root);
    assert.equal(readVfioPlatform(host, readInventory(host).functions).iommuAddressBits, 39);
  } finally {
    t.cleanup();
  }
});
