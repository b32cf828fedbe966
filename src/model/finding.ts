/**
 * A Finding is how core/ reports anything a person should know: a readiness check, a plan blocker, a lint
 * result. Problems are values inside core/, never exceptions.
 */
export type Severity = 'ok' | 'info' | 'warn' | 'fail';

export interface Evidence {
  /** What was read: a root-relative file path, a command, or a named fact. */
  source: string;
  /** The value seen (trimmed), or a short description of it. */
  value: string;
}

export interface Finding {
  /** Stable machine id, kebab-case, e.g. "iommu-firmware-dmar" or "group-shared-endpoint". */
  id: string;
  severity: Severity;
  /** One line a person reads first. */
  summary: string;
  /** Longer explanation (optional). */
  detail?: string;
  evidence: Evidence[];
  /** What to do, pasteable where possible. Absent when there is nothing to do. */
  remedy?: string;
  /** Addresses this finding is about (canonical), when it concerns devices. */
  subjects?: string[];
  /** Grouping for human output, e.g. "cpu", "firmware", "kernel", "vfio", "security", "device". */
  category?: string;
  /**
   * The one fact this finding states, with its value, for findings that several commands make about the
   * same fact (e.g. { id: "kvm", value: "unavailable" }): doctor, check, plan and show never state two
   * values of one fact id.
   */
  fact?: { id: string; value: string };
}

const ORDER: Record<Severity, number> = { ok: 0, info: 1, warn: 2, fail: 3 };

export function worstSeverity(findings: readonly Pick<Finding, 'severity'>[]): Severity {
  let worst: Severity = 'ok';
  for (const f of findings) if (ORDER[f.severity] > ORDER[worst]) worst = f.severity;
  return worst;
}
