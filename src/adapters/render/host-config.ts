/**
 * Host configuration for a plan, correct for this host's CPU vendor, boot loader and initramfs tool:
 *   - the kernel command line change (intel_iommu=on iommu=pt when the IOMMU is off on Intel; nothing to
 *     add on AMD, where firmware turns the IOMMU on; vfio-pci.ids= when vfio-pci is built into the kernel)
 *     and how this host's boot loader takes it
 *   - the modprobe.d file (options vfio-pci ids=..., softdep <host driver> pre: vfio-pci for the drivers
 *     bound now), or the per-address binding identical cards require
 *   - vfio modules in the initramfs and the command that regenerates it
 *   - the opt-in allow_unsafe_interrupts line, presented as the security downgrade it is
 * Pure: plan and detected tooling in, text out.
 */
import type { PassthroughPlan, PlanBootInfo, StepEffect } from '../../model/plan.js';
import { MODPROBE_FILE, UNSAFE_INTERRUPTS_FILE } from '../../core/plan.js';
import { type BootTooling, formatArgv } from '../../host/detect-boot.js';
import { cmdlineLocation, describeCmdlineEdit, hostPath } from '../../core/boot-loader.js';
import { bootLoaderAdapter } from '../boot/index.js';
import { renderVfioModprobeConf } from '../modprobe.js';
import { heredoc, shellJoin, shellQuote, sysfsWriteCommand } from '../../model/shell-quote.js';
import { DRACUT_FILE, MKINITCPIO_FILE, renderDracutConf, renderMkinitcpioConf } from '../persist-render.js';

export const VFIO_MODULES = ['vfio', 'vfio_iommu_type1', 'vfio_pci'];

/** The planner's view of the boot tooling (commands as display strings). */
export function planBootInfo(t: BootTooling): PlanBootInfo {
  const bl = t.bootLoader;
  const loc = cmdlineLocation(bl);
  const file = loc.file ?? loc.alsoFile;
  return {
    loader: bl.kind,
    file: file ? hostPath(file) : null,
    apply: bl.regenerate.length ? bl.regenerate.map(formatArgv).join(' && ') : null,
    initramfs: t.initramfs.regenerate ? formatArgv(t.initramfs.regenerate) : null,
  };
}

/** Kernel parameters the plan adds (IOMMU on, built-in vfio-pci ids). */
export function kernelParams(plan: PassthroughPlan): string[] {
  const out: string[] = [];
  for (const s of plan.steps) {
    if (s.action.type === 'enable-iommu') out.push(...s.action.params);
    if (s.action.type === 'kernel-cmdline') out.push(...s.action.set);
  }
  return out;
}

/** The modprobe.d file content (vfioctl's managed file), or null when nothing is needed. */
export function renderModprobe(plan: PassthroughPlan): string | null {
  const ids = plan.binding.mode === 'ids' && !plan.binding.builtin ? plan.binding.ids : [];
  if (!ids.length && !plan.hostDrivers.length) return null;
  return renderVfioModprobeConf({ ids, softdeps: plan.hostDrivers });
}

/** A file written whole, as a here-document whose body is the file's exact content. */
function writeFile(path: string, content: string): string[] {
  return heredoc(`cat > ${shellQuote(path)}`, content);
}

/** A step's effects as the commands a person would run: whole files, removals, commands. */
function effectLines(effects: readonly StepEffect[]): string[] {
  const out: string[] = [];
  for (const e of effects) {
    if (e.type === 'file') out.push(...(e.after === null ? [`rm -f ${shellQuote(e.path)}`] : writeFile(e.path, e.after)));
    else if (e.type === 'command') out.push(`    ${formatArgv(e.argv)}`);
    else if (e.type === 'sysfs-write') out.push(`    ${sysfsWriteCommand(e.path, e.value)}`);
  }
  return out;
}

function stepEffects(plan: PassthroughPlan, id: string): StepEffect[] | undefined {
  return plan.steps.find((s) => s.id === id)?.effects;
}

function cmdlineHow(params: string, boot: BootTooling | undefined): string[] {
  const bl = boot?.bootLoader;
  const how = bl && bl.kind !== 'unknown' ? bootLoaderAdapter(bl).describe({ set: params.split(' ') }) : null;
  if (!how || how.via === 'none') {
    const grubby = describeCmdlineEdit({ kind: 'grubby', cmdline: { via: 'tool', tool: 'grubby' }, regenerate: [], evidence: [] }, { set: params.split(' ') });
    return [
      `#   boot loader not recognised: add the parameters where this host keeps its kernel command line`,
      `#   (GRUB_CMDLINE_LINUX in /etc/default/grub + update-grub or grub2-mkconfig; /etc/kernel/cmdline for`,
      `#   systemd-boot; ${grubby.commands.map(formatArgv).join(' ')} on Fedora/RHEL)`,
    ];
  }
  const regen = how.regenerate.map((a) => `    ${formatArgv(a)}`);
  const run = how.commands.map((a) => `    ${formatArgv(a)}`);
  switch (how.via) {
    case 'grub-defaults':
      return [`#   add them to GRUB_CMDLINE_LINUX in ${how.file}, then run:`, ...regen];
    case 'kernel-cmdline':
      return [`#   append them to the single line in ${how.file}, then run:`, ...(regen.length ? regen : ['    (reinstall the boot entries of the running kernel, e.g. kernel-install add)'])];
    default:
      return [`#   run:`, ...run, ...(how.alsoFile ? [`#   and add them to GRUB_CMDLINE_LINUX in ${how.alsoFile} so future kernels get them`] : [])];
  }
}

