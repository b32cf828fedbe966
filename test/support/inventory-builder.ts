/**
 * Build PciInventory values directly for pure planner tests (no file tree). Groups are assembled by the
 * production code (assembleGroup), so roles and host-critical members come out as they would from sysfs.
 */
import { type PciAddressString, formatPciAddress, pciAddressOf } from '../../src/model/pci-address.js';
import { emptyCapabilities, type PciCapabilities } from '../../src/model/pci-config.js';
import { assembleGroup } from '../../src/model/groups.js';
import { isBridgeClass } from '../../src/model/pci-class.js';
import { type FunctionFact, type PciFunction, type PciInventory, unknownFact } from '../../src/model/pci-function.js';
import { emptyHostImpactFacts, type HostImpactFacts } from '../../src/model/host-impact.js';
import { parseKernelCmdline } from '../../src/model/kernel-cmdline.js';

export interface FnSpec {
  /** short or full address */
  addr: string;
  id: string; // "vvvv:dddd"
  cls: string; // 6 hex digits
  group?: number | null;
  driver?: string | null;
  name?: string;
  parents?: string[];
  bootVga?: boolean;
  rom?: boolean;
  /** PCIe endpoint with FLR (default), 'pcie-noflr', 'conventional' (config readable, no PCIe cap), 'unknown' (config not read). */
  bus?: 'pcie' | 'pcie-noflr' | 'conventional' | 'unknown';
  portType?: NonNullable<PciCapabilities['pcie']>['portType'];
  resetMethods?: string[] | null;
  physfn?: string;
  numVfs?: number;
  multifunction?: boolean;
  /** facts not read (added to those bus 'unknown' implies: flr, capabilities) */
  unknown?: FunctionFact[];
}

const canon = (a: string): PciAddressString => formatPciAddress(pciAddressOf(a));

export function pciFn(s: FnSpec): PciFunction {
  const [vendorId, deviceId] = s.id.split(':') as [string, string];
  const caps = emptyCapabilities(4096);
  const bus = s.bus ?? 'pcie';
  if (bus !== 'unknown') {
    caps.standardReadable = true;
    caps.extendedReadable = bus !== 'conventional';
    caps.headerType = s.multifunction ? 0x80 : 0;
  } else {
    caps.configSize = 0;
  }
  if (bus === 'pcie' || bus === 'pcie-noflr') {
    caps.pcie = {
      version: 2, portType: s.portType ?? (isBridgeClass(s.cls) ? 'root-port' : 'endpoint'), slot: false, flr: bus === 'pcie',
      maxLinkSpeed: '8GT/s', maxLinkWidth: 16, linkSpeed: '8GT/s', linkWidth: 16,
    };
  }
  if (bus === 'conventional') caps.configSize = 256;
  return {
    address: canon(s.addr),
    vendorId,
    deviceId,
    subsystemVendorId: null,
    subsystemDeviceId: null,
    class: s.cls,
    revision: '00',
    names: { vendor: null, device: s.name ?? null, subsystem: null, className: null, subclassName: null, progIfName: null },
    driver: s.driver ?? null,
    driverOverride: null,
    iommuGroup: s.group === undefined ? null : s.group,
    numaNode: null,
    parentChain: (s.parents ?? []).map(canon),
    rootBus: 'pci0000:00',
    isBridge: isBridgeClass(s.cls),
    multifunction: s.multifunction ?? null,
    bootVga: s.bootVga ?? null,
    resetMethods: s.resetMethods === undefined ? (bus === 'pcie' ? ['flr', 'bus'] : null) : s.resetMethods,
    d3coldAllowed: null,
    powerState: 'D0',
    sriov: s.numVfs !== undefined ? { totalVfs: 8, numVfs: s.numVfs, vfs: [] } : null,
    physfn: s.physfn ? canon(s.physfn) : null,
    hasRom: s.rom ?? false,
    flr: bus === 'pcie',
    capabilities: caps,
    missing: [],
    problems: [],
    unknown: [...new Set<FunctionFact>([...(bus === 'unknown' ? (['flr', 'capabilities'] as const) : []), ...(s.unknown ?? [])])].map((f) => unknownFact(canon(s.addr), f, 'not read (test)')),
  };
}

