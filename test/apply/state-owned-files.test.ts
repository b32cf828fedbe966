/**
 * The content rules for journal file steps (src/apply/owned-files.ts) accept every change vfioctl's own
 * editors and renderers make, and refuse changes they never make.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkFileChange, renderSriovRules, renderUnsafeInterruptsConf, MODPROBE_FILE, SRIOV_RULES_FILE, UNSAFE_IRQ_FILE, DRACUT_FILE } from '../../src/apply/owned-files.js';
import { editGrubDefaults, editKernelCmdline } from '../../src/model/kernel-cmdline.js';
import { editInitramfsToolsModules, renderBindUnit, renderDracutConf, renderUdevRules, UDEV_RULES_FILE, BIND_UNIT_FILE } from '../../src/adapters/persist-render.js';
import { renderVfioModprobeConf } from '../../src/adapters/modprobe.js';

const GRUBS = [
  'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=off"\n',
  'GRUB_CMDLINE_LINUX=quiet\n',
  "GRUB_CMDLINE_LINUX='rhgb quiet'\n# comment\nGRUB_TIMEOUT=5",
  'GRUB_DEFAULT=saved\n',
  '',
];
const EDITS = [
  { set: ['intel_iommu=on', 'iommu=pt'] },
  { remove: ['intel_iommu', 'iommu'] },
  { set: ['vfio-pci.ids=10de:1b80,10de:10f0'] },
  { set: ['intel_iommu=off'], remove: ['iommu'] },
];

describe('file step content rules', () => {
  it('accept every grub defaults / kernel cmdline / initramfs-tools edit vfioctl makes', () => {
    let n = 0;
    for (const g of GRUBS) {
      for (const e of EDITS) {
        const r = editGrubDefaults(g, e);
        assert.ok(r.ok);
        assert.equal(checkFileChange('etc/default/grub', g, r.value.text), null, `${JSON.stringify(g)} ${JSON.stringify(e)} -> ${JSON.stringify(r.value.text)}`);
        assert.equal(checkFileChange('etc/default/grub', r.value.text, g), null);
        const c = editKernelCmdline(`root=/dev/sda1 ro ${g.length % 2 ? 'quiet' : ''}\n`, e);
        assert.equal(checkFileChange('etc/kernel/cmdline', `root=/dev/sda1 ro ${g.length % 2 ? 'quiet' : ''}\n`, c.text), null);
        n += 2;
      }
      const m = editInitramfsToolsModules(g || null);
      assert.equal(checkFileChange('etc/initramfs-tools/modules', g || null, m.text), null);
    }
    assert.equal(n, GRUBS.length * EDITS.length * 2);
  });

  it('accept what the renderers write to vfioctl\'s own files', () => {
    const ok: [string, string | null][] = [
      [UDEV_RULES_FILE, renderUdevRules(['0000:02:00.1', '0000:02:00.0'])],
      [BIND_UNIT_FILE, renderBindUnit(['0000:02:00.0', '0000:02:00.1'])],
      [MODPROBE_FILE, renderVfioModprobeConf({ ids: ['10de:1b80', '10de:10f0'], softdeps: ['nouveau', 'snd_hda_intel'] })],
      [MODPROBE_FILE, renderVfioModprobeConf({ softdeps: ['e1000e'] })],
      [UNSAFE_IRQ_FILE, renderUnsafeInterruptsConf()],
      [SRIOV_RULES_FILE, renderSriovRules([{ address: '0000:04:00.0', numVfs: 2 }])],
      [DRACUT_FILE, renderDracutConf()],
    ];
    for (const [rel, text] of ok) {
      assert.equal(checkFileChange(rel, null, text), null, rel);
      assert.equal(checkFileChange(rel, text, null), null, rel);
    }
  });

  it('refuse content and paths vfioctl never writes', () => {
    const bad: [string, string | null, string | null][] = [
      [UDEV_RULES_FILE, null, `${renderUdevRules(['0000:02:00.0'])!}RUN+="/bin/sh -c id"\n`],
      [UDEV_RULES_FILE, null, renderUdevRules(['0000:02:00.0'])!.replace('vfio-pci', 'nouveau')],
      [BIND_UNIT_FILE, null, renderBindUnit(['0000:02:00.0'])!.replace('/sbin/modprobe vfio-pci', '/bin/sh -c id')],
      [MODPROBE_FILE, null, `${renderVfioModprobeConf({ softdeps: ['e1000e'] })}install e1000e /bin/sh -c id\n`],
      [SRIOV_RULES_FILE, null, renderSriovRules([{ address: '0000:04:00.0', numVfs: 2 }])!.replace('sriov_numvfs', 'remove')],
      ['etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet"\n', 'GRUB_CMDLINE_LINUX="quiet init=/bin/sh"\n'],
      ['etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet"\n', 'GRUB_CMDLINE_LINUX="quiet"\nGRUB_INIT_TUNE="x"\n'],
      ['etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet"\n', null],
      ['etc/kernel/cmdline', 'root=/dev/sda1\n', 'root=/dev/sdb1\n'],
      ['etc/initramfs-tools/modules', 'loop\n', 'loop\nevil\n'],
      ['etc/passwd', null, 'x'],
      ['etc/modprobe.d/other.conf', null, 'x'],
      ['var/lib/vfioctl/state.json', null, '{}'],
    ];
    for (const [rel, before, after] of bad) assert.notEqual(checkFileChange(rel, before, after), null, `${rel}: ${after}`);
  });
});
