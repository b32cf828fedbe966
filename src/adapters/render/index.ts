/**
 * Every rendering of a plan, by format name (the FORMAT of `vfioctl render FORMAT ADDR...`).
 */
import type { PassthroughPlan, ViommuModel } from '../../model/plan.js';
import type { BootTooling } from '../../host/detect-boot.js';
import type { Machine } from './common.js';
import { renderHostConfig, renderModprobe } from './host-config.js';
import { renderKubevirt } from './kubevirt.js';
import { renderLibvirt, renderLibvirtDomain } from './libvirt.js';
import { renderQemu } from './qemu.js';
import { renderVirsh } from './virsh.js';
import { renderVirtInstall } from './virt-install.js';

export const RENDER_FORMATS = ['libvirt', 'libvirt-domain', 'virsh', 'virt-install', 'qemu', 'qemu-nested', 'host-config', 'modprobe', 'kubevirt'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

export function isRenderFormat(s: string): s is RenderFormat {
  return (RENDER_FORMATS as readonly string[]).includes(s);
}

export interface RenderOptions {
  machine?: Machine;
  boot?: BootTooling;
  /** the nested guest's virtual IOMMU in libvirt output (default intel) */
  viommu?: ViommuModel;
}

export function renderPlan(format: RenderFormat, plan: PassthroughPlan, opts: RenderOptions = {}): string {
  const placement = opts.machine ? { machine: opts.machine } : {};
  const viommu = opts.viommu ? { viommu: opts.viommu } : {};
  switch (format) {
    case 'libvirt':
      return renderLibvirt(plan, { ...placement, ...viommu });
    case 'libvirt-domain':
      return renderLibvirtDomain(plan, { ...placement, ...viommu });
    case 'virsh':
      return renderVirsh(plan, placement);
    case 'virt-install':
      return renderVirtInstall(plan, placement);
    case 'qemu':
      return renderQemu(plan, { nested: false });
    case 'qemu-nested':
      return renderQemu(plan, { nested: true });
    case 'host-config':
      return renderHostConfig(plan, opts.boot);
    case 'modprobe':
      return renderModprobe(plan) ?? '# vfioctl: nothing to write to /etc/modprobe.d for this plan\n';
    case 'kubevirt':
      return renderKubevirt(plan);
  }
}

export { renderHostConfig, renderModprobe, planBootInfo, kernelParams } from './host-config.js';
export { renderKubevirt, renderKubevirtObjects, kubevirtDevices } from './kubevirt.js';
export { renderLibvirt, renderLibvirtDomain, renderLibvirtParts } from './libvirt.js';
export { renderQemu, renderQemuArgs } from './qemu.js';
export { renderVirsh } from './virsh.js';
export { renderVirtInstall, renderVirtInstallArgs } from './virt-install.js';
export { guestPlacement } from './common.js';
