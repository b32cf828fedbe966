/**
 * The passthrough planner: from the functions a user asks for, compute — with no I/O — which functions
 * must move to vfio-pci (IOMMU group rule), which bridges stay on the host, what the host would lose,
 * what limits and device quirks apply, and the ordered steps. See docs/plan.md.
 *
 * Group rule: every endpoint of each touched IOMMU group is claimed for the same guest (added to the
 * plan, or — with `exact` — reported as the reason the plan is blocked); bridges and ports in the group
 * stay on the host. A group is never split between guests, nor between host and guest.
 */
import type { Finding, Severity } from '../model/finding.js';
import { worstSeverity } from '../model/finding.js';
import { type PciAddressString, comparePciAddressStrings, deviceKey, pciAddressOf } from '../model/pci-address.js';
import { type IommuGroup, type PciFunction, type PciInventory, factUnknown } from '../model/pci-function.js';
import { isDisplayClass } from '../model/pci-class.js';
import type { CpuVendor } from '../model/host-impact.js';
import {
  MAX_ASSIGNED_FUNCTIONS,
  type ClaimReason,
  type ClaimedFunction,
  type GuestSlot,
  type PassthroughPlan,
  type PlanContext,
  type PlanRequest,
  type PlanStep,
  type PlannedGroup,
} from '../model/plan.js';
import { checkHostImpact } from './host-impact.js';
import { normalizeParamKey } from '../model/kernel-cmdline.js';
import { cmdlineCommandLine, describeCmdlineEdit } from './boot-loader.js';
import { formatArgv } from '../model/command.js';
import { iommuOffRemedy } from './doctor-remedy.js';
import { amdResetTroubleFamily, isNvidiaConsumerGpu } from './plan-devices.js';
import { planPlatform } from './vfio-platform.js';

const VFIO_DRIVER = 'vfio-pci';
/** Hyper-V vendor_id shown to the guest when the hypervisor is hidden (any 1-12 character string). */
export const HYPERV_VENDOR_ID = 'vfioctl';
import { MODPROBE_FILE, UNSAFE_INTERRUPTS_FILE } from './host-files.js';
export { MODPROBE_FILE, UNSAFE_INTERRUPTS_FILE };

const byAddr = comparePciAddressStrings;

function fnLabel(fn: PciFunction | undefined, address: string): string {
  const name = fn?.names.device ?? fn?.names.subclassName ?? null;
  return name ? `${address} (${name})` : address;
}

function idOf(fn: Pick<PciFunction, 'vendorId' | 'deviceId'>): string {
  return `${fn.vendorId}:${fn.deviceId}`;
}

