/**
 * Ready-made host specs for tests: realistic IDs, classes, drivers and capabilities of boards people
 * actually pass devices through on. Each function returns a fresh HostSpec (safe to modify). Group
 * numbers follow the order a kernel would give them on that board; tests should still read them from
 * the tree rather than hard-code them where the point is not the number itself.
 */
import type { CapSpec, FnSpec, HostSpec } from './host-tree.js';

const MB = 1024 * 1024;
const KB = 1024;

// Capability building blocks
const rootPortCaps = (acs: boolean, link: { speedGt: number; width: number } = { speedGt: 8, width: 16 }): CapSpec => ({
  pm: {},
  msi: { vectors: 1, addr64: false },
  pcie: { portType: 'root-port', slot: true, link },
  aer: true,
  ...(acs ? { acs: { sv: true, tb: false, rr: true, cr: true, uf: true, ec: false, dt: false, ctrl: { sv: true, rr: true, cr: true, uf: true } } } : {}),
});
const switchPortCaps = (portType: 'upstream-port' | 'downstream-port', acs: boolean): CapSpec => ({
  pm: {},
  msi: { vectors: 1, addr64: true },
  pcie: { portType, link: { speedGt: 16, width: portType === 'upstream-port' ? 4 : 1 }, ...(portType === 'downstream-port' ? { slot: false } : {}) },
  aer: true,
  ...(acs ? { acs: { sv: true, tb: false, rr: true, cr: true, uf: true, ec: false, dt: false, ctrl: { sv: true, rr: true, cr: true, uf: true } } } : {}),
});
const endpoint = (flr: boolean, link: { speedGt: number; width: number }, extra: CapSpec = {}): CapSpec => ({
  pm: {},
  msi: { vectors: 1, addr64: true },
  pcie: { portType: 'endpoint', flr, link },
  aer: true,
  ...extra,
});

const intelCmdline = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6a1d2f0e-3c57-4b7e-9d0a-2f5c1e8b9a44 ro quiet intel_iommu=on iommu=pt\n';
const amdCmdline = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0f3b6a2c-91d4-4e0b-8c7a-5d2e4f1a6b39 ro quiet iommu=pt\n';
const grub = (extra: string): string =>
  '# If you change this file, run \'update-grub\' afterwards to update\n' +
  '# /boot/grub/grub.cfg.\n\n' +
  'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n' +
  `GRUB_CMDLINE_LINUX_DEFAULT="quiet${extra ? ' ' + extra : ''}"\nGRUB_CMDLINE_LINUX=""\n`;

/**
 * Intel Coffee Lake desktop with a GeForce GTX 1080 in the CPU's x16 slot. The CPU root port 00:01.0
 * has no ACS, so the GPU, its HDMI audio function AND the root port share group 1 (the
 * group-with-root-port case). The PCH functions 00:1f.x share a platform group, the USB controller
 * shares with its shared-SRAM function, SATA and the NVMe (behind a PCH root port) are alone, and an
 * Intel 82574L NIC sits behind another PCH root port.
 */
