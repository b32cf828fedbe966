/**
 * libvirt domain XML, split by direction:
 *   parse  parseDomainXml(xml)            -> DomainConfig (what vfioctl reads: hostdevs, machine, firmware...)
 *   create renderPciHostdevXml(spec)      -> one <hostdev> element (what attach-device / detach-device get)
 *   update editDomainXml(xml, edit)       -> the same document with hostdevs added/removed; every node
 *                                            vfioctl does not model is kept as it was
 *
 * Addresses in domain XML are parsed the way libvirt parses them (base 0: "0x1f", "25", and "010" is
 * octal 8), and always written as zero-padded hex.
 */
import { type Result, ok, err } from '../../model/errors.js';
import { type PciAddress, type PciAddressString, formatPciAddress } from '../../model/pci-address.js';
import { type Element, attr, childElements, descend, firstChild, parseLibvirtNumber, parseXmlDocument, text } from './xml-dom.js';

/** A guest-side PCI address (<address type='pci'> directly inside a device). */
export interface GuestPciAddress {
  domain: number;
  bus: number;
  slot: number;
  fn: number;
  multifunction: boolean;
}

export interface HostdevRom {
  /** <rom bar='on|off'> */
  bar: 'on' | 'off' | null;
  /** <rom file='...'> */
  file: string | null;
  /** <rom enabled='yes|no'> */
  enabled: boolean | null;
}

export interface PciHostdev {
  kind: 'pci';
  mode: 'subsystem';
  managed: boolean;
  /** The host function, canonical; null when the source address could not be parsed. */
  source: PciAddressString | null;
  /** Why `source` is null (the attribute text libvirt would reject or vfioctl cannot read). */
  sourceProblem: string | null;
  guestAddress: GuestPciAddress | null;
  rom: HostdevRom | null;
  /** <driver name='vfio'/> (or 'kvm', 'xen'); null when absent (libvirt picks vfio). */
  driverName: string | null;
  alias: string | null;
  bootOrder: number | null;
}

/** Any other hostdev (USB, SCSI, mdev, capabilities mode): listed, not modelled. */
export interface OtherHostdev {
  kind: 'other';
  mode: string | null;
  type: string | null;
  alias: string | null;
}

export type DomainHostdev = PciHostdev | OtherHostdev;

export type FirmwareKind = 'efi' | 'bios';

export interface DomainFirmware {
  kind: FirmwareKind;
  /** How it was decided: <os firmware=...>, the <loader> path/type, or x86's default (BIOS). */
  basis: 'firmware-attribute' | 'loader' | 'default';
  loader: string | null;
  secureBoot: boolean | null;
}

export interface DomainFeatures {
  /** <features><kvm><hidden state='on|off'/> ; null when absent. */
  kvmHidden: boolean | null;
  /** <features><hyperv><vendor_id state='on' value='...'/> value when on; null when absent/off. */
  hypervVendorId: string | null;
  /** <features><hyperv> present (mode or state not 'off'). */
  hyperv: boolean;
  /** <features><ioapic driver='qemu|kvm'/> */
  ioapicDriver: string | null;
  /** <features><smm state='on|off'/> */
  smm: boolean | null;
}

export interface DomainIommu {
  model: string | null;
  intremap: string | null;
  cachingMode: string | null;
  eim: string | null;
  iotlb: string | null;
}

export interface DomainController {
  type: string | null;
  index: number | null;
  model: string | null;
}

export interface DomainConfig {
  name: string;
  uuid: string | null;
  /** <domain type='kvm|qemu|...'> */
  type: string | null;
  /** id attribute: present in the live XML of a running domain. */
  id: number | null;
  arch: string | null;
  /** Machine type as written, e.g. "pc-q35-7.2", "q35", "pc-i440fx-7.2". */
  machine: string | null;
  /** "q35" for any q35 variant, "i440fx" for pc/pc-i440fx, else the written type or null. */
  chipset: 'q35' | 'i440fx' | 'other' | null;
  firmware: DomainFirmware;
  features: DomainFeatures;
  iommu: DomainIommu | null;
  hostdevs: DomainHostdev[];
  controllers: DomainController[];
  /** Every guest PCI address used by a device (hostdevs, controllers, disks, NICs...). */
  usedGuestAddresses: GuestPciAddress[];
}

// ---------- parse ----------

