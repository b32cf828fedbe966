/**
 * QEMU command lines for a plan. Every assigned device sits behind its own pcie-root-port (a PCIe link,
 * as drivers expect, like libvirt does on q35); the functions of a multifunction device share that port
 * as functions 0..n with multifunction=on on function 0. `rombar=0` hides a ROM the plan turned off.
 * The nested variant gives the guest a virtual Intel IOMMU (q35, kernel_irqchip=split, intel-iommu with
 * intremap, caching-mode and device-iotlb) and shows a virtio device prepared for onward assignment
 * (disable-legacy=on, disable-modern=off, iommu_platform=on, ats=on).
 */
import type { PassthroughPlan } from '../../model/plan.js';
import { shellQuote } from '../../model/shell-quote.js';

export interface QemuOptions {
  nested?: boolean;
  /** accel for -machine (default kvm). */
  accel?: string;
  /** First chassis number for the root ports (default 16). */
  firstChassis?: number;
}

export function renderQemuArgs(plan: PassthroughPlan, opts: QemuOptions = {}): string[] {
  const nested = opts.nested ?? plan.nested;
  const accel = opts.accel ?? 'kvm';
  const byAddr = new Map(plan.functions.map((f) => [f.address as string, f]));
  const args: string[] = ['-machine', `q35,accel=${accel}${nested ? ',kernel_irqchip=split' : ''}`];
  const a = plan.platform?.addressing;
  const physBits = a && a.physBits !== null ? `,host-phys-bits=on${a.hostLimitBits !== null ? `,host-phys-bits-limit=${a.hostLimitBits}` : ''}` : '';
  if (plan.features.kvmHidden) args.push('-cpu', `host,kvm=off${plan.features.hypervVendorId ? `,hv-vendor-id=${plan.features.hypervVendorId}` : ''}${physBits}`);
  else if (physBits) args.push('-cpu', `host${physBits}`);
  if (a && a.hole64 !== null) args.push('-global', `q35-pcihost.pci-hole64-size=${BigInt(a.hole64) >> 30n}G`);
  const iommufd = plan.platform?.backend.chosen === 'iommufd';
  if (iommufd) args.push('-object', 'iommufd,id=iommufd0');
  // intel-iommu must be created before the devices it translates for.
  if (nested) args.push('-device', 'intel-iommu,intremap=on,caching-mode=on,device-iotlb=on');
  let chassis = opts.firstChassis ?? 16;
  plan.slots.forEach((slot, i) => {
    const port = `vfioctl-rp${i}`;
    args.push('-device', `pcie-root-port,id=${port},bus=pcie.0,chassis=${chassis++},slot=0`);
    slot.functions.forEach((address, k) => {
      const props = [`vfio-pci`, `host=${address}`, `id=hostdev${address.replace(/[:.]/g, '-')}`, `bus=${port}`, `addr=00.${k}`];
      if (slot.multifunction && k === 0) props.push('multifunction=on');
      if (byAddr.get(address)?.romBar === 'off') props.push('rombar=0');
      if (iommufd) props.push('iommufd=iommufd0');
      args.push('-device', props.join(','));
    });
  });
  if (nested) {
    args.push('-netdev', 'user,id=vfioctl-net0');
    args.push('-device', 'virtio-net-pci,netdev=vfioctl-net0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on');
  }
  return args;
}

export function renderQemu(plan: PassthroughPlan, opts: QemuOptions = {}): string {
  const nested = opts.nested ?? plan.nested;
  const args = renderQemuArgs(plan, opts);
  const lines: string[] = [];
  for (let i = 0; i < args.length; i += 2) lines.push(`${shellQuote(args[i]!)} ${shellQuote(args[i + 1] ?? '')}`);
  const head = nested
    ? '# vfioctl: QEMU for a guest that assigns devices onward (boot it with intel_iommu=on); add your disk and display options'
    : plan.platform?.functions.some((f) => f.vfioDriver !== 'vfio-pci')
      ? '# vfioctl: QEMU with the planned devices (bind them to their VFIO drivers first: vfioctl bind); add your disk and display options'
      : '# vfioctl: QEMU with the planned devices (bind them to vfio-pci first); add your disk and display options';
  return `${head}\nqemu-system-x86_64 -m 4096 \\\n  ${lines.join(' \\\n  ')}\n`;
}
