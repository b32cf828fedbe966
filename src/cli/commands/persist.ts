/**
 * `vfioctl persist ADDR...` / `vfioctl unpersist ADDR... | --all`: keep functions on vfio-pci across
 * reboots, per address (udev rule + early unit, or driverctl when installed) or per ID (modprobe.d
 * `ids=`, or `vfio-pci.ids=` on the kernel command line when vfio-pci is built into the kernel), with
 * softdeps and the initramfs or boot entries regenerated; unpersist removes exactly what persist added.
 * Also the shared rendering of config plans (diffs, commands, confirmation) used by `host` and `sriov`.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { applyConfigPlan, planPersist, planUnpersist, renderPlanDiff, type ConfigApplyResult, type ConfigPlan } from '../../apply/persist.js';
import type { ApplyContext } from '../../apply/run.js';
import { newRunId, StateStore } from '../../apply/state.js';
import { detectBootTooling, formatArgv } from '../../host/detect-boot.js';
import { UsageError } from '../../model/errors.js';
import { readVfioPciBuiltin } from '../../host/read-host-impact.js';
import { addMutatingOptions, assertMutableHost, confirmChange, makeApplyContext, parseAddresses, type MutatingOptions } from './bind.js';

export interface ConfigOptions extends MutatingOptions {
  regenerate?: boolean;
}

export function addConfigOptions(cmd: Command): Command {
  return addMutatingOptions(cmd).option('--no-regenerate', 'do not run the boot-loader / initramfs regeneration; print the command instead');
}

/** Commands act on the running system: only run them when the host root is "/" (or when explicitly allowed). */
export function commandsAllowed(ctx: CliContext): boolean {
  return ctx.host().isLive || ctx.io.env.VFIOCTL_EXEC_ON_ROOT === '1';
}

function renderConfigPlan(ctx: CliContext, plan: ConfigPlan, opts: ConfigOptions): string {
  const host = ctx.host();
  const out: string[] = [];
  if (!plan.files.length && !plan.commands.length) out.push('nothing to change: already in the intended state');
  const diff = renderPlanDiff(host, plan);
  if (diff) out.push(diff.trimEnd());
  for (const c of plan.commands) {
    const skip = !commandsAllowed(ctx) || (c.regenerate && opts.regenerate === false);
    out.push(`${skip ? 'to run by hand' : 'run'}: ${formatArgv(c.argv)}   # ${c.why}`);
  }
  for (const n of plan.notes) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}

/** Show (--dry-run) or confirm and apply a config plan; prints the result. */
export async function runConfigPlan(ctx: CliContext, actx: ApplyContext | null, plan: ConfigPlan, opts: ConfigOptions, question: string, print = true): Promise<ConfigApplyResult | null> {
  if (!print) {
    // part of another command's output (bind --persist, sriov set --persist): confirmed by that command
    if (opts.dryRun) return null;
    return applyConfigPlan(actx ?? makeApplyContext(ctx, opts), plan, { regenerate: opts.regenerate !== false, runCommands: commandsAllowed(ctx) });
  }
  if (opts.dryRun) {
    if (ctx.json) ctx.printJson({ version: 1, dryRun: true, command: plan.command, files: plan.files.map((f) => ({ path: ctx.host().display(f.rel), before: f.before, after: f.after })), diff: renderPlanDiff(ctx.host(), plan), commands: plan.commands.map((c) => formatArgv(c.argv)), notes: plan.notes, needsReboot: plan.needsReboot, result: null });
    else ctx.out(`${ctx.c.bold(`vfioctl ${plan.command}`)} (dry run, nothing changed)\n${renderConfigPlan(ctx, plan, opts)}`);
    return null;
  }
  if (plan.files.length || plan.commands.length) {
    if (!ctx.json) ctx.err(renderConfigPlan(ctx, plan, opts));
    await confirmChange(ctx, opts, question);
  }
  const result = await applyConfigPlan(actx ?? makeApplyContext(ctx, opts), plan, { regenerate: opts.regenerate !== false, runCommands: commandsAllowed(ctx) });
  if (ctx.json) {
    ctx.printJson({ version: 1, dryRun: false, command: plan.command, diff: renderPlanDiff(ctx.host(), plan), result });
  } else {
    for (const w of result.written) ctx.out(`${w.removed ? 'removed' : 'wrote'} ${w.path}${w.backup ? ` (backup ${w.backup})` : ''}\n`);
    for (const r of result.ran) ctx.out(`ran ${r}\n`);
    for (const r of result.toRun) ctx.out(`${ctx.c.yellow('run by hand:')} ${r}\n`);
    for (const n of result.notes) ctx.out(`note: ${n}\n`);
    if (result.needsReboot) ctx.out(`${ctx.c.yellow('reboot needed:')} the change takes effect at the next boot (\`vfioctl doctor\` tells when it has)\n`);
  }
  return result;
}

