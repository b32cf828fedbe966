/**
 * libvirt rendering of a plan: one <hostdev> per claimed function (managed, hex source addresses,
 * <rom bar='off'/> when the plan chose it, multifunction placement for functions passed together), the
 * pcie-root-port controllers that placement needs, the domain <features> (hidden KVM and Hyper-V
 * vendor_id for NVIDIA consumer GPUs, <ioapic driver='qemu'/> for nested assignment) and the virtual
 * <iommu model='intel'> for nested assignment (or, chosen with `viommu`, <iommu model='virtio'/> or
 * <iommu model='smmuv3'/>, which take no driver options and need no QEMU ioapic). Pure: plan in, text out.
 */
import { pciAddressOf } from '../../model/pci-address.js';
import type { PassthroughPlan, ViommuModel } from '../../model/plan.js';
import { renderPciHostdevXml } from '../libvirt/domain-xml.js';
import { type PlacementOptions, controllerIndexes, guestPlacement, isOptionLike, shellJoin } from './common.js';
import { escapeControl } from '../../model/shell-quote.js';

/** Text for inside an XML comment: no `--` (which would end or break it), no control characters. */
function xmlCommentText(text: string): string {
  return escapeControl(text).replace(/-(?=-)/g, '- ').replace(/-$/, '- ');
}

/** An XML attribute value (single- or double-quoted); characters XML 1.0 cannot hold become U+FFFD. */
function xmlAttr(text: string): string {
  return text
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;')
    .replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`)
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '\ufffd');
}

export interface LibvirtRendering {
  hostdevs: { address: string; xml: string }[];
  controllers: string[];
  /** The <features> children to merge into the domain's <features> (empty when none are needed). */
  features: string[];
  /** <iommu> element for <devices> (nested assignment), or null. */
  iommu: string | null;
  /** domain-level elements the VFIO platform needs (<iommufd enabled='yes'/>), empty when none */
  domain: string[];
  /** <cpu> element for a guest whose BARs need a wider physical address space, or null */
  cpu: string | null;
  /** the root controller with a larger <pcihole64>, or null */
  rootController: string | null;
}

export interface LibvirtOptions extends PlacementOptions {
  /** the nested guest's virtual IOMMU (default intel) */
  viommu?: ViommuModel;
}

/** What a person must know about a virtual IOMMU model the XML cannot say, as one comment line. */
const VIOMMU_NOTES: Record<ViommuModel, string | null> = {
  intel: null,
  virtio: 'virtio-iommu remaps no interrupts on x86: vfio in the guest refuses devices unless vfio_iommu_type1 allow_unsafe_interrupts=1 is set there (trusted nested guests only); the guest kernel needs CONFIG_VIRTIO_IOMMU and CONFIG_ACPI_VIOT',
  smmuv3: 'smmuv3 is for aarch64 guests on the virt machine type',
};

/** The <driver> attributes a hostdev needs for the plan's backend and VFIO driver choice (none: null). */
function hostdevDriverAttrs(plan: PassthroughPlan, address: string): string | null {
  const p = plan.platform;
  if (!p) return null;
  const attrs: string[] = [];
  if (p.backend.chosen === 'iommufd' && p.backend.libvirtForm === 'hostdev') attrs.push(`iommufd='yes'`);
  const fn = p.functions.find((f) => f.address === address);
  // libvirt (10.0+) picks the variant driver from modules.alias itself; name it only when the plan chose otherwise
  if (fn && fn.vfioDriverBy === 'option') attrs.push(`model='${xmlAttr(fn.vfioDriver.replace(/-/g, '_'))}'`);
  return attrs.length ? `<driver ${attrs.join(' ')}/>` : null;
}

function withDriver(xml: string, driver: string | null): string {
  if (!driver) return xml;
  const lines = xml.split('\n');
  const pad = /^(\s*)/.exec(lines[0] ?? '')?.[1] ?? '';
  lines.splice(1, 0, `${pad}  ${driver}`);
  return lines.join('\n');
}

const KIB = 1024n;

export function renderLibvirtParts(plan: PassthroughPlan, opts: LibvirtOptions = {}): LibvirtRendering {
  const viommu = opts.viommu ?? 'intel';
  const placements = guestPlacement(plan, opts);
  const byAddr = new Map(plan.functions.map((f) => [f.address as string, f]));
  const hostdevs = placements.map((p) => ({
    address: p.address,
    xml: withDriver(renderPciHostdevXml({
      source: pciAddressOf(p.address),
      managed: true,
      guestAddress: p.guest ?? undefined,
      romBar: byAddr.get(p.address)?.romBar ?? undefined,
    }), hostdevDriverAttrs(plan, p.address)),
  }));
  const controllers = controllerIndexes(placements).map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>\n`);
  const features: string[] = [];
  if (plan.features.hypervVendorId) {
    features.push(`<hyperv mode='custom'>\n  <vendor_id state='on' value='${xmlAttr(plan.features.hypervVendorId)}'/>\n</hyperv>\n`);
  }
  if (plan.features.kvmHidden) features.push(`<kvm>\n  <hidden state='on'/>\n</kvm>\n`);
  // the split irqchip (QEMU ioapic) is what the Intel IOMMU's interrupt remapping needs
  if (plan.features.viommu && viommu === 'intel') features.push(`<ioapic driver='qemu'/>\n`);
  const iommu = !plan.features.viommu ? null
    : viommu === 'intel' ? `<iommu model='intel'>\n  <driver intremap='on' caching_mode='on' iotlb='on'/>\n</iommu>\n`
      : `<iommu model='${viommu}'/>\n`;
  const pf = plan.platform;
  const domain = pf && pf.backend.chosen === 'iommufd' && pf.backend.libvirtForm === 'domain' ? [`<iommufd enabled='yes'/>\n`] : [];
  const a = pf?.addressing;
  const cpu = a && a.physBits !== null
    ? `<cpu mode='host-passthrough'>\n  <maxphysaddr mode='passthrough'${a.hostLimitBits !== null ? ` limit='${a.hostLimitBits}'` : ''}/>\n</cpu>\n`
    : null;
  const rootController = a && a.hole64 !== null
    ? `<controller type='pci' index='0' model='${(opts.machine ?? 'q35') === 'q35' ? 'pcie-root' : 'pci-root'}'>\n  <pcihole64 unit='KiB'>${BigInt(a.hole64) / KIB}</pcihole64>\n</controller>\n`
    : null;
  return { hostdevs, controllers, features, iommu, domain, cpu, rootController };
}

