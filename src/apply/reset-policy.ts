/**
 * Reset policy: set a function's reset_method order now (journaled, verified, rolled back on failure) and
 * keep it at every boot (a udev rule vfioctl owns: etc/udev/rules.d/63-vfioctl-reset.rules, re-rendered
 * from state.json's `reset:ADDR` records).
 */
import type { HostRoot } from '../host/host-root.js';
import { hostCommand } from '../model/host-command.js';
import { VfioctlError } from '../model/errors.js';
import { requirePciAddress } from '../model/pci-address.js';
import { RESET_RULES_FILE, renderResetRules } from '../adapters/persist-render.js';
import { readConfigFile } from '../adapters/boot/common.js';
import { applyDelta, type HostState, type StateDelta } from './state.js';
import type { ApplyContext } from './run.js';
import type { ConfigPlan } from './persist.js';
import { loadRun as runner } from './run-loader.js';

/** reset_method as the kernel shows it now (space-separated names); null when the file is absent. */
export function readResetMethod(host: HostRoot, address: string): string | null {
  const dev = host.resolvePciDevice(requirePciAddress(address));
  if (dev.state !== 'ok') return null;
  const r = host.readAttrIn(dev.value.dir, 'reset_method');
  return r.state === 'ok' ? String(r.value).split(/\s+/).filter(Boolean).join(' ') : null;
}

/** Write `value` ("flr bus", "default") to reset_method under the journal; verify what the kernel shows. */
export async function applyResetMethod(ctx: ApplyContext, address: string, value: string): Promise<{ runId: string | null; before: string; after: string }> {
  const before = readResetMethod(ctx.host, address);
  if (before === null) throw new VfioctlError('no-reset-method', `${address} has no reset_method file (kernel before 5.15)`, { remedy: 'the reset order can be set only on kernel 5.15 or later' });
  if (value !== 'default' && before === value) return { runId: null, before, after: before };
  return (await runner()).execute(ctx, 'reset-policy set', [address, value], async (run) => {
    await run.step({ type: 'reset-method', address, before, after: value }, () => {
      ctx.sysfs.writePciAttr(requirePciAddress(address), 'reset_method', `${value}\n`);
    });
    const now = readResetMethod(ctx.host, address) ?? '';
    if (value !== 'default' && now !== value) {
      throw new VfioctlError('reset-method-verify', `${address} shows reset_method "${now}" after "${value}" was written`, { remedy: 'check `dmesg`; the kernel refuses methods the device does not offer' });
    }
    return { runId: run.journal.runId, before, after: now };
  });
}

/** The udev rule keeping reset orders at boot: the change for one address (order null: forget it). */
export function planResetPersist(host: HostRoot, state: HostState, address: string, order: string[] | null, runId: string): ConfigPlan {
  const key = `reset:${address}`;
  const delta: StateDelta = order === null
    ? (state.persisted[key] ? { unpersist: [key] } : {})
    : { persist: { [key]: { mode: 'reset-method', addresses: [address], ids: [], created: [], edits: [], resetOrder: order, runId, at: new Date().toISOString() } } };
  const next = applyDelta(state, delta);
  const entries = Object.values(next.persisted).filter((r) => r.mode === 'reset-method' && r.resetOrder?.length).map((r) => ({ address: r.addresses[0]!, order: r.resetOrder! }));
  const after = renderResetRules(entries);
  const before = readConfigFile(host, RESET_RULES_FILE);
  const files = before === after ? [] : [{ rel: RESET_RULES_FILE, before, after }];
  return {
    command: 'reset-policy persist',
    args: [address, ...(order ?? ['default'])],
    files,
    commands: files.length ? [{ argv: hostCommand.udevReload(), regenerate: false, why: 'udev reads the new rules' }] : [],
    delta,
    notes: order?.includes('device_specific') ? ['device_specific works only while the module providing it (vendor-reset) is loaded before the device appears: list it in /etc/modules-load.d/'] : [],
    needsReboot: false,
  };
}
