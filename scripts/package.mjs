#!/usr/bin/env node
// `npm run package`: everything an administrator installs, in dist/pkg/ (git-ignored):
//   vfioctl                      the single executable for linux-x64 (Node single executable application:
//                                the esbuild bundle, V8 code cache, samples, pci.ids fallback, schemas and
//                                dist/web/ if built, as assets)
//   empty-sea                    an empty single executable built the same way (the start-up floor)
//   vfioctl_VERSION_amd64.deb    /usr/bin/vfioctl, vfioctl(8), completions, samples (dpkg-deb under fakeroot)
//   vfioctl-VERSION.tgz          `npm pack` (runs the bundle, with its code cache)
//   docs/                        the generated man page and completions
// Options: --only sea,deb,npm (default all; deb needs sea), --no-lintian.
// Environment: DEB_MAINTAINER ("Name <mail>") for the package's Maintainer field, SOURCE_DATE_EPOCH.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { REPO, bundle, gitCommit } from './bundle.mjs';

const args = process.argv.slice(2);
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1].split(',')) : new Set(['sea', 'deb', 'npm']);
if (only.has('deb')) only.add('sea');
const OUT = path.join(REPO, 'dist', 'pkg');
const WORK = path.join(OUT, 'work');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
const VERSION = pkg.version;
const commit = gitCommit();
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8' }).trim());
const maintainer = process.env.DEB_MAINTAINER ?? 'vfioctl maintainers <maintainers@example.org>';

