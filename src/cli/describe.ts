/** Short human descriptions of functions and groups, shared by ls, groups, show and the other commands. */
import { formatShortAddress, pciAddressOf } from '../model/pci-address.js';
import { type PciFunction, type PciInventory, factUnknown } from '../model/pci-function.js';
import { importFactUnknown } from '../model/import-facts.js';

export function shortAddr(addr: string): string {
  return formatShortAddress(pciAddressOf(addr));
}

export function className(f: PciFunction): string {
  return f.names.subclassName ?? f.names.className ?? `class ${f.class}`;
}

export { deviceName, acsEnabled } from '../service/views.js';
import { acsEnabled } from '../service/views.js';

export function driverText(f: PciFunction, inv: PciInventory): string {
  if (factUnknown(f, 'driver') || importFactUnknown(inv, 'drivers in use', f.address)) return '?';
  const d = f.driver ?? '-';
  return f.driverOverride && f.driverOverride !== f.driver ? `${d} (override ${f.driverOverride})` : d;
}

export function flags(f: PciFunction): string[] {
  const out: string[] = [];
  if (f.isBridge) out.push('bridge');
  if (f.multifunction) out.push('multifunction');
  if (f.bootVga) out.push('boot-vga');
  // a fact not read shows as "NAME?", never as its absence
  if (factUnknown(f, 'hasRom')) out.push('rom?');
  else if (f.hasRom) out.push('rom');
  if (factUnknown(f, 'flr')) out.push('flr?');
  else if (f.flr) out.push('flr');
  if (f.capabilities.acs) out.push(acsEnabled(f) ? 'acs' : 'acs-off');
  if (f.sriov) out.push(`sriov ${f.sriov.numVfs}/${f.sriov.totalVfs}`);
  if (f.physfn) out.push(`vf-of ${shortAddr(f.physfn)}`);
  if (f.capabilities.pcie === null && f.capabilities.standardReadable && !f.isBridge && !isRootComplexDevice(f)) out.push('conventional-pci');
  if (f.problems.length) out.push('unreadable');
  return out;
}


function isRootComplexDevice(f: PciFunction): boolean {
  return f.parentChain.length === 0;
}
