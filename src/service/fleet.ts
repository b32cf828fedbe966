/**
 * Fleet integrations over the session: Node Feature Discovery labels, declared devices (bound at an
 * agent's start through the same plans, journal and refusals as `vfioctl bind`), device mappings across
 * nodes, and the Ansible module. Front ends (the agent loop in src/agent/, the CLI) call these.
 */
import * as os from 'node:os';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { readInputFile } from '../host/read-input.js';
import { readIdentity } from '../host/read-identity.js';
import { writeFileInRoot } from '../host/host-writer.js';
import { UsageError, VfioctlError } from '../model/errors.js';
import type { Finding } from '../model/finding.js';
import { canonicalPciAddress, type PciAddressString } from '../model/pci-address.js';
import type { PciFunction } from '../model/pci-function.js';
import { type BindOutcome, type NodeLabel, featureFileText, isVfioDriver, nodeLabels, parseFeatureFile } from '../core/node-labels.js';
import { type DeviceMappings, type MappingCheck, type SerialOf, MAPPING_NAME, checkMapping, mappingAddresses, parseDeviceMappings } from '../core/device-mapping.js';
import type { Session } from './session.js';

/** Where NFD's worker reads local feature files (root-relative). */
export const NFD_FEATURES_DIR = 'etc/kubernetes/node-feature-discovery/features.d';
export const FEATURE_FILE_NAME = 'vfioctl';

/**
 * The serial number of a function (PCIe Device Serial Number, 16 hex digits) as this host shows it:
 * "none" when the extended capabilities were read and there is none, null when they could not be read.
 */
export function serialReader(session: Session): SerialOf {
  const host = session.host();
  const cache = new Map<string, string | null>();
  return (f: PciFunction) => {
    if (!cache.has(f.address)) {
      const id = readIdentity(host, f);
      cache.set(f.address, id.serialKnown ? (id.serial ?? 'none') : null);
    }
    return cache.get(f.address)!;
  };
}

// ---------------------------------------------------------------------------------------------------
// node name

/** This node's name: NODE_NAME (the Kubernetes downward API), else the root's etc/hostname, else the running system's. */
export function nodeName(session: Session, env: Record<string, string | undefined> = session.env): string {
  if (env.NODE_NAME && MAPPING_NAME.test(env.NODE_NAME)) return env.NODE_NAME;
  const r = session.host().readText('etc/hostname');
  const fromFile = r.state === 'ok' ? r.value.trim().split(/\s/)[0] : '';
  if (fromFile && MAPPING_NAME.test(fromFile)) return fromFile;
  if (session.host().isLive) return os.hostname().split('.')[0]!;
  throw new UsageError('no-node-name', `cannot tell this node's name (${session.host().display('etc/hostname')} is absent or not a host name)`, 'name the node with --node NAME (or set NODE_NAME)');
}

// ---------------------------------------------------------------------------------------------------
// labels and the feature file

export interface NodeFeatures {
  version: 1;
  node: string | null;
  labels: NodeLabel[];
  /** the file's text as it is (or would be) written */
  text: string;
  dropped: { name: string; reason: string }[];
  expiry: string;
}

/** The labels of this node and the feature file that carries them. */
export async function nodeFeatures(session: Session, opts: { namespace?: string; binds?: BindOutcome | null; version?: string; expirySeconds?: number; now?: Date; node?: string | null } = {}): Promise<NodeFeatures> {
  const inventory = session.inventory();
  const sysfs = inventory.source.kind === 'sysfs';
  const doctor = sysfs ? await session.doctor({ libvirt: false }) : null;
  const facts = sysfs ? session.hostFacts() : null;
  const iommufd = sysfs ? session.host().exists('dev/iommu') : null;
  const labels = nodeLabels({
    inventory,
    facts,
    doctor: doctor ? { verdict: doctor.verdict, findings: doctor.findings } : null,
    iommufd,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.binds ? { binds: opts.binds } : {}),
    ...(opts.version ? { version: opts.version } : {}),
  });
  const now = opts.now ?? new Date();
  const expiry = new Date(now.getTime() + (opts.expirySeconds ?? 300) * 1000);
  const file = featureFileText(labels, { expiry, generatedAt: now, host: opts.node ?? session.host().root });
  return { version: 1, node: opts.node ?? null, labels, text: file.text, dropped: file.dropped, expiry: expiry.toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

export interface FeatureWrite {
  /** root-relative path written */
  rel: string;
  /** the labels differ from the file that was there (not only the expiry) */
  changed: boolean;
  previous: Record<string, string> | null;
}

/**
 * Write the feature file atomically inside the root (a dot-file in the same directory, then rename: NFD
 * ignores dot-files, so it never reads a partial file).
 */
export function writeFeatureFile(session: Session, text: string, dir: string = NFD_FEATURES_DIR, name: string = FEATURE_FILE_NAME): FeatureWrite {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$/.test(name)) throw new UsageError('bad-feature-file', `not a feature file name: ${JSON.stringify(name)}`, 'use letters, digits, _ . - (NFD ignores names starting with a dot)');
  session.assertMutable();
  const host = session.host();
  const rel = `${dir.replace(/^\/+|\/+$/g, '')}/${name}`;
  const before = host.readText(rel);
  const previous = before.state === 'ok' ? parseFeatureFile(before.value).labels : null;
  const next = parseFeatureFile(text).labels;
  const changed = !previous || JSON.stringify(Object.entries(previous).sort()) !== JSON.stringify(Object.entries(next).sort());
  const w = writeFileInRoot(host, rel, text, { mode: 0o644 });
  return { rel: w.rel, changed, previous };
}

