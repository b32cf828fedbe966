#!/bin/sh
# /init of the L2 guest (a busybox initramfs booted by the libvirt daemon inside the L1 guest). It prints
# its PCI functions (vendor:device from sysfs) to the serial console between "l2: listing" and
# "l2: listed", then powers off; with `l2.hold` on the kernel command line it stays up and prints the
# list again whenever it changes (hotplug and hot-unplug), so the L1 test waits on console lines
# instead of sleeping.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
list() {
  for d in /sys/bus/pci/devices/*; do
    [ -e "$d/vendor" ] && echo "l2-pci: ${d##*/} $(cat "$d/vendor"):$(cat "$d/device")"
  done
}
show() {
  echo "l2: listing $1"
  echo "$2"
  echo "l2: listed $1"
}
echo "l2: up at $(cut -d' ' -f1 /proc/uptime)s"
n=0
prev=$(list)
show $n "$prev"
if grep -q 'l2\.hold' /proc/cmdline; then
  while :; do
    sleep 1
    now=$(list)
    if [ "$now" != "$prev" ]; then
      n=$((n + 1))
      show $n "$now"
      prev=$now
    fi
  done
fi
poweroff -f
