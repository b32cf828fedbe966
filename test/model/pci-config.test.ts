import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeConfigSpace, decodeHeaderIds } from '../../src/model/pci-config.js';

/** A config image written field by field from the PCI/PCIe specification's register layouts. */
function image(size: number): { buf: Buffer; w8(o: number, v: number): void; w16(o: number, v: number): void; w32(o: number, v: number): void } {
  const buf = Buffer.alloc(size);
  return {
    buf,
    w8: (o, v) => buf.writeUInt8(v, o),
    w16: (o, v) => buf.writeUInt16LE(v, o),
    w32: (o, v) => buf.writeUInt32LE(v >>> 0, o),
  };
}

function gpuImage(size = 4096): Buffer {
  return fullGpuImage(size > 0x100 ? size : 4096, size > 0x100).subarray(0, size);
}

function fullGpuImage(size: number, extended: boolean): Buffer {
  const x = image(size);
  x.w16(0, 0x10de); x.w16(2, 0x1b80); x.w16(6, 0x0010); // status: capabilities list
  x.w8(8, 0xa1); x.w8(9, 0x00); x.w8(0x0a, 0x00); x.w8(0x0b, 0x03); x.w8(0x0e, 0x80); // VGA, multifunction
  x.w8(0x34, 0x60);
  // PM at 0x60 -> MSI at 0x68 -> PCIe at 0x78 -> MSI-X at 0xb0 -> AF at 0xc0
  x.w8(0x60, 0x01); x.w8(0x61, 0x68); x.w16(0x62, 0x0603); x.w16(0x64, 0x0008);
  x.w8(0x68, 0x05); x.w8(0x69, 0x78); x.w16(0x6a, 0x0080 | 0x0100 | (2 << 1));
  x.w8(0x78, 0x10); x.w8(0x79, 0xb0); x.w16(0x7a, 0x0002 | (0 << 4)); x.w32(0x7c, 1 << 28);
  x.w32(0x84, 0x3 | (16 << 4)); x.w16(0x8a, 0x3 | (8 << 4)); // link cap 8GT/s x16, status 8GT/s x8
  x.w8(0xb0, 0x11); x.w8(0xb1, 0xc0); x.w16(0xb2, 0x8000 | 4);
  x.w8(0xc0, 0x13); x.w8(0xc1, 0x00); x.w8(0xc2, 6); x.w8(0xc3, 0x03);
  if (extended) {
    // AER 0x100 -> ReBAR 0x140 -> SR-IOV 0x180 -> ATS 0x1c0 -> ACS 0x1d0
    x.w32(0x100, 0x0001 | (1 << 16) | (0x140 << 20));
    x.w32(0x140, 0x0015 | (1 << 16) | (0x180 << 20));
    x.w32(0x144, (1 << 4) | (1 << 5) | (1 << 12) | (1 << 13)); // 1MB, 2MB, 256MB, 512MB
    x.w32(0x148, 0 | (1 << 5) | (8 << 8)); // BAR0, one resizable BAR, current 256MB
    x.w32(0x180, 0x0010 | (1 << 16) | (0x1c0 << 20));
    x.w16(0x188, 0x0011); x.w16(0x18c, 8); x.w16(0x18e, 64); x.w16(0x190, 4); x.w16(0x194, 0x80); x.w16(0x196, 2); x.w16(0x19a, 0x1b81);
    x.w32(0x1c0, 0x000f | (1 << 16) | (0x1d0 << 20));
    x.w16(0x1c4, 0x0020); x.w16(0x1c6, 0x8000);
    x.w32(0x1d0, 0x000d | (1 << 16) | (0 << 20));
    x.w16(0x1d4, 0x005f); x.w16(0x1d6, 0x001d);
  }
  return x.buf;
}

