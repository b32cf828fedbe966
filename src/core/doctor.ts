/**
 * `vfioctl doctor`: is this host ready for PCI passthrough, and how safe is its setup? Pure checks over
 * HostFacts (src/host/read-host-facts.ts) and the PCI inventory; every check returns Findings with the
 * evidence it used and a remedy a person can paste (boot-loader-aware through doctor-remedy.ts).
 *
 * Finding ids are stable (docs/doctor.md lists them). Severity: ok (checked, fine), info (worth
 * knowing), warn (works, but risky or degraded), fail (passthrough will not work until fixed).
 */
import type { Evidence, Finding, Severity } from '../model/finding.js';
import { worstSeverity } from '../model/finding.js';
import type { PciInventory } from '../model/pci-function.js';
import { type Fact, type HostFacts, type KernelParam, type ModuleState, moduleName } from '../model/host-facts.js';
import {
  AMD_IOMMU_VALUES, INTEL_IOMMU_VALUES, X86_IOMMU_VALUES, cmdlineDifferences, formatKernelParam, kernelBool, likelyTypo, normKey, optionValues, paramOf,
} from './doctor-cmdline.js';
import { UNSAFE_INTERRUPTS_FILE } from './host-files.js';
import { VIOMMU_REMEDY, cmdlineRemedy, describeBoot, firmwareRemedy, hostPath, initramfsCommand } from './doctor-remedy.js';

export type DoctorVerdict = 'ready' | 'not-ready';

export interface DoctorSummary {
  ok: number;
  info: number;
  warn: number;
  fail: number;
  total: number;
}

export function summarize(findings: readonly Finding[]): { verdict: DoctorVerdict; summary: DoctorSummary } {
  const summary: DoctorSummary = { ok: 0, info: 0, warn: 0, fail: 0, total: findings.length };
  for (const f of findings) summary[f.severity]++;
  return { verdict: worstSeverity(findings) === 'fail' ? 'not-ready' : 'ready', summary };
}

// ---------------------------------------------------------------------------------------------------
// helpers

function ev(source: string, value: string): Evidence {
  return { source, value: value.length > 300 ? `${value.slice(0, 297)}...` : value };
}

function factEvidence<T>(f: Fact<T>, show: (v: T) => string): Evidence {
  if (f.state === 'ok') return ev(f.source, show(f.value));
  if (f.state === 'absent') return ev(f.source, '(missing)');
  return ev(f.source, `(unreadable: ${f.code})`);
}

function finding(id: string, category: string, severity: Severity, summary: string, evidence: Evidence[], extra: Partial<Pick<Finding, 'detail' | 'remedy' | 'subjects' | 'fact'>> = {}): Finding {
  const f: Finding = { id, severity, summary, evidence, category };
  if (extra.detail) f.detail = extra.detail;
  if (extra.remedy) f.remedy = extra.remedy;
  if (extra.subjects) f.subjects = extra.subjects;
  if (extra.fact) f.fact = extra.fact;
  return f;
}

/** The finding ids a finding refers to ("see ID", "see ID and ID"). */
export function referencedFindingIds(f: Pick<Finding, 'summary' | 'detail' | 'remedy'>): string[] {
  const out: string[] = [];
  for (const text of [f.summary, f.detail ?? '', f.remedy ?? '']) {
    for (const m of text.matchAll(/\bsee ([a-z][a-z0-9-]*(?:(?:, | and )[a-z][a-z0-9-]*)*)/g)) {
      out.push(...m[1]!.split(/, | and /));
    }
  }
  return [...new Set(out)];
}

/**
 * The host findings `check` shows: those that warn or fail, and every finding they refer to (so no
 * printed line points at one that is not printed).
 */
export function focusHostFindings(host: readonly Finding[]): Finding[] {
  const keep = new Set(host.filter((f) => f.severity === 'fail' || f.severity === 'warn'));
  for (let changed = true; changed;) {
    changed = false;
    for (const f of [...keep]) {
      for (const id of referencedFindingIds(f)) {
        for (const g of host) if (g.id === id && !keep.has(g)) { keep.add(g); changed = true; }
      }
    }
  }
  return host.filter((f) => keep.has(f));
}

function cmdlineEvidence(facts: HostFacts): Evidence {
  return factEvidence(facts.kernel.cmdline, (v) => v);
}

/**
 * Whose IOMMU this host has: the firmware table says it (a VM may show an Intel-model IOMMU on an AMD
 * CPU), else the CPU vendor.
 */
export function hostVendor(facts: HostFacts): 'intel' | 'amd' | 'other' {
  if (facts.acpi.ivrs) return 'amd';
  if (facts.acpi.dmar) return 'intel';
  return facts.cpu.vendor ?? 'other';
}

/**
 * Which IOMMU the kernel uses, named as its driver names itself (Intel VT-d "DMAR", AMD "AMD-Vi",
 * virtio-iommu): from the units it registered in sys/class/iommu, else from the firmware table that
 * describes one. null when neither tells.
 */
export function iommuModelName(facts: HostFacts): string | null {
  const kinds = new Set(facts.iommuUnits.map((u) => u.kind));
  const names: string[] = [];
  if (kinds.has('intel')) names.push('Intel VT-d');
  if (kinds.has('amd')) names.push('AMD-Vi');
  if (kinds.has('virtio')) names.push('virtio-iommu');
  if (names.length) return names.join(' + ');
  if (facts.iommuUnits.length) return null;
  if (facts.acpi.dmar) return 'Intel VT-d';
  if (facts.acpi.ivrs) return 'AMD-Vi';
  if (facts.acpi.viot) return 'virtio-iommu';
  if (facts.acpi.iort) return 'Arm SMMU';
  return null;
}

/**
 * The only IOMMU this host has is a virtio-iommu (a VIOT table or virtio-iommu units, no DMAR/IVRS and no
 * unit of another driver): on x86 it translates DMA but does not remap interrupts.
 */
export function virtioIommuOnly(facts: HostFacts): boolean {
  if (facts.acpi.dmar || facts.acpi.ivrs) return false;
  if (facts.iommuUnits.some((u) => u.kind !== 'virtio')) return false;
  return facts.acpi.viot || facts.iommuUnits.some((u) => u.kind === 'virtio');
}

/** Running under a hypervisor (cpuinfo flag, DMI identity, or sys/hypervisor). */
export function inVirtualMachine(facts: HostFacts): boolean {
  return facts.cpu.hypervisor || facts.virt.hypervisorName !== null;
}

function running(facts: HostFacts, key: string): { value: string | undefined; raw: string } | null {
  return paramOf(facts.kernel.params, key);
}

/** The configured command line that applies at the next boot on this host (by its boot tooling). */
export function nextBootCmdline(facts: HostFacts): HostFacts['kernel']['configured'][number] | null {
  const conf = facts.kernel.configured;
  const bl = facts.boot.bootLoader;
  if (bl.cmdline.via === 'grub-defaults' || bl.cmdline.via === 'kernel-cmdline') {
    const file = bl.cmdline.file;
    const hit = conf.find((c) => c.source === file);
    if (hit) return hit;
  }
  const cm = bl.cmdline;
  if (cm.via === 'tool' && cm.tool === 'grubby') {
    const bls = conf.find((c) => c.kind === 'bls-entry');
    if (bls) return bls;
    if (cm.alsoFile) return conf.find((c) => c.source === cm.alsoFile) ?? null;
  }
  if (bl.cmdline.via === 'tool') return null;
  return conf.find((c) => c.kind === 'grub-defaults') ?? conf.find((c) => c.kind === 'kernel-cmdline-file') ?? null;
}

function configuredParam(facts: HostFacts, key: string): { value: string | undefined; raw: string } | null {
  const next = nextBootCmdline(facts);
  return next ? paramOf(next.params, key) : null;
}

