/**
 * The virsh runner against a small stand-in executable. The real virsh and a real libvirtd are exercised
 * in test/e2e/libvirt.test.ts; the stand-in here is a shell script that records what it was given
 * (argv, LC_ALL, the XML file's mode and content) and answers like virsh does on failure, which real
 * virsh cannot report back.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Virsh, VirshError, diagnoseVirshMessage, parseVirshErrors } from '../../../src/adapters/libvirt/virsh.js';

let dir: string;
let fake: string;
let record: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-fake-virsh-'));
  record = path.join(dir, 'record.txt');
  fake = path.join(dir, 'virsh');
  // Records every argument on its own line, then LC_ALL, then mode and content of any readable file argument.
  fs.writeFileSync(
    fake,
    `#!/bin/sh
rec=${JSON.stringify(record)}
: > "$rec"
for a in "$@"; do printf 'arg:%s\\n' "$a" >> "$rec"; done
printf 'LC_ALL:%s\\n' "$LC_ALL" >> "$rec"
printf 'URI:%s\\n' "$LIBVIRT_DEFAULT_URI" >> "$rec"
for a in "$@"; do if [ -f "$a" ]; then printf 'mode:%s\\n' "$(stat -c %a "$a")" >> "$rec"; printf 'dirmode:%s\\n' "$(stat -c %a "$(dirname "$a")")" >> "$rec"; printf 'xml:%s\\n' "$(cat "$a")" >> "$rec"; fi; done
case "$*" in
  *attach-device*fail*) echo "error: Failed to attach device from $5" >&2; echo "error: Requested operation is not valid: device is already in the domain configuration" >&2; exit 1 ;;
  *nodedev-detach*) echo "error: Failed to detach device pci_0000_00_04_0" >&2; echo "error: argument unsupported: VFIO device assignment is currently not supported on this system" >&2; exit 1 ;;
  *slow*) sleep 5 ;;
  *list*) printf 'alpha\\nbeta gamma\\n\\n' ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const recorded = () => fs.readFileSync(record, 'utf8').trimEnd().split('\n');

describe('Virsh runner', () => {
  it('passes arguments without a shell, forces LC_ALL=C, and --connect when given', async () => {
    const v = new Virsh({ program: fake, uri: 'qemu:///system?socket=/tmp/s', env: { PATH: process.env.PATH, LC_ALL: 'de_DE.UTF-8' } });
    await v.run(['dumpxml', '--', '$(touch /tmp/pwned) ; name']);
    const r = recorded();
    assert.deepEqual(r.filter((l) => l.startsWith('arg:')), ['arg:--connect', 'arg:qemu:///system?socket=/tmp/s', 'arg:dumpxml', 'arg:--', 'arg:$(touch /tmp/pwned) ; name']);
    assert.ok(r.includes('LC_ALL:C'));
  });

  it('leaves the URI to LIBVIRT_DEFAULT_URI when --connect is absent', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH, LIBVIRT_DEFAULT_URI: 'qemu:///session' } });
    await v.run(['uri']);
    const r = recorded();
    assert.ok(!r.includes('arg:--connect'));
    assert.ok(r.includes('URI:qemu:///session'));
    assert.equal(v.effectiveUri, 'qemu:///session');
  });

  it('passes XML through a 0600 file in a 0700 directory and removes it', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH } });
    await v.attachDevice('g1', "<hostdev mode='subsystem' type='pci'/>", { live: false, config: true });
    const r = recorded();
    const args = r.filter((l) => l.startsWith('arg:')).map((l) => l.slice(4));
    assert.deepEqual(args.slice(0, 4), ['attach-device', '--config', '--', 'g1']);
    assert.ok(r.includes('mode:600'), r.join('\n'));
    assert.ok(r.includes('dirmode:700'), r.join('\n'));
    assert.ok(r.includes("xml:<hostdev mode='subsystem' type='pci'/>"));
    assert.equal(fs.existsSync(args[4]!), false, 'temporary file removed');
    assert.equal(fs.existsSync(path.dirname(args[4]!)), false, 'temporary directory removed');
  });

  it('--live and --config are passed as asked, and neither is refused', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH } });
    await v.detachDevice('g1', '<hostdev/>', { live: true, config: true });
    assert.deepEqual(recorded().filter((l) => l.startsWith('arg:')).slice(0, 3), ['arg:detach-device', 'arg:--live', 'arg:--config']);
    await assert.rejects(v.detachDevice('g1', '<hostdev/>', { live: false, config: false }), /neither --live nor --config/);
  });

  it('turns a failure into a VirshError with command, exit code, libvirt message and remedy', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH } });
    const e = await v.attachDevice('fail', '<hostdev/>', { live: false, config: true }).then(
      () => assert.fail('should have failed'),
      (x: unknown) => x,
    );
    assert.ok(e instanceof VirshError);
    assert.equal(e.virshExitCode, 1);
    assert.equal(e.libvirtMessage, 'Requested operation is not valid: device is already in the domain configuration');
    assert.equal(e.kind, 'duplicate');
    assert.deepEqual(e.command, ['attach-device', '--config', '--', 'fail', '<xml>']);
    assert.match(e.message, /Failed to attach device from <xml>: Requested operation is not valid/);
    assert.doesNotMatch(e.message, /vfioctl-virsh-/, 'the removed temporary path is not shown');
    assert.match(e.remedy ?? '', /already attached/);
    assert.equal(e.exitCode, 1);
    assert.deepEqual((e.toJSON() as { details: { kind: string } }).details.kind, 'duplicate');
  });

  it('explains the no-IOMMU message of nodedev-detach', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH } });
    await assert.rejects(v.nodedevDetach('pci_0000_00_04_0'), (e: unknown) => {
      assert.ok(e instanceof VirshError);
      assert.equal(e.kind, 'no-iommu');
      assert.match(e.remedy ?? '', /IOMMU/);
      assert.match(e.remedy ?? '', /vfioctl doctor/);
      return true;
    });
  });

  it('a missing virsh is a VirshError that says what to install', async () => {
    const v = new Virsh({ program: path.join(dir, 'no-such-virsh') });
    await assert.rejects(v.run(['uri']), (e: unknown) => e instanceof VirshError && e.kind === 'virsh-missing' && /libvirt-clients/.test(e.remedy ?? ''));
  });

  it('times out a hung command', async () => {
    const v = new Virsh({ program: fake, timeoutMs: 300, env: { PATH: process.env.PATH } });
    const t0 = Date.now();
    await assert.rejects(v.run(['slow']), (e: unknown) => e instanceof VirshError && e.kind === 'timeout');
    assert.ok(Date.now() - t0 < 4000);
  });

  it('splits name lists', async () => {
    const v = new Virsh({ program: fake, env: { PATH: process.env.PATH } });
    assert.deepEqual(await v.listDomainNames(), ['alpha', 'beta gamma']);
  });
});

describe('libvirt messages', () => {
  it('takes the error lines of stderr', () => {
    assert.deepEqual(parseVirshErrors('error: Failed to start domain g1\nerror: unsupported configuration: host doesn\'t support passthrough of host PCI devices\n\n'), [
      'Failed to start domain g1',
      "unsupported configuration: host doesn't support passthrough of host PCI devices",
    ]);
  });
  for (const [msg, kind] of [
    ["unsupported configuration: host doesn't support passthrough of host PCI devices", 'no-iommu'],
    ['argument unsupported: VFIO device assignment is currently not supported on this system', 'no-iommu'],
    ["failed to get domain 'nosuch'", 'domain-not-found'],
    ["Domain not found: no domain with matching name 'x'", 'domain-not-found'],
    ["Failed to connect socket to '/nonexist': No such file or directory", 'connection'],
    ['failed to connect to the hypervisor', 'connection'],
    ['device not found: device not present in domain configuration', 'not-attached'],
    ['Requested operation is not valid: domain is not running', 'not-running'],
    ['internal error: qemu unexpectedly closed the monitor: vfio 0000:01:00.0: group 14 is not viable', 'group-not-viable'],
    ['Requested operation is not valid: PCI device 0000:01:00.0 is in use by driver QEMU, domain other', 'in-use'],
  ] as const) {
    it(`${kind}: ${msg.slice(0, 50)}`, () => assert.equal(diagnoseVirshMessage(msg)?.kind, kind));
  }
  it('names the other guest for in-use', () => {
    assert.match(diagnoseVirshMessage('PCI device 0000:01:00.0 is in use by driver QEMU, domain other')?.remedy ?? '', /guest other:/);
  });
  it('unknown messages have no diagnosis', () => assert.equal(diagnoseVirshMessage('something new'), null));
});
