/**
 * Hostile names in every generated artefact: guest names (and other words that reach generated text)
 * made of quotes, `$()`, backquotes, newlines, `;`, `${IFS}`, a leading `-`, unicode, ESC/OSC sequences.
 * - the quoting helper: every word round-trips exactly through `sh -c 'printf ...' WORDS`, run in an empty
 *   temp dir that must stay empty (nothing the word says is executed);
 * - the rendered shell scripts (virsh, virt-install, qemu, host-config) pass `bash -n`, and run with fake
 *   `virsh`/`virt-install`/`qemu-system-x86_64` on PATH they hand each program exactly the intended argv;
 * - `attach --dry-run`'s virsh commands (describeCommands) run the same way;
 * - libvirt XML stays well-formed with the name only where it belongs; KubeVirt YAML reads back the name;
 * - udev rules / units refuse values that could break out of their quoting;
 * - human CLI output shows control characters escaped (a single sanitising point), JSON stays exact.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DOMParser } from '@xmldom/xmldom';
import { shellQuote, shellJoin, shellComment, heredoc, escapeControl } from '../../src/model/shell-quote.js';
import { formatArgv } from '../../src/model/command.js';
import { renderVirsh, renderVirtInstall, renderQemu, renderLibvirt, renderLibvirtDomain, renderKubevirt, renderHostConfig } from '../../src/adapters/render/index.js';
import { describeCommands } from '../../src/adapters/libvirt/guests.js';
import { renderUdevRules, renderBindUnit, assertRuleValue } from '../../src/adapters/persist-render.js';
import { sanitizeTerminal, toJson } from '../../src/cli/output.js';
import { runCli } from '../support/cli.js';
import { desktopPlan, debianBoot, fedoraBoot } from '../adapters/render/fixtures.js';

const HOSTILE: string[] = [
  'x;touch${IFS}P;#',
  "it's",
  '"double"',
  "'$(touch P)'",
  '$(touch P)',
  '`touch P`',
  '${IFS}touch${IFS}P',
  'a\ntouch P',
  'a\rtouch P',
  'line1\n#!/bin/sh\ntouch P\n',
  '; touch P',
  '&& touch P',
  '| touch P',
  '> P',
  '< /etc/passwd',
  '-rf',
  '--name=evil',
  '-',
  '--',
  'EOF',
  'EOF\ntouch P\nEOF',
  '~',
  '~root',
  '*',
  '?',
  '[a-z]',
  '!',
  '!!',
  '#',
  '# comment',
  '\\',
  '\\n',
  'a b',
  ' leading',
  'trailing ',
  '\t',
  'x\x00y'.replace('\x00', ''),
  '%s%n',
  'gäst',
  '客人',
  '🖥️ guest',
  'evil\u202Etxt.exe',
  'zero\u200Bwidth',
  '\x1b]0;pwned\x07',
  '\x1b[2J\x1b[H',
  '\x1b[8mhidden',
  '\x1bP1$r\x1b\\',
  '\x9b31m',
  'del\x7f',
  'bell\x07',
  '\xff\xfe latin1',
  '$((1+1))',
  '${PATH}',
  '$0',
  "'",
  "''",
  '"',
  '-->',
  '<!-- x -->',
  ']]>',
  "</name><name>x",
  '&amp;',
  'key: value',
  '{a: b}',
  '- item',
  'é\u0301',
  'UPPER lower 123 _.-',
];

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-hostile-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  console.log(`hostile-names: ${HOSTILE.length} hostile inputs, ${counts.words} word round trips through sh, ${counts.scripts} scripts checked with bash -n, ${counts.runs} scripts run with fake programs, ${counts.outputs} human outputs sanitised`);
});
const counts = { words: 0, scripts: 0, runs: 0, outputs: 0 };

/** A fake program that writes its argv, NUL-separated, to $ARGV_LOG (one record per call). */
function fakeBin(names: string[]): string {
  const bin = tmp();
  for (const n of names) {
    const p = path.join(bin, n);
    fs.writeFileSync(p, `#!/bin/sh\nprintf '%s\\0' "${n}" "$@" >> "$ARGV_LOG"\nprintf '\\n' >> "$ARGV_LOG"\n`);
    fs.chmodSync(p, 0o755);
  }
  return bin;
}

