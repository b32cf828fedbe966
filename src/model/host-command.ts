/**
 * The host commands vfioctl runs, as a closed set of argv shapes. The producers (persist plans in
 * src/apply/persist.ts, boot tooling in src/host/detect-boot.ts) build their commands with the
 * constructors below, and `checkHostCommand` is what a journal's exec step is checked against before
 * `recover` (or a rollback) runs anything: the two use the same table, so they cannot drift. A journal
 * is data; an argv outside these shapes is refused, never run.
 *
 * Shapes (argv[0] is looked up on PATH; no shell is ever involved):
 *   systemctl enable|disable vfioctl-NAME.service
 *   driverctl set-override ADDR vfio-pci | driverctl unset-override ADDR        (ADDR canonical dddd:bb:ss.f)
 *   udevadm control --reload
 *   grubby --update-kernel=ALL --args=PARAMS | --remove-args=PARAMS
 *   kernelstub --add-options PARAMS | --delete-options PARAMS
 *   update-grub | grub-mkconfig -o OUT | grub2-mkconfig -o OUT                  (OUT: GRUB_CONFIG_OUTPUTS)
 *   proxmox-boot-tool refresh | kernel-install add VERSION /lib/modules/VERSION/vmlinuz
 *   update-initramfs -u -k all | dracut -f --regenerate-all | mkinitcpio -P
 * PARAMS: 1 to 8 space-separated kernel parameters whose keys are the ones vfioctl edits
 * (KERNEL_PARAM_KEYS), each `key` or `key=value` with a value of [A-Za-z0-9_.,:+-].
 */
import type { Argv } from './command.js';
import { canonicalPciAddress } from './pci-address.js';
import { VfioctlError } from './errors.js';

/** Kernel parameters vfioctl adds, removes or gives back. */
export const KERNEL_PARAM_KEYS: readonly string[] = ['intel_iommu', 'amd_iommu', 'iommu', 'vfio-pci.ids', 'vfio_pci.ids'];

/** Where grub-mkconfig / grub2-mkconfig may write (src/host/detect-boot.ts picks one). */
export const GRUB_CONFIG_OUTPUTS: readonly string[] = ['/boot/grub/grub.cfg', '/boot/grub2/grub.cfg', '/etc/grub2.cfg', '/etc/grub2-efi.cfg'];

const UNIT = /^vfioctl-[a-z0-9][a-z0-9-]{0,40}\.service$/;
const KVER = /^[A-Za-z0-9_][A-Za-z0-9._+~-]{0,63}$/;
const PARAM_VALUE = /^[A-Za-z0-9_.,:+-]{0,200}$/;

export type HostCommandShape =
  | 'systemctl' | 'driverctl' | 'udevadm' | 'grubby' | 'kernelstub'
  | 'update-grub' | 'grub-mkconfig' | 'proxmox-boot-tool' | 'kernel-install'
  | 'update-initramfs' | 'dracut' | 'mkinitcpio';

/** Shapes that regenerate boot entries or the initramfs (re-run after a rollback restores the files). */
export const REGENERATE_SHAPES: ReadonlySet<HostCommandShape> = new Set<HostCommandShape>(['update-grub', 'grub-mkconfig', 'proxmox-boot-tool', 'kernel-install', 'update-initramfs', 'dracut', 'mkinitcpio']);

/** Whether `s` is a list of kernel parameters vfioctl edits (for grubby --args= / kernelstub). */
export function isVfioctlKernelParams(s: string): boolean {
  if (s.length > 600) return false;
  const words = s.split(' ');
  if (!words.length || words.length > 8) return false;
  return words.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    const value = eq < 0 ? '' : w.slice(eq + 1);
    return KERNEL_PARAM_KEYS.includes(key) && PARAM_VALUE.test(value);
  });
}

const eq = (argv: Argv, want: readonly string[]): boolean => argv.length === want.length && argv.every((a, i) => a === want[i]);
const isAddr = (s: string | undefined): boolean => s !== undefined && canonicalPciAddress(s) === s;

