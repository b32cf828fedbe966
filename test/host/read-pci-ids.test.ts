import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { HostRoot } from '../../src/host/host-root.js';
import { readPciIds } from '../../src/host/read-pci-ids.js';

function tree(files: Record<string, Buffer>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-pci-ids-'));
  for (const [rel, buf] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), buf);
  }
  return root;
}

const DB = Buffer.from(['# a database with UTF-8 names', '1d17  Zhaoxin', '1e49  Yangtze Memory Technologies Co.,Ltd', 'abcd  Ünïcödé Devices GmbH', '\t0001  Contrôleur « rapide »', '\t\tabcd 0002  Édition spéciale', 'C 01  Mass storage controller', '\t08  Non-Volatile memory controller'].join('\n'), 'utf8');

test("a tree's own pci.ids (plain or gzip) is read from its bytes with UTF-8 names intact", (t) => {
  const saved = process.env.VFIOCTL_PCI_IDS;
  delete process.env.VFIOCTL_PCI_IDS;
  t.after(() => {
    if (saved !== undefined) process.env.VFIOCTL_PCI_IDS = saved;
  });
  for (const [rel, buf] of [['usr/share/misc/pci.ids', DB], ['usr/share/hwdata/pci.ids.gz', gzipSync(DB)]] as const) {
    const root = tree({ [rel]: buf });
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const ids = readPciIds(new HostRoot(root));
    assert.match(ids.source ?? '', new RegExp(`${rel.replace(/\./g, '\\.')}$`));
    assert.equal(ids.vendor(0xabcd), 'Ünïcödé Devices GmbH', rel);
    assert.equal(ids.device(0xabcd, 1), 'Contrôleur « rapide »', rel);
    assert.equal(ids.subsystem(0xabcd, 1, 0xabcd, 2), 'Édition spéciale', rel);
    assert.equal(ids.vendor(0x1e49), 'Yangtze Memory Technologies Co.,Ltd', rel);
    assert.equal(ids.subclassName(0x01, 0x08), 'Non-Volatile memory controller', rel);
  }
});