const t0 = Date.now();
const step = (what) => console.log(`[package ${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function walkFiles(dir, base = dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, base, out);
    else out.push(path.relative(base, p));
  }
  return out;
}

fs.rmSync(WORK, { recursive: true, force: true });
fs.mkdirSync(WORK, { recursive: true });

// ---------- the bundle ----------
step('bundle (esbuild)');
const npmBundle = path.join(REPO, 'dist', 'bundle', 'vfioctl.cjs');
await bundle({ out: npmBundle, commit });
const seaMain = path.join(WORK, 'vfioctl-sea.cjs');
fs.copyFileSync(npmBundle, seaMain);

// ---------- generated man page and completions ----------
step('man page and completions from the command definitions');
const docsDir = path.join(OUT, 'docs');
run(process.execPath, ['--import', 'tsx', path.join(REPO, 'packaging', 'gen-docs.ts'), docsDir], { cwd: REPO, env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });

// ---------- npm: code cache for the bundle, then npm pack ----------
if (only.has('npm')) {
  step('npm: code cache of the bundle (after a representative run), npm pack');
  fs.rmSync(`${npmBundle}.cache`, { force: true });
  run(process.execPath, [path.join(REPO, 'bin', 'vfioctl.js'), 'groups', '--sample'], { env: { ...process.env, VFIOCTL_WRITE_CODE_CACHE: `${npmBundle}.cache` } });
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO });
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', OUT], { cwd: REPO }));
  step(`npm: ${packed[0].filename}, ${packed[0].entryCount} files`);
}

// ---------- single executable ----------
if (only.has('sea')) {
  step('single executable: assets');
  const assets = {};
  const add = (name, buf) => {
    const file = path.join(WORK, 'assets', name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, buf);
    assets[name] = file;
  };
  const tar = await import('tar');
  const samplesTar = path.join(WORK, 'samples.tar');
  const sampleNames = fs.readdirSync(path.join(REPO, 'samples')).sort();
  tar.c({ sync: true, file: samplesTar, cwd: path.join(REPO, 'samples'), portable: true, mtime: new Date(epoch * 1000) }, sampleNames);
  add('samples.tar', fs.readFileSync(samplesTar));
  const pciIds = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'].find((p) => fs.existsSync(p));
  if (pciIds) add('pci.ids.gz', gzipSync(fs.readFileSync(pciIds), { level: 9 }));
  else console.warn('warning: no pci.ids on this machine (install pciutils): the single executable has no fallback');
  // the server's read worker, started from this asset (src/server/reads.ts)
  add('read-worker.cjs', fs.readFileSync(path.join(REPO, 'dist', 'bundle', 'read-worker.cjs')));
  for (const f of fs.readdirSync(path.join(REPO, 'schemas')).filter((f) => f.endsWith('.json')).sort()) add(`schemas/${f}`, fs.readFileSync(path.join(REPO, 'schemas', f)));
  const web = path.join(REPO, 'dist', 'web');
  if (fs.existsSync(web)) for (const rel of walkFiles(web)) add(`web/${rel.split(path.sep).join('/')}`, fs.readFileSync(path.join(web, rel)));
  const manifest = {
    version: VERSION,
    commit,
    assets: Object.entries(assets).map(([name, file]) => {
      const buf = fs.readFileSync(file);
      return { name, bytes: buf.length, sha256: sha256(buf) };
    }),
  };
  add('manifest.json', JSON.stringify(manifest, null, 1));

  const node = fs.realpathSync(process.execPath);
  const makeSea = (main, out, withAssets) => {
    const config = path.join(WORK, `${path.basename(out)}.sea.json`);
    const blob = path.join(WORK, `${path.basename(out)}.blob`);
    fs.writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, assets: withAssets ? assets : {} }, null, 1));
    run(process.execPath, ['--experimental-sea-config', config], { cwd: WORK });
    fs.copyFileSync(node, out);
    fs.chmodSync(out, 0o755);
    // Node's release binary carries debug symbols (about half its size); they are not needed to run
    if (have('strip')) run('strip', ['--strip-debug', '--strip-unneeded', out]);
    run(process.execPath, [path.join(REPO, 'node_modules', 'postject', 'dist', 'cli.js'), out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
  };
  step('single executable: vfioctl');
  makeSea(seaMain, path.join(OUT, 'vfioctl'), true);
  step('single executable: empty-sea (the start-up floor)');
  const empty = path.join(WORK, 'empty.cjs');
  fs.writeFileSync(empty, '');
  makeSea(empty, path.join(OUT, 'empty-sea'), false);
  const v = run(path.join(OUT, 'vfioctl'), ['--version'], { env: { PATH: '/usr/bin:/bin' } }).trim();
  if (v !== VERSION) throw new Error(`the single executable says ${v}, expected ${VERSION}`);
}

// ---------- Debian package ----------
if (only.has('deb')) {
  step('deb: staging');
  const changelogIn = fs.readFileSync(path.join(REPO, 'packaging', 'deb', 'changelog'), 'utf8');
  const clVersion = /^vfioctl \(([^)]+)\)/.exec(changelogIn)?.[1];
  if (clVersion !== VERSION) throw new Error(`packaging/deb/changelog is for ${clVersion}, package.json says ${VERSION}: add an entry`);
  const root = path.join(WORK, 'deb');
  const put = (rel, content, mode = 0o644) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
    fs.writeFileSync(p, content);
    fs.chmodSync(p, mode);
  };
  put('usr/bin/vfioctl', fs.readFileSync(path.join(OUT, 'vfioctl')), 0o755);
  put('usr/share/vfioctl/build.json', JSON.stringify({ build: 'deb', version: VERSION, commit }) + '\n');
  run('cp', ['-a', '--no-preserve=ownership', path.join(REPO, 'samples'), path.join(root, 'usr/share/vfioctl/samples')]);
  put('usr/share/man/man8/vfioctl.8.gz', gzipSync(fs.readFileSync(path.join(docsDir, 'vfioctl.8')), { level: 9 }).fill(0, 4, 8));
  put('usr/share/bash-completion/completions/vfioctl', fs.readFileSync(path.join(docsDir, 'vfioctl.bash')));
  put('usr/share/zsh/vendor-completions/_vfioctl', fs.readFileSync(path.join(docsDir, '_vfioctl')));
  put('usr/share/fish/vendor_completions.d/vfioctl.fish', fs.readFileSync(path.join(docsDir, 'vfioctl.fish')));
  put('usr/share/doc/vfioctl/changelog.gz', gzipSync(changelogIn.replaceAll('@MAINTAINER@', maintainer), { level: 9 }).fill(0, 4, 8));
  put('usr/share/doc/vfioctl/copyright', copyrightFile());
  put('usr/share/lintian/overrides/vfioctl', fs.readFileSync(path.join(REPO, 'packaging', 'deb', 'lintian-overrides')));
  // modes: directories 0755, files 0644 unless executable; mtimes from the commit (reproducible)
  const normalize = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        fs.chmodSync(p, 0o755);
        normalize(p);
      } else if (p !== path.join(root, 'usr/bin/vfioctl')) fs.chmodSync(p, 0o644);
    }
  };
  normalize(root);
  fs.chmodSync(root, 0o755);

  step('deb: Depends from the executable (dpkg-shlibdeps)');
  const depends = shlibDepends(path.join(root, 'usr/bin/vfioctl'));
  const files = walkFiles(root);
  const sizeKb = Math.ceil(files.reduce((n, f) => n + fs.lstatSync(path.join(root, f)).size, 0) / 1024);
  const control = fs
    .readFileSync(path.join(REPO, 'packaging', 'deb', 'control.in'), 'utf8')
    .replace('@VERSION@', VERSION)
    .replace('@SIZE@', String(sizeKb))
    .replace('@DEPENDS@', depends)
    .replace('@MAINTAINER@', maintainer);
  fs.mkdirSync(path.join(root, 'DEBIAN'), { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'DEBIAN', 'control'), control);
  const md5 = files
    .filter((f) => fs.lstatSync(path.join(root, f)).isFile())
    .map((f) => `${createHash('md5').update(fs.readFileSync(path.join(root, f))).digest('hex')}  ${f}`)
    .join('\n');
  fs.writeFileSync(path.join(root, 'DEBIAN', 'md5sums'), `${md5}\n`);
  for (const f of ['control', 'md5sums']) fs.chmodSync(path.join(root, 'DEBIAN', f), 0o644);
  run('find', [root, '-exec', 'touch', '-h', '-d', `@${epoch}`, '{}', '+']);

  step('deb: dpkg-deb --build (fakeroot)');
  const deb = path.join(OUT, `vfioctl_${VERSION}_amd64.deb`);
  fs.rmSync(deb, { force: true });
  run('fakeroot', ['dpkg-deb', '--build', '-Zxz', '-z1', '--root-owner-group', root, deb], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
  if (!args.includes('--no-lintian') && have('lintian')) {
    step('deb: lintian');
    const r = spawnSync('lintian', ['--info', '--display-info', '--show-overrides', deb], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`.trim();
    console.log(out || 'lintian: no tags');
    if (/^[EW]: /m.test(out)) {
      console.error('lintian reported errors or warnings');
      process.exitCode = 1;
    }
  }
}