export function desktopGpu(): HostSpec {
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x3e30, subVendor: 0x1458, subDevice: 0x5000, classCode: 0x060000, revision: 0x0d, driver: 'skl_uncore', iommuGroup: 0 },
    {
      address: '0000:00:01.0', vendor: 0x8086, device: 0x1901, subVendor: 0x1458, subDevice: 0x5000, classCode: 0x060400, revision: 0x0d,
      driver: 'pcieport', iommuGroup: 1, caps: rootPortCaps(false),
    },
    {
      address: '0000:01:00.0', parent: '0000:00:01.0', vendor: 0x10de, device: 0x1b80, subVendor: 0x1458, subDevice: 0x3702, classCode: 0x030000, revision: 0xa1,
      driver: 'nouveau', iommuGroup: 1, bootVga: true, rom: true, resetMethod: ['bus'],
      caps: endpoint(false, { speedGt: 8, width: 16 }),
      bars: [{ index: 0, size: 16 * MB, kind: 'mem32' }, { index: 1, size: 256 * MB, kind: 'mem64', prefetch: true }, { index: 3, size: 32 * MB, kind: 'mem64', prefetch: true }, { index: 5, size: 128, kind: 'io' }],
    },
    {
      address: '0000:01:00.1', parent: '0000:00:01.0', vendor: 0x10de, device: 0x10f0, subVendor: 0x1458, subDevice: 0x3702, classCode: 0x040300, revision: 0xa1,
      driver: 'snd_hda_intel', iommuGroup: 1, resetMethod: ['bus'], caps: endpoint(false, { speedGt: 8, width: 16 }),
    },
    {
      address: '0000:00:14.0', vendor: 0x8086, device: 0xa36d, subVendor: 0x1458, subDevice: 0x5007, classCode: 0x0c0330, revision: 0x10,
      driver: 'xhci_hcd', iommuGroup: 2, caps: { pm: {}, msi: { vectors: 8, addr64: true } }, bars: [{ index: 0, size: 64 * KB, kind: 'mem64' }],
    },
    { address: '0000:00:14.2', vendor: 0x8086, device: 0xa36f, subVendor: 0x1458, subDevice: 0x7000, classCode: 0x050000, revision: 0x10, iommuGroup: 2, caps: { pm: {} } },
    {
      address: '0000:00:17.0', vendor: 0x8086, device: 0xa352, subVendor: 0x1458, subDevice: 0xb005, classCode: 0x010601, revision: 0x10,
      driver: 'ahci', iommuGroup: 3, caps: { msi: { vectors: 1 }, pm: {} },
      bars: [{ index: 0, size: 8 * KB, kind: 'mem32' }, { index: 5, size: 2 * KB, kind: 'mem32' }],
    },
    { address: '0000:00:1b.0', vendor: 0x8086, device: 0xa340, classCode: 0x060400, revision: 0xf0, driver: 'pcieport', iommuGroup: 4, caps: rootPortCaps(true, { speedGt: 8, width: 4 }) },
    {
      address: '0000:02:00.0', parent: '0000:00:1b.0', vendor: 0x144d, device: 0xa808, subVendor: 0x144d, subDevice: 0xa801, classCode: 0x010802,
      driver: 'nvme', iommuGroup: 5, resetMethod: ['flr', 'bus'], bars: [{ index: 0, size: 16 * KB, kind: 'mem64' }],
      caps: endpoint(true, { speedGt: 8, width: 4 }, { msix: { tableSize: 33 } }),
    },
    { address: '0000:00:1c.0', vendor: 0x8086, device: 0xa338, classCode: 0x060400, revision: 0xf0, driver: 'pcieport', iommuGroup: 6, caps: rootPortCaps(true, { speedGt: 2.5, width: 1 }) },
    {
      address: '0000:03:00.0', parent: '0000:00:1c.0', vendor: 0x8086, device: 0x10d3, subVendor: 0x8086, subDevice: 0xa01f, classCode: 0x020000,
      driver: 'e1000e', iommuGroup: 7, resetMethod: ['flr', 'pm', 'bus'],
      bars: [{ index: 0, size: 128 * KB, kind: 'mem32' }, { index: 2, size: 32, kind: 'io' }, { index: 3, size: 16 * KB, kind: 'mem32' }],
      caps: endpoint(true, { speedGt: 2.5, width: 1 }, { msix: { tableSize: 5 } }),
    },
    { address: '0000:00:1f.0', vendor: 0x8086, device: 0xa305, subVendor: 0x1458, subDevice: 0x5001, classCode: 0x060100, revision: 0x10, iommuGroup: 8 },
    {
      address: '0000:00:1f.3', vendor: 0x8086, device: 0xa348, subVendor: 0x1458, subDevice: 0xa182, classCode: 0x040300, revision: 0x10,
      driver: 'snd_hda_intel', iommuGroup: 8, caps: { pm: {}, msi: { vectors: 1, addr64: true } },
      bars: [{ index: 0, size: 16 * KB, kind: 'mem64' }, { index: 4, size: MB, kind: 'mem64' }],
    },
    {
      address: '0000:00:1f.4', vendor: 0x8086, device: 0xa323, subVendor: 0x1458, subDevice: 0x5001, classCode: 0x0c0500, revision: 0x10,
      driver: 'i801_smbus', iommuGroup: 8, bars: [{ index: 0, size: 256, kind: 'mem64' }, { index: 4, size: 32, kind: 'io' }],
    },
  ];
  return {
    functions,
    iommu: 'intel',
    groupTypes: Object.fromEntries(Array.from({ length: 9 }, (_, g) => [g, 'DMA'])),
    files: {
      'proc/cmdline': intelCmdline,
      'etc/default/grub': grub('intel_iommu=on iommu=pt'),
      'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    },
  };
}

