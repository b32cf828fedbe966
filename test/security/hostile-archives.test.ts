/**
 * Hostile snapshot archives given to `--root X.tar.gz`: gzip bombs (one huge entry, endless padding, very
 * many entries), entries with ".." or absolute names, symbolic and hard links that lead out of the archive
 * (and a file written "through" such a link), device and FIFO entries, garbage and truncated data. Each
 * must be refused with a clear `vfioctl: ...` error and a `remedy:` before anything of it is used; nothing
 * is written outside the private unpack directory (an outside sentinel stays byte-identical) and the unpack
 * directory is removed. The archives are built here byte by byte (ustar headers), so they are exactly as
 * hostile as described. The last test prints how many archives were tried.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { runCli, type CliRun } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';

const counts = { archives: 0, refused: 0 };
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-archives-'));
cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
const outside = path.join(work, 'outside');
fs.mkdirSync(outside);
fs.writeFileSync(path.join(outside, 'precious'), 'precious\n', { mode: 0o600 });

function fingerprint(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)}`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(fs.readFileSync(p).toString('base64'));
      else if (st.isSymbolicLink()) out.push(fs.readlinkSync(p));
    }
  };
  walk(dir);
  return out.join('\n');
}

type EntryType = '0' | '1' | '2' | '3' | '4' | '5' | '6';
interface Entry {
  name: string;
  type?: EntryType;
  data?: Buffer | string;
  /** declared size (defaults to the data's) */
  size?: number;
  link?: string;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** One ustar header block. */
