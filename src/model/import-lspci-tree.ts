/**
 * `lspci -tv` (and -tvnn) trees: the topology, i.e. which bridge each function sits behind.
 *
 *   -[0000:00]-+-00.0  Host bridge name
 *              +-01.0-[01]--+-00.0  GPU name
 *              |            \-00.1  GPU audio name
 *              +-1c.0-[02]----00.0  NIC name
 *              \-1f.3  Audio name
 *
 * A `[dddd:bb]` opens a root bus, `XX.X-[bb]` or `XX.X-[bb-cc]` a bridge whose secondary bus is bb; the
 * children of a bus are a list whose `+-`/`\-` connectors stand in one column on the following lines, or
 * a single child after `----`. The tree carries no class codes, so it gives topology only: functions come
 * from the other forms in the paste.
 */
import { type PciAddressString, formatPciAddress } from './pci-address.js';

export interface TreeNode {
  address: PciAddressString;
  /** upstream bridges, root first */
  parentChain: PciAddressString[];
  /** e.g. "pci0000:00" */
  rootBus: string;
  /** the bridge opens a secondary bus (has -[bb]) */
  bridge: boolean;
}

interface BusCtx {
  domain: number;
  bus: number;
  parent: PciAddressString | null;
  chain: PciAddressString[];
  rootBus: string;
}

/** A line that can only be part of an lspci -t tree. */
export function isTreeLine(text: string): boolean {
  return /^[\s|]*(?:[+\\]-)*-?[+\\-]?-?\[[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}\]-/.test(text) || /^[\s|]*[+\\]-(?:[0-9a-fA-F]{2}\.[0-7]|\[[0-9a-fA-F]{4,8}:)/.test(text);
}

const TOKEN = /\[([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2})\]|\[([0-9a-fA-F]{2})(?:-([0-9a-fA-F]{2}))?\]|([+\\])-|([0-9a-fA-F]{2})\.([0-7])(?![0-9a-fA-F])|(\s)|([^-|])/g;

/** Reads tree lines one at a time; the columns of open child lists carry over between lines. */
export class LspciTreeReader {
  private lists = new Map<number, BusCtx>();

  /** Start a new tree (a new paste of lspci -t): forget the open lists. */
  reset(): void {
    this.lists.clear();
  }

  /** The functions on this line, or the reason it cannot be read. */
  readLine(text: string): { nodes: TreeNode[] } | { error: string } {
    const nodes: TreeNode[] = [];
    let opened: BusCtx | null = null;
    let ctx: BusCtx | null = null;
    let last: TreeNode | null = null;
    let topConnector: number | null = null;
    TOKEN.lastIndex = 0;
    for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
      if (m[1] !== undefined) {
        // [dddd:bb] root bus
        const domain = parseInt(m[1], 16);
        const bus = parseInt(m[2]!, 16);
        opened = { domain, bus, parent: null, chain: [], rootBus: `pci${m[1].toLowerCase()}:${m[2]!.toLowerCase()}` };
        ctx = null;
        last = null;
        topConnector = null;
      } else if (m[3] !== undefined) {
        if (!last) return { error: `bus [${m[3]}] follows no bridge` };
        opened = { domain: parseInt(last.address.slice(0, last.address.indexOf(':')), 16), bus: parseInt(m[3], 16), parent: last.address, chain: [...last.parentChain, last.address], rootBus: last.rootBus };
        last.bridge = true;
        ctx = null;
      } else if (m[5] !== undefined) {
        const col = m.index;
        if (opened) {
          this.lists.set(col, opened);
          ctx = opened;
          opened = null;
        } else {
          const l = this.lists.get(col);
          if (l) ctx = l;
          else topConnector = col; // -+-[0000:40]: a list of root buses, or a list whose opening line is missing
        }
      } else if (m[6] !== undefined) {
        const use: BusCtx | null = ctx ?? opened;
        if (!use) return { error: `no open bus at column ${topConnector ?? m.index} (the lines above it are missing or were re-indented)` };
        const address = formatPciAddress({ domain: use.domain, bus: use.bus, slot: parseInt(m[6], 16), fn: Number(m[7]) });
        if (parseInt(m[6], 16) > 0x1f) return { error: `slot ${m[6]} is out of range` };
        last = { address, parentChain: use.chain, rootBus: use.rootBus, bridge: false };
        nodes.push(last);
        ctx = null;
        opened = null;
        // what follows: -[bb] (a bridge), or the name
        const rest = text.slice(TOKEN.lastIndex);
        if (!/^-+\[/.test(rest)) break;
      } else if (m[8] !== undefined) {
        // spaces between connectors
        if (last && !opened) break;
      } else if (m[9] !== undefined) {
        return { error: `unexpected ${JSON.stringify(m[9])} in a tree line` };
      }
    }
    if (!nodes.length && !opened) return { error: 'no device in this tree line' };
    return { nodes };
  }
}
