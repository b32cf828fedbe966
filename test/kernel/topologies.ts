/**
 * PCI topologies the real-kernel harness boots: QEMU `-device` lists for a q35 machine, plus the
 * topology features the guest must find in its own sysfs (so a topology that silently lost a feature,
 * e.g. after a QEMU upgrade, fails the run instead of shrinking what the suite covers).
 *
 * Slots 0x1a-0x1c of the root bus are the harness's own 9p devices (see HARNESS_SLOTS in harness.ts);
 * a topology must not place devices there. Every device with an option ROM gets `romfile=` (no boot
 * ROM: faster, and vfio-pci does not have to deal with one).
 */

/** Features a guest can detect from sysfs alone; the guest suite checks each one a topology claims. */
export type TopologyFeature =
  /** an endpoint on the root bus (root-complex integrated / conventional on pcie.0) alone in its group */
  | 'rootBusEndpoint'
  /** an endpoint behind a root port with ACS, alone in its group */
  | 'acsRootPortEndpoint'
  /** two or more endpoint functions of one slot sharing a group */
  | 'multifunctionGroup'
  /** a root port without the ACS capability, in the same group as the endpoint behind it */
  | 'noAcsRootPort'
  /** a PCIe switch: upstream port and downstream ports, each downstream port grouped with its endpoint */
  | 'pcieSwitch'
  /** a PCIe-to-PCI bridge grouped with the conventional devices behind it */
  | 'conventionalBridge'
  /** an NVMe controller (class 01 08 02) */
  | 'nvme'
  /** a physical function that can create SR-IOV virtual functions */
  | 'sriov'
  /** no IOMMU groups at all */
  | 'noIommuGroups';

export interface Topology {
  /** short name, used in run directory names */
  name: string;
  description: string;
  /** add the emulated Intel IOMMU (`-device intel-iommu,intremap=on,caching-mode=on`) */
  intelIommu: boolean;
  /** QEMU arguments for the devices (pairs like '-device', 'e1000,...') */
  args: string[];
  /**
   * Another virtual IOMMU than Intel's (intelIommu false): its QEMU arguments, placed where intel-iommu
   * would be (before the harness's and the topology's devices), and which model it is.
   */
  iommuModel?: 'amd' | 'virtio';
  iommuArgs?: string[];
  /** whether the guest kernel creates IOMMU groups (default: intelIommu) */
  expectGroups?: boolean;
  /** features the guest must find */
  features: TopologyFeature[];
}

function dev(spec: string): string[] {
  return ['-device', spec];
}

/**
 * The main topology: every grouping case the tool must judge.
 *
 *   00:03.0  e1000 on the root bus (alone)
 *   00:04.0  root port (ACS)       -> e1000e                       (alone)
 *   00:05.0  root port (ACS)       -> e1000e fn0 + fn1 (multifunction, one group)
 *   00:06.0  root port, ACS off    -> e1000e                       (port and endpoint share a group)
 *   00:07.0  root port -> switch upstream -> 2 downstream ports -> nvme, e1000e
 *   00:08.0  pcie-pci-bridge       -> rtl8139, e1000 (conventional; one group with the bridge)
 *   00:09.0  root port (ACS)       -> nvme with SR-IOV (2 VFs possible)
 */
export const mainTopology: Topology = {
  name: 'main',
  description: 'q35 + intel-iommu: root-bus endpoint, ACS root ports, multifunction endpoint, root port without ACS, PCIe switch, PCIe-to-PCI bridge, NVMe with SR-IOV',
  intelIommu: true,
  args: [
    ...dev('e1000,bus=pcie.0,addr=0x3,mac=52:54:00:00:00:03,romfile='),
    ...dev('pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x4'),
    ...dev('e1000e,bus=rp1,mac=52:54:00:00:01:00,romfile='),
    ...dev('pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x5'),
    ...dev('e1000e,bus=rp2,addr=0x0.0x0,multifunction=on,mac=52:54:00:00:02:00,romfile='),
    ...dev('e1000e,bus=rp2,addr=0x0.0x1,mac=52:54:00:00:02:01,romfile='),
    ...dev('pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=0x6,disable-acs=on'),
    ...dev('e1000e,bus=rp3,mac=52:54:00:00:03:00,romfile='),
    ...dev('pcie-root-port,id=rp4,bus=pcie.0,chassis=4,addr=0x7'),
    ...dev('x3130-upstream,id=up1,bus=rp4'),
    ...dev('xio3130-downstream,id=dp1,bus=up1,chassis=5,slot=1'),
    ...dev('xio3130-downstream,id=dp2,bus=up1,chassis=6,slot=2'),
    ...dev('nvme,bus=dp1,serial=vfioctl-sw0,romfile='),
    ...dev('e1000e,bus=dp2,mac=52:54:00:00:04:00,romfile='),
    ...dev('pcie-pci-bridge,id=pb1,bus=pcie.0,addr=0x8'),
    ...dev('rtl8139,bus=pb1,addr=0x1,mac=52:54:00:00:05:01,romfile='),
    ...dev('e1000,bus=pb1,addr=0x2,mac=52:54:00:00:05:02,romfile='),
    ...dev('nvme-subsys,id=subsys0'),
    ...dev('pcie-root-port,id=rp5,bus=pcie.0,chassis=7,addr=0x9'),
    ...dev('nvme,bus=rp5,serial=vfioctl-pf0,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,romfile='),
  ],
  features: [
    'rootBusEndpoint',
    'acsRootPortEndpoint',
    'multifunctionGroup',
    'noAcsRootPort',
    'pcieSwitch',
    'conventionalBridge',
    'nvme',
    'sriov',
  ],
};

