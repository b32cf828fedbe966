#!/bin/sh
# /init of the real-kernel harness's initramfs (busybox sh). It mounts the host's /usr (Node.js, QEMU),
# the project and the run directory over 9p, loads the drivers of the PCI devices present (there is no
# udev), runs the guest runner with node, reports its result through isa-debug-exit and powers off.
# QEMU exits with 2*C+1 for a code C written to port 0xf4: 1 = guest suite passed, 3 = failed,
# 5 = the guest could not set itself up. A plain power-off (QEMU exit 0) means nothing was reported.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/tmp

report() {
  printf "vfioctl-guest: report %s\n" "$1"
  # shellcheck disable=SC2059
  printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
}
fail_setup() {
  echo "vfioctl-guest: setup failed: $*"
  report 2
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo "vfioctl-guest: init at $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r), cmdline: $(cat /proc/cmdline)"

for m in virtio_pci 9pnet_virtio 9p; do modprobe "$m" || fail_setup "modprobe $m"; done
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$O,cache=loose,ro" hostusr /usr || fail_setup "mount hostusr"
# From here on the host's kmod (it honours softdeps, e.g. vfio -> vfio_iommu_type1, as on a real host):
# /kmod holds links named modprobe, lsmod... to /usr/bin/kmod.
if [ -x /usr/bin/kmod ]; then
  export PATH=/kmod:/usr/sbin:/usr/bin:/sbin:/bin
  echo /kmod/modprobe > /proc/sys/kernel/modprobe
fi
mount -t 9p -o "$O,cache=loose,ro" project /project || fail_setup "mount project"
mount -t 9p -o "$O" results /results || fail_setup "mount results"

# Drivers for the devices present, as udev would load them (modules the initramfs lacks stay unloaded:
# those devices keep no driver, which is a case the tool must handle too).
for f in /sys/bus/pci/devices/*/modalias; do
  modprobe -q "$(cat "$f")" 2>/dev/null
done

echo "vfioctl-guest: running guest suite at $(cut -d' ' -f1 /proc/uptime)s"
/usr/bin/node /project/test/kernel/guest/runner.mjs
rc=$?
echo "vfioctl-guest: guest suite exit $rc at $(cut -d' ' -f1 /proc/uptime)s"
sync
if [ "$rc" -eq 0 ]; then report 0; else report 1; fi
