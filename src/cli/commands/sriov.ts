/** `vfioctl sriov set PF N [--persist]`: create (or remove) SR-IOV virtual functions, optionally at every boot. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { applySriov, checkSriovRequest } from '../../apply/sriov.js';
import { planSriovPersist, renderPlanDiff } from '../../apply/persist.js';
import { newRunId, StateStore } from '../../apply/state.js';
import { UsageError } from '../../model/errors.js';
import { formatPciAddress, requirePciAddress } from '../../model/pci-address.js';
import { assertMutableHost, confirmChange, makeApplyContext } from './bind.js';
import { addConfigOptions, runConfigPlan, type ConfigOptions } from './persist.js';

export function register(program: Command, ctx: CliContext): void {
  const sriov = program.command('sriov').description('SR-IOV virtual functions');
  addConfigOptions(sriov.command('set'))
    .argument('<pf>', 'the physical function')
    .argument('<count>', 'number of VFs (0 removes them)')
    .option('--persist', 'also create them at every boot (udev rule)')
    .option('--timeout <ms>', 'unused for SR-IOV; accepted for symmetry')
    .description('set the number of SR-IOV virtual functions of a PF (journaled, verified, rolled back on failure)')
    .action(
      action<[string, string]>(ctx, async (pfIn, countIn, opts) => {
        const o = opts as ConfigOptions & { persist?: boolean };
        assertMutableHost(ctx, o);
        if (!/^\d+$/.test(countIn)) throw new UsageError('bad-count', `VF count ${JSON.stringify(countIn)} is not a whole number`, 'e.g. vfioctl sriov set 01:00.0 4');
        const n = Number(countIn);
        const pf = formatPciAddress(requirePciAddress(pfIn));
        const host = ctx.host();
        const info = checkSriovRequest(host, pf, n);
        const persistPlan = o.persist ? planSriovPersist(host, new StateStore(host).readState(), pf, n === 0 ? null : n, newRunId()) : null;
        if (o.dryRun) {
          if (!ctx.json) ctx.out(`${ctx.c.bold('vfioctl sriov set')} (dry run, nothing changed)\n  ${pf}: ${info.numVfs} -> ${n} VFs (of ${info.totalVfs})\n${info.numVfs > 0 && n > 0 && info.numVfs !== n ? `      echo 0 > ${host.display(`${host.pciDeviceRel(requirePciAddress(pf))}/sriov_numvfs`)}\n` : ''}${info.numVfs !== n ? `      echo ${n} > ${host.display(`${host.pciDeviceRel(requirePciAddress(pf))}/sriov_numvfs`)}\n` : ''}`);
          if (ctx.json) ctx.printJson({ version: 1, dryRun: true, pf, before: info.numVfs, after: n, totalVfs: info.totalVfs, persist: persistPlan ? { diff: renderPlanDiff(host, persistPlan), commands: persistPlan.commands.map((c) => c.argv.join(' ')) } : null, result: null });
          else if (persistPlan) await runConfigPlan(ctx, null, persistPlan, o, '');
          return 0;
        }
        await confirmChange(ctx, o, `set ${pf} to ${n} VFs (now ${info.numVfs})?`);
        const actx = makeApplyContext(ctx, o);
        const r = await applySriov(actx, pf, n);
        if (!ctx.json) ctx.out(`${pf}: ${r.before} -> ${r.after} VFs${r.vfs.length ? ` (${r.vfs.join(' ')})` : ''}\n`);
        const persisted = persistPlan ? await runConfigPlan(ctx, actx, persistPlan, { ...o, yes: true }, '', !ctx.json) : null;
        if (ctx.json) ctx.printJson({ version: 1, dryRun: false, pf, result: r, persisted });
        if (!o.persist && !ctx.json && n > 0) ctx.out('note: VFs are lost at reboot; add --persist to keep them\n');
        return 0;
      }),
    );
}
