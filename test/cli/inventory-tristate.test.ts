/**
 * show / ls / groups: a fact not read prints "unknown (why; read from SOURCE)" (or "?" in tables), never
 * "no" or "none", and the JSON names it in the function's `unknown`; a full tree prints the facts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeTempHostTree } from '../support/host-tree.js';
import { desktopGpu } from '../support/topologies.js';
import { runCli } from '../support/cli.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));
const noIds = { VFIOCTL_PCI_IDS: '' };
const listing = (name: string) => path.resolve(import.meta.dirname, '../fixtures/listings', name);
const row = (out: string, key: string) => out.split('\n').find((l) => l.startsWith(`${key} `)) ?? '';
type Fn = { address: string; flr: boolean; hasRom: boolean; driver: string | null; unknown: { fact: string; reason: string; source: string }[] };

test('show --from an lspci -nn paste: FLR, ROM, driver and reset are unknown with their sources, not "no"/"none"', async () => {
  const r = await runCli(['show', '01:00.0', '--from', listing('lspci-nn-domain.txt')], { env: noIds });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.equal(row(out, 'flr').replace(/\s+/, ' '), 'flr unknown (the pasted lspci -nn listing does not tell; read from sys/bus/pci/devices/0000:01:00.0/config (capabilities))');
  assert.match(row(out, 'expansion rom'), /unknown \(the pasted lspci -nn listing does not tell; read from sys\/bus\/pci\/devices\/0000:01:00\.0\/rom\)/);
  assert.match(row(out, 'driver'), /unknown \(.*read from sys\/bus\/pci\/devices\/0000:01:00\.0\/driver\)/);
  assert.match(row(out, 'reset'), /unknown \(.*reset_method\)/);
  assert.doesNotMatch(out, /FLR no|expansion rom\s+none/);
});

test('show --json --from an lspci -nn paste: unknown names flr, hasRom and driver with their sources', async () => {
  const r = await runCli(['show', '01:00.0', '--json', '--from', listing('lspci-nn-domain.txt')], { env: noIds });
  const f = r.json<{ function: Fn }>().function;
  const u = new Map(f.unknown.map((x) => [x.fact, x.source]));
  assert.equal(u.get('flr'), 'sys/bus/pci/devices/0000:01:00.0/config (capabilities)');
  assert.equal(u.get('hasRom'), 'sys/bus/pci/devices/0000:01:00.0/rom');
  assert.equal(u.get('driver'), 'sys/bus/pci/devices/0000:01:00.0/driver');
});

test('ls --from an lspci -nnk paste: "no driver" is "-", FLR and ROM show as unknown flags', async () => {
  const r = await runCli(['ls', '--from', listing('lspci-nnk.txt')], { env: noIds });
  const audio = r.stdout.split('\n').find((l) => l.startsWith('01:00.1'))!;
  assert.match(audio, /\s-\s/, 'no driver line in a -k listing: no driver');
  assert.match(audio, /rom\?/);
  assert.match(audio, /flr\?/);
  const j = (await runCli(['ls', '--json', '--from', listing('lspci-nnk.txt')], { env: noIds })).json<{ functions: Fn[] }>();
  const fa = j.functions.find((x) => x.address === '0000:01:00.1')!;
  assert.equal(fa.driver, null);
  assert.ok(!fa.unknown.some((x) => x.fact === 'driver'));
});

test('groups --json from a tree with an unreadable driver link: the member says its driver is unknown', async () => {
  const spec = desktopGpu();
  spec.functions.find((f) => f.address === '0000:01:00.1')!.unreadable = ['driver'];
  const t = makeTempHostTree(spec);
  cleanups.push(t.cleanup);
  const j = (await runCli(['groups', '--json', '--root', t.root], { env: noIds })).json<{ groups: { id: number; members: { address: string; driver: string | null; unknown: { fact: string }[] }[] }[] }>();
  const m = j.groups.find((g) => g.id === 1)!.members;
  assert.deepEqual(m.find((x) => x.address === '0000:01:00.1')!.unknown.map((x) => x.fact), ['driver']);
  assert.deepEqual(m.find((x) => x.address === '0000:01:00.0')!.unknown, []);
  const human = (await runCli(['groups', '--root', t.root], { env: noIds })).stdout;
  assert.match(human.split('\n').find((l) => l.includes('01:00.1'))!, /driver \?/);
});

test('show on a short config tree: FLR unknown (config is only 64 bytes); on the full tree FLR yes and ROM present', async () => {
  const spec = desktopGpu();
  const full = makeTempHostTree(spec);
  cleanups.push(full.cleanup);
  const known = (await runCli(['show', '02:00.0', '--root', full.root], { env: noIds })).stdout;
  assert.match(row(known, 'flr'), /^flr\s+yes$/);
  assert.match(row(known, 'expansion rom'), /none$/);
  const gpu = (await runCli(['show', '01:00.0', '--root', full.root], { env: noIds })).stdout;
  assert.match(row(gpu, 'expansion rom'), /present$/);
  spec.functions.find((f) => f.address === '0000:02:00.0')!.configSize = 64;
  const short = makeTempHostTree(spec);
  cleanups.push(short.cleanup);
  const r = await runCli(['show', '02:00.0', '--root', short.root], { env: noIds });
  assert.match(row(r.stdout, 'flr'), /unknown \(config is only 64 bytes: read without root\?; read from sys\/bus\/pci\/devices\/0000:02:00\.0\/config \(capabilities\)\)/);
  const j = (await runCli(['show', '02:00.0', '--json', '--root', short.root], { env: noIds })).json<{ function: Fn; topology: { path: { address: string; acs: boolean | null; unknown?: { fact: string }[] }[] } }>();
  assert.deepEqual(j.function.unknown.map((x) => x.fact).sort(), ['capabilities', 'flr']);
  const hop = j.topology.path.find((h) => h.address === '0000:02:00.0')!;
  assert.equal(hop.acs, null);
  assert.deepEqual(hop.unknown?.map((x) => x.fact), ['capabilities'], 'its ACS is unknown, not absent');
  assert.deepEqual(j.topology.path.find((h) => h.address === '0000:00:1b.0')!.unknown, [], 'the port above was read in full');
  const ls = (await runCli(['ls', '--root', short.root], { env: noIds })).stdout;
  assert.match(ls.split('\n').find((l) => l.startsWith('02:00.0'))!, /flr\?/);
});
