/**
 * Carry out a libvirt hostdev change set as a journaled run: the lock is held for the whole run, each
 * `virsh attach-device` / `detach-device` is journaled (with the exact XML of the change and of its undo)
 * before it runs and marked done after `virsh dumpxml` shows it, and the state change (what vfioctl
 * attached to which guest) is the commit point. A failure rolls back with the same code `vfioctl recover`
 * runs after a crash (src/apply/run.ts: ensureHostdev, idempotent).
 */
import type { PciAddressString } from '../model/pci-address.js';
import { VfioctlError } from '../model/errors.js';
import type { Virsh } from '../adapters/libvirt/virsh.js';
import { type ApplyResult, type HostdevChangeSet, changeHostdev, connectionUri, hostdevPresence, reattachHostdevs, verifyHostdev } from '../adapters/libvirt/guests.js';
import { Run, type ApplyContext } from './run.js';

/** The journal's `args` for a change set: guest, addresses and the flags, as a person would type them. */
export function hostdevRunArgs(set: HostdevChangeSet): string[] {
  return [set.guest, ...set.changes.map((c) => c.address), ...(set.effects.live ? ['--live'] : []), ...(set.effects.config ? ['--config'] : [])];
}

/**
 * Apply `set` under the lock, journaled. Before the first step the guest is read again: a change that
 * another run (or a person) made since the plan was read is refused, so an undo never removes what this
 * run did not add. Unmanaged functions removed by a detach are given back to the host after the commit.
 */
export async function applyHostdevChangeSet(ctx: ApplyContext, virsh: Virsh, set: HostdevChangeSet): Promise<ApplyResult> {
  const uri = connectionUri(virsh);
  const attach = set.op === 'attach';
  const runCtx: ApplyContext = { ...ctx, virsh: ctx.virsh ?? (() => virsh) };
  const done = await Run.execute(runCtx, set.op, hostdevRunArgs(set), async (run) => {
    for (const c of set.changes) {
      const now = await hostdevPresence(virsh, set.guest, c.address, set.effects);
      const stale = [now.config, now.live].some((p) => p !== null && p === attach);
      if (stale) {
        throw new VfioctlError('guest-changed', `${c.address} is ${attach ? 'already' : 'no longer'} in ${set.guest}: the definition changed since it was read`, {
          remedy: `run the command again (\`vfioctl guests\` shows what ${set.guest} holds now)`,
        });
      }
    }
    const out: PciAddressString[] = [];
    for (const c of set.changes) {
      await run.step(
        { type: 'libvirt-hostdev', op: set.op, guest: set.guest, uri, address: c.address, flags: { ...set.effects }, xml: c.xml, undoXml: c.undoXml },
        async () => {
          await changeHostdev(virsh, set.op, set.guest, c.xml, set.effects);
          await verifyHostdev(virsh, set.guest, c.address, set.effects, attach ? 'present' : 'absent');
        },
      );
      out.push(c.address);
    }
    const at = new Date().toISOString();
    run.setCommit(
      attach
        ? { attach: set.changes.map((c) => ({ guest: set.guest, address: c.address, uri, live: set.effects.live, config: set.effects.config, runId: run.journal.runId, at })) }
        : { detach: set.changes.map((c) => ({ guest: set.guest, address: c.address, live: set.effects.live, config: set.effects.config })) },
    );
    return out;
  });
  const { reattached, warnings } = await reattachHostdevs(virsh, set.reattach, ctx.log);
  return { done, reattached, warnings };
}
