/**
 * Journaled attach/detach: a failure at each virsh step is rolled back to the guest definition as it was,
 * an undo that fails leaves a journal that `status` shows and `recover` finishes, and a real SIGKILL of
 * the CLI at each virsh call (before and after the change) is recovered by `vfioctl recover`.
 *
 * libvirt here is a stand-in executable (test/adapters/libvirt/fake-virsh.mjs) because a real libvirtd
 * cannot be made to fail or to kill its caller at a chosen call; the real daemon is in
 * test/e2e/libvirt.test.ts (a SIGKILL mid-attach, then recover). The host tree, the CLI, the journal and the lock are the production ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { applyRuntime } from '../../src/cli/context.js';
import { runCli } from '../support/cli.js';
import { SPEC } from './helpers.js';
import { Virsh } from '../../src/adapters/libvirt/virsh.js';
import { verifyHostdev } from '../../src/adapters/libvirt/guests.js';
import { VfioctlError } from '../../src/model/errors.js';
import { parseDomainXml, pciHostdevs, renderPciHostdevXml } from '../../src/adapters/libvirt/domain-xml.js';
import { pciAddressOf } from '../../src/model/pci-address.js';
import type { HostState, Journal } from '../../src/apply/state.js';

const FAKE = path.join(import.meta.dirname, '../adapters/libvirt/fake-virsh.mjs');
const CHILD = path.join(import.meta.dirname, 'libvirt-child.ts');

/** Group 2 of SPEC (02:00.0 GPU + 02:00.1 audio) as a guest holds it: one multifunction slot, ROM off, a boot order. */
const HELD = [
  `<hostdev mode='subsystem' type='pci' managed='yes'>\n  <source>\n    <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n  </source>\n  <rom bar='off'/>\n  <boot order='2'/>\n  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0' multifunction='on'/>\n</hostdev>`,
  `<hostdev mode='subsystem' type='pci' managed='no'>\n  <source>\n    <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>\n  </source>\n  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x1'/>\n</hostdev>`,
];
const NIC = renderPciHostdevXml({ source: pciAddressOf('0000:01:00.0'), managed: true, guestAddress: { domain: 0, bus: 1, slot: 0, fn: 0, multifunction: false } });

interface Domain {
  running: boolean;
  config: string[];
  live: string[];
}

