import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { parsePciIds } from '../../src/model/pci-ids.js';

/** An eager reading of the format, line by line, as the reference the lazy parser must agree with. */
function reference(text: string): { vendors: Map<string, string>; devices: Map<string, string>; subsystems: Map<string, string>; classes: Map<string, string>; subclasses: Map<string, string>; progifs: Map<string, string> } {
  const r = { vendors: new Map<string, string>(), devices: new Map<string, string>(), subsystems: new Map<string, string>(), classes: new Map<string, string>(), subclasses: new Map<string, string>(), progifs: new Map<string, string>() };
  let mode = 'other';
  let v = '';
  let d = '';
  let c = '';
  let s = '';
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    if (!line.startsWith('\t')) {
      if (line.startsWith('C ')) [mode, c] = ['class', line.slice(2, 4)];
      else if (/^[0-9a-f]{4} /.test(line)) [mode, v] = ['vendor', line.slice(0, 4)];
      else mode = 'other';
      if (mode === 'class') r.classes.set(c, line.slice(4).trim());
      if (mode === 'vendor') r.vendors.set(v, line.slice(4).trim());
      continue;
    }
    const two = line.startsWith('\t\t');
    const body = line.slice(two ? 2 : 1);
    if (mode === 'vendor') {
      if (!two) r.devices.set(`${v}:${(d = body.slice(0, 4))}`, body.slice(4).trim());
      else r.subsystems.set(`${v}:${d}:${body.slice(0, 4)}:${body.slice(5, 9)}`, body.slice(9).trim());
    } else if (mode === 'class') {
      if (!two) r.subclasses.set(`${c}:${(s = body.slice(0, 2))}`, body.slice(2).trim());
      else r.progifs.set(`${c}:${s}:${body.slice(0, 2)}`, body.slice(2).trim());
    }
  }
  return r;
}

const h = (x: string): number => parseInt(x, 16);

/** Compare every entry (every `step`-th device and subsystem: each is a search of its vendor's block). */
function agree(text: string, step = 1): number {
  const ids = parsePciIds(text, 'test');
  const r = reference(text);
  let n = 0;
  for (const [k, name] of r.vendors) {
    assert.equal(ids.vendor(h(k)), name, `vendor ${k}`);
    n++;
  }
  let i = 0;
  for (const [k, name] of r.devices) {
    if (i++ % step) continue;
    const [v, d] = k.split(':') as [string, string];
    assert.equal(ids.device(h(v), h(d)), name, `device ${k}`);
    n++;
  }
  for (const [k, name] of r.subsystems) {
    if (i++ % step) continue;
    const [v, d, sv, sd] = k.split(':') as [string, string, string, string];
    assert.equal(ids.subsystem(h(v), h(d), h(sv), h(sd)), name, `subsystem ${k}`);
    n++;
  }
  for (const [k, name] of r.classes) {
    assert.equal(ids.className(h(k)), name, `class ${k}`);
    n++;
  }
  for (const [k, name] of r.subclasses) {
    const [c, s] = k.split(':') as [string, string];
    assert.equal(ids.subclassName(h(c), h(s)), name, `subclass ${k}`);
    n++;
  }
  for (const [k, name] of r.progifs) {
    const [c, s, p] = k.split(':') as [string, string, string];
    assert.equal(ids.progIfName(h(c), h(s), h(p)), name, `prog-if ${k}`);
    n++;
  }
  return n;
}

const SAMPLE = [
  '# comment',
  '8086  Intel Corporation',
  '\t1521  I350 Gigabit Network Connection',
  '#\tcomment inside a vendor block',
  '\t\t8086 0001  Ethernet Server Adapter I350-T4',
  '',
  '\t1522  I350 Fiber',
  '10de  NVIDIA Corporation',
  '\t1b80  GP104 [GeForce GTX 1080]',
  '\t\t1043 8591  GeForce GTX 1080',
  'ffff  Illegal Vendor ID',
  'C 02  Network controller',
  '\t00  Ethernet controller',
  '\t80  Network controller',
  'C 0c  Serial bus controller',
  '\t03  USB controller',
  '\t\t30  XHCI',
  '\t\tfe  USB Device',
  'X 01  an unused section',
  '\t01  not a device',
  '1af4  Red Hat, Inc.',
  '\t1041  Virtio 1.0 network device',
].join('\n');

