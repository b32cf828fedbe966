/**
 * virsh commands for a plan: each hostdev written to its own file and added with
 * `virsh attach-device GUEST FILE --config` (one command per file: a failure in the middle of a batch
 * would go unnoticed), the optional `nodedev-detach` for a first test, and the commands that undo it.
 * Pure: plan in, shell text out.
 */
import { formatNodedevName, pciAddressOf } from '../../model/pci-address.js';
import type { PassthroughPlan } from '../../model/plan.js';
import { type PlacementOptions, guestOrPlaceholder, heredoc, hostdevFileName, isOptionLike, shellComment, shellJoin } from './common.js';
import { renderLibvirtParts } from './libvirt.js';

export function renderVirsh(plan: PassthroughPlan, opts: PlacementOptions = {}): string {
  const r = renderLibvirtParts(plan, opts);
  const name = guestOrPlaceholder(plan);
  // the guest as virsh words: a name that looks like an option goes after --domain
  const domain = isOptionLike(name) ? ['--domain', name] : [name];
  const virsh = (sub: string, ...rest: string[]): string => shellJoin(['virsh', sub, ...domain, ...rest]);
  const guest = shellJoin(domain);
  const lines: string[] = ['#!/bin/sh', '# vfioctl: virsh commands for this plan', 'set -e', 'export LC_ALL=C', ''];
  if (!plan.guest) lines.push('# replace GUEST with the guest name (or pass --guest NAME)', '');
  r.controllers.forEach((c, i) => {
    const file = `controller-${i}.xml`;
    lines.push(...heredoc(`cat > ${file}`, c.trimEnd()), virsh('attach-device', file, '--config'), '');
  });
  for (const h of r.hostdevs) {
    const file = hostdevFileName(h.address);
    lines.push(...heredoc(`cat > ${file}`, h.xml.trimEnd()), virsh('attach-device', file, '--config'), '');
  }
  if (r.features.length || r.iommu) {
    lines.push(`# domain features are not devices: add them with ${shellComment(`virsh edit ${guest}`)} (see vfioctl render libvirt)`, '');
  }
  lines.push(
    "# managed='yes': libvirt detaches the functions from their host drivers when the guest starts and",
    '# gives them back when it stops. To detach them now (e.g. to test), run:',
    ...plan.claim.map((a) => `#   virsh nodedev-detach ${formatNodedevName(pciAddressOf(a))}`),
    '',
    '# undo:',
    ...r.hostdevs.map((h) => `#   ${shellComment(virsh('detach-device', hostdevFileName(h.address), '--config'))}`),
    ...plan.claim.map((a) => `#   virsh nodedev-reattach ${formatNodedevName(pciAddressOf(a))}`),
    '',
  );
  return lines.join('\n');
}
