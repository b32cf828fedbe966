/** `vfioctl snapshot OUT`: capture what vfioctl reads of this host into a tree or .tar.gz for --root. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { captureSnapshot, type SnapshotReader } from '../../host/snapshot.js';
import { SnapshotRedactor, describeSnapshotContents } from '../../host/snapshot-redact.js';
import type { SnapshotReport } from '../../model/reports.js';
import { readInventory } from '../../host/read-inventory.js';
import { readHostFacts } from '../../host/read-host-facts.js';
import { readHostImpact } from '../../host/read-host-impact.js';
import { readMdev } from '../../host/read-mdev.js';
import { readNumaFacts } from '../../host/read-numa.js';
import { readVfioPlatform } from '../../host/read-vfio-platform.js';

/** Every reader whose inputs a snapshot must carry. Readers added by other commands are listed here. */
export const SNAPSHOT_READERS: SnapshotReader[] = [
  (h) => readInventory(h, { names: false }),
  (h) => readHostFacts(h), // includes the boot loader and initramfs detection
  (h) => readHostImpact(h),
  (h) => readVfioPlatform(h, readInventory(h, { names: false }).functions),
  (h) => ['proc/sys/kernel/osrelease', 'proc/sys/kernel/hostname', 'etc/hostname'].map((p) => h.readText(p)),
  // mediated devices, vGPU types and NUMA placement (mdev types, plan affinity)
  (h) => {
    const fns = readInventory(h, { names: false }).functions;
    readMdev(h, fns);
    readNumaFacts(h, fns, fns.map((f) => f.address));
  },
];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('snapshot')
    .argument('<out>', 'new directory (or a path ending in .tar.gz) to write the capture to')
    .description('capture the parts of this host vfioctl reads, for bug reports and replay with --root (docs/snapshot.md says what it holds)')
    .option('--redact', 'replace IP and MAC addresses, UUIDs, serial numbers, the host name, user names in paths and kernel addresses, for a snapshot meant to be shared (replays give the same verdicts)')
    .action(
      action<[string, { redact?: boolean }]>(ctx, async (out, opts) => {
        const redactor = opts.redact ? SnapshotRedactor.forHost(ctx.host()) : null;
        const res = await captureSnapshot(ctx.host(), out, SNAPSHOT_READERS, { progress: ctx.progress(), ...(redactor ? { transform: (rel, data) => redactor.redact(rel, data), redacted: true } : {}) });
        const contents = describeSnapshotContents(res.paths);
        if (ctx.json) {
          ctx.printJson({ version: 1, out: res.out, archive: res.archive, manifest: res.manifest, contents, redactions: redactor ? redactor.counts : null } satisfies SnapshotReport);
          return 0;
        }
        const m = res.manifest;
        ctx.out(`wrote ${res.out}${res.archive ? ' (mode 0600)' : ' (directory mode 0700)'}: ${m.files} files, ${m.links} links, ${m.dirs} directories\n`);
        ctx.out('it holds:\n');
        for (const a of contents) ctx.out(`  ${String(a.files).padStart(5)}  ${a.area}${a.sensitive ? ctx.c.yellow(`  (${a.sensitive})`) : ''}\n`);
        if (redactor) {
          const done = Object.entries(redactor.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
          ctx.out(`redacted: ${done.length ? done.join(', ') : 'nothing matched'} (see docs/snapshot.md for what is kept)\n`);
        } else if (contents.some((a) => a.sensitive)) {
          ctx.out(ctx.c.yellow('it contains network addresses, host and device identifiers: share it only with people you trust, or capture again with --redact\n'));
        }
        const bad = Object.keys(m.unreadable);
        if (bad.length) ctx.out(ctx.c.yellow(`${bad.length} file(s) could not be read (run as root for a complete capture): ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ' ...' : ''}\n`));
        ctx.out(`replay it with: vfioctl ls --root ${res.out}\n`);
        return 0;
      }),
    );
}