export function planPassthrough(inventory: PciInventory, request: PlanRequest, context: PlanContext = {}): PassthroughPlan {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'evidence'> & { evidence?: Finding['evidence'] }): void => {
    findings.push({ evidence: [], ...f });
  };
  const fns = new Map<string, PciFunction>(inventory.functions.map((f) => [f.address, f]));
  const groupsById = new Map<number, IommuGroup>(inventory.groups.map((g) => [g.id, g]));
  const cpuVendor: CpuVendor | null = context.cpuVendor ?? context.impact?.cpuVendor ?? null;
  const requested = [...new Set(request.addresses)];
  const isImport = inventory.source.kind === 'import';
  const isSysfs = inventory.source.kind === 'sysfs';
  const groupsKnown = inventory.iommu.enabled && inventory.groups.length > 0;

  // ---- 1. requested functions exist and are endpoints
  const claimReason = new Map<PciAddressString, ClaimReason>();
  const why = new Map<string, string>();
  for (const a of requested) {
    const fn = fns.get(a);
    if (!fn) {
      add({
        id: 'device-not-found',
        severity: 'fail',
        summary: `${a} is not a PCI function of this host`,
        remedy: '`vfioctl ls` lists the functions; check the address (and --root/--from)',
        subjects: [a],
        category: 'request',
      });
      continue;
    }
    if (fn.isBridge) {
      add({
        id: 'request-is-bridge',
        severity: 'fail',
        summary: `${fnLabel(fn, a)} is a PCI bridge or port: it stays on the host and cannot be assigned`,
        remedy: 'pass the endpoint functions behind it instead (`vfioctl groups` shows them)',
        subjects: [a],
        category: 'request',
      });
      continue;
    }
    claimReason.set(a, 'requested');
  }
  if (requested.length === 0) {
    add({ id: 'empty-request', severity: 'fail', summary: 'no PCI function was given', remedy: 'name at least one function: vfioctl plan 01:00.0', category: 'request' });
  }

  // ---- 2. IOMMU, the group rule and the functions of a slot
  // Group facts an imported listing does not tell: every group (no groups at all) or some functions' groups.
  const groupsUnknownToImport = inventory.source.kind === 'import' && (inventory.groups.length === 0 || inventory.source.unknown.some((u) => /^IOMMU groups\b/.test(u)));
  const groupsPartial = groupsUnknownToImport && groupsKnown;
  /** Claimed functions whose group the listing does not tell: assumed to hold no other device. */
  const assumedAlone: PciAddressString[] = [];
  const companionsAdded: PciAddressString[] = [];
  const singleFunction = !!request.singleFunction || !!request.exact;
  /**
   * A root-complex integrated endpoint (PCIe port type, else a function on a root bus: bus 00 when the
   * topology is unknown) is a chipset function of its own: the functions sharing its device number (LPC
   * bridge, audio, SMBus, Ethernet at 00:1f) are not one card, so they are not companions.
   */
  const integratedFunction = (f: PciFunction): boolean => {
    if (f.capabilities.pcie?.portType === 'rc-integrated-endpoint') return true;
    return f.parentChain.length === 0 && (isSysfs || pciAddressOf(f.address).bus === 0);
  };
  /** Add the other functions of every claimed function's slot (not SR-IOV VFs and their PFs); true when any was added. */
  const claimCompanions = (): boolean => {
    if (singleFunction) return false;
    let addedAny = false;
    for (const a of [...claimReason.keys()]) {
      const fn = fns.get(a);
      if (!fn || fn.physfn || integratedFunction(fn)) continue;
      const slot = deviceKey(pciAddressOf(a));
      for (const c of inventory.functions) {
        if (c.address === a || claimReason.has(c.address) || c.isBridge || c.physfn || integratedFunction(c) || deviceKey(pciAddressOf(c.address)) !== slot) continue;
        claimReason.set(c.address, 'same-device');
        const group = !groupsKnown || c.iommuGroup === null ? 'its IOMMU group unknown' : c.iommuGroup === fn.iommuGroup ? `in IOMMU group ${c.iommuGroup}` : `in its own IOMMU group ${c.iommuGroup}`;
        why.set(c.address, `another function of ${a}'s device (slot ${slot}), ${group}`);
        companionsAdded.push(c.address);
        addedAny = true;
      }
    }
    return addedAny;
  };
  const hostSide = new Set<PciAddressString>();
  const plannedGroups: PlannedGroup[] = [];
  if (!groupsKnown) {
    if (isImport) {
      add({
        id: 'groups-unknown',
        severity: 'warn',
        summary: 'the imported listing has no IOMMU groups: group members that must move along could not be checked',
        remedy: 'import a group listing (for d in /sys/kernel/iommu_groups/*/devices/*; ...) or plan on the host itself',
        category: 'iommu',
        fact: { id: 'iommu-groups', value: 'unknown' },
      });
    } else {
      add({
        id: 'iommu-not-enabled',
        severity: 'fail',
        summary: 'the kernel has no IOMMU groups: device assignment is impossible until the IOMMU is on',
        detail: !context.platform?.vm && cpuVendor === 'amd'
          ? 'The AMD IOMMU is used when the firmware enables it; amd_iommu=on is not a valid value and changes nothing.'
          : undefined,
        evidence: [{ source: 'sys/kernel/iommu_groups', value: 'empty or absent' }],
        remedy: iommuRemedy(cpuVendor, context),
        category: 'iommu',
        fact: { id: 'iommu-groups', value: 'absent' },
      });
    }
  } else {
    const processed = new Set<number>();
    for (let pass = 0; pass < 64; pass++) {
    const touched = new Set<number>();
    for (const a of [...claimReason.keys()]) {
      const fn = fns.get(a);
      if (!fn) continue;
      if (fn.iommuGroup === null || !groupsById.has(fn.iommuGroup)) {
        if (groupsPartial && fn.iommuGroup === null) {
          if (!assumedAlone.includes(a)) assumedAlone.push(a);
          continue;
        }
        add({
          id: 'no-iommu-group',
          severity: 'fail',
          summary: `${fnLabel(fn, a)} is in no IOMMU group: the IOMMU does not cover it`,
          remedy: 'check the firmware (DMAR/IVRS tables) and dmesg for IOMMU errors about this device',
          subjects: [a],
          category: 'iommu',
          fact: { id: `iommu-group:${a}`, value: 'none' },
        });
        claimReason.delete(a);
        continue;
      }
      if (!processed.has(fn.iommuGroup)) touched.add(fn.iommuGroup);
    }
    for (const gid of [...touched].sort((x, y) => x - y)) {
      processed.add(gid);
      const g = groupsById.get(gid)!;
      const endpoints = g.members.filter((m) => m.role === 'endpoint').map((m) => m.address);
      const bridges = g.members.filter((m) => m.role === 'bridge').map((m) => m.address);
      bridges.forEach((b) => hostSide.add(b));
      plannedGroups.push({ id: gid, endpoints, bridges });
      const requestedHere = endpoints.filter((e) => claimReason.has(e));
      const requestedDevices = new Set(requestedHere.map((e) => deviceKey(pciAddressOf(e))));
      const anchor = requestedHere[0] ?? '';
      const extraSameDevice: PciAddressString[] = [];
      const extraOther: PciAddressString[] = [];
      for (const e of endpoints) {
        if (claimReason.has(e)) continue;
        (requestedDevices.has(deviceKey(pciAddressOf(e))) ? extraSameDevice : extraOther).push(e);
      }
      const extras = [...extraSameDevice, ...extraOther];
      if (!extras.length) continue;
      const names = extras.map((e) => fnLabel(fns.get(e), e));
      if (request.exact) {
        add({
          id: 'group-member-not-requested',
          severity: 'fail',
          summary: `${names.join(', ')} ${extras.length > 1 ? 'share' : 'shares'} IOMMU group ${gid} with ${requestedHere.join(', ')} and would stay on the host`,
          detail: 'All endpoints of an IOMMU group must be given to the same guest: the kernel refuses to use a group ("group is not viable") while any endpoint is on a host driver.',
          remedy: `pass them too (vfioctl plan ${[...requestedHere, ...extras].join(' ')}), or leave the group on the host`,
          subjects: extras,
          category: 'group',
        });
        continue;
      }
      for (const e of extraSameDevice) {
        claimReason.set(e, 'same-device');
        why.set(e, `another function of ${anchor}'s device, in IOMMU group ${gid}`);
      }
      for (const e of extraOther) {
        claimReason.set(e, 'same-group');
        why.set(e, `shares IOMMU group ${gid} with ${anchor}`);
      }
      if (extraSameDevice.length) {
        add({
          id: 'group-functions-added',
          severity: 'info',
          summary: `${extraSameDevice.map((e) => fnLabel(fns.get(e), e)).join(', ')} ${extraSameDevice.length > 1 ? 'are' : 'is'} added: other function${extraSameDevice.length > 1 ? 's' : ''} of the same device in IOMMU group ${gid}`,
          remedy: 'nothing to do: the functions of a device are assigned together',
          subjects: extraSameDevice,
          category: 'group',
        });
      }
      if (extraOther.length) {
        add({
          id: 'group-devices-added',
          severity: 'warn',
          summary: `${extraOther.map((e) => fnLabel(fns.get(e), e)).join(', ')} ${extraOther.length > 1 ? 'share' : 'shares'} IOMMU group ${gid} with ${anchor} and must go to the same guest`,
          detail: 'The IOMMU cannot isolate these devices from each other. The ACS override patch (pcie_acs_override) would split the group only by weakening isolation.',
          remedy: `accept that they leave the host too, use --exact to refuse, or move the card to a slot with its own group (vfioctl groups)`,
          subjects: extraOther,
          category: 'group',
        });
      }
      for (const e of extras) {
        if (!fns.has(e)) {
          add({
            id: 'group-member-unknown',
            severity: 'warn',
            summary: `${e} is listed in IOMMU group ${gid} but its device entry could not be read`,
            remedy: 'check `vfioctl ls` problems; the function will be claimed with the group',
            subjects: [e],
            category: 'group',
          });
        }
      }
    }
    // companions: the other functions of each claimed function's slot (same domain:bus:device) go along
    const added = claimCompanions();
    if (!added && !touched.size) break;
    }
  }
  if (!groupsKnown) claimCompanions();
  const claim = [...claimReason.keys()].sort(byAddr);
  if (companionsAdded.length) {
    const list = [...companionsAdded].sort(byAddr);
    add({
      id: 'slot-functions-added',
      severity: 'info',
      summary: `${list.map((e) => `${fnLabel(fns.get(e), e)} (${why.get(e)?.replace(/^another function of \S+ device \(slot \S+\), /, '') ?? ''})`).join(', ')} ${list.length > 1 ? 'are' : 'is'} added: the functions of one device go to the guest together`,
      detail: 'A GPU and its HDMI audio (or the ports of one NIC) are one card: the guest driver expects all of them, and a function left on the host keeps a host driver on the card.',
      remedy: 'pass --single-function to keep only the named functions',
      subjects: list,
      category: 'group',
    });
  }
  // what the plan assumed about groups it could not read
  const assumptions: string[] = [];
  if (groupsUnknownToImport) {
    const unknownClaim = groupsKnown ? claim.filter((a) => assumedAlone.includes(a)) : claim;
    const bySlot = new Map<string, PciAddressString[]>();
    for (const a of unknownClaim) {
      const k = deviceKey(pciAddressOf(a));
      bySlot.set(k, [...(bySlot.get(k) ?? []), a]);
    }
    for (const [slot, members] of bySlot) {
      assumptions.push(`the IOMMU group of ${members.join(', ')} holds no other device (slot ${slot}; the listing has no group for ${members.length > 1 ? 'them' : 'it'})`);
    }
    if (unknownClaim.length) {
      add({
        id: 'plan-unverified',
        severity: 'warn',
        summary: `unverified: the listing does not tell the IOMMU groups of ${unknownClaim.join(', ')}; the plan assumes ${unknownClaim.length > 1 ? 'they share' : 'it shares'} no group with another device`,
        detail: assumptions.join('\n'),
        remedy: 'plan on the host itself, or import a listing with groups (for d in /sys/kernel/iommu_groups/*/devices/*; do echo "IOMMU Group $(basename $(dirname $(dirname $d))) $(lspci -nns ${d##*/})"; done)',
        subjects: unknownClaim,
        category: 'iommu',
        fact: { id: 'iommu-groups', value: 'unknown' },
      });
    }
  }

  // ---- 3. other guests and the guest limit
  const guestName = request.guest ?? null;
  const others = (context.otherGuests ?? []).filter((g) => g.name !== guestName);
  const own = (context.otherGuests ?? []).find((g) => guestName !== null && g.name === guestName);
  for (const g of others) {
    const shared = claim.filter((a) => g.hostdevs.includes(a));
    if (!shared.length) continue;
    add({
      id: g.running ? 'assigned-to-running-guest' : 'assigned-to-other-guest',
      severity: g.running ? 'fail' : 'warn',
      summary: g.running
        ? `${shared.join(', ')} ${shared.length > 1 ? 'are' : 'is'} assigned to guest "${g.name}", which is running`
        : `${shared.join(', ')} ${shared.length > 1 ? 'are' : 'is'} also assigned to guest "${g.name}": the two guests cannot run at the same time`,
      remedy: g.running
        ? `shut "${g.name}" down and remove the hostdev from it (virsh detach-device ${g.name} FILE --config), or choose another device`
        : `remove the hostdev from "${g.name}" (virsh detach-device ${g.name} FILE --config) if it should no longer have it`,
      subjects: shared,
      category: 'guest',
    });
  }
  const total = new Set([...claim, ...(own?.hostdevs ?? [])]).size;
  if (total > MAX_ASSIGNED_FUNCTIONS) {
    add({
      id: 'guest-function-limit-exceeded',
      severity: 'fail',
      summary: `the guest would have ${total} assigned functions; at most ${MAX_ASSIGNED_FUNCTIONS} are supported`,
      remedy: 'split the devices between guests, or assign fewer functions',
      category: 'guest',
    });
  } else if (total === MAX_ASSIGNED_FUNCTIONS) {
    add({
      id: 'guest-function-limit',
      severity: 'warn',
      summary: `the guest reaches the limit of ${MAX_ASSIGNED_FUNCTIONS} assigned functions: no more can be added`,
      remedy: 'plan further devices for another guest',
      category: 'guest',
    });
  }

  // ---- 4. host impact
  findings.push(...checkHostImpact(inventory, claim, context.impact, { force: request.force ?? false, why, companions: new Set(companionsAdded) }));
  // the running command line, parsed by the one kernel command line parser (quotes, `--` init separator)
  const cmdline = context.impact?.kernel.cmdline ?? null;
  const acsOverride = cmdline?.params.find((p) => normalizeParamKey(p.key) === 'pcie_acs_override');
  if (cmdline && acsOverride) {
    add({
      id: 'acs-override-active',
      severity: 'warn',
      summary: 'the kernel runs with pcie_acs_override: IOMMU groups are split artificially and devices in them are not really isolated',
      evidence: [{ source: 'proc/cmdline', value: acsOverride.raw }],
      remedy: 'treat devices that shared a group without the override as one unit; remove the parameter for real isolation',
      category: 'security',
    });
  }

  // ---- 5. device findings and ROM decisions
  const romChoice = request.romBar ?? 'auto';
  const functions: ClaimedFunction[] = [];
  let kvmHidden = false;
  for (const a of claim) {
    const fn = fns.get(a);
    let romBar: ClaimedFunction['romBar'] = null;
    if (fn) {
      // a ROM not read: an explicit --rom-bar is the user's decision; auto leaves libvirt's default (see deviceFindings)
      if (factUnknown(fn, 'hasRom')) romBar = romChoice === 'auto' ? null : romChoice;
      else if (romChoice === 'off' && fn.hasRom) romBar = 'off';
      else if (romChoice === 'on' && fn.hasRom) romBar = 'on';
      else if (romChoice === 'auto' && fn.hasRom && !isDisplayClass(fn.class)) romBar = 'off';
      deviceFindings(fn, romBar, add);
      if (isNvidiaConsumerGpu(fn)) kvmHidden = true;
    }
    functions.push({
      address: a,
      reason: claimReason.get(a)!,
      iommuGroup: fn?.iommuGroup ?? null,
      vendorId: fn?.vendorId ?? 'ffff',
      deviceId: fn?.deviceId ?? 'ffff',
      class: fn?.class ?? 'ff0000',
      name: fn?.names.device ?? null,
      driver: fn?.driver ?? null,
      romBar,
    });
  }
  if (kvmHidden) {
    add({
      id: 'nvidia-consumer-gpu',
      severity: 'warn',
      summary: 'an NVIDIA consumer GPU: Windows drivers before R465 stop with "Code 43" when they see a hypervisor',
      remedy: `hide KVM from the guest: <features><kvm><hidden state='on'/></kvm><hyperv><vendor_id state='on' value='${HYPERV_VENDOR_ID}'/></hyperv></features> (vfioctl render libvirt adds it)`,
      subjects: claim.filter((a) => { const f = fns.get(a); return f ? isNvidiaConsumerGpu(f) : false; }),
      category: 'device',
    });
  }
  // migration per device, variant drivers, backend, large BARs (src/core/vfio-platform.ts)
  const vfio = planPlatform(claim, request, context);
  for (const f of vfio.findings) add(f);

  // ---- 6. multifunction slots
  const slots: GuestSlot[] = [];
  const byDevice = new Map<string, PciAddressString[]>();
  for (const a of claim) {
    const k = deviceKey(pciAddressOf(a));
    const list = byDevice.get(k) ?? [];
    list.push(a);
    byDevice.set(k, list);
  }
  for (const [device, list] of byDevice) {
    slots.push({ device, functions: list, multifunction: list.length > 1 });
    const left = inventory.functions.filter((f) => deviceKey(pciAddressOf(f.address)) === device && !list.includes(f.address) && !f.physfn);
    if (left.length && !list.some((a) => fns.get(a)?.physfn)) {
      const opt = request.exact ? '--exact' : '--single-function';
      const many = left.length > 1;
      add({
        id: 'multifunction-partial',
        severity: 'info',
        summary: groupsKnown && !left.some((f) => f.iommuGroup === null)
          ? `${left.map((f) => `${f.address} (IOMMU group ${f.iommuGroup})`).join(', ')} (same device as ${list[0]}) stay${many ? '' : 's'} on the host (${opt})`
          : `${left.map((f) => f.address).join(', ')} (same device as ${list[0]}) stay${many ? '' : 's'} on the host (${opt}); whether ${many ? 'they share' : 'it shares'} its IOMMU group is unknown from this listing`,
        remedy: 'drop the option (or add them to the request) if the guest needs the whole device',
        subjects: left.map((f) => f.address),
        category: 'group',
      });
    }
  }

  // ---- 7. binding persistence
  const claimedIds = [...new Set(claim.map((a) => fns.get(a)).filter((f): f is PciFunction => !!f).map(idOf))].sort();
  const identicalLeft = inventory.functions.filter((f) => !claimReason.has(f.address) && !f.isBridge && claimedIds.includes(idOf(f)));
  const perAddress = request.persistBy === 'address' || (request.persistBy === undefined && identicalLeft.length > 0);
  if (request.persistBy === 'id' && identicalLeft.length) {
    add({
      id: 'ids-too-broad',
      severity: 'fail',
      summary: `vfio-pci ids=${claimedIds.join(',')} would also take ${identicalLeft.map((f) => f.address).join(', ')}, which stay${identicalLeft.length > 1 ? '' : 's'} on the host`,
      remedy: 'persist per address instead (the default), or name those functions too',
      subjects: identicalLeft.map((f) => f.address),
      category: 'binding',
    });
  }
  const builtin = context.vfioPciBuiltin ?? context.impact?.kernel.vfioPciBuiltin ?? false;
  if (perAddress && identicalLeft.length) {
    add({
      id: 'identical-devices-per-address',
      severity: 'info',
      summary: `${identicalLeft.map((f) => f.address).join(', ')} ${identicalLeft.length > 1 ? 'have' : 'has'} the same vendor:device ID as a claimed function and stay${identicalLeft.length > 1 ? '' : 's'} on the host: binding persists per address (driver_override), not by vfio-pci ids=`,
      remedy: 'nothing to do: vfioctl binds by address',
      subjects: identicalLeft.map((f) => f.address),
      category: 'binding',
    });
  }
  // softdeps: the host driver each function has, or had before vfioctl bound it (bridges' pcieport never)
  const hostDrivers = [...new Set(claim.map((a) => (fns.get(a)?.driver === VFIO_DRIVER ? context.originalDrivers?.[a] : fns.get(a)?.driver)).filter((d): d is string => !!d && d !== VFIO_DRIVER && d !== 'pcieport'))].sort();
  const driverUnknown = claim.filter((a) => { const f = fns.get(a); return !!f && !!factUnknown(f, 'driver'); });
  if (driverUnknown.length) {
    const u = factUnknown(fns.get(driverUnknown[0]!)!, 'driver')!;
    add({
      id: 'driver-unknown',
      severity: 'warn',
      summary: `the host drivers of ${driverUnknown.join(', ')} are unknown (${u.reason}): the plan cannot say which drivers they leave, nor order vfio-pci before them at boot (softdep)`,
      evidence: driverUnknown.map((a) => ({ source: factUnknown(fns.get(a)!, 'driver')!.source, value: 'unknown' })),
      remedy: 'import an `lspci -nnk` listing (it shows "Kernel driver in use"), or plan on the host itself',
      subjects: driverUnknown,
      category: 'binding',
    });
  }
  if (request.allowUnsafeInterrupts) {
    add({
      id: 'unsafe-interrupts',
      severity: 'warn',
      summary: 'allow_unsafe_interrupts lets a guest inject interrupts into the host: a security downgrade for hosts without interrupt remapping',
      remedy: 'use it only for trusted guests on hardware without interrupt remapping; drop the option otherwise',
      category: 'security',
    });
  }
  if (request.nested && (request.viommuModel ?? 'intel') === 'intel') {
    add({
      id: 'nested-viommu',
      severity: 'info',
      summary: 'nested assignment: the guest gets a virtual Intel IOMMU (q35, intremap, caching mode, split irqchip) and must boot with intel_iommu=on',
      remedy: 'add intel_iommu=on to the guest kernel command line',
      category: 'guest',
    });
  } else if (request.nested && request.viommuModel === 'virtio') {
    add({
      id: 'nested-viommu',
      severity: 'warn',
      summary: 'nested assignment: the guest gets a virtio-iommu (described to it by an ACPI VIOT table), which remaps no interrupts on x86: vfio in the guest refuses devices unless allow_unsafe_interrupts is set there',
      detail: 'Without interrupt remapping a nested guest holding an assigned device can send arbitrary interrupts (MSI) to the guest that passes it on. The guest kernel also needs the virtio-iommu driver (CONFIG_VIRTIO_IOMMU with CONFIG_ACPI_VIOT; Debian 12\'s 6.1 kernel has neither).',
      remedy: 'for trusted nested guests only, in the guest: options vfio_iommu_type1 allow_unsafe_interrupts=1 (vfioctl host enable-iommu --allow-unsafe-interrupts); otherwise use --viommu intel, which remaps interrupts',
      category: 'security',
    });
  } else if (request.nested && request.viommuModel === 'smmuv3') {
    add({
      id: 'nested-viommu',
      severity: 'info',
      summary: 'nested assignment: the guest gets a virtual Arm SMMUv3, which libvirt and QEMU offer only to aarch64 guests on the virt machine type',
      remedy: 'for an x86 guest use --viommu intel (or virtio)',
      category: 'guest',
    });
  }

  // ---- 8. steps
  const steps = planSteps({
    request, claim, fns, groupsKnown, isImport, cpuVendor, perAddress, builtin, claimedIds, hostDrivers, guestName, slots, context,
    vfioDrivers: Object.fromEntries(vfio.platform.functions.map((p) => [p.address, p.vfioDriver])),
  });

  const verdict = verdictOf(findings.map((f) => f.severity));
  return {
    request: requested,
    guest: guestName,
    verified: assumptions.length === 0,
    assumptions,
    claim,
    hostSide: [...hostSide].sort(byAddr),
    verdict,
    findings: sortFindings(findings),
    steps,
    functions,
    groups: plannedGroups,
    slots,
    features: { kvmHidden, hypervVendorId: kvmHidden ? HYPERV_VENDOR_ID : null, viommu: request.nested ?? false },
    binding: { mode: perAddress ? 'per-address' : 'ids', ids: claimedIds, builtin },
    hostDrivers,
    cpuVendor,
    nested: request.nested ?? false,
    unsafeInterrupts: request.allowUnsafeInterrupts ?? false,
    needsReboot: steps.some((s) => s.needsReboot),
    platform: vfio.platform,
  };
}

