/**
 * Per-device verdict: can this PCI function be passed through on this host, now? Pure checks over the
 * inventory and HostFacts: the function's IOMMU group (what must go with it, what stays), its reset
 * mechanisms, expansion ROM, boot display and firmware framebuffer ownership, conventional PCI, SR-IOV
 * role, power state and the host driver currently using it.
 */
import type { Evidence, Finding, Severity } from '../model/finding.js';
import type { HostFacts, IomemEntry } from '../model/host-facts.js';
import { resetBug } from './reset-policy.js';
import { type PciFunction, type PciInventory, factUnknown } from '../model/pci-function.js';
import { type PciAddressString, pciAddressOf } from '../model/pci-address.js';
import { groupEndpoints } from '../model/groups.js';
import { hostCriticalClass, isDisplayClass, isVgaClass } from '../model/pci-class.js';
import { cmdlineRemedy, hostPath } from './doctor-remedy.js';

function ev(source: string, value: string): Evidence {
  return { source, value };
}

function devFinding(addr: string, id: string, severity: Severity, summary: string, evidence: Evidence[], extra: Partial<Pick<Finding, 'detail' | 'remedy' | 'fact'>> = {}): Finding {
  const f: Finding = { id, severity, summary: `${addr}: ${summary}`, evidence, subjects: [addr], category: 'device' };
  if (extra.detail) f.detail = extra.detail;
  if (extra.remedy) f.remedy = extra.remedy;
  if (extra.fact) f.fact = extra.fact;
  return f;
}

function attr(addr: string, name: string): string {
  return hostPath(`sys/bus/pci/devices/${addr}/${name}`);
}

function label(fn: PciFunction): string {
  const name = [fn.names.vendor, fn.names.device].filter(Boolean).join(' ');
  return name ? `${fn.address} (${name})` : `${fn.address} [${fn.vendorId}:${fn.deviceId}]`;
}

/** Framebuffer drivers whose iomem regions sit inside a GPU's BAR while the host console uses it. */
const FRAMEBUFFER = /^(efifb|simplefb|simpledrm|simple-framebuffer(\.\d+)?|vesafb|vesa ?framebuffer|BOOTFB|vga16fb)$/i;

/** Framebuffer regions nested under the iomem entries named after this function (its BARs). */
export function framebuffersInBars(iomem: readonly IomemEntry[], addr: string): { bar: IomemEntry; fb: IomemEntry }[] {
  const out: { bar: IomemEntry; fb: IomemEntry }[] = [];
  for (let i = 0; i < iomem.length; i++) {
    const e = iomem[i]!;
    if (e.name !== addr) continue;
    for (let j = i + 1; j < iomem.length && iomem[j]!.depth > e.depth; j++) {
      if (FRAMEBUFFER.test(iomem[j]!.name)) out.push({ bar: e, fb: iomem[j]! });
    }
  }
  return out;
}

export interface ResetJudgement {
  methods: string[];
  /** where the list came from: the kernel's reset_method file, or derived from config space */
  from: 'reset_method' | 'config-space' | 'unknown';
  /** functions of other devices a bus reset would also reset */
  busShared: PciAddressString[];
}

export function resetMethods(fn: PciFunction, inventory: PciInventory): ResetJudgement {
  const a = pciAddressOf(fn.address);
  const sameBus = inventory.functions.filter((o) => {
    const b = pciAddressOf(o.address);
    return b.domain === a.domain && b.bus === a.bus && b.slot !== a.slot;
  }).map((o) => o.address);
  if (fn.resetMethods !== null) return { methods: fn.resetMethods, from: 'reset_method', busShared: sameBus };
  const caps = fn.capabilities;
  if (!caps.standardReadable) return { methods: [], from: 'unknown', busShared: sameBus };
  const methods: string[] = [];
  if (caps.pcie?.flr) methods.push('flr');
  if (caps.af?.flr) methods.push('af_flr');
  if (caps.pm && !caps.pm.noSoftReset) methods.push('pm');
  // Secondary bus reset needs a parent bridge (devices on a root bus have none to reset them).
  if (fn.parentChain.length > 0 && !fn.physfn) methods.push('bus');
  return { methods, from: 'config-space', busShared: sameBus };
}