export async function runPersist(ctx: CliContext, actx: ApplyContext | null, addresses: string[], opts: ConfigOptions & { mode: 'per-address' | 'ids' }, print = true): Promise<ConfigApplyResult | null> {
  const host = ctx.host();
  const inv = ctx.inventory();
  const fns = addresses.map((a) => inv.functions.find((f) => f.address === a));
  const missing = addresses.filter((_, i) => !fns[i]);
  if (missing.length) throw new UsageError('no-such-device', `no PCI function ${missing.join(', ')} on this host`, '`vfioctl ls` lists the functions present');
  const store = new StateStore(host);
  const state = store.readState();
  // host drivers the functions had (from vfioctl's record when bound, else the current driver)
  const softdeps = [...new Set(fns.map((f) => state.bound[f!.address]?.original.driver ?? f!.driver).filter((d): d is string => !!d && d !== 'vfio-pci' && d !== 'pcieport'))];
  const ids = [...new Set(fns.map((f) => `${f!.vendorId}:${f!.deviceId}`))];
  // vfio-pci built in: modprobe.d options are ignored, the IDs go on the kernel command line (vfio-pci.ids=)
  const vfioPciBuiltin = opts.mode === 'ids' && readVfioPciBuiltin(host).vfioPciBuiltin === true;
  if (opts.mode === 'ids') {
    const twins = inv.functions.filter((f) => ids.includes(`${f.vendorId}:${f.deviceId}`) && !addresses.includes(f.address));
    if (twins.length) {
      throw new UsageError('ids-too-broad', `vfio-pci ids=${ids.join(',')} would also take ${twins.map((t) => t.address).join(', ')}`, 'persist per address instead (the default), or name those functions too');
    }
  }
  const plan = planPersist(host, detectBootTooling(host), state, { addresses, mode: opts.mode, ids, softdeps, vfioPciBuiltin }, newRunId());
  return runConfigPlan(ctx, actx, plan, opts, `write the boot-time configuration for ${addresses.join(' ')}?`, print);
}

export function register(program: Command, ctx: CliContext): void {
  addConfigOptions(program.command('persist'))
    .argument('<address...>', 'PCI functions to keep on vfio-pci across reboots')
    .description('keep functions on vfio-pci across reboots: per address (udev rule + early unit, or driverctl) or --by-id (modprobe.d ids=, or vfio-pci.ids= on the kernel command line when vfio-pci is built into the kernel), softdeps, initramfs')
    .option('--by-id', 'persist by vendor:device ID (binds every identical card); refused when another function has the same ID; with vfio-pci built in, edits the kernel command line (reboot needed)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as ConfigOptions & { byId?: boolean };
        assertMutableHost(ctx, o);
        await runPersist(ctx, null, parseAddresses(inputs), { ...o, mode: o.byId ? 'ids' : 'per-address' });
        return 0;
      }),
    );
  addConfigOptions(program.command('unpersist'))
    .argument('[address...]', 'functions whose boot-time configuration to remove')
    .description('remove exactly the boot-time configuration `vfioctl persist` added (vfio-pci.ids= keeps the IDs vfioctl did not add)')
    .option('--all', 'remove everything vfioctl persisted')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as ConfigOptions & { all?: boolean };
        assertMutableHost(ctx, o);
        if (!o.all && !inputs.length) throw new UsageError('no-address', 'name the functions, or pass --all', '`vfioctl status` lists what is persisted');
        const host = ctx.host();
        const state = new StateStore(host).readState();
        let keys: string[] | 'all' = 'all';
        if (!o.all) {
          const addrs = parseAddresses(inputs);
          keys = Object.entries(state.persisted).filter(([, r]) => (r.mode === 'per-address' || r.mode === 'ids') && r.addresses.some((a) => addrs.includes(a as never))).map(([k]) => k);
          if (!keys.length) throw new UsageError('not-persisted', `vfioctl has persisted nothing for ${addrs.join(' ')}`, '`vfioctl status` lists what is persisted');
        }
        const plan = planUnpersist(host, detectBootTooling(host), state, keys);
        await runConfigPlan(ctx, null, plan, o, 'remove the boot-time configuration vfioctl added?');
        return 0;
      }),
    );
}
