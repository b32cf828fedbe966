/**
 * The host files vfioctl writes: one name each, root-relative (as HostRoot and the journal take them),
 * for plans, renderers, remedies, the persist planner and the journal validator (src/apply/owned-files.ts).
 * The absolute forms (`/etc/...`) are what people are shown.
 */

/** vfioctl's own modprobe.d file (the one `vfioctl persist` writes: ids= and softdeps). */
export const MODPROBE_REL = 'etc/modprobe.d/vfioctl-vfio.conf';
/** The opt-in allow_unsafe_interrupts file (the one `vfioctl host enable-iommu --allow-unsafe-interrupts` writes). */
export const UNSAFE_INTERRUPTS_REL = 'etc/modprobe.d/vfioctl-unsafe-interrupts.conf';
/** udev rule that binds persisted addresses to vfio-pci. */
export const UDEV_RULES_REL = 'etc/udev/rules.d/61-vfioctl.rules';
/** udev rule that restores sriov_numvfs when the PF appears (`vfioctl sriov set --persist`). */
export const SRIOV_RULES_REL = 'etc/udev/rules.d/62-vfioctl-sriov.rules';
/** udev rule that sets reset_method when a function appears (`vfioctl reset-policy set --persist`). */
export const RESET_RULES_REL = 'etc/udev/rules.d/63-vfioctl-reset.rules';
/** mdevctl's directory of defined mediated devices: PARENT/UUID, JSON (`vfioctl mdev create --persist`). */
export const MDEVCTL_DIR_REL = 'etc/mdevctl.d';
export const BIND_UNIT_NAME = 'vfioctl-bind.service';
/** Early systemd unit that rebinds persisted addresses before the host drivers claim them. */
export const BIND_UNIT_REL = `etc/systemd/system/${BIND_UNIT_NAME}`;
/** vfio modules in the initramfs: dracut and mkinitcpio drop-ins. */
export const DRACUT_REL = 'etc/dracut.conf.d/vfioctl.conf';
export const MKINITCPIO_REL = 'etc/mkinitcpio.conf.d/vfioctl.conf';
/** System files vfioctl edits (tokens only). */
export const GRUB_DEFAULTS_REL = 'etc/default/grub';
export const KERNEL_CMDLINE_REL = 'etc/kernel/cmdline';
export const INITRAMFS_TOOLS_MODULES_REL = 'etc/initramfs-tools/modules';

/** Absolute forms shown to people. */
export const MODPROBE_FILE = `/${MODPROBE_REL}`;
export const UNSAFE_INTERRUPTS_FILE = `/${UNSAFE_INTERRUPTS_REL}`;
