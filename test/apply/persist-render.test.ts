import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  renderUdevRules, renderBindUnit, editInitramfsToolsModules, removeInitramfsToolsModules, renderDracutConf,
} from '../../src/adapters/persist-render.js';

describe('persistence renderers', () => {
  it('udev rules: one line per canonical address, sorted, deduplicated; null when empty', () => {
    assert.equal(renderUdevRules([]), null);
    const r = renderUdevRules(['0000:02:00.1', '02:00.0', '0000:02:00.0'])!;
    assert.deepEqual(r.split('\n').filter((l) => l.startsWith('ACTION')), [
      'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:02:00.0", ATTR{driver_override}="vfio-pci"',
      'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:02:00.1", ATTR{driver_override}="vfio-pci"',
    ]);
    assert.throws(() => renderUdevRules(['../../etc']));
  });
  it('bind unit: a oneshot whose script is valid shell and names exactly the addresses', () => {
    const u = renderBindUnit(['0000:02:00.0', '0000:03:00.0'])!;
    assert.match(u, /^Type=oneshot$/m);
    assert.match(u, /^WantedBy=sysinit\.target$/m);
    const exec = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(u);
    assert.ok(exec);
    assert.match(exec[1]!, /for a in 0000:02:00\.0 0000:03:00\.0; do/);
    const check = spawnSync('sh', ['-n', '-c', exec[1]!], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(renderBindUnit([]), null);
  });
  it('initramfs-tools modules: adds only missing modules, removes exactly those again', () => {
    const base = '# comment\nvfio\nloop';
    const e = editInitramfsToolsModules(base);
    assert.deepEqual(e.added, ['vfio_iommu_type1', 'vfio_pci']);
    assert.equal(e.text, '# comment\nvfio\nloop\nvfio_iommu_type1\nvfio_pci\n');
    assert.equal(removeInitramfsToolsModules(e.text, e.added), '# comment\nvfio\nloop\n');
    assert.deepEqual(editInitramfsToolsModules('vfio\nvfio-iommu-type1\nvfio_pci\n').added, []);
    assert.equal(editInitramfsToolsModules(null).text, 'vfio\nvfio_iommu_type1\nvfio_pci\n');
  });
  it('dracut drop-in uses force_drivers with spaces inside the quotes', () => {
    assert.match(renderDracutConf(), /^force_drivers\+=" vfio vfio_iommu_type1 vfio_pci "$/m);
  });
});

describe('boot-time files with device identities', () => {
  it('render, parse back and pass the journal content check; a planted key is refused', async () => {
    const { renderUdevRules, renderBindUnit, parseUdevRules, parseBindUnit } = await import('../../src/adapters/persist-render.js');
    const { checkFileChange } = await import('../../src/apply/owned-files.js');
    const b = [{ address: '0000:02:00.0', identity: { vendorId: '10de', deviceId: '1b80', subsystemVendorId: '1462', subsystemDeviceId: '3364', path: 'pci0000:00/0000:00:02.0/0000:02:00.0' } }, { address: '0000:03:00.0' }];
    const rules = renderUdevRules(b)!;
    const unit = renderBindUnit(b)!;
    assert.deepEqual(parseUdevRules(rules), b);
    assert.deepEqual(parseBindUnit(unit)?.map((x) => x.address).sort(), ['0000:02:00.0', '0000:03:00.0']);
    assert.equal(checkFileChange('etc/udev/rules.d/61-vfioctl.rules', null, rules), null);
    assert.equal(checkFileChange('etc/systemd/system/vfioctl-bind.service', null, unit), null);
    assert.match(checkFileChange('etc/udev/rules.d/61-vfioctl.rules', null, rules.replace('ATTR{driver_override}', 'RUN+="/bin/sh -c x", ATTR{driver_override}'))!, /not what vfioctl writes/);
    assert.throws(() => renderUdevRules([{ address: '0000:02:00.0', identity: { ...b[0]!.identity!, path: 'pci0000:00/../x' } }]), /refusing to write the sysfs path/);
    // without identities: byte for byte what vfioctl wrote before it kept them
    assert.equal(renderBindUnit(['0000:03:00.0']), renderBindUnit([{ address: '0000:03:00.0' }]));
    assert.match(renderBindUnit(['0000:03:00.0'])!, /ExecStart=\/bin\/sh -c 'for a in 0000:03:00\.0; do d=\/sys\/bus\/pci\/devices\/\$a; \[ -e \$d \] \|\| continue; echo vfio-pci > \$d\/driver_override; .*done'\n/);
  });
});
