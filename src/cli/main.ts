/**
 * vfioctl's command-line program. Each command lives in src/cli/commands/<name>.ts and is listed in
 * COMMANDS below; `main(argv, io)` runs one invocation and returns its exit code (docs/exit-codes.md).
 */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { type CliIo, processIo } from './io.js';
import type { CommandModule } from './command.js';
import { VERSION } from '../model/version.js';


/**
 * Every command, by name, loaded on demand: an invocation imports only the module of the command it
 * runs (and its libraries), so `vfioctl ls` does not pay for XML, YAML, diff or tar. Help and unknown
 * commands load them all.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  ls: () => import('./commands/ls.js'),
  groups: () => import('./commands/groups.js'),
  show: () => import('./commands/show.js'),
  snapshot: () => import('./commands/snapshot.js'),
  doctor: () => import('./commands/doctor.js'),
  check: () => import('./commands/check.js'),
  explain: () => import('./commands/explain.js'),
  guests: () => import('./commands/guests.js'),
  attach: () => import('./commands/attach.js'),
  detach: () => import('./commands/detach.js'),
  lint: () => import('./commands/lint.js'),
  nodedev: () => import('./commands/nodedev.js'),
  plan: () => import('./commands/plan.js'),
  render: () => import('./commands/render.js'),
  bind: () => import('./commands/bind.js'),
  release: () => import('./commands/release.js'),
  status: () => import('./commands/status.js'),
  recover: () => import('./commands/recover.js'),
  persist: () => import('./commands/persist.js'),
  host: () => import('./commands/host.js'),
  sriov: () => import('./commands/sriov.js'),
  'reset-policy': () => import('./commands/reset-policy.js'),
  mdev: () => import('./commands/mdev.js'),
  agent: () => import('./commands/agent.js'),
  mapping: () => import('./commands/mapping.js'),
  'ansible-module': () => import('./commands/ansible-module.js'),
  'self-check': () => import('./commands/self-check.js'),
  serve: () => import('./commands/serve.js'),
};

/** Global options that take a value (so their value is not mistaken for a command name). */
const VALUE_OPTIONS = new Set(['--root', '--sample-host', '--from', '--connect']);

function commandIn(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return Object.hasOwn(COMMANDS, a) ? a : null;
  }
  return null;
}

const EPILOG = `
Every command reads the host through --root DIR (default /, or $VFIOCTL_ROOT); --sample reads the
bundled captured host. Add --json for machine output (docs/json.md).

Exit codes: 0 ok, 1 error, 2 usage, 3 host not ready / plan blocked (docs/exit-codes.md).`;

export async function buildProgram(ctx: CliContext, argv: readonly string[] = []): Promise<Command> {
  const { Command } = await import('commander');
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
  const wanted = commandIn(argv);
  const names = wanted && !argv.includes('--help') && !argv.includes('-h') ? [wanted] : Object.keys(COMMANDS);
  for (const m of await Promise.all(names.map((n) => COMMANDS[n]!()))) m.register(program, ctx);
  return program;
}

/**
 * `vfioctl --version` (and `--version --json`) alone: answered before commander, the context and the
 * session are loaded, so the most common probe of an installed copy costs only Node's own start-up.
 */
async function versionOnly(argv: readonly string[], io: CliIo): Promise<number | null> {
  const words = new Set(argv);
  if (!(words.has('--version') || words.has('-V'))) return null;
  if (![...words].every((w) => w === '--version' || w === '-V' || w === '--json')) return null;
  if (!words.has('--json')) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [{ versionReport }, { jsonDocument }, { toJson }] = await Promise.all([
    import('../service/build-info.js'),
    import('../model/reports.js'),
    import('./output.js'),
  ]);
  io.stdout.write(toJson(jsonDocument(versionReport())));
  return 0;
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  // Ansible runs a binary module as `MODULE ARGS_FILE`: the executable itself is then the vfioctl_device module
  if (argv.length === 1 && argv[0]!.includes('/') && !argv[0]!.startsWith('-') && (await import('./commands/ansible-module.js')).isAnsibleArgsFile(argv[0]!)) argv = ['ansible-module', argv[0]!];
  const fast = await versionOnly(argv, io);
  if (fast !== null) return fast;
  const [{ CliContext }, { CommanderError }] = await Promise.all([import('./context.js'), import('commander')]);
  const ctx = new CliContext(io);
  const program = await buildProgram(ctx, argv);
  const route = (p: Command): void => {
    p.exitOverride();
    p.configureOutput({ writeOut: (s) => ctx.out(s), writeErr: (s) => ctx.err(s) });
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