function moduleState(facts: HostFacts, name: string): ModuleState {
  const n = moduleName(name);
  const m = facts.modules;
  if (m.loaded.state === 'ok' && m.loaded.value.includes(n)) return 'loaded';
  if (m.builtin.state === 'ok' && m.builtin.value.includes(n)) return 'builtin';
  // A sys/module entry without a proc/modules line is a built-in with parameters.
  if (m.loaded.state === 'ok' && m.sysModules.includes(n)) return 'builtin';
  if (m.available.state === 'ok' && m.available.value.includes(n)) return 'available';
  if (m.available.state === 'ok' && m.builtin.state !== 'unreadable') return 'missing';
  return 'unknown';
}

function isOn(state: ModuleState): boolean {
  return state === 'loaded' || state === 'builtin';
}

// ---------------------------------------------------------------------------------------------------
// the host checks

export function checkHost(facts: HostFacts, inventory: PciInventory): Finding[] {
  const out: Finding[] = [];
  const vendor = hostVendor(facts);
  const vm = inVirtualMachine(facts);
  const groups = inventory.groups.length;

  out.push(...checkCpu(facts, facts.cpu.vendor ?? 'other', vm));
  out.push(...checkVirtualMachine(facts, vm, groups));
  out.push(...checkFirmware(facts, vendor, vm, groups));
  out.push(...checkKernelIommu(facts, inventory, vendor, vm));
  out.push(...checkCmdlineParams(facts, vendor));
  out.push(...checkPendingReboot(facts));
  out.push(...checkInterruptRemapping(facts, vendor, groups));
  out.push(...checkPosture(facts));
  out.push(...checkVfio(facts));
  out.push(...checkMemlock(facts));
  out.push(...checkBootTooling(facts));
  out.push(...checkLibvirt(facts));
  out.push(...checkReadProblems(facts, inventory));
  return out;
}

function checkCpu(facts: HostFacts, vendor: 'intel' | 'amd' | 'other', vm: boolean): Finding[] {
  const out: Finding[] = [];
  const cpuEv = factEvidence(facts.cpu.source, () => `vendor ${facts.cpu.vendorId ?? '?'}, flags: ${facts.cpu.flags.filter((f) => ['vmx', 'svm', 'hypervisor'].includes(f)).join(' ') || '(no vmx/svm)'}`);
  if (facts.cpu.source.state !== 'ok') {
    out.push(finding('cpu-virtualization', 'cpu', 'warn', `CPU virtualization support unknown: /proc/cpuinfo is ${facts.cpu.source.state === 'absent' ? 'missing' : 'unreadable'}`, [cpuEv], { remedy: 'run vfioctl doctor on the host itself (or capture proc/cpuinfo in the snapshot)' }));
  } else if (vendor === 'other') {
    out.push(finding('cpu-virtualization', 'cpu', 'info', `CPU vendor ${facts.cpu.vendorId ?? 'unknown'}: no x86 vmx/svm flag to check`, [cpuEv]));
  } else {
    const flag = vendor === 'intel' ? 'vmx' : 'svm';
    if (facts.cpu.flags.includes(flag)) {
      out.push(finding('cpu-virtualization', 'cpu', 'ok', `CPU virtualization: ${flag} (${vendor === 'intel' ? 'Intel VT-x' : 'AMD-V'})`, [cpuEv], { fact: { id: 'cpu-virt-flag', value: 'present' } }));
    } else {
      // vfio itself does not need VT-x/AMD-V: inside a VM a nested QEMU can still assign devices under
      // TCG (slowly), so there it is a warning; on bare metal KVM guests are the point.
      out.push(finding('cpu-virtualization', 'cpu', vm ? 'warn' : 'fail', `CPU virtualization flag ${flag} missing: KVM cannot run guests here${vm ? ' (a nested QEMU would run without acceleration)' : ''}`, [cpuEv], {
        remedy: vm
          ? `this is a VM: enable nested virtualization on the outer host (e.g. kvm_${vendor}.nested=1 and <cpu mode='host-passthrough'/> for this VM)`
          : `enable ${vendor === 'intel' ? '"Intel Virtualization Technology" (VT-x)' : '"SVM Mode"'} in the firmware setup`,
        fact: { id: 'kvm-usable', value: 'no' },
      }));
    }
  }
  // KVM: one judgement from every fact (/dev/kvm, the CPU flag, the modules); a missing vmx/svm flag
  // means KVM cannot run guests whatever else is there (a /dev/kvm node can exist in a container or be
  // left by a module that then refused to initialise).
  const kvmVendor = vendor === 'intel' ? 'kvm_intel' : vendor === 'amd' ? 'kvm_amd' : null;
  const kvm = moduleState(facts, 'kvm');
  const kvmV = kvmVendor ? moduleState(facts, kvmVendor) : null;
  const flagMissing = facts.cpu.source.state === 'ok' && vendor !== 'other' && !facts.cpu.flags.includes(vendor === 'intel' ? 'vmx' : 'svm');
  const kvmEv = [ev(facts.modules.loaded.source, `kvm: ${kvm}${kvmVendor ? `, ${kvmVendor}: ${kvmV}` : ''}`), ev(hostPath('dev/kvm'), facts.devKvm ? 'present' : '(missing)'), cpuEv];
  if (flagMissing) {
    out.push(finding('kvm', 'cpu', 'warn', `KVM cannot run guests: the CPU shows no ${vendor === 'intel' ? 'vmx' : 'svm'} flag${facts.devKvm ? ' (/dev/kvm exists but has no hardware virtualization behind it)' : ''}`, kvmEv, {
      remedy: 'see cpu-virtualization',
      fact: { id: 'kvm-usable', value: 'no' },
    }));
  } else if (facts.devKvm && (kvmV === null || isOn(kvmV) || kvm === 'unknown')) {
    out.push(finding('kvm', 'cpu', 'ok', 'KVM is available (/dev/kvm)', kvmEv, { fact: { id: 'kvm-usable', value: 'yes' } }));
  } else if (kvmV && (kvmV === 'available' || kvm === 'available')) {
    out.push(finding('kvm', 'cpu', 'warn', `KVM modules are not loaded (${kvmVendor})`, kvmEv, { remedy: `modprobe ${kvmVendor}`, fact: { id: 'kvm-usable', value: 'not-loaded' } }));
  } else {
    out.push(finding('kvm', 'cpu', 'warn', 'KVM is not available (no /dev/kvm): guests would run without acceleration', kvmEv, {
      remedy: kvmVendor ? `modprobe ${kvmVendor}` : 'load the KVM module for this platform',
      fact: { id: 'kvm-usable', value: 'no' },
    }));
  }
  return out;
}