function parseGuestAddress(el: Element | null): GuestPciAddress | null {
  if (!el || attr(el, 'type') !== 'pci') return null;
  const domain = parseLibvirtNumber(attr(el, 'domain') ?? '0');
  const bus = parseLibvirtNumber(attr(el, 'bus') ?? '0');
  const slot = parseLibvirtNumber(attr(el, 'slot') ?? '0');
  const fn = parseLibvirtNumber(attr(el, 'function') ?? '0');
  if (domain === null || bus === null || slot === null || fn === null) return null;
  return { domain, bus, slot, fn, multifunction: attr(el, 'multifunction') === 'on' };
}

/** A hostdev's <source><address>: all four attributes, base 0, within PCI ranges. */
export function parseHostdevSourceAddress(el: Element | null): { address: PciAddress } | { problem: string } {
  if (!el) return { problem: 'no <source><address> element' };
  const raw = { domain: attr(el, 'domain') ?? '0', bus: attr(el, 'bus'), slot: attr(el, 'slot'), function: attr(el, 'function') ?? '0' };
  const vals: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) return { problem: `source address has no ${k} attribute` };
    const n = parseLibvirtNumber(v);
    if (n === null) return { problem: `source address ${k}='${v}' is not a number libvirt accepts` };
    vals[k] = n;
  }
  const { domain = 0, bus = 0, slot = 0, function: fn = 0 } = vals;
  if (domain > 0xffffffff || bus > 0xff || slot > 0x1f || fn > 7) {
    return { problem: `source address ${JSON.stringify(raw)} is out of range (bus 0-255, slot 0-31, function 0-7)` };
  }
  return { address: { domain, bus, slot, fn } };
}

function parseHostdev(el: Element): DomainHostdev {
  const mode = attr(el, 'mode');
  const type = attr(el, 'type');
  const alias = attr(firstChild(el, 'alias'), 'name');
  if (mode !== 'subsystem' || type !== 'pci') return { kind: 'other', mode, type, alias };
  const src = parseHostdevSourceAddress(descend(el, 'source', 'address'));
  const romEl = firstChild(el, 'rom');
  const bar = attr(romEl, 'bar');
  const enabled = attr(romEl, 'enabled');
  const boot = parseLibvirtNumber(attr(firstChild(el, 'boot'), 'order'));
  return {
    kind: 'pci',
    mode: 'subsystem',
    managed: attr(el, 'managed') === 'yes',
    source: 'address' in src ? formatPciAddress(src.address) : null,
    sourceProblem: 'problem' in src ? src.problem : null,
    guestAddress: parseGuestAddress(firstChild(el, 'address')),
    rom: romEl ? { bar: bar === 'on' || bar === 'off' ? bar : null, file: attr(romEl, 'file'), enabled: enabled === null ? null : enabled === 'yes' } : null,
    driverName: attr(firstChild(el, 'driver'), 'name'),
    alias,
    bootOrder: boot,
  };
}

const EFI_LOADER = /(ovmf|edk2|aavmf|qemu_efi|\.fd$|efi)/i;

function parseFirmware(os: Element | null): DomainFirmware {
  const loaderEl = firstChild(os, 'loader');
  const loader = text(loaderEl) || null;
  const secureAttr = attr(loaderEl, 'secure');
  const featureSecure = childElements(descend(os, 'firmware'), 'feature').find((f) => attr(f, 'name') === 'secure-boot');
  const secureBoot = secureAttr !== null ? secureAttr === 'yes' : featureSecure ? attr(featureSecure, 'enabled') === 'yes' : null;
  const fw = attr(os, 'firmware');
  if (fw === 'efi' || fw === 'bios') return { kind: fw, basis: 'firmware-attribute', loader, secureBoot };
  if (loaderEl) {
    const type = attr(loaderEl, 'type');
    const efi = type === 'pflash' || (loader !== null && EFI_LOADER.test(loader) && !/seabios|bios\.bin/i.test(loader));
    return { kind: efi ? 'efi' : 'bios', basis: 'loader', loader, secureBoot };
  }
  return { kind: 'bios', basis: 'default', loader: null, secureBoot };
}

function onOff(v: string | null): boolean | null {
  return v === 'on' ? true : v === 'off' ? false : null;
}