/** Guests for an attach (g stopped with a NIC, r running and empty) or a detach (h stopped and hr running, both holding group 2). */
function world(kind: 'attach' | 'detach' = 'attach', opts: { live?: boolean } = {}) {
  const t = makeTempHostTree(SPEC);
  // the tree stands for the running system (its journal may name the libvirt connection), unless told otherwise
  if (opts.live !== false) applyRuntime.liveRoots.add(t.root);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-fake-libvirt-'));
  const domains: Record<string, Domain> =
    kind === 'attach'
      ? { g: { running: false, config: [NIC], live: [] }, r: { running: true, config: [], live: [] } }
      : { h: { running: false, config: [...HELD], live: [] }, hr: { running: true, config: [...HELD], live: [...HELD] } };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ domains }));
  const env = (extra: Record<string, string> = {}) => ({ VFIOCTL_VIRSH: FAKE, FAKE_VIRSH_DIR: dir, ...extra });
  const virsh = new Virsh({ program: FAKE, env: { ...process.env, ...env() } });
  return {
    root: t.root,
    dir,
    env,
    // attach and detach change a guest: --yes confirms (they refuse without it when not on a terminal)
    cli: (args: string[], extra: Record<string, string> = {}) => runCli(['--root', t.root, ...args, ...(args[0] === 'attach' || args[0] === 'detach' ? ['--yes'] : [])], { env: env(extra) }),
    /** Both definitions of a guest, as what libvirt would compare: every hostdev's parsed fields, in source order. */
    async defs(name: string) {
      const read = async (inactive: boolean) => {
        const p = parseDomainXml(await virsh.dumpxml(name, { inactive }));
        assert.ok(p.ok);
        return pciHostdevs(p.value).map((h) => JSON.stringify({ ...h, alias: null })).sort();
      };
      return { config: await read(true), live: await read(false) };
    },
    calls: () => fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { argv: string[] }).argv),
    state: () => (fs.existsSync(path.join(t.root, 'var/lib/vfioctl/state.json')) ? (JSON.parse(fs.readFileSync(path.join(t.root, 'var/lib/vfioctl/state.json'), 'utf8')) as HostState) : null),
    journal: () => (fs.existsSync(path.join(t.root, 'var/lib/vfioctl/journal.json')) ? (JSON.parse(fs.readFileSync(path.join(t.root, 'var/lib/vfioctl/journal.json'), 'utf8')) as Journal) : null),
    lock: () => fs.existsSync(path.join(t.root, 'var/lib/vfioctl/lock')),
    cleanup() {
      t.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The change: group 2 into g (config), into running r (live+config), out of h (config), out of running hr (both). */
const CASES: { name: string; guest: string; args: string[]; kind: 'attach' | 'detach' }[] = [
  { name: 'attach --config', guest: 'g', args: ['attach', 'g', '02:00.0', '--force'], kind: 'attach' },
  { name: 'attach --live --config', guest: 'r', args: ['attach', 'r', '02:00.0', '--force', '--live', '--config'], kind: 'attach' },
  { name: 'detach --config', guest: 'h', args: ['detach', 'h', '02:00.0'], kind: 'detach' },
  { name: 'detach --live --config', guest: 'hr', args: ['detach', 'hr', '02:00.0', '--live', '--config'], kind: 'detach' },
];

describe('journaled libvirt hostdev changes', () => {
  it('attach then detach: each step journaled and verified, state.json records what vfioctl attached', async () => {
    const w = world();
    try {
      const before = await w.defs('g');
      const a = await w.cli(['attach', 'g', '02:00.0', '--force', '--json']);
      assert.equal(a.code, 0, a.stdout + a.stderr);
      assert.deepEqual((await w.defs('g')).config.length, 3);
      const st = await w.cli(['status', '--json']);
      assert.equal(st.code, 0);
      const attached = st.json<{ attached: { guest: string; address: string; config: boolean; live: boolean }[] }>().attached;
      assert.deepEqual(attached.map((x) => [x.guest, x.address, x.config, x.live]), [['g', '0000:02:00.0', true, false], ['g', '0000:02:00.1', true, false]]);
      // the archived journal holds one done step per function, with the exact XML sent
      const runs = fs.readdirSync(path.join(w.root, 'var/lib/vfioctl/runs'));
      assert.equal(runs.length, 1);
      const j = JSON.parse(fs.readFileSync(path.join(w.root, 'var/lib/vfioctl/runs', runs[0]!), 'utf8')) as Journal;
      assert.equal(j.status, 'committed');
      const sent = a.json<{ change: { changes: { xml: string }[] } }>().change.changes.map((c) => c.xml);
      assert.deepEqual(j.steps.map((s) => (s.type === 'libvirt-hostdev' ? [s.op, s.address, s.status, s.xml] : s.type)), [
        ['attach', '0000:02:00.0', 'done', sent[0]],
        ['attach', '0000:02:00.1', 'done', sent[1]],
      ]);
      const d = await w.cli(['detach', 'g', '02:00.0']);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.deepEqual(await w.defs('g'), before);
      assert.deepEqual(w.state()?.attached ?? {}, {});
      // dry runs journal nothing and take no lock
      const dry = await w.cli(['attach', 'g', '02:00.0', '--force', '--dry-run']);
      assert.equal(dry.code, 0);
      assert.match(dry.stdout, /attach-device g hostdev-0000_02_00_0\.xml --config/);
      assert.equal(fs.readdirSync(path.join(w.root, 'var/lib/vfioctl/runs')).length, 2);
    } finally {
      w.cleanup();
    }
  });

  it('a failure or an unverified change at each step leaves the guest definitions as they were', async () => {
    let points = 0;
    for (const c of CASES) {
      for (const n of [1, 2]) {
        // an unverified change (virsh says yes, the definition does not change) for one attach and one detach
        for (const mode of c.args.includes('--live') !== (c.kind === 'detach') ? ['FAKE_VIRSH_FAIL', 'FAKE_VIRSH_LIE'] : ['FAKE_VIRSH_FAIL']) {
          const w = world(c.kind);
          try {
            const before = await w.defs(c.guest);
            const r = await w.cli([...c.args, '--json'], { [mode]: String(n) });
            const what = `${c.name}, ${mode} at call ${n}`;
            assert.equal(r.code, 1, `${what}: ${r.stdout}`);
            const err = r.json<{ error: { code: string; message: string } }>().error;
            assert.equal(err.code, mode === 'FAKE_VIRSH_FAIL' ? 'virsh-failed' : 'verify-failed', what);
            if (n === 2) assert.match(err.message, new RegExp(`rolled back: .*${c.args[0]} 0000:02:00\\.0`), what);
            assert.deepEqual(await w.defs(c.guest), before, what);
            assert.equal(w.journal(), null, what);
            assert.equal(w.lock(), false, what);
            assert.deepEqual(w.state()?.attached ?? {}, {}, what);
            points++;
          } finally {
            w.cleanup();
          }
        }
      }
    }
    assert.equal(points, 12);
    console.log(`libvirt fault points: ${points} (a failure at each of 2 virsh calls of 4 change kinds; an unverified change at each call of 2)`);
  });

  it('an undo that fails keeps the journal: status shows the libvirt run, other runs refuse, recover finishes it', async () => {
    const w = world();
    try {
      const before = await w.defs('g');
      // call 2 (attach 02:00.1) fails, call 3 (detach 02:00.0, the undo) fails too
      const r = await w.cli(['attach', 'g', '02:00.0', '--force', '--json'], { FAKE_VIRSH_FAIL: '2,3' });
      assert.equal(r.code, 1);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'rollback-failed');
      assert.equal((await w.defs('g')).config.length, 2, 'half the group is still attached');
      const st = await w.cli(['status', '--json']);
      assert.equal(st.code, 1);
      const intr = st.json<{ interrupted: { status: string; libvirt: { guest: string; steps: { address: string; status: string }[] } } }>().interrupted;
      assert.equal(intr.status, 'rollback-failed');
      assert.equal(intr.libvirt.guest, 'g');
      assert.deepEqual(intr.libvirt.steps.map((s) => [s.address, s.status]), [['0000:02:00.0', 'undo-failed'], ['0000:02:00.1', 'undone']]);
      const human = await w.cli(['status']);
      assert.match(human.stdout, /libvirt guest g: 0 of 2 hostdev attach steps/);
      const again = await w.cli(['detach', 'g', '01:00.0', '--exact', '--json']);
      assert.equal(again.json<{ error: { code: string } }>().error.code, 'interrupted-run');
      const rec = await w.cli(['recover', '--yes', '--json']);
      assert.equal(rec.code, 0, rec.stdout + rec.stderr);
      assert.equal(rec.json<{ action: string }>().action, 'rolled-back');
      assert.deepEqual(await w.defs('g'), before);
      assert.equal(w.journal(), null);
      assert.equal((await w.cli(['status'])).code, 0);
    } finally {
      w.cleanup();
    }
  });

  it('a SIGKILL before or after each virsh call is recovered by `vfioctl recover` (URI from the journal)', async () => {
    let crashes = 0;
    for (const c of [CASES[0]!, CASES[2]!]) {
      for (const n of [1, 2]) {
        for (const when of ['before', 'after']) {
          const w = world(c.kind);
          const what = `${c.name}: kill ${when} call ${n}`;
          try {
            const before = await w.defs(c.guest);
            const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, '--root', w.root, ...c.args, '--yes', '--connect', 'test:///fake'], {
              encoding: 'utf8',
              env: { ...process.env, ...w.env({ FAKE_VIRSH_KILL: `${n}:${when}` }) },
            });
            assert.equal(r.signal, 'SIGKILL', `${what}: ${r.stdout}${r.stderr}`);
            crashes++;
            assert.ok(w.lock(), `${what}: the dead run left its lock`);
            assert.equal(w.journal()?.status, 'running', what);
            const st = await w.cli(['status', '--json']);
            assert.equal(st.code, 1, what);
            assert.equal(st.json<{ interrupted: { libvirt: { uri: string } } }>().interrupted.libvirt.uri, 'test:///fake');
            const mark = w.calls().length;
            const rec = await w.cli(['recover', '--yes', '--json']);
            assert.equal(rec.code, 0, `${what}: ${rec.stdout}${rec.stderr}`);
            assert.equal(rec.json<{ action: string }>().action, 'rolled-back', what);
            const recCalls = w.calls().slice(mark);
            assert.ok(recCalls.length > 0 && recCalls.every((a) => a[0] === '--connect' && a[1] === 'test:///fake'), `${what}: recover used the recorded URI`);
            assert.deepEqual(await w.defs(c.guest), before, what);
            assert.equal(w.journal(), null, what);
            assert.equal(w.lock(), false, what);
            // and the change can be made afresh
            const again = await w.cli(c.args);
            assert.equal(again.code, 0, `${what}: ${again.stdout}${again.stderr}`);
          } finally {
            w.cleanup();
          }
        }
      }
    }
    console.log(`libvirt crash points recovered: ${crashes} (kill before and after each of 2 virsh calls, attach and detach)`);
  });

  it('attach and detach change a guest only when confirmed: without a terminal they refuse unless --yes', async () => {
    for (const kind of ['attach', 'detach'] as const) {
      const w = world(kind);
      try {
        const guest = kind === 'attach' ? 'g' : 'h';
        const before = await w.defs(guest);
        const r = await runCli(['--root', w.root, kind, guest, '02:00.0', ...(kind === 'attach' ? ['--force'] : [])], { env: w.env() });
        assert.equal(r.code, 2, `${kind}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /refusing to change the host without confirmation/);
        assert.deepEqual(await w.defs(guest), before, `${kind} changed nothing`);
        assert.equal(w.journal(), null);
      } finally {
        w.cleanup();
      }
    }
  });

  /** `attach g 02:00.0 --connect test:///old`, SIGKILLed before its second virsh call (half the group attached). */
  const killMidAttach = (w: ReturnType<typeof world>): void => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, '--root', w.root, 'attach', 'g', '02:00.0', '--force', '--yes', '--connect', 'test:///old'], {
      encoding: 'utf8',
      env: { ...process.env, ...w.env({ FAKE_VIRSH_KILL: '2:before' }) },
    });
    assert.equal(r.signal, 'SIGKILL');
  };

  it('a journal under a root that is not the running system does not choose the libvirt connection: recover needs --connect', async () => {
    const w = world('attach', { live: false });
    try {
      killMidAttach(w);
      const mark = w.calls().length;
      const refused = await w.cli(['recover', '--yes', '--json']);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout, /journal-uri-refused|--connect/);
      assert.equal(w.calls().length, mark, 'no virsh call with the URI the journal named');
      const rec = await w.cli(['recover', '--yes', '--connect', 'test:///new']);
      assert.equal(rec.code, 0, rec.stderr);
      assert.ok(w.calls().slice(mark).every((a) => a[1] === 'test:///new'));
    } finally {
      w.cleanup();
    }
  });

  it('recover --connect overrides the recorded URI', async () => {
    const w = world();
    try {
      killMidAttach(w);
      const mark = w.calls().length;
      const rec = await w.cli(['recover', '--yes', '--connect', 'test:///new']);
      assert.equal(rec.code, 0, rec.stderr);
      assert.match(rec.stdout, /rolled back `vfioctl attach`/);
      assert.match(rec.stdout, /undone: attach 0000:02:00\.0 to guest g \(persistent\)/);
      assert.ok(w.calls().slice(mark).every((a) => a[1] === 'test:///new'));
      assert.equal((await w.defs('g')).config.length, 1);
    } finally {
      w.cleanup();
    }
  });

  it('a live unplug the guest acknowledges seconds after libvirt returned is waited for, not rolled back', async () => {
    // libvirt's detach-device --live returns after 5 s whether or not the guest has let go (pciehp alone
    // waits 5 s after the attention button): the device leaves the live definition later
    const w = world('detach');
    try {
      const r = await w.cli(['detach', 'hr', '02:00.0', '--live', '--json'], { FAKE_VIRSH_UNPLUG_MS: '1500' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(r.json<{ result: { done: string[] } }>().result.done, ['0000:02:00.0', '0000:02:00.1']);
      const defs = await w.defs('hr');
      assert.deepEqual(defs.live, [], 'both functions left the running guest');
      assert.equal(defs.config.length, 2, '--live leaves the persistent definition alone');
      assert.equal(w.journal(), null);
      assert.ok(!w.calls().some((c) => c.includes('attach-device')), 'nothing was re-attached');
    } finally {
      w.cleanup();
    }
  });

  it('a live unplug the guest never acknowledges fails verification after the wait, saying why', async () => {
    const w = world('detach');
    try {
      const v = new Virsh({ program: FAKE, env: { ...process.env, ...w.env({ FAKE_VIRSH_UNPLUG_MS: '3600000' }) } });
      await v.detachDevice('hr', HELD[0]!, { live: true, config: false });
      const t0 = Date.now();
      const e = await verifyHostdev(v, 'hr', '0000:02:00.0', { live: true, config: false }, 'absent', { waitMs: 600, pollMs: 100 }).catch((x: unknown) => x);
      assert.ok(e instanceof VfioctlError, String(e));
      assert.equal(e.code, 'verify-failed');
      assert.match(e.message, /still in the live definition of hr 1 s after the unplug request/);
      assert.match(e.remedy ?? '', /guest OS to acknowledge/);
      assert.ok(Date.now() - t0 >= 600, 'it waited');
      // a persistent-definition mismatch is not waited for
      const t1 = Date.now();
      const c = await verifyHostdev(v, 'hr', '0000:02:00.0', { live: false, config: true }, 'absent', { waitMs: 5000 }).catch((x: unknown) => x);
      assert.ok(c instanceof VfioctlError && c.code === 'verify-failed');
      assert.ok(Date.now() - t1 < 3000);
    } finally {
      w.cleanup();
    }
  });
});
