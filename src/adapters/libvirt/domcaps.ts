/** `virsh domcapabilities` output: what the hypervisor offers for PCI host devices. */

export interface DomainCapabilities {
  /** values of <hostdev><enum name='pciBackend'> (e.g. ["vfio"]); empty when the element lists none */
  pciBackends: string[];
}

export function parseDomainCapabilities(xml: string): DomainCapabilities {
  const hostdev = /<hostdev\b[\s\S]*?<\/hostdev>/.exec(xml)?.[0] ?? '';
  const en = /<enum name='pciBackend'>([\s\S]*?)<\/enum>|<enum name="pciBackend">([\s\S]*?)<\/enum>/.exec(hostdev);
  const values = en ? [...(en[1] ?? en[2] ?? '').matchAll(/<value>([^<]*)<\/value>/g)].map((m) => m[1]!.trim()) : [];
  return { pciBackends: values };
}
