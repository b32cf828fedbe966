/**
 * Reader of NUMA placement beside the inventory: each function's local_cpulist, and the CPUs of each
 * host NUMA node (sys/devices/system/node/nodeN/cpulist). numa_node itself is in the inventory.
 */
import type { HostRoot } from './host-root.js';
import { pciAddressOf } from '../model/pci-address.js';
import type { PciFunction } from '../model/pci-function.js';

const CPULIST = /^[0-9,-]{1,4096}$/;

export interface NumaFacts {
  /** local_cpulist by address (null: absent or unreadable) */
  localCpus: Record<string, string | null>;
  /** cpulist of each NUMA node the host shows */
  nodeCpus: Record<number, string>;
}

export function readNumaFacts(host: HostRoot, functions: readonly PciFunction[], addresses: readonly string[]): NumaFacts {
  const localCpus: Record<string, string | null> = {};
  for (const a of addresses) {
    if (!functions.some((f) => f.address === a)) continue;
    const r = host.readText(`${host.pciDeviceRel(pciAddressOf(a))}/local_cpulist`);
    const v = r.state === 'ok' ? r.value.trim() : null;
    localCpus[a] = v !== null && CPULIST.test(v) ? v : null;
  }
  const nodeCpus: Record<number, string> = {};
  const nodes = host.listDir('sys/devices/system/node');
  if (nodes.state === 'ok') {
    for (const n of nodes.value) {
      const m = /^node(\d{1,4})$/.exec(n);
      if (!m) continue;
      const r = host.readText(`sys/devices/system/node/${n}/cpulist`);
      if (r.state === 'ok' && CPULIST.test(r.value.trim())) nodeCpus[Number(m[1])] = r.value.trim();
    }
  }
  return { localCpus, nodeCpus };
}
