/** The host files vfioctl writes, by the absolute path on the host: one name each, for plans, renderers, remedies. */

/** vfioctl's own modprobe.d file (the one `vfioctl persist` writes: ids= and softdeps). */
export const MODPROBE_FILE = '/etc/modprobe.d/vfioctl-vfio.conf';
/** The opt-in allow_unsafe_interrupts file (the one `vfioctl host enable-iommu --allow-unsafe-interrupts` writes). */
export const UNSAFE_INTERRUPTS_FILE = '/etc/modprobe.d/vfioctl-unsafe-interrupts.conf';
