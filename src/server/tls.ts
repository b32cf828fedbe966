/**
 * TLS for `vfioctl serve`: a certificate and key the user gives (--tls-cert/--tls-key), or a self-signed
 * certificate made for this process by openssl (P-256, 30 days, the listen address and localhost as
 * subject alternative names). The key is only ever in memory and in a 0700 temporary directory that is
 * removed at once. Either way the SHA-256 fingerprint is printed, so a person can check what the browser
 * shows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { createExec } from '../adapters/exec.js';
import { UsageError, VfioctlError } from '../model/errors.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, colon-separated hex (as browsers show it) */
  fingerprint: string;
  selfSigned: boolean;
}

const MAX_PEM = 256 * 1024;

function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('tls-unreadable', `cannot read the TLS ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `check the path and that this user can read it`);
  }
  if (text.length > MAX_PEM) throw new UsageError('tls-bad', `the TLS ${what} ${file} is larger than ${MAX_PEM} bytes`, `give a PEM ${what}`);
  return text;
}

/** The certificate and key from files, checked to parse and to belong together. */
export function tlsFromFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new UsageError('tls-bad', `${certFile} is not a PEM certificate (${(e as Error).message})`, 'give the PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
  try {
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  } catch (e) {
    throw new UsageError('tls-bad', `${keyFile} is not the private key of ${certFile} (${(e as Error).message})`, 'give the unencrypted PEM private key that matches the certificate');
  }
  return { cert, key, fingerprint: x.fingerprint256, selfSigned: false };
}

/** A fresh self-signed certificate for `host` (and localhost, 127.0.0.1, ::1). */
export async function selfSignedTls(host: string, env: Record<string, string | undefined>): Promise<TlsMaterial> {
  const dir = mkdtempSync(join(tmpdir(), 'vfioctl-tls-'));
  try {
    const san = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    if (isIP(host)) san.add(`IP:${host}`);
    else if (/^[A-Za-z0-9.-]{1,253}$/.test(host)) san.add(`DNS:${host}`);
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    await createExec({ env: { PATH: env.PATH ?? '/usr/bin:/bin' }, defaultTimeoutMs: 30_000 }).run([
      'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256', '-days', '30',
      '-subj', '/CN=vfioctl serve', '-addext', `subjectAltName=${[...san].join(',')}`, '-keyout', keyFile, '-out', certFile,
    ]).catch((e: unknown) => {
      throw new VfioctlError('tls-self-signed-failed', `could not make a self-signed certificate with openssl: ${(e as Error).message}`, {
        remedy: 'install openssl, or give a certificate with --tls-cert FILE --tls-key FILE',
      });
    });
    const t = tlsFromFiles(certFile, keyFile);
    return { ...t, selfSigned: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