/** A small machine without the emulated IOMMU, booted with intel_iommu=off: the "no IOMMU" host. */
export const noIommuTopology: Topology = {
  name: 'no-iommu',
  description: 'q35 without an IOMMU (intel_iommu=off): no groups',
  intelIommu: false,
  args: [
    ...dev('pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x4'),
    ...dev('e1000e,bus=rp1,mac=52:54:00:00:11:00,romfile='),
    ...dev('pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x5'),
    ...dev('nvme,bus=rp2,serial=vfioctl-nx0,romfile='),
  ],
  features: ['noIommuGroups', 'nvme'],
};

/**
 * q35 with QEMU's AMD IOMMU (`amd-iommu`, which takes 00:01.0 and publishes an IVRS table), on slots
 * and shapes the Intel topology does not use, so the groups differ:
 *
 *   00:01.0  the AMD IOMMU's own PCI function (class 08 06)
 *   00:02.0  root port (ACS) -> switch upstream -> downstream 1: e1000e fn0 + fn1 (multifunction)
 *                                              -> downstream 2: nvme
 *   00:03.0  e1000 fn0 + rtl8139 fn1, a conventional multifunction device on the root bus (one group)
 *   00:0a.0  root port, ACS off -> pcie-pci-bridge -> e1000, rtl8139 (all one group with the port)
 *   00:0b.0  root port (ACS)  -> e1000e (alone)
 *
 * `intremap` chooses QEMU's interrupt remapping (IVRS then lists the IO-APIC, which the kernel needs to
 * turn remapping on).
 */
export function amdTopology(intremap: boolean): Topology {
  return {
    name: intremap ? 'amd' : 'amd-noir',
    description: `q35 + amd-iommu (intremap=${intremap ? 'on' : 'off'}): switch with a multifunction endpoint and an NVMe, root-bus multifunction, PCIe-to-PCI bridge behind a root port without ACS, ACS root port`,
    intelIommu: false,
    iommuModel: 'amd',
    iommuArgs: ['-device', `amd-iommu,intremap=${intremap ? 'on' : 'off'}`],
    expectGroups: true,
    args: [
      ...dev('pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2'),
      ...dev('x3130-upstream,id=up1,bus=rp1'),
      ...dev('xio3130-downstream,id=dp1,bus=up1,chassis=2,slot=1'),
      ...dev('xio3130-downstream,id=dp2,bus=up1,chassis=3,slot=2'),
      ...dev('e1000e,bus=dp1,addr=0x0.0x0,multifunction=on,mac=52:54:00:00:21:00,romfile='),
      ...dev('e1000e,bus=dp1,addr=0x0.0x1,mac=52:54:00:00:21:01,romfile='),
      ...dev('nvme,bus=dp2,serial=vfioctl-amd0,romfile='),
      ...dev('e1000,bus=pcie.0,addr=0x3.0x0,multifunction=on,mac=52:54:00:00:22:00,romfile='),
      ...dev('rtl8139,bus=pcie.0,addr=0x3.0x1,mac=52:54:00:00:22:01,romfile='),
      ...dev('pcie-root-port,id=rp2,bus=pcie.0,chassis=4,addr=0xa,disable-acs=on'),
      ...dev('pcie-pci-bridge,id=pb1,bus=rp2'),
      ...dev('e1000,bus=pb1,addr=0x1,mac=52:54:00:00:23:01,romfile='),
      ...dev('rtl8139,bus=pb1,addr=0x2,mac=52:54:00:00:23:02,romfile='),
      ...dev('pcie-root-port,id=rp3,bus=pcie.0,chassis=5,addr=0xb'),
      ...dev('e1000e,bus=rp3,mac=52:54:00:00:24:00,romfile='),
    ],
    features: ['acsRootPortEndpoint', 'multifunctionGroup', 'noAcsRootPort', 'pcieSwitch', 'conventionalBridge', 'nvme'],
  };
}

/**
 * q35 with `virtio-iommu-pci` at 00:02.0 (QEMU publishes an ACPI VIOT table for it) and a third layout:
 * endpoints straight on the root bus and behind root ports with ACS, one multifunction NVMe + NIC card.
 * Whether groups appear depends on the guest kernel having the virtio-iommu driver (CONFIG_VIRTIO_IOMMU
 * with CONFIG_ACPI_VIOT); `expectGroups` says what this kernel is expected to do.
 */
export function virtioIommuTopology(expectGroups: boolean): Topology {
  return {
    name: 'virtio-iommu',
    description: 'q35 + virtio-iommu-pci (ACPI VIOT): root-bus endpoints, ACS root ports, a multifunction card behind a root port',
    intelIommu: false,
    iommuModel: 'virtio',
    iommuArgs: ['-device', 'virtio-iommu-pci,bus=pcie.0,addr=0x2'],
    expectGroups,
    args: [
      ...dev('e1000e,bus=pcie.0,addr=0x4,mac=52:54:00:00:31:00,romfile='),
      ...dev('pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0xc'),
      ...dev('nvme,bus=rp1,addr=0x0.0x0,multifunction=on,serial=vfioctl-vio0,romfile='),
      ...dev('e1000e,bus=rp1,addr=0x0.0x1,mac=52:54:00:00:32:01,romfile='),
      ...dev('pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0xd'),
      ...dev('e1000e,bus=rp2,mac=52:54:00:00:33:00,romfile='),
    ],
    features: expectGroups ? ['rootBusEndpoint', 'acsRootPortEndpoint', 'nvme'] : ['noIommuGroups', 'nvme'],
  };
}

export const topologies: Record<string, Topology> = {
  [mainTopology.name]: mainTopology,
  [noIommuTopology.name]: noIommuTopology,
};
