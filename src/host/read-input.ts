/**
 * Bounded reads of inputs a person names on the command line (`--from FILE`, `-` for standard input):
 * files other people produce, so every read has a size cap and a clear error instead of a crash.
 */
import * as fs from 'node:fs';
import { UsageError } from '../model/errors.js';

/** Default cap for an imported listing: `lspci -nnk` of a 4096-function host is well under 2 MiB. */
export const INPUT_FILE_CAP = 16 * 1024 * 1024;

const REMEDY = 'pass a file with `lspci -nn`/`-nnk`/`-vvv`, an IOMMU group listing or `virsh nodedev-dumpxml` output (or - for standard input)';

/**
 * Read `pathOrDash` ("-" = standard input) as UTF-8 text, at most `maxBytes`. Pipes and process
 * substitution (<(lspci -nn)) work; a directory, an endless device (/dev/zero) or a file over the cap is
 * refused with a UsageError.
 */
export function readInputFile(pathOrDash: string, maxBytes: number = INPUT_FILE_CAP): string {
  return readInputBytes(pathOrDash, maxBytes).toString('utf8');
}

/** readInputFile's bytes, undecoded. */
export function readInputBytes(pathOrDash: string, maxBytes: number = INPUT_FILE_CAP): Buffer {
  let fd: number;
  const stdin = pathOrDash === '-';
  try {
    fd = stdin ? 0 : fs.openSync(pathOrDash, 'r');
  } catch (e) {
    throw new UsageError('bad-from', `cannot read ${pathOrDash}: ${(e as Error).message}`, REMEDY);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new UsageError('bad-from', `cannot read ${pathOrDash}: it is a directory`, REMEDY);
    if (st.isFile() && st.size > maxBytes) throw tooBig(pathOrDash, maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // a non-blocking standard input with nothing yet: wait a little
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        if (code === 'EOF') break;
        throw new UsageError('bad-from', `cannot read ${pathOrDash}: ${(e as Error).message}`, REMEDY);
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooBig(pathOrDash, maxBytes);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks);
  } finally {
    if (!stdin) fs.closeSync(fd);
  }
}

function tooBig(name: string, cap: number): UsageError {
  return new UsageError('bad-from', `${name === '-' ? 'standard input' : name} is larger than ${cap} bytes: not a PCI listing`, `${REMEDY}; a listing of even a very large host is a few MiB`);
}
