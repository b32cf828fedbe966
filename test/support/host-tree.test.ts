/**
 * The synthetic host-tree builder checked against an independent reader: pciutils (`lspci`, `setpci`)
 * reads the generated sys/bus/pci exactly as it reads a live host, and must decode the IDs, classes,
 * drivers, groups, topology and capabilities the specs describe. The layout (relative link texts, link
 * depth, attribute formats) is checked against what the kernel writes.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { encodeConfigSpace, makeTempHostTree, type FnSpec, type HostSpec } from './host-tree.js';
import {
  amdGpu, chipsetShared, conventionalBridge, desktopGpu, hostileDeviceEntries, noIommu, scaledHost, sriovNic, twoIdenticalGpus,
} from './topologies.js';

const haveLspci = spawnSync('lspci', ['--version'], { encoding: 'utf8' }).status === 0;
const noLspci = haveLspci ? false : 'pciutils is not installed (apt-get install pciutils pci.ids): lspci is the oracle here';

function pciutil(cmd: 'lspci' | 'setpci', root: string, args: string[]): string {
  const r = spawnSync(cmd, ['-O', `sysfs.path=${root}/sys/bus/pci`, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** lspci -vvv output split per function, keyed by the short address lspci prints. */
function lspciBlocks(root: string, extra: string[] = []): Map<string, string> {
  const out = pciutil('lspci', root, ['-vvv', '-D', ...extra]);
  const m = new Map<string, string>();
  for (const block of out.split(/\n(?=\S)/)) {
    const addr = block.slice(0, 12);
    if (/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(addr)) m.set(addr, block);
  }
  return m;
}

const trees: { cleanup(): void }[] = [];
function tree(spec: HostSpec): string {
  const t = makeTempHostTree(spec);
  trees.push(t);
  return t.root;
}
after(() => {
  for (const t of trees) t.cleanup();
});

const read = (root: string, rel: string): string => fs.readFileSync(path.join(root, rel), 'utf8');
const linkText = (root: string, rel: string): string => fs.readlinkSync(path.join(root, rel));

describe('host-tree: identities, classes and drivers (lspci -nnk oracle)', { skip: noLspci }, () => {
  for (const [name, make] of Object.entries({ desktopGpu, chipsetShared, sriovNic, twoIdenticalGpus, amdGpu, conventionalBridge, noIommu })) {
    it(`${name}: every function appears with its IDs, class, subsystem and driver`, () => {
      const spec = make();
      const root = tree(spec);
      const out = pciutil('lspci', root, ['-nnk', '-D']);
      const blocks = new Map(out.split(/\n(?=\S)/).map((b) => [b.slice(0, 12), b] as const));
      assert.equal(blocks.size, spec.functions.length, out);
      for (const f of spec.functions) {
        const b = blocks.get(f.address);
        assert.ok(b, `${f.address} missing from lspci:\n${out}`);
        const first = b.split('\n')[0] ?? '';
        const h4 = (n: number): string => n.toString(16).padStart(4, '0');
        assert.match(first, new RegExp(`\\[${h4(f.classCode >> 8)}\\]: .*\\[${h4(f.vendor)}:${h4(f.device)}\\]`), first);
        if (f.revision) assert.match(first, new RegExp(`\\(rev ${f.revision.toString(16).padStart(2, '0')}\\)`));
        if (f.subVendor !== undefined) assert.match(b, new RegExp(`Subsystem: .*\\[${h4(f.subVendor)}:${h4(f.subDevice ?? 0)}\\]`), b);
        if (f.driver) assert.match(b, new RegExp(`Kernel driver in use: ${f.driver}(\\n|$)`), b);
        else assert.doesNotMatch(b, /Kernel driver in use/);
      }
    });
  }

  it('IOMMU groups read by lspci -vvv are the spec groups', () => {
    for (const spec of [desktopGpu(), chipsetShared(), sriovNic()]) {
      const root = tree(spec);
      const blocks = lspciBlocks(root);
      for (const f of spec.functions) {
        const b = blocks.get(f.address) ?? '';
        if (f.iommuGroup == null) assert.doesNotMatch(b, /IOMMU group/);
        else assert.match(b, new RegExp(`IOMMU group: ${f.iommuGroup}\\n`), `${f.address}\n${b}`);
      }
    }
  });
});