/** The remedy for "no IOMMU groups": the shared one for the platform (doctor-remedy), then what the plan adds. */
function iommuRemedy(cpuVendor: CpuVendor | null, context: PlanContext): string {
  const vendor = cpuVendor === 'intel' || cpuVendor === 'amd' || cpuVendor === 'other' ? cpuVendor : null;
  const shared = iommuOffRemedy(vendor, context.platform);
  const tables = context.platform?.iommuTables ?? [];
  if (context.platform?.vm && tables.length) {
    // the VM has a virtual IOMMU (its firmware describes one); the kernel does not use it
    return tables.includes('VIOT') && !tables.includes('DMAR') && !tables.includes('IVRS')
      ? `${shared}; then plan again`
      : `this virtual machine's firmware describes an IOMMU (${tables.join(', ')}) but the kernel made no groups: ${shared}; then plan again`;
  }
  if (context.platform?.vm) return `this is a virtual machine without a virtual IOMMU: ${shared}; then plan again`;
  if (shared && vendor === 'intel') return `${shared}; then apply step enable-iommu (intel_iommu=on), reboot, and plan again`;
  if (shared) return `${shared}; then reboot and plan again`;
  return 'enable the IOMMU in the firmware and on the kernel command line, reboot, and plan again';
}

function verdictOf(sev: Severity[]): PassthroughPlan['verdict'] {
  const worst = worstSeverity(sev.map((severity) => ({ severity })));
  return worst === 'fail' ? 'blocked' : worst === 'warn' ? 'warn' : 'ok';
}

