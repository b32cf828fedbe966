/**
 * The bundled program's entry (scripts/bundle.mjs bundles it for the npm package and the single
 * executable): runs one invocation with the process's arguments.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`vfioctl: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
