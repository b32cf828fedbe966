/**
 * KubeVirt rendering of a plan: the cluster-wide permittedHostDevices.pciHostDevices entries (one per
 * vendor:device ID, pciVendorSelector in KubeVirt's upper-case "VVVV:DDDD" form, a resourceName under the
 * vendor's domain) for the KubeVirt CR, and the matching VMI spec.domain.devices.hostDevices snippet.
 * KubeVirt selects devices by ID, so the node must bind every card with that ID to vfio-pci; when the
 * plan binds per address (identical cards stay on the host) the output says so.
 */
import { stringify } from 'yaml';
import type { PassthroughPlan } from '../../model/plan.js';

const VENDOR_DOMAINS: Record<string, string> = { '10de': 'nvidia.com', '1002': 'amd.com', '8086': 'intel.com', '15b3': 'mellanox.com', '144d': 'samsung.com' };

export interface KubevirtDevice {
  pciVendorSelector: string;
  resourceName: string;
}

/** resourceName: DOMAIN/NAME, NAME from the pci.ids device name (letters, digits, _ . -) or the ID. */
export function kubevirtResourceName(vendorId: string, deviceId: string, name: string | null): string {
  const domain = VENDOR_DOMAINS[vendorId] ?? 'devices.kubevirt.io';
  const base = (name ?? '').replace(/\[|\]/g, ' ').trim().replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60);
  return `${domain}/${base || `${vendorId}_${deviceId}`.toUpperCase()}`;
}

export function kubevirtDevices(plan: PassthroughPlan): KubevirtDevice[] {
  const seen = new Map<string, KubevirtDevice>();
  for (const f of plan.functions) {
    const sel = `${f.vendorId}:${f.deviceId}`.toUpperCase();
    if (!seen.has(sel)) seen.set(sel, { pciVendorSelector: sel, resourceName: kubevirtResourceName(f.vendorId, f.deviceId, f.name) });
  }
  return [...seen.values()];
}

export interface KubevirtRendering {
  kubevirt: Record<string, unknown>;
  vmi: Record<string, unknown>;
}

export function renderKubevirtObjects(plan: PassthroughPlan): KubevirtRendering {
  const devices = kubevirtDevices(plan);
  const kubevirt = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'KubeVirt',
    metadata: { name: 'kubevirt', namespace: 'kubevirt' },
    spec: { configuration: { permittedHostDevices: { pciHostDevices: devices.map((d) => ({ pciVendorSelector: d.pciVendorSelector, resourceName: d.resourceName })) } } },
  };
  const counts = new Map<string, number>();
  for (const f of plan.functions) {
    const r = devices.find((d) => d.pciVendorSelector === `${f.vendorId}:${f.deviceId}`.toUpperCase())!.resourceName;
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const hostDevices: { deviceName: string; name: string }[] = [];
  let i = 0;
  for (const [r, c] of counts) for (let k = 0; k < c; k++) hostDevices.push({ deviceName: r, name: `hostdev${i++}` });
  const vmi = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: plan.guest ?? 'vmi' },
    spec: { domain: { devices: { hostDevices } } },
  };
  return { kubevirt, vmi };
}

export function renderKubevirt(plan: PassthroughPlan): string {
  const { kubevirt, vmi } = renderKubevirtObjects(plan);
  const head = [
    '# vfioctl: KubeVirt host devices for this plan',
    '# 1) merge into the KubeVirt CR (kubectl edit kubevirt -n kubevirt); the node must bind these IDs to vfio-pci',
  ];
  if (plan.binding.mode === 'per-address') {
    head.push('#    NOTE: identical cards stay on this host; KubeVirt selects by ID and would also offer them');
  }
  return [
    ...head,
    stringify(kubevirt).trimEnd(),
    '---',
    '# 2) in the VirtualMachineInstance (or a VirtualMachine template spec), one entry per function',
    stringify(vmi).trimEnd(),
    '',
  ].join('\n');
}
