/**
 * virt-install arguments for a new guest holding the plan's devices: --host-device per function (with
 * rom.bar and multifunction placement), --controller for the root ports that placement needs,
 * --features for hidden KVM / Hyper-V vendor_id / split IOAPIC, --iommu for nested assignment.
 */
import { formatNodedevName, pciAddressOf } from '../../model/pci-address.js';
import type { PassthroughPlan } from '../../model/plan.js';
import { type PlacementOptions, controllerIndexes, guestPlacement, isOptionLike, shellQuote } from './common.js';

const hx = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;

export function renderVirtInstallArgs(plan: PassthroughPlan, opts: PlacementOptions = {}): string[] {
  const placements = guestPlacement(plan, opts);
  const byAddr = new Map(plan.functions.map((f) => [f.address as string, f]));
  const args: string[] = [];
  for (const i of controllerIndexes(placements)) args.push(`--controller=type=pci,model=pcie-root-port,index=${i}`);
  for (const p of placements) {
    const parts = [formatNodedevName(pciAddressOf(p.address))];
    const rom = byAddr.get(p.address)?.romBar;
    if (rom) parts.push(`rom.bar=${rom}`);
    if (plan.platform?.backend.chosen === 'iommufd') parts.push('driver.iommufd=yes');
    if (p.guest) {
      parts.push('address.type=pci', `address.domain=${hx(p.guest.domain, 4)}`, `address.bus=${hx(p.guest.bus, 2)}`, `address.slot=${hx(p.guest.slot, 2)}`, `address.function=${hx(p.guest.fn, 1)}`);
      if (p.guest.multifunction) parts.push('address.multifunction=on');
    }
    args.push(`--host-device=${parts.join(',')}`);
  }
  const features: string[] = [];
  if (plan.features.kvmHidden) features.push('kvm.hidden.state=on');
  if (plan.features.hypervVendorId) features.push('hyperv.vendor_id.state=on', `hyperv.vendor_id.value=${plan.features.hypervVendorId}`);
  if (plan.features.viommu) features.push('ioapic.driver=qemu');
  if (features.length) args.push(`--features=${features.join(',')}`);
  const a = plan.platform?.addressing;
  if (a && a.physBits !== null) args.push(`--cpu=host-passthrough,maxphysaddr.mode=passthrough${a.hostLimitBits !== null ? `,maxphysaddr.limit=${a.hostLimitBits}` : ''}`);
  if (plan.features.viommu) args.push('--iommu=model=intel,driver.intremap=on,driver.caching_mode=on,driver.iotlb=on');
  return args;
}

export function renderVirtInstall(plan: PassthroughPlan, opts: PlacementOptions = {}): string {
  const args = renderVirtInstallArgs(plan, opts);
  const machine = opts.machine ?? 'q35';
  const name = plan.guest ?? 'GUEST';
  // every word quoted for the shell; a name that looks like an option is joined to its flag
  const head: string[][] = [isOptionLike(name) ? [`--name=${name}`] : ['--name', name], ['--machine', machine], ['--memory', '4096'], ['--vcpus', '2'], ['--osinfo', 'detect=on,require=off'], ['--disk', 'size=20'], ['--import']];
  const lines = [...head, ...args.map((a) => [a])].map((words) => words.map(shellQuote).join(' '));
  return ['# vfioctl: virt-install arguments for a new guest with the planned devices (add your own disk, OS and network options)', `virt-install ${lines.join(' \\\n  ')}`, ''].join('\n');
}