/** Run a script with sh in an empty dir, fake programs first on PATH; returns the argv of each call. */
function runScript(script: string, bin: string): { calls: string[][]; dir: string[]; path: string } {
  const dir = tmp();
  const log = path.join(dir, '..', `${path.basename(dir)}.argv`);
  fs.writeFileSync(log, '');
  tmpDirs.push(log);
  execFileSync('sh', ['-c', script], { cwd: dir, env: { PATH: `${bin}:/usr/bin:/bin`, ARGV_LOG: log, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  counts.runs++;
  const calls = fs.readFileSync(log, 'latin1').split('\0\n').filter((r) => r.length).map((r) => r.split('\0'));
  return { calls, dir: fs.readdirSync(dir), path: dir };
}

function bashN(script: string): void {
  execFileSync('bash', ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
  counts.scripts++;
}

describe(`shell quoting helper (${HOSTILE.length} hostile words)`, () => {
  it('every word round-trips exactly through sh, one at a time and all together, and nothing runs', () => {
    const dir = tmp();
    for (const w of HOSTILE) {
      const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellQuote(w)}`], { cwd: dir, encoding: 'latin1' });
      // sh receives the script as UTF-8 bytes; compare in the same encoding
      assert.equal(Buffer.from(out, 'latin1').toString('utf8'), `${w}\0`, JSON.stringify(w));
      counts.words++;
    }
    const all = execFileSync('sh', ['-c', `printf '%s\\0' ${shellJoin(HOSTILE)}`], { cwd: dir });
    assert.deepEqual(all.toString('utf8').split('\0').slice(0, -1), HOSTILE);
    counts.words += HOSTILE.length;
    assert.deepEqual(fs.readdirSync(dir), [], 'no word was executed');
  });
  it('formatArgv is the same helper', () => {
    for (const w of HOSTILE) assert.equal(formatArgv(['virsh', w]), `virsh ${shellQuote(w)}`);
  });
  it('safe words stay bare, the empty word is quoted', () => {
    assert.equal(shellQuote('pci_0000_01_00_0'), 'pci_0000_01_00_0');
    assert.equal(shellQuote('--update-kernel=ALL'), '--update-kernel=ALL');
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
  });
  it('comments and heredocs cannot be ended by the text', () => {
    for (const w of HOSTILE) {
      const c = `# ${shellComment(w)}`;
      assert.ok(!/[\n\r]/.test(c), JSON.stringify(c));
      const doc = heredoc('cat > f', w);
      const delim = doc[doc.length - 1]!;
      assert.ok(!doc.slice(1, -1).includes(delim), `delimiter ${delim} occurs in the body`);
    }
  });
});

describe('rendered scripts with a hostile guest name', () => {
  const bin = fakeBin(['virsh', 'virt-install', 'qemu-system-x86_64']);
  for (const guest of HOSTILE) {
    it(`virsh + virt-install: ${JSON.stringify(guest)}`, () => {
      const plan = desktopPlan({ guest });
      // virsh: heredocs write the files (real cat), every attach-device names exactly this guest
      const virsh = renderVirsh(plan);
      bashN(virsh);
      const catBin = fakeBin(['virsh']);
      const v = runScript(virsh, catBin);
      const attach = v.calls.filter((c) => c[1] === 'attach-device');
      assert.ok(attach.length >= 2);
      for (const c of attach) {
        const domain = c[2] === '--domain' ? c[3] : c[2];
        assert.equal(Buffer.from(domain!, 'latin1').toString('utf8'), guest);
      }
      assert.deepEqual(v.dir.filter((f) => !/\.xml$/.test(f)), [], 'only the XML files were written');
      for (const f of v.dir) assert.match(fs.readFileSync(path.join(v.path, f), 'utf8'), /^<(hostdev|controller) [^]*>\n$/, `${f} holds exactly the XML`);
      // virt-install: one call, --name (or --name=) is the guest
      const vi = renderVirtInstall(plan);
      bashN(vi);
      const r = runScript(vi, bin);
      assert.equal(r.calls.length, 1);
      const argv = r.calls[0]!.map((a) => Buffer.from(a, 'latin1').toString('utf8'));
      const k = argv.indexOf('--name');
      const name = k >= 0 ? argv[k + 1] : argv.find((a) => a.startsWith('--name='))!.slice('--name='.length);
      assert.equal(name, guest);
      assert.deepEqual(r.dir, [], 'nothing else ran');
    });
  }
  it(`qemu and host-config scripts with hostile words (${HOSTILE.length})`, () => {
    for (const w of HOSTILE) {
      const plan = desktopPlan({ guest: w });
      const hostile = { ...plan, features: { ...plan.features, kvmHidden: true, hypervVendorId: w } };
      const q = renderQemu(hostile, { accel: w });
      bashN(q);
      const r = runScript(q, bin);
      const argv = r.calls[0]!.map((a) => Buffer.from(a, 'latin1').toString('utf8'));
      assert.equal(argv[argv.indexOf('-machine') + 1], `q35,accel=${w}`);
      assert.ok(argv.includes(`host,kvm=off,hv-vendor-id=${w}`));
      assert.deepEqual(r.dir, []);
      for (const boot of [debianBoot, fedoraBoot]) bashN(renderHostConfig(hostile, boot));
    }
  });
});

describe('attach --dry-run commands (describeCommands) with hostile guest names and URIs', () => {
  const bin = fakeBin(['virsh']);
  it(`${HOSTILE.length} names run as exactly one virsh call per function with that guest`, () => {
    for (const guest of HOSTILE) {
      const set = {
        op: 'attach', guest, effects: { live: true, config: true },
        changes: [{ address: '0000:01:00.0' }, { address: '0000:01:00.1' }], reattach: ['0000:01:00.1'],
      } as unknown as Parameters<typeof describeCommands>[0];
      const cmds = describeCommands(set, `qemu+ssh://h/system?x=${guest}`);
      const script = cmds.join('\n');
      bashN(script);
      const r = runScript(script, bin);
      assert.equal(r.calls.length, 3);
      for (const c of r.calls.slice(0, 2)) {
        const a = c.map((x) => Buffer.from(x, 'latin1').toString('utf8'));
        assert.equal(a[2], `qemu+ssh://h/system?x=${guest}`);
        assert.equal(a[3], 'attach-device');
        assert.equal(a[4] === '--domain' ? a[5] : a[4], guest);
      }
      assert.deepEqual(r.dir, []);
    }
  });
});

describe('XML and YAML artefacts with hostile names', () => {
  const parse = (xml: string): ReturnType<DOMParser['parseFromString']> => {
    const errors: string[] = [];
    const doc = new DOMParser({ onError: (level: string, msg: string) => { if (level !== 'warning') errors.push(msg); } }).parseFromString(xml, 'text/xml');
    assert.deepEqual(errors, [], xml);
    return doc;
  };
  it(`libvirt fragments and domain stay well-formed; kubevirt reads back the name (${HOSTILE.length})`, () => {
    for (const guest of HOSTILE) {
      const plan = desktopPlan({ guest });
      const hostile = { ...plan, features: { ...plan.features, kvmHidden: true, hypervVendorId: guest } };
      const frag = parse(`<root>${renderLibvirt(hostile)}</root>`);
      assert.equal(frag.getElementsByTagName('hostdev').length, 2);
      assert.equal(frag.getElementsByTagName('name').length, 0, 'the name never becomes an element');
      // eslint-disable-next-line no-control-regex
      assert.equal(frag.getElementsByTagName('vendor_id')[0]!.getAttribute('value'), guest.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '\ufffd'));
      const dom = parse(renderLibvirtDomain(hostile));
      assert.equal(dom.getElementsByTagName('name').length, 1);
      const docs = parseAllDocuments(renderKubevirt(plan));
      const vmi = docs.map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } }).find((d) => d.kind === 'VirtualMachineInstance');
      assert.equal(vmi?.metadata?.name, guest);
    }
  });
});