export function checkDevice(facts: HostFacts, inventory: PciInventory, address: string): Finding[] {
  const out: Finding[] = [];
  const fn = inventory.functions.find((f) => f.address === address);
  if (!fn) {
    return [devFinding(address, 'device-not-found', 'fail', 'no such PCI function on this host', [ev(hostPath(`sys/bus/pci/devices/${address}`), '(missing)')], { remedy: 'list the functions with `vfioctl ls`' })];
  }
  const name = label(fn);
  if (fn.isBridge) {
    out.push(devFinding(address, 'device-is-bridge', 'fail', `${name} is a PCI bridge or port: bridges stay on the host and cannot be assigned`, [ev(attr(address, 'class'), `0x${fn.class}`)], { remedy: 'assign the endpoint devices behind it instead (`vfioctl groups`)' }));
    return out;
  }

  // ----- IOMMU group -----
  if (fn.iommuGroup === null) {
    out.push(devFinding(address, 'device-group', 'fail', 'not in any IOMMU group: the kernel IOMMU is off (or does not cover this device)', [ev(attr(address, 'iommu_group'), '(missing)')], { remedy: 'fix the iommu-firmware / iommu-kernel findings (vfioctl doctor), reboot, and check again', fact: { id: `iommu-group:${address}`, value: 'none' } }));
  } else {
    const g = inventory.groups.find((x) => x.id === fn.iommuGroup);
    const others = g ? groupEndpoints(g).filter((m) => m !== address) : [];
    const bridges = g ? g.members.filter((m) => m.role === 'bridge').map((m) => m.address) : [];
    const gEv = [ev(hostPath(`sys/kernel/iommu_groups/${fn.iommuGroup}/devices`), g ? g.members.map((m) => `${m.address}${m.role === 'bridge' ? ' (bridge)' : ''}`).join(' ') : '?')];
    const byAddr = new Map(inventory.functions.map((f) => [f.address, f]));
    const sameDevice = others.filter((o) => o.slice(0, -2) === address.slice(0, -2));
    const foreign = others.filter((o) => !sameDevice.includes(o));
    const onHostDriver = others.filter((o) => {
      const d = byAddr.get(o)?.driver;
      return d && d !== 'vfio-pci';
    });
    if (!others.length) {
      out.push(devFinding(address, 'device-group', 'ok', `alone in IOMMU group ${fn.iommuGroup}${bridges.length ? ` (bridges that stay on the host: ${bridges.join(', ')})` : ''}`, gEv, { fact: { id: `iommu-group:${address}`, value: String(fn.iommuGroup) } }));
    } else {
      const sev: Severity = foreign.length ? 'warn' : 'info';
      const parts = [sameDevice.length ? `other functions of the same device: ${sameDevice.join(', ')}` : '', foreign.length ? `other devices: ${foreign.join(', ')}` : ''].filter(Boolean).join('; ');
      out.push(devFinding(address, 'device-group', sev, `IOMMU group ${fn.iommuGroup} also holds ${parts}: they go to the guest with it (or are bound to vfio-pci)${bridges.length ? `; bridges that stay: ${bridges.join(', ')}` : ''}`, gEv, {
        detail: 'A group is the unit of isolation: every endpoint in it must be claimed by vfio before any of them can be assigned ("group is not viable" otherwise).',
        fact: { id: `iommu-group:${address}`, value: String(fn.iommuGroup) },
        ...(onHostDriver.length ? { remedy: `these members are on host drivers now and will be detached: ${onHostDriver.map((o) => `${o} (${byAddr.get(o)?.driver})`).join(', ')}; plan it with \`vfioctl plan ${[address, ...others].join(' ')}\`` } : {}),
      }));
    }
    const critical = g ? g.hostCritical.filter((c) => c.address !== address) : [];
    if (critical.length) {
      out.push(devFinding(address, 'device-group-host-critical', 'warn', `group ${fn.iommuGroup} holds devices the host likely depends on: ${critical.map((c) => `${c.address} ${c.reason}`).join('; ')}`, gEv, {
        remedy: 'do not give this group away unless those devices are unused by the host; try another slot (a CPU-attached slot usually has its own group)',
      }));
    }
  }

  // ----- host driver -----
  const drvEv = [ev(attr(address, 'driver'), fn.driver ?? '(none)'), ev(attr(address, 'driver_override'), fn.driverOverride ?? '(null)')];
  if (fn.driver === 'vfio-pci') {
    out.push(devFinding(address, 'device-driver', 'ok', 'bound to vfio-pci: ready to be assigned', drvEv));
  } else if (!fn.driver) {
    out.push(devFinding(address, 'device-driver', 'ok', 'no host driver is using it', drvEv));
  } else {
    const critical = hostCriticalClass(fn.class);
    const sev: Severity = critical || (isDisplayClass(fn.class) && fn.bootVga) ? 'warn' : 'info';
    out.push(devFinding(address, 'device-driver', sev, `host driver ${fn.driver} is using it now; it will be unbound when the device is assigned${critical ? ` (${critical.reason})` : ''}`, drvEv, {
      ...(sev === 'warn' ? { remedy: 'make sure the host no longer needs it (disks mounted, console, network) before assigning it' } : {}),
    }));
  }
  if (fn.driverOverride && fn.driverOverride !== 'vfio-pci') {
    out.push(devFinding(address, 'device-driver-override', 'info', `driver_override is ${fn.driverOverride}: only that driver can bind it`, drvEv));
  }

  // ----- reset -----
  const r = resetMethods(fn, inventory);
  const rEv = [ev(r.from === 'reset_method' ? attr(address, 'reset_method') : attr(address, 'config'), r.from === 'unknown' ? '(capabilities not readable)' : r.methods.join(' ') || '(none)')];
  const functionLevel = r.methods.filter((m) => m !== 'bus');
  if (r.from === 'unknown') {
    // unknown is not "ok": it warns, and names what would tell
    const u = factUnknown(fn, 'flr');
    out.push(devFinding(address, 'device-reset', 'warn', `reset capability unknown: ${u ? u.reason : 'config space could not be read (run as root)'}`, rEv, {
      remedy: `read ${u?.source ?? attr(address, 'config')} as root (or ${attr(address, 'reset_method')}, kernel 5.15 or later)`,
    }));
  } else if (!r.methods.length) {
    out.push(devFinding(address, 'device-reset', 'warn', 'no reset mechanism: the device keeps its state between guests and may fail on a second guest start', rEv, {
      detail: 'vfio-pci resets a device when it is opened and released; without FLR, PM or bus reset the guest sees whatever the previous user left.',
      remedy: 'expect to reboot the host between guest runs, or use a device-specific reset module (vendor-reset for some AMD GPUs)',
    }));
  } else if (!functionLevel.length) {
    out.push(devFinding(address, 'device-reset', 'info', `only a bus reset is available${r.busShared.length ? `; it also resets ${r.busShared.join(', ')} (all must be owned by the same user)` : ''}`, rEv));
  } else {
    out.push(devFinding(address, 'device-reset', 'ok', `reset: ${r.methods.join(', ')}`, rEv));
  }
  if (fn.vendorId === '1002' && isDisplayClass(fn.class)) {
    out.push(devFinding(address, 'device-reset-quirk', 'info', 'AMD GPUs of several generations do not reset cleanly (the "reset bug")', rEv, { remedy: 'if the guest fails on its second start, use the vendor-reset module or reboot the host between runs' }));
  }
  const bug = resetBug(fn);
  if (bug) {
    // reset_method naming the fix's method first means the fix is in place (for this boot)
    const fixed = fn.resetMethods !== null && bug.order !== null && fn.resetMethods[0] === bug.order[0];
    out.push(fixed
      ? devFinding(address, 'device-reset-bug', 'ok', `${bug.family}: reset_method uses ${bug.order![0]} first (vendor-reset's reset)`, rEv)
      : devFinding(address, 'device-reset-bug', 'warn', bug.problem, rEv, { remedy: bug.fix.join('; then ') }));
  }

  // ----- expansion ROM -----
  const romUnknown = factUnknown(fn, 'hasRom');
  if (romUnknown) {
    out.push(devFinding(address, 'device-rom', 'info', `whether it has an expansion ROM is unknown (${romUnknown.reason})`, [ev(romUnknown.source, 'unknown')], {
      remedy: `check ${romUnknown.source} on the host`,
    }));
  } else if (fn.hasRom) {
    out.push(devFinding(address, 'device-rom', 'info', 'has an expansion ROM: the guest firmware runs it at boot', [ev(attr(address, 'rom'), 'present')], {
      detail: 'GPUs need their ROM for the guest firmware to show a screen. For other devices a ROM may slow or break guest boot: mask it with <rom bar=\'off\'/> inside the <hostdev>.',
    }));
  }

  // ----- boot display and framebuffers -----
  if (isVgaClass(fn.class) && fn.bootVga) {
    out.push(devFinding(address, 'device-boot-vga', 'warn', 'this is the boot display (boot_vga=1): the firmware and host console use it', [ev(attr(address, 'boot_vga'), '1')], {
      detail: 'Passing the boot GPU works, but the host loses its console and the firmware framebuffer may hold the GPU memory until it is released.',
      remedy: 'use another GPU (or the integrated one) for the host console and select it as primary display in the firmware, or plan for a headless host',
      fact: { id: `boot-vga:${address}`, value: 'yes' },
    }));
  }
  if (isDisplayClass(fn.class)) {
    const im = facts.iomem;
    if (im.state === 'ok') {
      const fbs = framebuffersInBars(im.value, address);
      if (fbs.length) {
        out.push(devFinding(address, 'device-framebuffer', 'warn', `a firmware framebuffer (${[...new Set(fbs.map((f) => f.fb.name))].join(', ')}) holds part of its BAR memory: vfio-pci will log "BAR N: can't reserve"`, fbs.map((f) => ev(im.source, `${f.bar.start}-${f.bar.end} : ${address} > ${f.fb.start}-${f.fb.end} : ${f.fb.name}`)), {
          remedy: cmdlineRemedy(facts.boot, { add: ['video=efifb:off', 'initcall_blacklist=sysfb_init'] }),
          fact: { id: `firmware-framebuffer:${address}`, value: 'yes' },
        }));
      } else {
        out.push(devFinding(address, 'device-framebuffer', 'ok', 'no firmware framebuffer inside its BARs', [ev(im.source, `no efifb/simplefb/simpledrm/vesafb/BOOTFB under ${address}`)], { fact: { id: `firmware-framebuffer:${address}`, value: 'no' } }));
      }
    } else {
      out.push(devFinding(address, 'device-framebuffer', 'info', 'framebuffer ownership unknown: /proc/iomem not readable', [ev(im.source, im.state === 'absent' ? '(missing)' : `(unreadable: ${im.code})`)], { fact: { id: `firmware-framebuffer:${address}`, value: 'unknown' } }));
    }
  }

  // ----- conventional PCI -----
  const caps = fn.capabilities;
  const conventional = caps.standardReadable && !caps.pcie;
  const behindPciBridge = fn.parentChain.some((p) => {
    const b = inventory.functions.find((f) => f.address === p);
    return b?.capabilities.pcie?.portType === 'pcie-to-pci-bridge' || (b && b.capabilities.standardReadable && !b.capabilities.pcie && b.isBridge);
  });
  if (conventional || behindPciBridge) {
    out.push(devFinding(address, 'device-conventional-pci', 'warn', 'conventional (parallel) PCI device: assignment is possible but limited', [ev(attr(address, 'config'), conventional ? 'no PCI Express capability' : `behind a PCIe-to-PCI bridge (${fn.parentChain.join(' > ')})`)], {
      detail: 'Conventional PCI devices share the bridge\'s requester ID (so the whole bus forms one group), often share interrupt lines (INTx), and seldom have a function-level reset.',
    }));
  }
  if (caps.standardReadable && !caps.msi && !caps.msix && !fn.physfn) {
    out.push(devFinding(address, 'device-interrupts', 'info', 'INTx only (no MSI/MSI-X): vfio needs INTx masking or an unshared interrupt line', [ev(attr(address, 'config'), 'no MSI or MSI-X capability')]));
  }

  // ----- SR-IOV -----
  if (fn.sriov && fn.sriov.totalVfs > 0) {
    out.push(devFinding(address, 'device-sriov', 'info', `SR-IOV physical function: ${fn.sriov.numVfs} of ${fn.sriov.totalVfs} virtual functions enabled`, [ev(attr(address, 'sriov_numvfs'), String(fn.sriov.numVfs))], {
      detail: 'Usually the VFs are assigned and the PF stays on its host driver (it manages the VFs). VFs created through sriov_numvfs disappear at reboot unless that is persisted.',
    }));
  }
  if (fn.physfn) {
    const pf = inventory.functions.find((f) => f.address === fn.physfn);
    out.push(devFinding(address, 'device-sriov', 'info', `SR-IOV virtual function of ${fn.physfn}${pf?.driver ? ` (PF driver ${pf.driver} stays on the host)` : ''}`, [ev(attr(address, 'physfn'), fn.physfn)], {
      detail: 'The VF exists only while the PF driver keeps it; removing or resetting the PF takes every VF away from its guest.',
    }));
  }

  // ----- power -----
  if (fn.powerState && /^D3/.test(fn.powerState)) {
    out.push(devFinding(address, 'device-power', fn.powerState === 'D3cold' ? 'warn' : 'info', `in power state ${fn.powerState} now`, [ev(attr(address, 'power_state'), fn.powerState), ev(attr(address, 'd3cold_allowed'), fn.d3coldAllowed === null ? '?' : fn.d3coldAllowed ? '1' : '0')], {
      detail: 'Devices that do not wake from D3cold make guests fail with "Unable to change power state from D3cold to D0, device inaccessible".',
      remedy: `if it does not come back, keep it out of D3: echo 0 > ${attr(address, 'd3cold_allowed')}, or boot with vfio-pci.disable_idle_d3=1`,
    }));
  }
  return out;
}
