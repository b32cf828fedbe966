/**
 * `vfioctl self-check`: verifies an installed copy for a bug report: its embedded or shipped data
 * (sample hosts, the asset manifest of a single executable), the pci.ids database it will use, and the
 * tools it runs on the host. Reads the running system only; changes nothing.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { HostRoot } from '../host/host-root.js';
import { readPciIds } from '../host/read-pci-ids.js';
import { embeddedAsset, embeddedManifest, isSingleExecutable, MANIFEST_ASSET } from '../host/embedded.js';
import { DEFAULT_SAMPLE, listSamples, samplesDir } from './samples.js';
import { openSession } from './session.js';
import { versionReport } from './build-info.js';
import type { SelfCheckItem, SelfCheckReport } from '../model/reports.js';

/** Tools vfioctl runs. `required`: without it no change can be applied (the rest are per host or feature). */
export const HOST_TOOLS: readonly { name: string; required: boolean; for: string; package: string }[] = [
  { name: 'modprobe', required: true, for: 'loading vfio-pci before a bind', package: 'kmod' },
  { name: 'lspci', required: false, for: 'listings to compare or paste; its package ships pci.ids', package: 'pciutils' },
  { name: 'virsh', required: false, for: 'guests, attach, detach, nodedev', package: 'libvirt-clients' },
  { name: 'udevadm', required: false, for: 'persist (udev rules)', package: 'udev' },
  { name: 'systemctl', required: false, for: 'persist (vfioctl-*.service)', package: 'systemd' },
  { name: 'update-initramfs', required: false, for: 'persist on Debian/Ubuntu initramfs', package: 'initramfs-tools' },
  { name: 'dracut', required: false, for: 'persist on Fedora/RHEL initramfs', package: 'dracut' },
  { name: 'update-grub', required: false, for: 'host enable-iommu with GRUB', package: 'grub2-common' },
];

/** The first executable NAME on PATH, or null. */
export function findOnPath(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir.startsWith('/')) continue;
    const p = join(dir, name);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

export interface SelfCheckOptions {
  /** Environment (PATH for the tools, HOME/XDG_CACHE_HOME for the sample cache). */
  env?: Record<string, string | undefined>;
}

function item(id: string, required: boolean, ok: boolean, detail: string, remedy: string | null): SelfCheckItem {
  return { id, required, ok, detail, remedy: ok ? null : remedy };
}

export function selfCheck(opts: SelfCheckOptions = {}): SelfCheckReport {
  const env = opts.env ?? process.env;
  const checks: SelfCheckItem[] = [];
  const reinstall = 'reinstall vfioctl (the package or the single executable); a copy that fails this is damaged or incomplete';

  if (isSingleExecutable()) {
    const manifest = embeddedManifest();
    if (!manifest) {
      checks.push(item('embedded-data', true, false, `no ${MANIFEST_ASSET} embedded in ${process.execPath}`, reinstall));
    } else {
      const bad: string[] = [];
      for (const a of manifest.assets) {
        const buf = embeddedAsset(a.name);
        if (!buf) bad.push(`${a.name} missing`);
        else if (buf.length !== a.bytes || createHash('sha256').update(buf).digest('hex') !== a.sha256) bad.push(`${a.name} corrupt`);
      }
      checks.push(item('embedded-data', true, bad.length === 0, bad.length ? bad.join(', ') : `${manifest.assets.length} embedded assets present, checksums match`, reinstall));
    }
  }

  const dir = samplesDir();
  const samples = listSamples();
  if (!samples.length) {
    checks.push(item('samples', true, false, `no sample hosts found${dir ? ` in ${dir}` : ''}`, reinstall));
  } else {
    let detail = `${samples.length} sample hosts in ${dir}: ${samples.join(', ')}`;
    let ok = true;
    try {
      const inv = openSession({ sample: true, env: {} }).inventory();
      if (!inv.functions.length) {
        ok = false;
        detail += `; the default sample ${DEFAULT_SAMPLE} has no PCI functions`;
      } else detail += `; ${DEFAULT_SAMPLE} reads ${inv.functions.length} functions`;
    } catch (e) {
      ok = false;
      detail += `; the default sample cannot be read: ${e instanceof Error ? e.message : String(e)}`;
    }
    checks.push(item('samples', true, ok, detail, reinstall));
  }

  const ids = readPciIds(new HostRoot('/'));
  checks.push(
    item('pci-ids', false, ids.source !== null, ids.source ? `device names from ${ids.source}` : 'no pci.ids found: output shows numeric IDs only', 'install pciutils (or hwdata), which ship /usr/share/misc/pci.ids'),
  );

  for (const t of HOST_TOOLS) {
    const at = findOnPath(t.name, env.PATH);
    checks.push(item(`tool:${t.name}`, t.required, at !== null, at ? `${at} (${t.for})` : `${t.name} not on PATH (${t.for})`, `install ${t.package}`));
  }

  const v = versionReport();
  const broken = checks.some((c) => c.required && !c.ok && !c.id.startsWith('tool:'));
  const missingTool = checks.some((c) => c.required && !c.ok && c.id.startsWith('tool:'));
  return {
    version: v.version,
    commit: v.commit,
    build: v.build,
    executable: isSingleExecutable() ? process.execPath : null,
    verdict: broken ? 'broken' : missingTool ? 'incomplete' : 'ok',
    checks,
  };
}

/** Exit code of a self-check (docs/exit-codes.md): 0 ok, 1 the copy is damaged, 3 a required tool is missing. */
export function selfCheckExitCode(r: SelfCheckReport): number {
  return r.verdict === 'broken' ? 1 : r.verdict === 'incomplete' ? 3 : 0;
}
