/**
 * `vfioctl explain "<message>"`: map the error messages people meet around device assignment (kernel
 * log, QEMU, libvirt, Windows Device Manager) to their cause and fix, citing this host's own facts when
 * they are given. Pure: a pattern table plus fact lookups.
 */
import { UNSAFE_INTERRUPTS_FILE } from './host-files.js';
import type { Evidence } from '../model/finding.js';
import type { HostFacts } from '../model/host-facts.js';
import type { PciInventory } from '../model/pci-function.js';
import { canonicalPciAddress } from '../model/pci-address.js';
import { hostVendor, interruptRemappingState } from './doctor.js';
import { framebuffersInBars, resetMethods } from './doctor-device.js';
import { formatKernelParam, normKey } from './doctor-cmdline.js';
import { hostPath } from './doctor-remedy.js';

export interface Explanation {
  /** stable id of the message kind, e.g. "group-not-viable" */
  id: string;
  /** the message as usually printed */
  title: string;
  /** the part of the input that matched */
  matched: string;
  cause: string;
  fix: string;
  /** facts of this host that bear on it (empty when no host was read) */
  facts: Evidence[];
  /** doctor finding ids to look at */
  related: string[];
}

interface Context {
  m: RegExpExecArray;
  text: string;
  facts: HostFacts | undefined;
  inventory: PciInventory | undefined;
  /** PCI addresses named in the text (canonical) */
  addresses: string[];
}

interface Pattern {
  id: string;
  title: string;
  re: RegExp;
  cause: (c: Context) => string;
  fix: (c: Context) => string;
  cite?: (c: Context) => Evidence[];
  related: string[];
}

function ev(source: string, value: string): Evidence {
  return { source, value };
}

function param(facts: HostFacts, key: string): string | null {
  const k = normKey(key);
  const hits = facts.kernel.params.filter((p) => normKey(p.key) === k);
  const last = hits[hits.length - 1];
  return last ? formatKernelParam(last) : null;
}

function groupFacts(c: Context, group: number): Evidence[] {
  const inv = c.inventory;
  if (!inv) return [];
  const g = inv.groups.find((x) => x.id === group);
  if (!g) return [ev(hostPath(`sys/kernel/iommu_groups/${group}`), inv.groups.length ? '(no such group on this host)' : '(this host has no IOMMU groups)')];
  const byAddr = new Map(inv.functions.map((f) => [f.address, f]));
  return g.members.map((m) => {
    const f = byAddr.get(m.address);
    const drv = f?.driver ?? 'no driver';
    const verdict = m.role === 'bridge' ? 'bridge: stays on the host, fine' : drv === 'vfio-pci' ? 'claimed by vfio-pci' : f?.driver ? `BLOCKS: on host driver ${drv}` : 'unbound (fine)';
    return ev(hostPath(`sys/kernel/iommu_groups/${group}/devices/${m.address}`), `${m.address} ${m.role}, ${verdict}`);
  });
}

function deviceFacts(c: Context, what: (addr: string) => Evidence[]): Evidence[] {
  if (!c.inventory) return [];
  return c.addresses.flatMap(what);
}

function iommuFacts(facts: HostFacts, inv: PciInventory | undefined): Evidence[] {
  const out: Evidence[] = [];
  if (inv) out.push(ev(hostPath('sys/kernel/iommu_groups'), inv.groups.length ? `${inv.groups.length} groups` : '(no groups: the kernel IOMMU is off)'));
  out.push(ev(hostPath('sys/firmware/acpi/tables'), facts.acpi.dmar ? 'DMAR present' : facts.acpi.ivrs ? 'IVRS present' : 'no DMAR/IVRS table'));
  for (const k of ['intel_iommu', 'amd_iommu', 'iommu']) {
    const p = param(facts, k);
    if (p) out.push(ev(facts.kernel.cmdline.source, p));
  }
  return out;
}

const CODE43_NVIDIA = "<features><hyperv><vendor_id state='on' value='0123456789ab'/></hyperv><kvm><hidden state='on'/></kvm></features>";

