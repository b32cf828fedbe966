import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  editGrubDefaults, editKernelCmdline, parseKernelCmdline, readGrubVariable, hasParam, paramValue,
} from '../../src/model/kernel-cmdline.js';
import type { CmdlineEdit } from '../../src/model/kernel-cmdline.js';
import { readGoldenInput, expectGoldenOutput } from '../support/golden.js';

const ENABLE: CmdlineEdit = { set: ['intel_iommu=on', 'iommu=pt'] };
const DISABLE: CmdlineEdit = { remove: ['intel_iommu=on', 'iommu=pt'] };

/** What a POSIX shell (dash) makes of a variable in the file: an independent reader of our output. */
function shellValue(text: string, variable: string): string {
  return execFileSync('sh', ['-c', `eval "$1"; printf %s "$${variable}"`, 'sh', text.replace(/`[^`]*`/g, 'x').replace(/\$\([^)]*\)/g, 'x')], { encoding: 'utf8' });
}

describe('kernel command line words', () => {
  it('splits like the kernel: quotes group spaces, -- ends kernel parameters', () => {
    const p = parseKernelCmdline('root=/dev/sda1 acpi_osi="Windows 2015" "quoted=a b" -- init-arg');
    assert.deepEqual(p.params.map((x) => [x.key, x.value]), [['root', '/dev/sda1'], ['acpi_osi', 'Windows 2015'], ['quoted', 'a b']]);
    assert.equal(p.initSeparator, 'root=/dev/sda1 acpi_osi="Windows 2015" "quoted=a b" '.length);
  });
  it('treats - and _ in names as the same, the last value wins', () => {
    assert.ok(hasParam('intel-iommu=on', 'intel_iommu=on'));
    assert.deepEqual(paramValue('intel_iommu=on quiet intel-iommu=off', 'intel_iommu'), { value: 'off' });
    assert.equal(paramValue('quiet', 'iommu'), null);
  });
  it('rewrites the effective (last) occurrence in place; the earlier ones it overrides stay, so undo is exact', () => {
    const r = editKernelCmdline('a intel_iommu=off b intel-iommu=igfx_off c\n', { set: ['intel_iommu=on'] });
    assert.equal(r.text, 'a intel_iommu=off b intel_iommu=on c\n');
    assert.equal(editKernelCmdline(r.text, { set: r.replaced.map((x) => x.from) }).text, 'a intel_iommu=off b intel-iommu=igfx_off c\n');
  });
  it('adds before -- and keeps the init arguments', () => {
    assert.equal(editKernelCmdline('ro quiet -- single', { set: ['iommu=pt'] }).text, 'ro quiet iommu=pt -- single');
  });
  it('removes by key or by exact value only', () => {
    assert.equal(editKernelCmdline('iommu=pt intel_iommu=igfx_off x', { remove: ['intel_iommu=on', 'iommu'] }).text, 'intel_iommu=igfx_off x');
  });
  it('is idempotent', () => {
    const once = editKernelCmdline('root=x\n', ENABLE).text;
    const twice = editKernelCmdline(once, ENABLE);
    assert.equal(twice.changed, false);
    assert.equal(twice.text, once);
  });
});

const GRUB_CASES: { name: string; suffix: string; edit: CmdlineEdit }[] = [
  { name: 'grub-debian', suffix: 'enable', edit: ENABLE },
  { name: 'grub-rhel7', suffix: 'enable', edit: ENABLE },
  { name: 'grub-tricky-quoting', suffix: 'enable', edit: ENABLE },
  { name: 'grub-tricky-quoting', suffix: 'disable', edit: { remove: ['intel_iommu', 'iommu=pt'] } },
  { name: 'grub-continuation', suffix: 'enable', edit: ENABLE },
  { name: 'grub-existing-iommu', suffix: 'enable', edit: ENABLE },
  { name: 'grub-existing-iommu', suffix: 'disable', edit: DISABLE },
  { name: 'grub-unquoted', suffix: 'enable', edit: ENABLE },
  { name: 'grub-no-variable', suffix: 'enable', edit: ENABLE },
  { name: 'grub-enabled', suffix: 'disable', edit: DISABLE },
  { name: 'grub-enabled', suffix: 'enable', edit: ENABLE },
  // a command substitution is kept as it is; the parameters go after it (docs/apply.md)
  { name: 'grub-command', suffix: 'enable', edit: ENABLE },
];

describe('grub defaults files (golden in/out)', () => {
  for (const c of GRUB_CASES) {
    it(`${c.name} ${c.suffix}`, () => {
      const input = readGoldenInput('boot', c.name);
      const r = editGrubDefaults(input, c.edit);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      expectGoldenOutput('boot', `${c.name}.${c.suffix}.out`, r.value.text);
      // the shell agrees with our reading of the result
      // (shellValue runs no command: a substitution reads as x on both sides)
      assert.equal(shellValue(r.value.text, 'GRUB_CMDLINE_LINUX'), r.value.after.replace(/`[^`]*`/g, 'x').replace(/\$\([^)]*\)/g, 'x'));
      const eff = r.value.after;
      for (const s of c.edit.set ?? []) assert.ok(hasParam(eff, s), `${s} missing from ${eff}`);
      for (const s of c.edit.remove ?? []) assert.ok(!hasParam(eff, s), `${s} still in ${eff}`);
      // idempotent
      const again = editGrubDefaults(r.value.text, c.edit);
      assert.ok(again.ok);
      assert.equal(again.value.changed, false, `second run changed:\n${again.value.text}`);
      // every line that does not hold a command-line variable is kept byte for byte
      const untouched = (t: string): string[] => t.split('\n').filter((l) => !/GRUB_CMDLINE_LINUX/.test(l) && !/^\s+\S/.test(l) && !/^\s*\S*"\s*$/.test(l));
      assert.deepEqual(untouched(r.value.text), untouched(input));
    });
  }
  it('tricky quoting: removes the conflicting intel-iommu=off from GRUB_CMDLINE_LINUX_DEFAULT', () => {
    const r = editGrubDefaults(readGoldenInput('boot', 'grub-tricky-quoting'), ENABLE);
    assert.ok(r.ok);
    assert.equal(shellValue(r.value.text, 'GRUB_CMDLINE_LINUX_DEFAULT'), 'quiet splash acpi_osi="Windows 2015"');
  });
  for (const name of ['grub-conditional', 'grub-unterminated']) {
    it(`refuses ${name}`, () => {
      const r = editGrubDefaults(readGoldenInput('boot', name), ENABLE);
      assert.equal(r.ok, false);
      expectGoldenOutput('boot', `${name}.err`, `${r.ok ? '' : r.error.message}\n`);
      assert.equal(readGrubVariable(readGoldenInput('boot', name)).ok, false);
    });
  }
  it('reads the effective value through $VAR appends', () => {
    const v = readGrubVariable(readGoldenInput('boot', 'grub-continuation'));
    assert.ok(v.ok);
    assert.equal(v.value, shellValue(readGoldenInput('boot', 'grub-continuation'), 'GRUB_CMDLINE_LINUX'));
  });
});

describe('/etc/kernel/cmdline (golden in/out)', () => {
  for (const [name, suffix, edit] of [
    ['cmdline-plain', 'enable', ENABLE], ['cmdline-proxmox', 'enable', ENABLE], ['cmdline-enabled', 'disable', DISABLE], ['cmdline-enabled', 'enable', ENABLE],
  ] as const) {
    it(`${name} ${suffix}`, () => {
      const input = readGoldenInput('boot', name);
      const r = editKernelCmdline(input, edit);
      expectGoldenOutput('boot', `${name}.${suffix}.out`, r.text);
      assert.equal(editKernelCmdline(r.text, edit).changed, false);
      assert.ok(r.text.endsWith('\n'));
    });
  }
});
