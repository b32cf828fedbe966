/**
 * Logical device mappings across hosts: a name (`gpu-a100`) for a class of device, with per node the
 * functions that carry it and what identifies each one (address, vendor:device, subsystem, serial where
 * the device has one, IOMMU group). `vfioctl mapping check` compares a node's entries with what the node
 * has now; `plan`/`render --mapping NAME` plan the functions the mapping names for this node.
 *
 * The file is data from someone else: it is validated (zod) and bounded before anything uses it.
 *
 *   apiVersion: vfioctl.io/v1
 *   kind: DeviceMappings
 *   mappings:
 *     gpu-a100:
 *       description: A100 80GB for the training VMs
 *       nodes:
 *         node-a:
 *           - address: "0000:41:00.0"
 *             id: "10de:20b5"
 *             subsystem: "10de:1533"
 *             serial: "00-11-22-ff-fe-33-44-55"   # PCIe Device Serial Number, when the device has one
 *             iommuGroup: 23
 */
import { z } from 'zod';
import { UsageError } from '../model/errors.js';
import { canonicalPciAddress, type PciAddressString } from '../model/pci-address.js';
import type { PciFunction, PciInventory } from '../model/pci-function.js';

const HEX4_PAIR = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/;
/** A mapping or node name: letters, digits, _ . - (at most 63), as node names and the files use them. */
export const MAPPING_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME = MAPPING_NAME;

const entrySchema = z.strictObject({
  address: z.string().max(32).refine((a) => canonicalPciAddress(a) !== null, 'not a PCI address (DDDD:BB:DD.F)'),
  id: z.string().regex(HEX4_PAIR, 'vendor:device, 4 hex digits each'),
  subsystem: z.string().regex(HEX4_PAIR, 'subsystem vendor:device, 4 hex digits each').optional(),
  serial: z.string().max(64).regex(/^[0-9a-fA-F-]+$/, 'hex digits and dashes').optional(),
  iommuGroup: z.number().int().min(0).max(1_000_000).optional(),
  /** the PCI path from the root bus (e.g. "pci0000:00/0000:00:01.0/0000:01:00.0"), when recorded */
  path: z.string().max(512).optional(),
});

const mappingSchema = z.strictObject({
  description: z.string().max(500).optional(),
  nodes: z.record(z.string().regex(NAME, 'a node name: letters, digits, _ . -'), z.array(entrySchema).max(256)),
});

const fileSchema = z.strictObject({
  apiVersion: z.literal('vfioctl.io/v1'),
  kind: z.literal('DeviceMappings'),
  mappings: z.record(z.string().regex(NAME, 'a mapping name: letters, digits, _ . - (at most 63)'), mappingSchema),
});

export type MappingEntry = z.infer<typeof entrySchema>;
export type DeviceMappings = z.infer<typeof fileSchema>;

/** Validate parsed YAML/JSON as a mappings file; errors name the field and say how to fix it. */
export function parseDeviceMappings(data: unknown, source: string): DeviceMappings {
  const r = fileSchema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? issue.path.join('.') : '(top level)';
  throw new UsageError('bad-mappings', `${source}: ${where}: ${issue.message}`, 'a mappings file has apiVersion: vfioctl.io/v1, kind: DeviceMappings and mappings: NAME: nodes: NODE: [ {address, id, subsystem?, serial?, iommuGroup?} ] (docs/fleet.md); `vfioctl mapping entry ADDR` prints an entry for this host');
}

export type EntryState = 'ok' | 'drift' | 'missing';

export interface EntryCheck {
  address: PciAddressString;
  state: EntryState;
  /** what differs: field, expected, found ("unknown" when the node cannot tell) */
  differences: { field: string; expected: string; found: string }[];
  /** fields the mapping names that this node could not read (not counted as drift) */
  unknown: string[];
}

export interface MappingCheck {
  mapping: string;
  node: string;
  /** the node has no entries in this mapping */
  absent: boolean;
  state: EntryState | 'absent';
  entries: EntryCheck[];
}

/** The serial number a function's config space gave (PCIe DSN), lowercase with dashes, or null. */
export type SerialOf = (f: PciFunction) => string | null | undefined;

function norm(s: string): string {
  return s.toLowerCase().replace(/[^0-9a-f]/g, '');
}

