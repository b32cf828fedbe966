import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { renderVirsh } from '../../../src/adapters/render/virsh.js';
import { renderVirtInstall, renderVirtInstallArgs } from '../../../src/adapters/render/virt-install.js';
import { renderQemu, renderQemuArgs } from '../../../src/adapters/render/qemu.js';
import { renderHostConfig, renderModprobe, planBootInfo } from '../../../src/adapters/render/host-config.js';
import { renderKubevirt, renderKubevirtObjects, kubevirtResourceName } from '../../../src/adapters/render/kubevirt.js';
import { RENDER_FORMATS, renderPlan } from '../../../src/adapters/render/index.js';
import { parseModprobeConf } from '../../../src/adapters/modprobe.js';
import { expectGolden } from '../../support/golden.js';
import { builtinPlan, chipsetPlan, debianBoot, desktopPlan, fedoraBoot, iommuOffPlan, nestedVfPlan, systemdBoot } from './fixtures.js';

test('virsh: one file and one attach-device per hostdev, controller first, undo commands (golden)', () => {
  const text = renderVirsh(desktopPlan());
  expectGolden('render/virsh-desktop-gpu.sh', text);
  const attaches = text.split('\n').filter((l) => l.startsWith('virsh attach-device'));
  assert.deepEqual(attaches, [
    'virsh attach-device win11 controller-0.xml --config',
    'virsh attach-device win11 hostdev-0000_01_00_0.xml --config',
    'virsh attach-device win11 hostdev-0000_01_00_1.xml --config',
  ]);
  assert.match(text, /virsh nodedev-detach pci_0000_01_00_0/);
  assert.match(text, /virsh nodedev-reattach pci_0000_01_00_1/);
});

