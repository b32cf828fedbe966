/**
 * Kernel driver and module names as vfioctl accepts them from people and from journals: what the kernel
 * names a directory under /sys/bus/pci/drivers (letters, digits, "_", "-", "."; not starting with "." or
 * "-"; at most 64 characters). Checked before anything touches the host.
 */
import { UsageError } from './errors.js';

export const DRIVER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function isDriverName(s: string): boolean {
  return DRIVER_NAME.test(s);
}

/** The `--to` of `vfioctl release`: a driver name, or "none" (no driver: null). */
export function parseDriverTarget(s: string): string | null {
  if (s === 'none') return null;
  if (!isDriverName(s)) {
    throw new UsageError('bad-driver', `--to ${JSON.stringify(s.slice(0, 80))} is not a driver name`, 'name a driver as it appears under /sys/bus/pci/drivers (e.g. --to e1000e), or --to none');
  }
  return s;
}
