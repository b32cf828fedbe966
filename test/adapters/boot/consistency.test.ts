/**
 * The doctor's remedy, `render host-config` and the plan name the same file and the same commands for
 * every boot loader: all three take them from the boot loader's adapter (src/adapters/boot/,
 * describe in src/core/boot-loader.ts), and the plan's effects are the adapter's planEdit.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempHostTree } from '../../support/host-tree.js';
import { runCli } from '../../support/cli.js';
import { BOOT_HOSTS } from './boot-hosts.js';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

interface Step { id: string; file?: string; command?: string; effects?: { type: string; path?: string; argv?: string[] }[] }

describe('doctor, render host-config and plan agree on the boot loader', () => {
  for (const h of BOOT_HOSTS) {
    it(h.name, async () => {
      const t = makeTempHostTree(h.spec());
      cleanups.push(t.cleanup);
      const env = { PATH: process.env.PATH };
      const doctor = await runCli(['doctor', '--json', '--root', t.root], { env });
      const remedy = doctor.json<{ findings: { id: string; remedy?: string }[] }>().findings.find((f) => f.id === 'iommu-kernel')?.remedy ?? '';
      const hc = (await runCli(['render', 'host-config', '01:00.0', '--root', t.root], { env })).stdout;
      const planRun = await runCli(['plan', '01:00.0', '--json', '--root', t.root], { env });
      const steps = planRun.json<{ steps: Step[] }>().steps;
      const step = steps.find((s) => s.id === 'enable-iommu');
      assert.ok(step, `the plan turns the IOMMU on: ${planRun.stdout.slice(0, 300)}`);
      const effectCommands = (step.effects ?? []).filter((e) => e.type === 'command').map((e) => e.argv!.join(' '));
      const effectFiles = (step.effects ?? []).filter((e) => e.type === 'file').map((e) => e.path);
      if (h.file) {
        assert.ok(remedy.includes(`${h.file}:`) || remedy.includes(`${h.file} `), `doctor names ${h.file}:\n${remedy}`);
        assert.ok(hc.includes(h.file), `host-config names ${h.file}`);
        assert.equal(step.file, h.file, 'the plan step names the file');
        assert.ok(effectFiles.some((p) => p?.endsWith(h.file!)), `the plan edits ${h.file}: ${effectFiles.join(', ')}`);
      } else {
        assert.equal(step.file, undefined, 'no file for a tool that owns the line');
        assert.deepEqual(effectFiles, []);
      }
      for (const c of h.commands) {
        assert.ok(remedy.includes(c), `doctor names ${c}:\n${remedy}`);
        assert.ok(hc.includes(c), `host-config names ${c}`);
        assert.ok(step.command?.includes(c), `the plan step's command names ${c}: ${step.command}`);
        assert.ok(effectCommands.some((e) => e.startsWith(c)), `the plan runs ${c}: ${effectCommands.join('; ')}`);
      }
    });
  }
});

describe('a plan whose effects cannot be composed (a state file vfioctl cannot read) still names the boot loader\'s file and commands', () => {
  for (const h of BOOT_HOSTS) {
    it(h.name, async () => {
      const spec = h.spec();
      const t = makeTempHostTree({ ...spec, files: { ...(spec.files ?? {}), 'var/lib/vfioctl/state.json': '{ not json' } });
      cleanups.push(t.cleanup);
      const run = await runCli(['plan', '01:00.0', '--json', '--root', t.root], { env: { PATH: process.env.PATH } });
      const plan = run.json<{ steps: Step[]; notes?: string[] }>();
      const step = plan.steps.find((s) => s.id === 'enable-iommu');
      assert.ok(step, run.stdout.slice(0, 300));
      assert.equal(step.effects, undefined, 'the effects are not composed');
      assert.equal(step.file, h.file ?? undefined, 'the step names the file the doctor and host-config name');
      for (const c of h.commands) assert.ok(step.command?.includes(c), `the step names ${c}: ${step.command}`);
    });
  }
});
