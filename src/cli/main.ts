/**
 * vfioctl's command-line program. Each command lives in src/cli/commands/<name>.ts and is listed in
 * COMMANDS below; `main(argv, io)` runs one invocation and returns its exit code (docs/exit-codes.md).
 */
import { Command, CommanderError } from 'commander';
import { CliContext } from './context.js';
import { type CliIo, processIo } from './io.js';
import type { CommandModule } from './command.js';
import * as ls from './commands/ls.js';
import * as groups from './commands/groups.js';
import * as show from './commands/show.js';
import * as snapshot from './commands/snapshot.js';
import * as doctor from './commands/doctor.js';
import * as check from './commands/check.js';
import * as explain from './commands/explain.js';
import * as guests from './commands/guests.js';
import * as attach from './commands/attach.js';
import * as detach from './commands/detach.js';
import * as lint from './commands/lint.js';
import * as nodedev from './commands/nodedev.js';
import * as plan from './commands/plan.js';
import * as render from './commands/render.js';
import * as bind from './commands/bind.js';
import * as release from './commands/release.js';
import * as status from './commands/status.js';
import * as recover from './commands/recover.js';
import * as persist from './commands/persist.js';
import * as hostCmd from './commands/host.js';
import * as sriov from './commands/sriov.js';

const COMMANDS: CommandModule[] = [
  ls,
  groups,
  show,
  snapshot,
  doctor,
  check,
  explain,
  guests,
  attach,
  detach,
  lint,
  nodedev,
  plan,
  render,
  bind,
  release,
  status,
  recover,
  persist,
  hostCmd,
  sriov,
];

const EPILOG = `
Every command reads the host through --root DIR (default /, or $VFIOCTL_ROOT); --sample reads the
bundled captured host. Add --json for machine output (docs/json.md).

Exit codes: 0 ok, 1 error, 2 usage, 3 host not ready / plan blocked (docs/exit-codes.md).`;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('vfioctl')
    .description('Safe, reversible, group-aware PCI passthrough (VFIO) for KVM guests')
    .version(VERSION, '-V, --version')
    .option('--root <dir>', 'host root directory to read (a live host is /; a snapshot directory replays a host)')
    .option('--sample', 'read the sample host bundled with vfioctl (a real kernel with an emulated Intel IOMMU)')
    .option('--sample-host <name>', 'read another bundled sample host (see the error message for the list)')
    .option('--json', 'machine-readable output (see docs/json.md)')
    .option('--no-color', 'no colour in human output (also NO_COLOR=1)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EPILOG);
  for (const m of COMMANDS) m.register(program, ctx);
  return program;
}

const VERSION = '0.1.0';

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  const route = (p: Command): void => {
    p.exitOverride();
    p.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    for (const sub of p.commands) route(sub);
  };
  route(program);
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    return ctx.reportError(e);
  }
  return ctx.exitCode;
}
