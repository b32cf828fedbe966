/**
 * Messy, real-world-shaped grub defaults files and /etc/kernel/cmdline files: each is edited (enable the
 * IOMMU), checked against a golden output, checked that only the intended words changed and every other
 * byte (line endings, comments, order, BOM, non-UTF-8 bytes) stayed, that a second run changes nothing,
 * that the shell reads the value we say it reads, and that undoing the edit (setting back what was
 * replaced, removing what was added) gives back the exact original text.
 * Texts are one char per byte (as files read latin1-decoded are), so \xNN below are raw bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { editGrubDefaults, editKernelCmdline, parseKernelCmdline, paramValue, readGrubVariable } from '../../src/model/kernel-cmdline.js';
import type { CmdlineEdit } from '../../src/model/kernel-cmdline.js';
import { expectGolden } from '../support/golden.js';

const ENABLE: CmdlineEdit = { set: ['intel_iommu=on', 'iommu=pt'] };

interface Variant {
  name: string;
  text: string;
  /** undo gives back the exact bytes (false where the edit had to add quotes or a whole line) */
  exactUndo?: boolean;
  /** the value holds something only a shell run with the host's commands can tell ($(...), other variables) */
  noShellCheck?: boolean;
  /** the notes must mention this */
  note?: RegExp;
}