function checkVirtualMachine(facts: HostFacts, vm: boolean, groups: number): Finding[] {
  if (!vm) return [];
  const name = facts.virt.hypervisorName ?? facts.virt.hypervisorType ?? 'an unidentified hypervisor';
  const evidence = [
    ev(facts.cpu.source.source, facts.cpu.hypervisor ? 'flag hypervisor' : 'no hypervisor flag'),
    ev(hostPath('sys/class/dmi/id/sys_vendor'), facts.virt.sysVendor ?? '(missing)'),
    ev(hostPath('sys/class/dmi/id/product_name'), facts.virt.productName ?? '(missing)'),
  ];
  const out: Finding[] = [finding('virtual-machine', 'virtualization', 'info', `running inside a virtual machine (${name}): passthrough here is nested assignment`, evidence, {
    detail: 'Devices this VM can assign are the ones its hypervisor gives it; assigning them to a nested guest needs a virtual IOMMU in this VM.',
  })];
  const units = facts.iommuUnits;
  const viommu = units.length > 0 || facts.acpi.dmar || facts.acpi.ivrs || facts.acpi.viot;
  const uEv = [ev(facts.iommuClass.source, units.map((u) => u.name).join(' ') || '(none)'), factEvidence(facts.acpi.tables, (t) => t.filter((n) => ['DMAR', 'IVRS', 'VIOT', 'IORT'].includes(n)).join(' ') || '(no DMAR/IVRS/VIOT)')];
  if (!viommu) {
    out.push(finding('viommu', 'virtualization', groups > 0 ? 'warn' : 'fail', 'no virtual IOMMU in this VM: nested device assignment needs one', uEv, { remedy: VIOMMU_REMEDY }));
  } else {
    const intel = units.filter((u) => u.kind === 'intel');
    const cmOff = intel.filter((u) => u.cachingMode === false);
    const described = iommuModelName(facts);
    if (!units.length && groups === 0) {
      out.push(finding('viommu', 'virtualization', 'warn', `virtual IOMMU described by the firmware (${described ?? 'ACPI table'}) but the kernel registered no IOMMU unit (see iommu-kernel)`, uEv));
    } else if (cmOff.length) {
      uEv.push(...cmOff.map((u) => ev(hostPath(`sys/class/iommu/${u.name}/intel-iommu/cap`), `${u.cap} (CM bit 7 = 0)`)));
      out.push(finding('viommu', 'virtualization', 'info', `virtual IOMMU present (${units.map((u) => u.name).join(', ')}), caching mode off`, uEv, {
        detail: 'Devices emulated by the outer QEMU can be assigned onward; a physical device the outer host passes through this virtual IOMMU needs caching-mode=on.',
        remedy: 'if the outer host assigns a physical device to this VM: add caching-mode=on to its intel-iommu device (libvirt: caching_mode=\'on\')',
      }));
    } else {
      out.push(finding('viommu', 'virtualization', 'ok', `virtual IOMMU present (${described ? `${described}: ` : ''}${units.map((u) => u.name).join(', ') || 'ACPI table only'})`, uEv));
    }
  }
  return out;
}

function checkFirmware(facts: HostFacts, vendor: 'intel' | 'amd' | 'other', vm: boolean, groups: number): Finding[] {
  const t = facts.acpi.tables;
  const tEv = factEvidence(t, (names) => names.filter((n) => ['DMAR', 'IVRS', 'IORT', 'VIOT'].includes(n)).join(' ') || `(${names.length} tables, none of DMAR/IVRS/IORT/VIOT)`);
  if (t.state === 'unreadable') return [finding('iommu-firmware', 'firmware', 'warn', 'ACPI tables could not be listed: firmware IOMMU support unknown', [tEv])];
  if (t.state === 'absent') {
    return [finding('iommu-firmware', 'firmware', groups > 0 ? 'ok' : 'info', 'no ACPI tables directory (device-tree platform, or not captured)', [tEv], groups > 0 ? {} : { detail: 'On device-tree platforms the IOMMU is described there; IOMMU groups are the proof it works.' })];
  }
  if (vendor === 'intel' || (vendor === 'other' && facts.acpi.dmar)) {
    if (facts.acpi.dmar) return [finding('iommu-firmware', 'firmware', 'ok', 'firmware reports an Intel VT-d IOMMU (ACPI DMAR table)', [tEv])];
    if (facts.acpi.viot) return [finding('iommu-firmware', 'firmware', 'ok', 'firmware describes a virtio-iommu (ACPI VIOT table)', [tEv])];
    return [finding('iommu-firmware', 'firmware', 'fail', vm ? 'no DMAR table: this VM has no virtual Intel IOMMU' : 'no ACPI DMAR table: VT-d is off (or absent) in the firmware', [tEv], { remedy: vm ? 'see viommu' : firmwareRemedy(facts, 'intel') })];
  }
  if (vendor === 'amd') {
    if (facts.acpi.ivrs) return [finding('iommu-firmware', 'firmware', 'ok', 'firmware reports an AMD IOMMU (ACPI IVRS table)', [tEv])];
    if (facts.acpi.dmar) return [finding('iommu-firmware', 'firmware', 'ok', 'firmware reports an Intel-model IOMMU (DMAR) on an AMD CPU (a virtual machine?)', [tEv])];
    if (facts.acpi.viot) return [finding('iommu-firmware', 'firmware', 'ok', 'firmware describes a virtio-iommu (ACPI VIOT table)', [tEv])];
    return [finding('iommu-firmware', 'firmware', 'fail', vm ? 'no IVRS/DMAR table: this VM has no virtual IOMMU' : 'no ACPI IVRS table: the AMD IOMMU (AMD-Vi) is off in the firmware', [tEv], { remedy: vm ? 'see viommu' : firmwareRemedy(facts, 'amd') })];
  }
  if (facts.acpi.iort || facts.acpi.viot || groups > 0) return [finding('iommu-firmware', 'firmware', 'ok', `firmware describes an IOMMU (${facts.acpi.iort ? 'IORT' : facts.acpi.viot ? 'VIOT' : 'groups exist'})`, [tEv])];
  return [finding('iommu-firmware', 'firmware', 'warn', 'no ACPI table describing an IOMMU (DMAR, IVRS, IORT, VIOT)', [tEv], { remedy: firmwareRemedy(facts, 'other') })];
}

/** Whether this kernel can drive a virtio-iommu: built in or loaded, a module not loaded, not built, or unknown. */
function virtioIommuDriver(facts: HostFacts): 'present' | 'module' | 'missing' | 'unknown' {
  const state = moduleState(facts, 'virtio_iommu');
  if (isOn(state)) return 'present';
  const cfg = facts.kernel.config;
  if (cfg.state === 'ok') {
    const v = cfg.value.CONFIG_VIRTIO_IOMMU;
    if (v === 'y') return 'present';
    if (v === 'm') return state === 'missing' ? 'missing' : 'module';
    return 'missing';
  }
  if (state === 'available') return 'module';
  if (state === 'missing') return 'missing';
  return 'unknown';
}

