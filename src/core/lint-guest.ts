/**
 * Review one guest definition for PCI passthrough. Pure: takes the parsed domain (libvirt's view of the
 * guest), vfioctl's inventory of the host (groups, drivers, ROMs, names) and the other guests' host
 * devices, and returns Findings. Nothing here reads a file or talks to libvirt.
 *
 * Checks: machine type, firmware, IOMMU-group completeness across the guest's hostdevs (and groups split
 * with other guests or the host), multifunction placement, option ROMs, hidden KVM / Hyper-V vendor_id for
 * NVIDIA consumer GPUs, a vIOMMU with interrupt remapping needing <ioapic driver='qemu'/> (and
 * caching_mode for assigned devices), the 32-function limit, unmanaged hostdevs still on host drivers,
 * and the live-migration consequence.
 */
import type { Finding } from '../model/finding.js';
import type { IommuGroup, PciFunction, PciInventory } from '../model/pci-function.js';
import { factUnknown, unknownText } from '../model/pci-function.js';
import { MAX_ASSIGNED_FUNCTIONS, type OtherGuest } from '../model/plan.js';
import { deviceKey, formatShortAddress, parsePciAddress } from '../model/pci-address.js';
import { isNvidiaConsumerGpu } from './plan-devices.js';

/** A guest-side PCI address. */
export interface GuestSlotAddress {
  domain: number;
  bus: number;
  slot: number;
  fn: number;
  multifunction: boolean;
}

/** The facts of a PCI hostdev lint needs (src/adapters/libvirt/domain-xml.ts PciHostdev satisfies it). */
export interface GuestPciHostdevFacts {
  kind: 'pci';
  managed: boolean;
  source: string | null;
  sourceProblem: string | null;
  guestAddress: GuestSlotAddress | null;
  rom: { bar: 'on' | 'off' | null; file: string | null; enabled: boolean | null } | null;
}

/** The facts of a guest definition lint needs (domain-xml.ts DomainConfig satisfies it). */
export interface GuestDomainFacts {
  name: string;
  type: string | null;
  arch: string | null;
  machine: string | null;
  chipset: 'q35' | 'i440fx' | 'other' | null;
  firmware: { kind: 'efi' | 'bios'; basis: string; loader: string | null };
  features: { kvmHidden: boolean | null; hypervVendorId: string | null; hyperv: boolean; ioapicDriver: string | null };
  iommu: { model: string | null; intremap: string | null; cachingMode: string | null } | null;
  hostdevs: (GuestPciHostdevFacts | { kind: 'other'; mode: string | null; type: string | null })[];
}

/** Other guests and the PCI functions in their definitions (the planner's shape). */
export type OtherGuestHostdevs = OtherGuest;

export interface LintGuestInput {
  domain: GuestDomainFacts;
  /** vfioctl's host inventory; null when the host could not be read (checks that need it are skipped). */
  inventory: PciInventory | null;
  otherGuests?: OtherGuestHostdevs[];
  /**
   * The VFIO driver each assigned function gets when the guest starts (its VFIO driver now, else the best
   * one modules.alias names, as libvirt 10.0+ picks it), by address; absent: unknown (migration is then unknown).
   */
  vfioDrivers?: Record<string, { driver: string; migration: 'supported' | 'not-supported' | 'unknown'; reason: string }>;
}

const VFIO_LIKE = new Set(['vfio-pci', 'pci-stub']);

function short(addr: string): string {
  const p = parsePciAddress(addr);
  return p.ok ? formatShortAddress(p.value) : addr;
}

function hx(n: number, w: number): string {
  return `0x${n.toString(16).padStart(w, '0')}`;
}

function guestSlot(a: GuestSlotAddress): string {
  return `${hx(a.domain, 4)}:${hx(a.bus, 2)}:${hx(a.slot, 2)}`;
}

function isGpu(f: PciFunction): boolean {
  return f.class.startsWith('03');
}

