/**
 * preview -> planId -> apply on the kernel-like fake tree: the steps the preview showed are the steps
 * that run (the tree itself is checked), each journaled step is published on the event stream, a host
 * that changed since the preview is refused with 410 (and nothing changes), one change at a time (409),
 * reads answer while a change runs, a failing step is rolled back and says so.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, postJson, type TestServer } from './helpers.js';
import { SseReader } from './sse.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { FakeKernel, type FakeKernelOptions } from '../support/fake-kernel.js';
import { SPEC, debianFiles, driverOf } from '../apply/helpers.js';

interface Preview {
  planId: string;
  applicable: boolean;
  blocked: boolean;
  claim: string[];
  steps: { id: string; title: string; effects: { type: string; path?: string; value?: string; diff?: string }[] }[];
  diff: string | null;
}
interface Operation {
  operationId: string;
  state: string;
  events: { index: number; title: string; phase: string; run: number }[];
  result: Record<string, unknown> | null;
}

async function world(fake: FakeKernelOptions = {}, moveTimeoutMs = 300): Promise<{ s: TestServer; root: string; kernels: FakeKernel[]; done(): Promise<void> }> {
  const t = makeTempHostTree({ ...SPEC, files: debianFiles({ grub: 'GRUB_CMDLINE_LINUX=""\n', modules: '# List of modules\n' }) });
  const kernels: FakeKernel[] = [];
  const s = await serve({ root: t.root }, { runtime: { sysfsWriter: (host) => { const k = new FakeKernel(host.root, fake); kernels.push(k); return k; }, moveTimeoutMs } });
  return {
    s,
    root: t.root,
    kernels,
    async done() {
      await s.close();
      kernels.forEach((k) => k.dispose());
      t.cleanup();
    },
  };
}

async function finished(s: TestServer, id: string, ms = 15_000): Promise<Operation> {
  const t0 = Date.now();
  for (;;) {
    const r = await s.json<Operation>(`/api/v1/operations/${id}`);
    if (!['queued', 'running'].includes(r.body.state)) return r.body;
    if (Date.now() - t0 > ms) throw new Error(`operation still ${r.body.state}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('serve: preview and apply on the kernel-like fake', () => {
  it('bind: the previewed writes are made, every step is published started -> verified, status shows it bound', async () => {
    const w = await world();
    const sse = new SseReader(`${w.s.base}/api/v1/events`, w.s.token);
    try {
      await sse.ready;
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['02:00.0'] }));
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.applicable, true);
      assert.deepEqual(p.body.claim, ['0000:02:00.0', '0000:02:00.1']);
      const writes = p.body.steps.flatMap((st) => st.effects.filter((e) => e.type === 'sysfs-write').map((e) => `${e.path}=${e.value}`));
      assert.ok(writes.includes('/sys/bus/pci/drivers/snd_hda_intel/unbind=0000:02:00.1'), writes.join('\n'));
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'nouveau', 'a preview changes nothing');

      const a = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(a.status, 202, a.text);
      const op = await finished(w.s, a.body.operationId);
      assert.equal(op.state, 'done', JSON.stringify(op.result));
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'vfio-pci');
      assert.equal(driverOf(w.root, '0000:02:00.1'), 'vfio-pci');
      // exactly the previewed writes reached the kernel, in order
      assert.ok(p.body.steps.some((st) => st.id === 'load-vfio-pci'), 'the module load is a previewed step');
      const made = w.kernels.flatMap((k) => k.writes.filter((x) => x.step !== 'modprobe').map((x) => `/${x.target}=${x.value}`));
      assert.deepEqual(made.filter((x) => writes.includes(x)), writes, 'the writes the preview showed, in its order');
      assert.deepEqual(made.filter((x) => !writes.includes(x)), [], 'no write the preview did not show');
      // the result is the CLI's bind document
      assert.deepEqual(Object.keys(op.result!), ['schemaVersion', 'version', 'dryRun', 'verdict', 'claim', 'findings', 'result', 'persisted'].filter((k) => k !== 'schemaVersion'));
      // step events: each step started then verified, on the stream and in the operation
      const steps = sse.events.filter((e) => e.event === 'step').map((e) => e.data as { index: number; phase: string; operationId: string });
      assert.ok(steps.length >= 4, JSON.stringify(steps));
      assert.ok(steps.every((x) => x.operationId === a.body.operationId));
      for (const i of new Set(steps.map((x) => x.index))) assert.deepEqual(steps.filter((x) => x.index === i).map((x) => x.phase), ['started', 'verified'], `step ${i}`);
      assert.deepEqual(op.events.map((e) => e.phase), steps.map((x) => x.phase));
      const end = await sse.waitFor((e) => e.event === 'operation' && (e.data as { state: string }).state === 'done');
      assert.equal((end.data as { operationId: string }).operationId, a.body.operationId);
      await sse.waitFor((e) => e.event === 'host-changed');
      // reads after the change see it (the kept documents were dropped)
      const status = await w.s.json<{ bound: { address: string }[] }>('/api/v1/status');
      assert.deepEqual(status.body.bound.map((b) => b.address), ['0000:02:00.0', '0000:02:00.1']);
      // a plan id is used once
      const again = await w.s.json<{ error: { code: string } }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(again.status, 410);
      assert.equal(again.body.error.code, 'plan-expired');

      // and back: release by preview + apply
      const rp = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'release', addresses: ['02:00.0', '02:00.1'] }));
      assert.equal(rp.status, 200, rp.text);
      const ra = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: rp.body.planId }));
      assert.equal((await finished(w.s, ra.body.operationId)).state, 'done');
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'nouveau');
      assert.equal(driverOf(w.root, '0000:02:00.1'), 'snd_hda_intel');
    } finally {
      sse.close();
      await w.done();
    }
  });

  it('410 when the host changed between preview and apply; nothing is changed', async () => {
    const w = await world();
    try {
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['02:00.0'] }));
      // someone else unbinds the audio function: the plan would now make other writes
      new FakeKernel(w.root).writeDriverAttr('snd_hda_intel', 'unbind', '0000:02:00.1');
      const a = await w.s.json<{ error: { code: string; remedy: string } }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(a.status, 410, a.text);
      assert.equal(a.body.error.code, 'plan-changed');
      assert.match(a.body.error.remedy, /re-preview/);
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'nouveau');
      assert.equal(w.kernels.reduce((n, k) => n + k.writes.length, 0), 0, 'no write reached the kernel');
    } finally {
      await w.done();
    }
  });

  it('one change at a time: 409 busy while one runs, and reads answer meanwhile', async () => {
    // the GPU's probe is slower than usual: the operation runs for about a second
    const w = await world({ faults: [{ step: 'drivers_probe', address: '0000:02:00.0', kind: 'late-bind' }], lateMs: 1500 }, 5000);
    try {
      const p1 = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['02:00.0'] }));
      const p2 = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['01:00.0'] }));
      assert.equal((await w.s.api('/api/v1/groups')).status, 200, 'the read worker is up');
      const a1 = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: p1.body.planId }));
      assert.equal(a1.status, 202);
      await new Promise((res) => setTimeout(res, 100));
      const a2 = await w.s.json<{ error: { code: string } }>('/api/v1/apply', postJson({ planId: p2.body.planId }));
      assert.equal(a2.status, 409, a2.text);
      assert.equal(a2.body.error.code, 'busy');
      const t0 = performance.now();
      // a document not read before: built by the worker while the change runs on the main thread
      const g = await w.s.api('/api/v1/show/01:00.0');
      const ms = performance.now() - t0;
      assert.equal(g.status, 200);
      const during = await w.s.json<Operation>(`/api/v1/operations/${a1.body.operationId}`);
      assert.equal(during.body.state, 'running', 'the read came back while the change was still running');
      assert.ok(ms < 900, `groups took ${ms} ms during the change`);
      assert.equal((await finished(w.s, a1.body.operationId)).state, 'done');
      // the refused plan id is still good once the first change is done (the host changed: 410, re-preview)
      const a3 = await w.s.json<{ error?: { code: string } }>('/api/v1/apply', postJson({ planId: p2.body.planId }));
      assert.ok(a3.status === 202 || (a3.status === 410 && a3.body.error?.code === 'plan-changed'), a3.text);
    } finally {
      await w.done();
    }
  });

  it('a step that fails is rolled back: the events say rolled-back, the operation too, the tree is as before', async () => {
    const w = await world({ faults: [{ step: 'drivers_probe', address: '0000:02:00.1', kind: 'EIO' }] });
    const sse = new SseReader(`${w.s.base}/api/v1/events`, w.s.token);
    try {
      await sse.ready;
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['02:00.0'] }));
      const a = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      const op = await finished(w.s, a.body.operationId);
      assert.equal(op.state, 'rolled-back', JSON.stringify(op.result));
      assert.ok(op.events.some((e) => e.phase === 'failed'));
      assert.ok(op.events.some((e) => e.phase === 'rolled-back'));
      assert.equal((op.result as { error: { code: string } }).error.code !== undefined, true);
      await sse.waitFor((e) => e.event === 'step' && (e.data as { phase: string }).phase === 'rolled-back');
      assert.equal(driverOf(w.root, '0000:02:00.0'), 'nouveau');
      assert.equal(driverOf(w.root, '0000:02:00.1'), 'snd_hda_intel');
    } finally {
      sse.close();
      await w.done();
    }
  });

  it('a blocked preview is not applicable and apply refuses it (409 blocked)', async () => {
    const w = await world();
    try {
      // the console display is the host's only boot VGA: passing it is blocked
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'bind', addresses: ['00:06.0'] }));
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.blocked, true);
      assert.equal(p.body.applicable, false);
      const a = await w.s.json<{ error: { code: string } }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(a.status, 409);
      assert.equal(a.body.error.code, 'blocked');
      assert.equal(driverOf(w.root, '0000:00:06.0'), 'bochs-drm');
    } finally {
      await w.done();
    }
  });

  it('persist: the preview carries the file diffs that apply writes', async () => {
    const w = await world();
    try {
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'persist', addresses: ['02:00.0'] }));
      assert.equal(p.status, 200, p.text);
      assert.match(p.body.diff ?? '', /\+\+\+ b\S*\/etc\/modprobe\.d\/vfioctl-vfio\.conf/);
      const files = p.body.steps.flatMap((st) => st.effects.filter((e) => e.type === 'file'));
      assert.ok(files.length > 0);
      assert.ok(files.every((f) => typeof f.diff === 'string' && f.diff.includes('@@')));
      const a = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      const op = await finished(w.s, a.body.operationId);
      assert.equal(op.state, 'done', JSON.stringify(op.result));
      assert.equal((op.result as { command: string }).command, 'persist');
      assert.equal((op.result as { diff: string }).diff, p.body.diff);
    } finally {
      await w.done();
    }
  });

  it('host enable-iommu: previewed twice the same (so it can be applied), the grub file gets exactly the previewed edit', async () => {
    const w = await world();
    try {
      const p = await w.s.json<Preview>('/api/v1/preview', postJson({ action: 'enable-iommu' }));
      assert.equal(p.status, 200, p.text);
      assert.match(p.body.diff ?? '', /\+GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"/);
      const a = await w.s.json<{ operationId: string }>('/api/v1/apply', postJson({ planId: p.body.planId }));
      assert.equal(a.status, 202, a.text);
      const op = await finished(w.s, a.body.operationId);
      assert.equal(op.state, 'done', JSON.stringify(op.result));
      assert.equal(fs.readFileSync(path.join(w.root, 'etc/default/grub'), 'utf8'), 'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"\n');
      assert.equal((op.result as { command: string }).command, 'host enable-iommu');
    } finally {
      await w.done();
    }
  });

  it('bad preview bodies are 400 with the CLI error document', async () => {
    const w = await world();
    try {
      for (const body of [{ action: 'format-disk' }, { action: 'bind', addresses: 'x' }, { action: 'bind', addresses: ['02:00.0'], options: { rm: true } }, { action: 'bind', addresses: ['02:00.0'], options: { timeoutMs: -1 } }, { action: 'attach', addresses: ['02:00.0'] }, { action: 'bind', addresses: ['zz:zz'] }]) {
        const r = await w.s.json<{ schemaVersion: number; error: { code: string; remedy: string | null } }>('/api/v1/preview', postJson(body));
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.schemaVersion, 1);
        assert.ok(r.body.error.code && r.body.error.remedy, r.text);
        assert.doesNotMatch(r.text, /at .*\.ts:\d+/, 'no stack trace');
      }
      const notJson = await w.s.json<{ error: { code: string } }>('/api/v1/preview', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'bind 02:00.0' });
      assert.equal(notJson.status, 415);
      const broken = await w.s.json<{ error: { code: string } }>('/api/v1/preview', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":' });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.error.code, 'bad-request');
    } finally {
      await w.done();
    }
  });
});