test('every vendor, device, subsystem, class, subclass and prog-if of a database agrees with a line-by-line reading', () => {
  assert.ok(agree(SAMPLE) >= 15);
  const ids = parsePciIds(SAMPLE);
  // a section that is neither vendors nor classes ends the block before it; the vendor after it is read
  assert.equal(ids.device(0x1af4, 0x1041), 'Virtio 1.0 network device');
  assert.equal(ids.device(0xffff, 0x0001), null);
  assert.equal(ids.subsystem(0x8086, 0x1521, 0x8086, 0x0001), 'Ethernet Server Adapter I350-T4');
  assert.equal(ids.subsystem(0x8086, 0x1522, 0x8086, 0x0001), null);
  assert.equal(ids.device(0x1234, 0x1111), null);
  assert.equal(ids.className(0x03), 'Display controller', 'fallback class name without a class line');
  assert.equal(ids.progIfName(0x0c, 0x03, 0x30), 'XHCI');
  // CRLF-free text without a final newline: the last line still counts
  assert.equal(parsePciIds('abcd  Last\n\t0001  Only device').device(0xabcd, 1), 'Only device');
});

const SYSTEM = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'].find((p) => fs.existsSync(p));
test('the system pci.ids reads the same lazily as line by line', { skip: SYSTEM ? false : 'no pci.ids on this machine (pciutils or hwdata)' }, () => {
  const n = agree(fs.readFileSync(SYSTEM!, 'utf8'), 41);
  assert.ok(n > 1500, `${n} entries compared`);
});

test('an ID is looked up only inside its own block: a device or subsystem another vendor or device lists is not borrowed', () => {
  const ids = parsePciIds(SAMPLE);
  assert.equal(ids.device(0x8086, 0x1b80), null, "NVIDIA's 1b80 is not an Intel device");
  assert.equal(ids.subsystem(0x8086, 0x1522, 0x1043, 0x8591), null, "a subsystem of NVIDIA's device is not one of Intel's 1522");
  assert.equal(ids.subsystem(0x10de, 0x1b80, 0x8086, 0x0001), null, "Intel's I350 subsystem is not one of NVIDIA's devices");
  assert.equal(ids.device(0x10de, 0x1041), null, "Red Hat's 1041, after an unrelated section, is not NVIDIA's");
});

test('text read one char per byte (Latin-1) gets its UTF-8 names back through decodeName, and ASCII names are left alone', () => {
  const utf8 = Buffer.from(['1234  Société Générale', '\t0001  Carte réseau 10 GbE', '\t\t1234 0002  Modèle ✓', '8086  Intel Corporation', 'C 02  Network controller'].join('\n'), 'utf8');
  const decoded: string[] = [];
  const ids = parsePciIds(utf8.toString('latin1'), 'test', {
    decodeName: (raw) => {
      decoded.push(raw);
      return Buffer.from(raw, 'latin1').toString('utf8');
    },
  });
  assert.equal(ids.vendor(0x1234), 'Société Générale');
  assert.equal(ids.device(0x1234, 1), 'Carte réseau 10 GbE');
  assert.equal(ids.subsystem(0x1234, 1, 0x1234, 2), 'Modèle ✓');
  assert.equal(ids.vendor(0x8086), 'Intel Corporation');
  assert.equal(ids.className(0x02), 'Network controller');
  assert.equal(decoded.length, 3, `only the non-ASCII names are decoded: ${decoded.join(' | ')}`);
});
