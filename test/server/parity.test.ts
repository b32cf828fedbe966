/**
 * Each read of the API is byte for byte what the CLI prints with --json for the same host: the sample
 * (a real-kernel capture) and a synthetic root tree, run against the CLI in-process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serve, postJson, type TestServer } from './helpers.js';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC, debianFiles } from '../apply/helpers.js';

interface Case {
  path: string;
  argv: string[];
  body?: unknown;
  status?: number;
}

const CASES: Case[] = [
  { path: '/api/v1/ls', argv: ['ls'] },
  { path: '/api/v1/groups', argv: ['groups'] },
  { path: '/api/v1/doctor', argv: ['doctor'] },
  { path: '/api/v1/doctor?address=0000:02:00.0&address=01:00.0', argv: ['doctor', '0000:02:00.0', '01:00.0'] },
  { path: '/api/v1/status', argv: ['status'] },
  { path: '/api/v1/status?history=1', argv: ['status', '--history'] },
  { path: '/api/v1/show/02:00.0', argv: ['show', '02:00.0'] },
  { path: '/api/v1/show/pci_0000_01_00_0', argv: ['show', 'pci_0000_01_00_0'] },
  { path: '/api/v1/show/not-an-address', argv: ['show', 'not-an-address'], status: 400 },
  { path: '/api/v1/show/0000:7f:00.0', argv: ['show', '0000:7f:00.0'], status: 404 },
  { path: '/api/v1/explain', argv: ['explain', '--list'] },
  { path: `/api/v1/explain/${encodeURIComponent('vfio-pci 0000:02:00.0: group 2 is not viable')}`, argv: ['explain', 'vfio-pci 0000:02:00.0: group 2 is not viable'] },
  { path: `/api/v1/explain/${encodeURIComponent(`qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: failed to setup container for group 2: Failed to set iommu for container: Operation not permitted ${'x'.repeat(150)}`)}`, argv: ['explain', `qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: failed to setup container for group 2: Failed to set iommu for container: Operation not permitted ${'x'.repeat(150)}`] },
  { path: '/api/v1/plan', body: { addresses: ['02:00.0'] }, argv: ['plan', '02:00.0'] },
  { path: '/api/v1/plan', body: { addresses: ['01:00.0', '02:00.1'], singleFunction: true, romBar: 'off', byId: true }, argv: ['plan', '01:00.0', '02:00.1', '--single-function', '--rom-bar', 'off', '--by-id'] },
];

function check(name: string, host: () => string[], server: () => TestServer): void {
  for (const c of CASES) {
    it(`${name}: ${c.body ? 'POST' : 'GET'} ${c.path}${c.body ? ` ${JSON.stringify(c.body)}` : ''} = vfioctl ${c.argv.join(' ')} --json`, async () => {
      const cli = await runCli([...host(), ...c.argv, '--json']);
      const r = await server().api(c.path, c.body ? postJson(c.body) : {});
      const text = await r.text();
      assert.equal(r.status, c.status ?? 200, text);
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(text, cli.stdout);
    });
  }
}

describe('CLI parity: the sample host', () => {
  let s: TestServer;
  before(async () => {
    s = await serve({ sample: true });
  });
  after(() => s.close());
  check('sample', () => ['--sample'], () => s);

  it('render returns the CLI render document with the target and a file name', async () => {
    const cli = await runCli(['--sample', 'render', 'libvirt', '02:00.0', '--json']);
    const r = await s.json<Record<string, unknown>>('/api/v1/render', postJson({ target: 'libvirt', addresses: ['02:00.0'] }));
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.body, kind: undefined, target: undefined, filename: undefined }, { ...cli.json(), kind: undefined, target: undefined, filename: undefined });
    assert.equal(r.body.kind, 'render');
    assert.equal(r.body.target, 'libvirt');
    assert.equal(r.body.filename, 'hostdevs.xml');
    assert.match(String(r.body.text), /<hostdev/);
  });
});

describe('CLI parity: a root tree', () => {
  let s: TestServer;
  let tree: { root: string; cleanup(): void };
  before(async () => {
    tree = makeTempHostTree({ ...SPEC, files: debianFiles({ grub: 'GRUB_CMDLINE_LINUX="quiet"\n', modules: '# modules\n' }) });
    s = await serve({ root: tree.root });
  });
  after(async () => {
    await s.close();
    tree.cleanup();
  });
  check('root', () => ['--root', tree.root], () => s);
});
