#!/usr/bin/env node
/**
 * A stand-in for `virsh` (not a test file): guests whose persistent and live definitions are kept in
 * $FAKE_VIRSH_DIR/state.json, so that the journaled attach/detach, rollback and recover can be driven to
 * a failure or a SIGKILL at any step, which a real libvirtd cannot be made to do on cue. The real virsh
 * and libvirtd are exercised in test/e2e/libvirt*.test.ts.
 *
 * state.json: { "domains": { NAME: { "running": bool, "machine": "q35", "config": [xml], "live": [xml] } } }
 * Every call is appended to calls.log as one JSON line { argv }. Mutating calls (attach-device,
 * detach-device) are numbered from 1 across processes (file `counter`), and the environment picks one:
 *   FAKE_VIRSH_FAIL=2,3       fail those calls the way libvirt does (exit 1, "error: ..." lines)
 *   FAKE_VIRSH_LIE=2          report success for that call without changing anything
 *   FAKE_VIRSH_KILL=2:before  SIGKILL the calling process at that call, before (or :after) the change
 *   FAKE_VIRSH_UNPLUG_MS=1500 a live detach succeeds at once but the device leaves the live definition only
 *                             that long afterwards, as when libvirt's 5 s wait for the guest runs out
 *                             (pending unplugs are kept in state.json and applied by later calls)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = process.env.FAKE_VIRSH_DIR;
if (!dir) {
  process.stderr.write('error: FAKE_VIRSH_DIR is not set\n');
  process.exit(1);
}
const statePath = path.join(dir, 'state.json');
const argv = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.log'), `${JSON.stringify({ argv })}\n`);

const fail = (msg) => {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
};
let args = argv;
if (args[0] === '--connect') args = args.slice(2);
const [cmd, ...rest] = args;
const flags = new Set(rest.filter((a) => a.startsWith('--') && a !== '--'));
const positional = rest.slice(rest.indexOf('--') + 1);
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const save = () => {
  fs.writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${statePath}.tmp`, statePath);
};
const domain = (name) => state.domains[name] ?? fail(`failed to get domain '${name}'`);
// unplugs the guest has finished since the last call
state.unplugs = (state.unplugs ?? []).filter((u) => {
  if (u.at > Date.now()) return true;
  const d = state.domains[u.name];
  if (d) d.live = d.live.filter((x) => sourceOf(x) !== u.src);
  return false;
});
save();

/** The hostdev's PCI source as dddd:bb:ss.f, from either quoting style and any attribute order. */
function sourceOf(xml) {
  const addr = /<source>\s*<address\b([^>]*)\/?>/.exec(xml)?.[1] ?? '';
  const get = (k) => parseInt(new RegExp(`\\b${k}=['"](0x)?([0-9a-fA-F]+)['"]`).exec(addr)?.[2] ?? '0', 16);
  const h = (n, w) => n.toString(16).padStart(w, '0');
  return `${h(get('domain'), 4)}:${h(get('bus'), 2)}:${h(get('slot'), 2)}.${get('function')}`;
}

function render(name, d, live) {
  const devs = (live ? d.live : d.config).map((x) => x.trim().split('\n').map((l) => `    ${l}`).join('\n')).join('\n');
  return `<domain type='qemu'>\n  <name>${name}</name>\n  <os>\n    <type arch='x86_64' machine='${d.machine ?? 'q35'}'>hvm</type>\n  </os>\n  <devices>\n${devs ? `${devs}\n` : ''}  </devices>\n</domain>\n`;
}

switch (cmd) {
  case 'list': {
    const names = Object.keys(state.domains).filter((n) => flags.has('--all') || state.domains[n].running);
    process.stdout.write(`${names.join('\n')}\n\n`);
    break;
  }
  case 'domstate':
    process.stdout.write(`${domain(positional[0]).running ? 'running' : 'shut off'}\n\n`);
    break;
  case 'dumpxml': {
    const d = domain(positional[0]);
    process.stdout.write(render(positional[0], d, d.running && !flags.has('--inactive')));
    break;
  }
  case 'nodedev-reattach':
    break;
  case 'attach-device':
  case 'detach-device': {
    const counterPath = path.join(dir, 'counter');
    const n = (fs.existsSync(counterPath) ? Number(fs.readFileSync(counterPath, 'utf8')) : 0) + 1;
    fs.writeFileSync(counterPath, String(n));
    const [name, file] = positional;
    const d = domain(name);
    const xml = fs.readFileSync(file, 'utf8');
    const src = sourceOf(xml);
    const kill = (process.env.FAKE_VIRSH_KILL ?? '').split(':');
    if (Number(kill[0]) === n && kill[1] === 'before') {
      process.kill(process.ppid, 'SIGKILL');
      process.exit(1);
    }
    if ((process.env.FAKE_VIRSH_FAIL ?? '').split(',').map(Number).includes(n)) {
      fail(`Failed to ${cmd.replace('-device', '')} device from ${file}\nerror: internal error: injected failure at call ${n}`);
    }
    const lists = [...(flags.has('--config') ? ['config'] : []), ...(flags.has('--live') ? ['live'] : [])];
    if (lists.includes('live') && !d.running) fail('Requested operation is not valid: domain is not running');
    if (Number(process.env.FAKE_VIRSH_LIE) !== n) {
      for (const l of lists) {
        const has = d[l].some((x) => sourceOf(x) === src);
        if (cmd === 'attach-device') {
          if (has) fail(`Failed to attach device from ${file}\nerror: Requested operation is not valid: device is already in the domain configuration`);
          d[l].push(xml.trim());
        } else {
          if (!has) fail(`Failed to detach device from ${file}\nerror: device not found: host pci device ${src} not found`);
          if (l === 'live' && process.env.FAKE_VIRSH_UNPLUG_MS) state.unplugs.push({ name, src, at: Date.now() + Number(process.env.FAKE_VIRSH_UNPLUG_MS) });
          else d[l] = d[l].filter((x) => sourceOf(x) !== src);
        }
      }
      save();
    }
    if (Number(kill[0]) === n && kill[1] === 'after') process.kill(process.ppid, 'SIGKILL');
    process.stdout.write(`Device ${cmd === 'attach-device' ? 'attached' : 'detached'} successfully\n\n`);
    break;
  }
  default:
    fail(`unknown command: '${cmd}'`);
}
