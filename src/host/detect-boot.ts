/**
 * Which boot loader and initramfs tool a host uses, and the exact commands that regenerate their
 * output, detected only from files under the host root (never from the machine vfioctl runs on).
 *
 * Boot loaders (how the kernel command line is kept):
 *   proxmox-boot-tool  etc/kernel/proxmox-boot-uuids; the line lives in etc/kernel/cmdline (systemd-boot,
 *                      ZFS/UEFI installs) or etc/default/grub (grub); regenerate: proxmox-boot-tool refresh
 *   kernelstub         Pop!_OS (etc/kernelstub/configuration or usr/bin/kernelstub); options changed by
 *                      `kernelstub --add-options/--delete-options`, no file edited by vfioctl
 *   grubby             Fedora, RHEL/CentOS/Rocky/Alma 8+ (usr/sbin/grubby with BLS entries or an EL8+
 *                      os-release): `grubby --update-kernel=ALL --args=... / --remove-args=...`; the grub
 *                      defaults file is edited too so that future kernels inherit the change
 *   grub2              etc/default/grub with update-grub (Debian, Ubuntu), or grub2-mkconfig/grub-mkconfig
 *                      -o <output>: RHEL 7 BIOS /etc/grub2.cfg, RHEL 7 UEFI /etc/grub2-efi.cfg, otherwise
 *                      /boot/grub2/grub.cfg or /boot/grub/grub.cfg
 *   systemd-boot       etc/kernel/cmdline plus a loader (boot/loader, boot/efi/loader); the
 *                      entries are rebuilt by kernel-install for the running kernel
 * How each boot loader's line is read, edited and described: its adapter in src/adapters/boot/.
 * Initramfs tools: initramfs-tools (usr/sbin/mkinitramfs: `update-initramfs -u -k all`), dracut
 * (`dracut -f --regenerate-all`), mkinitcpio (`mkinitcpio -P`).
 */
import type { HostRoot } from './host-root.js';
import type { Argv } from '../model/command.js';
import { hostCommand, isKernelVersion } from '../model/host-command.js';
import type { BootTooling, OsRelease, BootLoaderInfo, InitramfsInfo } from '../model/boot-tooling.js';
export type { BootTooling, OsRelease, BootLoaderInfo, InitramfsInfo, BootLoaderKind, InitramfsKind } from '../model/boot-tooling.js';
export { type Argv, formatArgv } from '../model/command.js';

/** Parse os-release(5) text. */
export function parseOsRelease(text: string): OsRelease {
  const vals: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    vals[m[1]!] = v;
  }
  return {
    id: (vals.ID ?? '').toLowerCase(),
    idLike: (vals.ID_LIKE ?? '').toLowerCase().split(/\s+/).filter(Boolean),
    versionId: vals.VERSION_ID ?? '',
    prettyName: vals.PRETTY_NAME ?? vals.NAME ?? '',
  };
}

function readOsRelease(host: HostRoot): OsRelease | null {
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const r = host.readText(rel);
    if (r.state === 'ok') return parseOsRelease(r.value);
  }
  return null;
}

/** The first of these root-relative paths that exists (usr-merged hosts: usr/sbin and usr/bin). */
function firstExisting(host: HostRoot, rels: readonly string[]): string | null {
  for (const r of rels) if (host.exists(r)) return r;
  return null;
}

function tool(host: HostRoot, name: string): string | null {
  return firstExisting(host, [`usr/sbin/${name}`, `usr/bin/${name}`, `usr/local/sbin/${name}`, `usr/local/bin/${name}`]);
}

const EL_FAMILY = new Set(['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol', 'circle', 'eurolinux', 'scientific', 'cloudlinux', 'virtuozzo']);

function isElFamily(os: OsRelease | null): boolean {
  return !!os && (EL_FAMILY.has(os.id) || os.idLike.some((x) => x === 'rhel' || x === 'fedora' || x === 'centos'));
}