/** An inventory from function specs; groups come from each spec's `group`. */
export function buildInventory(specs: FnSpec[], opts: { iommu?: boolean; importFormat?: string } = {}): PciInventory {
  const functions = specs.map(pciFn);
  const byAddress = new Map(functions.map((f) => [f.address as string, f]));
  const members = new Map<number, PciAddressString[]>();
  if (opts.iommu !== false) {
    for (const f of functions) {
      if (f.iommuGroup === null) continue;
      members.set(f.iommuGroup, [...(members.get(f.iommuGroup) ?? []), f.address]);
    }
  } else {
    for (const f of functions) f.iommuGroup = null;
  }
  const groups = [...members.keys()].sort((a, b) => a - b).map((id) => assembleGroup(id, 'DMA', members.get(id)!, byAddress));
  return {
    source: opts.importFormat ? { kind: 'import', format: opts.importFormat, file: 'test', unknown: [] } : { kind: 'sysfs', root: '/test' },
    iommu: { enabled: groups.length > 0, units: groups.length ? ['dmar0'] : [], groupCount: groups.length },
    functions,
    groups,
    problems: [],
  };
}

/** Host-impact facts with every source marked readable, plus the given facts. */
export function impactFacts(p: Partial<HostImpactFacts> = {}): HostImpactFacts {
  const base = emptyHostImpactFacts();
  return {
    ...base,
    sources: { mounts: true, block: true, routes: true, framebuffers: true, inputs: true },
    cpuVendor: 'intel',
    kernel: { release: '6.1.0-test', vfioPciBuiltin: false, cmdline: parseKernelCmdline('BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro quiet') },
    ...p,
  };
}

// ---- topologies (from the task's catalogue), used by planner and renderer tests

/** Desktop: iGPU console, discrete NVIDIA GPU + HDMI audio in one group behind root port 00:01.0, NVMe root disk, USB, NIC. */
export function desktopGpu(): PciInventory {
  return buildInventory([
    { addr: '00:00.0', id: '8086:3e30', cls: '060000', group: 0, name: 'Host bridge' },
    { addr: '00:01.0', id: '8086:1901', cls: '060400', group: 1, driver: 'pcieport' },
    { addr: '00:02.0', id: '8086:3e92', cls: '030000', group: 2, driver: 'i915', bootVga: true, name: 'UHD Graphics 630' },
    { addr: '00:14.0', id: '8086:a36d', cls: '0c0330', group: 3, driver: 'xhci_hcd', name: 'USB 3.1 xHCI' },
    { addr: '00:17.0', id: '8086:a352', cls: '010601', group: 4, driver: 'ahci', name: 'SATA AHCI' },
    { addr: '00:1f.0', id: '8086:a305', cls: '060100', group: 5, name: 'LPC controller', multifunction: true },
    { addr: '00:1f.3', id: '8086:a348', cls: '040300', group: 5, driver: 'snd_hda_intel', multifunction: true },
    { addr: '00:1f.4', id: '8086:a323', cls: '0c0500', group: 5, driver: 'i801_smbus', multifunction: true },
    { addr: '00:1f.6', id: '8086:15bc', cls: '020000', group: 6, driver: 'e1000e', name: 'Ethernet I219-V' },
    { addr: '01:00.0', id: '10de:1b81', cls: '030000', group: 1, driver: 'nouveau', parents: ['00:01.0'], rom: true, name: 'GP104 [GeForce GTX 1070]', multifunction: true },
    { addr: '01:00.1', id: '10de:10f0', cls: '040300', group: 1, driver: 'snd_hda_intel', parents: ['00:01.0'], name: 'GP104 HDMI Audio', multifunction: true },
    { addr: '02:00.0', id: '144d:a808', cls: '010802', group: 7, driver: 'nvme', parents: ['00:1d.0'], name: 'NVMe SSD 970 EVO' },
  ]);
}

