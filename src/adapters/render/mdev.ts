/**
 * Mediated devices for guests (pure):
 *   libvirt   <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='UUID'/></source></hostdev>
 *             (formatdomain: mdev hostdevs; display='on' for a vGPU display, ramfb with it for early boot)
 *   QEMU      -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/UUID
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function check(uuid: string): string {
  if (!UUID.test(uuid)) throw new Error(`internal: not a UUID ${uuid}`);
  return uuid;
}

export function renderMdevHostdevXml(o: { uuid: string; display?: boolean }): string {
  const attrs = `mode='subsystem' type='mdev' model='vfio-pci'${o.display ? " display='on' ramfb='on'" : ''}`;
  return [`<hostdev ${attrs}>`, '  <source>', `    <address uuid='${check(o.uuid)}'/>`, '  </source>', '</hostdev>', ''].join('\n');
}

export function renderMdevQemuArgs(o: { uuid: string }): string[] {
  return ['-device', `vfio-pci,sysfsdev=/sys/bus/mdev/devices/${check(o.uuid)}`];
}