function checkKernelIommu(facts: HostFacts, inventory: PciInventory, vendor: 'intel' | 'amd' | 'other', vm: boolean): Finding[] {
  const out: Finding[] = [];
  const groups = inventory.groups.length;
  const intel = running(facts, 'intel_iommu');
  const amd = running(facts, 'amd_iommu');
  const iommu = running(facts, 'iommu');
  const cfg = facts.kernel.config;
  const defaultOn = cfg.state === 'ok' ? cfg.value.CONFIG_INTEL_IOMMU_DEFAULT_ON ?? null : null;
  const cfgEv = factEvidence(cfg, (c) => `CONFIG_INTEL_IOMMU=${c.CONFIG_INTEL_IOMMU ?? '?'} CONFIG_INTEL_IOMMU_DEFAULT_ON=${c.CONFIG_INTEL_IOMMU_DEFAULT_ON ?? 'n'} CONFIG_AMD_IOMMU=${c.CONFIG_AMD_IOMMU ?? '?'} CONFIG_IRQ_REMAP=${c.CONFIG_IRQ_REMAP ?? '?'}`);
  const gEv = ev(hostPath('sys/kernel/iommu_groups'), groups > 0 ? `${groups} groups` : '(no groups)');
  const off: string[] = [];
  if (intel && optionValues(intel.value).includes('off')) off.push(intel.raw);
  if (amd && optionValues(amd.value).includes('off')) off.push(amd.raw);
  if (iommu && ['off', 'soft'].includes(iommu.value ?? '')) off.push(iommu.raw);

  const pendingOn = vendor === 'intel' ? configuredParam(facts, 'intel_iommu') : null;
  const configuredOn = pendingOn && optionValues(pendingOn.value).includes('on') && !(intel && optionValues(intel.value).includes('on'));

  if (groups > 0) {
    const model = iommuModelName(facts);
    const unitNames = facts.iommuUnits.map((u) => u.name).join(', ');
    const named = model ? ` (${model}${unitNames ? `: ${unitNames}` : ''})` : '';
    out.push(finding('iommu-kernel', 'kernel', 'ok', `kernel IOMMU is on: ${groups} IOMMU groups${named}`, [gEv, ev(facts.iommuClass.source, facts.iommuUnits.map((u) => u.name).join(' ') || '(none)')], { fact: { id: 'iommu-groups', value: 'present' } }));
  } else {
    const firmwareMissing = facts.acpi.tables.state === 'ok' && !facts.acpi.dmar && !facts.acpi.ivrs && !facts.acpi.viot && !facts.acpi.iort;
    let remedy: string;
    let why: string;
    if (off.length) {
      why = `${off.join(' ')} on the running command line turns it off`;
      remedy = cmdlineRemedy(facts.boot, { remove: off, add: vendor === 'intel' ? ['intel_iommu=on'] : [] });
    } else if (firmwareMissing) {
      why = 'the firmware does not report an IOMMU (see iommu-firmware)';
      remedy = vm ? 'see viommu' : 'see iommu-firmware; then reboot and run vfioctl doctor again';
    } else if (virtioIommuOnly(facts) && !facts.iommuUnits.length && virtioIommuDriver(facts) !== 'present') {
      const drv = virtioIommuDriver(facts);
      const cfgKnown = facts.kernel.config.state === 'ok';
      why = drv === 'missing'
        ? `the firmware describes only a virtio-iommu (ACPI VIOT) and this kernel has no driver for it (${cfgKnown ? 'CONFIG_VIRTIO_IOMMU is not set' : 'not built in, no virtio_iommu module'})`
        : drv === 'module'
          ? 'the firmware describes only a virtio-iommu (ACPI VIOT) and its driver (the virtio_iommu module) is not loaded'
          : 'the firmware describes only a virtio-iommu (ACPI VIOT) and the kernel registered no virtio-iommu unit (whether it has the driver is unknown: no boot/config)';
      remedy = drv === 'module'
        ? 'load it before the devices behind it probe: add virtio_iommu to the initramfs (or modules-load.d) and reboot; then check /sys/class/iommu'
        : 'boot a kernel built with CONFIG_VIRTIO_IOMMU and CONFIG_ACPI_VIOT (x86 support came in Linux 5.14; some distribution kernels, e.g. Debian 12\'s 6.1, leave it out), or give this VM an IOMMU the kernel has a driver for: -device intel-iommu,intremap=on (libvirt <iommu model=\'intel\'>) or -device amd-iommu,intremap=on';
    } else if (configuredOn) {
      why = `intel_iommu=on is configured (${nextBootCmdline(facts)?.source ?? '?'}) but the running kernel was booted without it`;
      remedy = facts.boot.bootLoader.regenerate.length
        ? `make sure the boot entries were regenerated (${facts.boot.bootLoader.regenerate.map((a) => a.join(' ')).join('; ')}), then reboot`
        : 'reboot to boot with the configured command line';
    } else if (vendor === 'intel' && !(intel && optionValues(intel.value).includes('on')) && defaultOn !== 'y') {
      why = defaultOn === 'n' || cfg.state === 'ok' ? 'the kernel is built with the Intel IOMMU off by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set) and intel_iommu=on is not on the command line' : 'intel_iommu=on is not on the command line (and the kernel default is unknown)';
      remedy = cmdlineRemedy(facts.boot, { add: ['intel_iommu=on'] });
    } else if (cfg.state === 'ok' && ((vendor === 'intel' && cfg.value.CONFIG_INTEL_IOMMU === 'n') || (vendor === 'amd' && cfg.value.CONFIG_AMD_IOMMU === 'n'))) {
      why = `the kernel is built without ${vendor === 'intel' ? 'CONFIG_INTEL_IOMMU' : 'CONFIG_AMD_IOMMU'}`;
      remedy = 'boot a kernel built with IOMMU support (every major distribution kernel has it)';
    } else {
      why = 'the IOMMU is enabled in firmware and on the command line, yet the kernel created no groups';
      remedy = 'look for DMAR / AMD-Vi errors in `dmesg | grep -i -e DMAR -e IOMMU -e AMD-Vi` (firmware bugs, tboot, iommu=soft); updating the firmware often helps';
    }
    out.push(finding('iommu-kernel', 'kernel', 'fail', `no IOMMU groups: ${why}`, [gEv, cmdlineEvidence(facts), cfgEv], { remedy, fact: { id: 'iommu-groups', value: 'absent' } }));
  }

  // How the Intel IOMMU got (or would get) turned on.
  if (vendor === 'intel' || facts.acpi.dmar) {
    const src = intel ? `${intel.raw} on the command line` : defaultOn === 'y' ? 'on by default in this kernel (CONFIG_INTEL_IOMMU_DEFAULT_ON=y), no intel_iommu= parameter' : cfg.state === 'ok' ? 'off by default in this kernel, no intel_iommu= parameter' : 'no intel_iommu= parameter; kernel default unknown (no boot/config)';
    out.push(finding('iommu-kernel-param', 'kernel', 'info', `Intel IOMMU: ${src}`, [cmdlineEvidence(facts), cfgEv], {
      detail: 'Several distribution kernels turn the Intel IOMMU on by default; elsewhere intel_iommu=on is needed. Setting it explicitly is harmless and survives kernel changes.',
    }));
  }
  // iommu=pt explained
  const pt = iommu && optionValues(iommu.value).includes('pt') ? iommu.raw : null;
  const pass = running(facts, 'iommu.passthrough');
  if (pt || (pass && kernelBool(pass.value) === true)) {
    out.push(finding('iommu-passthrough-mode', 'kernel', 'info', `${pt ?? pass!.raw}: host-owned devices bypass IOMMU translation (identity mapping)`, [cmdlineEvidence(facts)], {
      detail: 'Passthrough mode only changes how devices that stay on the host do DMA (faster, no translation). Devices given to guests through vfio are still translated and isolated. It does not enable the IOMMU by itself (Intel still needs intel_iommu=on where the kernel default is off), and some older platforms misbehave with it: remove it if devices fail after adding it.',
    }));
  }
  return out;
}

