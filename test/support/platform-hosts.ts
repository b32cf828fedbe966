/**
 * Host specs for the VFIO platform facts (iommufd, variant drivers, migration debugfs, large BARs):
 * a ConnectX VF whose best VFIO driver is mlx5_vfio_pci (modules.alias), a second VF already on
 * mlx5_vfio_pci with a VFIO device file and the kernel's migration debugfs, and a GPU with a 128 GiB
 * 64-bit BAR and a Resizable BAR capability. Every fact comes from files the real readers read.
 */
import type { FnSpec, HostSpec } from './host-tree.js';
import { cpuinfo } from './doctor-hosts.js';

export const PLATFORM_RELEASE = '6.8.0-31-generic';
const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

export const MODULES_ALIAS = [
  '# Aliases extracted from modules themselves.',
  'alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core',
  'alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci',
  'alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci',
  'alias vfio_pci:v000015B3d0000101[EF]sv*sd*bc*sc*i* mlx5_vfio_pci',
  'alias vfio_pci:v000010DEd00002342sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci',
  'alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci',
  '',
].join('\n');

export interface PlatformOptions {
  /** kernel config options (default: IOMMUFD, VFIO_DEVICE_CDEV and VFIO_CONTAINER all y); null: no config file */
  config?: Record<string, string> | null;
  /** create /dev/iommu and the VFIO device file (default true) */
  iommufdNodes?: boolean;
  /** write modules.alias (default true) */
  aliases?: boolean;
  /** mount the vfio debugfs (default true) */
  debugfs?: boolean;
  /** size of the GPU's prefetchable 64-bit BAR (default 128 GiB) */
  gpuBar?: number;
  /** a second GPU like the first */
  secondGpu?: boolean;
  release?: string;
}

const vf = (address: string, driver: string): FnSpec => ({
  address, vendor: 0x15b3, device: 0x101e, subVendor: 0x15b3, subDevice: 0x0052, classCode: 0x020000, driver, iommuGroup: Number(address.slice(8, 10)), resetMethod: ['flr'],
  caps: { pcie: { portType: 'endpoint', flr: true }, msix: { tableSize: 8 } },
  bars: [{ index: 0, size: 2 * MIB, kind: 'mem64', prefetch: true }],
});

const gpu = (address: string, bar: number): FnSpec => ({
  address, vendor: 0x10de, device: 0x2330, subVendor: 0x10de, subDevice: 0x16c1, classCode: 0x030200, driver: 'nvidia', iommuGroup: Number(address.slice(8, 10)), resetMethod: ['flr', 'bus'],
  caps: { pcie: { portType: 'endpoint', flr: true }, rebar: { bars: [{ bar: 1, sizesMb: [256, 512, 1024, bar / MIB], currentMb: bar / MIB }] } },
  bars: [{ index: 0, size: 16 * MIB, kind: 'mem32' }, { index: 1, size: bar, kind: 'mem64', prefetch: true }, { index: 3, size: 32 * MIB, kind: 'mem64', prefetch: true }],
});

export function platformHost(o: PlatformOptions = {}): HostSpec {
  const release = o.release ?? PLATFORM_RELEASE;
  const functions: FnSpec[] = [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x09a2, classCode: 0x060000, iommuGroup: 0 },
    vf('0000:00:05.0', 'mlx5_core'),
    vf('0000:00:07.0', 'mlx5_vfio_pci'),
    gpu('0000:00:06.0', o.gpuBar ?? 128 * GIB),
    ...(o.secondGpu ? [gpu('0000:00:08.0', o.gpuBar ?? 128 * GIB)] : []),
  ];
  const config = o.config === undefined ? { CONFIG_IOMMUFD: 'y', CONFIG_VFIO_DEVICE_CDEV: 'y', CONFIG_VFIO_CONTAINER: 'y', CONFIG_VFIO_PCI: 'm' } : o.config;
  const files: Record<string, string> = {
    'proc/sys/kernel/osrelease': `${release}\n`,
    'proc/cpuinfo': cpuinfo('intel').replace(/^flags/gm, 'address sizes\t: 46 bits physical, 57 bits virtual\nflags'),
    'proc/modules': 'iommufd 98304 1 vfio, Live 0x0000000000000000\nvfio 69632 2 vfio_pci_core,iommufd, Live 0x0000000000000000\n',
    // the VF already on mlx5_vfio_pci has its VFIO device file
    'sys/devices/pci0000:00/0000:00:07.0/vfio-dev/vfio0/dev': '511:0\n',
    // the kernel's Resizable BAR file of the GPU's BAR 1 (bitmap of the supported sizes, bit n = 2^n MiB)
    'sys/devices/pci0000:00/0000:00:06.0/resource1_resize': '000000000001c700\n',
  };
  if (config) files[`boot/config-${release}`] = Object.entries(config).map(([k, v]) => (v === 'n' ? `# ${k} is not set` : `${k}=${v}`)).join('\n') + '\n';
  if (o.aliases !== false) files[`lib/modules/${release}/modules.alias`] = MODULES_ALIAS;
  if (o.iommufdNodes !== false) {
    files['dev/iommu'] = '';
    files['dev/vfio/devices/vfio0'] = '';
    files['sys/class/vfio-dev/vfio0/dev'] = '511:0\n';
  }
  if (o.debugfs !== false) {
    files['sys/kernel/debug/vfio/vfio0/migration/state'] = 'RUNNING\n';
    files['sys/kernel/debug/vfio/vfio0/migration/features'] = 'PRE_COPY P2P\n';
  }
  return { functions, iommu: 'intel', drivers: ['vfio-pci', 'mlx5_vfio_pci'], files };
}
