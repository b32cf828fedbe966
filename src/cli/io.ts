/**
 * The CLI's connection to the outside world, injectable so that tests run commands in-process with real
 * host trees and read what a person (or a script) would see.
 */
import { isatty } from 'node:tty';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** stdout is a terminal (colour, progress, prompts). */
  isTTY: boolean;
  env: Record<string, string | undefined>;
  /** Ask a yes/no question on the terminal; undefined when not interactive. */
  confirm?: (question: string) => Promise<boolean>;
}

export function processIo(): CliIo {
  // A reader that stops early (`vfioctl ls | head`) closes the pipe: that ends the output, it is not an error.
  // Any other write error (a full disk: `vfioctl ls > /dev/full`) is said once, without a stack, exit 4.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      if (stream === process.stdout) {
        try {
          process.stderr.write(`vfioctl: cannot write the output: ${e.code ?? e.message}; what the command did is done, only its report was lost\n  remedy: free space (or send the output elsewhere) and run it again; \`vfioctl status\` shows what vfioctl has changed\n`);
        } catch {
          // stderr failing too: the exit code is all that is left
        }
      }
      process.exit(4);
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: !!process.stdout.isTTY,
    env: process.env,
    // isatty(0), not process.stdin.isTTY: touching process.stdin builds its stream (and loads Node's stream
    // and socket modules) on every run
    confirm: isatty(0) && process.stdout.isTTY ? askOnTerminal : undefined,
  };
}

async function askOnTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
