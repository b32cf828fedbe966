/**
 * The boot-loader adapter interface: one adapter per boot loader (src/adapters/boot/index.ts picks it
 * from the detected BootLoaderInfo), each reading the configured kernel command line, planning a change
 * of it as file edits and commands, and describing that change for a person.
 */
import type { HostRoot } from '../../host/host-root.js';
import type { Argv } from '../../model/command.js';
import type { BootLoaderInfo, BootLoaderKind } from '../../model/boot-tooling.js';
import type { KernelCmdline } from '../../model/kernel-cmdline.js';
import type { CmdlineEditRequest, CmdlineHow } from '../../core/boot-loader.js';

export type { CmdlineEditRequest, CmdlineHow };

/** A whole-file change: full content before and after (null: absent). */
export interface FileChange {
  rel: string;
  before: string | null;
  after: string | null;
}

export interface PlannedCommand {
  argv: Argv;
  undoArgv?: Argv;
  /** regeneration (boot loader / initramfs): re-run after a rollback restores the files */
  regenerate: boolean;
  why: string;
}

export type GrubCmdlineVariable = 'GRUB_CMDLINE_LINUX' | 'GRUB_CMDLINE_LINUX_DEFAULT';

/** The command line the boot loader is configured to give the next boot. */
export interface ConfiguredCmdline {
  /** where it was read, root-relative (proc/cmdline when the tool's own configuration was not found) */
  readonly source: string;
  /** the parameters, in the order the kernel gets them (grub: GRUB_CMDLINE_LINUX, then _DEFAULT) */
  readonly cmdline: KernelCmdline;
  /** grub defaults: each variable's own line (a variable that is not set is left out) */
  readonly variables?: readonly { readonly name: GrubCmdlineVariable; readonly cmdline: KernelCmdline }[];
  /** what could not be read or known, e.g. a $(...) command substitution grub-mkconfig would run */
  readonly unknown: readonly string[];
}

export interface PlanEditOptions {
  /** grub defaults: the variable that receives the parameters (default GRUB_CMDLINE_LINUX) */
  readonly variable?: GrubCmdlineVariable;
  /** edit the files (default true) */
  readonly files?: boolean;
  /** plan the tool's commands, grubby or kernelstub (default true) */
  readonly commands?: boolean;
  /**
   * Tools, for a change of one parameter: the word the configured line holds for it now (null: none).
   * kernelstub deletes it before adding the new one; grubby's undo gives it back. Unset: the undo of a
   * tool command is its inverse (remove what was added, add what was removed).
   */
  readonly previous?: string | null;
}

export interface BootEditPlan {
  files: FileChange[];
  commands: PlannedCommand[];
  notes: string[];
  /** parameters the change put on the line that were not there (removing them undoes that part) */
  added: string[];
  /** effective words the change rewrote (setting `from` back undoes that part) */
  replaced: { from: string; to: string }[];
  /** where the line lives, for the record: a root-relative file, or tool:NAME */
  location: string;
}

export interface BootLoaderAdapter {
  readonly kind: BootLoaderKind;
  readonly info: BootLoaderInfo;
  /** The configured command line, parsed, with where it was read and what is unknown. */
  readConfigured(host: HostRoot): ConfiguredCmdline;
  /** The change as file edits (full before/after content) and commands (through the host command table). */
  planEdit(host: HostRoot, edit: CmdlineEditRequest, opts?: PlanEditOptions): BootEditPlan;
  /** The change as steps a person can paste (the doctor's remedies, render host-config, the plan). */
  describe(edit: CmdlineEditRequest): CmdlineHow;
}
