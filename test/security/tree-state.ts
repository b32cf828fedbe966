/** Byte-for-byte picture of a host tree (content, mode, link targets) for the security suites. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

/** root-relative path -> "MODE kind digest"; `skip` drops paths (state directory, fake bookkeeping). */
export function treeState(root: string, skip: RegExp = /^var\/lib\/vfioctl(\/|$)|^\.fake-kernel\.json$|^fake\.log$/): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const abs = rel ? path.join(root, rel) : root;
    for (const name of fs.readdirSync(abs)) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.test(r)) continue;
      const st = fs.lstatSync(path.join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `${mode} link ${fs.readlinkSync(path.join(root, r))}`;
      else if (st.isDirectory()) {
        out[r] = `${mode} dir`;
        walk(r);
      } else out[r] = `${mode} file ${createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex').slice(0, 16)}`;
    }
  };
  walk('');
  return out;
}

export function treeDiff(a: Record<string, string>, b: Record<string, string>, ignore?: RegExp): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k] && !(ignore && ignore.test(k))).sort();
}

/** A directory of fake executables that append "NAME ARGS" to $FAKE_LOG (and never do anything else). */
export function fakeBin(dir: string, names: readonly string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) fs.writeFileSync(path.join(dir, n), `#!/bin/sh\necho "${n} $*" >> "$FAKE_LOG"\n`, { mode: 0o755 });
  return dir;
}
