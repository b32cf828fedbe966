/**
 * NUMA and PCIe affinity of a guest's functions (pure): each function's node and root, a warning when one
 * guest's functions span nodes (DMA and interrupts of some cross the inter-socket link), and the libvirt
 * pinning hint for the node they share (<numatune> memory on the node, <cputune> emulator and vCPUs on
 * its CPUs). The hint is advice shown beside the configuration, never written into it.
 */
import type { Finding } from '../model/finding.js';
import type { PciFunction } from '../model/pci-function.js';
import { factUnknown } from '../model/pci-function.js';
import type { FunctionAffinity, PlanAffinity } from '../model/plan.js';
import type { PciAddressString } from '../model/pci-address.js';

export interface AffinityInput {
  localCpus: Record<string, string | null>;
  nodeCpus: Record<number, string>;
}

export function functionAffinity(f: PciFunction, input: AffinityInput): FunctionAffinity {
  const known = !factUnknown(f, 'numaNode') && f.numaNode !== undefined;
  const node = known && f.numaNode !== null && f.numaNode >= 0 ? f.numaNode : null;
  return {
    address: f.address,
    numaNode: node,
    numaKnown: known,
    rootPort: (f.parentChain[0] as PciAddressString | undefined) ?? null,
    rootBus: f.rootBus,
    localCpus: input.localCpus[f.address] ?? null,
  };
}

/** The libvirt fragment the hint shows (a comment heads it: it is advice, to merge by hand). */
export function renderNumaHint(node: number, cpus: string | null): string {
  const lines = [
    `<!-- vfioctl: the assigned functions are local to host NUMA node ${node}${cpus ? ` (CPUs ${cpus})` : ''}: keep the guest's memory${cpus ? ' and vCPUs' : ''} there -->`,
    '<numatune>',
    `  <memory mode='strict' nodeset='${node}'/>`,
    '</numatune>',
  ];
  if (cpus) {
    lines.push('<cputune>', `  <emulatorpin cpuset='${cpus}'/>`, `  <!-- one <vcpupin vcpu='N' cpuset='C'/> per vCPU, each C one of ${cpus} -->`, '</cputune>');
  }
  return `${lines.join('\n')}\n`;
}

export function planAffinity(claimed: readonly PciFunction[], input: AffinityInput): { affinity: PlanAffinity; findings: Finding[] } {
  const functions = claimed.map((f) => functionAffinity(f, input));
  const nodes = [...new Set(functions.flatMap((f) => (f.numaNode === null ? [] : [f.numaNode])))].sort((a, b) => a - b);
  const spansNodes = nodes.length > 1;
  const findings: Finding[] = [];
  if (spansNodes) {
    const by = nodes.map((n) => `node ${n}: ${functions.filter((f) => f.numaNode === n).map((f) => f.address).join(', ')}`);
    findings.push({
      id: 'numa-span', severity: 'warn', category: 'device', subjects: functions.map((f) => f.address),
      summary: `the guest's functions sit on ${nodes.length} NUMA nodes (${by.join('; ')}): the DMA and interrupts of some cross the link between sockets, whichever node the guest runs on`,
      evidence: functions.map((f) => ({ source: `/sys/bus/pci/devices/${f.address}/numa_node`, value: f.numaNode === null ? '-1' : String(f.numaNode) })),
      remedy: 'give the guest functions of one node (or one guest per node), or accept the extra latency',
    });
  }
  let hint: PlanAffinity['hint'] = null;
  if (nodes.length === 1) {
    const node = nodes[0]!;
    const cpus = input.nodeCpus[node] ?? functions.find((f) => f.numaNode === node && f.localCpus)?.localCpus ?? null;
    hint = { node, cpus, libvirt: renderNumaHint(node, cpus) };
  }
  return { affinity: { functions, nodes, spansNodes, hint }, findings };
}