for (const f of fs.readdirSync(OUT).filter((f) => /^(vfioctl|empty-sea)|\.(deb|tgz)$/.test(f))) {
  const st = fs.statSync(path.join(OUT, f));
  if (st.isFile()) console.log(`  ${f}  ${(st.size / 1048576).toFixed(1)} MiB`);
}
step('done');

/** Depends of the executable, from the shared libraries it links (dpkg-shlibdeps), plus nothing else. */
function shlibDepends(binary) {
  const tmp = path.join(WORK, 'shlibdeps');
  fs.mkdirSync(path.join(tmp, 'debian'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'debian', 'control'), 'Source: vfioctl\n\nPackage: vfioctl\nArchitecture: amd64\n');
  const out = run('dpkg-shlibdeps', ['-O', '-e', binary], { cwd: tmp });
  const m = /shlibs:Depends=(.*)/.exec(out);
  if (!m) throw new Error(`dpkg-shlibdeps gave no Depends: ${out}`);
  return m[1].trim();
}

/** debian/copyright (machine-readable format 1.0): vfioctl, the JavaScript it bundles, the Node.js runtime. */
function copyrightFile() {
  const para = (text) => text.trim().split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l}`)).join('\n');
  const lines = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: vfioctl',
    'Comment: usr/bin/vfioctl is the Node.js runtime with vfioctl and the JavaScript',
    ' libraries it uses bundled into it (a Node.js single executable application).',
    ' It also embeds a copy of the PCI ID database (pci.ids, GPL-2+ or BSD-3-Clause,',
    ' from the pciutils package of the build machine) used when the host has none.',
    '',
    'Files: *',
    'Copyright: vfioctl contributors',
    'License: MIT',
    '',
  ];
  const deps = run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO }).trim().split('\n').slice(1);
  const seen = new Map();
  for (const d of deps) {
    const p = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'));
    const licenseFile = fs.readdirSync(d).find((f) => /^licen[cs]e/i.test(f));
    const text = licenseFile ? fs.readFileSync(path.join(d, licenseFile), 'utf8') : '';
    const holder = /^\s*Copyright\s.*$/im.exec(text)?.[0].trim() ?? `the ${p.name} authors`;
    seen.set(p.name, { license: p.license, holder, text });
  }
  for (const [name, d] of [...seen].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push(`Files: usr/bin/vfioctl`, `Comment: bundled JavaScript library ${name}`, `Copyright: ${d.holder.replace(/^Copyright\s*(\(c\)|©)?\s*/i, '')}`, `License: ${d.license}`, '');
  }
  lines.push('Files: usr/bin/vfioctl', 'Comment: the Node.js runtime (and the libraries it includes; full list below)', 'Copyright: Node.js contributors and others', 'License: Node.js', '');
  lines.push('Files: usr/bin/vfioctl', 'Comment: the embedded copy of pci.ids', 'Copyright: The PCI ID Repository maintainers', 'License: BSD-3-Clause or GPL-2+', '');
  const licenseTexts = new Map();
  for (const d of seen.values()) if (!licenseTexts.has(d.license) && d.text) licenseTexts.set(d.license, d.text.replace(/^\s*Copyright.*$/gim, '').trim());
  const mit = fs.readFileSync(path.join(REPO, 'node_modules', 'commander', 'LICENSE'), 'utf8').replace(/^\s*Copyright.*$/gim, '').trim();
  licenseTexts.set('MIT', licenseTexts.get('MIT') ?? mit);
  for (const [name, text] of [...licenseTexts].sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`License: ${name}`, para(text), '');
  lines.push('License: GPL-2+', para('This program is free software; you can redistribute it and/or modify it under the terms of the GNU General Public License as published by the Free Software Foundation; either version 2 of the License, or (at your option) any later version.\n\nOn Debian systems, the complete text of the GNU General Public License version 2 can be found in /usr/share/common-licenses/GPL-2.'), '');
  const nodeLicense = ['/usr/share/doc/nodejs/LICENSE', '/usr/include/node/LICENSE'].find((p) => fs.existsSync(p));
  lines.push('License: Node.js', para(nodeLicenseSummary(nodeLicense)), '');
  return lines.join('\n');
}

/**
 * Node.js's LICENSE, shortened for debian/copyright: Node's own licence terms in full, then the names of
 * the libraries Node includes with a pointer to their texts (the full file carries the Apache-2.0 text
 * and an old FSF address, which Debian wants referenced from /usr/share/common-licenses instead).
 */
function nodeLicenseSummary(file) {
  const url = `https://github.com/nodejs/node/blob/${process.version}/LICENSE`;
  if (!file) return `MIT, with the licences of the libraries Node.js includes: ${url}`;
  const text = fs.readFileSync(file, 'utf8');
  const cut = text.indexOf('The externally maintained libraries used by Node.js are:');
  const own = cut > 0 ? text.slice(0, cut) : text;
  const libs = [...text.matchAll(/^- ([^,]+), located at ([^,]+), is licensed as follows:/gm)].map((m) => `  ${m[1]} (${m[2]})`);
  return `${own.trim()}\n\nNode.js includes these externally maintained libraries, each under its own licence, given in full in ${url}:\n${libs.join('\n')}\n\nOn Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.`;
}