function parseFeatures(features: Element | null): DomainFeatures {
  const hidden = descend(features, 'kvm', 'hidden');
  const hyperv = firstChild(features, 'hyperv');
  const vendor = firstChild(hyperv, 'vendor_id');
  const hv = hyperv !== null && attr(hyperv, 'mode') !== 'off' && attr(hyperv, 'state') !== 'off';
  return {
    kvmHidden: hidden ? onOff(attr(hidden, 'state')) : null,
    hypervVendorId: vendor && attr(vendor, 'state') === 'on' ? (attr(vendor, 'value') ?? '') : null,
    hyperv: hv,
    ioapicDriver: attr(firstChild(features, 'ioapic'), 'driver'),
    smm: onOff(attr(firstChild(features, 'smm'), 'state')),
  };
}

function chipsetOf(machine: string | null): DomainConfig['chipset'] {
  if (!machine) return null;
  if (/q35/.test(machine)) return 'q35';
  if (machine === 'pc' || /^pc-(i440fx-)?\d/.test(machine) || /i440fx/.test(machine)) return 'i440fx';
  return 'other';
}

export function parseDomainXml(xml: string): Result<DomainConfig> {
  const d = parseXmlDocument(xml, 'domain XML');
  if (!d.ok) return d;
  const root = d.value.documentElement;
  if (!root || root.nodeName !== 'domain') return err({ message: `domain XML has root <${root?.nodeName ?? ''}>, expected <domain>` });
  const name = text(firstChild(root, 'name'));
  if (!name) return err({ message: 'domain XML has no <name>' });
  const os = firstChild(root, 'os');
  const typeEl = firstChild(os, 'type');
  const devices = firstChild(root, 'devices');
  const iommuEl = firstChild(devices, 'iommu');
  const iommuDriver = firstChild(iommuEl, 'driver');
  const used: GuestPciAddress[] = [];
  for (const dev of childElements(devices)) {
    const a = parseGuestAddress(firstChild(dev, 'address'));
    if (a) used.push(a);
  }
  const idText = attr(root, 'id');
  return ok({
    name,
    uuid: text(firstChild(root, 'uuid')),
    type: attr(root, 'type'),
    id: idText !== null ? parseLibvirtNumber(idText) : null,
    arch: attr(typeEl, 'arch'),
    machine: attr(typeEl, 'machine'),
    chipset: chipsetOf(attr(typeEl, 'machine')),
    firmware: parseFirmware(os),
    features: parseFeatures(firstChild(root, 'features')),
    iommu: iommuEl
      ? {
          model: attr(iommuEl, 'model'),
          intremap: attr(iommuDriver, 'intremap'),
          cachingMode: attr(iommuDriver, 'caching_mode'),
          eim: attr(iommuDriver, 'eim'),
          iotlb: attr(iommuDriver, 'iotlb'),
        }
      : null,
    hostdevs: childElements(devices, 'hostdev').map(parseHostdev),
    controllers: childElements(devices, 'controller').map((c) => ({ type: attr(c, 'type'), index: parseLibvirtNumber(attr(c, 'index')), model: attr(c, 'model') })),
    usedGuestAddresses: used,
  });
}

/** PCI hostdevs with a readable source address. */
export function pciHostdevs(d: DomainConfig): (PciHostdev & { source: PciAddressString })[] {
  return d.hostdevs.filter((h): h is PciHostdev & { source: PciAddressString } => h.kind === 'pci' && h.source !== null);
}

// ---------- create ----------

export interface PciHostdevSpec {
  source: PciAddress;
  managed: boolean;
  /** Guest placement; absent lets libvirt choose (single-function slot). */
  guestAddress?: GuestPciAddress | undefined;
  /** <rom bar='off'/> when true; a ROM file when given. */
  romBarOff?: boolean | undefined;
  /** The planner's ROM BAR decision ('off' is the same as romBarOff). */
  romBar?: 'on' | 'off' | undefined;
  romFile?: string | undefined;
  /** <driver name='vfio'/>: written only when asked (libvirt defaults to vfio). */
  driverName?: string | undefined;
}

const hx = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;

function xmlAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One <hostdev> for attach-device/detach-device, addresses in zero-padded hex. */
export function renderPciHostdevXml(spec: PciHostdevSpec, indent = ''): string {
  const s = spec.source;
  const i = indent;
  const lines = [
    `${i}<hostdev mode='subsystem' type='pci' managed='${spec.managed ? 'yes' : 'no'}'>`,
    ...(spec.driverName ? [`${i}  <driver name='${xmlAttr(spec.driverName)}'/>`] : []),
    `${i}  <source>`,
    `${i}    <address domain='${hx(s.domain, 4)}' bus='${hx(s.bus, 2)}' slot='${hx(s.slot, 2)}' function='${hx(s.fn, 1)}'/>`,
    `${i}  </source>`,
  ];
  const bar = spec.romBarOff || spec.romBar === 'off' ? 'off' : spec.romBar === 'on' ? 'on' : null;
  if (bar || spec.romFile) {
    const parts = [...(bar ? [`bar='${bar}'`] : []), ...(spec.romFile ? [`file='${xmlAttr(spec.romFile)}'`] : [])];
    lines.push(`${i}  <rom ${parts.join(' ')}/>`);
  }
  const g = spec.guestAddress;
  if (g) {
    lines.push(`${i}  <address type='pci' domain='${hx(g.domain, 4)}' bus='${hx(g.bus, 2)}' slot='${hx(g.slot, 2)}' function='${hx(g.fn, 1)}'${g.multifunction ? ` multifunction='on'` : ''}/>`);
  }
  lines.push(`${i}</hostdev>`);
  return lines.join('\n') + '\n';
}

/** The minimal <hostdev> that identifies a device for detach-device (libvirt matches on the source). */
export function renderPciHostdevMatchXml(source: PciAddress, managed: boolean): string {
  return renderPciHostdevXml({ source, managed });
}

// ---------- update ----------

export interface DomainXmlEdit {
  /** <hostdev> fragments to append to <devices> (from renderPciHostdevXml). */
  addHostdevs?: string[];
  /** Remove PCI hostdevs whose source is one of these functions. */
  removeHostdevSources?: PciAddressString[];
}

/** The text with comments, CDATA and processing instructions blanked (same length), so tags can be found. */
function maskNonMarkup(xml: string): string {
  return xml.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>/g, (m) => m.replace(/[^\n]/g, ' '));
}

interface Span {
  start: number;
  end: number;
}

/** Start of the line holding `pos` when only whitespace precedes it there, else `pos`. */
function lineStart(xml: string, pos: number): number {
  const nl = xml.lastIndexOf('\n', pos - 1);
  return /^[ \t]*$/.test(xml.slice(nl + 1, pos)) ? nl + 1 : pos;
}

function indentAt(xml: string, pos: number): string {
  const nl = xml.lastIndexOf('\n', pos - 1);
  return /^[ \t]*/.exec(xml.slice(nl + 1, pos))?.[0] ?? '';
}

/**
 * Apply hostdev additions/removals to a domain XML document by splicing its text: every byte outside the
 * removed <hostdev> elements stays as it was (quoting, comments, namespaces, indentation), so a --dry-run
 * diff shows only the change. The result is parsed again to prove it is well-formed and changed as asked.
 */