const SEV_ORDER: Record<Severity, number> = { fail: 0, warn: 1, info: 2, ok: 3 };
function sortFindings(f: Finding[]): Finding[] {
  return f.map((x, i) => ({ x, i })).sort((a, b) => SEV_ORDER[a.x.severity] - SEV_ORDER[b.x.severity] || a.i - b.i).map((p) => p.x);
}

function deviceFindings(fn: PciFunction, romBar: ClaimedFunction['romBar'], add: (f: Omit<Finding, 'evidence'> & { evidence?: Finding['evidence'] }) => void): void {
  const a = fn.address;
  const label = fnLabel(fn, a);
  const caps = fn.capabilities;
  if (caps.standardReadable && !caps.pcie) {
    add({
      id: 'conventional-pci',
      severity: 'warn',
      summary: `${label} is a conventional PCI device: assignment may work but with severe limits (shared interrupts, no function reset, config conflicts)`,
      remedy: 'prefer a PCI Express device; test the guest thoroughly',
      subjects: [a],
      category: 'device',
    });
  }
  const resetUnknown = factUnknown(fn, 'resetMethods');
  const flrUnknown = factUnknown(fn, 'flr') ?? (caps.standardReadable ? null : { reason: 'the capabilities were not read', source: `sys/bus/pci/devices/${a}/config (capabilities)` });
  if (fn.resetMethods === null && flrUnknown) {
    // neither the kernel's reset_method nor the capabilities were read: unknown, never "ok"
    add({
      id: 'reset-unknown',
      severity: 'warn',
      summary: `${label}: whether it can be reset between guests is unknown (${flrUnknown.reason}): it may keep its state or fail after the first guest shutdown`,
      evidence: [
        { source: resetUnknown?.source ?? `sys/bus/pci/devices/${a}/reset_method`, value: resetUnknown ? `unknown (${resetUnknown.reason})` : 'not available' },
        { source: flrUnknown.source, value: `unknown (${flrUnknown.reason})` },
      ],
      remedy: `read ${flrUnknown.source} as root on the host (vfioctl plan there, or vfioctl show ${a}), or cat ${`sys/bus/pci/devices/${a}/reset_method`} (kernel 5.15 or later)`,
      subjects: [a],
      category: 'device',
    });
  } else if (fn.resetMethods !== null && fn.resetMethods.length === 0) {
    add({
      id: 'no-reset-method',
      severity: 'warn',
      summary: `${label} has no reset method: its state leaks between guest runs and it may fail after the first guest shutdown`,
      evidence: [{ source: 'reset_method', value: '(empty)' }],
      remedy: 'expect to reboot the host between guest runs; a device-specific reset (e.g. vendor-reset) may exist for it',
      subjects: [a],
      category: 'device',
    });
  } else if (fn.resetMethods === null && caps.standardReadable && !fn.flr && !(caps.pm && !caps.pm.noSoftReset)) {
    // PM reset works when the PM capability has No_Soft_Reset clear (as doctor's resetMethods reads it)
    add({
      id: 'no-function-reset',
      severity: 'warn',
      summary: `${label} has neither FLR nor a PM reset: vfio-pci must fall back to a bus reset, which fails while other devices share the bus`,
      remedy: 'keep the device alone behind its port, or expect to reboot the host between guest runs',
      subjects: [a],
      category: 'device',
    });
  }
  const romUnknown = factUnknown(fn, 'hasRom');
  if (romUnknown) {
    add({
      id: 'rom-unknown',
      severity: 'info',
      summary: romBar === null
        ? `whether ${label} has an expansion ROM is unknown (${romUnknown.reason}): its ROM BAR is left to libvirt's default`
        : `whether ${label} has an expansion ROM is unknown (${romUnknown.reason}): <rom bar='${romBar}'/> as --rom-bar asks`,
      evidence: [{ source: romUnknown.source, value: `unknown (${romUnknown.reason})` }],
      remedy: `check ${romUnknown.source} on the host; pass --rom-bar off to hide a ROM from the guest, --rom-bar on to keep it`,
      subjects: [a],
      category: 'device',
    });
  } else if (fn.hasRom) {
    add({
      id: 'expansion-rom',
      severity: 'info',
      summary: romBar === 'off'
        ? `${label} has an expansion ROM: it is hidden from the guest (<rom bar='off'/>) so it cannot slow or break guest boot`
        : `${label} has an expansion ROM: kept visible${isDisplayClass(fn.class) ? ' (guest firmware needs a GPU ROM to initialise the display)' : ''}`,
      remedy: romBar === 'off' ? 'pass --rom-bar on if the guest firmware needs the ROM (e.g. to boot from the device)' : "if the guest does not boot, pass --rom-bar off (<rom bar='off'/>)",
      subjects: [a],
      category: 'device',
    });
  }
  const family = amdResetTroubleFamily(fn);
  if (family) {
    add({
      id: 'amd-gpu-reset',
      severity: 'warn',
      summary: `${label} is an AMD ${family} GPU, known not to reset cleanly: a second guest start can hang or show a black screen`,
      remedy: 'install the vendor-reset module and select it (echo device_specific > /sys/bus/pci/devices/' + a + '/reset_method; at every boot: vfioctl reset-policy set ' + a + ' --order device_specific --persist), or reboot the host between guest runs',
      subjects: [a],
      category: 'device',
    });
  }
  if (fn.sriov && fn.sriov.numVfs > 0) {
    add({
      id: 'sriov-pf-with-vfs',
      severity: 'warn',
      summary: `${label} is an SR-IOV physical function with ${fn.sriov.numVfs} virtual functions: unbinding it from ${fn.driver ?? 'its driver'} destroys them`,
      remedy: 'assign virtual functions instead of the physical function, or accept that the VFs go away',
      subjects: [a],
      category: 'device',
    });
  }
  if (fn.physfn) {
    add({
      id: 'sriov-vf',
      severity: 'info',
      summary: `${label} is a virtual function of ${fn.physfn}: it disappears when the host reboots unless sriov_numvfs is set again at boot`,
      remedy: `persist the VF count (e.g. a udev rule or systemd unit writing sriov_numvfs of ${fn.physfn})`,
      subjects: [a],
      category: 'device',
    });
  }
}

