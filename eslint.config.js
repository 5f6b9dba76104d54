// Lint config. The key rule: the pure layers (util, bencode, metainfo, wire codec and extensions, picker, the codecs
// and the tracker/discovery cores) never import sockets, files, timers or the session layer, so they stay testable
// alone (see docs/design/architecture.md). Which modules are pure is a folder convention kept in
// scripts/lint/purity.js, whose rule also stops a pure module from importing any module that is not pure.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import purity, { PURE_GLOBS } from './scripts/lint/purity.js';

const ioModules = ['node:net', 'node:dgram', 'node:fs', 'node:fs/promises', 'node:timers', 'node:timers/promises',
  'node:worker_threads', 'node:child_process', 'node:http', 'node:https', 'net', 'dgram', 'fs', 'fs/promises', 'http'];
const ioPatterns = ['**/session/**', '**/storage/**', '**/cli/**'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly',
      setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
      setImmediate: 'readonly', queueMicrotask: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Pure layers: no I/O, no timers, no session, and no import of a module that is not pure.
    files: PURE_GLOBS,
    ignores: ['**/*.test.ts'],
    plugins: { bitpeer: purity },
    rules: {
      'bitpeer/pure-imports': 'error',
      'no-restricted-imports': ['error', { paths: ioModules, patterns: ioPatterns }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval'],
    },
  },
);
