/** How a command module plugs into the CLI: `register(program, ctx)` adds it; `action` wraps its body. */
import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from './context.js';

export type CommandModule = { register(program: Command, ctx: CliContext): void };

/**
 * Wrap a command body: sets the global options (--root, --json, ...), runs it, and turns thrown errors
 * into the documented output and exit code. The body returns its exit code.
 */
export function action<A extends unknown[]>(
  ctx: CliContext,
  body: (...args: [...A, Record<string, unknown>]) => Promise<number> | number,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as Record<string, unknown> & GlobalOptions;
    ctx.setGlobal(opts);
    try {
      ctx.exitCode = await body(...(args.slice(0, -2) as A), opts);
    } catch (e) {
      ctx.exitCode = ctx.reportError(e);
    }
  };
}

/** Add --from to a command that can work on an imported listing. */
export function withFrom(cmd: Command): Command {
  return cmd.option('--from <file>', 'read the host from pasted text: `lspci -nn`/`-nnk`/`-vvv`/`-tv`, an IOMMU group listing or `virsh nodedev-dumpxml` output (- for stdin)');
}