/**
 * AMD X570-style board: the chipset hangs off CPU root port 00:01.2 (which has ACS) as a PCIe switch
 * whose ports lack ACS, so the switch ports and the NIC (igb), SATA (ahci) and USB (xhci_hcd) behind it
 * share one group (10).
 */
export function chipsetShared(): HostSpec {
  const sw = 10;
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x1022, device: 0x1480, subVendor: 0x1043, subDevice: 0x87c0, classCode: 0x060000 },
    { address: '0000:00:00.2', vendor: 0x1022, device: 0x1481, subVendor: 0x1022, subDevice: 0x1481, classCode: 0x080600, caps: { msi: { vectors: 4, addr64: true }, pcie: { portType: 'rc-integrated-endpoint' } } },
    { address: '0000:00:01.0', vendor: 0x1022, device: 0x1482, classCode: 0x060000, iommuGroup: 0 },
    { address: '0000:00:01.2', vendor: 0x1022, device: 0x1483, subVendor: 0x1043, subDevice: 0x87c0, classCode: 0x060400, driver: 'pcieport', iommuGroup: 1, caps: rootPortCaps(true, { speedGt: 16, width: 4 }) },
    { address: '0000:02:00.0', parent: '0000:00:01.2', vendor: 0x1022, device: 0x57ad, classCode: 0x060400, driver: 'pcieport', iommuGroup: sw, caps: switchPortCaps('upstream-port', false) },
    { address: '0000:03:04.0', parent: '0000:02:00.0', vendor: 0x1022, device: 0x57a3, classCode: 0x060400, driver: 'pcieport', iommuGroup: sw, caps: switchPortCaps('downstream-port', false) },
    { address: '0000:03:08.0', parent: '0000:02:00.0', vendor: 0x1022, device: 0x57a4, classCode: 0x060400, driver: 'pcieport', iommuGroup: sw, caps: switchPortCaps('downstream-port', false) },
    { address: '0000:03:09.0', parent: '0000:02:00.0', vendor: 0x1022, device: 0x57a4, classCode: 0x060400, driver: 'pcieport', iommuGroup: sw, caps: switchPortCaps('downstream-port', false) },
    {
      address: '0000:04:00.0', parent: '0000:03:04.0', vendor: 0x8086, device: 0x1539, subVendor: 0x1043, subDevice: 0x85f0, classCode: 0x020000, revision: 0x03,
      driver: 'igb', iommuGroup: sw, resetMethod: ['flr', 'pm', 'bus'], caps: endpoint(true, { speedGt: 2.5, width: 1 }, { msix: { tableSize: 5 } }),
      bars: [{ index: 0, size: 128 * KB, kind: 'mem32' }, { index: 2, size: 32, kind: 'io' }, { index: 3, size: 16 * KB, kind: 'mem32' }],
    },
    {
      address: '0000:05:00.0', parent: '0000:03:08.0', vendor: 0x1022, device: 0x149c, subVendor: 0x1043, subDevice: 0x87c0, classCode: 0x0c0330,
      driver: 'xhci_hcd', iommuGroup: sw, resetMethod: ['pm', 'bus'], caps: endpoint(false, { speedGt: 16, width: 1 }, { msix: { tableSize: 8 } }),
      bars: [{ index: 0, size: MB, kind: 'mem64' }],
    },
    {
      address: '0000:06:00.0', parent: '0000:03:09.0', vendor: 0x1022, device: 0x7901, subVendor: 0x1043, subDevice: 0x87c0, classCode: 0x010601, revision: 0x51,
      driver: 'ahci', iommuGroup: sw, resetMethod: ['pm', 'bus'], caps: endpoint(false, { speedGt: 16, width: 1 }, { msi: { vectors: 16, addr64: true } }),
      bars: [{ index: 5, size: 2 * KB, kind: 'mem32' }],
    },
  ];
  return {
    functions,
    iommu: 'amd',
    files: { 'proc/cmdline': amdCmdline, 'etc/default/grub': grub('iommu=pt') },
  };
}

/**
 * Xeon E5 v4 server with an Intel 82599 10 GbE PF (ixgbe, 8 VFs possible) behind root port 00:03.0;
 * two VFs exist (ixgbevf), each in its own group. The boot SATA controller stays on the host.
 */