const GRUB_VARIANTS: Variant[] = [
  { name: 'debian-crlf', text: 'GRUB_DEFAULT=0\r\nGRUB_TIMEOUT=5\r\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\r\nGRUB_CMDLINE_LINUX=""\r\n' },
  { name: 'crlf-values', text: '# edited on Windows\r\nGRUB_CMDLINE_LINUX="rhgb quiet"\r\nGRUB_DISABLE_RECOVERY="true"\r\n' },
  {
    name: 'rhel8-crashkernel',
    text: 'GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\nGRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\nGRUB_CMDLINE_LINUX="resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet $([ -x /usr/sbin/rhcrashkernel-param ] && /usr/sbin/rhcrashkernel-param || :)"\nGRUB_DISABLE_RECOVERY="true"\nGRUB_ENABLE_BLSCFG=true\n',
    noShellCheck: true,
    note: /rhcrashkernel-param.*only known when grub-mkconfig runs/,
  },
  { name: 'substitution-with-quotes', text: 'GRUB_CMDLINE_LINUX="quiet $(cat "/etc/cmd line" | tr -d \')\') intel_iommu=off"\n', noShellCheck: true, note: /cat/ },
  { name: 'backtick-command', text: 'GRUB_CMDLINE_LINUX="`cat /etc/extra-cmdline` quiet"\n', noShellCheck: true, note: /cat \/etc\/extra-cmdline/ },
  { name: 'duplicate-params', text: 'GRUB_CMDLINE_LINUX="intel_iommu=on quiet intel_iommu=off iommu=nopt iommu=nopt"\n' },
  { name: 'duplicate-params-last-ok', text: 'GRUB_CMDLINE_LINUX="intel_iommu=off quiet intel_iommu=on"\n' },
  { name: 'commented-copies', text: '#GRUB_CMDLINE_LINUX="intel_iommu=off"\nGRUB_CMDLINE_LINUX="quiet"\n  # GRUB_CMDLINE_LINUX="iommu=soft"\n#GRUB_CMDLINE_LINUX_DEFAULT="intel_iommu=off"\n' },
  { name: 'duplicate-assignments', text: 'GRUB_CMDLINE_LINUX="old intel_iommu=off"\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="quiet splash"\n' },
  { name: 'self-append-chain', text: 'GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} intel_iommu=off"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b"\n' },
  { name: 'single-quotes', text: "GRUB_CMDLINE_LINUX='quiet splash'\n" },
  { name: 'no-trailing-newline', text: 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet"' },
  { name: 'tabs', text: 'GRUB_CMDLINE_LINUX="\tquiet\tsplash\t"\t# tabbed\n\tGRUB_TIMEOUT=3\n' },
  { name: 'bom-bytes', text: '\xEF\xBB\xBF# written by an editor that adds a BOM\nGRUB_CMDLINE_LINUX="quiet"\n' },
  { name: 'bom-char', text: '\uFEFF# BOM as a decoded char\nGRUB_CMDLINE_LINUX="quiet"\n' },
  { name: 'latin1-bytes', text: '# r\xE9glage \xFF\xFE\x80 not UTF-8\nGRUB_CMDLINE_LINUX="quiet lang=caf\xE9"\nGRUB_TIMEOUT=3\n' },
  { name: 'export-semicolons', text: 'export GRUB_CMDLINE_LINUX="a b"; GRUB_TIMEOUT=5 # both on one line\n' },
  // the conflicting words go from GRUB_CMDLINE_LINUX_DEFAULT; undo does not put them back there (docs/apply.md)
  { name: 'scrub-default', text: 'GRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=nopt intel_iommu=off"\nGRUB_CMDLINE_LINUX="rd.auto"\n', exactUndo: false },
  { name: 'already-enabled', text: 'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"   # done\n' },
  { name: 'quoted-param-value', text: 'GRUB_CMDLINE_LINUX="acpi_osi=\\"Windows 2015\\" quiet"\n' },
  { name: 'other-variable', text: 'EXTRA="console=ttyS0"\nGRUB_CMDLINE_LINUX="$EXTRA quiet"\n', noShellCheck: true, note: /\$EXTRA/ },
  { name: 'concatenated-quoting', text: 'GRUB_CMDLINE_LINUX="quiet "\'splash\'\n' },
  { name: 'unquoted-crlf', text: 'GRUB_CMDLINE_LINUX=quiet\r\nGRUB_TIMEOUT=1\r\n', exactUndo: false },
  { name: 'spaces-inside', text: 'GRUB_CMDLINE_LINUX="  quiet   splash  "\n' },
  { name: 'continuation', text: 'GRUB_CMDLINE_LINUX="root=UUID=1 \\\n    ro \\\n    quiet"\n' },
  { name: 'unrelated-if-block', text: 'if [ -e /sys/firmware/efi ]; then\n  GRUB_TIMEOUT=1\nfi\nGRUB_CMDLINE_LINUX="quiet"\n' },
  { name: 'no-variable-crlf', text: 'GRUB_DEFAULT=0\r\nGRUB_TIMEOUT=3\r\n', exactUndo: false },
  { name: 'empty-file', text: '', exactUndo: false },
];

/** What a POSIX shell makes of a variable in the file: an independent reader of our output. */
function shellValue(text: string, variable: string): string {
  return execFileSync('sh', ['-c', `eval "$1"; printf %s "$${variable}"`, 'sh', text], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

function words(value: string): string[] {
  return parseKernelCmdline(value).params.map((p) => p.raw);
}

function minus(a: string[], b: string[]): string[] {
  const rest = [...b];
  return a.filter((w) => {
    const k = rest.indexOf(w);
    if (k < 0) return true;
    rest.splice(k, 1);
    return false;
  });
}

const count = (t: string, s: string): number => t.split(s).length - 1;

describe(`grub defaults variants (${GRUB_VARIANTS.length})`, () => {
  for (const v of GRUB_VARIANTS) {
    it(v.name, () => {
      const r = editGrubDefaults(v.text, ENABLE);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      const out = r.value.text;
      expectGolden(`boot/variants/${v.name}.enable.out`, out);
      assert.ok(!/\r[^\n]/.test(out.replace(/\r$/, '')) || /\r[^\n]/.test(v.text), 'no CR outside line endings');
      assert.ok(!/"[^"\n]*\r"/.test(out), 'no CR inside quotes');
      // the effective value: both parameters in force (their last occurrence)
      assert.deepEqual(paramValue(r.value.after, 'intel_iommu'), { value: 'on' });
      assert.deepEqual(paramValue(r.value.after, 'iommu'), { value: 'pt' });
      if (!v.noShellCheck) {
        // a CR LF file: the shell keeps the CR of the line ending after the closing quote (the kernel reads it as a blank)
        assert.equal(shellValue(out, 'GRUB_CMDLINE_LINUX').replace(/\r$/, ''), r.value.after, 'the shell reads what we say');
        const d = shellValue(out, 'GRUB_CMDLINE_LINUX_DEFAULT');
        assert.ok(paramValue(`${r.value.after} ${d}`, 'intel_iommu')?.value === 'on', 'GRUB_CMDLINE_LINUX_DEFAULT does not override');
      }
      if (v.note) assert.match(r.value.notes.join('\n'), v.note);
      // only the intended words changed
      const gained = minus(words(r.value.after), words(r.value.before));
      const lost = minus(words(r.value.before), words(r.value.after));
      for (const w of gained) assert.ok(['intel_iommu=on', 'iommu=pt'].includes(w), `unexpected new word ${w}`);
      for (const w of lost) assert.match(w, /^(intel_iommu|iommu)=/, `unexpected lost word ${w}`);
      // line endings and the lines that do not hold the edited variables are kept
      const addedLine = !/GRUB_CMDLINE_LINUX=/.test(v.text);
      if (!addedLine) {
        assert.equal(count(out, '\r\n'), count(v.text, '\r\n'));
        assert.equal(count(out, '\n'), count(v.text, '\n'));
        const a = v.text.split('\n');
        const b = out.split('\n');
        a.forEach((line, k) => {
          if (line !== b[k]) assert.match(line + (a[k - 1] ?? ''), /GRUB_CMDLINE_LINUX|\\$/, `line ${k + 1} changed: ${JSON.stringify(line)} -> ${JSON.stringify(b[k])}`);
        });
      } else {
        assert.ok(out.startsWith(v.text));
      }
      // idempotent
      const again = editGrubDefaults(out, ENABLE);
      assert.ok(again.ok);
      assert.equal(again.value.changed, false, again.value.text);
      // undo: set back what was replaced, remove what was added
      const undo = editGrubDefaults(out, { set: r.value.replaced.map((x) => x.from), remove: r.value.added });
      assert.ok(undo.ok, undo.ok ? '' : undo.error.message);
      if (v.exactUndo !== false) assert.equal(undo.value.text, v.text, 'undo gives back the exact original');
      assert.equal(undo.value.after.replace(/\s+/g, ' ').trim(), r.value.before.replace(/\s+/g, ' ').trim());
    });
  }
});

const REFUSED: { name: string; text: string; why: RegExp }[] = [
  { name: 'if-block', text: 'if [ -e /sys/firmware/efi ]; then\n  GRUB_CMDLINE_LINUX="efi"\nelse\n  GRUB_CMDLINE_LINUX="bios"\nfi\n', why: /inside if\/case/ },
  { name: 'if-block-crlf', text: 'if [ -e /etc/serial ]\r\nthen\r\n  GRUB_CMDLINE_LINUX="console=ttyS0"\r\nfi\r\n', why: /inside if\/case/ },
  { name: 'and-and', text: '[ -e /etc/serial ] &&\n  GRUB_CMDLINE_LINUX="console=ttyS0"\n', why: /after && or \|\|/ },
  { name: 'case', text: 'case "$(uname -m)" in\n  x86_64) GRUB_CMDLINE_LINUX="a" ;;\nesac\n', why: /statement vfioctl does not edit/ },
  { name: 'case-multiline', text: 'case "$(uname -m)" in\n  x86_64)\n    GRUB_CMDLINE_LINUX="a"\n    ;;\nesac\n', why: /inside if\/case/ },
  { name: 'function', text: 'setup() {\n  GRUB_CMDLINE_LINUX="quiet"\n}\nsetup\n', why: /inside if\/case/ },
  { name: 'subshell', text: '(\nGRUB_CMDLINE_LINUX="quiet"\n)\n', why: /inside if\/case/ },
  { name: 'plus-equals', text: 'GRUB_CMDLINE_LINUX="quiet"\nGRUB_CMDLINE_LINUX+=" splash"\n', why: /\+=/ },
  { name: 'unbalanced-quote', text: 'GRUB_CMDLINE_LINUX="quiet\n', why: /unterminated double quote/ },
  { name: 'unbalanced-if', text: 'if true; then\nGRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX="quiet"\n', why: /inside if\/case|do not balance/ },
  { name: 'crlf-continuation', text: 'GRUB_CMDLINE_LINUX=quiet\\\r\nsplash\r\n', why: /backslash before CR LF/ },
  { name: 'bom-first-line', text: '\xEF\xBB\xBFGRUB_CMDLINE_LINUX="quiet"\n', why: /byte order mark/ },
  { name: 'unterminated-substitution', text: 'GRUB_CMDLINE_LINUX="quiet $(echo intel_iommu=off"\n', why: /unterminated/ },
  { name: 'here-document', text: 'cat > /tmp/x <<EOF\nGRUB_CMDLINE_LINUX="not an assignment"\nEOF\nGRUB_CMDLINE_LINUX="quiet"\n', why: /here-document/ },
  { name: 'one-use-prefix', text: 'GRUB_CMDLINE_LINUX="quiet" update-grub\n', why: /statement vfioctl does not edit/ },
];

describe(`grub defaults files vfioctl refuses (${REFUSED.length})`, () => {
  for (const c of REFUSED) {
    it(c.name, () => {
      const r = editGrubDefaults(c.text, ENABLE);
      assert.equal(r.ok, false, r.ok ? r.value.text : '');
      if (!r.ok) {
        assert.match(r.error.message, c.why);
        assert.ok(r.error.remedy && r.error.remedy.length > 10);
      }
      assert.equal(readGrubVariable(c.text).ok, false, 'the reader does not claim to know the value either');
    });
  }
});

const CMDLINE_VARIANTS: Variant[] = [
  { name: 'cmdline-crlf', text: 'root=UUID=1 ro quiet\r\n' },
  { name: 'cmdline-no-newline', text: 'root=UUID=1 ro quiet' },
  { name: 'cmdline-comments', text: '# managed by hand\nroot=UUID=1 ro\n# intel_iommu=off\n' },
  { name: 'cmdline-bom', text: '\xEF\xBB\xBFroot=UUID=1 ro\n' },
  { name: 'cmdline-duplicates', text: 'intel_iommu=on root=UUID=1 intel_iommu=off iommu=nopt\n' },
  { name: 'cmdline-tabs', text: 'root=UUID=1\t\tro  quiet \n' },
  { name: 'cmdline-empty', text: '' },
  { name: 'cmdline-newline-only', text: '\n' },
  { name: 'cmdline-init-args-crlf', text: 'root=ZFS=rpool/ROOT/pve-1 boot=zfs -- single\r\n' },
  { name: 'cmdline-quoted', text: 'root=UUID=1 acpi_osi="Windows 2015" quiet\n' },
  { name: 'cmdline-two-lines', text: 'root=UUID=1 ro\nquiet splash\n' },
  { name: 'cmdline-latin1', text: 'root=UUID=1 lang=caf\xE9 \xFF\n' },
  { name: 'cmdline-comment-only', text: '# nothing yet\n' },
];

describe(`/etc/kernel/cmdline variants (${CMDLINE_VARIANTS.length})`, () => {
  for (const v of CMDLINE_VARIANTS) {
    it(v.name, () => {
      const r = editKernelCmdline(v.text, ENABLE);
      expectGolden(`boot/variants/${v.name}.enable.out`, r.text);
      const masked = r.text.split('\n').filter((l) => !/^\s*#/.test(l)).join(' ');
      assert.deepEqual(paramValue(masked, 'intel_iommu'), { value: 'on' });
      assert.deepEqual(paramValue(masked, 'iommu'), { value: 'pt' });
      assert.equal(count(r.text, '\r\n'), count(v.text, '\r\n'));
      if (v.name !== 'cmdline-comment-only') assert.equal(count(r.text, '\n'), count(v.text, '\n'));
      for (const line of v.text.split('\n').filter((l) => /^\s*#/.test(l))) assert.ok(r.text.includes(line), `comment kept: ${line}`);
      assert.equal(editKernelCmdline(r.text, ENABLE).changed, false);
      const undo = editKernelCmdline(r.text, { set: r.replaced.map((x) => x.from), remove: r.added });
      if (v.name !== 'cmdline-comment-only') assert.equal(undo.text, v.text, 'undo gives back the exact original');
    });
  }
});

describe('duplicated parameters (the kernel uses the last)', () => {
  it('enable then undo ends with the IOMMU as it was, byte for byte', () => {
    const text = 'GRUB_CMDLINE_LINUX="intel_iommu=on quiet intel_iommu=off"\n';
    const r = editGrubDefaults(text, ENABLE);
    assert.ok(r.ok);
    assert.deepEqual(r.value.replaced, [{ from: 'intel_iommu=off', to: 'intel_iommu=on' }]);
    const undo = editGrubDefaults(r.value.text, { set: ['intel_iommu=off'], remove: r.value.added });
    assert.ok(undo.ok);
    assert.equal(undo.value.text, text);
    assert.deepEqual(paramValue(undo.value.after, 'intel_iommu'), { value: 'off' });
  });
  it('remove takes every occurrence, so no earlier one takes over', () => {
    assert.equal(editKernelCmdline('iommu=pt quiet iommu=pt\n', { remove: ['iommu=pt'] }).text, 'quiet\n');
    const r = editGrubDefaults('GRUB_CMDLINE_LINUX="iommu=pt a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt"\n', { remove: ['iommu'] });
    assert.ok(r.ok);
    assert.equal(paramValue(r.value.after, 'iommu'), null);
  });
});
