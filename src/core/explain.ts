/**
 * `vfioctl explain "<message>"`: map the error messages people meet around device assignment (kernel
 * log, QEMU, libvirt, KubeVirt, Proxmox, Xen, Windows Device Manager) to their cause, how to confirm it
 * and the fixes, citing this host's own facts when they are given. The messages are the catalogue in
 * src/core/explain-catalogue.ts. A paste of many lines is read line by line: each message is explained
 * once, in the order it first appears, with the line it matched; lines that match nothing are listed as
 * not recognised. Pure.
 */
import type { Evidence } from '../model/finding.js';
import type { HostFacts } from '../model/host-facts.js';
import type { PciInventory } from '../model/pci-function.js';
import { canonicalPciAddress } from '../model/pci-address.js';
import { type ExplainSource, FAMILIES, FOLLOW_UP_LINES, familyFacts } from './explain-catalogue.js';

export type { ExplainSource } from './explain-catalogue.js';

export interface Explanation {
  /** stable id of the message kind, e.g. "group-not-viable" */
  id: string;
  /** the message as usually printed */
  title: string;
  /** where the message comes from: kernel, qemu, libvirt, kubevirt, proxmox, xen, windows */
  source: ExplainSource;
  /** the part of the input that matched */
  matched: string;
  /** 1-based line of the input where it first matched */
  line: number;
  /** that line (trimmed, at most 300 characters) */
  lineText: string;
  /** every line where this message matched */
  lines: number[];
  cause: string;
  /** the fixes in one text (numbered, most often the answer first) */
  fix: string;
  /** the fixes, most often the answer first */
  fixes: string[];
  /** how to confirm the cause on this host: doctor finding ids, files and commands */
  confirm: string[];
  /** facts of this host that bear on it (empty when no host was read) */
  facts: Evidence[];
  /** doctor finding ids to look at */
  related: string[];
}

export interface ExplainResult {
  matches: Explanation[];
  /** non-empty lines no message matched (at most 50) */
  unrecognised: { line: number; text: string }[];
}

/** Lines read from a paste (a whole journal is cut here). */
export const EXPLAIN_MAX_LINES = 20000;
const UNRECOGNISED_MAX = 50;

/** PCI addresses named in a message, canonical. */
function addressesIn(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\b(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\b|\bpci_[0-9a-fA-F]{4}_[0-9a-fA-F]{2}_[0-9a-fA-F]{2}_[0-7]\b/g)) {
    const c = canonicalPciAddress(m[0]);
    if (c) out.add(c);
  }
  return [...out];
}

function shorten(s: string, n: number): string {
  // eslint-disable-next-line no-control-regex
  const t = s.trim().replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?');
  return t.length > n ? `${t.slice(0, n)}...` : t;
}

export function explainText(text: string, facts?: HostFacts, inventory?: PciInventory): ExplainResult {
  const byId = new Map<string, Explanation>();
  const order: Explanation[] = [];
  const unrecognised: ExplainResult['unrecognised'] = [];
  const lines = text.split(/\r\n|\n|\r/).slice(0, EXPLAIN_MAX_LINES);
  lines.forEach((raw, i) => {
    const line = raw.slice(0, 4000);
    if (!line.trim()) return;
    let hit = false;
    for (const fam of FAMILIES) {
      const m = fam.re.exec(line);
      if (!m) continue;
      hit = true;
      const seen = byId.get(fam.id);
      if (seen) {
        seen.lines.push(i + 1);
        continue;
      }
      const c = { m, text: line, facts, inventory, addresses: addressesIn(line) };
      const fixes = fam.fixes(c);
      const e: Explanation = {
        id: fam.id,
        title: fam.title,
        source: fam.source,
        matched: m[0],
        line: i + 1,
        lineText: shorten(line, 300),
        lines: [i + 1],
        cause: fam.cause(c),
        fix: fixes.length === 1 ? fixes[0]! : fixes.map((f, n) => `${n + 1}. ${f}`).join(' '),
        fixes,
        confirm: fam.confirm(c),
        facts: familyFacts(fam, c),
        related: fam.related,
      };
      byId.set(fam.id, e);
      order.push(e);
    }
    if (!hit && !FOLLOW_UP_LINES.some((r) => r.test(line)) && unrecognised.length < UNRECOGNISED_MAX) unrecognised.push({ line: i + 1, text: shorten(line, 200) });
  });
  return { matches: order, unrecognised };
}

/** The explanations of every known message in the text, in the order they appear. */
export function explainError(text: string, facts?: HostFacts, inventory?: PciInventory): Explanation[] {
  return explainText(text, facts, inventory).matches;
}

/** Every message kind explain knows (for `vfioctl explain --list` and the docs). */
export function knownMessages(): { id: string; title: string; source: ExplainSource }[] {
  return FAMILIES.map((p) => ({ id: p.id, title: p.title, source: p.source }));
}
