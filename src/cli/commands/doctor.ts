/**
 * `vfioctl doctor [ADDR...]`: host readiness and security posture for PCI passthrough, plus a verdict per
 * named device. Exit 0 ready, 3 not ready (docs/exit-codes.md); JSON contract in docs/json.md.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Colors } from '../output.js';
import { action } from '../command.js';
import type { DoctorReport } from '../../service/session.js';
import { formatPciAddress, requirePciAddress } from '../../model/pci-address.js';
import { ExitCode } from '../../model/errors.js';
import type { Severity } from '../../model/finding.js';

export type { DoctorReport } from '../../service/session.js';

export interface DoctorOptions {
  /** canonical addresses */
  addresses: string[];
  /** only the findings that decide a device verdict (check): device findings plus host warn/fail */
  deviceFocus: boolean;
  libvirt: boolean;
}

export async function runDoctor(ctx: CliContext, opts: DoctorOptions): Promise<DoctorReport> {
  return ctx.session().doctor(opts);
}

const CATEGORY_ORDER = ['cpu', 'virtualization', 'firmware', 'kernel', 'security', 'vfio', 'boot', 'libvirt', 'host', 'device'];
const CATEGORY_TITLE: Record<string, string> = {
  cpu: 'CPU and KVM', virtualization: 'Virtual machine', firmware: 'Firmware', kernel: 'Kernel IOMMU and command line',
  security: 'Security posture', vfio: 'VFIO', boot: 'Boot tooling', libvirt: 'libvirt', host: 'Host reading', device: 'Devices',
};

function mark(sev: Severity, c: Colors): string {
  switch (sev) {
    case 'ok': return c.green('[ ok ]');
    case 'info': return c.cyan('[info]');
    case 'warn': return c.yellow('[warn]');
    case 'fail': return c.red(c.bold('[FAIL]'));
  }
}

function indent(text: string, pad: string): string {
  return text.split('\n').map((l) => pad + l).join('\n');
}

export function renderReport(r: DoctorReport, c: Colors, verbose: boolean): string {
  const lines: string[] = [];
  const cats = [...new Set(r.findings.map((f) => f.category ?? 'host'))].sort((a, b) => (CATEGORY_ORDER.indexOf(a) + 100) % 100 - (CATEGORY_ORDER.indexOf(b) + 100) % 100);
  for (const cat of cats) {
    lines.push(c.bold(CATEGORY_TITLE[cat] ?? cat));
    for (const f of r.findings.filter((x) => (x.category ?? 'host') === cat)) {
      lines.push(`  ${mark(f.severity, c)} ${f.summary} ${c.dim(`(${f.id})`)}`);
      if (verbose && f.detail) lines.push(c.dim(indent(f.detail, '         ')));
      if (verbose) for (const e of f.evidence) lines.push(c.dim(`         ${e.source}: ${e.value}`));
      if (f.remedy && (f.severity === 'fail' || f.severity === 'warn' || verbose)) lines.push(indent(`remedy: ${indent(f.remedy, '        ').trimStart()}`, '         '));
    }
    lines.push('');
  }
  for (const d of r.devices) {
    lines.push(`${d.address}: ${d.verdict === 'ready' ? c.green('can be passed through') : c.red('cannot be passed through now')} (${d.summary.fail} fail, ${d.summary.warn} warn)`);
  }
  const s = r.summary;
  const verdict = r.verdict === 'ready' ? c.green(c.bold('READY')) : c.red(c.bold('NOT READY'));
  lines.push(`${verdict}: ${s.fail} fail, ${s.warn} warn, ${s.info} info, ${s.ok} ok${verbose ? '' : c.dim('  (--verbose shows evidence)')}`);
  return lines.join('\n') + '\n';
}

export function parseAddresses(inputs: string[]): string[] {
  return [...new Set(inputs.map((a) => formatPciAddress(requirePciAddress(a))))];
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .argument('[address...]', 'also judge these PCI functions (01:00.0, 0000:01:00.0 or pci_0000_01_00_0)')
    .description('check this host for PCI passthrough: CPU, firmware and kernel IOMMU, interrupt remapping, security posture, vfio, boot tooling, libvirt; with addresses, a verdict per device')
    .option('-v, --verbose', 'show the evidence (files and values read) and details of every finding')
    .option('--no-libvirt', 'do not run virsh for the libvirt version and its VFIO backend')
    .action(
      action<[string[]]>(ctx, async (inputs, opts) => {
        const addresses = parseAddresses(inputs);
        const report = await runDoctor(ctx, { addresses, deviceFocus: false, libvirt: opts.libvirt !== false });
        if (ctx.json) ctx.printJson(report);
        else ctx.out(renderReport(report, ctx.c, !!opts.verbose));
        return report.verdict === 'ready' ? ExitCode.ok : ExitCode.notReady;
      }),
    );
}
