// IOMMU and interrupt-remapping signals of the running guest kernel, read directly (no vfioctl): the
// independent oracle for the doctor's IOMMU findings. Every signal the kernel gives is read: the ACPI
// tables that describe an IOMMU (DMAR, IVRS, VIOT), the units in /sys/class/iommu, the interrupt chips
// in /proc/interrupts (IR-... only when remapping is on), the kernel log (dmesg), vfio_iommu_type1's
// allow_unsafe_interrupts, and the groups.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readText, kernelGroups, runInfo, modprobe } from './guest.mjs';

export const UNSAFE = '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts';

/** The chip column of /proc/interrupts (the words between the per-CPU counts and the hwirq/name). */
export function interruptChips(text) {
  const lines = text.split('\n');
  const cpus = (lines[0] ?? '').trim().split(/\s+/).filter((w) => /^CPU\d+$/.test(w)).length;
  const chips = new Set();
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+):\s+(.*)$/.exec(line);
    if (!m) continue;
    const words = m[2].trim().split(/\s+/).slice(cpus);
    if (words[0]) chips.add(words[0]);
  }
  return [...chips].sort();
}

export function dmesgLines() {
  const r = spawnSync('dmesg', [], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return r.status === 0 ? r.stdout.split('\n') : [];
}

export function iommuSignals() {
  const tables = existsSync('/sys/firmware/acpi/tables') ? readdirSync('/sys/firmware/acpi/tables').sort() : [];
  const units = existsSync('/sys/class/iommu') ? readdirSync('/sys/class/iommu').sort() : [];
  const unitLinks = Object.fromEntries(units.map((u) => [u, readlinkSync(join('/sys/class/iommu', u))]));
  const interrupts = readText('/proc/interrupts') ?? '';
  const chips = interruptChips(interrupts);
  const log = dmesgLines();
  const logHits = log.filter((l) => /AMD-Vi|DMAR|IOMMU|remapping|virtio.iommu|VIOT|x2apic/i.test(l));
  const groups = kernelGroups();
  return {
    model: runInfo().topology.iommuModel ?? null,
    tables: tables.filter((t) => ['DMAR', 'IVRS', 'VIOT', 'IORT'].includes(t)),
    units,
    unitLinks,
    irChips: chips.filter((c) => c.startsWith('IR-')),
    chips,
    logHits,
    groups: groups.size,
    allowUnsafeInterrupts: readText(UNSAFE),
    cmdline: readText('/proc/cmdline'),
    interrupts,
  };
}

/** Set vfio_iommu_type1.allow_unsafe_interrupts at run time (the module is loaded first). */
export function setUnsafeInterrupts(on) {
  modprobe('vfio_iommu_type1');
  writeFileSync(UNSAFE, on ? 'Y' : 'N');
  return readText(UNSAFE);
}