function initramfsHow(boot: BootTooling | undefined): string[] {
  const ir = boot?.initramfs;
  const kind = ir?.kind ?? 'unknown';
  const regen = ir?.regenerate ? formatArgv(ir.regenerate) : null;
  switch (kind) {
    case 'initramfs-tools':
      return [`#   add one per line to ${ir?.modulesFile ? `/${ir.modulesFile}` : '/etc/initramfs-tools/modules'}: ${VFIO_MODULES.join(' ')}`, `    ${regen ?? 'update-initramfs -u -k all'}`];
    case 'dracut':
      return [...writeFile(`/${DRACUT_FILE}`, renderDracutConf()), `    ${regen ?? 'dracut -f --regenerate-all'}`];
    case 'mkinitcpio':
      return [...writeFile(`/${MKINITCPIO_FILE}`, renderMkinitcpioConf()), `    ${regen ?? 'mkinitcpio -P'}`];
    default:
      return [
        `#   initramfs tool not recognised: include ${VFIO_MODULES.join(' ')} and regenerate it`,
        `#   (update-initramfs -u -k all / dracut -f --regenerate-all / mkinitcpio -P)`,
      ];
  }
}

export function renderHostConfig(plan: PassthroughPlan, boot?: BootTooling): string {
  const out: string[] = [];
  const vendor = plan.cpuVendor === 'intel' ? 'Intel' : plan.cpuVendor === 'amd' ? 'AMD' : 'unknown';
  out.push(`# vfioctl: host configuration for ${plan.claim.join(', ') || '(nothing claimed)'}`);
  out.push(`# CPU: ${vendor}; boot loader: ${boot?.bootLoader.kind ?? 'unknown'}; initramfs: ${boot?.initramfs.kind ?? 'unknown'}`);
  out.push('');
  let n = 1;

  // 1. kernel command line
  const params = kernelParams(plan);
  const iommuOff = plan.findings.some((f) => f.id === 'iommu-not-enabled');
  out.push(`# ${n++}. Kernel command line${params.length ? ' (takes effect after a reboot)' : ''}`);
  if (params.length) {
    out.push(`#   parameters: ${params.join(' ')}`);
    out.push(...cmdlineHow(params.join(' '), boot));
  } else if (iommuOff && plan.cpuVendor === 'amd') {
    out.push('#   AMD: nothing to add. The AMD IOMMU is used when the firmware enables it (AMD-Vi / "IOMMU" setting);');
    out.push('#   amd_iommu=on is not a valid value. iommu=pt is optional (host devices skip translation).');
  } else {
    out.push('#   no change needed: the IOMMU is on and vfio-pci takes its ids from modprobe.d');
  }
  if (params.some((p) => p.startsWith('vfio-pci.ids='))) {
    out.push('#   vfio-pci is built into this kernel: modprobe.d options for it are ignored, so its ids go here.');
  }
  out.push('');

  // 2. modprobe.d: exactly the file `vfioctl persist` writes (its content as composed on this host when known)
  const mpEffects = stepEffects(plan, 'modprobe-vfio');
  const mpFile = mpEffects?.find((e) => e.type === 'file');
  const conf = mpFile && mpFile.type === 'file' ? mpFile.after : renderModprobe(plan);
  const perAddress = plan.binding.mode === 'per-address';
  out.push(`# ${n++}. ${MODPROBE_FILE}`);
  if (perAddress) {
    out.push('#   the binding persists per address (identical cards stay on the host, or you chose it): no vfio-pci ids= line');
    const pa = stepEffects(plan, 'persist-driver-override');
    if (pa?.length) out.push(...effectLines(pa));
    else if (!pa) {
      out.push('#   with driverctl installed (otherwise `vfioctl persist` writes a udev rule and an early systemd unit):');
      for (const a of plan.claim) out.push(`    ${shellJoin(['driverctl', 'set-override', a, 'vfio-pci'])}`);
    }
  }
  if (conf) out.push(...writeFile(MODPROBE_FILE, conf));
  else if (!perAddress) out.push('#   nothing to write');
  out.push('');

  // 3. initramfs
  if (conf || perAddress) {
    out.push(`# ${n++}. initramfs: load vfio-pci before the host drivers at boot (takes effect after a reboot)`);
    const ir = stepEffects(plan, 'regenerate-initramfs');
    if (ir?.length) out.push(...effectLines(ir));
    else if (ir) out.push('#   nothing to change: the initramfs configuration is already in place');
    else out.push(...initramfsHow(boot));
    out.push('');
  }

  // 4. unsafe interrupts
  if (plan.unsafeInterrupts) {
    out.push(`# ${n++}. Interrupt remapping opt-out — SECURITY DOWNGRADE`);
    out.push('#   Without interrupt remapping a guest can inject interrupts into the host. Use this only for');
    out.push('#   trusted guests on hardware that lacks remapping, never on a host shared with untrusted users.');
    const ui = stepEffects(plan, 'unsafe-interrupts')?.find((e) => e.type === 'file');
    const content = ui && ui.type === 'file' && ui.after !== null ? ui.after : renderVfioModprobeConf({ options: [{ module: 'vfio_iommu_type1', key: 'allow_unsafe_interrupts', value: '1' }] });
    out.push(...writeFile(UNSAFE_INTERRUPTS_FILE, content));
    out.push('#   at runtime (until reboot): echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts');
    out.push('');
  }
  const addrs = plan.request.join(' ');
  if (params.length) out.push('# Reboot afterwards (the kernel command line changes only then), then check with: vfioctl doctor', '');
  else if (conf || perAddress) out.push(`# \`vfioctl bind ${addrs}\` binds at runtime now; \`vfioctl persist ${perAddress ? '' : '--by-id '}${addrs}\` writes these files; they take effect at the next boot.`, '');
  return out.join('\n');
}