/** The entry this host would record for a function (mapping entry / create). */
export function entryOf(f: PciFunction, serialOf?: SerialOf): MappingEntry {
  const s = serialOf?.(f);
  const serial = s && /^[0-9a-fA-F-]+$/.test(s) ? s : null;
  return {
    address: f.address,
    id: `${f.vendorId}:${f.deviceId}`,
    ...(f.subsystemVendorId && f.subsystemDeviceId ? { subsystem: `${f.subsystemVendorId}:${f.subsystemDeviceId}` } : {}),
    ...(serial ? { serial } : {}),
    ...(f.iommuGroup !== null ? { iommuGroup: f.iommuGroup } : {}),
    ...(f.rootBus ? { path: [f.rootBus, ...f.parentChain, f.address].join('/') } : {}),
  };
}

/** Check one mapping's entries for `node` against this node's inventory. */
export function checkMapping(m: DeviceMappings, name: string, node: string, inv: PciInventory, serialOf?: SerialOf): MappingCheck {
  const mapping = m.mappings[name];
  if (!mapping) throw new UsageError('no-such-mapping', `no mapping ${JSON.stringify(name)} in the mappings file`, `the file names: ${Object.keys(m.mappings).join(', ') || '(none)'}`);
  const entries = mapping.nodes[node];
  if (!entries) return { mapping: name, node, absent: true, state: 'absent', entries: [] };
  const byAddr = new Map(inv.functions.map((f) => [f.address as string, f]));
  const checks: EntryCheck[] = entries.map((e) => {
    const address = canonicalPciAddress(e.address)!;
    const f = byAddr.get(address);
    if (!f) return { address, state: 'missing', differences: [{ field: 'address', expected: address, found: 'no such function' }], unknown: [] };
    const differences: EntryCheck['differences'] = [];
    const unknown: string[] = [];
    const have = entryOf(f, serialOf);
    if (norm(e.id) !== norm(have.id)) differences.push({ field: 'id', expected: e.id.toLowerCase(), found: have.id });
    if (e.subsystem !== undefined) {
      if (!have.subsystem) unknown.push('subsystem');
      else if (norm(e.subsystem) !== norm(have.subsystem)) differences.push({ field: 'subsystem', expected: e.subsystem.toLowerCase(), found: have.subsystem });
    }
    if (e.serial !== undefined) {
      const s = serialOf?.(f);
      if (s === undefined || s === null) unknown.push('serial');
      else if (norm(e.serial) !== norm(s)) differences.push({ field: 'serial', expected: e.serial, found: s });
    }
    if (e.iommuGroup !== undefined) {
      if (f.iommuGroup === null) unknown.push('iommuGroup');
      else if (e.iommuGroup !== f.iommuGroup) differences.push({ field: 'iommuGroup', expected: String(e.iommuGroup), found: String(f.iommuGroup) });
    }
    if (e.path !== undefined) {
      if (!have.path) unknown.push('path');
      else if (e.path !== have.path) differences.push({ field: 'path', expected: e.path, found: have.path });
    }
    return { address, state: differences.length ? 'drift' : 'ok', differences, unknown };
  });
  const state: EntryState = checks.some((c) => c.state === 'missing') ? 'missing' : checks.some((c) => c.state === 'drift') ? 'drift' : 'ok';
  return { mapping: name, node, absent: false, state, entries: checks };
}

/**
 * The addresses a mapping names on this node, refusing when the node's devices drifted (a plan on a
 * different card than the mapping means would pass through the wrong device).
 */
export function mappingAddresses(m: DeviceMappings, name: string, node: string, inv: PciInventory, serialOf?: SerialOf): PciAddressString[] {
  const c = checkMapping(m, name, node, inv, serialOf);
  if (c.absent) throw new UsageError('mapping-not-on-node', `mapping ${name} has no entries for node ${node}`, `add the node with \`vfioctl mapping entry ADDR\` on it, or name the node with --node (nodes in the file: ${Object.keys(m.mappings[name]!.nodes).join(', ') || '(none)'})`);
  const bad = c.entries.filter((e) => e.state !== 'ok');
  if (bad.length) {
    const what = bad.map((e) => `${e.address}: ${e.differences.map((d) => `${d.field} ${d.expected} -> ${d.found}`).join(', ')}`).join('; ');
    throw new UsageError('mapping-drift', `mapping ${name} on node ${node} does not match this host: ${what}`, '`vfioctl mapping check` shows the differences; update the mapping file (e.g. with `vfioctl mapping entry ADDR`) once you know the device is the right one');
  }
  return c.entries.map((e) => e.address);
}