export function sriovNic(): HostSpec {
  const vf = (address: string, group: number): FnSpec => ({
    address, physfn: '0000:03:00.0', vendor: 0x8086, device: 0x10ed, subVendor: 0x8086, subDevice: 0x000c, classCode: 0x020000, revision: 0x01,
    driver: 'ixgbevf', iommuGroup: group, resetMethod: ['flr'],
    caps: { msix: { tableSize: 3 }, pcie: { portType: 'endpoint', flr: true, link: { speedGt: 5, width: 8 } }, aer: true, ats: { queueDepth: 0 } },
    bars: [{ index: 0, size: 16 * KB, kind: 'mem64', prefetch: true }, { index: 3, size: 16 * KB, kind: 'mem64', prefetch: true }],
  });
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x6f00, subVendor: 0x15d9, subDevice: 0x0832, classCode: 0x060000, revision: 0x01, iommuGroup: 0, caps: { pcie: { portType: 'root-port' } } },
    { address: '0000:00:03.0', vendor: 0x8086, device: 0x6f08, classCode: 0x060400, revision: 0x01, driver: 'pcieport', iommuGroup: 1, caps: rootPortCaps(true, { speedGt: 5, width: 8 }) },
    {
      address: '0000:03:00.0', parent: '0000:00:03.0', vendor: 0x8086, device: 0x10fb, subVendor: 0x8086, subDevice: 0x000c, classCode: 0x020000, revision: 0x01,
      driver: 'ixgbe', iommuGroup: 2, resetMethod: ['flr', 'pm', 'bus'], sriov: { totalVfs: 8, numVfs: 2 },
      caps: endpoint(true, { speedGt: 5, width: 8 }, { msix: { tableSize: 64 }, sriov: { totalVfs: 8, initialVfs: 8, vfDeviceId: 0x10ed }, ats: { queueDepth: 0 } }),
      bars: [{ index: 0, size: 512 * KB, kind: 'mem64', prefetch: true }, { index: 2, size: 32, kind: 'io' }, { index: 4, size: 16 * KB, kind: 'mem64', prefetch: true }],
    },
    vf('0000:03:10.0', 3),
    vf('0000:03:10.2', 4),
    {
      address: '0000:00:11.4', vendor: 0x8086, device: 0x8d62, subVendor: 0x15d9, subDevice: 0x0832, classCode: 0x010601, revision: 0x05,
      driver: 'ahci', iommuGroup: 5, caps: { msi: { vectors: 1 }, pm: {} }, bars: [{ index: 5, size: 2 * KB, kind: 'mem32' }],
    },
  ];
  return {
    functions,
    iommu: 'intel',
    files: { 'proc/cmdline': intelCmdline, 'etc/default/grub': grub('intel_iommu=on iommu=pt') },
  };
}

/** Two GeForce RTX 3090 (10de:2204) with HDMI audio, each card in its own group behind an ACS root port. */
export function twoIdenticalGpus(): HostSpec {
  const card = (bus: string, port: string, group: number, bootVga: boolean): FnSpec[] => [
    {
      address: `0000:${bus}:00.0`, parent: port, vendor: 0x10de, device: 0x2204, subVendor: 0x3842, subDevice: 0x3973, classCode: 0x030000, revision: 0xa1,
      driver: 'nvidia', iommuGroup: group, bootVga, rom: true, resetMethod: ['bus'],
      caps: endpoint(false, { speedGt: 16, width: 16 }, { rebar: { bars: [{ bar: 1, sizesMb: [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768], currentMb: 256 }] } }),
      bars: [{ index: 0, size: 16 * MB, kind: 'mem32' }, { index: 1, size: 256 * MB, kind: 'mem64', prefetch: true }, { index: 3, size: 32 * MB, kind: 'mem64', prefetch: true }, { index: 5, size: 128, kind: 'io' }],
    },
    {
      address: `0000:${bus}:00.1`, parent: port, vendor: 0x10de, device: 0x1aef, subVendor: 0x3842, subDevice: 0x3973, classCode: 0x040300, revision: 0xa1,
      driver: 'snd_hda_intel', iommuGroup: group, resetMethod: ['bus'], caps: endpoint(false, { speedGt: 16, width: 16 }),
    },
  ];
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x1022, device: 0x1480, subVendor: 0x1462, subDevice: 0x7c35, classCode: 0x060000, iommuGroup: 0 },
    { address: '0000:00:00.2', vendor: 0x1022, device: 0x1481, classCode: 0x080600, caps: { msi: { vectors: 4, addr64: true }, pcie: { portType: 'rc-integrated-endpoint' } } },
    { address: '0000:00:03.0', vendor: 0x1022, device: 0x1482, classCode: 0x060000, iommuGroup: 1 },
    { address: '0000:00:03.1', vendor: 0x1022, device: 0x1483, classCode: 0x060400, driver: 'pcieport', iommuGroup: 2, caps: rootPortCaps(true, { speedGt: 16, width: 16 }) },
    { address: '0000:00:03.2', vendor: 0x1022, device: 0x1483, classCode: 0x060400, driver: 'pcieport', iommuGroup: 3, caps: rootPortCaps(true, { speedGt: 16, width: 16 }) },
    ...card('0a', '0000:00:03.1', 4, true),
    ...card('0b', '0000:00:03.2', 5, false),
  ];
  return { functions, iommu: 'amd', files: { 'proc/cmdline': amdCmdline, 'etc/default/grub': grub('iommu=pt') } };
}

