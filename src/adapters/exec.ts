/**
 * Running host commands (modprobe, update-grub, update-initramfs, dracut, grubby, kernelstub,
 * proxmox-boot-tool, udevadm, driverctl): argv only, never a shell; LC_ALL=C so messages are stable;
 * a timeout; structured errors (command, exit code, stderr, a short message and a remedy).
 * Tests put small fake executables first on PATH (through `env.PATH`), never module mocks.
 */
import { spawn } from 'node:child_process';
import { VfioctlError } from '../model/errors.js';
import { formatArgv, type Exec, type ExecOptions, type ExecResult } from '../model/command.js';

export type { Exec, ExecOptions, ExecResult };

export class ExecError extends VfioctlError {
  readonly argv: readonly string[];
  /** the command's exit status (null: not started, killed or timed out) */
  readonly status: number | null;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | null, stderr: string, short: string, remedy: string, cause?: unknown) {
    super('command-failed', `${formatArgv(argv)}: ${short}`, {
      remedy,
      cause,
      details: { command: [...argv], exitCode, stderr: stderr.slice(-2000) },
    });
    this.name = 'ExecError';
    this.argv = argv;
    this.status = exitCode;
    this.stderr = stderr;
  }
}

export interface ExecConfig {
  /** environment for children (default: this process's, with LC_ALL=C) */
  readonly env?: Record<string, string | undefined>;
  readonly defaultTimeoutMs?: number;
}

/** The real command runner. */
export function createExec(config: ExecConfig = {}): Exec {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.env ?? process.env)) if (v !== undefined) env[k] = v;
  env.LC_ALL = 'C';
  const defaultTimeout = config.defaultTimeoutMs ?? 10 * 60_000;
  return {
    run(argv, opts = {}) {
      if (!argv.length || !argv[0]) throw new Error('internal: empty command');
      const timeoutMs = opts.timeoutMs ?? defaultTimeout;
      const okCodes = opts.okCodes ?? [0];
      const started = performance.now();
      return new Promise<ExecResult>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          if (e.code === 'ENOENT') {
            reject(new ExecError(argv, null, '', 'command not found', `install the package that provides ${argv[0]}, or run the step by hand`, e));
          } else {
            reject(new ExecError(argv, null, '', `could not start (${e.code ?? e.message})`, 'check that the command is executable by this user', e));
          }
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          const durationMs = performance.now() - started;
          if (timedOut) {
            reject(new ExecError(argv, null, stderr, `did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`, 'run the command by hand to see why it hangs'));
            return;
          }
          if (code === null) {
            reject(new ExecError(argv, null, stderr, `killed by ${signal ?? 'a signal'}`, 'run the command by hand to see what happened'));
            return;
          }
          if (!okCodes.includes(code)) {
            const last = stderr.trim().split('\n').pop() ?? '';
            reject(new ExecError(argv, code, stderr, `exit status ${code}${last ? `: ${last.slice(0, 300)}` : ''}`, 'read the message above; fix the cause and run vfioctl again (nothing was left half-done)'));
            return;
          }
          resolve({ argv, exitCode: code, stdout, stderr, durationMs });
        });
      });
    },
  };
}
