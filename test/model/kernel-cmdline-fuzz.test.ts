/**
 * Generated grub defaults files (fixed seed): one to three assignments of GRUB_CMDLINE_LINUX(_DEFAULT) with
 * duplicated and conflicting parameters, self appends, single/double quotes, export, trailing comments,
 * commented-out copies, LF or CR LF, with or without a final newline. For each edit: the shell reads what
 * the editor says, the intended value is in force on the generated line, a second run changes nothing,
 * line endings are kept, and undo gives back the exact original (except where a conflicting value was
 * removed from GRUB_CMDLINE_LINUX_DEFAULT, docs/apply.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { editGrubDefaults, paramValue } from '../../src/model/kernel-cmdline.js';
import type { CmdlineEdit } from '../../src/model/kernel-cmdline.js';

const CASES = 250;

test(`generated grub files (${CASES}, fixed seed)`, () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const words = ['quiet', 'splash', 'intel_iommu=off', 'intel_iommu=on', 'iommu=nopt', 'iommu=pt', 'intel-iommu=igfx_off', 'root=UUID=1', 'acpi_osi=\\"Windows 2015\\"', 'ro', 'lang=caf\xe9'];
  const sh = (text: string, v: string): string =>
    execFileSync('sh', ['-c', `eval "$1"; printf %s "$${v}"`, 'sh', text], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\r$/, '');
  const edits: CmdlineEdit[] = [{ set: ['intel_iommu=on', 'iommu=pt'] }, { remove: ['intel_iommu', 'iommu=pt'] }, { set: ['vfio-pci.ids=10de:1b80'] }];
  for (let it = 0; it < CASES; it++) {
    const eol = pick(['\n', '\r\n']);
    const lines: string[] = [];
    for (let k = 0, n = 1 + rnd(3); k < n; k++) {
      const ws = Array.from({ length: rnd(4) }, () => pick(words));
      const sep = pick([' ', '  ', '\t']);
      const self = k > 0 && rnd(2) ? pick(['$GRUB_CMDLINE_LINUX ', '${GRUB_CMDLINE_LINUX} ']) : '';
      const q = self ? '"' : pick(['"', '"', "'"]);
      const body = q === "'" ? ws.join(sep).replace(/\\"/g, '') : self + ws.join(sep);
      const name = rnd(4) === 0 ? 'GRUB_CMDLINE_LINUX_DEFAULT' : 'GRUB_CMDLINE_LINUX';
      lines.push(`${rnd(5) === 0 ? 'export ' : ''}${name}=${q}${body}${q}${rnd(4) === 0 ? '  # c' : ''}`);
      if (rnd(3) === 0) lines.push(pick(['# comment', 'GRUB_TIMEOUT=5', '', '#GRUB_CMDLINE_LINUX="intel_iommu=off"']));
    }
    const text = lines.join(eol) + (rnd(4) ? eol : '');
    const edit = pick(edits);
    const what = `${JSON.stringify(text)} ${JSON.stringify(edit)}`;
    const r = editGrubDefaults(text, edit);
    assert.ok(r.ok, what);
    const out = r.value.text;
    assert.equal(sh(out, 'GRUB_CMDLINE_LINUX'), r.value.after, what);
    const line = `${sh(out, 'GRUB_CMDLINE_LINUX')} ${sh(out, 'GRUB_CMDLINE_LINUX_DEFAULT')}`;
    for (const s of edit.set ?? []) {
      const [k, v] = s.split('=');
      assert.equal(paramValue(line, k!)?.value, v, `${what}: ${s} in force`);
    }
    for (const s of edit.remove ?? []) {
      const [k, v] = s.split('=');
      const pv = paramValue(r.value.after, k!);
      assert.ok(!pv || (v !== undefined && pv.value !== v), `${what}: ${s} gone`);
    }
    const again = editGrubDefaults(out, edit);
    assert.ok(again.ok && !again.value.changed, `${what}: idempotent`);
    if (/GRUB_CMDLINE_LINUX=/.test(text)) assert.equal((out.match(/\r\n/g) ?? []).length, (text.match(/\r\n/g) ?? []).length, what);
    if (edit.set && /GRUB_CMDLINE_LINUX=/.test(text) && !r.value.changes.some((c) => c.startsWith('GRUB_CMDLINE_LINUX_DEFAULT:'))) {
      const undo = editGrubDefaults(out, { set: r.value.replaced.map((x) => x.from), remove: r.value.added });
      assert.ok(undo.ok);
      assert.equal(undo.value.text, text, `${what}: undo`);
    }
  }
});