export function editDomainXml(xml: string, edit: DomainXmlEdit): Result<string> {
  const before = parseDomainXml(xml);
  if (!before.ok) return before;
  const masked = maskNonMarkup(xml);
  const domainOpen = /<domain\b/.exec(masked);
  if (!domainOpen) return err({ message: 'domain XML has no <domain> element' });

  // The <devices> element directly under <domain> (libvirt allows one).
  const devOpen = /<devices\s*(\/?)>/.exec(masked);
  const devClose = devOpen && devOpen[1] !== '/' ? masked.indexOf('</devices>', devOpen.index) : -1;

  // Every <hostdev> element inside <devices>, with its span.
  const hostdevs: (Span & { source: string | null })[] = [];
  if (devOpen && devClose > 0) {
    const re = /<hostdev\b[^>]*?(\/?)>/g;
    re.lastIndex = devOpen.index;
    for (let m = re.exec(masked); m && m.index < devClose; m = re.exec(masked)) {
      let end: number;
      if (m[1] === '/') end = m.index + m[0].length;
      else {
        const close = masked.indexOf('</hostdev>', m.index);
        if (close < 0) return err({ message: 'domain XML has an unclosed <hostdev>' });
        end = close + '</hostdev>'.length;
      }
      const frag = parseXmlDocument(xml.slice(m.index, end), 'hostdev XML');
      const h = frag.ok && frag.value.documentElement ? parseHostdev(frag.value.documentElement) : null;
      hostdevs.push({ start: m.index, end, source: h && h.kind === 'pci' ? h.source : null });
      re.lastIndex = end;
    }
  }

  const remove = new Set<string>(edit.removeHostdevSources ?? []);
  const cuts: Span[] = [];
  for (const h of hostdevs) {
    if (h.source !== null && remove.has(h.source)) {
      let end = h.end;
      // Take the rest of the line (trailing blanks and the newline) when the element stood on its own lines.
      const rest = /^[ \t]*\n/.exec(xml.slice(end));
      const start = lineStart(xml, h.start);
      if (start !== h.start && rest) end += rest[0].length;
      cuts.push({ start, end });
    }
  }

  const adds = edit.addHostdevs ?? [];
  let insertAt = -1;
  let insertText = '';
  if (adds.length) {
    for (const frag of adds) {
      const f = parseXmlDocument(frag, 'hostdev XML');
      if (!f.ok) return f;
    }
    const body = (indent: string) =>
      adds
        .map((frag) =>
          frag
            .trim()
            .split('\n')
            .map((l) => indent + l)
            .join('\n'),
        )
        .join('\n');
    const kept = hostdevs.filter((h) => !cuts.some((c) => h.start >= c.start && h.end <= c.end));
    const last = kept[kept.length - 1];
    if (last) {
      const indent = indentAt(xml, last.start);
      insertAt = last.end;
      insertText = `\n${body(indent)}`;
    } else if (devOpen && devClose > 0) {
      const closeLine = lineStart(xml, devClose);
      const outer = indentAt(xml, devClose);
      const inner = guessInnerIndent(xml, devOpen.index + devOpen[0].length, devClose) ?? `${outer}  `;
      if (closeLine !== devClose) {
        insertAt = closeLine;
        insertText = `${body(inner)}\n`;
      } else {
        insertAt = devClose;
        insertText = `\n${body(inner)}\n${outer}`;
      }
    } else if (devOpen) {
      // <devices/>: open it.
      const outer = indentAt(xml, devOpen.index);
      cuts.push({ start: devOpen.index, end: devOpen.index + devOpen[0].length });
      insertAt = devOpen.index;
      insertText = `<devices>\n${body(`${outer}  `)}\n${outer}</devices>`;
    } else {
      const close = masked.lastIndexOf('</domain>');
      if (close < 0) return err({ message: 'domain XML has no </domain>' });
      const outer = indentAt(xml, close);
      const inner = `${outer}  `;
      const closeLine = lineStart(xml, close);
      insertAt = closeLine;
      insertText = `${inner}<devices>\n${body(`${inner}  `)}\n${inner}</devices>\n${closeLine === close ? outer : ''}`;
    }
  }

  // Splice from the end so earlier offsets stay valid.
  const ops: { start: number; end: number; text: string }[] = cuts.map((c) => ({ ...c, text: '' }));
  if (insertAt >= 0) ops.push({ start: insertAt, end: insertAt, text: insertText });
  ops.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = xml;
  for (const op of ops) out = out.slice(0, op.start) + op.text + out.slice(op.end);

  // Prove the result: well-formed, the removed sources gone, the added ones present, nothing else changed.
  const after = parseDomainXml(out);
  if (!after.ok) return err({ message: `internal: the edited domain XML does not parse: ${after.error.message}` });
  const want = pciHostdevs(before.value).map((h) => h.source as string).filter((s) => !remove.has(s));
  for (const frag of adds) {
    const f = parseXmlDocument(frag, 'hostdev XML');
    const h = f.ok && f.value.documentElement ? parseHostdev(f.value.documentElement) : null;
    if (h && h.kind === 'pci' && h.source) want.push(h.source);
  }
  const got = pciHostdevs(after.value).map((h) => h.source as string);
  if (want.join(' ') !== got.join(' ')) return err({ message: `internal: editing hostdevs gave [${got.join(' ')}], expected [${want.join(' ')}]` });
  return ok(out);
}

/** Indentation of the first element line between `from` and `to`. */
function guessInnerIndent(xml: string, from: number, to: number): string | null {
  const m = /\n([ \t]*)</.exec(xml.slice(from, to));
  return m ? (m[1] ?? '') : null;
}