describe('host-tree: topology and header (lspci -t, setpci oracle)', { skip: noLspci }, () => {
  it('bridges carry the bus numbers of what is behind them', () => {
    const root = tree(chipsetShared());
    const t = pciutil('lspci', root, ['-tvn']);
    // root port 00:01.2 leads to 02-06, the switch upstream port 02:00.0 to 03-06, each downstream port to one bus
    assert.match(t, /01\.2-\[02-06\]----00\.0-\[03-06\]--\+-04\.0-\[04\]----00\.0 {2}8086:1539/);
    assert.match(t, /\+-08\.0-\[05\]----00\.0 {2}1022:149c/);
    assert.match(t, /\\-09\.0-\[06\]----00\.0 {2}1022:7901/);
    const b = lspciBlocks(root).get('0000:02:00.0') ?? '';
    assert.match(b, /Bus: primary=02, secondary=03, subordinate=06/);
  });

  it('the multifunction bit is set on shared slots only, header type 1 on bridges', () => {
    const root = tree(desktopGpu());
    const ht = (a: string): string => pciutil('setpci', root, ['-s', a, 'HEADER_TYPE.b']).trim();
    assert.equal(ht('01:00.0'), '80');
    assert.equal(ht('01:00.1'), '80');
    assert.equal(ht('00:1f.3'), '80');
    assert.equal(ht('00:17.0'), '00');
    assert.equal(ht('00:1b.0'), '01');
    const root2 = tree(sriovNic());
    // VFs never set it, and a single-function PF does not either
    assert.equal(pciutil('setpci', root2, ['-s', '03:10.0', 'HEADER_TYPE.b']).trim(), '00');
    assert.equal(pciutil('setpci', root2, ['-s', '03:00.0', 'HEADER_TYPE.b']).trim(), '00');
  });

  it('BARs and the expansion ROM are placed and visible', () => {
    const root = tree(desktopGpu());
    const b = lspciBlocks(root).get('0000:01:00.0') ?? '';
    assert.match(b, /Region 0: Memory at [0-9a-f]+ \(32-bit, non-prefetchable\) \[size=16M\]/);
    assert.match(b, /Region 1: Memory at [0-9a-f]+ \(64-bit, prefetchable\) \[size=256M\]/);
    assert.match(b, /Region 5: I\/O ports at [0-9a-f]+ \[size=128\]/);
    assert.match(b, /Expansion ROM at [0-9a-f]+ \[disabled\] \[size=128K\]/);
    const noRom = lspciBlocks(root).get('0000:01:00.1') ?? '';
    assert.doesNotMatch(noRom, /Expansion ROM/);
  });
});

