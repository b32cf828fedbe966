import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parsePciIds } from '../../src/model/pci-ids.js';

const SAMPLE = [
  '# comment line',
  '10de  NVIDIA Corporation',
  '\t1b80  GP104 [GeForce GTX 1080]',
  '\t\t1458 3702  GeForce GTX 1080 G1 Gaming',
  '# a comment inside a block',
  '\t10f0  GP104 High Definition Audio Controller',
  '',
  '8086  Intel Corporation',
  '\t1521  I350 Gigabit Network Connection',
  '\t\t8086 0001  Ethernet Server Adapter I350-T4',
  'X  an unknown top-level section',
  '\tffff  not a device of 8086',
  '10de  NVIDIA Corporation (listed again)',
  '\t1b80  GP104 [GeForce GTX 1080], second listing',
  'C 03  Display controller',
  '\t00  VGA compatible controller',
  '\t\t00  VGA controller',
  '\t02  3D controller',
  'C 0c  Serial bus controller',
  '\t03  USB controller',
  '\t\t30  XHCI',
  '',
].join('\n');

test('pci.ids lookups: vendors, devices, subsystems, classes; the last listing wins; comments and other sections skipped', () => {
  const ids = parsePciIds(SAMPLE, 'sample');
  assert.equal(ids.source, 'sample');
  assert.equal(ids.vendor(0x10de), 'NVIDIA Corporation (listed again)');
  assert.equal(ids.device(0x10de, 0x1b80), 'GP104 [GeForce GTX 1080], second listing');
  assert.equal(ids.device(0x10de, 0x10f0), 'GP104 High Definition Audio Controller', 'a device of the first listing stays');
  assert.equal(ids.subsystem(0x10de, 0x1b80, 0x1458, 0x3702), 'GeForce GTX 1080 G1 Gaming');
  assert.equal(ids.subsystem(0x8086, 0x1521, 0x8086, 0x0001), 'Ethernet Server Adapter I350-T4');
  assert.equal(ids.device(0x8086, 0xffff), null, 'lines under another section are not devices of the vendor before it');
  assert.equal(ids.vendor(0x1234), null);
  assert.equal(ids.device(0x1234, 0x1111), null);
  assert.equal(ids.className(0x03), 'Display controller');
  assert.equal(ids.subclassName(0x03, 0x02), '3D controller');
  assert.equal(ids.progIfName(0x03, 0x00, 0x00), 'VGA controller');
  assert.equal(ids.progIfName(0x0c, 0x03, 0x30), 'XHCI');
  assert.equal(ids.className(0x02), 'Network controller', 'top-level class names fall back to the built-in list');
  assert.equal(ids.subclassName(0x02, 0x00), null);
});

test('pci.ids with CRLF line ends reads the same names (trimmed)', () => {
  const ids = parsePciIds(SAMPLE.replace(/\n/g, '\r\n'));
  assert.equal(ids.vendor(0x8086), 'Intel Corporation');
  assert.equal(ids.device(0x8086, 0x1521), 'I350 Gigabit Network Connection');
  assert.equal(ids.subsystem(0x8086, 0x1521, 0x8086, 0x0001), 'Ethernet Server Adapter I350-T4');
  assert.equal(ids.progIfName(0x0c, 0x03, 0x30), 'XHCI');
});

/** A straightforward full parse of every line: the reference the lazy lookups must agree with. */
function fullParse(text: string) {
  const vendors = new Map<number, string>();
  const devices = new Map<string, string>();
  const subsystems = new Map<string, string>();
  const classes = new Map<number, string>();
  let mode = 'other';
  let v = -1;
  let d = -1;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    if (!line.startsWith('\t')) {
      if (line.startsWith('C ')) {
        mode = 'class';
        classes.set(parseInt(line.slice(2, 4), 16), line.slice(4).trim());
      } else if (/^[0-9a-f]{4} /.test(line)) {
        mode = 'vendor';
        v = parseInt(line.slice(0, 4), 16);
        vendors.set(v, line.slice(4).trim());
      } else mode = 'other';
    } else if (mode === 'vendor' && !line.startsWith('\t\t')) {
      d = parseInt(line.slice(1, 5), 16);
      devices.set(`${v}:${d}`, line.slice(5).trim());
    } else if (mode === 'vendor') {
      subsystems.set(`${v}:${d}:${line.slice(2, 6)}:${line.slice(7, 11)}`, line.slice(11).trim());
    }
  }
  return { vendors, devices, subsystems, classes };
}

const SYSTEM_IDS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'].find((p) => existsSync(p));

test('the system pci.ids: every vendor, device, subsystem and class as a full parse reads it', { skip: SYSTEM_IDS ? false : 'no pci.ids on this machine (apt-get install pci.ids)' }, () => {
  const text = readFileSync(SYSTEM_IDS!, 'utf8');
  const ref = fullParse(text);
  const ids = parsePciIds(text);
  assert.ok(ref.vendors.size > 1000 && ref.devices.size > 10000, 'a real database');
  for (const [v, name] of ref.vendors) assert.equal(ids.vendor(v), name);
  for (const [k, name] of ref.devices) {
    const [v, d] = k.split(':').map(Number) as [number, number];
    assert.equal(ids.device(v, d), name, k);
  }
  for (const [k, name] of ref.subsystems) {
    const [v, d, sv, sd] = k.split(':') as [string, string, string, string];
    assert.equal(ids.subsystem(Number(v), Number(d), parseInt(sv, 16), parseInt(sd, 16)), name, k);
  }
  for (const [c, name] of ref.classes) assert.equal(ids.className(c), name);
});
