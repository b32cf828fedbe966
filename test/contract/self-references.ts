/**
 * Checks `vfioctl WORDS --options` references against the real commander program (built as
 * src/cli/main.ts builds it, every command registered). Not a test file itself; used by
 * self-references.test.ts.
 */
import type { Command } from 'commander';
import ts from 'typescript';
import { buildProgram } from '../../src/cli/main.js';
import { CliContext } from '../../src/cli/context.js';

/** Stands for a `${...}` in a template literal: an argument whose value is only known at run time. */
export const PLACEHOLDER = '\u27e8expr\u27e9';

/**
 * Words that follow "vfioctl" in a sentence ("run vfioctl as root", "vfioctl has changed nothing"), not
 * command names. A reference in a code span (backticks, a docs code block) never gets this leniency.
 */
export const PROSE_WORDS = new Set([
  'added', 'again', 'are', 'as', 'command', 'ever', 'keeps', 'makes', 'binds', 'bound', 'can', 'cannot', 'changed', 'changes', 'could', 'create', 'created', 'did',
  'does', 'edits', 'generated', 'had', 'has', 'is', 'knows', 'lists', 'may', 'models', 'needs', 'never', 'package', 'persisted',
  'plans', 'put', 'puts', 'reads', 'run', 'runs', 'sets', 'under', 'was', 'will', 'would', 'writes', 'wrote',
]);

export interface CommandNode {
  name: string;
  options: Set<string>;
  subcommands: Map<string, CommandNode>;
  parent: CommandNode | null;
}

function nodeOf(cmd: Command, parent: CommandNode | null): CommandNode {
  const options = new Set<string>(['--help', '-h']);
  for (const o of cmd.options) {
    if (o.long) options.add(o.long);
    if (o.short) options.add(o.short);
  }
  const node: CommandNode = { name: cmd.name(), options, subcommands: new Map(), parent };
  for (const sub of cmd.commands) {
    const child = nodeOf(sub, node);
    node.subcommands.set(sub.name(), child);
    for (const alias of sub.aliases()) node.subcommands.set(alias, child);
  }
  return node;
}

/** The program's command tree: every command, subcommand and option it accepts. */
export async function commandTree(): Promise<CommandNode> {
  const ctx = new CliContext({ stdout: { write: () => true }, stderr: { write: () => true }, isTTY: false, env: {} });
  return nodeOf(await buildProgram(ctx, []), null);
}

function pathOf(n: CommandNode): string {
  const names: string[] = [];
  for (let x: CommandNode | null = n; x; x = x.parent) names.unshift(x.name);
  return names.join(' ');
}

function optionKnown(n: CommandNode, opt: string): boolean {
  // commander accepts the options of every command above this one, before or after the subcommand
  for (let x: CommandNode | null = n; x; x = x.parent) if (x.options.has(opt)) return true;
  return false;
}

/**
 * Every `vfioctl ...` reference in `text` that names a command or option the program does not have.
 * `code`: the text is a code span (or a command line), so the first word must be a command.
 */
export function badReferences(tree: CommandNode, text: string, code: boolean): string[] {
  const problems: string[] = [];
  // "vfioctl" as a word (not var/lib/vfioctl, vfioctl-vfio.conf, vfioctl:), then what follows on the line
  for (const m of text.matchAll(/(?<![\w/.=-])vfioctl (?=\S)([^\n`'"(),;<>{}[\]]*)/g)) {
    const tokens = m[1]!.split(/\s+/).map((t) => t.replace(/[.:,;!?]+$/, '')).filter(Boolean);
    let node = tree;
    let i = 0;
    let resolved = false;
    const ref = `vfioctl ${tokens.join(' ')}`.trim();
    // leading global options, then the command words
    for (; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.startsWith('-') && t !== '-' && t !== '--') {
        if (!optionKnown(node, t.split('=')[0]!)) problems.push(`${ref}: \`${pathOf(node)}\` has no option ${t.split('=')[0]}`);
        continue;
      }
      if (t.includes(PLACEHOLDER) || (!resolved && /^[A-Z][A-Z0-9_.-]*$/.test(t))) {
        // a command chosen at run time (or a metavariable: `vfioctl COMMAND --json`): nothing to check here
        resolved = true;
        node = { name: '?', options: new Set(), subcommands: new Map(), parent: null };
        i++;
        break;
      }
      // `vfioctl bind/release`, `host enable-iommu|disable-iommu`: each alternative must exist
      const alternatives = t.split(/[|/]/).filter(Boolean);
      const subs = alternatives.map((a) => node.subcommands.get(a));
      if (subs.length && subs.every((s) => s)) {
        node = subs[0]!;
        resolved = true;
        continue;
      }
      if (node.subcommands.size && !resolved) {
        // the first word: a command, or (outside code) the sentence going on
        if (!code && PROSE_WORDS.has(t)) break;
        problems.push(`${ref}: no command \`vfioctl ${t}\``);
      } else if (node.subcommands.size && node.parent) {
        problems.push(`${ref}: \`${pathOf(node)}\` has no subcommand ${t}`);
      }
      break;
    }
    if (!resolved) continue;
    // arguments and options after the command words
    for (; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (node.name === '?') break;
      if (t.startsWith('-') && t !== '-' && t !== '--' && /^--?[a-zA-Z]/.test(t)) {
        const opt = t.split('=')[0]!.replace(/[|].*$/, '');
        if (!optionKnown(node, opt)) problems.push(`${ref}: \`${pathOf(node)}\` has no option ${opt}`);
      }
    }
  }
  return problems;
}

export interface Literal {
  file: string;
  line: number;
  text: string;
}

/** Every string literal and template literal (with PLACEHOLDER for each `${...}`) of a TypeScript source. */
export function stringLiterals(file: string, source: string): Literal[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: Literal[] = [];
  const add = (node: ts.Node, text: string) => out.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text });
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) add(node, node.text);
    else if (ts.isTemplateExpression(node)) {
      add(node, node.head.text + node.templateSpans.map((s) => PLACEHOLDER + s.literal.text).join(''));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The code of a Markdown text: inline code spans and fenced blocks. */
export function markdownCode(md: string): string[] {
  const out: string[] = [];
  const rest = md.replace(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm, (_, body: string) => {
    out.push(body);
    return '';
  });
  for (const m of rest.matchAll(/(`+)([^`]+?)\1/g)) out.push(m[2]!);
  return out;
}

/**
 * The references in a piece of prose (a string literal, a line of output): what its backtick spans name
 * must be a command; elsewhere a sentence may go on after "vfioctl".
 */
export function badReferencesInProse(tree: CommandNode, text: string): string[] {
  const spans = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...new Set([...badReferences(tree, text, false), ...spans.flatMap((s) => badReferences(tree, s, true))])];
}

/** Every string value in a JSON document. */
export function jsonStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) jsonStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) jsonStrings(v, out);
  return out;
}