/** AMD Radeon RX 580 (Polaris 10, 1002:67df; no FLR: bus reset only) with its HDMI audio, one group. */
export function amdGpu(): HostSpec {
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x1022, device: 0x1450, subVendor: 0x1022, subDevice: 0x1450, classCode: 0x060000, iommuGroup: 0 },
    { address: '0000:00:00.2', vendor: 0x1022, device: 0x1451, classCode: 0x080600, caps: { msi: { vectors: 4, addr64: true }, pcie: { portType: 'rc-integrated-endpoint' } } },
    { address: '0000:00:01.0', vendor: 0x1022, device: 0x1452, classCode: 0x060000, iommuGroup: 1 },
    { address: '0000:00:01.1', vendor: 0x1022, device: 0x1453, classCode: 0x060400, driver: 'pcieport', iommuGroup: 2, caps: rootPortCaps(true, { speedGt: 8, width: 16 }) },
    {
      address: '0000:08:00.0', parent: '0000:00:01.1', vendor: 0x1002, device: 0x67df, subVendor: 0x1462, subDevice: 0x3417, classCode: 0x030000, revision: 0xe7,
      driver: 'amdgpu', iommuGroup: 3, bootVga: true, rom: true, resetMethod: ['bus'],
      caps: endpoint(false, { speedGt: 8, width: 16 }, { msi: { vectors: 1, addr64: true }, rebar: { bars: [{ bar: 0, sizesMb: [256, 512, 1024, 2048, 4096, 8192], currentMb: 256 }] } }),
      bars: [{ index: 0, size: 256 * MB, kind: 'mem64', prefetch: true }, { index: 2, size: 2 * MB, kind: 'mem64', prefetch: true }, { index: 4, size: 256, kind: 'io' }, { index: 5, size: 256 * KB, kind: 'mem32' }],
    },
    {
      address: '0000:08:00.1', parent: '0000:00:01.1', vendor: 0x1002, device: 0xaaf0, subVendor: 0x1462, subDevice: 0xaaf0, classCode: 0x040300,
      driver: 'snd_hda_intel', iommuGroup: 3, resetMethod: ['bus'], caps: endpoint(false, { speedGt: 8, width: 16 }),
    },
  ];
  return { functions, iommu: 'amd', files: { 'proc/cmdline': amdCmdline, 'etc/default/grub': grub('iommu=pt') } };
}

/**
 * An ASMedia ASM1083 PCIe-to-PCI bridge (class 0x060400) behind a PCH root port with ACS, with three
 * conventional functions on its secondary bus (RTL8169 NIC, SB Audigy audio + its gameport); the
 * bridge and everything behind it share one group (conventional PCI cannot isolate).
 */