function checkCmdlineParams(facts: HostFacts, vendor: 'intel' | 'amd' | 'other'): Finding[] {
  const out: Finding[] = [];
  const next = nextBootCmdline(facts);
  const sources: { name: string; params: readonly KernelParam[] }[] = [{ name: facts.kernel.cmdline.source, params: facts.kernel.params }];
  if (next) sources.push({ name: hostPath(next.source), params: next.params });
  const seen = new Set<string>();
  for (const s of sources) {
    for (const p of s.params) {
      const raw = formatKernelParam(p);
      const key = normKey(p.key);
      const dedupe = `${key}=${p.value ?? ''}`;
      if (seen.has(dedupe)) continue;
      const add = (id: string, severity: Severity, summary: string, extra: Partial<Pick<Finding, 'detail' | 'remedy'>>): void => {
        seen.add(dedupe);
        out.push(finding(id, 'kernel', severity, summary, [ev(s.name, raw)], extra));
      };
      const fix = (replacement: string | null): string => cmdlineRemedy(facts.boot, replacement ? { remove: [raw], add: [replacement] } : { remove: [raw] });
      if (key === 'amd_iommu') {
        if (p.value === undefined) add('cmdline-ineffective', 'warn', `${raw} has no value: the kernel ignores it`, { remedy: fix(null) });
        else if (optionValues(p.value).includes('on')) {
          add('cmdline-amd-iommu-on', 'warn', `${raw} is not a value the AMD IOMMU driver takes (it logs "Unknown option" and ignores it)`, {
            detail: 'The AMD IOMMU is used whenever the firmware enables it (ACPI IVRS). Older guides say amd_iommu=on; it never did anything. Remove it; iommu=pt is the usual companion and is valid.',
            remedy: fix(null),
          });
        } else {
          const bad = optionValues(p.value).filter((v) => !AMD_IOMMU_VALUES.has(v));
          if (bad.length) add('cmdline-unknown-value', 'warn', `${raw}: ${bad.join(', ')} is not an amd_iommu option the kernel knows`, { remedy: fix(null) });
        }
        if (vendor === 'intel' && !seen.has(`wrong:${key}`)) {
          seen.add(`wrong:${key}`);
          out.push(finding('cmdline-wrong-vendor', 'kernel', 'info', `${raw} has no effect on an Intel host`, [ev(s.name, raw)]));
        }
      } else if (key === 'intel_iommu') {
        if (p.value === undefined) add('cmdline-ineffective', 'warn', `${raw} has no value: the kernel ignores it (intel_iommu=on was meant)`, { remedy: fix('intel_iommu=on') });
        else {
          const vals = optionValues(p.value);
          const bad = vals.filter((v) => !INTEL_IOMMU_VALUES.has(v) && !/rmrr/i.test(v));
          if (bad.length) add('cmdline-unknown-value', 'warn', `${raw}: ${bad.join(', ')} is not an intel_iommu option the kernel knows (it logs "Unknown option")`, { remedy: fix(vals.includes('on') ? null : 'intel_iommu=on') });
        }
        if (vendor === 'amd' && !seen.has(`wrong:${key}`)) {
          seen.add(`wrong:${key}`);
          out.push(finding('cmdline-wrong-vendor', 'kernel', 'info', `${raw} has no effect on an AMD host (the AMD IOMMU is on when the firmware enables it)`, [ev(s.name, raw)]));
        }
      } else if (key === 'iommu') {
        if (p.value === undefined) add('cmdline-ineffective', 'warn', `${raw} has no value: the kernel ignores it`, { remedy: fix(null) });
        else if (p.value === 'on' || p.value === '1') add('cmdline-ineffective', 'warn', `${raw} is not a value x86 kernels act on`, { detail: 'intel_iommu=on (Intel) turns the IOMMU on; AMD needs no parameter. iommu=pt is the passthrough mode.', remedy: fix(vendor === 'intel' ? 'intel_iommu=on' : null) });
        else {
          const bad = optionValues(p.value).filter((v) => !X86_IOMMU_VALUES.has(v) && !/^\d/.test(v));
          if (bad.length && vendor !== 'other') add('cmdline-unknown-value', 'warn', `${raw}: ${bad.join(', ')} is not an iommu= option the kernel knows`, { remedy: fix(null) });
        }
      } else if (key === 'vfio_pci.ids') {
        const bad = (p.value ?? '').split(',').filter((id) => id && !/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:[0-9a-fA-F]{6}:[0-9a-fA-F]{6})?)?$/.test(id));
        if (!p.value || bad.length) add('cmdline-unknown-value', 'warn', `${raw}: ${bad.join(', ') || 'an empty list'} is not a vendor:device ID (VVVV:DDDD)`, { remedy: 'write the IDs as `lspci -nn` shows them, e.g. vfio-pci.ids=10de:1b80,10de:10f0' });
      } else {
        const typo = likelyTypo(p.key);
        if (typo) add('cmdline-typo', 'warn', `${raw} looks like a misspelling of ${typo}: the kernel passes unknown parameters to init and ignores them`, { remedy: fix(p.value !== undefined ? `${typo.replace(/^vfio_pci\./, 'vfio-pci.')}=${p.value}` : null) });
      }
    }
  }
  return out;
}

function checkPendingReboot(facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const next = nextBootCmdline(facts);
  for (const c of facts.kernel.configured) {
    if (c.problem) out.push(finding('cmdline-configured-unreadable', 'kernel', 'info', `${hostPath(c.source)}: ${c.problem}`, [ev(hostPath(c.source), c.problem)]));
  }
  if (!next || next.problem || facts.kernel.cmdline.state !== 'ok') {
    if (!next && facts.boot.bootLoader.cmdline.via === 'tool') {
      out.push(finding('cmdline-pending-reboot', 'kernel', 'info', `configured command line not compared: ${facts.boot.bootLoader.cmdline.tool} keeps it`, [cmdlineEvidence(facts)]));
    }
    return out;
  }
  // grub: the defaults file was edited but grub.cfg not regenerated (update-grub / grub2-mkconfig forgotten).
  const cfg = next.kind === 'grub-defaults' ? facts.kernel.configured.find((c) => c.kind === 'grub-cfg') : undefined;
  if (cfg) {
    const stale = cmdlineDifferences(next.params, cfg.params).filter((d) => d.configured !== null);
    if (stale.length) {
      const regen = facts.boot.bootLoader.regenerate.map((a) => a.join(' '));
      out.push(finding('cmdline-not-regenerated', 'kernel', 'warn', `${hostPath(next.source)} has ${stale.map((d) => d.configured).join(' ')} but ${hostPath(cfg.source)} does not: the boot entries were not regenerated`, [ev(hostPath(next.source), next.text || '(empty)'), ev(hostPath(cfg.source), cfg.text || '(empty)')], {
        remedy: `${regen.length ? `run: ${regen.join(' && ')}` : 'regenerate the grub configuration'}\nthen reboot`,
      }));
    }
  }
  const diffs = cmdlineDifferences(next.params, facts.kernel.params);
  const evidence = [ev(hostPath(next.source), next.text || '(empty)'), cmdlineEvidence(facts)];
  if (!diffs.length) {
    out.push(finding('cmdline-pending-reboot', 'kernel', 'ok', `running command line matches ${hostPath(next.source)} (IOMMU and VFIO parameters)`, evidence));
    return out;
  }
  const text = diffs.map((d) => (d.configured && d.running ? `${d.running} -> ${d.configured}` : d.configured ? `+${d.configured}` : `-${d.running}`)).join(', ');
  const regen = facts.boot.bootLoader.regenerate.map((a) => a.join(' '));
  out.push(finding('cmdline-pending-reboot', 'kernel', 'warn', `reboot pending: ${hostPath(next.source)} differs from the running kernel's command line (${text})`, evidence, {
    detail: 'The configured parameters take effect at the next boot, provided the boot entries were regenerated after the edit.',
    remedy: regen.length ? `if not done since the edit, run: ${regen.join(' && ')}\nthen reboot` : 'reboot',
  }));
  return out;
}

type IrState = 'enabled' | 'disabled' | 'unsupported' | 'unknown';

