/**
 * `render kubernetes` against the projects' published schemas (test/fixtures/schemas/SOURCES.md): the
 * agent DaemonSet against Kubernetes' apps/v1 definitions, the KubeVirt permittedHostDevices patch and the
 * VMI snippet against KubeVirt's OpenAPI. Object schemas are closed (additionalProperties: false), so an
 * invented field fails; a deliberately broken object proves the validators reject.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../../support/cli.js';
import { makeTempHostTree } from '../../support/host-tree.js';
import { SPEC } from '../../apply/helpers.js';
import { agentDaemonSet, DEFAULT_KUBERNETES_OPTIONS, kubernetesObjects } from '../../../src/adapters/render/kubernetes.js';
import { isVfioDriver } from '../../../src/core/node-labels.js';
import { readInventory } from '../../../src/host/read-inventory.js';
import { HostRoot } from '../../../src/host/host-root.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'schemas');

type Schema = Record<string, unknown>;

/** Close every object schema that lists its properties, recursively. */
function closed(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closed);
  if (!s || typeof s !== 'object') return s;
  const o: Schema = {};
  for (const [k, v] of Object.entries(s as Schema)) o[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, ps]) => [p, closed(ps)])) : closed(v);
  if (o.properties && o.additionalProperties === undefined) o.additionalProperties = false;
  // OpenAPI 2's int-or-string (IntOrString) is a string type with a format; the API server takes both
  if (o.format === 'int-or-string') return { ...o, type: undefined, format: undefined, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  return o;
}

function validator(file: string, root: string): ValidateFunction {
  const doc = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(DIR, file))).toString('utf8')) as { definitions: Schema };
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  return ajv.compile({ definitions: closed(doc.definitions), $ref: `#/definitions/${root}` });
}

const daemonSet = validator('kubernetes-openapi-v1.21.2.bundle.json.gz', 'io.k8s.api.apps.v1.DaemonSet');
const namespace = validator('kubernetes-openapi-v1.21.2.bundle.json.gz', 'io.k8s.api.core.v1.Namespace');
const kubevirt = validator('kubevirt-swagger.json.gz', 'v1.KubeVirt');
const vmi = validator('kubevirt-swagger.json.gz', 'v1.VirtualMachineInstance');

function ok(v: ValidateFunction, obj: unknown, what: string): void {
  assert.ok(v(obj), `${what}: ${JSON.stringify(v.errors?.slice(0, 5), null, 1)}`);
}

/** The synthetic host with the GPU (both functions) and the NVMe drive on vfio-pci. */
function boundTree() {
  const spec = { ...SPEC, functions: SPEC.functions.map((f) => (['0000:02:00.0', '0000:02:00.1', '0000:04:00.0'].includes(f.address) ? { ...f, driver: 'vfio-pci' } : f)) };
  return makeTempHostTree(spec);
}

