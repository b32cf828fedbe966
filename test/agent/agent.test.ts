/**
 * The node agent on synthetic host trees through the session (the kernel-like fake moves drivers): the
 * feature file it writes, updates after a host change, declared binds with the same refusals as bind,
 * dry runs that change nothing, and a file that is never seen half-written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { openSession, type Session } from '../../src/index.js';
import { runAgent, type AgentEvent } from '../../src/agent/agent.js';
import { parseFeatureFile } from '../../src/core/node-labels.js';
import type { NodeDevices } from '../../src/service/fleet.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { FakeKernel, snapshotKernelState } from '../support/fake-kernel.js';
import { SPEC, debianFiles, driverOf } from '../apply/helpers.js';

const FILE = 'etc/kubernetes/node-feature-discovery/features.d/vfioctl';

function world(spec: HostSpec = SPEC) {
  const t = makeTempHostTree({ ...spec, files: { ...(spec.files ?? {}), ...debianFiles(), 'etc/hostname': 'node-a\n' } });
  const kernels: FakeKernel[] = [];
  const session = (): Session =>
    openSession({
      root: t.root,
      env: { PATH: process.env.PATH },
      runtime: { sysfsWriter: (host) => { const k = new FakeKernel(host.root); kernels.push(k); return k; }, moveTimeoutMs: 300 },
    });
  return {
    root: t.root,
    session,
    labels: () => parseFeatureFile(fs.readFileSync(path.join(t.root, FILE), 'utf8')),
    cleanup() {
      kernels.forEach((k) => k.dispose());
      t.cleanup();
    },
  };
}

async function once(w: ReturnType<typeof world>, extra: Partial<Parameters<typeof runAgent>[0]> = {}): Promise<{ events: AgentEvent[]; run: Awaited<ReturnType<typeof runAgent>> }> {
  const events: AgentEvent[] = [];
  const run = await runAgent({ open: w.session, node: 'node-a', intervalMs: 1000, once: true, log: (e) => events.push(e), ...extra });
  return { events, run };
}

describe('vfioctl agent (NFD feature file)', () => {
  it('writes the labels of the host atomically, mode 0644, with an expiry, and no dot-file left behind', async () => {
    const w = world();
    try {
      const now = new Date('2026-12-01T10:00:00Z');
      const { events, run } = await once(w, { now: () => now, expirySeconds: 600 });
      assert.equal(run.failures, 0, JSON.stringify(events));
      const { labels, expiry } = w.labels();
      assert.equal(expiry, '2026-12-01T10:10:00Z');
      assert.equal(labels['vfioctl.io/iommu'], 'true');
      assert.equal(labels['vfioctl.io/iommu.vendor'], 'intel');
      // the GPU's group holds only its own functions: isolated; 00:05.0's SATA controller has no group
      assert.equal(labels['vfioctl.io/candidate.10de-1b80'], 'isolated');
      assert.equal(labels['vfioctl.io/candidate.10ec-8139'], 'shared');
      assert.equal(labels['vfioctl.io/candidate.8086-2922'], 'no-group');
      assert.equal(labels['vfioctl.io/vfio-pci.10de-1b80'], undefined, 'nothing is on vfio-pci yet');
      const dir = path.dirname(path.join(w.root, FILE));
      assert.deepEqual(fs.readdirSync(dir), ['vfioctl'], 'the temporary dot-file was renamed into place');
      assert.equal(fs.statSync(path.join(w.root, FILE)).mode & 0o777, 0o644);
      assert.ok(events.some((e) => e.reason === 'LabelsUpdated'));
    } finally {
      w.cleanup();
    }
  });

  it('notices a device rebound by someone else and rewrites the file with the change', async () => {
    const w = world();
    try {
      await once(w);
      // someone else binds the GPU (through the session, as `vfioctl bind` would)
      const s = w.session();
      await s.apply(await s.changeBind({ addresses: ['02:00.0'] }));
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'vfio-pci');
      const { events } = await once(w);
      const upd = events.find((e) => e.reason === 'LabelsUpdated');
      assert.ok(upd, JSON.stringify(events));
      assert.equal(upd!.labels!.added['vfioctl.io/vfio-pci.10de-1b80'], '1');
      assert.equal(w.labels().labels['vfioctl.io/vfio-pci.10de-10f0'], '1', 'the HDMI audio function went along');
      // a third cycle with no change logs no update
      const third = await once(w);
      assert.equal(third.events.filter((e) => e.reason === 'LabelsUpdated').length, 0);
    } finally {
      w.cleanup();
    }
  });

  it('binds declared devices at start through the plan (group mates follow) and labels the outcome', async () => {
    const w = world();
    try {
      const devices: NodeDevices = { apiVersion: 'vfioctl.io/v1', kind: 'NodeDevices', devices: [{ id: '10de:1b80' }] };
      const { events, run } = await once(w, { devices });
      assert.equal(run.binds?.status, 'ok', JSON.stringify(events));
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'vfio-pci');
      assert.equal(driverOf(w.root, '0000:02:00.1'), 'vfio-pci');
      assert.ok(events.some((e) => e.reason === 'Bound' && e.addresses?.includes('0000:02:00.1')));
      assert.equal(w.labels().labels['vfioctl.io/bind.status'], 'ok');
      // at the next start the devices are already bound: nothing moves
      const again = await once(w, { devices });
      assert.ok(again.events.some((e) => e.reason === 'AlreadyBound'), JSON.stringify(again.events));
    } finally {
      w.cleanup();
    }
  });

  it('refuses a declared device whose plan is blocked (host-impact holds on a node too) and changes nothing', async () => {
    const w = world();
    try {
      const before = snapshotKernelState(w.root);
      // 00:06.0 is the host's console display
      const devices: NodeDevices = { apiVersion: 'vfioctl.io/v1', kind: 'NodeDevices', devices: [{ address: '00:06.0' }] };
      const { events, run } = await once(w, { devices });
      assert.equal(run.binds?.status, 'refused');
      const refused = events.find((e) => e.reason === 'BindRefused');
      assert.ok(refused && refused.type === 'Warning', JSON.stringify(events));
      assert.ok(refused!.findings!.some((f) => f.severity === 'fail'));
      const after = snapshotKernelState(w.root);
      for (const k of Object.keys(before)) if (k.startsWith('sys/')) assert.equal(after[k], before[k], k);
      assert.equal(w.labels().labels['vfioctl.io/bind.status'], 'refused');
    } finally {
      w.cleanup();
    }
  });

  it('--dry-run plans the binds and the labels but binds nothing and writes no file', async () => {
    const w = world();
    try {
      const devices: NodeDevices = { apiVersion: 'vfioctl.io/v1', kind: 'NodeDevices', devices: [{ address: '0000:02:00.0' }] };
      const { events } = await once(w, { devices, dryRun: true });
      assert.ok(events.some((e) => e.reason === 'WouldBind'));
      assert.ok(events.some((e) => e.reason === 'WouldLabel'));
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'nouveau');
      assert.equal(fs.existsSync(path.join(w.root, FILE)), false);
    } finally {
      w.cleanup();
    }
  });

  it('runs on copies of real-kernel trees (the bundled captures) and labels what their kernels showed', async () => {
    const { listSamples, sampleRoot } = await import('../../src/service/samples.js');
    const os = await import('node:os');
    for (const name of listSamples()) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-agent-sample-'));
      try {
        fs.cpSync(sampleRoot(name), dir, { recursive: true, verbatimSymlinks: true });
        const events: AgentEvent[] = [];
        const run = await runAgent({ open: () => openSession({ root: dir }), node: 'n', intervalMs: 1000, once: true, log: (e) => events.push(e) });
        assert.equal(run.failures, 0, `${name}: ${JSON.stringify(events)}`);
        const { labels } = parseFeatureFile(fs.readFileSync(path.join(dir, FILE), 'utf8'));
        const inv = openSession({ sample: name }).inventory();
        assert.equal(labels['vfioctl.io/iommu'], inv.iommu.enabled ? 'true' : 'false', name);
        const vfio = inv.functions.filter((f) => f.driver === 'vfio-pci').length;
        const counted = Object.entries(labels).filter(([k]) => k.startsWith('vfioctl.io/vfio-pci.')).reduce((n, [, v]) => n + Number(v), 0);
        assert.equal(counted, vfio, `${name}: functions on vfio-pci`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('never shows a reader a partial file while it rewrites it', async () => {
    const w = world();
    try {
      await once(w);
      const target = path.join(w.root, FILE);
      // a reader in another thread reads the file as fast as it can while the agent rewrites it 40 times
      const reader = new Worker(
        `const fs = require('node:fs'); const { parentPort, workerData } = require('node:worker_threads');
         let reads = 0, bad = 0, stop = false;
         parentPort.on('message', () => { stop = true; });
         (function loop() { for (let i = 0; i < 200; i++) { try { const t = fs.readFileSync(workerData, 'utf8'); reads++; if (!t.includes('# +expiry-time=') || !t.endsWith('\\n') || !t.includes('vfioctl.io/iommu=')) bad++; } catch (e) { bad++; } }
           if (stop) parentPort.postMessage({ reads, bad }); else setImmediate(loop); })();`,
        { eval: true, workerData: target },
      );
      const done = new Promise<{ reads: number; bad: number }>((resolve) => reader.once('message', resolve));
      let t = Date.parse('2026-12-01T10:00:00Z');
      const stop = new AbortController();
      let n = 0;
      await runAgent({ open: () => { if (++n >= 40) stop.abort(); return w.session(); }, node: 'node-a', intervalMs: 0, now: () => new Date((t += 1000)), log: () => {}, signal: stop.signal, expirySeconds: 60 });
      reader.postMessage('stop');
      const r = await done;
      await reader.terminate();
      assert.ok(r.reads > 40, `the reader read ${r.reads} times`);
      assert.equal(r.bad, 0, `${r.bad} of ${r.reads} reads saw a partial or missing file`);
    } finally {
      w.cleanup();
    }
  });
});
