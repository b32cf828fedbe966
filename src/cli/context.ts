/**
 * Per-invocation context shared by every command: global options, the host root (--root, VFIOCTL_ROOT,
 * --sample), the inventory (or an imported listing with --from), output helpers and error reporting.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostRoot } from '../host/host-root.js';
import { readInventory } from '../host/read-inventory.js';
import { readPciIds } from '../host/read-pci-ids.js';
import { openSnapshotArchive } from '../host/snapshot.js';
import { readInputFile } from '../host/read-input.js';
import { importListing } from '../model/import-listing.js';
import { UsageError, VfioctlError } from '../model/errors.js';
import type { PciInventory } from '../model/pci-function.js';
import type { CliIo } from './io.js';
import { type Colors, colorEnabled, makeColors, toJson } from './output.js';

export interface GlobalOptions {
  root?: string;
  sample?: boolean;
  sampleHost?: string;
  json?: boolean;
  color?: boolean;
  from?: string;
}

/** The directory holding the package (for samples/): found from this module's location. */
export function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vfioctl') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new Error('internal: cannot find the vfioctl package directory');
}

export const DEFAULT_SAMPLE = 'q35-intel-iommu';

export function listSamples(): string[] {
  const dir = join(packageDir(), 'samples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export function sampleRoot(name: string | true): string {
  const samples = listSamples();
  const wanted = name === true ? (samples.includes(DEFAULT_SAMPLE) ? DEFAULT_SAMPLE : samples[0]) : name;
  if (!wanted || !samples.includes(wanted)) {
    throw new UsageError('bad-sample', `no sample host named ${JSON.stringify(name === true ? DEFAULT_SAMPLE : name)}`, `available samples: ${samples.join(', ') || '(none shipped)'}`);
  }
  const base = join(packageDir(), 'samples', wanted);
  return existsSync(join(base, 'root')) ? join(base, 'root') : base;
}

export class CliContext {
  readonly io: CliIo;
  private global: GlobalOptions = {};
  private hostCache: HostRoot | undefined;
  private inventoryCache: PciInventory | undefined;
  private inventoryGroups: 'full' | 'none' | undefined;
  exitCode = 0;

  constructor(io: CliIo) {
    this.io = io;
  }

  setGlobal(opts: GlobalOptions): void {
    this.global = opts;
    this.hostCache = undefined;
    this.inventoryCache = undefined;
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

  /** The host root chosen by --sample, --root or VFIOCTL_ROOT (default "/"). */
  host(): HostRoot {
    if (!this.hostCache) {
      const sample = this.global.sampleHost ?? (this.global.sample ? true : undefined);
      if (sample !== undefined) {
        if (this.global.root !== undefined) throw new UsageError('bad-options', '--sample and --root both name a host', 'use one of them');
        this.hostCache = new HostRoot(sampleRoot(sample));
      } else {
        const root = this.global.root ?? (this.io.env.VFIOCTL_ROOT || '/');
        this.hostCache = new HostRoot(/\.(tar\.gz|tgz)$/.test(root) ? openSnapshotArchive(root) : root);
      }
    }
    return this.hostCache;
  }

  /** The PCI inventory: from --from FILE when given, else read from the host root. */
  inventory(opts: { groups?: 'full' | 'none' } = {}): PciInventory {
    const groups = opts.groups ?? 'full';
    if (this.inventoryCache && this.inventoryGroups === 'none' && groups === 'full') this.inventoryCache = undefined;
    if (!this.inventoryCache) {
      this.inventoryGroups = groups;
      if (this.global.from !== undefined) {
        const text = readInputFile(this.global.from);
        this.inventoryCache = importListing(text, this.global.from, readPciIds(new HostRoot('/')));
      } else {
        this.inventoryCache = readInventory(this.host(), { groups });
      }
    }
    return this.inventoryCache;
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }

  err(text: string): void {
    this.io.stderr.write(text);
  }

  printJson(value: unknown): void {
    this.out(toJson(value));
  }

  /** Report an error the way docs/exit-codes.md describes; returns the exit code. */
  reportError(e: unknown): number {
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