/** Chipset-shared: a NIC, a SATA and a USB controller behind one chipset bridge, all in group 10. */
export function chipsetShared(): PciInventory {
  return buildInventory([
    { addr: '00:00.0', id: '1022:1480', cls: '060000', group: 0 },
    { addr: '00:01.2', id: '1022:1483', cls: '060400', group: 10, driver: 'pcieport' },
    { addr: '02:00.0', id: '1022:43d5', cls: '0c0330', group: 10, driver: 'xhci_hcd', parents: ['00:01.2'], name: 'chipset USB' },
    { addr: '02:00.1', id: '1022:43c8', cls: '010601', group: 10, driver: 'ahci', parents: ['00:01.2'], name: 'chipset SATA' },
    { addr: '02:00.2', id: '1022:43c6', cls: '060400', group: 10, driver: 'pcieport', parents: ['00:01.2'] },
    { addr: '03:04.0', id: '1022:43c7', cls: '060400', group: 10, driver: 'pcieport', parents: ['00:01.2', '02:00.2'] },
    { addr: '05:00.0', id: '8086:1539', cls: '020000', group: 10, driver: 'igb', parents: ['00:01.2', '02:00.2', '03:04.0'], name: 'I211 Gigabit' },
  ]);
}

/** Platform group: LPC + SMBus + audio in one group. */
export function platformGroup(): PciInventory {
  return buildInventory([
    { addr: '00:1f.0', id: '8086:a305', cls: '060100', group: 12, multifunction: true, name: 'LPC' },
    { addr: '00:1f.3', id: '8086:a348', cls: '040300', group: 12, driver: 'snd_hda_intel', multifunction: true, name: 'HD Audio' },
    { addr: '00:1f.4', id: '8086:a323', cls: '0c0500', group: 12, driver: 'i801_smbus', multifunction: true, name: 'SMBus' },
    { addr: '00:1f.5', id: '8086:a324', cls: '0c8000', group: 12, multifunction: true, name: 'SPI' },
  ]);
}

/** SR-IOV NIC: a PF with two VFs, each VF in its own group. */
export function sriovNic(): PciInventory {
  return buildInventory([
    { addr: '03:00.0', id: '8086:1521', cls: '020000', group: 20, driver: 'igb', numVfs: 2, name: 'I350 Gigabit' },
    { addr: '03:10.0', id: '8086:1520', cls: '020000', group: 21, driver: 'igbvf', physfn: '03:00.0', name: 'I350 VF' },
    { addr: '03:10.4', id: '8086:1520', cls: '020000', group: 22, driver: 'igbvf', physfn: '03:00.0', name: 'I350 VF' },
  ]);
}

/** Two identical AMD GPUs (+ audio), each with its own group. */
export function twoIdenticalGpus(): PciInventory {
  return buildInventory([
    { addr: '0a:00.0', id: '1002:73bf', cls: '030000', group: 30, driver: 'amdgpu', rom: true, multifunction: true, name: 'Navi 21' },
    { addr: '0a:00.1', id: '1002:ab28', cls: '040300', group: 30, driver: 'snd_hda_intel', multifunction: true },
    { addr: '0b:00.0', id: '1002:73bf', cls: '030000', group: 31, driver: 'amdgpu', rom: true, multifunction: true, name: 'Navi 21', bootVga: true },
    { addr: '0b:00.1', id: '1002:ab28', cls: '040300', group: 31, driver: 'snd_hda_intel', multifunction: true },
  ]);
}

/** GPU sharing its group with its root port (ACS-less port). */
export function gpuWithRootPort(): PciInventory {
  return buildInventory([
    { addr: '00:03.0', id: '1022:1483', cls: '060400', group: 40, driver: 'pcieport' },
    { addr: '08:00.0', id: '1002:67df', cls: '030000', group: 40, driver: 'amdgpu', parents: ['00:03.0'], rom: true, multifunction: true, name: 'Ellesmere [Radeon RX 580]' },
    { addr: '08:00.1', id: '1002:aaf0', cls: '040300', group: 40, driver: 'snd_hda_intel', parents: ['00:03.0'], multifunction: true },
  ]);
}
