#!/bin/sh
# vfioctl: virsh commands for this plan
set -e
export LC_ALL=C

cat > controller-0.xml <<'EOF'
<controller type='pci' index='16' model='pcie-root-port'/>
EOF
virsh attach-device win11 controller-0.xml --config

cat > hostdev-0000_01_00_0.xml <<'EOF'
<hostdev mode='subsystem' type='pci' managed='yes'>
  <source>
    <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
  </source>
  <address type='pci' domain='0x0000' bus='0x10' slot='0x00' function='0x0' multifunction='on'/>
</hostdev>
EOF
virsh attach-device win11 hostdev-0000_01_00_0.xml --config

cat > hostdev-0000_01_00_1.xml <<'EOF'
<hostdev mode='subsystem' type='pci' managed='yes'>
  <source>
    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>
  </source>
  <address type='pci' domain='0x0000' bus='0x10' slot='0x00' function='0x1'/>
</hostdev>
EOF
virsh attach-device win11 hostdev-0000_01_00_1.xml --config

# domain features are not devices: add them with virsh edit win11 (see vfioctl render libvirt)

# managed='yes': libvirt detaches the functions from their host drivers when the guest starts and
# gives them back when it stops. To detach them now (e.g. to test), run:
#   virsh nodedev-detach pci_0000_01_00_0
#   virsh nodedev-detach pci_0000_01_00_1

# undo:
#   virsh detach-device win11 hostdev-0000_01_00_0.xml --config
#   virsh detach-device win11 hostdev-0000_01_00_1.xml --config
#   virsh nodedev-reattach pci_0000_01_00_0
#   virsh nodedev-reattach pci_0000_01_00_1