describe('render kubernetes (validated against the published schemas)', () => {
  it('the validators reject what Kubernetes and KubeVirt would (they are not vacuous)', () => {
    const ds = agentDaemonSet(DEFAULT_KUBERNETES_OPTIONS) as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    const broken = structuredClone(ds);
    broken.spec.template.spec.containers[0]!.priviledged = true;
    assert.equal(daemonSet(broken), false, 'a misspelt container field is refused');
    const noSelector = structuredClone(ds) as unknown as { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    assert.equal(daemonSet(noSelector), false, 'a DaemonSet without its required selector is refused');
    assert.equal(kubevirt({ apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', spec: { configuration: { permittedHostDevices: { pciHostDevices: [{ pciVendorSelector: '10DE:1B80' }] } } } }), false, 'resourceName is required');
    assert.equal(vmi({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', spec: { domain: { devices: { hostDevices: [{ deviceName: 'x' }] } } } }), false, 'a hostDevice needs its name');
  });

  it('the DaemonSet, the KubeVirt patch and the VMI snippet of a node with devices on vfio-pci are valid', () => {
    const t = boundTree();
    try {
      const inv = readInventory(new HostRoot(t.root));
      const k = kubernetesObjects(inv, { ...DEFAULT_KUBERNETES_OPTIONS, devicesConfigMap: 'vfioctl-devices', nodeSelector: { 'vfioctl.io/iommu': 'true' } }, (f) => isVfioDriver(f.driver));
      ok(daemonSet, k.daemonSet, 'DaemonSet');
      ok(kubevirt, k.kubevirt, 'KubeVirt');
      ok(vmi, k.vmi, 'VirtualMachineInstance');
      const sel = (k.kubevirt as { spec: { configuration: { permittedHostDevices: { pciHostDevices: { pciVendorSelector: string; resourceName: string }[] } } } }).spec.configuration.permittedHostDevices.pciHostDevices;
      assert.deepEqual(sel.map((d) => d.pciVendorSelector), ['10DE:10F0', '10DE:1B80', '1B36:0010']);
      assert.ok(sel.every((d) => /^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(d.resourceName)), JSON.stringify(sel));
      const hd = (k.vmi as { spec: { domain: { devices: { hostDevices: { deviceName: string }[] } } } }).spec.domain.devices.hostDevices;
      assert.deepEqual(hd.map((h) => h.deviceName), sel.map((d) => d.resourceName));
    } finally {
      t.cleanup();
    }
  });

  it('the printed YAML parses into the same valid documents, mounts what the agent needs, and has no aliases', async () => {
    const t = boundTree();
    try {
      const r = await runCli(['render', 'kubernetes', '--root', t.root, '--image', 'registry.example.com/vfioctl:0.1.0', '--devices-configmap', 'vfioctl-devices']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!/[&*]a\d/.test(r.stdout), 'no YAML anchors or aliases (kubectl users read this)');
      const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; spec?: Record<string, unknown> });
      assert.deepEqual(docs.map((d) => d.kind), ['Namespace', 'DaemonSet', 'KubeVirt', 'VirtualMachineInstance']);
      ok(namespace, docs[0], 'Namespace');
      ok(daemonSet, docs[1], 'DaemonSet');
      ok(kubevirt, docs[2], 'KubeVirt');
      ok(vmi, docs[3], 'VirtualMachineInstance');
      const pod = (docs[1] as unknown as { spec: { template: { spec: { containers: { image: string; args: string[]; securityContext: { privileged: boolean }; volumeMounts: { mountPath: string }[]; livenessProbe: { exec: { command: string[] } } }[] } } } }).spec.template.spec;
      const c = pod.containers[0]!;
      assert.equal(c.image, 'registry.example.com/vfioctl:0.1.0');
      assert.equal(c.securityContext.privileged, true);
      assert.deepEqual(c.livenessProbe.exec.command, ['/usr/bin/vfioctl', 'self-check']);
      for (const m of ['/sys', '/dev/vfio', '/etc/kubernetes/node-feature-discovery/features.d', '/var/lib/vfioctl', '/etc/vfioctl']) assert.ok(c.volumeMounts.some((v) => v.mountPath === m), m);
      assert.deepEqual(c.args.slice(-2), ['--devices', '/etc/vfioctl/devices.yaml']);
    } finally {
      t.cleanup();
    }
  });

  it('a node with nothing on vfio-pci gets the DaemonSet and a note instead of an empty device list', async () => {
    const t = makeTempHostTree(SPEC);
    try {
      const r = await runCli(['render', 'kubernetes', '--root', t.root]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(parseAllDocuments(r.stdout).map((d) => (d.toJS() as { kind: string }).kind), ['Namespace', 'DaemonSet']);
      assert.match(r.stdout, /no function on this node is on a vfio driver yet/);
      const bad = await runCli(['render', 'kubernetes', '--root', t.root, '--namespace', 'Bad_NS']);
      assert.equal(bad.code, 2);
      const addr = await runCli(['render', 'kubernetes', '02:00.0', '--root', t.root]);
      assert.equal(addr.code, 2);
      assert.match(addr.stderr, /takes no addresses/);
    } finally {
      t.cleanup();
    }
  });
});
