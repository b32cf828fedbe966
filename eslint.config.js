// Lint configuration. The layer rule keeps model/ and core/ free of I/O (see docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noIo = {
  paths: [
    { name: 'node:fs', message: 'model/ and core/ are pure: read through src/host/ and pass facts in.' },
    { name: 'node:fs/promises', message: 'model/ and core/ are pure: read through src/host/.' },
    { name: 'fs', message: 'model/ and core/ are pure: read through src/host/.' },
    { name: 'fs/promises', message: 'model/ and core/ are pure.' },
    { name: 'node:child_process', message: 'model/ and core/ never spawn processes.' },
    { name: 'child_process', message: 'model/ and core/ never spawn processes.' },
  ],
  patterns: [
    { group: ['**/host/**', '**/adapters/**', '**/apply/**', '**/cli/**', '**/web/**'], message: 'Layers point down only: model <- core <- adapters <- apply <- cli/web.' },
  ],
};

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
  { files: ['src/model/**/*.ts', 'src/core/**/*.ts'], rules: { 'no-restricted-imports': ['error', noIo] } },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/host/**', 'src/apply/**', 'src/adapters/**', 'src/cli/**', 'src/web/**'],
    rules: { 'no-restricted-imports': ['error', noIo] },
  },
);
