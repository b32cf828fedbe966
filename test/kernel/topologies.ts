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

export const topologies: Record<string, Topology> = {
  [mainTopology.name]: mainTopology,
  [noIommuTopology.name]: noIommuTopology,
};
