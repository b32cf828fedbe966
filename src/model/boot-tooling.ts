/**
 * How a host boots and rebuilds its initramfs: the boot loader, the initramfs tool and the exact
 * commands that make a kernel command-line or module change take effect. Detected by
 * src/host/detect-boot.ts; used by the doctor's remedies, the planner's steps and apply/.
 */
import type { Argv } from './command.js';

export type BootLoaderKind = 'grub2' | 'grubby' | 'systemd-boot' | 'kernelstub' | 'proxmox-boot-tool' | 'unknown';
export type InitramfsKind = 'initramfs-tools' | 'dracut' | 'mkinitcpio' | 'unknown';

export interface BootLoaderInfo {
  readonly kind: BootLoaderKind;
  /** how the kernel command line is changed: edit a file, or run a tool with the parameters */
  readonly cmdline:
    | { readonly via: 'grub-defaults'; readonly file: string }
    | { readonly via: 'kernel-cmdline'; readonly file: string }
    | { readonly via: 'tool'; readonly tool: 'grubby' | 'kernelstub'; readonly alsoFile?: string }
    | { readonly via: 'none' };
  /** commands that make the change reach the boot entries, in order */
  readonly regenerate: readonly Argv[];
  /** facts that led to this answer (root-relative paths or os-release values) */
  readonly evidence: readonly string[];
}

export interface InitramfsInfo {
  readonly kind: InitramfsKind;
  readonly regenerate: Argv | null;
  /** where vfioctl lists modules to include early (vfio, vfio_iommu_type1, vfio_pci) */
  readonly modulesFile: string | null;
  readonly evidence: readonly string[];
}

export interface OsRelease {
  readonly id: string;
  readonly idLike: readonly string[];
  readonly versionId: string;
  readonly prettyName: string;
}

export interface BootTooling {
  readonly os: OsRelease | null;
  readonly uefi: boolean;
  readonly bootLoader: BootLoaderInfo;
  readonly initramfs: InitramfsInfo;
}
