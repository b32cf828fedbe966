// Lint configuration. The layer rule keeps model/ and core/ free of I/O (see docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const io = [
  { name: 'node:fs', message: 'model/ and core/ are pure: read through src/host/ and pass facts in.' },
  { name: 'node:fs/promises', message: 'model/ and core/ are pure: read through src/host/.' },
  { name: 'fs', message: 'model/ and core/ are pure: read through src/host/.' },
  { name: 'fs/promises', message: 'model/ and core/ are pure.' },
  { name: 'node:child_process', message: 'model/ and core/ never spawn processes.' },
  { name: 'child_process', message: 'model/ and core/ never spawn processes.' },
];
// Layers point down only: model <- core <- host <- adapters <- apply <- service <- cli/web.
// The session (service/) is the library front ends use: it never imports a front end.
const above = {
  model: ['core', 'host', 'adapters', 'apply', 'service', 'server', 'cli', 'web'],
  core: ['host', 'adapters', 'apply', 'service', 'server', 'cli', 'web'],
  host: ['adapters', 'apply', 'service', 'server', 'cli', 'web'],
  adapters: ['apply', 'service', 'server', 'cli', 'web'],
  apply: ['service', 'server', 'cli', 'web'],
  service: ['server', 'cli', 'web'],
  // the node agent is a front end like the CLI: it calls the session, never the CLI or the server
  agent: ['server', 'cli', 'web'],
};
const layerRule = (layer, pure) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      ...(pure ? { paths: io } : {}),
      patterns: [{ group: above[layer].map((l) => `**/${l}/**`), message: `src/${layer}/ may not import from layers above it (${above[layer].join(', ')}): see docs/architecture.md` }],
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'samples/**', 'test/fixtures/**', 'test/kernel/work/**', '**/*.golden.*', 'web-dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', performance: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly', document: 'readonly', window: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  layerRule('model', true),
  // The --json contract describes what every layer produces: it may name their types (type-only imports,
  // erased at build time), never import their code.
  {
    files: ['src/model/reports.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: io,
        patterns: [{ group: above.model.map((l) => `**/${l}/**`), allowTypeImports: true, message: 'src/model/reports.ts may name the types of other layers (import type), not import their code' }],
      }],
    },
  },
  layerRule('core', true),
  layerRule('host', false),
  layerRule('adapters', false),
  layerRule('apply', false),
  layerRule('service', false),
  layerRule('agent', false),
  // the web server is a front end beside the CLI: it calls the session (src/service/), never the CLI
  {
    files: ['src/server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/**', '**/web/**'], message: 'src/server/ is a front end over the session API (src/service/): it never imports src/cli/ (see docs/architecture.md)' }] }] },
  },
  // the second-front-end test proves the library alone serves a front end
  {
    files: ['test/service/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/cli/**', '**/cli/**'], message: 'test/service drives the session API alone: no CLI imports' }] }] },
  },
);