function majorVersion(os: OsRelease | null): number {
  const m = /^(\d+)/.exec(os?.versionId ?? '');
  return m ? Number(m[1]) : NaN;
}

export function detectBootTooling(host: HostRoot): BootTooling {
  const os = readOsRelease(host);
  const uefi = host.exists('sys/firmware/efi');
  return { os, uefi, bootLoader: detectBootLoader(host, os, uefi), initramfs: detectInitramfs(host, os) };
}

function detectBootLoader(host: HostRoot, os: OsRelease | null, uefi: boolean): BootLoaderInfo {
  const evidence: string[] = [];
  if (os) evidence.push(`os-release ID=${os.id}${os.versionId ? ` VERSION_ID=${os.versionId}` : ''}`);
  const grubDefaults = host.exists('etc/default/grub') ? 'etc/default/grub' : null;
  const kernelCmdline = host.exists('etc/kernel/cmdline') ? 'etc/kernel/cmdline' : null;

  // Proxmox VE: proxmox-boot-tool keeps the ESPs in sync for both grub and systemd-boot installs.
  if (host.exists('etc/kernel/proxmox-boot-uuids')) {
    evidence.push('etc/kernel/proxmox-boot-uuids');
    if (kernelCmdline) {
      evidence.push(kernelCmdline);
      return { kind: 'proxmox-boot-tool', cmdline: { via: 'kernel-cmdline', file: kernelCmdline }, regenerate: [hostCommand.proxmoxBootToolRefresh()], evidence };
    }
    if (grubDefaults) {
      evidence.push(grubDefaults);
      return { kind: 'proxmox-boot-tool', cmdline: { via: 'grub-defaults', file: grubDefaults }, regenerate: [hostCommand.proxmoxBootToolRefresh()], evidence };
    }
  }

  // Pop!_OS: kernelstub owns the command line.
  const kernelstub = tool(host, 'kernelstub');
  if (host.exists('etc/kernelstub/configuration') || (kernelstub && os?.id === 'pop')) {
    evidence.push(host.exists('etc/kernelstub/configuration') ? 'etc/kernelstub/configuration' : kernelstub!);
    return { kind: 'kernelstub', cmdline: { via: 'tool', tool: 'kernelstub' }, regenerate: [], evidence };
  }

  // systemd-boot with /etc/kernel/cmdline and no grub.
  // (an ESP mounted at /efi is outside the areas the host root reads; /boot and /boot/efi are checked)
  const loaderDir = firstExisting(host, ['boot/loader/loader.conf', 'boot/efi/loader/loader.conf']);
  const grubby = tool(host, 'grubby');
  const grubMkconfig = tool(host, 'grub2-mkconfig') ?? tool(host, 'grub-mkconfig');
  if (kernelCmdline && !grubDefaults && (loaderDir || !grubMkconfig)) {
    evidence.push(kernelCmdline);
    if (loaderDir) evidence.push(loaderDir);
    const kver = host.readText('proc/sys/kernel/osrelease');
    const regenerate: Argv[] = [];
    if (tool(host, 'kernel-install') && kver.state === 'ok' && isKernelVersion(kver.value.trim())) regenerate.push(hostCommand.kernelInstall(kver.value.trim()));
    return { kind: 'systemd-boot', cmdline: { via: 'kernel-cmdline', file: kernelCmdline }, regenerate, evidence };
  }

  // Fedora / EL8+: BLS entries, grubby is the supported interface.
  const bls = host.exists('boot/loader/entries');
  if (grubby && (bls || (isElFamily(os) && (os?.id === 'fedora' || majorVersion(os) >= 8)))) {
    evidence.push(grubby);
    if (bls) evidence.push('boot/loader/entries');
    const cmd: BootLoaderInfo['cmdline'] = grubDefaults ? { via: 'tool', tool: 'grubby', alsoFile: grubDefaults } : { via: 'tool', tool: 'grubby' };
    return { kind: 'grubby', cmdline: cmd, regenerate: [], evidence };
  }

  if (grubDefaults) {
    evidence.push(grubDefaults);
    const updateGrub = tool(host, 'update-grub');
    if (updateGrub) {
      evidence.push(updateGrub);
      return { kind: 'grub2', cmdline: { via: 'grub-defaults', file: grubDefaults }, regenerate: [hostCommand.updateGrub()], evidence };
    }
    const mk = grubMkconfig;
    const mkName: 'grub-mkconfig' | 'grub2-mkconfig' = mk ? (mk.endsWith('/grub2-mkconfig') ? 'grub2-mkconfig' : 'grub-mkconfig') : host.exists('boot/grub2') || isElFamily(os) ? 'grub2-mkconfig' : 'grub-mkconfig';
    if (mk) evidence.push(mk);
    let output: string;
    if (isElFamily(os) && majorVersion(os) === 7) {
      // RHEL 7: /etc/grub2.cfg (BIOS) and /etc/grub2-efi.cfg (UEFI) are links to the real grub.cfg
      output = uefi ? '/etc/grub2-efi.cfg' : '/etc/grub2.cfg';
      evidence.push(uefi ? 'sys/firmware/efi (UEFI)' : 'no sys/firmware/efi (BIOS)');
    } else if (host.exists('boot/grub2/grub.cfg') || mkName === 'grub2-mkconfig') {
      output = '/boot/grub2/grub.cfg';
    } else {
      output = '/boot/grub/grub.cfg';
    }
    return { kind: 'grub2', cmdline: { via: 'grub-defaults', file: grubDefaults }, regenerate: [hostCommand.grubMkconfig(mkName, output)], evidence };
  }

  if (kernelCmdline) {
    evidence.push(kernelCmdline);
    return { kind: 'systemd-boot', cmdline: { via: 'kernel-cmdline', file: kernelCmdline }, regenerate: [], evidence };
  }
  if (grubby) {
    evidence.push(grubby);
    return { kind: 'grubby', cmdline: { via: 'tool', tool: 'grubby' }, regenerate: [], evidence };
  }
  evidence.push('none of etc/default/grub, etc/kernel/cmdline, grubby, kernelstub, proxmox-boot-tool found');
  return { kind: 'unknown', cmdline: { via: 'none' }, regenerate: [], evidence };
}