describe('udev rules and units', () => {
  it('refuse values that could break out of their quoting', () => {
    let refused = 0;
    for (const w of HOSTILE) {
      // only letters, digits and _ . : - pass (they cannot end a quoted value or start an expansion)
      if (/^[A-Za-z0-9_.:-]+$/.test(w)) assert.equal(assertRuleValue(w, 'x'), w);
      else {
        assert.throws(() => assertRuleValue(w, 'x'), /could break out of its quoting/, JSON.stringify(w));
        refused++;
      }
    }
    assert.ok(refused >= HOSTILE.length - 5);
    assert.throws(() => renderUdevRules(['0000:01:00.0'], 'vfio-pci" RUN+="/bin/sh'), /could break out/);
    assert.match(renderUdevRules(['0000:01:00.0'])!, /KERNEL=="0000:01:00\.0", ATTR\{driver_override\}="vfio-pci"/);
    assert.match(renderBindUnit(['0000:01:00.0'])!, /for a in 0000:01:00\.0; do/);
  });
});

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('human output is sanitised in one place', () => {
  it(`sanitizeTerminal escapes control characters of ${HOSTILE.length} inputs and keeps vfioctl's own colours`, () => {
    for (const w of HOSTILE) {
      const s = sanitizeTerminal(`name: ${w}\n`);
      assert.ok(!RAW_CONTROL.test(s), JSON.stringify(s));
      counts.outputs++;
    }
    assert.equal(sanitizeTerminal('\x1b[31mred\x1b[39m\tok\n'), '\x1b[31mred\x1b[39m\tok\n');
    assert.equal(sanitizeTerminal('\x1b]0;pwned\x07'), '\\e]0;pwned\\x07');
    assert.equal(sanitizeTerminal('\x1b[8mhidden'), '\\e[8mhidden');
    assert.equal(escapeControl('a\nb'), 'a\\nb');
  });
  it('JSON keeps the exact value and no raw C1/DEL byte', () => {
    for (const w of HOSTILE) {
      const j = toJson({ w });
      assert.equal((JSON.parse(j) as { w: string }).w, w);
      assert.ok(!RAW_CONTROL.test(j.replace(/\n/g, '')), JSON.stringify(j));
    }
  });
  it('CLI: render with a hostile --guest and a listing with escapes in its names print no raw control characters', async () => {
    for (const guest of ['x;touch${IFS}P;#', '\x1b]0;pwned\x07', 'a\x9b2Jb']) {
      for (const fmt of ['virsh', 'virt-install', 'libvirt']) {
        const r = await runCli(['--sample-host', 'desktop-gpu', 'render', fmt, '01:00.0', '--guest', guest, '--force']);
        assert.ok(!RAW_CONTROL.test(r.stdout + r.stderr), JSON.stringify(r.stdout));
        counts.outputs++;
      }
    }
    const r = await runCli(['--sample-host', 'desktop-gpu', 'render', 'virt-install', '01:00.0', '--guest', 'x;touch${IFS}P;#', '--force']);
    assert.match(r.stdout, /--name 'x;touch\$\{IFS\}P;#'/);
    const dir = tmp();
    const file = path.join(dir, 'groups.txt');
    fs.writeFileSync(file, 'IOMMU Group 1 01:00.0 VGA compatible controller [0300]: NVIDIA \x1b]0;owned\x07Corporation \x1b[2J GP104 [10de:1b80] (rev a1)\n');
    for (const cmd of [['ls'], ['groups']]) {
      const out = await runCli([...cmd, '--from', file], { env: { NO_COLOR: '1' } });
      assert.equal(out.code, 0, out.stderr);
      assert.ok(!RAW_CONTROL.test(out.stdout + out.stderr), JSON.stringify(out.stdout));
      counts.outputs++;
    }
  });
});
