/**
 * Host-impact facts: what the running host uses its PCI functions for, so a plan can say what the host
 * would lose. Pure data, produced by src/host/read-host-impact.ts and judged by src/core/host-impact.ts.
 * Every device here names the PCI functions above it (`pciAncestors`, root first, canonical addresses),
 * taken from the sysfs topology path of the device.
 */
import type { PciAddressString } from './pci-address.js';
import type { KernelCmdline } from './kernel-cmdline.js';

export interface MountFact {
  /** Mount point as the kernel shows it (octal escapes decoded), e.g. "/", "/boot/efi". */
  mountPoint: string;
  fsType: string;
  /** Mount source, e.g. "/dev/nvme0n1p2". */
  source: string;
}

export interface BlockDeviceFact {
  /** Kernel name of the whole disk or partition, e.g. "sda", "nvme0n1p2", "dm-0". */
  name: string;
  /** PCI functions this block device depends on (through partitions, dm/md slaves), root first. */
  pciAncestors: PciAddressString[];
  /** Filesystems mounted from it (directly or through a device-mapper / md device stacked on it). */
  mounts: MountFact[];
  /** Active swap on it (proc/swaps). */
  swap: boolean;
}

export interface NetInterfaceFact {
  name: string;
  /** The PCI functions under this interface: its own device, or those of its lower devices (bridge ports, bond slaves, VLAN parents). */
  pciAncestors: PciAddressString[];
  /** The PCI function that is the interface's own device (null for virtual interfaces). */
  device: PciAddressString | null;
  /** This interface (or one stacked on it) carries an IPv4 or IPv6 default route. */
  defaultRoute: boolean;
  /** Addresses configured on it or on an interface stacked on it (IPv4 from fib_trie + route, IPv6 from if_inet6). */
  addresses: string[];
  /** The interfaces stacked on this one (bridge, bond, VLAN) whose routes/addresses were counted. */
  upper: string[];
}

export interface FramebufferFact {
  /** "fb0" */
  name: string;
  /** Driver name as proc/fb shows it, e.g. "EFI VGA", "simple", "i915drmfb", "amdgpudrmfb". */
  driver: string;
  /** PCI function owning the framebuffer memory or device, when known. */
  pci: PciAddressString | null;
  /** How the owner was found: the fb device link, or the firmware framebuffer's memory region in proc/iomem. */
  via: 'device-link' | 'iomem' | null;
}

export interface InputDeviceFact {
  /** "input3" */
  id: string;
  /** Device name, e.g. "Logitech USB Keyboard". */
  name: string;
  kind: 'keyboard' | 'pointer' | 'other';
  pciAncestors: PciAddressString[];
}

import type { CpuVendor } from './host-facts.js';
export type { CpuVendor };

export interface HostImpactFacts {
  block: BlockDeviceFact[];
  net: NetInterfaceFact[];
  framebuffers: FramebufferFact[];
  inputs: InputDeviceFact[];
  cpuVendor: CpuVendor | null;
  kernel: {
    release: string | null;
    /** vfio-pci is built into the kernel (modules.builtin lists it): modprobe.d options are ignored. */
    vfioPciBuiltin: boolean | null;
    /** The running kernel command line (proc/cmdline), parsed by the one parser (src/model/kernel-cmdline.ts). */
    cmdline: KernelCmdline | null;
  };
  /** Which facts could be read; a missing source makes the analysis say it could not check. */
  sources: { mounts: boolean; block: boolean; routes: boolean; framebuffers: boolean; inputs: boolean };
  problems: { path: string; code: string; message: string }[];
}

export function emptyHostImpactFacts(): HostImpactFacts {
  return {
    block: [],
    net: [],
    framebuffers: [],
    inputs: [],
    cpuVendor: null,
    kernel: { release: null, vfioPciBuiltin: null, cmdline: null },
    sources: { mounts: false, block: false, routes: false, framebuffers: false, inputs: false },
    problems: [],
  };
}