function indent(xml: string, pad: string): string {
  return xml.split('\n').map((l) => (l ? pad + l : l)).join('\n');
}

/** The fragments as a person pastes them (`virsh edit GUEST`), each headed by where it goes. */
export function renderLibvirt(plan: PassthroughPlan, opts: LibvirtOptions = {}): string {
  const r = renderLibvirtParts(plan, opts);
  const guest = plan.guest ? ` of guest "${xmlCommentText(plan.guest)}"` : '';
  const name = plan.guest ?? 'GUEST';
  const edit = xmlCommentText(shellJoin(['virsh', 'edit', ...(isOptionLike(name) ? ['--domain', name] : [name])]));
  const out: string[] = [];
  out.push(`<!-- vfioctl: add inside <devices>${guest} (${edit}) -->`);
  if (r.rootController) out.push(`<!-- vfioctl: replace the index='0' root controller: the BARs need a larger 64-bit PCI hole -->`, r.rootController.trimEnd());
  for (const c of r.controllers) out.push(c.trimEnd());
  for (const h of r.hostdevs) out.push(h.xml.trimEnd());
  // a decision the plan could not take (the fact was not read) is said, not rendered as if known
  for (const f of plan.findings) if (f.id === 'rom-unknown') out.push(`<!-- vfioctl: ${xmlCommentText(f.summary)} -->`);
  const note = r.iommu ? VIOMMU_NOTES[opts.viommu ?? 'intel'] : null;
  if (note) out.push(`<!-- vfioctl: ${xmlCommentText(note)} -->`);
  if (r.iommu) out.push(r.iommu.trimEnd());
  if (r.features.length) {
    out.push(`<!-- vfioctl: add inside <features>${guest} -->`);
    for (const f of r.features) out.push(f.trimEnd());
  }
  if (r.domain.length) {
    out.push(`<!-- vfioctl: add inside <domain>${guest}: the iommufd backend for every hostdev (libvirt 12.2+) -->`);
    for (const d of r.domain) out.push(d.trimEnd());
  }
  if (r.cpu) {
    out.push(`<!-- vfioctl: replace <cpu>${guest}: the BARs need ${plan.platform!.addressing.physBits} guest physical address bits -->`);
    out.push(r.cpu.trimEnd());
  }
  return out.join('\n') + '\n';
}

export interface DomainOptions extends LibvirtOptions {
  name?: string;
  memoryMiB?: number;
  vcpus?: number;
}

/** A complete, minimal domain holding the plan's devices: a starting point for a new guest. */
export function renderLibvirtDomain(plan: PassthroughPlan, opts: DomainOptions = {}): string {
  const machine = opts.machine ?? 'q35';
  // A new domain has no controllers yet: number its root ports from 1 (libvirt fills any gap below the
  // highest index with extra ports).
  const r = renderLibvirtParts(plan, { firstControllerIndex: 1, ...opts });
  // eslint-disable-next-line no-control-regex
  const name = (opts.name ?? plan.guest ?? 'vfioctl-guest').replace(/[<>&'"\x00-\x1f\x7f-\x9f]/g, '_');
  // an SMMUv3 guest is an aarch64 virt machine (GICv3, no x86 APIC); the placement stays PCIe (pcie.0 + root ports)
  const arm = r.iommu !== null && opts.viommu === 'smmuv3';
  const features = [...(arm ? ['<acpi/>', "<gic version='3'/>"] : ['<acpi/>', '<apic/>']), ...r.features.map((f) => f.trimEnd())];
  const note = r.iommu ? VIOMMU_NOTES[opts.viommu ?? 'intel'] : null;
  const devices = [...(r.rootController ? [r.rootController] : []), ...r.controllers, ...r.hostdevs.map((h) => h.xml), ...(note ? [`<!-- vfioctl: ${xmlCommentText(note)} -->`] : []), ...(r.iommu ? [r.iommu] : [])].map((x) => x.trimEnd());
  return [
    `<domain type='kvm'>`,
    `  <name>${name}</name>`,
    `  <memory unit='MiB'>${opts.memoryMiB ?? 4096}</memory>`,
    `  <vcpu>${opts.vcpus ?? 2}</vcpu>`,
    `  <os>`,
    `    <type arch='${arm ? 'aarch64' : 'x86_64'}' machine='${arm ? 'virt' : machine}'>hvm</type>`,
    `  </os>`,
    `  <features>`,
    ...features.map((f) => indent(f, '    ')),
    `  </features>`,
    ...(r.cpu ? [indent(r.cpu.trimEnd(), '  ')] : []),
    ...r.domain.map((d) => indent(d.trimEnd(), '  ')),
    `  <devices>`,
    ...devices.map((d) => indent(d, '    ')),
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}
