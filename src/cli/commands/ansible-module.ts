/**
 * `vfioctl ansible-module ARGS_FILE`: the Ansible module protocol. Ansible runs the module with the path of
 * a JSON arguments file; the module prints one JSON object (changed, failed, msg, diff...) and nothing
 * else. The role in ansible/ ships a two-line module file that execs this (docs/fleet.md).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { readInputFile } from '../../host/read-input.js';
import { VfioctlError } from '../../model/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('ansible-module')
    .argument('<args-file>', 'the JSON arguments file Ansible passes to a module')
    .description('run as an Ansible module (vfioctl_device): JSON arguments in, one JSON result out')
    .action(
      action<[string]>(ctx, async (file) => {
        const print = (r: object) => ctx.out(`${JSON.stringify(r)}\n`);
        try {
          const { parseAnsibleArgs, runAnsibleTask, ansibleSessionOptions } = await import('../../service/ansible.js');
          const args = parseAnsibleArgs(readInputFile(file));
          const s = ctx.newSession(ansibleSessionOptions(args));
          const r = await runAnsibleTask(s, args);
          print({ ...r, invocation: { module_args: Object.fromEntries(Object.entries(args).filter(([k]) => !k.startsWith('_ansible_'))) } });
          return r.failed ? 1 : 0;
        } catch (e) {
          if (!(e instanceof VfioctlError)) throw e;
          print({ changed: false, failed: true, msg: e.message, ...(e.remedy ? { remedy: e.remedy } : {}) });
          return 1;
        }
      }),
    );
}