test('virsh: guest names are shell-quoted, a missing guest is a visible placeholder', () => {
  const p = { ...desktopPlan(), guest: "it's mine" };
  assert.match(renderVirsh(p), /virsh attach-device 'it'\\''s mine' hostdev-0000_01_00_0\.xml --config/);
  const anon = { ...desktopPlan(), guest: null };
  assert.match(renderVirsh(anon), /replace GUEST/);
});

test('virt-install: --host-device per function with rom.bar and multifunction address, features (golden)', () => {
  expectGolden('render/virt-install-desktop-gpu.txt', renderVirtInstall(desktopPlan()));
  const args = renderVirtInstallArgs(chipsetPlan());
  assert.deepEqual(args, [
    '--controller=type=pci,model=pcie-root-port,index=16',
    '--host-device=pci_0000_02_00_0,address.type=pci,address.domain=0x0000,address.bus=0x10,address.slot=0x00,address.function=0x0,address.multifunction=on',
    '--host-device=pci_0000_02_00_1,address.type=pci,address.domain=0x0000,address.bus=0x10,address.slot=0x00,address.function=0x1',
    '--host-device=pci_0000_05_00_0,rom.bar=off',
  ]);
  const nested = renderVirtInstallArgs(nestedVfPlan());
  assert.ok(nested.includes('--iommu=model=intel,driver.intremap=on,driver.caching_mode=on,driver.iotlb=on'));
  assert.ok(nested.includes('--features=ioapic.driver=qemu'));
});

test('qemu: vfio-pci devices behind root ports, multifunction on function 0, rombar=0 (golden)', () => {
  expectGolden('render/qemu-desktop-gpu.txt', renderQemu(desktopPlan()));
  const args = renderQemuArgs(chipsetPlan());
  const devices = args.filter((_, i) => args[i - 1] === '-device');
  assert.deepEqual(devices, [
    'pcie-root-port,id=vfioctl-rp0,bus=pcie.0,chassis=16,slot=0',
    'vfio-pci,host=0000:02:00.0,id=hostdev0000-02-00-0,bus=vfioctl-rp0,addr=00.0,multifunction=on',
    'vfio-pci,host=0000:02:00.1,id=hostdev0000-02-00-1,bus=vfioctl-rp0,addr=00.1',
    'pcie-root-port,id=vfioctl-rp1,bus=pcie.0,chassis=17,slot=0',
    'vfio-pci,host=0000:05:00.0,id=hostdev0000-05-00-0,bus=vfioctl-rp1,addr=00.0,rombar=0',
  ]);
  assert.deepEqual(renderQemuArgs(desktopPlan()).slice(0, 4), ['-machine', 'q35,accel=kvm', '-cpu', 'host,kvm=off,hv-vendor-id=vfioctl']);
});

test('qemu nested: split irqchip, intel-iommu before the devices, virtio with iommu_platform and ats (golden)', () => {
  const text = renderQemu(nestedVfPlan(), { nested: true });
  expectGolden('render/qemu-nested-vf.txt', text);
  const args = renderQemuArgs(nestedVfPlan(), { nested: true });
  assert.equal(args[1], 'q35,accel=kvm,kernel_irqchip=split');
  const iommuAt = args.indexOf('intel-iommu,intremap=on,caching-mode=on,device-iotlb=on');
  const vfioAt = args.findIndex((a) => a.startsWith('vfio-pci,'));
  assert.ok(iommuAt > 0 && iommuAt < vfioAt, 'intel-iommu comes before the devices');
  assert.ok(args.includes('virtio-net-pci,netdev=vfioctl-net0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on'));
});

test('host-config, Intel with the IOMMU off on Debian/grub: intel_iommu=on iommu=pt, update-grub (golden)', () => {
  const text = renderHostConfig(iommuOffPlan('intel'), debianBoot);
  expectGolden('render/host-config-intel-iommu-off-debian.txt', text);
  assert.match(text, /parameters: intel_iommu=on iommu=pt/);
  assert.match(text, /GRUB_CMDLINE_LINUX in \/etc\/default\/grub/);
  assert.match(text, /^ {4}update-grub$/m);
});

test('host-config, AMD with the IOMMU off: no amd_iommu=on, firmware remedy (golden)', () => {
  const text = renderHostConfig(iommuOffPlan('amd'), fedoraBoot);
  expectGolden('render/host-config-amd-iommu-off-fedora.txt', text);
  assert.doesNotMatch(text, /parameters: .*amd_iommu=on/);
  assert.match(text, /amd_iommu=on is not a valid value/);
});

test('host-config, desktop GPU on Fedora: modprobe ids + softdep, dracut (golden)', () => {
  const text = renderHostConfig(desktopPlan(), fedoraBoot);
  expectGolden('render/host-config-desktop-fedora.txt', text);
  assert.match(text, /no change needed/);
  assert.doesNotMatch(text, /Reboot afterwards/);
  assert.match(text, /take effect at the next boot/);
  assert.match(text, /dracut -f --regenerate-all/);
});

test('host-config, built-in vfio-pci on systemd-boot: ids on the command line, unsafe interrupts with warning (golden)', () => {
  const text = renderHostConfig(builtinPlan(), systemdBoot);
  expectGolden('render/host-config-builtin-systemd-boot.txt', text);
  assert.match(text, /parameters: vfio-pci\.ids=10de:10f0,10de:1b81/);
  assert.match(text, /\/etc\/kernel\/cmdline/);
  assert.match(text, /SECURITY DOWNGRADE/);
  assert.match(text, /options vfio_iommu_type1 allow_unsafe_interrupts=1/);
});

test('host-config, identical VFs stay on the host: per-address binding, no ids= line', () => {
  const text = renderHostConfig(nestedVfPlan(), debianBoot);
  assert.match(text, /driverctl set-override 0000:03:10\.0 vfio-pci/);
  assert.doesNotMatch(text, /options vfio-pci ids=/);
});

test('modprobe: vfioctl-managed file that the modprobe.d parser reads back', () => {
  const conf = renderModprobe(desktopPlan());
  assert.ok(conf);
  expectGolden('render/modprobe-desktop-gpu.conf', conf);
  const parsed = parseModprobeConf(conf);
  assert.ok(parsed.ok);
  assert.deepEqual([...parsed.value.ids].sort(), ['10de:10f0', '10de:1b81']);
  assert.deepEqual([...parsed.value.softdeps].sort(), ['nouveau', 'snd_hda_intel']);
  assert.equal(renderModprobe(builtinPlan())?.includes('ids='), false);
});

test('planBootInfo maps detected tooling to display commands', () => {
  assert.deepEqual(planBootInfo(debianBoot), { loader: 'grub2', file: '/etc/default/grub', apply: 'update-grub', initramfs: 'update-initramfs -u -k all' });
  assert.deepEqual(planBootInfo(fedoraBoot), { loader: 'grubby', file: '/etc/default/grub', apply: null, initramfs: 'dracut -f --regenerate-all' });
});

test('kubevirt: permittedHostDevices per ID and VMI hostDevices per function, valid YAML (golden)', () => {
  const text = renderKubevirt(desktopPlan());
  expectGolden('render/kubevirt-desktop-gpu.yaml', text);
  const docs = parseAllDocuments(text);
  assert.equal(docs.length, 2);
  assert.ok(docs.every((d) => d.errors.length === 0));
  const cr = docs[0]!.toJS() as { spec: { configuration: { permittedHostDevices: { pciHostDevices: { pciVendorSelector: string; resourceName: string }[] } } } };
  assert.deepEqual(cr.spec.configuration.permittedHostDevices.pciHostDevices.map((d) => d.pciVendorSelector), ['10DE:1B81', '10DE:10F0']);
  assert.equal(cr.spec.configuration.permittedHostDevices.pciHostDevices[0]!.resourceName, 'nvidia.com/GP104_GeForce_GTX_1070');
  const objs = renderKubevirtObjects(desktopPlan());
  assert.deepEqual((objs.vmi as { spec: { domain: { devices: { hostDevices: unknown[] } } } }).spec.domain.devices.hostDevices, [
    { deviceName: 'nvidia.com/GP104_GeForce_GTX_1070', name: 'hostdev0' },
    { deviceName: 'nvidia.com/GP104_HDMI_Audio', name: 'hostdev1' },
  ]);
  assert.equal(kubevirtResourceName('abcd', '12ef', null), 'devices.kubevirt.io/ABCD_12EF');
});

test('every format renders every fixture plan without throwing and ends with a newline', () => {
  for (const plan of [desktopPlan(), chipsetPlan(), nestedVfPlan(), iommuOffPlan('intel'), builtinPlan()]) {
    for (const f of RENDER_FORMATS) {
      const out = renderPlan(f, plan, { boot: debianBoot });
      assert.ok(out.endsWith('\n'), `${f} ends with a newline`);
      assert.ok(out.length > 20, `${f} is not empty`);
    }
  }
});
