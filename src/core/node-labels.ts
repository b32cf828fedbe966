/**
 * Node labels for Kubernetes (Node Feature Discovery's local feature source): what this node offers for
 * device passthrough, as `<namespace>/<name>=<value>` lines in a feature file.
 *
 * Pure: the labels come from the doctor's findings, the host facts and the inventory. Every label has
 * the reason it has its value, for the agent's log and for `agent --once --json`.
 *
 * Unknown is not false: a fact that was not read gives the value `unknown` (a selector on `=true` does not
 * match it, and neither does one on `=false`).
 *
 * File format (NFD customization guide, "Local feature source"): one `name[=value]` per line, `#`
 * comments, `# +expiry-time=RFC3339` directive, at most 64 KiB (a larger file is ignored by NFD), and the
 * writer must create it atomically (a dot-file renamed into place: NFD ignores dot-files).
 */
import type { Finding } from '../model/finding.js';
import type { HostFacts } from '../model/host-facts.js';
import type { PciFunction, PciInventory } from '../model/pci-function.js';
import { hostVendor, interruptRemappingState } from './doctor.js';

/** The namespace vfioctl's labels use unless told otherwise. */
export const DEFAULT_LABEL_NAMESPACE = 'vfioctl.io';

/** NFD ignores a feature file larger than this. */
export const FEATURE_FILE_LIMIT = 64 * 1024;

export interface NodeLabel {
  /** full label name, NAMESPACE/NAME */
  name: string;
  value: string;
  /** why it has this value (the finding or fact it came from) */
  why: string;
}

export interface BindOutcome {
  /** ok: every declared device is on its vfio driver; refused: a plan was blocked; failed: a bind failed */
  status: 'ok' | 'refused' | 'failed' | 'dry-run' | 'none';
  bound: number;
  refused: number;
  failed: number;
}

export interface NodeLabelInput {
  inventory: PciInventory;
  /** host facts (null: not read, e.g. an imported listing) */
  facts: HostFacts | null;
  /** the doctor's findings and verdict (null: not run) */
  doctor: { verdict: 'ready' | 'not-ready'; findings: Finding[] } | null;
  /** /dev/iommu present (the iommufd character device): null when not known */
  iommufd: boolean | null;
  namespace?: string;
  /** what the agent's declared binds did */
  binds?: BindOutcome | null;
  version?: string;
}