function detectInitramfs(host: HostRoot, os: OsRelease | null): InitramfsInfo {
  const mkinitramfs = tool(host, 'mkinitramfs');
  if (mkinitramfs) {
    return { kind: 'initramfs-tools', regenerate: hostCommand.updateInitramfs(), modulesFile: 'etc/initramfs-tools/modules', evidence: [mkinitramfs] };
  }
  const dracut = tool(host, 'dracut');
  if (dracut || host.exists('etc/dracut.conf.d')) {
    return { kind: 'dracut', regenerate: hostCommand.dracut(), modulesFile: 'etc/dracut.conf.d/vfioctl.conf', evidence: [dracut ?? 'etc/dracut.conf.d'] };
  }
  const mkinitcpio = tool(host, 'mkinitcpio');
  if (mkinitcpio || host.exists('etc/mkinitcpio.conf')) {
    return { kind: 'mkinitcpio', regenerate: hostCommand.mkinitcpio(), modulesFile: 'etc/mkinitcpio.conf.d/vfioctl.conf', evidence: [mkinitcpio ?? 'etc/mkinitcpio.conf'] };
  }
  if (host.exists('etc/initramfs-tools')) {
    return { kind: 'initramfs-tools', regenerate: hostCommand.updateInitramfs(), modulesFile: 'etc/initramfs-tools/modules', evidence: ['etc/initramfs-tools'] };
  }
  void os;
  return { kind: 'unknown', regenerate: null, modulesFile: null, evidence: ['none of mkinitramfs, dracut, mkinitcpio found'] };
}