test('decodes the standard capability list', () => {
  const c = decodeConfigSpace(gpuImage());
  assert.deepEqual(c.list.filter((e) => !e.extended).map((e) => e.id), [0x01, 0x05, 0x10, 0x11, 0x13]);
  assert.deepEqual(c.pm, { version: 3, d1: true, d2: true, noSoftReset: true, powerState: 'D0' });
  assert.deepEqual(c.msi, { vectors: 4, addr64: true, maskable: true, enabled: false });
  assert.deepEqual(c.msix, { tableSize: 5, enabled: true });
  assert.equal(c.pcie?.portType, 'endpoint');
  assert.equal(c.pcie?.version, 2);
  assert.equal(c.pcie?.flr, true);
  assert.equal(c.pcie?.maxLinkSpeed, '8GT/s');
  assert.equal(c.pcie?.maxLinkWidth, 16);
  assert.equal(c.pcie?.linkWidth, 8);
  assert.deepEqual(c.af, { tp: true, flr: true });
  assert.equal(c.headerType, 0x80);
});

test('decodes the extended capability list', () => {
  const c = decodeConfigSpace(gpuImage());
  assert.equal(c.extendedReadable, true);
  assert.deepEqual(c.list.filter((e) => e.extended).map((e) => e.id), [0x0001, 0x0015, 0x0010, 0x000f, 0x000d]);
  assert.equal(c.aer, true);
  assert.deepEqual(c.rebar, { bars: [{ bar: 0, sizes: ['1MB', '2MB', '256MB', '512MB'], current: '256MB' }] });
  assert.deepEqual(c.sriov, { initialVfs: 8, totalVfs: 64, numVfs: 4, vfOffset: 0x80, vfStride: 2, vfDeviceId: '1b81', enabled: true, ariHierarchy: true });
  assert.deepEqual(c.ats, { queueDepth: 32, pageAligned: true, enabled: true });
  assert.deepEqual(c.acs?.capabilities, { sv: true, tb: true, rr: true, cr: true, uf: true, ec: false, dt: true });
  assert.deepEqual(c.acs?.control, { sv: true, tb: false, rr: true, cr: true, uf: true, ec: false, dt: false });
});

test('256-byte config (conventional or unprivileged+): standard list only, extended not readable', () => {
  const c = decodeConfigSpace(gpuImage(256));
  assert.equal(c.standardReadable, true);
  assert.equal(c.extendedReadable, false);
  assert.equal(c.pcie?.flr, true);
  assert.equal(c.acs, null);
  assert.equal(c.sriov, null);
});

test('64-byte config (non-root read): header only, nothing walked, no crash', () => {
  const c = decodeConfigSpace(gpuImage(64));
  assert.equal(c.standardReadable, false);
  assert.equal(c.extendedReadable, false);
  assert.equal(c.pcie, null);
  assert.equal(c.list.length, 0);
  assert.deepEqual(decodeHeaderIds(gpuImage(64)), { vendor: 0x10de, device: 0x1b80, classCode: 0x030000, revision: 0xa1 });
});

test('loops and wild pointers are reported, not followed forever', () => {
  const x = image(4096);
  x.w16(6, 0x10); x.w8(0x34, 0x40);
  x.w8(0x40, 0x01); x.w8(0x41, 0x50);
  x.w8(0x50, 0x05); x.w8(0x51, 0x40); // back to 0x40
  x.w32(0x100, 0x000d | (0x100 << 20)); // extended loop to itself
  const c = decodeConfigSpace(x.buf);
  assert.equal(c.list.length, 3);
  assert.ok(c.errors.some((e) => e.includes('loops at 0x40')));
  assert.ok(c.errors.some((e) => e.includes('extended capability list loops')));
  const y = image(256);
  y.w16(6, 0x10); y.w8(0x34, 0x10); // pointer into the header
  assert.ok(decodeConfigSpace(y.buf).errors.some((e) => e.includes('out of range')));
});

test('truncated header is an error value', () => {
  const c = decodeConfigSpace(Buffer.alloc(10));
  assert.equal(c.errors.length, 1);
  assert.equal(decodeHeaderIds(Buffer.alloc(10)), null);
});