function header(e: Entry): Buffer {
  const h = Buffer.alloc(512);
  const size = e.size ?? (e.data === undefined ? 0 : Buffer.byteLength(e.data));
  h.write(e.name.slice(0, 100), 0, 'latin1');
  h.write(octal(e.type === '5' ? 0o755 : 0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.link) h.write(e.link.slice(0, 100), 157, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  if (e.type === '3' || e.type === '4') {
    h.write(octal(1, 8), 329, 'latin1');
    h.write(octal(5, 8), 337, 'latin1');
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    if (e.data !== undefined) {
      const d = Buffer.from(e.data);
      parts.push(d, Buffer.alloc((512 - (d.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A tiny valid capture's entries (a real snapshot of a small tree is used for the valid case). */
const BASE: Entry[] = [
  { name: 'sys/', type: '5' },
  { name: 'sys/bus/', type: '5' },
  { name: 'vfioctl-snapshot.json', data: '{"format":"vfioctl-snapshot","version":1}\n' },
];

function write(name: string, gz: Buffer): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, gz);
  return p;
}

/** gzip of a tar header followed by `zeros` zero bytes (a bomb: tiny file, huge content), streamed. */
async function bomb(name: string, head: Buffer, zeros: number): Promise<string> {
  const file = path.join(work, name);
  function* content(): Generator<Buffer> {
    yield head;
    const z = Buffer.alloc(1024 * 1024);
    for (let left = zeros; left > 0; left -= z.length) yield left >= z.length ? z : z.subarray(0, left);
  }
  await pipeline(Readable.from(content()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
  return file;
}

const STACK = /\n\s+at .+[:(].*\d+:\d+/;

function leftovers(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('vfioctl-root-')).sort();
}

async function assertRefused(file: string, why: RegExp): Promise<CliRun> {
  counts.archives++;
  const before = fingerprint(outside);
  const tmpBefore = leftovers();
  const r = await runCli(['ls', '--root', file], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
  assert.notEqual(r.code, 0, `${path.basename(file)} was accepted:\n${r.stdout}`);
  assert.doesNotMatch(r.stdout + r.stderr, STACK, `${path.basename(file)}: a stack trace`);
  assert.match(r.stderr, /^vfioctl: cannot open .+\n\s+remedy: \S/, `${path.basename(file)}: ${r.stderr}`);
  assert.match(r.stderr, why, `${path.basename(file)}: ${r.stderr}`);
  assert.equal(fingerprint(outside), before, `${path.basename(file)}: the outside directory changed`);
  assert.deepEqual(leftovers(), tmpBefore, `${path.basename(file)}: the unpack directory was left behind`);
  const j = await runCli(['ls', '--json', '--root', file], { env: { VFIOCTL_PCI_IDS: '' } });
  assert.equal((j.json() as { error: { code: string; remedy: string } }).error.code, 'bad-snapshot');
  counts.refused++;
  return r;
}

describe('hostile archives: bombs', () => {
  it('one entry that expands to 700 MB (a 700 KB gzip) is refused on its header', async () => {
    const f = await bomb('one-huge.tar.gz', Buffer.concat([tarOf(BASE).subarray(0, -1024), header({ name: 'sys/huge', size: 700 * 1024 * 1024 })]), 700 * 1024 * 1024);
    assert.ok(fs.statSync(f).size < 1024 * 1024, 'a small file');
    await assertRefused(f, /expands to more than \d+ bytes/);
  });

  it('endless zero padding after the end of the archive is not inflated to the end', async () => {
    const f = await bomb('padding.tar.gz', tarOf(BASE), 700 * 1024 * 1024);
    // Either refused as a bomb, or opened after the end-of-archive blocks without inflating the rest.
    counts.archives++;
    const r = await runCli(['ls', '--root', f], { env: { NO_COLOR: '1', VFIOCTL_PCI_IDS: '' } });
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
    if (r.code !== 0) {
      assert.match(r.stderr, /^vfioctl: cannot open .+\n\s+remedy: /);
      counts.refused++;
    }
  });

  it('more entries than a snapshot can have is refused', async () => {
    const entries: Entry[] = [];
    for (let i = 0; i < 210_000; i++) entries.push({ name: `sys/d${i % 100}/f${i}`, data: '' });
    const f = write('many.tar.gz', zlib.gzipSync(tarOf(entries), { level: 1 }));
    await assertRefused(f, /more than \d+ entries/);
  });
});

describe('hostile archives: names and links that lead out', () => {
  const cases: [string, Entry[], RegExp][] = [
    ['dotdot', [...BASE, { name: '../../../../../../../../tmp/vfioctl-escape', data: 'x' }], /leads out of the archive|\.\./],
    ['dotdot-inner', [...BASE, { name: 'sys/../../escape', data: 'x' }], /leads out of the archive|\.\./],
    ['absolute', [...BASE, { name: `${outside}/precious`, data: 'overwritten' }], /absolute name/],
    ['symlink-absolute', [...BASE, { name: 'etc', type: '2', link: outside }], /is absolute/],
    ['symlink-relative-out', [...BASE, { name: 'sys/x', type: '2', link: '../../../../../../../../..' + outside }], /leads out of the archive/],
    ['symlink-then-file-through-it', [...BASE, { name: 'etc', type: '2', link: outside }, { name: 'etc/precious', data: 'overwritten' }], /is absolute/],
    ['relative-symlink-then-file', [...BASE, { name: 'sys/up', type: '2', link: '..' }, { name: 'sys/up/up2', type: '2', link: '..' }, { name: 'sys/up/up2/escape', data: 'x' }], /leads out of the archive|through symbolic link/],
    ['hardlink-out', [...BASE, { name: 'sys/passwd', type: '1', link: '/etc/passwd' }], /Link/],
    ['hardlink-inside', [...BASE, { name: 'sys/a', data: 'a' }, { name: 'sys/b', type: '1', link: 'sys/a' }], /Link/],
    ['char-device', [...BASE, { name: 'dev/zero', type: '3' }], /CharacterDevice/],
    ['block-device', [...BASE, { name: 'dev/sda', type: '4' }], /BlockDevice/],
    ['fifo', [...BASE, { name: 'sys/bus/pci/devices/0000:00:00.0/config', type: '6' }], /FIFO/],
  ];
  for (const [name, entries, why] of cases) {
    it(`${name} is refused`, async () => {
      await assertRefused(write(`${name}.tar.gz`, zlib.gzipSync(tarOf(entries))), why);
      assert.ok(!fs.existsSync('/tmp/vfioctl-escape') && !fs.existsSync(path.join(os.tmpdir(), 'escape')));
      assert.equal(fs.readFileSync(path.join(outside, 'precious'), 'utf8'), 'precious\n');
    });
  }
});

describe('hostile archives: not archives', () => {
  it('garbage, truncated gzip, a directory and a FIFO named .tar.gz are refused', async () => {
    const good = zlib.gzipSync(tarOf(BASE));
    await assertRefused(write('garbage.tar.gz', Buffer.from('this is not a gzip file at all, but long enough to be sniffed as something'.repeat(20))), /cannot open/);
    await assertRefused(write('truncated.tar.gz', good.subarray(0, Math.floor(good.length / 2))), /cannot open/);
    const dir = path.join(work, 'dir.tar.gz');
    fs.mkdirSync(dir);
    await assertRefused(dir, /not a regular file/);
    const fifo = path.join(work, 'named-pipe.tar.gz');
    const mk = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
    assert.equal(mk.status, 0, `mkfifo: ${mk.stderr}`);
    await assertRefused(fifo, /not a regular file/);
  });
});

describe('snapshot archives vfioctl writes', () => {
  it('are 0600, open again, and replay the same ls', async () => {
    const t = makeTempHostTree(SPEC);
    cleanups.push(t.cleanup);
    const out = path.join(work, 'mine.tar.gz');
    const s = await runCli(['snapshot', out, '--root', t.root], { env: { VFIOCTL_PCI_IDS: '' } });
    assert.equal(s.code, 0, s.stderr);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600, 'a capture holds host configuration: owner only');
    counts.archives++;
    const a = await runCli(['ls', '--json', '--root', t.root], { env: { VFIOCTL_PCI_IDS: '' } });
    const b = await runCli(['ls', '--json', '--root', out], { env: { VFIOCTL_PCI_IDS: '' } });
    assert.equal(b.code, 0, b.stderr);
    const strip = (j: Record<string, unknown>): unknown => ({ ...j, source: null });
    assert.deepEqual(strip(b.json()), strip(a.json()));
  });
});

describe('hostile archives: totals', () => {
  it('prints the number of hostile archives tried', () => {
    assert.ok(counts.archives > 0);
    console.log(`hostile-archives: ${counts.archives} archives tried, ${counts.refused} refused with a clear error`);
  });
});
