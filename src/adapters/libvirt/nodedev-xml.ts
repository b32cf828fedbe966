/**
 * libvirt node devices (`virsh nodedev-dumpxml pci_dddd_bb_ss_f`): a second, independent reading of a PCI
 * function, cross-checked against vfioctl's own sysfs inventory.
 *
 * In nodedev XML the function's own address is decimal element text (<bus>1</bus>), while the addresses
 * inside <iommuGroup>, virt_functions and phys_function are hex attributes; both are parsed as libvirt
 * does (base 0).
 */
import { type Result, ok, err } from '../../model/errors.js';
import { type PciAddress, type PciAddressString, formatPciAddress } from '../../model/pci-address.js';
import type { Finding } from '../../model/finding.js';
import { type Element, attr, childElements, firstChild, parseLibvirtNumber, parseXmlDocument, text } from './xml-dom.js';
import { parseHostdevSourceAddress } from './domain-xml.js';

export interface NodedevPci {
  /** libvirt's name, e.g. pci_0000_01_00_0 */
  name: string;
  /** sysfs path libvirt reports (informational). */
  path: string | null;
  parent: string | null;
  address: PciAddressString;
  driver: string | null;
  /** 6 lowercase hex digits, or null when absent. */
  class: string | null;
  vendorId: string | null;
  vendorName: string | null;
  productId: string | null;
  productName: string | null;
  /** <iommuGroup number='N'> and its member addresses; null when libvirt reports none (no IOMMU). */
  iommuGroup: { number: number; members: PciAddressString[] } | null;
  virtFunctions: PciAddressString[];
  physFunction: PciAddressString | null;
  pciExpress: boolean;
  /** Addresses in the XML vfioctl could not read. */
  problems: string[];
}

function hexId(v: string | null, width: number): string | null {
  if (v === null) return null;
  const n = parseLibvirtNumber(v);
  return n === null ? null : n.toString(16).padStart(width, '0');
}

function addressList(el: Element | null, problems: string[], where: string): PciAddressString[] {
  const out: PciAddressString[] = [];
  for (const a of childElements(el, 'address')) {
    const r = parseHostdevSourceAddress(a);
    if ('address' in r) out.push(formatPciAddress(r.address));
    else problems.push(`${where}: ${r.problem}`);
  }
  return out;
}

export function parseNodedevXml(xml: string): Result<NodedevPci> {
  const d = parseXmlDocument(xml, 'node device XML');
  if (!d.ok) return d;
  const root = d.value.documentElement;
  if (!root || root.nodeName !== 'device') return err({ message: `node device XML has root <${root?.nodeName ?? ''}>, expected <device>` });
  const name = text(firstChild(root, 'name')) ?? '';
  const cap = childElements(root, 'capability').find((c) => attr(c, 'type') === 'pci');
  if (!cap) return err({ message: `node device ${name || '(unnamed)'} is not a PCI device (no <capability type='pci'>)` });
  const num = (n: string) => parseLibvirtNumber(text(firstChild(cap, n)));
  const domain = num('domain');
  const bus = num('bus');
  const slot = num('slot');
  const fn = num('function');
  if (domain === null || bus === null || slot === null || fn === null || bus > 0xff || slot > 0x1f || fn > 7) {
    return err({ message: `node device ${name}: unreadable PCI address (domain/bus/slot/function elements)` });
  }
  const address: PciAddress = { domain, bus, slot, fn };
  const problems: string[] = [];
  const group = firstChild(cap, 'iommuGroup');
  const groupNumber = group ? parseLibvirtNumber(attr(group, 'number')) : null;
  if (group && groupNumber === null) problems.push(`iommuGroup number='${attr(group, 'number') ?? ''}' is not a number`);
  const subcaps = childElements(cap, 'capability');
  const vf = subcaps.find((c) => attr(c, 'type') === 'virt_functions');
  const pf = subcaps.find((c) => attr(c, 'type') === 'phys_function');
  const pfList = pf ? addressList(pf, problems, 'phys_function') : [];
  const classText = text(firstChild(cap, 'class'));
  const vendor = firstChild(cap, 'vendor');
  const product = firstChild(cap, 'product');
  return ok({
    name,
    path: text(firstChild(root, 'path')),
    parent: text(firstChild(root, 'parent')),
    address: formatPciAddress(address),
    driver: text(firstChild(firstChild(root, 'driver'), 'name')) || null,
    class: hexId(classText, 6),
    vendorId: hexId(attr(vendor, 'id'), 4),
    vendorName: text(vendor) || null,
    productId: hexId(attr(product, 'id'), 4),
    productName: text(product) || null,
    iommuGroup: group && groupNumber !== null ? { number: groupNumber, members: addressList(group, problems, 'iommuGroup') } : null,
    virtFunctions: vf ? addressList(vf, problems, 'virt_functions') : [],
    physFunction: pfList[0] ?? null,
    pciExpress: firstChild(cap, 'pci-express') !== null,
    problems,
  });
}

