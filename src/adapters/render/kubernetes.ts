/**
 * `vfioctl render kubernetes`: what a Kubernetes/KubeVirt cluster needs to run vfioctl as its node agent
 * and to offer this node's assigned devices to VMs:
 *   1. the agent's DaemonSet (privileged; the host's /sys, /dev/vfio, NFD feature directory,
 *      /var/lib/vfioctl, /lib/modules and /etc/modprobe.d mounted; NODE_NAME from the downward API;
 *      liveness through `vfioctl self-check`; resource requests and limits);
 *   2. the KubeVirt CR's permittedHostDevices for the functions this node has on vfio drivers now
 *      (pciVendorSelector "VVVV:DDDD", resourceName), as a merge patch;
 *   3. a VirtualMachineInstance hostDevices snippet using them.
 * Pure: it renders objects from the inventory; the YAML text keeps the objects in separate documents.
 */
import { stringify } from 'yaml';
import type { PciFunction, PciInventory } from '../../model/pci-function.js';
import { kubevirtResourceName } from './kubevirt.js';

export interface KubernetesRenderOptions {
  /** the agent image (the single executable at /usr/bin/vfioctl) */
  image: string;
  namespace: string;
  /** nodes the DaemonSet runs on (merged with kubernetes.io/os=linux) */
  nodeSelector: Record<string, string>;
  /** a ConfigMap holding devices.yaml (kind NodeDevices) to bind at start; null: none */
  devicesConfigMap: string | null;
  intervalSeconds: number;
  /** the agent plans and labels but changes nothing */
  dryRun: boolean;
  version: string;
}

export const DEFAULT_KUBERNETES_OPTIONS: KubernetesRenderOptions = {
  image: 'localhost/vfioctl:0.1.0',
  namespace: 'vfioctl',
  nodeSelector: {},
  devicesConfigMap: null,
  intervalSeconds: 60,
  dryRun: false,
  version: '0.1.0',
};

const FEATURES_DIR = '/etc/kubernetes/node-feature-discovery/features.d';

/** The agent DaemonSet (apps/v1). */
export function agentDaemonSet(o: KubernetesRenderOptions): Record<string, unknown> {
  const labels = { 'app.kubernetes.io/name': 'vfioctl', 'app.kubernetes.io/component': 'node-agent', 'app.kubernetes.io/version': o.version };
  const args = ['agent', '--interval', `${o.intervalSeconds}s`, '--json'];
  if (o.devicesConfigMap) args.push('--devices', '/etc/vfioctl/devices.yaml');
  if (o.dryRun) args.push('--dry-run');
  const hostPath = (name: string, p: string, type: string) => ({ name, hostPath: { path: p, type } });
  const mounts = [
    { name: 'sys', mountPath: '/sys' },
    { name: 'dev-vfio', mountPath: '/dev/vfio' },
    { name: 'nfd-features', mountPath: FEATURES_DIR },
    { name: 'state', mountPath: '/var/lib/vfioctl' },
    { name: 'modules', mountPath: '/lib/modules', readOnly: true },
    { name: 'modprobe', mountPath: '/etc/modprobe.d', readOnly: true },
    ...(o.devicesConfigMap ? [{ name: 'devices', mountPath: '/etc/vfioctl', readOnly: true }] : []),
  ];
  const volumes = [
    hostPath('sys', '/sys', 'Directory'),
    hostPath('dev-vfio', '/dev/vfio', 'DirectoryOrCreate'),
    hostPath('nfd-features', FEATURES_DIR, 'DirectoryOrCreate'),
    hostPath('state', '/var/lib/vfioctl', 'DirectoryOrCreate'),
    hostPath('modules', '/lib/modules', 'Directory'),
    hostPath('modprobe', '/etc/modprobe.d', 'DirectoryOrCreate'),
    ...(o.devicesConfigMap ? [{ name: 'devices', configMap: { name: o.devicesConfigMap } }] : []),
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'vfioctl-agent', namespace: o.namespace, labels },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'vfioctl', 'app.kubernetes.io/component': 'node-agent' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          nodeSelector: { 'kubernetes.io/os': 'linux', ...o.nodeSelector },
          priorityClassName: 'system-node-critical',
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'agent',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/usr/bin/vfioctl'],
              args,
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }, { name: 'NO_COLOR', value: '1' }],
              securityContext: { privileged: true },
              resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
              livenessProbe: { exec: { command: ['/usr/bin/vfioctl', 'self-check'] }, initialDelaySeconds: 10, periodSeconds: 300, timeoutSeconds: 30, failureThreshold: 3 },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** One permittedHostDevices entry per vendor:device among the functions on vfio drivers. */