interface StepInput {
  request: PlanRequest;
  claim: PciAddressString[];
  fns: Map<string, PciFunction>;
  groupsKnown: boolean;
  isImport: boolean;
  cpuVendor: CpuVendor | null;
  perAddress: boolean;
  builtin: boolean;
  claimedIds: string[];
  hostDrivers: string[];
  guestName: string | null;
  slots: GuestSlot[];
  context: PlanContext;
  /** the VFIO driver each claimed function is bound to (vfio-pci unless a variant driver or --driver says otherwise) */
  vfioDrivers: Record<string, string>;
}

/** The modprobe.d content the plan writes (ids and softdeps); empty string when nothing is needed. */
export function modprobeContent(p: Pick<PassthroughPlan, 'binding' | 'hostDrivers'>): string {
  const lines: string[] = [];
  if (p.binding.mode === 'ids' && !p.binding.builtin && p.binding.ids.length) lines.push(`options vfio-pci ids=${p.binding.ids.join(',')}`);
  for (const d of p.hostDrivers) lines.push(`softdep ${d} pre: vfio-pci`);
  return lines.length ? `# written by vfioctl: keep host drivers off the passed-through functions\n${lines.join('\n')}\n` : '';
}

function planSteps(x: StepInput): PlanStep[] {
  const steps: PlanStep[] = [];
  const boot = x.context.boot;
  const cmdlineFile = boot?.file ?? null;
  // the command that carries a command line change: the boot loader's own (grubby, kernelstub) and its regeneration
  const bootLoader = x.context.bootLoader;
  const cmdlineCommand = (set: string[]): string | null => (bootLoader ? cmdlineCommandLine(describeCmdlineEdit(bootLoader, { set }), formatArgv) : boot?.apply ?? null);
  const iommuOff = !x.groupsKnown && !x.isImport;
  if (iommuOff && x.cpuVendor !== 'amd') {
    const params = ['intel_iommu=on', 'iommu=pt'];
    steps.push({
      id: 'enable-iommu',
      title: `turn the IOMMU on: add ${params.join(' ')} to the kernel command line${x.cpuVendor === null ? ' (Intel hosts; AMD hosts enable it in firmware)' : ''}`,
      kind: 'persistent',
      needsReboot: true,
      ...(cmdlineCommand(params) ? { command: cmdlineCommand(params)! } : {}),
      ...(cmdlineFile ? { file: cmdlineFile } : {}),
      action: { type: 'enable-iommu', params },
    });
  }
  if (!x.claim.length) return steps;

  const content = modprobeContent({ binding: { mode: x.perAddress ? 'per-address' : 'ids', ids: x.claimedIds, builtin: x.builtin }, hostDrivers: x.hostDrivers });
  if (content) {
    steps.push({
      id: 'modprobe-vfio',
      title: `write ${MODPROBE_FILE}: ${x.perAddress || x.builtin ? '' : `vfio-pci ids=${x.claimedIds.join(',')}`}${x.hostDrivers.length ? `${x.perAddress || x.builtin ? '' : ', '}load vfio-pci before ${x.hostDrivers.join(', ')}` : ''}`,
      kind: 'persistent',
      needsReboot: false,
      file: MODPROBE_FILE,
      action: { type: 'modprobe-conf', file: MODPROBE_FILE, content },
    });
  }
  if (x.request.allowUnsafeInterrupts) {
    steps.push({
      id: 'unsafe-interrupts',
      title: `write ${UNSAFE_INTERRUPTS_FILE}: allow_unsafe_interrupts=1 (security downgrade)`,
      kind: 'persistent',
      needsReboot: false,
      file: UNSAFE_INTERRUPTS_FILE,
      action: { type: 'modprobe-conf', file: UNSAFE_INTERRUPTS_FILE, content: '# written by vfioctl: trusted guests only, no interrupt remapping on this host\noptions vfio_iommu_type1 allow_unsafe_interrupts=1\n' },
    });
  }
  if (x.builtin && !x.perAddress) {
    const param = `vfio-pci.ids=${x.claimedIds.join(',')}`;
    steps.push({
      id: 'kernel-cmdline-vfio-ids',
      title: `vfio-pci is built into the kernel: add ${param} to the kernel command line`,
      kind: 'persistent',
      needsReboot: true,
      ...(cmdlineCommand([param]) ? { command: cmdlineCommand([param])! } : {}),
      ...(cmdlineFile ? { file: cmdlineFile } : {}),
      action: { type: 'kernel-cmdline', set: [param], remove: [] },
    });
  }
  if (x.perAddress) {
    steps.push({
      id: 'persist-driver-override',
      title: `keep ${x.claim.join(', ')} on vfio-pci across reboots by address (driver_override)`,
      kind: 'persistent',
      needsReboot: false,
      command: x.claim.map((a) => `driverctl set-override ${a} vfio-pci`).join(' && '),
      action: { type: 'per-address-override', addresses: x.claim },
    });
  }
  if (content) {
    const cmd = boot?.initramfs ?? null;
    steps.push({
      id: 'regenerate-initramfs',
      title: 'regenerate the initramfs so vfio-pci claims the functions before their host drivers at boot',
      kind: 'persistent',
      needsReboot: true,
      ...(cmd ? { command: cmd } : {}),
      action: { type: 'regenerate-initramfs', command: cmd ?? 'update-initramfs -u -k all' },
    });
  }
  if (iommuOff) {
    steps.push({ id: 'reboot', title: 'reboot the host (the IOMMU is only on after a reboot), then plan again', kind: 'persistent', needsReboot: true, command: 'systemctl reboot', action: { type: 'reboot' } });
    return steps;
  }
  const target = (a: string): string => x.vfioDrivers[a] ?? VFIO_DRIVER;
  const toBind = x.claim.filter((a) => x.fns.get(a)?.driver !== target(a));
  if (toBind.length) {
    steps.push({ id: 'load-vfio-pci', title: 'load the vfio-pci module', kind: 'runtime', needsReboot: false, command: 'modprobe vfio-pci', action: { type: 'load-module', module: 'vfio-pci' } });
  }
  for (const variant of [...new Set(toBind.map(target).filter((d) => d !== VFIO_DRIVER))]) {
    steps.push({ id: `load-${variant}`, title: `load the VFIO variant driver ${variant}`, kind: 'runtime', needsReboot: false, command: `modprobe ${variant}`, action: { type: 'load-module', module: variant } });
  }
  for (const a of toBind) {
    const from = x.fns.get(a)?.driver ?? null;
    const to = target(a);
    steps.push({
      id: `bind-${a}`,
      title: `bind ${a} to ${to}${from ? ` (from ${from})` : ''}`,
      kind: 'runtime',
      needsReboot: false,
      command: [
        `echo ${to} > /sys/bus/pci/devices/${a}/driver_override`,
        ...(from ? [`echo ${a} > /sys/bus/pci/devices/${a}/driver/unbind`] : []),
        `echo ${a} > /sys/bus/pci/drivers_probe`,
      ].join('; '),
      action: { type: 'bind-vfio', address: a, fromDriver: from, ...(to !== VFIO_DRIVER ? { driver: to } : {}) },
    });
  }
  if (x.guestName) {
    steps.push({
      id: 'attach-hostdevs',
      title: `add ${x.claim.length} hostdev${x.claim.length > 1 ? 's' : ''} to guest "${x.guestName}" (persistent configuration)`,
      kind: 'persistent',
      needsReboot: false,
      command: `virsh attach-device ${x.guestName} FILE --config   (one file per function: vfioctl render virsh)`,
      action: { type: 'attach-hostdev', guest: x.guestName, addresses: x.claim },
    });
  }
  return steps;
}
