/**
 * Snapshots replay faithfully: every sample under samples/ and a set of synthetic trees (including hosts
 * detected as grub2 + initramfs-tools + UEFI, grubby + dracut, grub2-mkconfig on RHEL) are captured, and
 * every read-only command (`ls`, `groups`, `show` of every function, `doctor`, `plan` of a few addresses)
 * gives the same --json on the capture as on the original (root paths aside). Before captures recorded
 * existence checks, a tree detected as grub2 / initramfs-tools / UEFI / update-grub replayed as grub2 /
 * unknown / no UEFI / grub-mkconfig.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/cli.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { amdReady, hostFiles, intelReady, kernelOff, pendingReboot, vfioBuiltin } from '../support/doctor-hosts.js';
import { desktopGpu, sriovNic, conventionalBridge } from '../support/topologies.js';
import { listSamples, sampleRoot } from '../../src/cli/context.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));
const env = { VFIOCTL_PCI_IDS: '', NO_COLOR: '1' };

function tree(spec: HostSpec): string {
  const t = makeTempHostTree(spec);
  cleanups.push(t.cleanup);
  return t.root;
}

/** Debian with grub2 directories, initramfs-tools, UEFI and update-grub (all found by existence checks only). */
function grub2InitramfsUefi(): HostSpec {
  const spec = intelReady();
  return {
    ...spec,
    files: {
      ...spec.files,
      'sys/firmware/efi/runtime-map/0/type': '7\n',
      'boot/grub2/grubenv': '# GRUB Environment Block\n',
      'etc/initramfs-tools/initramfs.conf': 'MODULES=most\n',
      'usr/sbin/update-initramfs': '#!/bin/sh\n',
    },
  };
}

const SYNTHETIC: [string, () => HostSpec][] = [
  ['grub2+initramfs-tools+UEFI', grub2InitramfsUefi],
  ['intel ready (update-grub)', intelReady],
  ['amd ready (grubby, dracut, BLS)', amdReady],
  ['RHEL 7 UEFI (grub2-mkconfig)', kernelOff],
  ['pending reboot', pendingReboot],
  ['vfio built in', vfioBuiltin],
  ['SR-IOV NIC', () => ({ ...sriovNic(), files: hostFiles({ vendor: 'intel', params: 'intel_iommu=on' }) })],
  ['conventional bridge', conventionalBridge],
  ['desktop GPU, bare', desktopGpu],
];

async function json(argv: string[], root: string): Promise<{ code: number; body: unknown }> {
  const r = await runCli([...argv, '--json', '--root', root], { env });
  const unpacked = new RegExp(`${os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/vfioctl-root-[A-Za-z0-9-]+`, 'g');
  const text = r.stdout.split(root).join('ROOT').replace(unpacked, 'ROOT');
  return { code: r.code, body: text ? (JSON.parse(text) as unknown) : null };
}

async function compareAll(original: string, capture: string, what: string): Promise<number> {
  let compared = 0;
  const ls = await runCli(['ls', '--json', '--root', original], { env });
  assert.equal(ls.code, 0, `${what}: ls: ${ls.stderr}`);
  const addresses = (ls.json() as { functions: { address: string }[] }).functions.map((f) => f.address);
  const commands: string[][] = [['ls'], ['groups'], ['doctor'], ...addresses.map((a) => ['show', a])];
  for (const a of [addresses[0], addresses[Math.floor(addresses.length / 2)], addresses[addresses.length - 1]]) if (a) commands.push(['plan', a]);
  if (addresses[0]) commands.push(['doctor', addresses[0]]);
  for (const argv of commands) {
    const a = await json(argv, original);
    const b = await json(argv, capture);
    assert.equal(b.code, a.code, `${what}: ${argv.join(' ')} exit code`);
    assert.deepEqual(b.body, a.body, `${what}: ${argv.join(' ')} differs on replay`);
    compared++;
  }
  return compared;
}

describe('snapshots replay every read-only command identically', () => {
  const samples = listSamples();
  it('there are samples to capture', () => assert.ok(samples.length >= 2, samples.join(', ')));
  for (const name of samples) {
    it(`sample ${name}`, async () => {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-snap-')), 'cap');
      cleanups.push(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
      const s = await runCli(['snapshot', out, '--root', sampleRoot(name)], { env });
      assert.equal(s.code, 0, s.stderr);
      assert.ok((await compareAll(sampleRoot(name), out, name)) > 3);
    });
  }
  for (const [name, spec] of SYNTHETIC) {
    it(`synthetic ${name}`, async () => {
      const root = tree(spec());
      const archive = name.startsWith('grub2');
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-snap-')), archive ? 'cap.tar.gz' : 'cap');
      cleanups.push(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
      const s = await runCli(['snapshot', out, '--root', root], { env });
      assert.equal(s.code, 0, s.stderr);
      if (archive) assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      assert.ok((await compareAll(root, out, name)) > 3);
    });
  }

  it('the grub2 + initramfs-tools + UEFI host is detected as such on the original and on the capture', async () => {
    const root = tree(grub2InitramfsUefi());
    fs.chmodSync(path.join(root, 'usr/sbin/update-grub'), 0o755);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-snap-')), 'cap');
    cleanups.push(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
    assert.equal((await runCli(['snapshot', out, '--root', root], { env })).code, 0);
    for (const r of [root, out]) {
      const d = await json(['doctor'], r);
      const text = JSON.stringify(d.body);
      assert.match(text, /grub2/, `${r}: boot loader`);
      assert.match(text, /initramfs-tools/, `${r}: initramfs tool`);
      assert.match(text, /update-grub/, `${r}: regeneration command`);
    }
    // What was checked and absent stays absent; what existed unread is a placeholder of the same kind.
    assert.ok(fs.statSync(path.join(out, 'sys/firmware/efi')).isDirectory());
    assert.ok(fs.statSync(path.join(out, 'usr/sbin/update-grub')).mode & 0o100, 'the tool keeps its executable bit');
    assert.ok(!fs.existsSync(path.join(out, 'etc/mkinitcpio.conf')));
    assert.ok(!fs.existsSync(path.join(out, 'etc/kernel/proxmox-boot-uuids')));
  });
});