describe('host-tree: capabilities (lspci -vvv oracle)', { skip: noLspci }, () => {
  it('PCIe port types, FLR and slots', () => {
    const desk = lspciBlocks(tree(desktopGpu()));
    const chip = lspciBlocks(tree(chipsetShared()));
    const conv = lspciBlocks(tree(conventionalBridge()));
    const get = (m: Map<string, string>, a: string): string => m.get(a) ?? assert.fail(`${a} missing`);
    assert.match(get(desk, '0000:00:01.0'), /Express \(v2\) Root Port \(Slot\+\)/);
    assert.match(get(desk, '0000:01:00.0'), /Express \(v2\) Endpoint/);
    assert.match(get(desk, '0000:01:00.0'), /FLReset-/);
    assert.match(get(desk, '0000:02:00.0'), /FLReset\+/);
    assert.match(get(chip, '0000:02:00.0'), /Express \(v2\) Upstream Port/);
    assert.match(get(chip, '0000:03:04.0'), /Express \(v2\) Downstream Port \(Slot-\)/);
    assert.match(get(chip, '0000:00:00.2'), /Express \(v2\) Root Complex Integrated Endpoint/);
    assert.match(get(conv, '0000:04:00.0'), /Express \(v2\) PCI-Express to PCI\/PCI-X Bridge/);
    assert.match(get(conv, '0000:04:00.0'), /Bus: primary=04, secondary=05, subordinate=05/);
    // conventional functions have no Express capability
    assert.doesNotMatch(get(conv, '0000:05:00.0'), /Express/);
    assert.match(get(conv, '0000:05:00.0'), /Power Management version 3/);
    for (const portType of ['legacy-endpoint', 'rc-event-collector', 'pci-to-pcie-bridge'] as const) {
      const f: FnSpec = { address: '0000:00:06.0', vendor: 0x1234, device: 0x1, classCode: portType === 'pci-to-pcie-bridge' ? 0x060400 : 0x088000, caps: { pcie: { portType } } };
      const name = { 'legacy-endpoint': 'Legacy Endpoint', 'rc-event-collector': 'Root Complex Event Collector', 'pci-to-pcie-bridge': 'PCI/PCI-X to PCI-Express Bridge' }[portType];
      assert.match(get(lspciBlocks(tree({ functions: [f] })), '0000:00:06.0'), new RegExp(`Express \\(v2\\) ${name.replace(/[/()]/g, '\\$&')}`));
    }
  });

  it('ACS capability and control bits', () => {
    const blocks = lspciBlocks(tree(twoIdenticalGpus()));
    const rp = blocks.get('0000:00:03.1') ?? '';
    assert.match(rp, /ACSCap:\s+SrcValid\+ TransBlk- ReqRedir\+ CmpltRedir\+ UpstreamFwd\+ EgressCtrl- DirectTrans-/);
    assert.match(rp, /ACSCtl:\s+SrcValid\+ TransBlk- ReqRedir\+ CmpltRedir\+ UpstreamFwd\+ EgressCtrl- DirectTrans-/);
    // The desktop CPU root port has no ACS at all
    assert.doesNotMatch(lspciBlocks(tree(desktopGpu())).get('0000:00:01.0') ?? 'x', /Access Control Services/);
    // Capability without control: every bit advertised, none enabled
    const spec: HostSpec = {
      functions: [{
        address: '0000:00:1c.0', vendor: 0x8086, device: 0xa338, classCode: 0x060400,
        caps: { pcie: { portType: 'root-port' }, acs: { sv: true, tb: true, rr: true, cr: true, uf: true, ec: true, dt: true, ctrl: { tb: true } } },
      }],
    };
    const b = lspciBlocks(tree(spec)).get('0000:00:1c.0') ?? '';
    assert.match(b, /ACSCap:\s+SrcValid\+ TransBlk\+ ReqRedir\+ CmpltRedir\+ UpstreamFwd\+ EgressCtrl\+ DirectTrans\+/);
    assert.match(b, /ACSCtl:\s+SrcValid- TransBlk\+ ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-/);
  });

  it('SR-IOV, ATS and the VF routing fields', () => {
    const b = lspciBlocks(tree(sriovNic())).get('0000:03:00.0') ?? '';
    assert.match(b, /Single Root I\/O Virtualization \(SR-IOV\)/);
    assert.match(b, /Initial VFs: 8, Total VFs: 8, Number of VFs: 2/);
    assert.match(b, /VF offset: 128, stride: 2, Device ID: 10ed/);
    assert.match(b, /IOVCtl:\s+Enable\+/);
    assert.match(b, /Address Translation Service \(ATS\)/);
    assert.match(b, /ATSCtl:\s+Enable-/);
    const spec: HostSpec = {
      functions: [{ address: '0000:00:02.0', vendor: 0x8086, device: 0x1234, classCode: 0x020000, caps: { pcie: { portType: 'rc-integrated-endpoint' }, ats: { queueDepth: 7, enabled: true } } }],
    };
    const c = lspciBlocks(tree(spec)).get('0000:00:02.0') ?? '';
    assert.match(c, /ATSCap:\s+Invalidate Queue Depth: 07/);
    assert.match(c, /ATSCtl:\s+Enable\+/);
  });

  it('Resizable BAR sizes and current size', () => {
    const b = lspciBlocks(tree(twoIdenticalGpus())).get('0000:0a:00.0') ?? '';
    assert.match(b, /Physical Resizable BAR/);
    assert.match(b, /BAR 1: current size: 256MB, supported: 64MB 128MB 256MB 512MB 1GB 2GB 4GB 8GB 16GB 32GB/);
    const a = lspciBlocks(tree(amdGpu())).get('0000:08:00.0') ?? '';
    assert.match(a, /BAR 0: current size: 256MB, supported: 256MB 512MB 1GB 2GB 4GB 8GB/);
  });

  it('PM NoSoftRst, MSI vectors/64-bit/masking, MSI-X table size, AF FLR', () => {
    const f: FnSpec = {
      address: '0000:00:05.0', vendor: 0x1234, device: 0x5678, classCode: 0x078000, driver: 'foo', powerState: 'D3hot',
      caps: { pm: { noSoftReset: true }, msi: { vectors: 8, addr64: false, maskable: true }, msix: { tableSize: 17 }, af: { flr: true } },
    };
    const b = lspciBlocks(tree({ functions: [f] })).get('0000:00:05.0') ?? '';
    assert.match(b, /Status: D3 NoSoftRst\+/);
    assert.match(b, /MSI: Enable- Count=1\/8 Maskable\+ 64bit-/);
    assert.match(b, /MSI-X: Enable\+ Count=17/);
    assert.match(b, /PCI Advanced Features\n\s+AFCap: TP\+ FLR\+/);
    const g = lspciBlocks(tree({ functions: [{ ...f, caps: { af: { flr: false } } }] })).get('0000:00:05.0') ?? '';
    assert.match(g, /AFCap: TP\+ FLR-/);
  });

  it('a 64-byte config file (unprivileged read) hides the capability lists', () => {
    const f: FnSpec = { address: '0000:00:05.0', vendor: 0x1234, device: 0x5678, classCode: 0x020000, configSize: 64, caps: { pm: {}, pcie: { portType: 'endpoint', flr: true } } };
    const root = tree({ functions: [f] });
    assert.equal(fs.statSync(path.join(root, 'sys/bus/pci/devices/0000:00:05.0/config')).size, 64);
    const b = lspciBlocks(root).get('0000:00:05.0') ?? '';
    assert.match(b, /Capabilities: <access denied>/);
  });
});

