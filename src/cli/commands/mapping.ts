/**
 * `vfioctl mapping check FILE` / `vfioctl mapping entry ADDR...`: logical device mappings across nodes
 * (docs/fleet.md). `check` compares this node's entries with the devices it has now and reports drift
 * (exit 3 when a device is missing or different); `entry` prints the entries this node would record.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { ExitCode } from '../../model/errors.js';

export function register(program: Command, ctx: CliContext): void {
  const m = program.command('mapping').description('logical device mappings across nodes: check a mapping file on this node, or print this node\'s entries');
  m.command('check')
    .argument('<file>', 'mappings file (YAML/JSON, kind DeviceMappings)')
    .option('--node <name>', 'this node\'s name in the file (default: NODE_NAME, else etc/hostname)')
    .option('--mapping <name...>', 'only these mappings')
    .description('verify each mapping\'s entries for this node: present, same IDs, subsystem, serial, IOMMU group and path')
    .action(
      action<[string]>(ctx, async (file, opts) => {
        const o = opts as { node?: string; mapping?: string[] };
        const fleet = await import('../../service/fleet.js');
        const s = ctx.session();
        const mappings = fleet.readMappings(file);
        const node = o.node ?? fleet.nodeName(s, ctx.io.env);
        const r = fleet.mappingCheckReport(s, mappings, node, o.mapping);
        if (ctx.json) ctx.printJson(r);
        else {
          const c = ctx.c;
          for (const mc of r.mappings) {
            if (mc.absent) {
              ctx.out(`${c.bold(mc.mapping)}: no entries for node ${node}\n`);
              continue;
            }
            const tag = mc.state === 'ok' ? c.green('ok') : c.red(mc.state);
            ctx.out(`${c.bold(mc.mapping)} on ${node}: ${tag}\n`);
            for (const e of mc.entries) {
              ctx.out(`  ${e.address} ${e.state === 'ok' ? c.green('ok') : c.red(e.state)}${e.unknown.length ? c.dim(` (not known here: ${e.unknown.join(', ')})`) : ''}\n`);
              for (const d of e.differences) ctx.out(`      ${d.field}: mapping says ${d.expected}, node has ${d.found}\n`);
            }
          }
          if (r.state === 'absent') ctx.out(`no mapping in ${file} names node ${node}\n`);
        }
        return r.state === 'ok' || r.state === 'absent' ? ExitCode.ok : ExitCode.notReady;
      }),
    );
  m.command('entry')
    .argument('<address...>', 'PCI functions of this node')
    .option('--name <mapping>', 'mapping name to print the entries under', 'my-device')
    .option('--node <name>', 'node name to print the entries under (default: NODE_NAME, else etc/hostname)')
    .description('print this node\'s mapping entries for the functions (to paste into a mappings file)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as { name?: string; node?: string };
        const [fleet, { entryOf }, { findFunction }, { stringify }] = await Promise.all([import('../../service/fleet.js'), import('../../core/device-mapping.js'), import('../../service/views.js'), import('yaml')]);
        const s = ctx.session();
        const node = o.node ?? fleet.nodeName(s, ctx.io.env);
        const inv = s.inventory();
        const entries = inputs.map((a) => entryOf(findFunction(inv, a), fleet.serialReader(s)));
        const doc = { apiVersion: 'vfioctl.io/v1', kind: 'DeviceMappings', mappings: { [o.name ?? 'my-device']: { nodes: { [node]: entries } } } };
        const parsed = (await import('../../core/device-mapping.js')).parseDeviceMappings(doc, 'the printed entry');
        if (ctx.json) ctx.printJson({ version: 1, ...parsed });
        else ctx.out(stringify(parsed));
        return ExitCode.ok;
      }),
    );
}
