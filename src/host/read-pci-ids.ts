/**
 * Find and load the pci.ids database: first inside the host root (a captured tree may carry its own),
 * then on the running system. Plain or gzip-compressed, at the paths pciutils and hwdata use.
 */
import { gunzipSync } from './lazy-builtins.js';
import { HostRoot } from './host-root.js';
import { readInputBytes } from './read-input.js';
import { type PciIds, parsePciIds, EMPTY_PCI_IDS } from '../model/pci-ids.js';
import { embeddedAsset } from './embedded.js';

/** The pci.ids copy a single executable embeds, used when neither the root nor the system has one. */
export const EMBEDDED_PCI_IDS = 'pci.ids.gz';

const CANDIDATES = [
  'usr/share/misc/pci.ids',
  'usr/share/hwdata/pci.ids',
  'usr/share/pci.ids',
  'usr/share/misc/pci.ids.gz',
  'usr/share/hwdata/pci.ids.gz',
  'usr/share/pci.ids.gz',
];

const cache = new Map<string, PciIds>();
/** pci.ids is about 1.5 MiB; a bigger file (or one that inflates past this) is not a pci.ids. */
const MAX_IDS_BYTES = 64 * 1024 * 1024;

export function readPciIds(host: HostRoot): PciIds {
  const env = process.env.VFIOCTL_PCI_IDS;
  const roots = env !== undefined ? [] : host.isLive ? [host] : [host, new HostRoot('/')];
  if (env !== undefined) {
    if (env === '') return EMPTY_PCI_IDS;
    // An explicit database file (tests and users with a custom copy), outside any host root.
    try {
      const buf = readInputBytes(env, MAX_IDS_BYTES);
      return fromBytes(env.endsWith('.gz') ? gunzipSync(buf, { maxOutputLength: MAX_IDS_BYTES }) : buf, env);
    } catch {
      return EMPTY_PCI_IDS;
    }
  }
  for (const h of roots) {
    for (const rel of CANDIDATES) {
      const ids = loadFile(h, rel);
      if (ids !== EMPTY_PCI_IDS) return ids;
    }
  }
  return embeddedPciIds();
}

let embeddedCache: PciIds | undefined;

/** The embedded fallback (single executable only); the empty database elsewhere. */
export function embeddedPciIds(): PciIds {
  if (embeddedCache) return embeddedCache;
  const buf = embeddedAsset(EMBEDDED_PCI_IDS);
  let ids = EMPTY_PCI_IDS;
  if (buf) {
    try {
      ids = fromBytes(gunzipSync(buf, { maxOutputLength: MAX_IDS_BYTES }), `(embedded) ${EMBEDDED_PCI_IDS}`);
    } catch {
      ids = EMPTY_PCI_IDS;
    }
  }
  embeddedCache = ids;
  return ids;
}

function loadFile(h: HostRoot, rel: string): PciIds {
  const display = h.display(rel);
  const hit = cache.get(display);
  if (hit) return hit;
  const r = h.readBytes(rel);
  if (r.state !== 'ok') return EMPTY_PCI_IDS;
  let buf = r.value;
  if (rel.endsWith('.gz')) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_IDS_BYTES });
    } catch {
      return EMPTY_PCI_IDS;
    }
  }
  const ids = fromBytes(buf, display);
  cache.set(display, ids);
  return ids;
}

/**
 * The file as Latin-1 text (one char per byte: a copy, no decoding), each name turned back from its UTF-8
 * bytes when it is looked up. Decoding all 1.4 MB as UTF-8 up front made a two-byte string and cost more
 * than every lookup of an inventory together (docs/performance.md).
 */
function fromBytes(buf: Buffer, source: string): PciIds {
  return parsePciIds(buf.toString('latin1'), source, { decodeName: (raw) => Buffer.from(raw, 'latin1').toString('utf8') });
}
