/**
 * Host-impact analysis: for each function a plan would take from the host, what the host would lose —
 * its boot/root disks and mounted filesystems, the NIC carrying its default route or an address, its
 * console GPU and framebuffer, the USB (or other) controller of its keyboard and mouse, and platform
 * devices. Pure: facts come in (HostImpactFacts, inventory), findings go out.
 */
import type { Evidence, Finding } from '../model/finding.js';
import type { HostImpactFacts } from '../model/host-impact.js';
import type { PciAddressString } from '../model/pci-address.js';
import type { PciFunction, PciInventory } from '../model/pci-function.js';
import { classParts, hostCriticalClass, isNetworkClass, isStorageClass, isVgaClass } from '../model/pci-class.js';

/** A display controller that can drive a screen: VGA (0300), XGA (0301), other display (0380); not a 3D controller (0302). */
export function isConsoleDisplayClass(cls: string): boolean {
  const { base, sub } = classParts(cls);
  return base === 0x03 && (sub === 0x00 || sub === 0x01 || sub === 0x80);
}

/**
 * Whether the boot display flag of a VGA function is unknown: an imported listing that cannot tell it, or
 * a boot_vga file that exists but could not be read. (The kernel gives every VGA-class function a boot_vga
 * file, so on a read tree its absence is not a missing fact.)
 */
function bootVgaUnknown(inventory: PciInventory, fn: PciFunction): boolean {
  if (fn.bootVga !== null) return false;
  if (inventory.source.kind !== 'sysfs') return inventory.source.unknown.some((u) => /^boot VGA\b/.test(u));
  return fn.problems.some((p) => p.attribute === 'boot_vga');
}

function isUsbClass(cls: string): boolean {
  const { base, sub } = classParts(cls);
  return base === 0x0c && sub === 0x03;
}

/** Controllers keyboards hang off: USB, other serial buses (I2C HID), input device controllers (09xx). */
function isInputBusClass(cls: string): boolean {
  const { base, sub } = classParts(cls);
  return isUsbClass(cls) || (base === 0x0c && sub === 0x80) || base === 0x09;
}

export interface HostImpactOptions {
  /** The user accepts the losses: blockers become warnings. */
  force?: boolean;
  /** Why a function is claimed (e.g. "shares IOMMU group 12 with 0000:03:00.0"), for messages. */
  why?: ReadonlyMap<string, string>;
  /** Functions claimed only as companions of a requested function's slot (--single-function leaves them). */
  companions?: ReadonlySet<string>;
}

/** Mount points whose loss takes the host down (or makes it unbootable). */
const SYSTEM_MOUNTS = new Set(['/', '/boot', '/boot/efi', '/efi', '/usr', '/var']);

function describe(fn: PciFunction | undefined, address: string): string {
  const name = fn?.names.device ?? fn?.names.subclassName ?? null;
  return name ? `${address} (${name})` : address;
}

function isLinkLocalOrLoopback(addr: string): boolean {
  const a = addr.toLowerCase();
  return a.startsWith('fe80:') || a === '::1' || a.startsWith('127.') || a.startsWith('169.254.');
}