/** Which shape an argv has, or why it has none. */
export function checkHostCommand(argv: Argv): { ok: true; shape: HostCommandShape } | { ok: false; reason: string } {
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) return { ok: false, reason: 'not a list of strings' };
  const [cmd, a1, a2, a3] = argv;
  const ok = (shape: HostCommandShape): { ok: true; shape: HostCommandShape } => ({ ok: true, shape });
  switch (cmd) {
    case 'systemctl':
      if (argv.length === 3 && (a1 === 'enable' || a1 === 'disable') && UNIT.test(a2!)) return ok('systemctl');
      break;
    case 'driverctl':
      if (argv.length === 4 && a1 === 'set-override' && isAddr(a2) && a3 === 'vfio-pci') return ok('driverctl');
      if (argv.length === 3 && a1 === 'unset-override' && isAddr(a2)) return ok('driverctl');
      break;
    case 'udevadm':
      if (eq(argv, ['udevadm', 'control', '--reload'])) return ok('udevadm');
      break;
    case 'grubby':
      if (argv.length === 3 && a1 === '--update-kernel=ALL') {
        const m = /^--(args|remove-args)=(.*)$/s.exec(a2!);
        if (m && isVfioctlKernelParams(m[2]!)) return ok('grubby');
      }
      break;
    case 'kernelstub':
      if (argv.length === 3 && (a1 === '--add-options' || a1 === '--delete-options') && isVfioctlKernelParams(a2!)) return ok('kernelstub');
      break;
    case 'update-grub':
      if (argv.length === 1) return ok('update-grub');
      break;
    case 'grub-mkconfig':
    case 'grub2-mkconfig':
      if (argv.length === 3 && a1 === '-o' && GRUB_CONFIG_OUTPUTS.includes(a2!)) return ok('grub-mkconfig');
      break;
    case 'proxmox-boot-tool':
      if (eq(argv, ['proxmox-boot-tool', 'refresh'])) return ok('proxmox-boot-tool');
      break;
    case 'kernel-install':
      if (argv.length === 4 && a1 === 'add' && KVER.test(a2!) && a3 === `/lib/modules/${a2}/vmlinuz`) return ok('kernel-install');
      break;
    case 'update-initramfs':
      if (eq(argv, ['update-initramfs', '-u', '-k', 'all'])) return ok('update-initramfs');
      break;
    case 'dracut':
      if (eq(argv, ['dracut', '-f', '--regenerate-all'])) return ok('dracut');
      break;
    case 'mkinitcpio':
      if (eq(argv, ['mkinitcpio', '-P'])) return ok('mkinitcpio');
      break;
  }
  return { ok: false, reason: `${JSON.stringify(argv.slice(0, 6)).slice(0, 200)} is not a command vfioctl runs` };
}

/** Build through the table: a constructor that produced an argv outside it is a bug, caught here. */
function shaped(argv: string[]): Argv {
  const r = checkHostCommand(argv);
  if (!r.ok) {
    throw new VfioctlError('command-not-allowed', `vfioctl will not run ${JSON.stringify(argv).slice(0, 300)}: it is outside the commands it runs`, {
      remedy: 'a value read from the host has a form vfioctl does not use in commands (a kernel parameter or version); make this change by hand',
    });
  }
  return argv;
}

/** Constructors for every shape (the only way vfioctl's code builds a host command). */
export const hostCommand = {
  systemctl: (verb: 'enable' | 'disable', unit: string): Argv => shaped(['systemctl', verb, unit]),
  driverctlSet: (address: string): Argv => shaped(['driverctl', 'set-override', address, 'vfio-pci']),
  driverctlUnset: (address: string): Argv => shaped(['driverctl', 'unset-override', address]),
  udevReload: (): Argv => shaped(['udevadm', 'control', '--reload']),
  grubbyArgs: (params: string): Argv => shaped(['grubby', '--update-kernel=ALL', `--args=${params}`]),
  grubbyRemoveArgs: (params: string): Argv => shaped(['grubby', '--update-kernel=ALL', `--remove-args=${params}`]),
  kernelstubAdd: (params: string): Argv => shaped(['kernelstub', '--add-options', params]),
  kernelstubDelete: (params: string): Argv => shaped(['kernelstub', '--delete-options', params]),
  updateGrub: (): Argv => shaped(['update-grub']),
  grubMkconfig: (program: 'grub-mkconfig' | 'grub2-mkconfig', output: string): Argv => shaped([program, '-o', output]),
  proxmoxBootToolRefresh: (): Argv => shaped(['proxmox-boot-tool', 'refresh']),
  kernelInstall: (version: string): Argv => shaped(['kernel-install', 'add', version, `/lib/modules/${version}/vmlinuz`]),
  updateInitramfs: (): Argv => shaped(['update-initramfs', '-u', '-k', 'all']),
  dracut: (): Argv => shaped(['dracut', '-f', '--regenerate-all']),
  mkinitcpio: (): Argv => shaped(['mkinitcpio', '-P']),
};

/** kernel-install needs a version this shape accepts (detect-boot skips regeneration otherwise). */
export function isKernelVersion(v: string): boolean {
  return KVER.test(v);
}
