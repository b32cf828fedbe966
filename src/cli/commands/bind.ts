/**
 * `vfioctl bind ADDR...`: the session plans (IOMMU group rules, host impact), a blocked plan is refused
 * unless --force, then the plan's runtime steps move its whole claim set to vfio-pci (journaled,
 * verified, rolled back). --dry-run prints the exact writes; --persist also carries out the plan's
 * boot-time steps.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import type { BindPreview } from '../../apply/bind.js';
import { ExitCode, UsageError } from '../../model/errors.js';
import { formatPciAddress, requirePciAddress, type PciAddressString } from '../../model/pci-address.js';
import { addMutatingOptions, assertMutableHost, confirmChange, forcedLosses, renderConfigResult, reportBlocked, timeoutOf, type MutatingOptions } from '../mutating.js';

export { applyRuntime } from '../context.js';
export { addMutatingOptions, assertMutableHost, confirmChange, type MutatingOptions } from '../mutating.js';

export function parseAddresses(inputs: string[]): PciAddressString[] {
  if (!inputs.length) throw new UsageError('no-address', 'name at least one PCI address', 'e.g. vfioctl bind 01:00.0');
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

function renderPreview(ctx: CliContext, p: BindPreview): string {
  const c = ctx.c;
  const out: string[] = [];
  if (p.loadModule) out.push(`  load module: modprobe ${p.loadModule}`);
  for (const m of p.variantModules ?? []) out.push(`  load module: modprobe ${m}`);
  for (const f of p.functions) {
    if (f.unchanged) {
      out.push(`  ${f.address}: already on ${f.to.driver ?? 'vfio-pci'}`);
      continue;
    }
    out.push(`  ${c.bold(f.address)} (group ${f.iommuGroup}): ${f.from.driver ?? 'no driver'} -> ${f.to.driver ?? 'vfio-pci'}`);
    for (const w of f.writes) out.push(`      ${w}`);
  }
  out.push(`  verify: every endpoint of group${p.groups.length > 1 ? 's' : ''} ${p.groups.join(', ')} on ${p.functions.some((f) => f.to.driver && f.to.driver !== 'vfio-pci') ? 'its VFIO driver' : 'vfio-pci'} and /dev/vfio/N present; otherwise roll back`);
  return `${out.join('\n')}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  addMutatingOptions(program.command('bind'))
    .argument('<address...>', 'PCI functions to hand to vfio-pci (their IOMMU group mates follow, as the plan says)')
    .description('bind functions to vfio-pci now: journaled, verified (group viable, /dev/vfio/N), rolled back on any failure')
    .option('--force', 'bind even when the plan is blocked by host-impact findings (the plan says which)')
    .option('--timeout <ms>', 'how long to wait for a driver to bind (default 10000)')
    .option('--persist', 'also keep the binding across reboots (as `vfioctl persist`)')
    .option('--single-function', 'keep only the named functions (default: all functions of a slot, e.g. a GPU and its HDMI audio, go together)')
    .option('--driver <name>', 'bind to this VFIO driver instead of the best variant driver from modules.alias (e.g. vfio-pci)')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const o = opts as MutatingOptions & { persist?: boolean; singleFunction?: boolean; driver?: string };
        const addresses = parseAddresses(inputs);
        assertMutableHost(ctx, o);
        const s = ctx.session();
        const change = await s.changeBind({ addresses, force: !!o.force, persist: !!o.persist, singleFunction: !!o.singleFunction, ...(o.driver !== undefined ? { driver: o.driver } : {}) });
        const base = { version: 1, dryRun: !!o.dryRun, verdict: change.verdict, claim: change.claim, findings: change.findings };
        if (change.verdict === 'blocked') {
          if (ctx.json) ctx.printJson({ ...base, result: null });
          return reportBlocked(ctx, change.findings, inputs.join(' '));
        }
        const preview = change.bind!;
        const extra = change.claim.filter((a) => !addresses.includes(a));
        const warnings = change.findings.filter((x) => x.severity === 'warn');
        if (o.dryRun) {
          if (ctx.json) ctx.printJson({ ...base, dryRun: true, preview, result: null });
          else {
            ctx.out(`${ctx.c.bold('vfioctl bind')} (dry run, nothing changed)${extra.length ? `; group mates added by the plan: ${extra.join(' ')}` : ''}\n`);
            ctx.out(renderPreview(ctx, preview));
            for (const f of warnings) ctx.out(`  ${ctx.c.yellow('warning:')} ${f.summary}\n`);
          }
          return ExitCode.ok;
        }
        if (!ctx.json) {
          ctx.err(`vfioctl bind: ${change.claim.join(' ')}${extra.length ? ` (group mates added: ${extra.join(' ')})` : ''}\n`);
          for (const f of warnings) ctx.err(`  ${ctx.c.yellow('warning:')} ${f.summary}\n`);
          if (o.force) for (const f of forcedLosses(change)) ctx.err(`  ${ctx.c.red('--force: the host loses')} ${f.summary}\n`);
        }
        await confirmChange(ctx, o, `move ${change.claim.length} function(s) to vfio-pci (${change.claim.join(' ')})${o.persist ? ' and keep them there across reboots' : ''}?`);
        const r = await s.apply(change, { ...(timeoutOf(o) !== undefined ? { timeoutMs: timeoutOf(o)! } : {}) });
        const result = r.bind!;
        const persisted = o.persist ? r.config : null;
        if (ctx.json) {
          ctx.printJson({ ...base, dryRun: false, result, persisted });
        } else {
          if (persisted) renderConfigResult(ctx, persisted);
          for (const f of result.moved) ctx.out(`${f.address}: ${f.from.driver ?? 'no driver'} -> ${f.to.driver ?? 'vfio-pci'}\n`);
          for (const a of result.unchanged) ctx.out(`${a}: already on vfio-pci\n`);
          for (const g of result.groups) ctx.out(`group ${g.group}: viable, /dev/vfio/${g.group} present\n`);
          ctx.out(`run ${result.runId}; undo with \`vfioctl release ${change.claim.join(' ')}\`\n`);
        }
        return ExitCode.ok;
      }),
    );
}
