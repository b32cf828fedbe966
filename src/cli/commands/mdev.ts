/**
 * `vfioctl mdev types|ls|create|remove|render`: mediated devices (mdev types with their available
 * instances, the mdevs, NVIDIA vGPU on SR-IOV VFs, Intel Xe SR-IOV GPUs), created and removed under the
 * journal, kept at boot through mdevctl's own configuration (etc/mdevctl.d/PARENT/UUID), and rendered
 * as a libvirt <hostdev type='mdev'> or a QEMU -device vfio-pci,sysfsdev=.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { renderPlanDiff } from '../../apply/persist.js';
import { sysfsWriteCommand } from '../../model/shell-quote.js';
import { UsageError } from '../../model/errors.js';
import { renderTable } from '../output.js';
import { renderMdevHostdevXml, renderMdevQemuArgs } from '../../adapters/render/mdev.js';
import { addConfigOptions, assertMutableHost, confirmChange, renderConfigPlan, renderConfigResult, type ConfigOptions } from '../mutating.js';
import { parseAddresses } from './bind.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidOf(v: string | undefined): string {
  const u = (v ?? '').toLowerCase();
  if (!UUID.test(u)) throw new UsageError('bad-uuid', `--uuid ${JSON.stringify((v ?? '').slice(0, 60))} is not a UUID`, 'e.g. --uuid $(uuidgen)');
  return u;
}

export function register(program: Command, ctx: CliContext): void {
  const m = program.command('mdev').description('mediated devices (vGPU and others): types, instances, create/remove, render');
  m.command('types')
    .description('list the mdev types of every parent (name, available instances, device API), NVIDIA vGPU types of SR-IOV VFs and Intel SR-IOV GPUs')
    .action(
      action<[]>(ctx, async () => {
        const r = await ctx.session().mdevReport();
        if (ctx.json) {
          ctx.printJson({ version: 1, parents: r.parents, nvidiaVgpu: r.nvidiaVgpu, intelSriov: r.intelSriov, problems: r.problems });
          return 0;
        }
        const rows = r.parents.flatMap((p) => p.types.map((t) => [p.address, t.id, t.name ?? '-', t.availableInstances === null ? '?' : String(t.availableInstances), t.deviceApi ?? '?', t.description ?? '']));
        if (rows.length) ctx.out(renderTable(['PARENT', 'TYPE', 'NAME', 'AVAILABLE', 'API', 'DESCRIPTION'], rows, ctx.c));
        else ctx.out('no mdev types on this host (no parent driver registered mediated devices)\n');
        for (const v of r.nvidiaVgpu) ctx.out(`NVIDIA vGPU VF ${v.address} (PF ${v.physfn ?? '?'}): current type ${v.current ? String(v.current) : 'none'}; creatable: ${v.creatable.map((t) => `${t.id} ${t.name}`).join(', ') || 'none'}\n`);
        for (const g of r.intelSriov) ctx.out(`Intel SR-IOV GPU ${g.address} (${g.driver}): ${g.numVfs} of ${g.totalVfs} VFs${g.vfs.length ? `: ${g.vfs.map((v) => `${v.address} (${v.driver ?? 'no driver'})`).join(', ')}` : ''}\n`);
        for (const p of r.problems) ctx.err(`${p.path}: ${p.message}\n`);
        return 0;
      }),
    );
  m.command('ls')
    .description('list the mediated devices that exist now')
    .action(
      action<[]>(ctx, async () => {
        const r = await ctx.session().mdevReport();
        if (ctx.json) ctx.printJson({ version: 1, devices: r.devices });
        else if (r.devices.length) ctx.out(renderTable(['UUID', 'PARENT', 'TYPE', 'GROUP'], r.devices.map((d) => [d.uuid, d.parent ?? '?', d.mdevType ?? '?', d.iommuGroup === null ? '?' : String(d.iommuGroup)]), ctx.c));
        else ctx.out('no mediated devices\n');
        return 0;
      }),
    );
  for (const op of ['create', 'remove'] as const) {
    const c = addConfigOptions(m.command(op));
    if (op === 'create') c.argument('<parent>', 'the parent PCI function').argument('<type>', 'the mdev type (vfioctl mdev types)');
    c.requiredOption('--uuid <uuid>', op === 'create' ? 'UUID of the new mdev (uuidgen)' : 'UUID of the mdev to remove')
      .option('--persist', op === 'create' ? 'also define it for mdevctl (started at every boot)' : 'also remove the mdevctl definition vfioctl wrote')
      .description(op === 'create' ? 'create a mediated device (journaled, verified, rolled back on failure)' : 'remove a mediated device (journaled; rolled back on failure)')
      .action(
        action<string[]>(ctx, async (...args: unknown[]) => {
          const opts = args[op === 'create' ? 2 : 0] as ConfigOptions & { uuid?: string; persist?: boolean };
          const uuid = uuidOf(opts.uuid);
          assertMutableHost(ctx, opts);
          const s = ctx.session();
          const change = await s.changeMdev(op === 'create'
            ? { op, parent: parseAddresses([String(args[0])])[0]!, mdevType: String(args[1]), uuid, persist: !!opts.persist }
            : { op, uuid, persist: !!opts.persist });
          const persistPlan = s.configPlanOf(change);
          const writes = (change.steps[0]!.effects ?? []).filter((e) => e.type === 'sysfs-write');
          if (opts.dryRun) {
            if (ctx.json) ctx.printJson({ version: 1, dryRun: true, op, parent: change.args[0], mdevType: change.args[1], uuid, writes, persist: persistPlan ? { diff: renderPlanDiff(ctx.host(), persistPlan) } : null, result: null });
            else {
              ctx.out(`${ctx.c.bold(`vfioctl mdev ${op}`)} (dry run, nothing changed)\n  ${change.steps[0]!.title}\n`);
              for (const w of writes) if (w.type === 'sysfs-write') ctx.out(`      ${sysfsWriteCommand(ctx.host().display(w.path.slice(1)), w.value)}\n`);
              if (persistPlan) ctx.out(renderConfigPlan(ctx, persistPlan, opts));
            }
            return 0;
          }
          await confirmChange(ctx, opts, `${change.steps[0]!.title}?`);
          const r = await s.apply(change, { regenerate: opts.regenerate !== false });
          if (ctx.json) ctx.printJson({ version: 1, dryRun: false, op, parent: change.args[0], mdevType: change.args[1], uuid, result: r.mdev ?? null, persisted: r.config });
          else {
            ctx.out(`mdev ${uuid}: ${op === 'create' ? 'created' : 'removed'}\n`);
            if (r.config) renderConfigResult(ctx, r.config);
            if (op === 'create' && !opts.persist) ctx.out('note: the mdev is lost at reboot; add --persist to define it for mdevctl\n');
          }
          return 0;
        }),
      );
  }
  m.command('render')
    .argument('<uuid>', 'UUID of the mdev')
    .option('--format <format>', 'libvirt (a <hostdev type=\'mdev\'>) or qemu (-device arguments)', 'libvirt')
    .option('--display', 'libvirt: display=\'on\' (a vGPU with a display; needs a graphics device in the guest)')
    .description('render a mediated device for libvirt or QEMU')
    .action(
      action<[string]>(ctx, (input, opts) => {
        const o = opts as { format?: string; display?: boolean };
        const uuid = uuidOf(input);
        if (o.format !== 'libvirt' && o.format !== 'qemu') throw new UsageError('bad-format', `--format ${JSON.stringify(o.format)} is not libvirt or qemu`, 'use --format libvirt|qemu');
        const text = o.format === 'libvirt' ? renderMdevHostdevXml({ uuid, display: !!o.display }) : `${renderMdevQemuArgs({ uuid }).join(' ')}\n`;
        if (ctx.json) ctx.printJson({ version: 1, uuid, format: o.format, text });
        else ctx.out(text);
        return 0;
      }),
    );
}
