/**
 * Adapter tests: a synthetic host tree per boot loader (test/support/host-tree.ts), the adapter detection
 * picks for it, and a planned edit rendered for its golden file under test/golden/boot/adapters/.
 */
import { after } from 'node:test';
import { makeTempHostTree } from '../../support/host-tree.js';
import { HostRoot } from '../../../src/host/host-root.js';
import { detectBootTooling } from '../../../src/host/detect-boot.js';
import { bootLoaderAdapter, type BootEditPlan, type BootLoaderAdapter } from '../../../src/adapters/boot/index.js';
import { formatArgv } from '../../../src/model/command.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

export function bootHost(files: Record<string, string>): { host: HostRoot; adapter: BootLoaderAdapter } {
  const t = makeTempHostTree({ functions: [], files });
  cleanups.push(t.cleanup);
  const host = new HostRoot(t.root);
  return { host, adapter: bootLoaderAdapter(detectBootTooling(host)) };
}

/** A planned edit as text: each file's content after the edit, the commands with their undo, the notes. */
export function renderEdit(plan: BootEditPlan, host: HostRoot): string {
  const out: string[] = [`location: ${plan.location}`, `added: ${plan.added.join(' ') || '-'}`, `replaced: ${plan.replaced.map((r) => `${r.from} -> ${r.to}`).join(', ') || '-'}`];
  for (const f of plan.files) out.push(`--- ${f.rel} (${f.before === null ? 'new' : 'edited'})`, f.after ?? '(removed)');
  for (const c of plan.commands) out.push(`$ ${formatArgv(c.argv)}${c.undoArgv ? `   # undo: ${formatArgv(c.undoArgv)}` : ''}${c.regenerate ? '   # regenerate' : ''}`);
  for (const n of plan.notes) out.push(`note: ${n.split(host.root).join('ROOT')}`);
  return out.join('\n') + '\n';
}

export const EXE = '#!/bin/sh\nexit 0\n';
export const OS = (id: string, version: string, like = ''): string => `NAME="x"\nID=${id}\nVERSION_ID="${version}"\n${like ? `ID_LIKE="${like}"\n` : ''}`;
export const IOMMU = { set: ['intel_iommu=on', 'iommu=pt'] };