function list(items: readonly string[], max = 6): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Findings for every host dependency on the claimed functions. Blockers are `fail` unless forced. */
export function checkHostImpact(inventory: PciInventory, claim: readonly PciAddressString[], facts: HostImpactFacts | undefined, opts: HostImpactOptions = {}): Finding[] {
  const out: Finding[] = [];
  const byAddress = new Map(inventory.functions.map((f) => [f.address as string, f]));
  const blocker = opts.force ? 'warn' : 'fail';
  const forceNote = opts.force ? ' (accepted with --force)' : '';
  const forceRemedy = (keep: string): string =>
    opts.force ? `make sure the host can do without it before applying; ${keep}` : `${keep}, or pass --force if the host can do without it`;
  const whyEvidence = (a: string): Evidence[] => {
    const why = opts.why?.get(a);
    return why ? [{ source: 'plan', value: why }] : [];
  };

  const claimSet = new Set<string>(claim);
  // keyboards that stay with the host whatever is claimed: platform ones (i8042) and those on other functions
  const remainingKeyboards = [...(facts?.inputs ?? []), ...(facts?.platformInputs ?? [])]
    .filter((i) => i.kind === 'keyboard' && !i.pciAncestors.some((a) => claimSet.has(a)));
  for (const address of claim) {
    const fn = byAddress.get(address);
    const label = describe(fn, address);
    const keep = `leave ${address} on the host (choose another device${opts.why?.has(address) ? ' or one in another IOMMU group' : ''}${opts.companions?.has(address) ? '; --single-function keeps the other functions of the slot on the host' : ''})`;

    // Platform devices: by class; nothing reads "what the host uses them for", they are always in use.
    const critical = fn ? hostCriticalClass(fn.class) : null;
    if (critical && critical.kind !== 'storage') {
      out.push({
        id: 'host-impact-platform-device',
        severity: blocker,
        summary: `${label} is a ${critical.reason}: the host would lose it${forceNote}`,
        evidence: [{ source: `class ${fn?.class ?? '?'}`, value: critical.reason }, ...whyEvidence(address)],
        remedy: forceRemedy(keep),
        subjects: [address],
        category: 'host-impact',
      });
    }

    // Disks.
    if (facts?.sources.block) {
      const disks = facts.block.filter((b) => b.pciAncestors.includes(address));
      const mounts = disks.flatMap((b) => b.mounts.map((m) => ({ disk: b.name, ...m })));
      const swaps = disks.filter((b) => b.swap).map((b) => b.name);
      const system = mounts.filter((m) => SYSTEM_MOUNTS.has(m.mountPoint));
      const uniq = (xs: string[]): string[] => [...new Set(xs)];
      if (system.length || swaps.length) {
        const what = uniq(system.map((m) => m.mountPoint)).concat(swaps.length ? ['swap'] : []);
        out.push({
          id: 'host-impact-boot-disk',
          severity: blocker,
          summary: `${label} holds the host's ${list(what)} (${list(uniq([...system.map((m) => m.disk), ...swaps]))}): the host would lose its system disk${forceNote}`,
          evidence: [...system.map((m) => ({ source: 'mounts', value: `${m.source} on ${m.mountPoint} type ${m.fsType}` })), ...swaps.map((s) => ({ source: 'proc/swaps', value: s })), ...whyEvidence(address)],
          remedy: forceRemedy(keep),
          subjects: [address],
          category: 'host-impact',
        });
      }
      const other = mounts.filter((m) => !SYSTEM_MOUNTS.has(m.mountPoint));
      if (other.length) {
        out.push({
          id: 'host-impact-mounted-disk',
          severity: blocker,
          summary: `${label} holds mounted filesystems ${list(uniq(other.map((m) => m.mountPoint)))}: the host would lose them while mounted${forceNote}`,
          evidence: [...other.map((m) => ({ source: 'mounts', value: `${m.source} on ${m.mountPoint} type ${m.fsType}` })), ...whyEvidence(address)],
          remedy: opts.force ? `unmount ${list(uniq(other.map((m) => m.mountPoint)))} before applying` : `unmount them and remove them from /etc/fstab first, ${keep}, or pass --force`,
          subjects: [address],
          category: 'host-impact',
        });
      }
      const idle = disks.filter((b) => !b.mounts.length && !b.swap && !mounts.some((m) => m.disk === b.name));
      if (idle.length && !system.length && !other.length && !swaps.length) {
        out.push({
          id: 'host-impact-unmounted-disk',
          severity: 'warn',
          summary: `${label} has disks the host does not use now (${list(idle.map((b) => b.name))}): the guest will be able to read and write them`,
          evidence: idle.map((b) => ({ source: 'sys/class/block', value: b.name })),
          remedy: 'make sure nothing on these disks is needed by the host (fstab, RAID, LVM)',
          subjects: [address],
          category: 'host-impact',
        });
      }
    } else if (fn && isStorageClass(fn.class)) {
      out.push({
        id: 'host-impact-storage-unchecked',
        severity: 'warn',
        summary: `${label} is a storage controller and the host's disks could not be checked`,
        evidence: [{ source: `class ${fn.class}`, value: 'storage controller' }, ...whyEvidence(address)],
        remedy: 'plan on the host itself (not an imported listing) so mounts can be checked, or verify with lsblk that no host disk sits on it',
        subjects: [address],
        category: 'host-impact',
      });
    }

    // Network.
    if (facts?.sources.routes) {
      const ifs = facts.net.filter((n) => n.pciAncestors.includes(address));
      const routed = ifs.filter((n) => n.defaultRoute);
      if (routed.length) {
        out.push({
          id: 'host-impact-default-route',
          severity: blocker,
          summary: `${label} carries the host's default route (${list(routed.map((n) => [n.name, ...n.upper].join(' via ')))}): the host would lose its network${forceNote}`,
          evidence: [...routed.map((n) => ({ source: 'proc/net/route', value: `default via ${[n.name, ...n.upper].join(' / ')}` })), ...whyEvidence(address)],
          remedy: forceRemedy(keep),
          subjects: [address],
          category: 'host-impact',
        });
      }
      const addressed = ifs.filter((n) => !n.defaultRoute && n.addresses.some((a) => !isLinkLocalOrLoopback(a)));
      if (addressed.length) {
        const addrs = addressed.flatMap((n) => n.addresses.filter((a) => !isLinkLocalOrLoopback(a)).map((a) => `${a} on ${n.name}`));
        out.push({
          id: 'host-impact-management-nic',
          severity: blocker,
          summary: `${label} carries host addresses (${list(addrs, 4)}): the host would lose them${forceNote}`,
          evidence: [...addrs.map((a) => ({ source: 'addresses', value: a })), ...whyEvidence(address)],
          remedy: forceRemedy(keep),
          subjects: [address],
          category: 'host-impact',
        });
      }
    } else if (fn && isNetworkClass(fn.class) && facts === undefined) {
      out.push({
        id: 'host-impact-network-unchecked',
        severity: 'info',
        summary: `${label} is a network controller; whether the host uses it could not be checked`,
        evidence: [{ source: `class ${fn.class}`, value: 'network controller' }],
        remedy: 'plan on the host itself so routes and addresses can be checked',
        subjects: [address],
        category: 'host-impact',
      });
    }

    // Console GPU and framebuffers.
    const fbs = facts?.framebuffers.filter((f) => f.pci === address) ?? [];
    if (fn?.bootVga || fbs.length) {
      const ev: Evidence[] = [];
      if (fn?.bootVga) ev.push({ source: 'boot_vga', value: '1' });
      for (const f of fbs) ev.push({ source: f.via === 'iomem' ? 'proc/iomem' : 'sys/class/graphics', value: `${f.name}: ${f.driver}` });
      const firmwareFb = fbs.filter((f) => /efi|simple|vesa|bootfb/i.test(f.driver));
      out.push({
        id: 'host-impact-console-gpu',
        severity: blocker,
        summary: `${label} is the host's console GPU${fbs.length ? ` (framebuffer ${list(fbs.map((f) => `${f.name} ${f.driver}`))})` : ' (boot VGA)'}: the host would lose its screen${forceNote}`,
        detail: firmwareFb.length
          ? 'A firmware framebuffer (efifb/simplefb/simpledrm) holds the GPU memory; without video=efifb:off (or initcall_blacklist=sysfb_init) vfio-pci fails with "BAR N: can\'t reserve".'
          : undefined,
        evidence: [...ev, ...whyEvidence(address)],
        remedy: forceRemedy(`${keep}, or make another GPU the boot display in the firmware settings`),
        subjects: [address],
        category: 'host-impact',
        fact: { id: `host-console:${address}`, value: 'yes' },
      });
    } else if (fn && isVgaClass(fn.class) && (bootVgaUnknown(inventory, fn) || !facts?.sources.framebuffers)) {
      // partial data (a pasted listing, a tree without proc/fb): never "not the console"
      const tell = [
        ...(bootVgaUnknown(inventory, fn) ? [`/sys/bus/pci/devices/${address}/boot_vga (1: the firmware's boot display)`] : []),
        ...(!facts?.sources.framebuffers ? ['/proc/fb and /proc/iomem (a framebuffer console on it)'] : []),
      ];
      out.push({
        id: 'host-impact-console-unknown',
        severity: 'warn',
        summary: `${label} is a VGA controller and whether it is the host's console display is unknown: ${list(tell)} would tell`,
        evidence: [{ source: `class ${fn.class}`, value: 'VGA compatible controller' }, ...whyEvidence(address)],
        remedy: 'plan on the host itself (not an imported listing), or check those files before applying',
        subjects: [address],
        category: 'host-impact',
        fact: { id: `host-console:${address}`, value: 'unknown' },
      });
    }

    // Input devices: the controller of the host's only keyboard is a blocker; other inputs a warning.
    const inputs = facts?.inputs.filter((i) => i.kind !== 'other' && i.pciAncestors.includes(address)) ?? [];
    if (inputs.length) {
      const keyboards = inputs.filter((i) => i.kind === 'keyboard');
      const onlyKeyboard = keyboards.length > 0 && remainingKeyboards.length === 0;
      const kinds = [...new Set(inputs.map((i) => i.kind))];
      out.push({
        id: 'host-impact-input-controller',
        severity: onlyKeyboard ? blocker : 'warn',
        summary: onlyKeyboard
          ? `${label} connects the host's only keyboard (${list(inputs.map((i) => i.name), 3)}): the host would lose local input${forceNote}`
          : `${label} connects the host's ${list(kinds)} (${list(inputs.map((i) => i.name), 3)}): the guest takes ${inputs.length > 1 ? 'them' : 'it'}${keyboards.length ? `; the host keeps ${list(remainingKeyboards.map((k) => k.name), 2)}` : ''}`,
        evidence: [...inputs.map((i) => ({ source: `sys/class/input/${i.id}`, value: `${i.name}${i.classes ? ` (${i.classes.join(', ') || 'no input class'})` : ''}` })), ...whyEvidence(address)],
        remedy: onlyKeyboard
          ? forceRemedy(`${keep}, or move the keyboard to a port of another controller`)
          : 'make sure the host does not need these input devices (or plug them into another controller)',
        subjects: [address],
        category: 'host-impact',
        fact: { id: `host-keyboard-lost:${address}`, value: onlyKeyboard ? 'yes' : 'no' },
      });
    } else if (fn && isInputBusClass(fn.class) && !facts?.sources.inputs) {
      out.push({
        id: 'host-impact-input-unknown',
        severity: 'warn',
        summary: `${label} is a ${isUsbClass(fn.class) ? 'USB' : 'serial bus or input'} controller and whether the host's keyboard hangs off it is unknown: /proc/bus/input/devices (or /sys/class/input) would tell`,
        evidence: [{ source: `class ${fn.class}`, value: isUsbClass(fn.class) ? 'USB controller' : 'serial bus / input controller' }, ...whyEvidence(address)],
        remedy: 'plan on the host itself, or check which controller the keyboard uses (ls -l /sys/class/input/*/device, lsusb -t) before applying',
        subjects: [address],
        category: 'host-impact',
        fact: { id: `host-keyboard-lost:${address}`, value: 'unknown' },
      });
    }
  }

  // The host's last display: claiming every console-capable display controller leaves the host without one.
  const displays = inventory.functions.filter((f) => isConsoleDisplayClass(f.class));
  const claimedDisplays = displays.filter((f) => claimSet.has(f.address));
  if (claimedDisplays.length && claimedDisplays.length === displays.length) {
    const integrated = claimedDisplays.filter((f) => f.parentChain.length === 0);
    const labels = claimedDisplays.map((f) => describe(f, f.address));
    const listing = inventory.source.kind === 'sysfs' ? 'this host has' : 'the listing shows';
    out.push({
      id: 'host-impact-last-display',
      severity: blocker,
      summary: `${list(labels)} ${claimedDisplays.length > 1 ? 'are' : 'is'} the host's only display controller${claimedDisplays.length > 1 ? 's' : ''}${integrated.length ? ` (${integrated.length === claimedDisplays.length ? 'an integrated GPU' : 'with the integrated GPU'})` : ''}: the host would boot without a display${forceNote}`,
      detail: `${listing} no other VGA or display controller (3D controllers have no display outputs); once vfio-pci claims ${claimedDisplays.length > 1 ? 'them' : 'it'} at boot, the console, the login screen and firmware messages after the boot loader are gone.`,
      evidence: [...claimedDisplays.map((f) => ({ source: `class ${f.class}`, value: `${f.address}${f.parentChain.length === 0 ? ' (on the root bus: integrated)' : ''}` })), ...claimedDisplays.flatMap((f) => whyEvidence(f.address))],
      remedy: forceRemedy(`keep ${claimedDisplays.length > 1 ? 'one of them' : claimedDisplays[0]!.address} on the host (add a second GPU for the guest), or run the host headless over the network`),
      subjects: claimedDisplays.map((f) => f.address),
      category: 'host-impact',
      fact: { id: 'host-display-left', value: 'no' },
    });
  }
  return out;
}