export function conventionalBridge(): HostSpec {
  const g = 3;
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x3e30, classCode: 0x060000, revision: 0x0d, iommuGroup: 0 },
    { address: '0000:00:17.0', vendor: 0x8086, device: 0xa352, classCode: 0x010601, revision: 0x10, driver: 'ahci', iommuGroup: 1, caps: { msi: { vectors: 1 }, pm: {} } },
    { address: '0000:00:1c.4', vendor: 0x8086, device: 0xa33c, classCode: 0x060400, revision: 0xf0, driver: 'pcieport', iommuGroup: 2, caps: rootPortCaps(true, { speedGt: 2.5, width: 1 }) },
    {
      address: '0000:04:00.0', parent: '0000:00:1c.4', vendor: 0x1b21, device: 0x1080, classCode: 0x060400, revision: 0x04, iommuGroup: g,
      caps: { pm: {}, msi: { vectors: 1 }, pcie: { portType: 'pcie-to-pci-bridge', link: { speedGt: 2.5, width: 1 } } },
    },
    {
      address: '0000:05:00.0', parent: '0000:04:00.0', vendor: 0x10ec, device: 0x8169, subVendor: 0x10ec, subDevice: 0x8169, classCode: 0x020000, revision: 0x10,
      driver: 'r8169', iommuGroup: g, resetMethod: ['bus'], caps: { pm: {} },
      bars: [{ index: 0, size: 256, kind: 'io' }, { index: 1, size: 256, kind: 'mem32' }],
    },
    {
      address: '0000:05:01.0', parent: '0000:04:00.0', vendor: 0x1102, device: 0x0004, subVendor: 0x1102, subDevice: 0x0051, classCode: 0x040100, revision: 0x04,
      driver: 'snd_emu10k1', iommuGroup: g, caps: { pm: {} }, bars: [{ index: 0, size: 64, kind: 'io' }],
    },
    {
      address: '0000:05:01.1', parent: '0000:04:00.0', vendor: 0x1102, device: 0x7003, subVendor: 0x1102, subDevice: 0x0040, classCode: 0x098000, revision: 0x04,
      iommuGroup: g, caps: { pm: {} }, bars: [{ index: 0, size: 8, kind: 'io' }],
    },
  ];
  return { functions, iommu: 'intel', files: { 'proc/cmdline': intelCmdline, 'etc/default/grub': grub('intel_iommu=on') } };
}

/**
 * The desktopGpu() machine booted with intel_iommu=off: no groups, no DMAR unit in sys/class/iommu,
 * and (as kernels built with CONFIG_IOMMU_API show) an empty sys/kernel/iommu_groups.
 */
export function noIommu(): HostSpec {
  const base = desktopGpu();
  return {
    functions: base.functions.map((f) => ({ ...f, iommuGroup: null })),
    iommu: 'none',
    emptyIommuGroupsDir: true,
    files: {
      'proc/cmdline': 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6a1d2f0e-3c57-4b7e-9d0a-2f5c1e8b9a44 ro quiet intel_iommu=off\n',
      'etc/default/grub': grub('intel_iommu=off'),
    },
  };
}

/**
 * Junk to merge into a spec's files/links: entries in sys/bus/pci/devices a kernel never makes (names
 * that are not addresses, a name with a newline, upper case, a trailing space), a link that climbs out of
 * the root, an absolute link, and a dangling link. (A literal "../x" cannot be a directory entry's name;
 * the escaping link target is the equivalent threat.)
 */
export function hostileDeviceEntries(): Pick<HostSpec, 'files' | 'links'> {
  const d = 'sys/bus/pci/devices';
  return {
    files: {
      [`${d}/foo`]: 'not a device\n',
      [`${d}/0000:00:1f.0\nx`]: '',
      [`${d}/0000:00:1F.0`]: '',
      [`${d}/0000:00:1f.0 `]: '',
    },
    links: {
      [`${d}/0000:0e:00.0`]: '../../../../../../../../etc',
      [`${d}/0000:0f:00.0`]: '/etc',
      [`${d}/0000:0d:00.0`]: '../../../devices/pci0000:00/0000:00:1c.7/0000:0d:00.0',
      [`${d}/..x`]: '../../../devices',
    },
  };
}

/**
 * A large synthetic host of exactly `count` functions for benchmarks and scale tests: repeating blocks
 * behind ACS root ports (GPU + audio; a 4-port NIC; a PCIe switch with four NVMe drives; a single
 * NVMe), spilling into new PCI domains (segments) when a domain runs out of bus numbers. Every slot is
 * its own IOMMU group; multifunction slots share one.
 */
