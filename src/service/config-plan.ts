/**
 * The selected steps of a change as the config plan the apply layer runs (src/apply/persist.ts
 * applyConfigPlan): files and commands from the steps' effects, state deltas from the plans they came
 * from. Light: no reader or writer is loaded for it.
 */
import type { HostRoot } from '../host/host-root.js';
import { formatArgv } from '../host/detect-boot.js';
import { sysfsWriteCommand } from '../model/shell-quote.js';
import type { ConfigPlan } from '../apply/persist.js';
import type { StateDelta } from '../apply/state.js';
import type { PlanStep, StepEffect } from '../model/plan.js';

/** A config plan's part that a step carries, and the state change that goes with it. */
export interface ConfigSource {
  /** step ids whose effects come from this config plan */
  steps: string[];
  plan: ConfigPlan;
}

function fileEffect(f: { rel: string; before: string | null; after: string | null }): StepEffect {
  return { type: 'file', path: `/${f.rel}`, rel: f.rel, before: f.before, after: f.after };
}

function commandEffect(c: ConfigPlan['commands'][number]): StepEffect {
  return { type: 'command', argv: [...c.argv], ...(c.undoArgv ? { undoArgv: [...c.undoArgv] } : {}), regenerate: c.regenerate, why: c.why };
}

export { fileEffect, commandEffect };

/** The human command line of a step, from its effects (null: nothing to run). */
export function effectCommand(effects: readonly StepEffect[]): string | undefined {
  const parts: string[] = [];
  for (const e of effects) {
    if (e.type === 'command') parts.push(formatArgv(e.argv));
    else if (e.type === 'sysfs-write') parts.push(sysfsWriteCommand(e.path, e.value));
  }
  return parts.length ? parts.join('; ') : undefined;
}

/** The config plan a set of selected steps carries out: files and commands from their effects, deltas from their sources. */
export function configPlanOf(command: string, args: string[], steps: readonly PlanStep[], sources: readonly ConfigSource[]): ConfigPlan {
  const ids = new Set(steps.map((s) => s.id));
  const files: ConfigPlan['files'] = [];
  const commands: ConfigPlan['commands'] = [];
  for (const s of steps) {
    for (const e of s.effects ?? []) {
      if (e.type === 'file') files.push({ rel: e.rel, before: e.before, after: e.after });
      else if (e.type === 'command') commands.push({ argv: e.argv, ...(e.undoArgv ? { undoArgv: e.undoArgv } : {}), regenerate: e.regenerate, why: e.why });
    }
  }
  const used = sources.filter((src) => src.steps.some((id) => ids.has(id)));
  const delta: StateDelta = {};
  for (const u of used) {
    if (u.plan.delta.persist) delta.persist = { ...(delta.persist ?? {}), ...u.plan.delta.persist };
    if (u.plan.delta.unpersist) delta.unpersist = [...(delta.unpersist ?? []), ...u.plan.delta.unpersist];
  }
  return {
    command,
    args,
    files,
    commands,
    delta,
    notes: [...new Set(used.flatMap((u) => u.plan.notes))],
    needsReboot: used.some((u) => u.plan.needsReboot) || steps.some((s) => s.needsReboot && (s.effects?.length ?? 0) > 0),
  };
}

/** A config plan presented as steps (for the host-level commands: enable/disable-iommu, unpersist, sriov persistence). */
export function stepsOfConfigPlan(_host: HostRoot, id: string, title: string, cp: ConfigPlan): PlanStep {
  const effects: StepEffect[] = [...cp.files.map((f) => fileEffect(f)), ...cp.commands.map(commandEffect)];
  const cmd = effectCommand(effects);
  return { id, title, kind: 'persistent', needsReboot: cp.needsReboot, ...(cmd ? { command: cmd } : {}), action: { type: 'config', command: cp.command }, effects };
}