const NAME_PART = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const VALUE = /^(?:(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$/;
const NAMESPACE = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes label syntax: a DNS subdomain prefix, a name of at most 63 characters, a value of at most 63. */
export function validLabel(name: string, value: string): string | null {
  const slash = name.indexOf('/');
  if (slash <= 0) return 'a label name needs a namespace (NAMESPACE/NAME)';
  const ns = name.slice(0, slash);
  const part = name.slice(slash + 1);
  if (!NAMESPACE.test(ns)) return `namespace ${JSON.stringify(ns)} is not a DNS subdomain`;
  if (/(^|\.)(kubernetes\.io|k8s\.io)$/.test(ns) && !/(^|\.)(feature|profile)\.node\.kubernetes\.io$/.test(ns)) return `namespace ${ns} is reserved (NFD denies kubernetes.io and k8s.io)`;
  if (!NAME_PART.test(part)) return `name ${JSON.stringify(part)} is not 1-63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric`;
  if (!VALUE.test(value)) return `value ${JSON.stringify(value)} is not at most 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric`;
  return null;
}

/** The driver is vfio-pci or a VFIO variant driver (mlx5_vfio_pci, nvgrace_gpu_vfio_pci, ...). */
export function isVfioDriver(driver: string | null): boolean {
  return driver === 'vfio-pci' || driver === 'vfio_pci' || (!!driver && /_vfio_pci$/.test(driver));
}

/** Classes people pass through: storage, network, display, multimedia, serial bus (USB), accelerators, crypto, signal processing. */
function passthroughCandidate(f: PciFunction): boolean {
  const base = f.class.slice(0, 2);
  return ['01', '02', '03', '04', '0c', '10', '11', '12'].includes(base) && f.class.slice(0, 4) !== '0c05';
}

function idName(f: PciFunction): string {
  return `${f.vendorId}-${f.deviceId}`;
}

function findingValue(findings: readonly Finding[], id: string, map: Partial<Record<Finding['severity'], string>>): { value: string; why: string } | null {
  const f = findings.find((x) => x.id === id);
  if (!f) return null;
  const v = map[f.severity];
  return v === undefined ? null : { value: v, why: `doctor ${id}: ${f.summary}` };
}

/** The labels this node gets, sorted by name. */
export function nodeLabels(input: NodeLabelInput): NodeLabel[] {
  const ns = input.namespace ?? DEFAULT_LABEL_NAMESPACE;
  const out: NodeLabel[] = [];
  const add = (name: string, value: string, why: string) => out.push({ name: `${ns}/${name}`, value, why });
  const inv = input.inventory;
  const sysfs = inv.source.kind === 'sysfs';
  const findings = input.doctor?.findings ?? [];

  if (input.version) add('agent.version', input.version.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63), 'the version of the agent that wrote this file');
  if (input.doctor) add('ready', input.doctor.verdict === 'ready' ? 'true' : 'false', `doctor verdict: ${input.doctor.verdict}`);

  // the IOMMU: groups exist (the kernel's view), else the doctor's reason
  if (sysfs && inv.iommu.enabled) add('iommu', 'true', `${inv.iommu.groupCount} IOMMU groups in /sys/kernel/iommu_groups`);
  else {
    const d = findingValue(findings, 'iommu-kernel', { ok: 'true', fail: 'false', warn: 'false' });
    if (d) add('iommu', d.value, d.why);
    else add('iommu', sysfs ? 'false' : 'unknown', sysfs ? 'no IOMMU groups in /sys/kernel/iommu_groups' : `not read: ${inv.source.kind} listing`);
  }

  if (input.facts) {
    const units = input.facts.iommuUnits;
    const kinds = [...new Set(units.map((u) => u.kind))];
    if (kinds.length === 1) add('iommu.vendor', kinds[0]!, `IOMMU units: ${units.map((u) => u.name).join(' ')}`);
    else if (kinds.length > 1) add('iommu.vendor', 'mixed', `IOMMU units: ${units.map((u) => `${u.name} (${u.kind})`).join(' ')}`);
    else if (inv.iommu.enabled) add('iommu.vendor', 'unknown', 'IOMMU groups but no units in /sys/class/iommu');
    const ir = interruptRemappingState(input.facts, hostVendor(input.facts));
    add('interrupt-remapping', ir.state === 'enabled' ? 'true' : ir.state === 'unknown' ? 'unknown' : 'false', `interrupt remapping ${ir.state}: ${ir.why}`);
    add('kvm', input.facts.devKvm ? 'true' : 'false', input.facts.devKvm ? '/dev/kvm present' : 'no /dev/kvm');
  } else {
    for (const n of ['interrupt-remapping', 'kvm']) add(n, 'unknown', 'host facts not read');
  }
  const unsafe = findings.find((x) => x.id === 'interrupt-remapping' && /allow_unsafe_interrupts is set/.test(x.summary));
  if (unsafe) add('unsafe-interrupts', 'true', unsafe.summary);
  add('iommufd', input.iommufd === null ? 'unknown' : input.iommufd ? 'true' : 'false', input.iommufd === null ? '/dev/iommu not read' : input.iommufd ? '/dev/iommu present' : 'no /dev/iommu');

  // functions on vfio drivers, by vendor-device
  const onVfio = new Map<string, number>();
  for (const f of inv.functions) if (isVfioDriver(f.driver)) onVfio.set(idName(f), (onVfio.get(idName(f)) ?? 0) + 1);
  for (const [id, n] of [...onVfio].sort()) add(`vfio-pci.${id}`, String(n), `${n} function(s) ${id.replace('-', ':')} on a vfio driver`);

  // candidates by vendor-device: the worst isolation of their groups
  if (sysfs && inv.iommu.enabled) {
    const groups = new Map(inv.groups.map((g) => [g.id, g]));
    const rank = { isolated: 0, shared: 1, 'host-critical': 2, 'no-group': 3 } as const;
    type Iso = keyof typeof rank;
    const byId = new Map<string, { iso: Iso; why: string }>();
    for (const f of inv.functions) {
      if (!passthroughCandidate(f) || f.isBridge) continue;
      const g = f.iommuGroup === null ? undefined : groups.get(f.iommuGroup);
      const iso: Iso = !g ? 'no-group' : g.hostCritical.length ? 'host-critical' : g.isolation === 'isolated' ? 'isolated' : 'shared';
      const why = !g ? `${f.address} has no IOMMU group` : iso === 'host-critical' ? `${f.address}: group ${g.id} holds ${g.hostCritical.map((h) => `${h.address} (${h.reason})`).join(', ')}` : `${f.address}: group ${g.id} ${g.isolation}`;
      const prev = byId.get(idName(f));
      if (!prev || rank[iso] > rank[prev.iso]) byId.set(idName(f), { iso, why });
    }
    for (const [id, v] of [...byId].sort()) add(`candidate.${id}`, v.iso, v.why);
  }

  if (input.binds && input.binds.status !== 'none') {
    add('bind.status', input.binds.status, `declared devices: ${input.binds.bound} bound, ${input.binds.refused} refused, ${input.binds.failed} failed`);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface FeatureFile {
  text: string;
  /** labels left out: invalid syntax, or beyond the size limit */
  dropped: { name: string; reason: string }[];
}

/**
 * The feature file: a header, the expiry directive, one label per line. Invalid labels are dropped (and
 * reported); if the file would exceed NFD's limit, the per-device labels are dropped from the end.
 */
export function featureFileText(labels: readonly NodeLabel[], opts: { expiry: Date; generatedAt: Date; host: string }): FeatureFile {
  const dropped: FeatureFile['dropped'] = [];
  const head = [
    '# Node Feature Discovery labels written by vfioctl (local source); rewritten by `vfioctl agent`, do not edit',
    `# host ${opts.host.replace(/[\r\n]/g, ' ')}, generated ${opts.generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    `# +expiry-time=${opts.expiry.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
  ];
  const lines: string[] = [];
  for (const l of labels) {
    const bad = validLabel(l.name, l.value);
    if (bad) dropped.push({ name: l.name, reason: bad });
    else lines.push(`${l.name}=${l.value}`);
  }
  let text = `${[...head, ...lines].join('\n')}\n`;
  while (Buffer.byteLength(text) > FEATURE_FILE_LIMIT && lines.length) {
    const gone = lines.pop()!;
    dropped.push({ name: gone.split('=')[0]!, reason: `the file would exceed NFD's ${FEATURE_FILE_LIMIT}-byte limit` });
    text = `${[...head, ...lines].join('\n')}\n`;
  }
  return { text, dropped };
}

/** Parse a feature file back (for tests and for `agent` to compare): label -> value, and the expiry. */
export function parseFeatureFile(text: string): { labels: Record<string, string>; expiry: string | null } {
  const labels: Record<string, string> = {};
  let expiry: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^#\s*\+expiry-time=(\S+)/.exec(line);
    if (m) expiry = m[1]!;
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) labels[line] = 'true';
    else labels[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { labels, expiry };
}
