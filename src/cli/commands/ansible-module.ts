/**
 * `vfioctl ansible-module ARGS_FILE`: the Ansible module protocol. Ansible runs the module with the path of
 * a JSON arguments file; the module prints one JSON object (changed, failed, msg, diff...) and nothing
 * else. The role in ansible/ ships a two-line module file that execs this (docs/fleet.md).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { readInputFile } from '../../host/read-input.js';
import * as fs from 'node:fs';
import { VfioctlError } from '../../model/errors.js';

/** A JSON arguments file as Ansible writes it for a module (a small regular file with `_ansible_` keys). */
export function isAnsibleArgsFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > 1024 * 1024) return false;
    const text = fs.readFileSync(file, 'utf8');
    return /^\s*\{/.test(text) && /"_ansible_[a-z_]+"\s*:/.test(text);
  } catch {
    return false;
  }
}

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
