/**
 * `vfioctl doctor` against a real, private libvirt daemon: the libvirt finding reports the daemon's
 * version and whether domcapabilities offers the vfio PCI hostdev backend, checked against virsh itself.
 * Runs on the live host root (/), the only case where doctor spawns virsh.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.js';
import { startLibvirtd, type Libvirtd } from '../support/libvirtd.js';

const started = await startLibvirtd();
let daemon: Libvirtd | null = null;
if (!started.ok) {
  console.log(`# doctor libvirt suite SKIPPED: ${started.skip}`);
  test('doctor reports libvirt from a real daemon', { skip: started.skip }, () => {});
} else {
  daemon = started.daemon;
  after(async () => daemon?.stop());

  test('doctor reports libvirt version and vfio backend as virsh shows them', { timeout: 180_000 }, async () => {
    const d = daemon!;
    const version = /Using library: libvirt (\S+)/.exec(d.virsh(['version']).stdout)?.[1];
    assert.ok(version, 'oracle: virsh version');
    const caps = d.virsh(['domcapabilities']).stdout;
    const oracleVfio = /<enum name=.pciBackend.>[\s\S]*?<value>vfio<\/value>[\s\S]*?<\/enum>/.test(caps);

    const r = await runCli(['doctor', '--root', '/', '--json'], { env: { LIBVIRT_DEFAULT_URI: d.uri } });
    assert.ok(r.code === 0 || r.code === 3, r.stderr);
    const f = (r.json<{ findings: { id: string; severity: string; summary: string; evidence: { source: string; value: string }[] }[] }>()).findings.find((x) => x.id === 'libvirt');
    assert.ok(f);
    assert.match(f.summary, new RegExp(`libvirt ${version!.replace(/\./g, '\\.')}`));
    if (oracleVfio) {
      assert.equal(f.severity, 'ok');
      assert.ok(f.evidence.some((e) => e.source === 'virsh domcapabilities' && /\bvfio\b/.test(e.value)));
    } else {
      // A host without an IOMMU (like the machine these tests were written on) offers no backend.
      assert.equal(f.severity, 'warn');
      assert.match(f.summary, /no vfio PCI hostdev backend/);
    }

    const off = await runCli(['doctor', '--root', '/', '--json', '--no-libvirt'], { env: { LIBVIRT_DEFAULT_URI: d.uri } });
    const g = off.json<{ findings: { id: string; summary: string }[] }>().findings.find((x) => x.id === 'libvirt');
    assert.match(g!.summary, /not checked \(--no-libvirt\)/);
  });
}