export function interruptRemappingState(facts: HostFacts, vendor: 'intel' | 'amd' | 'other'): { state: IrState; evidence: Evidence[]; why: string } {
  const evidence: Evidence[] = [];
  const log = facts.kernelLog;
  const logHits = log.lines.filter((l) => /remapping|DMAR-IR|AMD-Vi: Interrupt|x2apic/i.test(l));
  if (log.source) for (const l of logHits.slice(-3)) evidence.push(ev(`${hostPath(log.source)} (may be stale)`, l.trim()));
  const off = running(facts, 'intremap');
  const noIntremap = running(facts, 'nointremap');
  if ((off && optionValues(off.value).includes('off')) || noIntremap) {
    evidence.push(cmdlineEvidence(facts));
    return { state: 'disabled', evidence, why: `${(off ?? noIntremap)!.raw} on the command line` };
  }
  // The running kernel's interrupt chips: remapped ones (IR-IO-APIC, IR-PCI-MSI) exist only while interrupt
  // remapping is on. x86 names its IO-APIC chip IO-APIC; other architectures isolate MSIs otherwise (e.g. the
  // GICv3 ITS), so their lack of IR- chips says nothing.
  const irq = facts.interrupts;
  if (irq.state === 'ok' && irq.value.remapped.length) {
    evidence.push(ev(irq.source, `remapped interrupt chips: ${irq.value.remapped.join(' ')}`));
    return { state: 'enabled', evidence, why: `the running kernel's interrupts go through remapped chips (${irq.value.remapped.join(', ')} in /proc/interrupts)` };
  }
  if (irq.state === 'ok' && irq.value.chips.some((c) => c === 'IO-APIC')) {
    evidence.push(ev(irq.source, `interrupt chips: ${irq.value.chips.join(' ')} (no IR- chip: nothing remapped)`));
    if (virtioIommuOnly(facts)) {
      return { state: 'unsupported', evidence, why: 'virtio-iommu does not remap interrupts on x86, and /proc/interrupts shows no remapped (IR-) chip' };
    }
    return { state: 'disabled', evidence, why: 'the running kernel remaps no interrupt: /proc/interrupts shows no IR- chip' };
  }
  if (logHits.some((l) => /Enabled IRQ remapping|IRQ remapping was enabled|Interrupt remapping enabled|Queued invalidation will be enabled to support x2apic and Intr-remapping/i.test(l))) {
    return { state: 'enabled', evidence, why: 'kernel log' };
  }
  if (logHits.some((l) => /Failed to enable irq remapping|IRQ remapping not supported|not (all )?IOMMUs? (support|supports) (IR|interrupt remapping)|disabling IRQ remapping|Disabling interrupt remapping|Not enabling interrupt remapping/i.test(l))) {
    return { state: 'unsupported', evidence, why: 'kernel log' };
  }
  const intelUnits = facts.iommuUnits.filter((u) => u.kind === 'intel');
  if (intelUnits.length) {
    for (const u of intelUnits) evidence.push(ev(hostPath(`sys/class/iommu/${u.name}/intel-iommu/ecap`), `${u.ecap ?? '?'} (IR bit 3 = ${u.interruptRemapping === null ? '?' : u.interruptRemapping ? 1 : 0})`));
    if (intelUnits.some((u) => u.interruptRemapping === false)) return { state: 'unsupported', evidence, why: 'an IOMMU unit lacks the IR capability (ecap bit 3)' };
    if (intelUnits.every((u) => u.interruptRemapping === true)) {
      const cfg = facts.kernel.config;
      if (cfg.state === 'ok' && cfg.value.CONFIG_IRQ_REMAP === 'n') return { state: 'disabled', evidence, why: 'kernel built without CONFIG_IRQ_REMAP' };
      return { state: 'enabled', evidence, why: 'every IOMMU unit supports it (ecap IR) and nothing turns it off' };
    }
  }
  if (virtioIommuOnly(facts)) {
    evidence.push(ev(facts.iommuClass.source, facts.iommuUnits.map((u) => u.name).join(' ') || '(no IOMMU units)'), factEvidence(facts.acpi.tables, (t) => t.filter((n) => ['DMAR', 'IVRS', 'VIOT'].includes(n)).join(' ')));
    return { state: 'unsupported', evidence, why: 'the only IOMMU is a virtio-iommu, which does not remap interrupts on x86' };
  }
  if (vendor === 'amd' && facts.iommuUnits.some((u) => u.kind === 'amd')) {
    // An AMD unit alone does not tell: the kernel turns remapping on only when the IVRS table lists the
    // IO-APIC (and the firmware and command line allow it).
    evidence.push(ev(facts.iommuClass.source, facts.iommuUnits.map((u) => u.name).join(' ')));
    if (!log.source) evidence.push(ev('kernel log', '(no readable copy in /var/log)'));
    return { state: 'unknown', evidence, why: 'an AMD IOMMU is present, but neither /proc/interrupts nor a kernel log copy shows whether it remaps interrupts' };
  }
  if (!evidence.length) evidence.push(ev(log.source ? hostPath(log.source) : 'kernel log', log.source ? 'no remapping line' : '(no readable copy in /var/log)'), ev(facts.iommuClass.source, facts.iommuUnits.map((u) => u.name).join(' ') || '(no IOMMU units)'));
  return { state: 'unknown', evidence, why: log.source ? 'no remapping line in the kernel log' : 'no kernel log copy and no IOMMU unit registers to read' };
}

function unsafeInterruptsSources(facts: HostFacts): Evidence[] {
  const out: Evidence[] = [];
  const rt = facts.allowUnsafeInterrupts;
  if (rt.state === 'ok' && kernelBool(rt.value) === true) out.push(ev(rt.source, rt.value));
  for (const d of facts.modprobe) {
    if (d.command !== 'options' || moduleName(d.module) !== 'vfio_iommu_type1') continue;
    const m = /(?:^|\s)allow_unsafe_interrupts=(\S+)/.exec(d.args);
    if (m && kernelBool(m[1]) === true) out.push(ev(`${hostPath(d.file)}:${d.line}`, `options ${d.module} ${d.args}`));
  }
  const p = running(facts, 'vfio_iommu_type1.allow_unsafe_interrupts');
  if (p && kernelBool(p.value ?? '1') === true) out.push(ev(facts.kernel.cmdline.source, p.raw));
  return out;
}

function checkInterruptRemapping(facts: HostFacts, vendor: 'intel' | 'amd' | 'other', groups: number): Finding[] {
  const out: Finding[] = [];
  const ir = interruptRemappingState(facts, vendor);
  const unsafe = unsafeInterruptsSources(facts);
  const unsafeRemedy = 'remove allow_unsafe_interrupts: delete the `options vfio_iommu_type1 allow_unsafe_interrupts=1` line (and the kernel parameter), rebuild the initramfs if vfio is in it, and reboot (or `echo 0 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts`)';
  if (ir.state === 'enabled') {
    out.push(finding('interrupt-remapping', 'security', 'ok', `interrupt remapping is enabled (${ir.why})`, ir.evidence));
  } else if (ir.state === 'unknown') {
    out.push(finding('interrupt-remapping', 'security', 'info', `interrupt remapping state unknown (${ir.why})`, ir.evidence, { remedy: 'check with: dmesg | grep -i remapping' }));
  } else if (groups === 0 && !unsafe.length) {
    out.push(finding('interrupt-remapping', 'security', 'warn', `interrupt remapping is ${ir.state} (${ir.why})`, ir.evidence));
  } else if (unsafe.length) {
    out.push(finding('interrupt-remapping', 'security', 'warn', `interrupt remapping is ${ir.state} (${ir.why}); assignment works only because allow_unsafe_interrupts is set`, [...ir.evidence, ...unsafe], {
      detail: 'Without interrupt remapping a guest with an assigned device can send arbitrary interrupts (MSI) to the host.',
    }));
  } else {
    const offParam = running(facts, 'intremap') ?? running(facts, 'nointremap');
    const enable = ir.state === 'disabled' && offParam ? cmdlineRemedy(facts.boot, { remove: [offParam.raw] })
      : virtioIommuOnly(facts) ? 'virtio-iommu cannot remap interrupts on x86: for guests that are not fully trusted, give this VM an IOMMU that can (QEMU: -device intel-iommu,intremap=on with -machine kernel-irqchip=split, or -device amd-iommu,intremap=on; libvirt: <iommu model=\'intel\'><driver intremap=\'on\'/></iommu> with <ioapic driver=\'qemu\'/>)'
        : inVirtualMachine(facts) ? 'this is a VM: give its virtual IOMMU interrupt remapping on the outer host (QEMU: intel-iommu,intremap=on or amd-iommu,intremap=on, with kernel-irqchip=split under KVM; libvirt: <driver intremap=\'on\'/> in <iommu>)'
          : vendor === 'intel' ? 'enable "Interrupt Remapping" / x2APIC in the firmware setup (some boards tie it to VT-d), or update the firmware' : 'update the firmware; interrupt remapping comes with the IOMMU';
    out.push(finding('interrupt-remapping', 'security', 'fail', `interrupt remapping is ${ir.state} (${ir.why}): vfio refuses to assign devices ("No interrupt remapping support")`, ir.evidence, {
      remedy: `${enable}\nonly for fully trusted guests, as a security downgrade: \`vfioctl host enable-iommu --allow-unsafe-interrupts\` writes ${UNSAFE_INTERRUPTS_FILE} ("options vfio_iommu_type1 allow_unsafe_interrupts=1") and runs ${initramfsCommand(facts.boot)}; then reboot`,
    }));
  }
  if (unsafe.length) {
    out.push(finding('security-unsafe-interrupts', 'security', 'warn', ir.state === 'enabled'
      ? 'allow_unsafe_interrupts is set although interrupt remapping works: an unnecessary security downgrade'
      : 'allow_unsafe_interrupts is set: guests with assigned devices can inject interrupts into the host', unsafe, {
      detail: 'vfio_iommu_type1.allow_unsafe_interrupts lets vfio assign devices without interrupt remapping. Acceptable only when every guest is trusted.',
      ...(ir.state === 'enabled' ? { remedy: unsafeRemedy } : {}),
    }));
  }
  return out;
}