export function lintGuest(input: LintGuestInput): Finding[] {
  const { domain: d, inventory: inv } = input;
  const out: Finding[] = [];
  const cat = 'guest';
  const pci = d.hostdevs.filter((h): h is GuestPciHostdevFacts => h.kind === 'pci');
  const sources = pci.map((h) => h.source).filter((s): s is string => s !== null);
  const sourceSet = new Set(sources);
  const fnByAddr = new Map<string, PciFunction>((inv?.functions ?? []).map((f) => [f.address, f]));
  const groupById = new Map<number, IommuGroup>((inv?.groups ?? []).map((g) => [g.id, g]));
  const assigned = sources.map((s) => fnByAddr.get(s)).filter((f): f is PciFunction => f !== undefined);
  const hasGpu = assigned.some(isGpu);
  const xmlEv = (value: string) => ({ source: `domain XML of ${d.name}`, value });

  // --- hostdev sources ---
  for (const h of pci) {
    if (h.source === null) {
      out.push({
        id: 'hostdev-bad-source',
        severity: 'fail',
        summary: `a PCI hostdev of ${d.name} has an unreadable source address`,
        evidence: [xmlEv(h.sourceProblem ?? 'no address')],
        remedy: `fix it with \`virsh edit ${d.name}\` (write addresses as domain='0x0000' bus='0x01' slot='0x00' function='0x0')`,
        category: cat,
      });
    } else if (inv && !fnByAddr.has(h.source)) {
      out.push({
        id: 'hostdev-missing-on-host',
        severity: 'fail',
        summary: `${short(h.source)} is assigned to ${d.name} but does not exist on this host`,
        evidence: [xmlEv(`<hostdev> source ${h.source}`), { source: 'PCI inventory', value: `${inv.functions.length} functions, ${h.source} not among them` }],
        remedy: `the guest will not start: remove it (vfioctl detach ${d.name} ${short(h.source)} --config) or correct the address`,
        subjects: [h.source],
        category: cat,
      });
    }
  }

  // --- machine type ---
  if (d.chipset === 'q35') {
    out.push({ id: 'machine-q35', severity: 'ok', summary: `machine type ${d.machine} (q35: assigned PCIe devices sit behind PCIe root ports)`, evidence: [xmlEv(`os/type machine='${d.machine}'`)], category: cat });
  } else if (d.chipset === 'i440fx') {
    out.push({
      id: 'machine-i440fx',
      severity: pci.length ? (hasGpu ? 'warn' : 'info') : 'info',
      summary: `machine type ${d.machine} (i440fx) shows assigned PCIe devices to the guest as conventional PCI`,
      detail: 'Guest drivers that read PCIe capabilities (GPUs above all) may misbehave, and there are no PCIe root ports for hotplug.',
      evidence: [xmlEv(`os/type machine='${d.machine}'`)],
      remedy: 'use a q35 machine type for new passthrough guests (changing an installed guest\'s chipset can need driver and boot repair)',
      category: cat,
    });
  } else if (d.machine === null) {
    out.push({ id: 'machine-unknown', severity: 'info', summary: 'the definition names no machine type (libvirt picks its default)', evidence: [xmlEv('os/type has no machine attribute')], category: cat });
  }

  // --- firmware ---
  if (d.firmware.kind === 'efi') {
    out.push({ id: 'firmware-efi', severity: 'ok', summary: `UEFI firmware (${d.firmware.basis === 'loader' ? d.firmware.loader ?? 'loader' : "os firmware='efi'"})`, evidence: [xmlEv(d.firmware.loader ?? "os firmware='efi'")], category: cat });
  } else {
    out.push({
      id: 'firmware-bios',
      severity: hasGpu ? 'warn' : 'info',
      summary: hasGpu ? 'legacy BIOS firmware with an assigned GPU' : 'legacy BIOS firmware',
      detail: hasGpu
        ? 'A GPU under SeaBIOS needs its legacy VGA ROM and VGA arbitration on the host; modern GPUs and their UEFI GOP work best with OVMF.'
        : 'Assigned devices work under SeaBIOS; UEFI (OVMF) is the usual choice for new guests.',
      evidence: [xmlEv(d.firmware.basis === 'default' ? 'no <loader> and no firmware attribute (BIOS)' : d.firmware.loader ?? "os firmware='bios'")],
      remedy: "for a new guest, define it with <os firmware='efi'> (virt-install --boot uefi)",
      category: cat,
    });
  }

  // --- IOMMU groups: completeness, splits with other guests and the host ---
  if (inv && pci.length) {
    if (!inv.iommu.enabled) {
      out.push({
        id: 'groups-unknown',
        severity: 'warn',
        summary: 'this host shows no IOMMU groups: group completeness cannot be checked and the guest will not start with assigned devices',
        evidence: [{ source: 'sys/kernel/iommu_groups', value: 'no groups' }],
        remedy: 'enable the IOMMU (run `vfioctl doctor`)',
        category: cat,
      });
    } else {
      const seenGroups = new Set<number>();
      for (const f of assigned) {
        if (f.iommuGroup === null || seenGroups.has(f.iommuGroup)) continue;
        seenGroups.add(f.iommuGroup);
        const g = groupById.get(f.iommuGroup);
        if (!g) continue;
        const endpoints = g.members.filter((m) => m.role === 'endpoint').map((m) => m.address as string);
        const missing = endpoints.filter((a) => !sourceSet.has(a));
        if (!missing.length) {
          out.push({ id: 'group-complete', severity: 'ok', summary: `IOMMU group ${g.id} is wholly assigned (${endpoints.map(short).join(', ')})`, evidence: [{ source: `sys/kernel/iommu_groups/${g.id}/devices`, value: endpoints.join(' ') }], subjects: endpoints, category: cat });
          continue;
        }
        for (const m of missing) {
          const mf = fnByAddr.get(m);
          const elsewhere = (input.otherGuests ?? []).filter((o) => o.hostdevs.includes(m));
          const onHost = mf && mf.driver !== null && !VFIO_LIKE.has(mf.driver);
          if (elsewhere.length) {
            out.push({
              id: 'group-split-guests',
              severity: 'fail',
              summary: `IOMMU group ${g.id} is split between ${d.name} and ${elsewhere.map((o) => o.name).join(', ')} (${short(m)})`,
              detail: 'A group can belong to one guest at a time: whichever starts second fails.',
              evidence: [{ source: `sys/kernel/iommu_groups/${g.id}/devices`, value: endpoints.join(' ') }, { source: `domain XML of ${elsewhere[0]!.name}`, value: `<hostdev> source ${m}` }],
              remedy: `give the whole group to one guest: vfioctl attach ${d.name} ${short(m)} --config (after detaching it from ${elsewhere[0]!.name})`,
              subjects: [m],
              category: cat,
            });
          } else if (onHost) {
            out.push({
              id: 'group-incomplete',
              severity: 'fail',
              summary: `IOMMU group ${g.id} is only partly assigned: ${short(m)} stays on host driver ${mf.driver}`,
              detail: 'QEMU refuses a group with an endpoint still on a host driver ("group N is not viable"); libvirt detaches only the listed functions.',
              evidence: [{ source: `sys/kernel/iommu_groups/${g.id}/devices`, value: endpoints.join(' ') }, { source: `sys/bus/pci/devices/${m}/driver`, value: mf.driver ?? '' }],
              remedy: `assign it too: vfioctl attach ${d.name} ${short(m)} --config`,
              subjects: [m],
              category: cat,
            });
          } else {
            out.push({
              id: 'group-member-unassigned',
              severity: 'info',
              summary: `${short(m)} (IOMMU group ${g.id}) is not in ${d.name} but is kept off host drivers (${mf?.driver ?? 'no driver'})`,
              evidence: [{ source: `sys/bus/pci/devices/${m}/driver`, value: mf?.driver ?? 'none' }],
              remedy: `keep it unbound or on vfio-pci while ${d.name} runs, or assign it as well`,
              subjects: [m],
              category: cat,
            });
          }
        }
      }
    }
  }

  // --- the same function in other guests ---
  for (const src of sources) {
    const others = (input.otherGuests ?? []).filter((o) => o.hostdevs.includes(src));
    if (!others.length) continue;
    const running = others.filter((o) => o.running);
    out.push({
      id: 'hostdev-shared',
      severity: running.length ? 'fail' : 'warn',
      summary: `${short(src)} is also assigned to ${others.map((o) => `${o.name}${o.running ? ' (running)' : ''}`).join(', ')}`,
      detail: 'libvirt accepts the same host device in several definitions; only one guest can use it at a time. Sharing is fine for guests that never run together.',
      evidence: others.map((o) => ({ source: `domain XML of ${o.name}`, value: `<hostdev> source ${src}` })),
      remedy: running.length ? `stop ${running.map((o) => o.name).join(', ')} before starting ${d.name}` : `never start ${d.name} while ${others.map((o) => o.name).join(', ')} runs`,
      subjects: [src],
      category: cat,
    });
  }

  // --- multifunction placement ---
  const byDevice = new Map<string, GuestPciHostdevFacts[]>();
  for (const h of pci) {
    if (!h.source) continue;
    const p = parsePciAddress(h.source);
    if (!p.ok) continue;
    const k = deviceKey(p.value);
    byDevice.set(k, [...(byDevice.get(k) ?? []), h]);
  }
  for (const [dev, hs] of byDevice) {
    if (hs.length < 2) continue;
    const placed = hs.filter((h) => h.guestAddress !== null);
    if (placed.length < hs.length) continue; // libvirt assigns addresses at define; a fresh fragment has none yet
    const slots = new Set(placed.map((h) => guestSlot(h.guestAddress!)));
    const fnList = hs.map((h) => short(h.source!)).join(', ');
    if (slots.size > 1) {
      out.push({
        id: 'multifunction-split',
        severity: 'warn',
        summary: `functions of host device ${dev.replace(/^0000:/, '')} (${fnList}) sit on ${slots.size} different guest slots`,
        detail: 'Guest drivers of multifunction devices (a GPU and its HDMI audio) can expect the functions together in one slot, as on the host.',
        evidence: placed.map((h) => xmlEv(`${h.source} -> guest ${guestSlot(h.guestAddress!)}.${h.guestAddress!.fn}`)),
        remedy: `re-attach them together with --config only (hotplug adds single-function slots): vfioctl detach ${d.name} ${fnList.replace(/, /g, ' ')} --config && vfioctl attach ${d.name} ${fnList.replace(/, /g, ' ')} --config`,
        subjects: hs.map((h) => h.source!),
        category: cat,
      });
    } else {
      const fn0 = placed.find((h) => h.guestAddress!.fn === 0);
      if (!fn0 || !fn0.guestAddress!.multifunction) {
        out.push({
          id: 'multifunction-flag-missing',
          severity: 'warn',
          summary: `functions of ${fnList} share guest slot ${[...slots][0]} but function 0 there is not marked multifunction='on'`,
          evidence: placed.map((h) => xmlEv(`${h.source} -> guest ${guestSlot(h.guestAddress!)}.${h.guestAddress!.fn}${h.guestAddress!.multifunction ? " multifunction='on'" : ''}`)),
          remedy: "set multifunction='on' on the function 0 guest address (virsh edit)",
          subjects: hs.map((h) => h.source!),
          category: cat,
        });
      } else {
        out.push({ id: 'multifunction-together', severity: 'ok', summary: `${fnList} share guest slot ${[...slots][0]}`, evidence: placed.map((h) => xmlEv(`${h.source} -> guest ${guestSlot(h.guestAddress!)}.${h.guestAddress!.fn}`)), category: cat });
      }
    }
  }

  // --- option ROMs ---
  for (const h of pci) {
    const f = h.source ? fnByAddr.get(h.source) : undefined;
    if (!f) continue;
    const romOff = h.rom?.bar === 'off' || h.rom?.enabled === false;
    if (romOff || h.rom?.file) continue;
    const romUnknown = factUnknown(f, 'hasRom');
    if (romUnknown) {
      out.push({ id: 'rom-unknown', severity: 'info', summary: `whether ${short(f.address)} has an expansion ROM is ${unknownText(romUnknown)}`, evidence: [{ source: romUnknown.source, value: 'not read' }], category: cat });
      continue;
    }
    if (!f.hasRom) continue;
    if (isGpu(f)) continue; // a GPU's ROM carries its boot display (GOP/VGA BIOS): keep it
    out.push({
      id: 'rom-exposed',
      severity: 'info',
      summary: `${short(f.address)} has an expansion ROM that the guest firmware will run at boot`,
      detail: 'A device\'s option ROM can slow the guest\'s boot or stop it; guests rarely need the ROM of a NIC or storage controller.',
      evidence: [{ source: `sys/bus/pci/devices/${f.address}/rom`, value: 'present' }],
      remedy: "add <rom bar='off'/> to its <hostdev> (vfioctl attach plans it)",
      subjects: [f.address],
      category: cat,
    });
  }

  // --- NVIDIA consumer GPU: hidden KVM state, Hyper-V vendor_id ---
  const nvidia = assigned.filter(isNvidiaConsumerGpu);
  if (nvidia.length) {
    const missing: string[] = [];
    if (d.features.kvmHidden !== true) missing.push("<kvm><hidden state='on'/></kvm>");
    if (d.features.hyperv && d.features.hypervVendorId === null) missing.push("<hyperv><vendor_id state='on' value='0123456789ab'/></hyperv>");
    const subjects = nvidia.map((f) => f.address as string);
    if (missing.length) {
      out.push({
        id: 'nvidia-hidden-kvm',
        severity: 'warn',
        summary: `NVIDIA consumer GPU ${nvidia.map((f) => short(f.address)).join(', ')} assigned without hiding the hypervisor`,
        detail: 'NVIDIA drivers before R465 refuse to run in a VM (Windows "Code 43") unless the KVM signature is hidden and, with Hyper-V enlightenments, a vendor_id is set. Newer drivers do not need it.',
        evidence: [xmlEv(`features: kvm hidden=${d.features.kvmHidden ?? 'absent'}, hyperv=${d.features.hyperv ? 'on' : 'off'}, vendor_id=${d.features.hypervVendorId ?? 'absent'}`)],
        remedy: `add to <features> with virsh edit ${d.name}: ${missing.join(' ')}`,
        subjects,
        category: cat,
      });
    } else {
      out.push({ id: 'nvidia-hidden-kvm', severity: 'ok', summary: 'the hypervisor is hidden from the NVIDIA driver', evidence: [xmlEv(`kvm hidden=on${d.features.hyperv ? `, vendor_id=${d.features.hypervVendorId}` : ''}`)], subjects, category: cat });
    }
  }

  // --- virtual IOMMU ---
  if (d.iommu) {
    const intremap = d.iommu.intremap === 'on';
    if (d.iommu.model === 'intel' && d.chipset !== null && d.chipset !== 'q35') {
      out.push({
        id: 'viommu-needs-q35',
        severity: 'fail',
        summary: `an Intel vIOMMU needs a q35 machine, not ${d.machine}`,
        evidence: [xmlEv(`<iommu model='intel'> with machine='${d.machine}'`)],
        remedy: 'use a q35 machine type, or remove the <iommu> device',
        category: cat,
      });
    }
    if (intremap && d.features.ioapicDriver !== 'qemu') {
      out.push({
        id: 'viommu-ioapic',
        severity: 'fail',
        summary: "interrupt remapping on the vIOMMU needs <ioapic driver='qemu'/> (a split irqchip)",
        detail: 'libvirt refuses to start the guest otherwise.',
        evidence: [xmlEv(`<iommu model='${d.iommu.model}'><driver intremap='on'/>, ioapic driver=${d.features.ioapicDriver ?? 'absent'}`)],
        remedy: `add <ioapic driver='qemu'/> inside <features> (virsh edit ${d.name})`,
        category: cat,
      });
    } else if (intremap) {
      out.push({ id: 'viommu-ioapic', severity: 'ok', summary: "vIOMMU interrupt remapping with <ioapic driver='qemu'/>", evidence: [xmlEv("intremap='on', ioapic driver='qemu'")], category: cat });
    }
    if (d.iommu.model === 'intel' && pci.length && d.iommu.cachingMode !== 'on') {
      out.push({
        id: 'viommu-caching-mode',
        severity: 'fail',
        summary: "assigned devices behind an Intel vIOMMU need caching_mode='on'",
        detail: 'QEMU refuses device assignment with an Intel vIOMMU whose caching mode is off.',
        evidence: [xmlEv(`<iommu model='intel'><driver caching_mode='${d.iommu.cachingMode ?? 'absent'}'/>`)],
        remedy: `set <driver intremap='on' caching_mode='on'/> in <iommu> (virsh edit ${d.name})`,
        category: cat,
      });
    }
  }

  // --- count ---
  if (pci.length > MAX_ASSIGNED_FUNCTIONS) {
    out.push({
      id: 'hostdev-count',
      severity: 'fail',
      summary: `${pci.length} assigned PCI functions exceed the supported ${MAX_ASSIGNED_FUNCTIONS} per guest`,
      detail: 'libvirt does not refuse it at define time; guests beyond the limit are unsupported and may fail to start (VFIO mappings, pcie-root-port count).',
      evidence: [xmlEv(`${pci.length} <hostdev type='pci'>`)],
      remedy: 'spread the devices over several guests',
      category: cat,
    });
  } else if (pci.length) {
    out.push({ id: 'hostdev-count', severity: 'ok', summary: `${pci.length} assigned PCI function${pci.length === 1 ? '' : 's'} (limit ${MAX_ASSIGNED_FUNCTIONS})`, evidence: [xmlEv(`${pci.length} <hostdev type='pci'>`)], category: cat });
  }

  // --- unmanaged hostdevs still on a host driver ---
  for (const h of pci) {
    if (h.managed || !h.source) continue;
    const f = fnByAddr.get(h.source);
    if (f && f.driver !== null && !VFIO_LIKE.has(f.driver)) {
      out.push({
        id: 'hostdev-unmanaged-bound',
        severity: 'warn',
        summary: `${short(h.source)} is unmanaged but still bound to ${f.driver}`,
        detail: "With managed='no' libvirt does not detach the device at start; the guest fails to start until it is.",
        evidence: [xmlEv(`<hostdev managed='no'> source ${h.source}`), { source: `sys/bus/pci/devices/${h.source}/driver`, value: f.driver }],
        remedy: `bind it to vfio-pci first (vfioctl bind ${h.source}, or virsh nodedev-detach pci_${h.source.replace(/[:.]/g, '_')}), or make the hostdev managed`,
        subjects: [h.source],
        category: cat,
      });
    }
  }

  // --- migration: per device, from the VFIO driver each function runs on ---
  if (pci.length) {
    const per = pci.map((h) => ({ source: h.source, d: h.source ? input.vfioDrivers?.[h.source] : undefined }));
    const blocked = per.filter((p) => p.d?.migration !== 'supported');
    if (input.vfioDrivers && !blocked.length) {
      out.push({
        id: 'migration-possible',
        severity: 'info',
        summary: `every assigned device of ${d.name} runs on a VFIO driver with migration (${[...new Set(per.map((p) => p.d!.driver))].join(', ')}): it can be live-migrated to a host with the same devices and drivers`,
        evidence: per.map((p) => ({ source: `${p.source}`, value: p.d!.reason })),
        category: cat,
      });
    } else {
      const why = input.vfioDrivers
        ? blocked.map((p) => `${p.source ?? '(unparsed source)'}: ${p.d ? p.d.reason : 'not on this host'}`).join('; ')
        : 'whether their VFIO drivers support migration is not known here';
      out.push({
        id: 'migration-blocked',
        severity: 'info',
        summary: `live migration of ${d.name} is off while it has these assigned PCI devices (${why})`,
        evidence: [xmlEv(`${pci.length} <hostdev type='pci'>`)],
        remedy: 'detach the devices before migrating, or plan downtime (shut down, move, reattach on the target host); devices with a migration-capable VFIO variant driver (mlx5_vfio_pci, ...) can migrate',
        category: cat,
      });
    }
  }
  return out;
}