// ---------------------------------------------------------------------------------------------------
// declared devices

const selectorSchema = z.union([
  z.strictObject({ address: z.string().max(32).refine((a) => canonicalPciAddress(a) !== null, 'not a PCI address') }),
  z.strictObject({ id: z.string().regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/, 'vendor:device, 4 hex digits each') }),
  z.strictObject({ mapping: z.string().regex(MAPPING_NAME, 'a mapping name') }),
]);

const nodeDevicesSchema = z.strictObject({
  apiVersion: z.literal('vfioctl.io/v1'),
  kind: z.literal('NodeDevices'),
  /** the mappings file that `mapping:` selectors refer to */
  mappings: z.string().max(4096).optional(),
  devices: z.array(selectorSchema).max(1024),
  /** keep whole cards together (default) or only the named functions */
  singleFunction: z.boolean().optional(),
});

export type NodeDevices = z.infer<typeof nodeDevicesSchema>;

/** Parse YAML or JSON text (bounded by the reader) into data; a syntax error is a usage error with the line. */
export function parseDataText(text: string, source: string): unknown {
  try {
    return parseYaml(text, { maxAliasCount: 100, prettyErrors: true });
  } catch (e) {
    throw new UsageError('bad-file', `${source}: not YAML or JSON: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, 'check the file with a YAML linter; JSON is YAML too');
  }
}

export function readNodeDevices(file: string): NodeDevices {
  const data = parseDataText(readInputFile(file), file);
  const r = nodeDevicesSchema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new UsageError('bad-devices-file', `${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`, 'a devices file has apiVersion: vfioctl.io/v1, kind: NodeDevices and devices: [ {address: ...} | {id: VVVV:DDDD} | {mapping: NAME} ] (docs/fleet.md)');
}

export function readMappings(file: string): DeviceMappings {
  return parseDeviceMappings(parseDataText(readInputFile(file), file), file);
}

export interface DeclaredEvent {
  /** Kubernetes event type */
  type: 'Normal' | 'Warning';
  reason: 'Bound' | 'AlreadyBound' | 'WouldBind' | 'BindRefused' | 'BindFailed' | 'NoMatch' | 'MappingDrift';
  message: string;
  addresses: string[];
  findings?: Pick<Finding, 'id' | 'severity' | 'summary' | 'remedy'>[];
}

export interface DeclaredResult {
  outcome: BindOutcome;
  events: DeclaredEvent[];
}

/** The addresses each selector names on this node (an ID names every function with it). */
export function resolveSelectors(session: Session, decl: NodeDevices, node: string, mappings: DeviceMappings | null): { sets: { selector: string; addresses: PciAddressString[] }[]; events: DeclaredEvent[] } {
  const inv = session.inventory();
  const sets: { selector: string; addresses: PciAddressString[] }[] = [];
  const events: DeclaredEvent[] = [];
  for (const s of decl.devices) {
    if ('address' in s) {
      const a = canonicalPciAddress(s.address)!;
      if (inv.functions.some((f) => f.address === a)) sets.push({ selector: `address ${a}`, addresses: [a] });
      else events.push({ type: 'Warning', reason: 'NoMatch', message: `no PCI function ${a} on this node`, addresses: [a] });
    } else if ('id' in s) {
      const [v, d] = s.id.toLowerCase().split(':');
      const addrs = inv.functions.filter((f) => f.vendorId === v && f.deviceId === d).map((f) => f.address);
      if (addrs.length) for (const a of addrs) sets.push({ selector: `id ${s.id.toLowerCase()}`, addresses: [a] });
      else events.push({ type: 'Normal', reason: 'NoMatch', message: `no function with ID ${s.id.toLowerCase()} on this node`, addresses: [] });
    } else {
      if (!mappings) throw new UsageError('no-mappings', `devices name mapping ${s.mapping} but no mappings file is given`, 'add `mappings: /path/to/mappings.yaml` to the devices file (or --mappings FILE)');
      try {
        sets.push({ selector: `mapping ${s.mapping}`, addresses: mappingAddresses(mappings, s.mapping, node, inv, serialReader(session)) });
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        events.push({ type: 'Warning', reason: e.code === 'mapping-drift' ? 'MappingDrift' : 'NoMatch', message: e.message, addresses: [] });
      }
    }
  }
  return { sets, events };
}

/**
 * Bind the declared devices (or, with dryRun, say what would be bound): each set through changeBind and
 * apply, so the group rules and host-impact blockers hold on a node as on the command line.
 */
export async function applyDeclared(session: Session, decl: NodeDevices, opts: { node: string; mappings: DeviceMappings | null; dryRun: boolean }): Promise<DeclaredResult> {
  const { sets, events } = resolveSelectors(session, decl, opts.node, opts.mappings);
  const outcome: BindOutcome = { status: 'none', bound: 0, refused: 0, failed: 0 };
  const done = new Set<string>();
  const summary = (fs: Finding[]) => fs.filter((f) => f.severity === 'fail' || f.severity === 'warn').map((f) => ({ id: f.id, severity: f.severity, summary: f.summary, ...(f.remedy ? { remedy: f.remedy } : {}) }));
  for (const set of sets) {
    const todo = set.addresses.filter((a) => !done.has(a));
    if (!todo.length) continue;
    const inv = session.inventory();
    if (todo.every((a) => isVfioDriver(inv.functions.find((f) => f.address === a)?.driver ?? null))) {
      for (const a of todo) done.add(a);
      events.push({ type: 'Normal', reason: 'AlreadyBound', message: `${set.selector}: ${todo.join(' ')} already on a vfio driver`, addresses: todo });
      outcome.bound += todo.length;
      continue;
    }
    const change = await session.changeBind({ addresses: todo, ...(decl.singleFunction ? { singleFunction: true } : {}) });
    for (const a of change.claim) done.add(a);
    if (change.verdict === 'blocked') {
      outcome.refused += change.claim.length;
      events.push({ type: 'Warning', reason: 'BindRefused', message: `${set.selector}: the plan for ${change.claim.join(' ')} is blocked; not bound`, addresses: change.claim, findings: summary(change.findings) });
      continue;
    }
    if (opts.dryRun) {
      events.push({ type: 'Normal', reason: 'WouldBind', message: `${set.selector}: would bind ${change.claim.join(' ')} (dry run)`, addresses: change.claim, findings: summary(change.findings) });
      continue;
    }
    try {
      const r = await session.apply(change);
      outcome.bound += change.claim.length;
      events.push({ type: 'Normal', reason: 'Bound', message: `${set.selector}: ${change.claim.join(' ')} on vfio-pci (run ${r.bind?.runId ?? '-'})`, addresses: change.claim });
    } catch (e) {
      if (!(e instanceof VfioctlError)) throw e;
      outcome.failed += change.claim.length;
      events.push({ type: 'Warning', reason: 'BindFailed', message: `${set.selector}: ${e.message}${e.remedy ? ` (${e.remedy})` : ''}`, addresses: change.claim });
    }
  }
  outcome.status = opts.dryRun ? 'dry-run' : outcome.failed ? 'failed' : outcome.refused ? 'refused' : sets.length ? 'ok' : 'none';
  return { outcome, events };
}

// ---------------------------------------------------------------------------------------------------
// mappings

export interface MappingCheckReport {
  version: 1;
  node: string;
  state: 'ok' | 'drift' | 'missing' | 'absent';
  mappings: MappingCheck[];
}

/** Check every mapping (or the named ones) for this node. */
export function mappingCheckReport(session: Session, m: DeviceMappings, node: string, names?: string[]): MappingCheckReport {
  const inv = session.inventory();
  const checks = (names?.length ? names : Object.keys(m.mappings)).map((n) => checkMapping(m, n, node, inv, serialReader(session)));
  const present = checks.filter((c) => !c.absent);
  const state = !present.length ? 'absent' : present.some((c) => c.state === 'missing') ? 'missing' : present.some((c) => c.state === 'drift') ? 'drift' : 'ok';
  return { version: 1, node, state, mappings: checks };
}