function checkPosture(facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const acs = running(facts, 'pcie_acs_override');
  const acsNext = configuredParam(facts, 'pcie_acs_override');
  if (acs || acsNext) {
    const evd = [acs ? ev(facts.kernel.cmdline.source, acs.raw) : null, acsNext ? ev(hostPath(nextBootCmdline(facts)!.source), acsNext.raw) : null].filter((e): e is Evidence => !!e);
    out.push(finding('security-acs-override', 'security', 'warn', `ACS override ${acs ? 'in use' : 'configured for the next boot'} (${(acs ?? acsNext)!.raw}): IOMMU groups are split without hardware isolation`, evd, {
      detail: 'pcie_acs_override (an out-of-tree patch carried by some kernels; upstream kernels ignore it) pretends devices are isolated. Devices in artificially split groups can still reach each other by peer-to-peer DMA: a guest may read or corrupt memory of devices left on the host or given to another guest.',
      remedy: `prefer a slot whose root port has ACS (see \`vfioctl groups\`), or accept the risk knowingly; to remove it:\n${cmdlineRemedy(facts.boot, { remove: [(acs ?? acsNext)!.raw] })}`,
    }));
  }
  const offs: string[] = [];
  for (const k of ['intel_iommu', 'amd_iommu']) {
    const p = running(facts, k);
    if (p && optionValues(p.value).includes('off')) offs.push(p.raw);
  }
  const io = running(facts, 'iommu');
  if (io && (io.value === 'off' || io.value === 'soft')) offs.push(io.raw);
  if (offs.length) {
    out.push(finding('security-iommu-off', 'security', 'warn', `${offs.join(' ')}: no DMA isolation for any device on this host`, [cmdlineEvidence(facts)], {
      detail: 'With the IOMMU off every device (and Thunderbolt/external PCIe) can read and write all host memory.',
    }));
  }
  const rmrr = facts.kernel.params.filter((p) => /rmrr/i.test(p.key) || /rmrr/i.test(p.value ?? ''));
  if (rmrr.length) {
    out.push(finding('security-rmrr-relaxed', 'security', 'warn', `${rmrr.map(formatKernelParam).join(' ')}: RMRR restrictions relaxed (patched kernel)`, [cmdlineEvidence(facts)], {
      detail: 'Devices with firmware-reserved memory regions (RMRR) keep DMA to those regions while assigned; firmware (e.g. management engines) may still use them, so the guest and the firmware share memory.',
    }));
  }
  const strict = running(facts, 'iommu.strict');
  if (strict && kernelBool(strict.value) === false) {
    out.push(finding('security-iommu-lazy', 'security', 'info', `${strict.raw}: lazy IOTLB invalidation for host DMA (a short window after unmapping)`, [cmdlineEvidence(facts)]));
  }
  const noiommu = running(facts, 'vfio.enable_unsafe_noiommu_mode');
  if (noiommu && kernelBool(noiommu.value ?? '1') === true) {
    out.push(finding('security-noiommu-mode', 'security', 'warn', `${noiommu.raw}: vfio no-IOMMU mode gives user space unrestricted DMA (no isolation; not usable for guests)`, [cmdlineEvidence(facts)]));
  }
  return out;
}

function checkVfio(facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const names = ['vfio', 'vfio_iommu_type1', 'vfio_pci'];
  const states = Object.fromEntries(names.map((n) => [n, moduleState(facts, n)])) as Record<string, ModuleState>;
  // Kernels with iommufd may provide the type1 container through iommufd instead.
  if (states.vfio_iommu_type1 === 'missing' && isOn(moduleState(facts, 'iommufd'))) states.vfio_iommu_type1 = 'builtin';
  const evidence = [
    ev(facts.modules.loaded.source, names.map((n) => `${n}: ${states[n]}`).join(', ')),
    factEvidence(facts.modules.builtin, (v) => (v.some((m) => m.startsWith('vfio')) ? v.filter((m) => m.startsWith('vfio')).join(' ') : '(no vfio built in)')),
    factEvidence(facts.modules.available, (v) => `${v.filter((m) => m.startsWith('vfio')).join(' ') || '(no vfio modules)'}`),
  ];
  const missing = names.filter((n) => states[n] === 'missing');
  const unknown = names.filter((n) => states[n] === 'unknown');
  const notLoaded = names.filter((n) => states[n] === 'available');
  if (missing.length) {
    out.push(finding('vfio-modules', 'vfio', 'fail', `vfio modules missing from this kernel: ${missing.join(', ')}`, evidence, { remedy: 'boot a kernel built with CONFIG_VFIO, CONFIG_VFIO_IOMMU_TYPE1 and CONFIG_VFIO_PCI (or install its modules package)' }));
  } else if (unknown.length) {
    out.push(finding('vfio-modules', 'vfio', 'warn', `vfio module state unknown for ${unknown.join(', ')} (no modules.dep / modules.builtin for the running kernel)`, evidence, { remedy: 'check with: modinfo vfio-pci' }));
  } else if (notLoaded.length) {
    out.push(finding('vfio-modules', 'vfio', 'info', `vfio modules available, not loaded yet: ${notLoaded.join(', ')}`, evidence, { detail: 'They load on demand (modprobe vfio-pci, or when vfioctl binds a device).' }));
  } else {
    out.push(finding('vfio-modules', 'vfio', 'ok', `vfio modules ready: ${names.map((n) => `${n} ${states[n]}`).join(', ')}`, evidence));
  }
  const dv = facts.devVfio;
  const vfioOn = isOn(states.vfio!);
  if (dv.state === 'ok' && dv.value.includes('vfio')) {
    const groupsHeld = dv.value.filter((n) => /^\d+$/.test(n));
    out.push(finding('vfio-device-node', 'vfio', 'ok', `/dev/vfio/vfio present${groupsHeld.length ? `; groups held by vfio: ${groupsHeld.join(' ')}` : ''}`, [factEvidence(dv, (v) => v.join(' '))]));
  } else if (vfioOn) {
    out.push(finding('vfio-device-node', 'vfio', 'warn', 'vfio is loaded but /dev/vfio/vfio is missing', [factEvidence(dv, (v) => v.join(' ') || '(empty)')], { remedy: 'check that devtmpfs/udev created it: ls -l /dev/vfio; modprobe -r vfio-pci vfio_iommu_type1 vfio && modprobe vfio-pci' }));
  } else {
    out.push(finding('vfio-device-node', 'vfio', 'info', '/dev/vfio/vfio appears when the vfio module loads', [factEvidence(dv, (v) => v.join(' ') || '(empty)')]));
  }
  // vfio-pci built in: modprobe.d options are ignored.
  const idsLines = facts.modprobe.filter((d) => d.command === 'options' && moduleName(d.module) === 'vfio_pci');
  const idsEv = idsLines.map((d) => ev(`${hostPath(d.file)}:${d.line}`, `options ${d.module} ${d.args}`));
  if (states.vfio_pci === 'builtin') {
    const onCmdline = running(facts, 'vfio_pci.ids');
    if (idsLines.length) {
      const ids = idsLines.map((d) => /(?:^|\s)ids=(\S+)/.exec(d.args)?.[1]).filter((v): v is string => !!v);
      out.push(finding('vfio-pci-builtin', 'vfio', 'warn', 'vfio-pci is built into the kernel: the modprobe.d options for it are ignored', [...idsEv, ...(onCmdline ? [ev(facts.kernel.cmdline.source, onCmdline.raw)] : [])], {
        remedy: ids.length ? cmdlineRemedy(facts.boot, { add: [`vfio-pci.ids=${ids.join(',')}`] }) : 'put vfio-pci options on the kernel command line as vfio-pci.<option>=<value>',
      }));
    } else {
      out.push(finding('vfio-pci-builtin', 'vfio', 'info', 'vfio-pci is built into the kernel: bind by address (driver_override) or with vfio-pci.ids= on the kernel command line; modprobe.d options do not apply', onCmdline ? [ev(facts.kernel.cmdline.source, onCmdline.raw)] : evidence.slice(1, 2)));
    }
  } else if (idsLines.length) {
    out.push(finding('vfio-pci-options', 'vfio', 'info', `modprobe.d configures vfio-pci: ${idsLines.map((d) => d.args).join('; ')}`, idsEv, {
      detail: 'ids= binds every device with these IDs (all identical cards). The host driver must not claim them first: a softdep <driver> pre: vfio-pci line and vfio-pci in the initramfs take care of that.',
    }));
  }
  return out;
}

