/**
 * Per-invocation context shared by every command: global options, the host root (--root, VFIOCTL_ROOT,
 * --sample), the inventory (or an imported listing with --from), output helpers and error reporting.
 */
import type { HostRoot } from '../host/host-root.js';
import { VfioctlError } from '../model/errors.js';
import * as path from 'node:path';
import { openSession, type Session, type SessionOptions, type SessionRuntime } from '../service/session.js';
import { diskError } from '../apply/errors-io.js';
import type { PciInventory } from '../model/pci-function.js';
import type { CliIo } from './io.js';
import { type Colors, colorEnabled, makeColors, toJson, sanitizeTerminal } from './output.js';
import { jsonDocument } from '../model/reports.js';
import { NO_PROGRESS, type Progress } from '../model/progress.js';
import { terminalProgress, type TerminalProgress } from './progress.js';

export interface GlobalOptions {
  root?: string;
  sample?: boolean;
  sampleHost?: string;
  json?: boolean;
  color?: boolean;
  from?: string;
  connect?: string;
}

export { packageDir, DEFAULT_SAMPLE, listSamples, sampleRoot } from '../service/samples.js';

/**
 * How the mutating commands reach the kernel and the running system, for tests: the real sysfs writer
 * unless a fake is set; roots listed in `liveRoots` count as the running system (commands run, with
 * the fake executables the test put on PATH). Never set from the environment.
 */
export const applyRuntime: { sysfsWriter: SessionRuntime['sysfsWriter']; moveTimeoutMs: number | null; liveRoots: Set<string> } = {
  sysfsWriter: null,
  moveTimeoutMs: null,
  liveRoots: new Set(),
};

export class CliContext {
  readonly io: CliIo;
  private global: GlobalOptions = {};
  private sessionCache: Session | undefined;
  exitCode = 0;

  constructor(io: CliIo) {
    this.io = io;
  }

  setGlobal(opts: GlobalOptions): void {
    this.global = opts;
    this.sessionCache = undefined;
    this.progressLine = undefined;
  }

  get opts(): GlobalOptions {
    return this.global;
  }

  get json(): boolean {
    return !!this.global.json;
  }

  get c(): Colors {
    return makeColors(!this.json && colorEnabled(this.global, this.io.isTTY, this.io.env));
  }

  /** The library session for this invocation: the host named by --sample, --root or VFIOCTL_ROOT. */
  session(): Session {
    return (this.sessionCache ??= this.newSession());
  }

  /** A fresh session on the same host (facts read anew), for long-running front ends such as the agent. */
  newSession(overrides: Partial<SessionOptions> = {}): Session {
    const g = this.global;
    const sample = g.sampleHost ?? (g.sample ? true : undefined);
    const root = overrides.root ?? g.root;
    const resolved = root ?? (this.io.env.VFIOCTL_ROOT || undefined);
    return openSession({
      ...(sample !== undefined && overrides.root === undefined ? { sample } : {}),
      ...(root !== undefined ? { root } : {}),
      ...(g.from !== undefined ? { from: g.from } : {}),
      ...(g.connect !== undefined ? { connect: g.connect } : {}),
      ...(resolved !== undefined && applyRuntime.liveRoots.has(path.resolve(resolved)) ? { live: true } : {}),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.io.env },
      runtime: { sysfsWriter: applyRuntime.sysfsWriter, moveTimeoutMs: applyRuntime.moveTimeoutMs, progress: this.progress() },
      log: (line) => {
        if (this.json) return;
        this.progressLine?.clear();
        this.err(`${line}\n`);
      },
      ...overrides,
    });
  }

  private progressLine: TerminalProgress | null | undefined;

  /**
   * Where long work reports its progress: a line on the terminal (src/cli/progress.ts) when output goes
   * to a terminal and is not --json; nothing otherwise.
   */
  progress(): Progress {
    if (this.progressLine === undefined) {
      this.progressLine = this.io.isTTY && !this.json ? terminalProgress({ write: (s) => this.io.stderr.write(s), columns: process.stderr.columns || 80 }) : null;
    }
    return this.progressLine ?? NO_PROGRESS;
  }

  /** The host root chosen by --sample, --root or VFIOCTL_ROOT (default "/"). */
  host(): HostRoot {
    return this.session().host();
  }

  /** The PCI inventory: from --from FILE when given, else read from the host root. */
  inventory(opts: { groups?: 'full' | 'none'; fill?: number } = {}): PciInventory {
    return this.session().inventory(opts);
  }

  out(text: string): void {
    this.io.stdout.write(sanitizeTerminal(text));
  }

  err(text: string): void {
    this.io.stderr.write(sanitizeTerminal(text));
  }

  /** Print one --json document: the report in the versioned envelope of docs/json.md. */
  printJson(value: object): void {
    // toJson's text is already free of everything sanitizeTerminal escapes (see toJson)
    this.io.stdout.write(toJson(jsonDocument(value)));
  }
  /** Report an error the way docs/exit-codes.md describes; returns the exit code. */
  reportError(e: unknown): number {
    e = e instanceof VfioctlError ? e : (diskError(e) ?? e);
    if (e instanceof VfioctlError) {
      if (this.json) this.printJson({ error: e.toJSON() });
      else {
        this.err(`${this.c.red('vfioctl:')} ${e.message}\n`);
        if (e.remedy) this.err(`  remedy: ${e.remedy}\n`);
      }
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    if (this.json) this.printJson({ error: { code: 'internal', message: msg, remedy: 'report this with the output of `vfioctl snapshot`' } });
    else {
      this.err(`vfioctl: internal error: ${msg}\n  remedy: re-run with VFIOCTL_DEBUG=1 for details and report it with a \`vfioctl snapshot\` of this host\n`);
    }
    if (this.io.env.VFIOCTL_DEBUG && e instanceof Error && e.stack) this.err(`${e.stack}\n`);
    return 1;
  }
}