const PATTERNS: Pattern[] = [
  {
    id: 'group-not-viable',
    title: 'group N is not viable',
    re: /group (\d+) is not viable/i,
    cause: (c) => `Another endpoint device in IOMMU group ${c.m[1]} is still bound to a host driver. vfio can only use a group when every endpoint in it is bound to vfio-pci (or has no driver); bridges do not count.`,
    fix: (c) => `bind every endpoint of group ${c.m[1]} to vfio-pci (and give them all to the same guest): \`vfioctl plan\` with all of them shows the steps; bridges stay on the host`,
    cite: (c) => groupFacts(c, Number(c.m[1])),
    related: ['device-group'],
  },
  {
    id: 'bar-cant-reserve',
    title: "BAR N: can't reserve [mem ...]",
    re: /BAR (\d+): can'?t reserve/i,
    cause: () => 'Part of the device\'s memory (usually a GPU\'s BAR) is still claimed by a firmware framebuffer driver (efifb, simplefb, simpledrm, vesafb) that the host console started on it at boot.',
    fix: () => 'keep the firmware framebuffer off that GPU: add video=efifb:off (older kernels) or initcall_blacklist=sysfb_init (kernels with simpledrm) to the kernel command line and reboot; or make another GPU the primary display in the firmware',
    cite: (c) => {
      const f = c.facts;
      if (!f) return [];
      const out: Evidence[] = [];
      if (f.iomem.state === 'ok') {
        const addrs = c.addresses.length ? c.addresses : (c.inventory?.functions.filter((x) => x.class.startsWith('03')).map((x) => x.address) ?? []);
        for (const a of addrs) for (const h of framebuffersInBars(f.iomem.value, a)) out.push(ev(f.iomem.source, `${a}: ${h.fb.name} at ${h.fb.start}-${h.fb.end} inside BAR ${h.bar.start}-${h.bar.end}`));
        if (!out.length) out.push(ev(f.iomem.source, 'no framebuffer inside a display device\'s BAR now'));
      }
      for (const k of ['video', 'initcall_blacklist']) {
        const p = param(f, k);
        if (p) out.push(ev(f.kernel.cmdline.source, p));
      }
      return out;
    },
    related: ['device-framebuffer', 'device-boot-vga'],
  },
  {
    id: 'no-interrupt-remapping',
    title: 'No interrupt remapping support',
    re: /No interrupt remapping support|allow_unsafe_interrupts to enable VFIO IOMMU support|failed to set iommu for container: Operation not permitted/i,
    cause: () => 'vfio_iommu_type1 refuses to attach a device because the platform has no (enabled) interrupt remapping: a guest could otherwise inject interrupts into the host.',
    fix: () => `enable interrupt remapping (firmware: VT-d / "Interrupt Remapping" / x2APIC; remove intremap=off), or, for fully trusted guests only and as a security downgrade: \`vfioctl host enable-iommu --allow-unsafe-interrupts\` (writes ${UNSAFE_INTERRUPTS_FILE} and rebuilds the initramfs), then reboot`,
    cite: (c) => {
      const f = c.facts;
      if (!f) return [];
      const ir = interruptRemappingState(f, hostVendor(f));
      const out = [ev('interrupt remapping', `${ir.state} (${ir.why})`), ...ir.evidence];
      const a = f.allowUnsafeInterrupts;
      out.push(ev(a.source, a.state === 'ok' ? a.value : `(${a.state})`));
      return out;
    },
    related: ['interrupt-remapping', 'security-unsafe-interrupts'],
  },
  {
    id: 'rmrr-ineligible',
    title: 'Device is ineligible for IOMMU domain attach due to platform RMRR requirement',
    re: /ineligible for IOMMU domain attach|platform RMRR requirement/i,
    cause: () => 'The firmware reserves memory (an ACPI RMRR) for this device that it may keep using (management controllers, some HP/HPE and Dell servers, integrated GPUs and USB on some boards). Linux refuses to give such a device to a guest.',
    fix: () => 'use a different slot or device; some vendors let the firmware drop the reservation (HPE: disable "shared memory" for the card with their conrep tool; check the NIC/RAID firmware options); patched kernels that relax RMRR checks weaken isolation',
    cite: (c) => deviceFacts(c, (a) => {
      const f = c.inventory?.functions.find((x) => x.address === a);
      return f ? [ev(hostPath(`sys/bus/pci/devices/${a}`), `${f.names.vendor ?? f.vendorId} ${f.names.device ?? f.deviceId}, group ${f.iommuGroup ?? '-'}`)] : [];
    }),
    related: ['security-rmrr-relaxed'],
  },
  {
    id: 'stuck-in-d3',
    title: 'Unable to change power state from D3cold to D0, device inaccessible',
    re: /Unable to change power state from (D3\w*) to D0|stuck in D3|refused to change power state|D3cold.*inaccessible/i,
    cause: () => 'The device went to a low-power state (D3hot/D3cold) while idle on vfio-pci and does not come back; common with some GPUs and NVMe drives.',
    fix: (c) => {
      const a = c.addresses[0] ?? 'ADDR';
      return `keep vfio-pci from putting idle devices in D3: boot with vfio-pci.disable_idle_d3=1 (or options vfio-pci disable_idle_d3=1 in /etc/modprobe.d), and forbid D3cold for the device: echo 0 > /sys/bus/pci/devices/${a}/d3cold_allowed`;
    },
    cite: (c) => deviceFacts(c, (a) => {
      const f = c.inventory?.functions.find((x) => x.address === a);
      return f ? [ev(hostPath(`sys/bus/pci/devices/${a}/power_state`), f.powerState ?? '?'), ev(hostPath(`sys/bus/pci/devices/${a}/d3cold_allowed`), f.d3coldAllowed === null ? '?' : f.d3coldAllowed ? '1' : '0')] : [];
    }),
    related: ['device-power'],
  },
  {
    id: 'no-reset',
    title: 'no available reset mechanism',
    re: /no available reset mechanism|no reset method|Failed to reset device|unable to reset|cannot reset device/i,
    cause: () => 'The device offers no reset vfio can use (no function-level reset, no PM reset, and no bus reset because other devices share the bus or it sits on the root bus), so its state cannot be cleared between users.',
    fix: () => 'put the device in a slot where it is alone behind its bridge (bus reset), use a device-specific reset (vendor-reset for some AMD GPUs), or reboot the host between guest runs',
    cite: (c) => deviceFacts(c, (a) => {
      const f = c.inventory?.functions.find((x) => x.address === a);
      if (!f || !c.inventory) return [];
      const r = resetMethods(f, c.inventory);
      return [ev(hostPath(`sys/bus/pci/devices/${a}/${r.from === 'reset_method' ? 'reset_method' : 'config'}`), r.methods.join(' ') || '(none)')];
    }),
    related: ['device-reset'],
  },
  {
    id: 'migration-hostdev',
    title: 'domain has assigned non-USB host devices',
    re: /domain has assigned non-USB host devices|cannot migrate a domain with <hostdev/i,
    cause: () => 'libvirt refuses to live-migrate a guest that has a PCI device assigned: the device\'s state lives in hardware on this host.',
    fix: () => 'detach the device before migrating (virsh detach-device GUEST hostdev.xml --live) and attach an equivalent one on the destination; for NICs, a virtio + VF failover pair keeps the network up during the switch',
    related: [],
  },
  {
    id: 'windows-code-43',
    title: 'Windows Device Manager: Code 43',
    re: /\b(code|error)\s*43\b/i,
    cause: () => 'Windows stopped the device driver. With NVIDIA consumer GPUs and drivers older than R465 the driver refuses to run once it detects a hypervisor; with AMD GPUs it usually means the GPU was not reset or its ROM was missing.',
    fix: () => `NVIDIA: update the guest driver (R465 or newer supports VMs), or hide the hypervisor in the domain XML: ${CODE43_NVIDIA}; AMD/other: make sure the GPU is reset (device-reset) and the guest gets its ROM (no <rom bar='off'/>), and pass the GPU's audio function with it`,
    cite: (c) => deviceFacts(c, (a) => {
      const f = c.inventory?.functions.find((x) => x.address === a);
      return f ? [ev(hostPath(`sys/bus/pci/devices/${a}/vendor`), `${f.vendorId}${f.vendorId === '10de' ? ' (NVIDIA)' : f.vendorId === '1002' ? ' (AMD)' : ''}`)] : [];
    }),
    related: ['device-reset', 'device-rom'],
  },
  {
    id: 'no-iommu',
    title: 'VFIO device assignment is currently not supported on this system',
    re: /VFIO device assignment is currently not supported|host doesn'?t support passthrough of host PCI devices|probe of \S+ failed with error -22|No IOMMU group|no iommu_group found/i,
    cause: () => 'The kernel has no usable IOMMU: it is off in the firmware, off on the kernel command line (or not on by default), or this is a VM without a virtual IOMMU.',
    fix: () => 'run `vfioctl doctor`: it names the missing step (firmware VT-d/AMD-Vi, intel_iommu=on, reboot pending) with this host\'s own commands',
    cite: (c) => (c.facts ? iommuFacts(c.facts, c.inventory) : []),
    related: ['iommu-firmware', 'iommu-kernel', 'viommu'],
  },
  {
    id: 'vfio-group-missing',
    title: 'failed to open /dev/vfio/N: No such file or directory',
    re: /failed to open \/dev\/vfio\/(\d+)|\/dev\/vfio\/(\d+): No such file/i,
    cause: (c) => `/dev/vfio/${c.m[1] ?? c.m[2]} exists only while a device of that group is bound to vfio-pci; none is now (or the group number changed after a hardware change).`,
    fix: () => 'bind the device to vfio-pci first (managed=\'yes\' in libvirt does it at guest start), and read group numbers again after any hardware or firmware change',
    cite: (c) => {
      const n = Number(c.m[1] ?? c.m[2]);
      const out = groupFacts(c, n);
      if (c.facts) out.push(ev(c.facts.devVfio.source, c.facts.devVfio.state === 'ok' ? c.facts.devVfio.value.join(' ') || '(empty)' : `(${c.facts.devVfio.state})`));
      return out;
    },
    related: ['vfio-device-node', 'device-driver'],
  },
  {
    id: 'memlock',
    title: 'vfio_dma_map(...) = -12 (Cannot allocate memory)',
    re: /vfio_dma_map\([^)]*\)\s*=\s*-12|Cannot allocate memory.*vfio|locked memory limit|RLIMIT_MEMLOCK/i,
    cause: () => 'QEMU must pin all guest RAM for an assigned device; its locked-memory limit (RLIMIT_MEMLOCK) is smaller than the guest.',
    fix: () => 'under libvirt this is handled automatically (check <memoryBacking> and hard_limit); when running QEMU directly raise the limit for its user (ulimit -l, or memlock in /etc/security/limits.d/) to at least guest RAM + 1 GiB',
    cite: (c) => (c.facts ? c.facts.memlock.map((l) => ev(`${hostPath(l.file)}:${l.line}`, `${l.domain} ${l.type} memlock ${l.value}`)) : []),
    related: ['memlock'],
  },
];

/** PCI addresses named in a message, canonical. */
function addressesIn(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\b(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\b|\bpci_[0-9a-fA-F]{4}_[0-9a-fA-F]{2}_[0-9a-fA-F]{2}_[0-7]\b/g)) {
    const c = canonicalPciAddress(m[0]);
    if (c) out.add(c);
  }
  return [...out];
}

export function explainError(text: string, facts?: HostFacts, inventory?: PciInventory): Explanation[] {
  const out: Explanation[] = [];
  const addresses = addressesIn(text);
  for (const p of PATTERNS) {
    const m = p.re.exec(text);
    if (!m) continue;
    const c: Context = { m, text, facts, inventory, addresses };
    out.push({ id: p.id, title: p.title, matched: m[0], cause: p.cause(c), fix: p.fix(c), facts: facts && p.cite ? p.cite(c) : [], related: p.related });
  }
  return out;
}

/** Every message kind explain knows (for `vfioctl explain --list` and the docs). */
export function knownMessages(): { id: string; title: string }[] {
  return PATTERNS.map((p) => ({ id: p.id, title: p.title }));
}