function checkMemlock(facts: HostFacts): Finding[] {
  const user = facts.libvirt.qemuUser;
  const users = new Set(['*', 'root', user ?? 'libvirt-qemu', 'qemu', 'libvirt-qemu', '@kvm', '@libvirt']);
  const relevant = facts.memlock.filter((l) => users.has(l.domain));
  const evidence = relevant.map((l) => ev(`${hostPath(l.file)}:${l.line}`, `${l.domain} ${l.type} memlock ${l.value}`));
  if (facts.libvirt.virsh || facts.libvirt.daemons.length) {
    return [finding('memlock', 'vfio', 'ok', 'libvirt raises the locked-memory limit of guests with assigned devices itself', evidence.length ? evidence : [ev(hostPath('etc/security/limits.conf'), '(no memlock entries)')])];
  }
  const small = relevant.filter((l) => /^\d+$/.test(l.value) && Number(l.value) < 1024 * 1024);
  if (small.length) {
    return [finding('memlock', 'vfio', 'warn', `locked-memory limit below 1 GiB for ${small.map((l) => l.domain).join(', ')}: QEMU must lock all guest RAM for an assigned device`, evidence, {
      remedy: 'raise it for the user that runs QEMU, e.g. in /etc/security/limits.d/vfio.conf: `<user> - memlock unlimited` (or guest RAM + 1 GiB in KiB), then log in again',
    })];
  }
  return [finding('memlock', 'vfio', 'info', relevant.length ? `memlock limits: ${relevant.map((l) => `${l.domain} ${l.type} ${l.value}`).join(', ')}` : 'no memlock limit configured: QEMU run directly (without libvirt) needs one at least as large as guest RAM (ulimit -l)', evidence.length ? evidence : [ev(hostPath('etc/security/limits.conf'), '(no memlock entries)')])];
}

function checkBootTooling(facts: HostFacts): Finding[] {
  const b = facts.boot;
  const evidence = [...b.bootLoader.evidence, ...b.initramfs.evidence].map((e) => ev('boot tooling', e));
  const cmds = [...b.bootLoader.regenerate.map((a) => a.join(' ')), ...(b.initramfs.regenerate ? [b.initramfs.regenerate.join(' ')] : [])];
  if (b.bootLoader.kind === 'unknown') {
    return [finding('boot-tooling', 'boot', 'warn', `boot loader not recognised (initramfs: ${b.initramfs.kind}): remedies cannot name its commands`, evidence)];
  }
  return [finding('boot-tooling', 'boot', 'info', `boot: ${describeBoot(b)}${cmds.length ? `; regenerate with: ${cmds.join(', ')}` : ''}`, evidence)];
}

function checkLibvirt(facts: HostFacts): Finding[] {
  const l = facts.libvirt;
  if (!l.virsh && !l.daemons.length) return [finding('libvirt', 'libvirt', 'info', 'libvirt is not installed (not needed for QEMU run directly)', [ev(hostPath('usr/bin/virsh'), '(missing)')])];
  const base = [ev(hostPath('usr/bin/virsh'), l.virsh ? 'present' : '(missing)'), ev('libvirt daemons', l.daemons.join(' ') || '(none)')];
  const rt = l.runtime;
  if (!rt || rt.state === 'not-checked') {
    return [finding('libvirt', 'libvirt', 'info', `libvirt installed; version and VFIO support not checked${rt ? ` (${rt.reason})` : ''}`, base)];
  }
  if (rt.state === 'error') return [finding('libvirt', 'libvirt', 'warn', `libvirt installed but virsh failed: ${rt.message}`, base, { remedy: 'start libvirtd (or virtqemud) and check `virsh uri`' })];
  const ver = rt.version ? `libvirt ${rt.version}` : 'libvirt';
  const backendsEv = ev('virsh domcapabilities', rt.pciBackends ? rt.pciBackends.join(' ') || '(empty pciBackend)' : rt.domcapsError ?? '(not read)');
  if (rt.pciBackends === null) return [finding('libvirt', 'libvirt', 'info', `${ver}; hostdev backends unknown`, [...base, backendsEv])];
  if (rt.pciBackends.includes('vfio')) return [finding('libvirt', 'libvirt', 'ok', `${ver}: PCI hostdev backend vfio available`, [...base, backendsEv])];
  return [finding('libvirt', 'libvirt', 'warn', `${ver} reports no vfio PCI hostdev backend: it cannot assign devices yet`, [...base, backendsEv], { remedy: 'see iommu-firmware and iommu-kernel; libvirt offers the vfio backend once the kernel IOMMU is on and vfio is available' })];
}

function checkReadProblems(facts: HostFacts, inventory: PciInventory): Finding[] {
  const problems = [...facts.problems, ...inventory.problems];
  const out: Finding[] = [];
  if (facts.kernelLog.source) {
    out.push(finding('kernel-log', 'kernel', 'info', `kernel messages read from ${hostPath(facts.kernelLog.source)} (a file copy: it may be older than the running boot)`, [ev(hostPath(facts.kernelLog.source), `${facts.kernelLog.lines.length} relevant lines`)]));
  }
  if (problems.length) {
    out.push(finding('host-read-problems', 'host', 'warn', `${problems.length} host file(s) could not be read: some checks are incomplete`, problems.slice(0, 10).map((p) => ev(p.path, `${p.code}: ${p.message}`)), { remedy: 'run as root (some sysfs and ACPI files are root-only)' }));
  }
  return out;
}
