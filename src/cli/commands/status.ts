/** `vfioctl status`: what vfioctl has changed on this host and not undone, and whether a run was interrupted. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { StateStore } from '../../apply/state.js';
import { readFnState } from '../../apply/pci-state.js';
import { pciAddressOf } from '../../model/pci-address.js';
import { VfioctlError } from '../../model/errors.js';
import type { Journal } from '../../apply/state.js';

/** The libvirt side of an interrupted run: guest, connection, each hostdev step and its status. */
function libvirtOf(j: Journal): { guest: string; uri: string | null; steps: { op: string; address: string; status: string }[] } | null {
  const steps = j.steps.flatMap((s) => (s.type === 'libvirt-hostdev' ? [s] : []));
  if (!steps.length) return null;
  return { guest: steps[0]!.guest, uri: steps[0]!.uri, steps: steps.map((s) => ({ op: s.op, address: s.address, status: s.status })) };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show what vfioctl changed (bound functions with their original drivers, persisted files, SR-IOV), and any interrupted run')
    .option('--history', 'also list finished runs')
    .action(
      action<[]>(ctx, (opts) => {
        const host = ctx.host();
        const store = new StateStore(host);
        const state = store.readState();
        const journal = store.readJournal();
        const lock = store.readLock();
        const bound = Object.entries(state.bound).map(([address, r]) => {
          let now: { driver: string | null; override: string | null } | null = null;
          try {
            now = readFnState(host, pciAddressOf(address));
          } catch (e) {
            if (!(e instanceof VfioctlError)) throw e;
          }
          return { address, iommuGroup: r.iommuGroup, original: r.original, current: now, drifted: !now || now.driver !== 'vfio-pci', runId: r.runId, at: r.at };
        });
        const interrupted =
          journal && (journal.status === 'running' || journal.status === 'rollback-failed')
            ? { runId: journal.runId, command: journal.command, status: journal.status, pid: journal.pid, startedAt: journal.startedAt, steps: journal.steps.length, libvirt: libvirtOf(journal) }
            : null;
        const attached = Object.entries(state.attached ?? {}).flatMap(([guest, fns]) => Object.entries(fns).map(([address, r]) => ({ guest, address, ...r })));
        const history = (opts as { history?: boolean }).history ? store.listRuns().map((j) => ({ runId: j.runId, command: j.command, args: j.args, status: j.status, startedAt: j.startedAt, finishedAt: j.finishedAt ?? null, error: j.error ?? null })) : undefined;
        if (ctx.json) {
          ctx.printJson({ version: 1, stateDir: host.display(store.dir), bound, persisted: state.persisted, sriov: state.sriov, attached, interrupted, lock, ...(history ? { history } : {}) });
          return interrupted ? 1 : 0;
        }
        const c = ctx.c;
        if (interrupted) {
          const lv = interrupted.libvirt;
          ctx.out(`${c.red('interrupted run:')} \`vfioctl ${interrupted.command}\` (${interrupted.runId}, ${interrupted.status}); run \`vfioctl recover${lv?.uri ? ` --connect ${lv.uri}` : ''}\`\n`);
          if (lv) {
            ctx.out(`  libvirt guest ${lv.guest}${lv.uri ? ` on ${lv.uri}` : ''}: ${lv.steps.filter((st) => st.status === 'done').length} of ${lv.steps.length} hostdev ${journal!.command} steps made and verified\n`);
            for (const st of lv.steps) ctx.out(`    ${st.status.padEnd(11)} ${st.op} ${st.address}\n`);
          }
        }
        if (lock) ctx.out(`lock held by pid ${lock.pid} (\`vfioctl ${lock.command}\` since ${lock.startedAt})\n`);
        if (!bound.length && !Object.keys(state.persisted).length && !Object.keys(state.sriov).length && !attached.length) ctx.out('vfioctl has changed nothing on this host\n');
        for (const b of bound) {
          ctx.out(`${c.bold(b.address)} group ${b.iommuGroup ?? '-'}: on ${b.current?.driver ?? 'no driver'} (was ${b.original.driver ?? 'no driver'}${b.original.override ? `, override ${b.original.override}` : ''})${b.drifted ? c.yellow(' — changed outside vfioctl') : ''}\n`);
        }
        for (const [k, p] of Object.entries(state.persisted)) ctx.out(`persisted ${k} (${p.mode}): ${[...p.created, ...p.edits.map((e) => e.rel)].map((r) => host.display(r)).join(', ')}\n`);
        for (const [a, s] of Object.entries(state.sriov)) ctx.out(`sr-iov ${a}: ${s.numVfs} VFs (was ${s.original})\n`);
        for (const a of attached) ctx.out(`attached ${c.bold(a.address)} to guest ${a.guest}${a.uri ? ` (${a.uri})` : ''}: ${[...(a.config ? ['persistent'] : []), ...(a.live ? ['live'] : [])].join(' and ')} definition\n`);
        for (const h of history ?? []) ctx.out(`  ${h.startedAt} ${h.status.padEnd(12)} vfioctl ${h.command} ${h.args.join(' ')}${h.error ? ` — ${h.error.message}` : ''}\n`);
        return interrupted ? 1 : 0;
      }),
    );
}
