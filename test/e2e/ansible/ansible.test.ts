/**
 * The Ansible role and module with Debian's ansible-core, against localhost over a local connection and a
 * --root fixture tree (the kernel-like fake moves the drivers): a bind, the idempotent second run,
 * check mode, diff mode for persist, a refused (blocked) plan, and release.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeTempHostTree } from '../../support/host-tree.js';
import { SPEC, debianFiles, driverOf } from '../../apply/helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(HERE, '..', '..', '..');
const playbook = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
const skip = playbook.status !== 0 ? 'ansible-playbook is not installed (Debian package ansible-core)' : false;

interface TaskResult { changed: boolean; failed?: boolean; msg: string; claim?: string[]; diff?: { before_header: string; before: string; after: string }[]; remedy?: string }

describe('Ansible: role vfioctl, module vfioctl_device', { skip }, () => {
  let work = '';
  let tree: { root: string; cleanup(): void };
  let bin = '';
  before(() => {
    if (skip) return;
    console.log(`# ${playbook.stdout.split('\n')[0]}`);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-ansible-'));
    tree = makeTempHostTree({ ...SPEC, files: { ...(SPEC.files ?? {}), ...debianFiles() } });
    bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    for (const name of ['update-grub', 'update-initramfs', 'udevadm', 'systemctl']) fs.writeFileSync(path.join(bin, name), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'vfioctl'), `#!/bin/sh\ncd "${PROJECT}" || exit 1\nexec "${process.execPath}" --import tsx "${path.join(HERE, 'vfioctl-entry.ts')}" "$@"\n`, { mode: 0o755 });
  });
  after(() => {
    if (skip) return;
    tree.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });

  function play(vars: Record<string, unknown>, flags: string[] = []): { results: TaskResult; rc: number; out: string } {
    const out = path.join(work, `result-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    const pb = path.join(work, 'site.yml');
    const varsYaml = Object.entries({ vfioctl_root: tree.root, ...vars }).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`).join('\n');
    fs.writeFileSync(pb, `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - block:\n        - ansible.builtin.include_role:\n            name: vfioctl\n          vars:\n${varsYaml.replace(/^ {8}/gm, '            ')}\n      always:\n        - ansible.builtin.copy:\n            content: "{{ vfioctl_result | to_json }}"\n            dest: ${out}\n          check_mode: false\n          diff: false\n`);
    const r = spawnSync('ansible-playbook', ['-i', 'localhost,', '-c', 'local', pb, ...flags], {
      encoding: 'utf8',
      cwd: PROJECT,
      timeout: 120_000,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME ?? '/root', ANSIBLE_ROLES_PATH: path.join(PROJECT, 'ansible', 'roles'), ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false', VFIOCTL_TEST_LIVE_ROOT: tree.root, NO_COLOR: '1' },
    });
    assert.ok(fs.existsSync(out), `no result written:\n${r.stdout}\n${r.stderr}`);
    return { results: JSON.parse(fs.readFileSync(out, 'utf8')) as TaskResult, rc: r.status ?? -1, out: r.stdout + r.stderr };
  }

  it('state bound moves the group to vfio-pci; the second run reports changed: false', () => {
    const first = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'bound' });
    assert.equal(first.rc, 0, first.out);
    assert.equal(first.results.changed, true, first.out);
    assert.deepEqual(first.results.claim, ['0000:02:00.0', '0000:02:00.1']);
    assert.equal(driverOf(tree.root, '0000:02:00.0'), 'vfio-pci');
    assert.equal(driverOf(tree.root, '0000:02:00.1'), 'vfio-pci');
    const second = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'bound' });
    assert.equal(second.rc, 0, second.out);
    assert.equal(second.results.changed, false, second.out);
    assert.match(second.out, /localhost\s*: ok=\d+\s+changed=1\b/, 'only the result copy changed');
  });

  it('check mode says what release would do and changes nothing; release then gives the functions back', () => {
    const check = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'released' }, ['--check']);
    assert.equal(check.rc, 0, check.out);
    assert.equal(check.results.changed, true);
    assert.match(check.results.msg, /check mode/);
    assert.equal(driverOf(tree.root, '0000:02:00.0'), 'vfio-pci');
    const rel = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'released' });
    assert.equal(rel.results.changed, true, rel.out);
    assert.equal(driverOf(tree.root, '0000:02:00.0'), 'nouveau');
    const again = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'released' });
    assert.equal(again.results.changed, false, again.out);
  });

  it('diff mode shows the file the persist step writes; a second persist is changed: false', () => {
    const d = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'persisted' }, ['--diff', '--check']);
    assert.equal(d.rc, 0, d.out);
    assert.equal(d.results.changed, true);
    assert.ok(d.results.diff?.length, d.out);
    assert.ok(d.results.diff!.some((x) => /modprobe\.d\/vfioctl/.test(x.before_header) && /vfio-pci/.test(x.after)), JSON.stringify(d.results.diff));
    assert.ok(!fs.existsSync(path.join(tree.root, d.results.diff![0]!.before_header)), 'check mode wrote nothing');
    const p = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'persisted' });
    assert.equal(p.results.changed, true, p.out);
    const p2 = play({ vfioctl_devices: ['02:00.0'], vfioctl_state: 'persisted' });
    assert.equal(p2.results.changed, false, p2.out);
  });

  it('a blocked plan fails the task with the reason and a remedy, and changes nothing', () => {
    const r = play({ vfioctl_devices: ['00:06.0'], vfioctl_state: 'bound' });
    assert.notEqual(r.rc, 0);
    assert.equal(r.results.failed, true);
    assert.match(r.results.msg, /blocked/);
    assert.ok(r.results.remedy);
    assert.equal(driverOf(tree.root, '0000:00:06.0'), 'bochs-drm');
  });
});

describe('the executable as a binary module', () => {
  it('`vfioctl ARGS_FILE` with an Ansible arguments file runs the module (as Ansible runs a binary module)', async () => {
    const { runCli } = await import('../../support/cli.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-binmod-'));
    try {
      const args = path.join(dir, 'args');
      fs.writeFileSync(args, JSON.stringify({ state: 'bound', devices: ['02:00.0'], root: '/nonexistent-root', _ansible_check_mode: true, _ansible_diff: false }));
      const r = await runCli([args]);
      const j = JSON.parse(r.stdout) as { failed: boolean; msg: string };
      assert.equal(j.failed, true);
      assert.ok(j.msg.length > 0, r.stdout);
      fs.writeFileSync(args, '{"state": "bound"}');
      const plain = await runCli([args]);
      assert.notEqual(plain.code, 0, 'a file without Ansible keys is not taken as module arguments');
      assert.equal(plain.stdout.trim().startsWith('{'), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
