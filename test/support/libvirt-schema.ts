/**
 * libvirt's own schema check for generated XML: virt-xml-validate (libvirt-clients), which runs xmllint
 * (libxml2-utils) against the RelaxNG schemas of the installed libvirt.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Both tools are on PATH. */
export const hasLibvirtValidator: boolean =
  spawnSync('sh', ['-c', 'command -v virt-xml-validate && command -v xmllint'], { encoding: 'utf8' }).status === 0;

export const NO_VALIDATOR = 'virt-xml-validate is not installed (apt-get install libvirt-clients libxml2-utils): schema validation skipped';

/** The XML validates against libvirt's schema for `kind` (domain, network, nodedev, ...). */
export function assertValidLibvirtXml(xml: string, kind = 'domain'): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-xml-'));
  try {
    const f = path.join(dir, `${kind}.xml`);
    fs.writeFileSync(f, xml);
    const r = spawnSync('virt-xml-validate', [f, kind], { encoding: 'utf8' });
    assert.equal(r.status, 0, `virt-xml-validate rejected the ${kind}:\n${r.stdout}${r.stderr}\n${xml}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Validate a domain, or mark the test skipped (with the reason) where the validator is missing. */
export function validateDomain(t: { skip(msg: string): void }, xml: string): void {
  if (!hasLibvirtValidator) t.skip(NO_VALIDATOR);
  else assertValidLibvirtXml(xml);
}
