/**
 * Judgements that depend on a function's class code (24-bit class/subclass/prog-if as 6 hex digits).
 * Names come from pci.ids; these rules only need the numbers.
 */

export function classParts(cls: string): { base: number; sub: number; progIf: number } {
  const v = parseInt(cls, 16);
  return { base: (v >> 16) & 0xff, sub: (v >> 8) & 0xff, progIf: v & 0xff };
}

/** PCI-to-PCI bridges and PCIe ports (class 06 04) and semi-transparent bridges (06 09): stay on the host. */
export function isBridgeClass(cls: string): boolean {
  const { base, sub } = classParts(cls);
  return base === 0x06 && (sub === 0x04 || sub === 0x09);
}

export type HostCriticalKind = 'storage' | 'host-bridge' | 'isa-bridge' | 'smbus' | 'memory-controller';

/**
 * Classes whose presence in a group means the host likely depends on it: giving such a group away can
 * take the host's disks, its platform glue or its firmware interfaces with it. This is a class-level hint
 * (the host-impact analysis refines it with what is actually mounted, routed or displayed).
 */
export function hostCriticalClass(cls: string): { kind: HostCriticalKind; reason: string } | null {
  const { base, sub } = classParts(cls);
  if (base === 0x01) return { kind: 'storage', reason: 'storage controller (may hold host disks)' };
  if (base === 0x06 && sub === 0x00) return { kind: 'host-bridge', reason: 'host bridge (platform device)' };
  if (base === 0x06 && sub === 0x01) return { kind: 'isa-bridge', reason: 'ISA/LPC bridge (platform device: firmware, TPM, super I/O)' };
  if (base === 0x0c && sub === 0x05) return { kind: 'smbus', reason: 'SMBus controller (platform device: sensors, SPD)' };
  if (base === 0x05) return { kind: 'memory-controller', reason: 'memory controller (platform device)' };
  return null;
}

export function isVgaClass(cls: string): boolean {
  const { base, sub } = classParts(cls);
  return base === 0x03 && sub === 0x00;
}

export function isDisplayClass(cls: string): boolean {
  return classParts(cls).base === 0x03;
}

export function isNetworkClass(cls: string): boolean {
  return classParts(cls).base === 0x02;
}

export function isStorageClass(cls: string): boolean {
  return classParts(cls).base === 0x01;
}