export function scaledHost(count: number): HostSpec {
  const functions: FnSpec[] = [];
  let group = 0;
  let domain = 0;
  let bus = 1;
  let rpSlot = 1;
  let rpFn = 0;
  let block = 0;
  const dom = (): string => domain.toString(16).padStart(4, '0');
  const b2 = (b: number): string => b.toString(16).padStart(2, '0');
  const add = (f: FnSpec): boolean => {
    if (functions.length >= count) return false;
    functions.push(f);
    return true;
  };
  const newDomain = (): void => {
    domain++;
    bus = 1;
    rpSlot = 1;
    rpFn = 0;
    add({ address: `${dom()}:00:00.0`, vendor: 0x8086, device: 0x2020, classCode: 0x060000, iommuGroup: group++ });
  };
  add({ address: '0000:00:00.0', vendor: 0x8086, device: 0x2020, classCode: 0x060000, iommuGroup: group++ });
  while (functions.length < count) {
    const kind = block % 4;
    const busesNeeded = kind === 2 ? 6 : 1;
    if (bus + busesNeeded > 255 || rpSlot > 0x1f) newDomain();
    const rp = `${dom()}:00:${b2(rpSlot)}.${rpFn}`;
    if (++rpFn > 7) {
      rpFn = 0;
      rpSlot++;
    }
    add({ address: rp, vendor: 0x8086, device: 0x2030, classCode: 0x060400, driver: 'pcieport', iommuGroup: group++, caps: rootPortCaps(true) });
    const b = b2(bus);
    if (kind === 0) {
      const g = group++;
      add({ address: `${dom()}:${b}:00.0`, parent: rp, vendor: 0x10de, device: 0x2204, subVendor: 0x3842, subDevice: 0x3973, classCode: 0x030000, revision: 0xa1, driver: 'nvidia', iommuGroup: g, rom: true, resetMethod: ['bus'], caps: endpoint(false, { speedGt: 16, width: 16 }) });
      add({ address: `${dom()}:${b}:00.1`, parent: rp, vendor: 0x10de, device: 0x1aef, classCode: 0x040300, revision: 0xa1, driver: 'snd_hda_intel', iommuGroup: g, resetMethod: ['bus'], caps: endpoint(false, { speedGt: 16, width: 16 }) });
      bus += 1;
    } else if (kind === 1) {
      const g = group++;
      for (let f = 0; f < 4; f++) {
        add({ address: `${dom()}:${b}:00.${f}`, parent: rp, vendor: 0x8086, device: 0x1521, subVendor: 0x8086, subDevice: 0x0001, classCode: 0x020000, revision: 0x01, driver: 'igb', iommuGroup: g, resetMethod: ['flr', 'bus'], caps: endpoint(true, { speedGt: 5, width: 4 }, { msix: { tableSize: 10 }, sriov: { totalVfs: 7, numVfs: 0 } }) });
      }
      bus += 1;
    } else if (kind === 2) {
      const up = `${dom()}:${b}:00.0`;
      add({ address: up, parent: rp, vendor: 0x10b5, device: 0x8747, classCode: 0x060400, driver: 'pcieport', iommuGroup: group++, caps: switchPortCaps('upstream-port', true) });
      const dsBus = b2(bus + 1);
      for (let p = 0; p < 4; p++) {
        const ds = `${dom()}:${dsBus}:${b2(p * 8)}.0`;
        add({ address: ds, parent: up, vendor: 0x10b5, device: 0x8747, classCode: 0x060400, driver: 'pcieport', iommuGroup: group++, caps: switchPortCaps('downstream-port', true) });
        add({ address: `${dom()}:${b2(bus + 2 + p)}:00.0`, parent: ds, vendor: 0x144d, device: 0xa80a, subVendor: 0x144d, subDevice: 0xa801, classCode: 0x010802, driver: 'nvme', iommuGroup: group++, resetMethod: ['flr', 'bus'], caps: endpoint(true, { speedGt: 16, width: 4 }, { msix: { tableSize: 130 } }) });
      }
      bus += 6;
    } else {
      add({ address: `${dom()}:${b}:00.0`, parent: rp, vendor: 0x15b7, device: 0x5011, classCode: 0x010802, driver: 'nvme', iommuGroup: group++, resetMethod: ['flr', 'bus'], caps: endpoint(true, { speedGt: 16, width: 4 }, { msix: { tableSize: 65 } }) });
      bus += 1;
    }
    block++;
  }
  return { functions, iommu: 'intel', files: { 'proc/cmdline': intelCmdline } };
}
