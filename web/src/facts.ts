// How a function's facts read to a person, honest about what was not read (unknown is not false).
import type { LsDocument } from './api.js';

export type Fn = LsDocument['functions'][number];

const unknown = (f: Fn, field: string): boolean => f.unknown.some((u) => u.fact === field || u.fact.startsWith(`${field}.`));

export function resetLabel(f: Fn): { text: string; kind: 'ok' | 'warn' | 'unknown' } {
  if (f.resetMethods && f.resetMethods.length) return { text: `reset: ${f.resetMethods.join(', ')}`, kind: f.resetMethods.some((m) => m === 'flr' || m === 'af_flr') ? 'ok' : 'warn' };
  if (unknown(f, 'resetMethods') && unknown(f, 'flr')) return { text: 'reset unknown', kind: 'unknown' };
  if (f.flr) return { text: 'reset: FLR', kind: 'ok' };
  if (unknown(f, 'flr')) return { text: 'reset unknown', kind: 'unknown' };
  return { text: 'no FLR', kind: 'warn' };
}

export function acsLabel(f: Fn): { text: string; kind: 'ok' | 'warn' | 'unknown' } | null {
  const acs = f.capabilities.acs;
  if (!acs) {
    if (unknown(f, 'capabilities.extended') || unknown(f, 'capabilities')) return f.isBridge ? { text: 'ACS unknown', kind: 'unknown' } : null;
    return f.isBridge ? { text: 'no ACS', kind: 'warn' } : null;
  }
  if (unknown(f, 'capabilities.details')) return { text: 'ACS (control unknown)', kind: 'unknown' };
  const c = acs.control;
  const on = c.sv && c.rr && c.cr && c.uf;
  return { text: on ? 'ACS on' : 'ACS partial', kind: on ? 'ok' : 'warn' };
}

export function sriovLabel(f: Fn): string | null {
  if (f.sriov) return `SR-IOV ${f.sriov.numVfs}/${f.sriov.totalVfs} VFs`;
  if (f.physfn) return `VF of ${f.physfn}`;
  return null;
}

export function shortName(name: string | null, fallback: string): string {
  if (!name) return fallback;
  return name.replace(/ \[[0-9a-f]{4}:[0-9a-f]{4}\]$/, '');
}

/** Functions directly behind each bridge (children whose nearest upstream bridge it is). */
export function behindIndex(fns: readonly Fn[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of fns) {
    const parent = f.parentChain[f.parentChain.length - 1];
    if (!parent) continue;
    const l = m.get(parent);
    if (l) l.push(f.address);
    else m.set(parent, [f.address]);
  }
  return m;
}
