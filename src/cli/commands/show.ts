/** `vfioctl show ADDR`: everything known about one function, its group mates and topology path. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action, withFrom } from '../command.js';
import { acsEnabled, className, deviceName, driverText, flags, shortAddr } from '../describe.js';
import { importNotes } from './shared.js';
import { type FunctionFact, type PciFunction, type PciInventory, factUnknown, unknownText } from '../../model/pci-function.js';
import type { GroupView } from '../../service/views.js';
import type { ShowPlatform } from '../../model/reports.js';
import { formatBytes } from '../../model/vfio-platform.js';

export { findFunction } from '../../service/views.js';

export function register(program: Command, ctx: CliContext): void {
  withFrom(program.command('show'))
    .argument('<address>', 'PCI address: 01:00.0, 0000:01:00.0 or pci_0000_01_00_0')
    .description('show everything known about one PCI function, with its IOMMU group mates and topology path')
    .action(
      action<[string]>(ctx, (input) => {
        const inv = ctx.inventory();
        const report = ctx.session().show(input);
        if (ctx.json) {
          ctx.printJson(report);
          return 0;
        }
        const f = report.function;
        const topology = report.topology.path;
        ctx.out(renderShow(f, inv, report.group, topology, ctx, report.platform));
        return 0;
      }),
    );
}

function yesNo(v: boolean | null | undefined): string {
  return v === null || v === undefined ? 'unknown' : v ? 'yes' : 'no';
}

function renderShow(
  f: PciFunction,
  inv: PciInventory,
  group: GroupView | null,
  topology: { address: string; name: string | null; portType: string | null; acs: boolean | null; unknown: { fact: string }[] }[],
  ctx: CliContext,
  platform?: ShowPlatform,
): string {
  const c = ctx.c;
  const caps = f.capabilities;
  /** the text of a known fact, or what says it was not read and where it would be */
  const known = (fact: FunctionFact, text: () => string): string => {
    const u = factUnknown(f, fact);
    return u ? unknownText(u) : text();
  };
  const flr = factUnknown(f, 'flr');
  const rows: [string, string][] = [
    ['address', `${f.address} (${shortAddr(f.address)})`],
    ['device', deviceName(f)],
    ['class', `${className(f)} [${f.class}]${f.names.progIfName ? ` prog-if ${f.names.progIfName}` : ''}`],
    ['subsystem', f.subsystemVendorId ? `${f.names.subsystem ?? ''} [${f.subsystemVendorId}:${f.subsystemDeviceId}]`.trim() : 'unknown'],
    ['revision', f.revision ?? 'unknown'],
    ['driver', known('driver', () => driverText(f, inv))],
    ['driver_override', known('driverOverride', () => f.driverOverride ?? '(none)')],
    ['iommu group', known('iommuGroup', () => (f.iommuGroup === null ? 'none' : `${f.iommuGroup}${group?.type ? ` (${group.type})` : ''}`))],
    ['numa node', known('numaNode', () => (f.numaNode === null ? 'unknown' : String(f.numaNode)))],
    ['role', f.isBridge ? 'bridge (stays on the host)' : 'endpoint'],
    ['boot vga', known('bootVga', () => yesNo(f.bootVga))],
    ['expansion rom', known('hasRom', () => (f.hasRom ? 'present' : 'none'))],
    ['reset', known('resetMethods', () => (f.resetMethods ? f.resetMethods.join(' ') || 'none' : 'reset_method not available'))],
    ['flr', flr ? unknownText(flr) : f.flr ? 'yes' : 'no'],
    ['power', known('powerState', () => f.powerState ?? 'unknown')],
    ['d3cold allowed', known('d3coldAllowed', () => yesNo(f.d3coldAllowed))],
  ];
  if (f.sriov) rows.push(['sr-iov', `physical function: ${f.sriov.numVfs} of ${f.sriov.totalVfs} VFs${f.sriov.vfs.length ? ` (${f.sriov.vfs.map(shortAddr).join(' ')})` : ''}`]);
  if (f.physfn) rows.push(['sr-iov', `virtual function of ${f.physfn}`]);
  if (caps.pcie) rows.push(['pci express', `${caps.pcie.portType} v${caps.pcie.version}${caps.pcie.linkSpeed ? `, link ${caps.pcie.linkSpeed} x${caps.pcie.linkWidth}` : ''}`]);
  if (caps.acs) {
    const on = Object.entries(caps.acs.control).filter(([, v]) => v).map(([k]) => k.toUpperCase());
    rows.push(['acs', `control: ${on.join(' ') || 'none'} (${acsEnabled(f) ? 'isolating' : 'not isolating'})`]);
  }
  if (platform) {
    rows.push(['vfio driver', platform.vfioDriverBy === 'unknown' ? `vfio-pci (whether a variant driver fits is unknown: modules.alias not read)` : `${platform.vfioDriver}${platform.alias ? ` (modules.alias ${platform.alias})` : ''}`]);
    rows.push(['migration', `${platform.migration.verdict}: ${platform.migration.reason}${platform.migration.dirtyTracking ? `; dirty tracking: ${platform.migration.dirtyTracking}` : ''}`]);
    rows.push(['bars', platform.bars === null ? 'unknown (resource not read)' : platform.bars.map((b) => `${b.index}: ${formatBytes(b.size)} ${b.kind}${b.prefetchable ? ' prefetchable' : ''}`).join(', ') || 'none']);
    if (platform.resizableBars === null) rows.push(['resizable bar', 'unknown (extended capabilities not read)']);
    else for (const r of platform.resizableBars) rows.push(['resizable bar', `BAR ${r.bar}: ${r.current} of ${r.sizes.join(' ')}${r.resizeFile !== null ? ` (resource${r.bar}_resize ${r.resizeFile})` : ''}`]);
  }
  rows.push(['capabilities', known('capabilities', () => (caps.list.length ? caps.list.map((x) => x.name).join(', ') : caps.standardReadable ? 'none' : 'not readable'))]);
  const ext = factUnknown(f, 'capabilities.extended');
  if (ext) rows.push(['extended caps', unknownText(ext)]);
  else if (!caps.extendedReadable && caps.pcie) rows.push(['note', 'extended capabilities not readable (run as root)']);
  const details = factUnknown(f, 'capabilities.details');
  if (details) rows.push(['cap. details', unknownText(details)]);
  rows.push(['flags', flags(f).join(', ') || '-']);
  const w = Math.max(...rows.map(([k]) => k.length));
  let out = rows.map(([k, v]) => `${c.bold(k.padEnd(w))}  ${v}`).join('\n') + '\n';
  out += `\n${c.bold('topology')} ${f.rootBus ?? ''}\n`;
  const chain = factUnknown(f, 'parentChain');
  if (chain) out += `  parent bridges ${unknownText(chain)}\n`;
  topology.forEach((t, i) => {
    out += `${'  '.repeat(i + 1)}${shortAddr(t.address)} ${t.name ?? ''}${t.portType ? c.dim(` [${t.portType}${t.acs !== null ? (t.acs ? ', ACS' : ', no ACS') : t.unknown.length ? ', ACS ?' : ''}]`) : t.unknown.length ? c.dim(' [capabilities ?]') : ''}\n`;
  });
  if (group) {
    out += `\n${c.bold(`group ${group.id}`)} (${group.isolation})\n`;
    for (const m of group.members) out += `  ${m.role === 'bridge' ? 'bridge  ' : 'endpoint'}  ${shortAddr(m.address)}  ${m.name ?? ''}  driver ${m.unknown.some((u) => u.fact === 'driver') ? '?' : (m.driver ?? '-')}${m.address === f.address ? c.dim('  <- this function') : ''}\n`;
  }
  if (f.problems.length) out += c.yellow(`\nwarnings:\n${f.problems.map((p) => `  ${p.message}`).join('\n')}\n`);
  out += importNotes(inv, c);
  return out;
}
