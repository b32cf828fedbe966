/** `vfioctl nodedev ADDR`: libvirt's node device for a PCI function, cross-checked with sysfs. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { VfioctlError, ExitCode } from '../../model/errors.js';
import { formatNodedevName, formatPciAddress, requirePciAddress } from '../../model/pci-address.js';
import { worstSeverity } from '../../model/finding.js';
import { crossCheckNodedev, parseNodedevXml, type SysfsView } from '../../adapters/libvirt/nodedev-xml.js';
import { type ConnectOptions, renderFindings, virshFor, withConnect } from './shared.js';

export function register(program: Command, ctx: CliContext): void {
  withConnect(program.command('nodedev'))
    .argument('<address>', 'PCI function: 01:00.0, 0000:01:00.0 or pci_0000_01_00_0')
    .description("show libvirt's node device (name, IOMMU group, driver, XML) and compare it with sysfs")
    .action(
      action(ctx, async (input: string, opts: ConnectOptions) => {
        const addr = requirePciAddress(input);
        const canonical = formatPciAddress(addr);
        const name = formatNodedevName(addr);
        const virsh = virshFor(ctx, opts);
        const xml = await virsh.nodedevDumpxml(name);
        const parsed = parseNodedevXml(xml);
        if (!parsed.ok) throw new VfioctlError('bad-nodedev-xml', `libvirt's XML for ${name}: ${parsed.error.message}`, { remedy: `check it with virsh nodedev-dumpxml ${name}` });
        const nd = parsed.value;
        const inv = ctx.inventory();
        const fn = inv.functions.find((f) => f.address === canonical);
        const group = fn?.iommuGroup !== null && fn?.iommuGroup !== undefined ? inv.groups.find((g) => g.id === fn.iommuGroup) : undefined;
        const view: SysfsView | null = fn
          ? {
              address: fn.address,
              vendorId: fn.vendorId,
              deviceId: fn.deviceId,
              class: fn.class,
              driver: fn.driver,
              iommuGroup: fn.iommuGroup,
              groupMembers: group ? group.members.map((m) => m.address) : null,
              source: inv.source.kind === 'sysfs' ? inv.source.root : inv.source.file,
            }
          : null;
        const findings = crossCheckNodedev(nd, view);
        const code = worstSeverity(findings) === 'fail' ? ExitCode.notReady : ExitCode.ok;
        if (ctx.json) {
          ctx.printJson({ version: 1, name, address: canonical, nodedev: nd, crossCheck: findings, xml });
          return code;
        }
        const c = ctx.c;
        ctx.out(`${c.bold(name)}  ${canonical}  ${[nd.vendorName, nd.productName].filter(Boolean).join(' ')} [${nd.vendorId ?? '?'}:${nd.productId ?? '?'}]\n`);
        ctx.out(`  driver: ${nd.driver ?? 'none'}   IOMMU group: ${nd.iommuGroup ? `${nd.iommuGroup.number} (${nd.iommuGroup.members.join(' ')})` : 'none (libvirt reports no group)'}\n`);
        if (nd.physFunction) ctx.out(`  virtual function of ${nd.physFunction}\n`);
        if (nd.virtFunctions.length) ctx.out(`  virtual functions: ${nd.virtFunctions.join(' ')}\n`);
        ctx.out(renderFindings(findings, c));
        ctx.out(`\n${xml.trimEnd()}\n`);
        return code;
      }),
    );
}
