/**
 * `virsh nodedev-dumpxml pci_dddd_bb_ss_f` output pasted as text: one `<device>` document per function.
 * Read with @xmldom/xmldom, bounded (size and element count), diagnostics collected, never printed.
 * @xmldom/xmldom is loaded on the first <device> block only (synchronously): a paste without one, and
 * every command that reads no paste, does not pay for an XML parser.
 * In nodedev XML the function's own address is decimal element text (<bus>1</bus>), the addresses inside
 * <iommuGroup> are hex attributes; both are read as libvirt writes them (C strtoul, base 0).
 */
import { createRequire } from 'node:module';
import type { DOMParser as DOMParserType, Element } from '@xmldom/xmldom';
import { type PciAddressString, formatPciAddress, sysfsPciAddress } from './pci-address.js';

/** Longest single <device> document read (a real one is 1-3 KiB). */
export const NODEDEV_MAX_CHARS = 64 * 1024;
const MAX_ELEMENTS = 2000;

export interface NodedevFunction {
  address: PciAddressString;
  vendorId: string | null;
  deviceId: string | null;
  vendorName: string | null;
  productName: string | null;
  /** 6 hex digits */
  class: string | null;
  /** null: no <driver> element (libvirt writes one only while a driver is bound) */
  driver: string | null;
  iommuGroup: { number: number; members: PciAddressString[] } | null;
  /** from <path> (/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0); null when absent or unreadable */
  topology: { rootBus: string; parentChain: PciAddressString[] } | null;
  physFunction: PciAddressString | null;
  pciExpress: boolean;
}

export type NodedevRead = { ok: true; fn: NodedevFunction } | { ok: false; reason: string };

let parserClass: typeof DOMParserType | null = null;
function xmlParser(): typeof DOMParserType {
  parserClass ??= (createRequire(import.meta.url)('@xmldom/xmldom') as { DOMParser: typeof DOMParserType }).DOMParser;
  return parserClass;
}

function strtoul(input: string | null): number | null {
  if (input === null) return null;
  const s = input.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^0[0-7]{0,11}$/.test(s)) n = s.length === 1 ? 0 : parseInt(s.slice(1), 8);
  else if (/^[1-9][0-9]{0,9}$/.test(s)) n = parseInt(s, 10);
  else return null;
  return n;
}

function kids(el: Element | null, name?: string): Element[] {
  const out: Element[] = [];
  if (!el) return out;
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (name === undefined || n.nodeName === name)) out.push(n as Element);
  return out;
}
const kid = (el: Element | null, name: string): Element | null => kids(el, name)[0] ?? null;
const txt = (el: Element | null): string | null => (el ? (el.textContent ?? '').trim() : null);
const at = (el: Element | null, name: string): string | null => (el && el.hasAttribute(name) ? el.getAttribute(name) : null);

function hexAttrAddress(a: Element): PciAddressString | null {
  const d = strtoul(at(a, 'domain'));
  const b = strtoul(at(a, 'bus'));
  const s = strtoul(at(a, 'slot'));
  const f = strtoul(at(a, 'function'));
  if (d === null || b === null || s === null || f === null || b > 0xff || s > 0x1f || f > 7 || d > 0xffffffff) return null;
  return formatPciAddress({ domain: d, bus: b, slot: s, fn: f });
}

function topologyFromPath(path: string | null, self: PciAddressString): NodedevFunction['topology'] {
  if (!path) return null;
  const parts = path.replace(/\/+$/, '').split('/');
  const i = parts.indexOf('devices');
  if (parts[1] !== 'sys' || i !== 2) return null;
  const root = parts[3] ?? '';
  if (!/^pci[0-9a-f]{4,8}:[0-9a-f]{2}$/.test(root)) return null;
  const chain: PciAddressString[] = [];
  for (const seg of parts.slice(4)) {
    const a = sysfsPciAddress(seg);
    if (!a) return null;
    chain.push(a);
  }
  if (chain[chain.length - 1] !== self) return null;
  return { rootBus: root, parentChain: chain.slice(0, -1) };
}

export function readNodedevXml(xml: string): NodedevRead {
  if (xml.length > NODEDEV_MAX_CHARS) return { ok: false, reason: `node device XML longer than ${NODEDEV_MAX_CHARS} characters` };
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return { ok: false, reason: 'node device XML with a DOCTYPE or entity declaration (not what virsh prints)' };
  const problems: string[] = [];
  let doc;
  try {
    const DOMParser = xmlParser();
    doc = new DOMParser({ onError: (level, msg) => { if (level !== 'warning') problems.push(String(msg).split('\n')[0] ?? ''); } }).parseFromString(xml, 'text/xml');
  } catch (e) {
    return { ok: false, reason: `not well-formed XML: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}` };
  }
  if (problems.length) return { ok: false, reason: `not well-formed XML: ${problems[0]}` };
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'device') return { ok: false, reason: `XML root <${root?.nodeName ?? ''}> is not <device>` };
  if (doc.getElementsByTagName('*').length > MAX_ELEMENTS) return { ok: false, reason: `more than ${MAX_ELEMENTS} elements in one node device` };
  const caps = kids(root, 'capability');
  const cap = caps.find((c) => at(c, 'type') === 'pci');
  if (!cap) return { ok: false, reason: `node device ${txt(kid(root, 'name')) ?? ''} is not a PCI device (capability ${caps.map((c) => at(c, 'type') ?? '?').join(', ') || 'none'})`.replace('  ', ' ') };
  const num = (n: string) => strtoul(txt(kid(cap, n)));
  const domain = num('domain');
  const bus = num('bus');
  const slot = num('slot');
  const fn = num('function');
  if (domain === null || bus === null || slot === null || fn === null || bus > 0xff || slot > 0x1f || fn > 7) return { ok: false, reason: 'unreadable PCI address (domain/bus/slot/function elements)' };
  const address = formatPciAddress({ domain, bus, slot, fn });
  const id = (el: Element | null): string | null => {
    const n = strtoul(at(el, 'id'));
    return n === null || n > 0xffff ? null : n.toString(16).padStart(4, '0');
  };
  const vendor = kid(cap, 'vendor');
  const product = kid(cap, 'product');
  const clsN = strtoul(txt(kid(cap, 'class')));
  const drv = txt(kid(kid(root, 'driver'), 'name'));
  const g = kid(cap, 'iommuGroup');
  let iommuGroup: NodedevFunction['iommuGroup'] = null;
  if (g) {
    const number = strtoul(at(g, 'number'));
    if (number === null) return { ok: false, reason: `iommuGroup number='${at(g, 'number') ?? ''}' is not a number` };
    const members: PciAddressString[] = [];
    for (const a of kids(g, 'address')) {
      const m = hexAttrAddress(a);
      if (!m) return { ok: false, reason: 'an <iommuGroup> member address is not a PCI address' };
      members.push(m);
    }
    iommuGroup = { number, members };
  }
  const pf = kids(cap, 'capability').find((c) => at(c, 'type') === 'phys_function');
  const pfAddr = pf ? kid(pf, 'address') : null;
  return {
    ok: true,
    fn: {
      address,
      vendorId: id(vendor),
      deviceId: id(product),
      vendorName: txt(vendor) || null,
      productName: txt(product) || null,
      class: clsN === null || clsN > 0xffffff ? null : clsN.toString(16).padStart(6, '0'),
      driver: drv || null,
      iommuGroup,
      topology: topologyFromPath(txt(kid(root, 'path')), address),
      physFunction: pfAddr ? hexAttrAddress(pfAddr) : null,
      pciExpress: !!kid(cap, 'pci-express'),
    },
  };
}