/** What vfioctl's sysfs inventory says about the same function (a subset of PciFunction / IommuGroup). */
export interface SysfsView {
  address: PciAddressString;
  vendorId: string;
  deviceId: string;
  class: string;
  driver: string | null;
  iommuGroup: number | null;
  /** Members of that group per sysfs (canonical), when known. */
  groupMembers: PciAddressString[] | null;
  /** Where the view came from, for evidence, e.g. "/sys" or "/tmp/host". */
  source: string;
}

/**
 * Compare libvirt's node device with the sysfs reading. Disagreement means one of the two views is
 * stale (a group changed after a hotplug, libvirt without udev events) or vfioctl reads another root.
 */
export function crossCheckNodedev(nodedev: NodedevPci, sysfs: SysfsView | null): Finding[] {
  const subj = [nodedev.address];
  const ev = (what: string, lib: string, sys: string) => [
    { source: `virsh nodedev-dumpxml ${nodedev.name} (${what})`, value: lib },
    { source: `${sysfs?.source ?? 'sysfs'} (${what})`, value: sys },
  ];
  if (!sysfs) {
    return [
      {
        id: 'nodedev-missing-in-sysfs',
        severity: 'warn',
        summary: `libvirt knows ${nodedev.name} but ${nodedev.address} is not in the sysfs inventory`,
        evidence: [{ source: `virsh nodedev-dumpxml ${nodedev.name}`, value: nodedev.address }],
        remedy: 'when --root points at a captured tree, libvirt still reads the live machine; otherwise the device was removed: `virsh nodedev-list --cap pci` refreshes only with udev',
        subjects: subj,
        category: 'libvirt',
      },
    ];
  }
  const out: Finding[] = [];
  if (nodedev.vendorId !== null && nodedev.productId !== null && (nodedev.vendorId !== sysfs.vendorId || nodedev.productId !== sysfs.deviceId)) {
    out.push({
      id: 'nodedev-id-mismatch',
      severity: 'fail',
      summary: `libvirt and sysfs disagree on the identity of ${nodedev.address}`,
      evidence: ev('vendor:device', `${nodedev.vendorId}:${nodedev.productId}`, `${sysfs.vendorId}:${sysfs.deviceId}`),
      remedy: 'the two views describe different machines: check --root and --connect',
      subjects: subj,
      category: 'libvirt',
    });
  }
  const libGroup = nodedev.iommuGroup?.number ?? null;
  if (libGroup !== sysfs.iommuGroup) {
    out.push({
      id: 'nodedev-group-mismatch',
      severity: 'warn',
      summary: `IOMMU group of ${nodedev.address}: libvirt says ${libGroup ?? 'none'}, sysfs says ${sysfs.iommuGroup ?? 'none'}`,
      evidence: ev('iommu group', String(libGroup ?? 'none'), String(sysfs.iommuGroup ?? 'none')),
      remedy: 'vfioctl plans from sysfs; restart libvirtd (or run with udev) so its node-device cache is refreshed',
      subjects: subj,
      category: 'libvirt',
    });
  } else if (nodedev.iommuGroup && sysfs.groupMembers) {
    const a = [...nodedev.iommuGroup.members].sort();
    const b = [...sysfs.groupMembers].sort();
    if (a.join(' ') !== b.join(' ')) {
      out.push({
        id: 'nodedev-group-members-mismatch',
        severity: 'warn',
        summary: `members of IOMMU group ${libGroup} differ between libvirt and sysfs`,
        evidence: ev('group members', a.join(' ') || '(none)', b.join(' ') || '(none)'),
        remedy: 'vfioctl plans from sysfs; refresh libvirt\'s node devices (restart libvirtd) before attaching',
        subjects: subj,
        category: 'libvirt',
      });
    }
  }
  if ((nodedev.driver ?? null) !== (sysfs.driver ?? null)) {
    out.push({
      id: 'nodedev-driver-mismatch',
      severity: 'info',
      summary: `driver of ${nodedev.address}: libvirt says ${nodedev.driver ?? 'none'}, sysfs says ${sysfs.driver ?? 'none'}`,
      evidence: ev('driver', nodedev.driver ?? 'none', sysfs.driver ?? 'none'),
      remedy: 'libvirt caches node devices without udev events; sysfs is current',
      subjects: subj,
      category: 'libvirt',
    });
  }
  if (!out.length) {
    out.push({
      id: 'nodedev-agrees',
      severity: 'ok',
      summary: `libvirt and sysfs agree on ${nodedev.address} (group ${libGroup ?? 'none'}, driver ${sysfs.driver ?? 'none'})`,
      evidence: ev('iommu group', String(libGroup ?? 'none'), String(sysfs.iommuGroup ?? 'none')),
      subjects: subj,
      category: 'libvirt',
    });
  }
  return out;
}
