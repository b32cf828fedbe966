/**
 * The CLI's connection to the outside world, injectable so that tests run commands in-process with real
 * host trees and read what a person (or a script) would see.
 */
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
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: !!process.stdout.isTTY,
    env: process.env,
    confirm: process.stdin.isTTY && process.stdout.isTTY ? askOnTerminal : undefined,
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