describe('host-tree: kernel layout', () => {
  it('nests functions under their bridges and links with the kernel\'s relative texts', () => {
    const root = tree(desktopGpu());
    assert.ok(fs.statSync(path.join(root, 'sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0')).isDirectory());
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:01:00.0'), '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:00:17.0'), '../../../devices/pci0000:00/0000:00:17.0');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:01:00.0/driver'), '../../../../bus/pci/drivers/nouveau');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:00:17.0/driver'), '../../../bus/pci/drivers/ahci');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:01:00.0/iommu_group'), '../../../../kernel/iommu_groups/1');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:00:17.0/iommu_group'), '../../../kernel/iommu_groups/3');
    assert.equal(linkText(root, 'sys/kernel/iommu_groups/1/devices/0000:01:00.1'), '../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.1');
    assert.equal(linkText(root, 'sys/bus/pci/drivers/nouveau/0000:01:00.0'), '../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:01:00.0/subsystem'), '../../../../bus/pci');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:01:00.0/iommu'), '../../../virtual/iommu/dmar0');
    assert.equal(linkText(root, 'sys/class/iommu/dmar0'), '../../devices/virtual/iommu/dmar0');
    // the links resolve where the kernel's do
    const real = (rel: string): string => fs.realpathSync(path.join(root, rel));
    assert.equal(real('sys/bus/pci/drivers/nouveau/0000:01:00.0'), real('sys/bus/pci/devices/0000:01:00.0'));
    assert.equal(real('sys/bus/pci/devices/0000:01:00.0/iommu_group'), real('sys/kernel/iommu_groups/1'));
    assert.deepEqual(fs.readdirSync(path.join(root, 'sys/kernel/iommu_groups/1/devices')).sort(), ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']);
    assert.deepEqual(fs.readdirSync(path.join(root, 'sys/kernel/iommu_groups/8/devices')).sort(), ['0000:00:1f.0', '0000:00:1f.3', '0000:00:1f.4']);
    assert.equal(read(root, 'sys/kernel/iommu_groups/1/type'), 'DMA\n');
    // driver module links
    assert.equal(linkText(root, 'sys/bus/pci/drivers/xhci_hcd/module'), '../../../../module/xhci_pci');
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/drivers/pcieport/module')), false);
    assert.ok(fs.statSync(path.join(root, 'sys/firmware/acpi/tables/DMAR')).size > 36);
  });

  it('prints attributes as the kernel does', () => {
    const root = tree(desktopGpu());
    const d = 'sys/bus/pci/devices/0000:01:00.0';
    assert.equal(read(root, `${d}/vendor`), '0x10de\n');
    assert.equal(read(root, `${d}/device`), '0x1b80\n');
    assert.equal(read(root, `${d}/subsystem_vendor`), '0x1458\n');
    assert.equal(read(root, `${d}/subsystem_device`), '0x3702\n');
    assert.equal(read(root, `${d}/class`), '0x030000\n');
    assert.equal(read(root, `${d}/revision`), '0xa1\n');
    assert.equal(read(root, `${d}/numa_node`), '-1\n');
    assert.equal(read(root, `${d}/driver_override`), '(null)\n');
    assert.equal(read(root, `${d}/boot_vga`), '1\n');
    assert.equal(read(root, `${d}/reset_method`), 'bus\n');
    assert.equal(read(root, `${d}/d3cold_allowed`), '1\n');
    assert.equal(read(root, `${d}/power_state`), 'D0\n');
    assert.equal(read(root, `${d}/enable`), '1\n');
    assert.equal(read(root, `${d}/modalias`), 'pci:v000010DEd00001B80sv00001458sd00003702bc03sc00i00\n');
    assert.equal(read(root, `${d}/current_link_speed`), '8.0 GT/s PCIe\n');
    assert.equal(read(root, `${d}/current_link_width`), '16\n');
    assert.ok(fs.existsSync(path.join(root, `${d}/rom`)));
    assert.equal(read(root, `${d}/resource`).split('\n').length - 1, 13);
    assert.equal(read(root, 'sys/bus/pci/devices/0000:00:01.0/resource').split('\n').length - 1, 17);
    // boot_vga only on VGA class, reset_method only when given
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/devices/0000:01:00.1/boot_vga')), false);
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/devices/0000:00:17.0/reset_method')), false);
    assert.equal(read(root, 'sys/bus/pci/devices/0000:02:00.0/reset_method'), 'flr bus\n');
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/devices/0000:02:00.0/iommu_group')), true);
    assert.equal(read(root, 'proc/cmdline').includes('intel_iommu=on'), true);
  });

  it('driver_override, numa_node, d3cold and a second IOMMU vendor', () => {
    const spec = amdGpu();
    const gpu = spec.functions.find((f) => f.address === '0000:08:00.0');
    assert.ok(gpu);
    Object.assign(gpu, { driver: 'vfio-pci', driverOverride: 'vfio-pci', numaNode: 1, d3coldAllowed: false });
    const root = tree(spec);
    const d = 'sys/bus/pci/devices/0000:08:00.0';
    assert.equal(read(root, `${d}/driver_override`), 'vfio-pci\n');
    assert.equal(read(root, `${d}/numa_node`), '1\n');
    assert.equal(read(root, `${d}/d3cold_allowed`), '0\n');
    assert.equal(linkText(root, `${d}/driver`), '../../../../bus/pci/drivers/vfio-pci');
    assert.equal(linkText(root, 'sys/bus/pci/drivers/vfio-pci/module'), '../../../../module/vfio_pci');
    assert.ok(fs.existsSync(path.join(root, 'dev/vfio/3')));
    // AMD: the IOMMU unit hangs under its PCI function
    assert.equal(linkText(root, 'sys/class/iommu/ivhd0'), '../../devices/pci0000:00/0000:00:00.2/iommu/ivhd0');
    assert.equal(linkText(root, `${d}/iommu`), '../../0000:00:00.2/iommu/ivhd0');
  });

  it('SR-IOV: physfn/virtfnN links, PF attributes, VFs beside their PF', () => {
    const root = tree(sriovNic());
    const pf = 'sys/bus/pci/devices/0000:03:00.0';
    assert.equal(read(root, `${pf}/sriov_totalvfs`), '8\n');
    assert.equal(read(root, `${pf}/sriov_numvfs`), '2\n');
    assert.equal(read(root, `${pf}/sriov_offset`), '128\n');
    assert.equal(read(root, `${pf}/sriov_stride`), '2\n');
    assert.equal(read(root, `${pf}/sriov_vf_device`), '10ed\n');
    assert.equal(linkText(root, `${pf}/virtfn0`), '../0000:03:10.0');
    assert.equal(linkText(root, `${pf}/virtfn1`), '../0000:03:10.2');
    assert.equal(fs.existsSync(path.join(root, `${pf}/virtfn2`)), false);
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:03:10.2/physfn'), '../0000:03:00.0');
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:03:10.2'), '../../../devices/pci0000:00/0000:00:03.0/0000:03:10.2');
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/devices/0000:03:10.0/sriov_totalvfs')), false);
    assert.equal(read(root, 'sys/bus/pci/devices/0000:03:10.0/irq'), '0\n');
  });

  it('no IOMMU: no group links, no IOMMU unit, an empty groups directory', () => {
    const root = tree(noIommu());
    assert.deepEqual(fs.readdirSync(path.join(root, 'sys/kernel/iommu_groups')), []);
    assert.equal(fs.existsSync(path.join(root, 'sys/class/iommu')), false);
    assert.equal(fs.existsSync(path.join(root, 'sys/bus/pci/devices/0000:01:00.0/iommu_group')), false);
    assert.equal(fs.existsSync(path.join(root, 'sys/firmware/acpi/tables/DMAR')), false);
    const bare = tree({ functions: [{ address: '0000:00:00.0', vendor: 0x8086, device: 0x3e30, classCode: 0x060000 }], iommu: 'none' });
    assert.equal(fs.existsSync(path.join(bare, 'sys/kernel/iommu_groups')), false);
  });

  it('unreadable attributes fail for root too (EISDIR)', () => {
    const spec = desktopGpu();
    const gpu = spec.functions.find((f) => f.address === '0000:01:00.0');
    assert.ok(gpu);
    gpu.unreadable = ['config', 'vendor'];
    spec.unreadableFiles = ['proc/cmdline'];
    const root = tree(spec);
    for (const rel of ['sys/bus/pci/devices/0000:01:00.0/config', 'sys/bus/pci/devices/0000:01:00.0/vendor', 'proc/cmdline']) {
      assert.throws(() => fs.readFileSync(path.join(root, rel)), { code: 'EISDIR' });
    }
    assert.equal(read(root, 'sys/bus/pci/devices/0000:01:00.0/device'), '0x1b80\n');
  });

  it('unreadableMode chmod stops a non-root reader (setpriv)', (t) => {
    if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
      t.skip('needs root and setpriv to read as another user');
      return;
    }
    const spec: HostSpec = { functions: [{ address: '0000:00:05.0', vendor: 0x1234, device: 0x5678, classCode: 0x020000, unreadable: ['config'] }], unreadableMode: 'chmod' };
    const root = tree(spec);
    fs.chmodSync(root, 0o755);
    const asNobody = (rel: string): number | null =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', path.join(root, rel)]).status;
    assert.equal(asNobody('sys/bus/pci/devices/0000:00:05.0/vendor'), 0, 'a normal attribute is readable by nobody');
    assert.notEqual(asNobody('sys/bus/pci/devices/0000:00:05.0/config'), 0);
    assert.equal(fs.readFileSync(path.join(root, 'sys/bus/pci/devices/0000:00:05.0/config')).length, 256, 'root still reads it');
  });

  it('hostile entries land in sys/bus/pci/devices as given', () => {
    const spec = { ...desktopGpu(), ...hostileDeviceEntries() };
    const root = tree(spec);
    const names = fs.readdirSync(path.join(root, 'sys/bus/pci/devices'));
    for (const n of ['foo', '0000:00:1f.0\nx', '0000:00:1F.0', '0000:00:1f.0 ', '0000:0e:00.0', '..x']) assert.ok(names.includes(n), JSON.stringify(n));
    assert.equal(linkText(root, 'sys/bus/pci/devices/0000:0f:00.0'), '/etc');
    assert.equal(names.length, spec.functions.length + 8);
  });

  it('rejects specs a kernel could not produce, with a clear message', () => {
    const base = (): FnSpec => ({ address: '0000:01:00.0', vendor: 1, device: 2, classCode: 0x020000 });
    const bad: [HostSpec, RegExp][] = [
      [{ functions: [{ ...base(), address: '01:00.0' }] }, /not a canonical PCI address/],
      [{ functions: [{ ...base(), address: '0000:01:00.0/../x' }] }, /not a canonical PCI address/],
      [{ functions: [base(), base()] }, /listed twice/],
      [{ functions: [{ ...base(), parent: '0000:00:01.0' }] }, /parent 0000:00:01.0 is not in the spec/],
      [{ functions: [{ address: '0000:00:01.0', vendor: 1, device: 2, classCode: 0x020000 }, { ...base(), parent: '0000:00:01.0' }] }, /not a PCI bridge/],
      [{ functions: [{ ...base(), iommuGroup: 1 }], iommu: 'none' }, /iommu: 'none'/],
      [{ functions: [base()], files: { '../escape': 'x' } }, /root-relative/],
      [{ functions: [base()], files: { '/etc/passwd': 'x' } }, /root-relative/],
    ];
    for (const [spec, re] of bad) assert.throws(() => makeTempHostTree(spec), re);
  });
});

