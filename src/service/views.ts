/**
 * The inventory reports (`ls`, `groups`, `show` --json): versioned documents built from the inventory,
 * the same for every front end.
 */
import { formatPciAddress, requirePciAddress } from '../model/pci-address.js';
import { VfioctlError } from '../model/errors.js';
import type { GuestInfo } from '../adapters/libvirt/guests.js';
import { type IommuGroup, type PciFunction, type PciInventory, factUnknown } from '../model/pci-function.js';

/** "NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80]" or just the IDs without pci.ids. */
export function deviceName(f: PciFunction): string {
  const ids = `[${f.vendorId}:${f.deviceId}]`;
  const parts = [f.names.vendor, f.names.device].filter((x): x is string => !!x);
  return parts.length ? `${parts.join(' ')} ${ids}` : ids;
}

/** ACS is on when source validation, request and completion redirect and upstream forwarding all are. */
export function acsEnabled(f: PciFunction): boolean {
  const ctl = f.capabilities.acs?.control;
  return !!ctl && ctl.sv && ctl.rr && ctl.cr && ctl.uf;
}

export type GroupView = ReturnType<typeof groupView>;

export function groupView(g: IommuGroup, byAddr: Map<string, PciFunction>) {
  return {
    id: g.id,
    type: g.type,
    isolation: g.isolation,
    hostCritical: g.hostCritical,
    members: g.members.map((m) => {
      const f = byAddr.get(m.address);
      return {
        address: m.address,
        role: m.role,
        class: f?.class ?? null,
        vendorId: f?.vendorId ?? null,
        deviceId: f?.deviceId ?? null,
        name: f ? deviceName(f) : null,
        driver: f?.driver ?? null,
        // driver null is "no driver" unless this says it was not read
        unknown: f ? [factUnknown(f, 'driver')].filter((u) => u !== null) : [],
      };
    }),
  };
}

export function findFunction(inv: PciInventory, input: string): PciFunction {
  const addr = formatPciAddress(requirePciAddress(input));
  const f = inv.functions.find((x) => x.address === addr);
  if (!f) {
    throw new VfioctlError('no-such-device', `no PCI function ${addr} on this host`, {
      remedy: '`vfioctl ls` lists the functions present (check --root / --sample)',
    });
  }
  return f;
}

/** The facts that leave a function's ACS unknown. */
const ACS_FACTS = new Set(['capabilities', 'capabilities.extended', 'capabilities.details']);

/** `ls --json` */
export function inventoryReport(inv: PciInventory) {
  return { version: 1 as const, source: inv.source, iommu: inv.iommu, functions: inv.functions, problems: inv.problems };
}

/** `groups --json` */
export function groupsReport(inv: PciInventory) {
  const byAddr = new Map(inv.functions.map((f) => [f.address as string, f]));
  return { version: 1 as const, source: inv.source, iommu: inv.iommu, groups: inv.groups.map((g) => groupView(g, byAddr)), problems: inv.problems };
}

/** `show ADDR --json`: the function, its group with names, its topology path. */
export function showReport(inv: PciInventory, input: string) {
  const f = findFunction(inv, input);
  const byAddr = new Map(inv.functions.map((x) => [x.address as string, x]));
  const group = f.iommuGroup === null ? null : (inv.groups.find((g) => g.id === f.iommuGroup) ?? null);
  const path = [...f.parentChain, f.address].map((a) => {
    const x = byAddr.get(a);
    // acs null is "no ACS capability" unless `unknown` says the capabilities holding it were not read
    const unknown = x ? x.unknown.filter((u) => ACS_FACTS.has(u.fact)) : [];
    return { address: a, class: x?.class ?? null, name: x ? deviceName(x) : null, portType: x?.capabilities.pcie?.portType ?? null, acs: x?.capabilities.acs ? acsEnabled(x) : null, unknown };
  });
  return { version: 1 as const, source: inv.source, function: f, group: group ? groupView(group, byAddr) : null, topology: { rootBus: f.rootBus, path } };
}

/** One guest in `guests --json`. */
export function guestJson(g: GuestInfo) {
  return {
    name: g.name,
    state: g.state,
    running: g.running,
    machine: g.config.machine,
    chipset: g.config.chipset,
    firmware: g.config.firmware.kind,
    hostdevs: g.config.hostdevs,
  };
}

/** `guests --json`: from the session's guests report. */
export function guestsDocument(report: { uri: string; guests: GuestInfo[]; shared: { address: string; guests: string[] }[] }) {
  return { version: 1 as const, uri: report.uri, guests: report.guests.map(guestJson), shared: report.shared };
}
