import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { expectGolden } from '../support/golden.js';

/** Two sockets: root complex pci0000:00 on node 0 (a GPU behind 00:01.0), pci0000:40 on node 1 (a GPU behind 40:01.0). */
const TWO_SOCKETS: HostSpec = {
  functions: [
    { address: '0000:00:00.0', vendor: 0x8086, device: 0x2020, classCode: 0x060000, iommuGroup: 0, numaNode: 0 },
    { address: '0000:00:01.0', vendor: 0x8086, device: 0x2030, classCode: 0x060400, driver: 'pcieport', iommuGroup: 1, numaNode: 0, caps: { pcie: { portType: 'root-port' }, acs: { sv: true, rr: true, cr: true, uf: true, ctrl: { sv: true, rr: true, cr: true, uf: true } } } },
    { address: '0000:01:00.0', vendor: 0x10de, device: 0x1e84, subVendor: 0x1462, subDevice: 0x3fff, classCode: 0x030000, driver: 'nouveau', iommuGroup: 2, parent: '0000:00:01.0', numaNode: 0, localCpulist: '0-7', caps: { pcie: { portType: 'endpoint', flr: true } } },
    { address: '0000:00:02.0', vendor: 0x1234, device: 0x1111, classCode: 0x030000, driver: 'bochs-drm', iommuGroup: 6, bootVga: true, numaNode: 0 },
    { address: '0000:40:00.0', vendor: 0x8086, device: 0x2020, classCode: 0x060000, iommuGroup: 10, numaNode: 1 },
    { address: '0000:40:01.0', vendor: 0x8086, device: 0x2030, classCode: 0x060400, driver: 'pcieport', iommuGroup: 11, numaNode: 1, caps: { pcie: { portType: 'root-port' }, acs: { sv: true, rr: true, cr: true, uf: true, ctrl: { sv: true, rr: true, cr: true, uf: true } } } },
    { address: '0000:41:00.0', vendor: 0x10de, device: 0x1e84, subVendor: 0x1462, subDevice: 0x3fff, classCode: 0x030000, driver: 'nouveau', iommuGroup: 12, parent: '0000:40:01.0', numaNode: 1, localCpulist: '8-15', caps: { pcie: { portType: 'endpoint', flr: true } } },
  ],
  iommu: 'intel',
  files: { 'sys/devices/system/node/node0/cpulist': '0-7\n', 'sys/devices/system/node/node1/cpulist': '8-15\n', 'proc/cmdline': 'intel_iommu=on iommu=pt\n' },
};

interface Aff { functions: { address: string; numaNode: number | null; rootPort: string | null; rootBus: string | null; localCpus: string | null }[]; nodes: number[]; spansNodes: boolean; hint: { node: number; cpus: string | null; libvirt: string } | null }

describe('NUMA and PCIe affinity in plans', () => {
  it('reports node and root of each function; one node: a pinning hint, no warning', async () => {
    const t = makeTempHostTree(TWO_SOCKETS);
    try {
      const p = (await runCli(['plan', '41:00.0', '--json', '--root', t.root])).json<{ affinity: Aff; findings: { id: string }[] }>();
      assert.deepEqual(p.affinity.functions, [{ address: '0000:41:00.0', numaNode: 1, numaKnown: true, rootPort: '0000:40:01.0', rootBus: 'pci0000:40', localCpus: '8-15' }]);
      assert.deepEqual(p.affinity.nodes, [1]);
      assert.equal(p.affinity.spansNodes, false);
      assert.equal(p.affinity.hint?.node, 1);
      assert.equal(p.affinity.hint?.cpus, '8-15');
      assert.equal(p.findings.some((f) => f.id === 'numa-span'), false);
      const human = await runCli(['plan', '41:00.0', '--root', t.root], { env: { NO_COLOR: '1' } });
      assert.match(human.stdout, /NUMA and PCIe affinity:\n {2}0000:41:00\.0 {2}node 1 {2}root port 0000:40:01\.0 \(pci0000:40\) {2}CPUs 8-15\n {2}pinning hint: memory on node 1, vCPUs and emulator on CPUs 8-15/);
    } finally {
      t.cleanup();
    }
  });

  it('one guest across two sockets: the plan warns (numa-span) and gives no hint', async () => {
    const t = makeTempHostTree(TWO_SOCKETS);
    try {
      const r = await runCli(['plan', '01:00.0', '41:00.0', '--json', '--root', t.root]);
      const p = r.json<{ verdict: string; affinity: Aff; findings: { id: string; severity: string; summary: string }[] }>();
      assert.deepEqual(p.affinity.nodes, [0, 1]);
      assert.equal(p.affinity.spansNodes, true);
      assert.equal(p.affinity.hint, null);
      const f = p.findings.find((x) => x.id === 'numa-span')!;
      assert.equal(f.severity, 'warn');
      assert.match(f.summary, /2 NUMA nodes \(node 0: 0000:01:00\.0; node 1: 0000:41:00\.0\)/);
      assert.notEqual(p.verdict, 'ok');
    } finally {
      t.cleanup();
    }
  });

  it('render --numa-hint adds the hint as its own section; without it the output is unchanged', async () => {
    const t = makeTempHostTree(TWO_SOCKETS);
    try {
      const plain = await runCli(['render', 'libvirt', '01:00.0', '--root', t.root]);
      const hinted = await runCli(['render', 'libvirt', '01:00.0', '--numa-hint', '--root', t.root]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.ok(hinted.stdout.startsWith(plain.stdout), 'the configuration itself is byte-identical');
      expectGolden('render/numa-hint-node0.xml', hinted.stdout.slice(plain.stdout.length));
      const span = await runCli(['render', 'qemu', '01:00.0', '41:00.0', '--numa-hint', '--root', t.root]);
      assert.match(span.stdout, /# vfioctl NUMA hint: none: the functions sit on NUMA nodes 0, 1\n$/);
    } finally {
      t.cleanup();
    }
  });
});