describe('host-tree: encodeConfigSpace', () => {
  it('writes the header and walks to every capability', () => {
    const f: FnSpec = {
      address: '0000:00:1c.0', vendor: 0x8086, device: 0xa338, classCode: 0x060400, revision: 0xf0,
      caps: { pm: {}, msi: {}, pcie: { portType: 'root-port', slot: true }, aer: true, acs: { sv: true, ctrl: { sv: true } } },
    };
    const c = encodeConfigSpace(f);
    assert.equal(c.length, 4096);
    assert.equal(c.readUInt16LE(0), 0x8086);
    assert.equal(c.readUInt16LE(2), 0xa338);
    assert.equal(c.readUInt16LE(6) & 0x10, 0x10);
    assert.equal(c.readUIntLE(9, 3), 0x060400);
    assert.equal(c[0x0e], 0x01);
    const std: number[] = [];
    for (let p = c[0x34] ?? 0; p; p = c[p + 1] ?? 0) std.push(c[p] ?? -1);
    assert.deepEqual(std, [0x01, 0x05, 0x10]);
    const pcie = std.indexOf(0x10) >= 0 ? (() => { let p = c[0x34] ?? 0; while (c[p] !== 0x10) p = c[p + 1] ?? 0; return p; })() : 0;
    assert.equal((c.readUInt16LE(pcie + 2) >> 4) & 0xf, 4);
    const ext: number[] = [];
    for (let p = 0x100; p; p = c.readUInt32LE(p) >>> 20) ext.push(c.readUInt32LE(p) & 0xffff);
    assert.deepEqual(ext, [0x0001, 0x000d]);
    assert.equal(encodeConfigSpace({ ...f, caps: { pm: {} } }).length, 256);
    assert.equal(encodeConfigSpace({ ...f, configSize: 64 }).length, 64);
  });
});

describe('host-tree: scale', { skip: noLspci }, () => {
  it('scaledHost(n) builds exactly n functions that lspci lists', () => {
    const spec = scaledHost(600);
    assert.equal(spec.functions.length, 600);
    const root = tree(spec);
    const lines = pciutil('lspci', root, ['-n']).trim().split('\n');
    assert.equal(lines.length, 600);
    assert.equal(fs.readdirSync(path.join(root, 'sys/bus/pci/devices')).length, 600);
  });

  it('spills into further PCI domains when bus numbers run out', () => {
    const spec = scaledHost(1500);
    const domains = new Set(spec.functions.map((f) => f.address.slice(0, 4)));
    assert.ok(domains.size >= 2, [...domains].join(','));
    const root = tree(spec);
    assert.equal(pciutil('lspci', root, ['-D', '-n']).trim().split('\n').length, 1500);
  });
});
