/**
 * `vfioctl explain "<message>"`: the cause and fix of a device-assignment error message, citing this
 * host's facts (read through --root, default /) unless --no-host. Exit 0 when explained, 1 when no known
 * message matched.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action } from '../command.js';
import { knownMessages } from '../../core/explain.js';
import { ExitCode, UsageError, VfioctlError } from '../../model/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('explain')
    .argument('[message...]', 'the error text (quote it), or - to read it from standard input')
    .description('explain an error message (kernel, QEMU, libvirt, Windows Code 43): cause, fix, and the facts of this host that bear on it')
    .option('--no-host', 'do not read the host; explain the message alone')
    .option('--list', 'list the messages vfioctl can explain')
    .action(
      action<[string[]]>(ctx, async (words, opts) => {
        if (opts.list) {
          const list = knownMessages();
          if (ctx.json) ctx.printJson({ version: 1, known: list });
          else ctx.out(list.map((k) => `${k.id.padEnd(30)} ${k.source.padEnd(9)} ${k.title}`).join('\n') + '\n');
          return ExitCode.ok;
        }
        let text = words.join(' ');
        if (text.trim() === '-') text = readFileSync(0, 'utf8');
        if (!text.trim()) throw new UsageError('no-message', 'no message to explain', 'pass the error text in quotes: vfioctl explain "group 14 is not viable" (or - to read standard input)');
        const report = await ctx.session().explain(text, opts.host !== false);
        const { matches, unrecognised } = report;
        if (ctx.json) {
          ctx.printJson(report);
          return matches.length ? ExitCode.ok : ExitCode.error;
        }
        if (!matches.length) {
          const lines = unrecognised.slice(0, 3).map((u) => `line ${u.line}: ${u.text}`).join('; ');
          throw new VfioctlError('not-explained', `no known message in this text (not recognised: ${lines || 'nothing but blank lines'})`, {
            remedy: `vfioctl explain --list shows the messages it knows; \`vfioctl doctor\` checks the host as a whole`,
          });
        }
        const c = ctx.c;
        const out: string[] = [];
        const multi = text.trim().includes('\n');
        for (const m of matches) {
          out.push(c.bold(m.title), c.dim(`  ${m.id} (${m.source} message)`));
          if (multi) out.push(`  line ${m.lines.join(', ')}: ${m.lineText}`);
          out.push(`  cause: ${m.cause}`);
          if (m.confirm.length) out.push('  confirm:', ...m.confirm.map((x) => `    - ${x}`));
          out.push('  fixes (most often the answer first):', ...m.fixes.map((x, i) => `    ${i + 1}. ${x}`));
          if (m.facts.length) {
            out.push('  on this host:');
            for (const f of m.facts) out.push(`    ${f.source}: ${f.value}`);
          }
          if (m.related.length) out.push(c.dim(`  see: vfioctl doctor (${m.related.join(', ')})`));
          out.push('');
        }
        if (unrecognised.length) {
          out.push(c.yellow(`not recognised (${unrecognised.length} line${unrecognised.length === 1 ? '' : 's'}):`), ...unrecognised.slice(0, 5).map((u) => `  line ${u.line}: ${u.text}`), '');
        }
        ctx.out(out.join('\n'));
        return ExitCode.ok;
      }),
    );
}
