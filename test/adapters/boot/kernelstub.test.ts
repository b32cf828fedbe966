import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectGolden } from '../../support/golden.js';
import { bootHost, renderEdit, EXE, OS, IOMMU } from './support.js';

const CONFIG = JSON.stringify({ default: { kernel_options: ['quiet', 'splash'] }, user: { kernel_options: ['quiet', 'loglevel=0', 'intel_iommu=off'] } }, null, 2) + '\n';

describe('kernelstub adapter', () => {
  it('Pop!_OS: reads user.kernel_options, plans kernelstub commands and edits no file (golden); describes the same', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('pop', '22.04', 'ubuntu debian'), 'etc/kernelstub/configuration': CONFIG, 'usr/bin/kernelstub': EXE });
    assert.equal(adapter.kind, 'kernelstub');
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'etc/kernelstub/configuration');
    assert.deepEqual(c.cmdline.params.map((p) => p.raw), ['quiet', 'loglevel=0', 'intel_iommu=off']);
    const plan = adapter.planEdit(host, IOMMU);
    expectGolden('boot/adapters/kernelstub-pop.enable.out', renderEdit(plan, host));
    assert.deepEqual(plan.files, []);
    // one parameter whose old word is known: kernelstub deletes it by its text first
    const ids = adapter.planEdit(host, { set: ['intel_iommu=on'] }, { previous: 'intel_iommu=off' });
    assert.deepEqual(ids.commands.map((x) => x.argv.join(' ')), ['kernelstub --delete-options intel_iommu=off', 'kernelstub --add-options intel_iommu=on']);
    assert.equal(adapter.describe({ set: ['intel_iommu=on'], remove: ['intel_iommu=off'] }).text, 'run: kernelstub --add-options "intel_iommu=on"\nrun: kernelstub --delete-options "intel_iommu=off"\nthen reboot');
  });
  it('a configuration file that is not kernelstub\'s JSON: the running line stands for it, and says so', () => {
    const { host, adapter } = bootHost({ 'etc/os-release': OS('pop', '22.04'), 'etc/kernelstub/configuration': 'not json', 'proc/cmdline': 'root=UUID=abc ro quiet\n' });
    const c = adapter.readConfigured(host);
    assert.equal(c.source, 'proc/cmdline');
    assert.match(c.unknown.join(' '), /user\.kernel_options/);
  });
});
