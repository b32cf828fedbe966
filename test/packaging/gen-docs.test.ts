import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bashCompletion, fishCompletion, manPage, programInfo, zshCompletion, type CmdInfo } from '../../packaging/gen-docs.js';

const all = (c: CmdInfo): CmdInfo[] => [c, ...c.subcommands.flatMap(all)];

test('the man page and the completions name every command and every option of the program', async () => {
  const top = await programInfo();
  const cmds = all(top).slice(1);
  assert.ok(cmds.length > 20);
  const man = manPage(top, '2026-01-01');
  const bash = bashCompletion(top);
  const zsh = zshCompletion(top);
  const fish = fishCompletion(top);
  assert.match(man, /^\.TH VFIOCTL 8 /);
  for (const c of cmds) {
    const name = c.path.at(-1)!;
    assert.ok(man.includes(`.B ${c.path.join(' ').replace(/-/g, '\\-')}`), `man: ${c.path.join(' ')}`);
    assert.ok(bash.includes(`'${c.path.join(' ')}')`), `bash: ${c.path.join(' ')}`);
    assert.ok(zsh.includes(`'${name}:`), `zsh: ${name}`);
    assert.ok(fish.includes(`-a '${name}'`), `fish: ${name}`);
    for (const o of c.options) {
      if (o.long) {
        assert.ok(man.includes(o.long.replace(/-/g, '\\-')), `man: ${c.path.join(' ')} ${o.long}`);
        assert.ok(fish.includes(`-l ${o.long.slice(2)}`), `fish: ${o.long}`);
        assert.ok(zsh.includes(o.long), `zsh: ${o.long}`);
      }
    }
  }
  assert.ok(cmds.some((c) => c.path.join(' ') === 'self-check'));
  assert.ok(cmds.some((c) => c.path.join(' ') === 'host enable-iommu'));
});