export function permittedHostDevices(functions: readonly PciFunction[]): { pciVendorSelector: string; resourceName: string }[] {
  const seen = new Map<string, { pciVendorSelector: string; resourceName: string }>();
  for (const f of functions) {
    const sel = `${f.vendorId}:${f.deviceId}`.toUpperCase();
    if (!seen.has(sel)) seen.set(sel, { pciVendorSelector: sel, resourceName: kubevirtResourceName(f.vendorId, f.deviceId, f.names.device) });
  }
  return [...seen.values()].sort((a, b) => (a.pciVendorSelector < b.pciVendorSelector ? -1 : 1));
}

export interface KubernetesObjects {
  daemonSet: Record<string, unknown>;
  /** null when the node has no function on a vfio driver */
  kubevirt: Record<string, unknown> | null;
  vmi: Record<string, unknown> | null;
  vfio: PciFunction[];
}

export function kubernetesObjects(inv: PciInventory, o: KubernetesRenderOptions, isVfio: (f: PciFunction) => boolean): KubernetesObjects {
  const vfio = inv.functions.filter(isVfio);
  const devices = permittedHostDevices(vfio);
  const kubevirt = devices.length
    ? { apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'kubevirt', namespace: 'kubevirt' }, spec: { configuration: { permittedHostDevices: { pciHostDevices: devices } } } }
    : null;
  const vmi = devices.length
    ? {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: 'vmi-passthrough' },
        spec: { domain: { devices: { hostDevices: devices.map((d, i) => ({ name: `hostdev${i}`, deviceName: d.resourceName })) }, resources: { requests: { memory: '2Gi' } } } },
      }
    : null;
  return { daemonSet: agentDaemonSet(o), kubevirt, vmi, vfio };
}

export function renderKubernetes(inv: PciInventory, o: KubernetesRenderOptions, isVfio: (f: PciFunction) => boolean): string {
  const k = kubernetesObjects(inv, o, isVfio);
  const docs: string[] = [
    `# vfioctl ${o.version}: the node agent for Kubernetes (kubectl apply -f); image ${o.image} carries the single executable at /usr/bin/vfioctl`,
    `# it writes NFD labels to ${FEATURES_DIR}/vfioctl on every node it runs on${o.devicesConfigMap ? ` and binds the devices in ConfigMap ${o.devicesConfigMap} (key devices.yaml) at start` : ''}`,
    stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } }, { aliasDuplicateObjects: false }).trimEnd(),
    '---',
    stringify(k.daemonSet, { aliasDuplicateObjects: false }).trimEnd(),
  ];
  if (k.kubevirt && k.vmi) {
    docs.push(
      '---',
      `# KubeVirt: the devices this node has on vfio drivers now (${k.vfio.map((f) => f.address).join(' ')})`,
      '# kubectl patch kubevirt kubevirt -n kubevirt --type merge --patch-file THIS-DOCUMENT',
      '# (a merge patch replaces the whole pciHostDevices list: merge with the entries other nodes need)',
      stringify(k.kubevirt, { aliasDuplicateObjects: false }).trimEnd(),
      '---',
      '# a VirtualMachineInstance asking for them (one entry per device it should get)',
      stringify(k.vmi, { aliasDuplicateObjects: false }).trimEnd(),
    );
  } else {
    docs.push('# no function on this node is on a vfio driver yet: bind them (vfioctl bind, or the agent\'s --devices) to get the KubeVirt permittedHostDevices entries');
  }
  return `${docs.join('\n')}\n`;
}
