// Lint config. The key rule: the pure layers (bencode, wire codec, picker, metainfo core) never import
// sockets, files, timers or the session layer, so they stay testable alone (see docs/design/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // Pure layers: no I/O, no timers, no session.
    files: ['src/bencode/**/*.ts', 'src/wire/codec/**/*.ts', 'src/wire/ext/**/*.ts', 'src/picker/**/*.ts',
      'src/metainfo/**/*.ts', 'src/util/**/*.ts', 'src/tracker/swarm.ts', 'src/tracker/address.ts',
      'src/tracker/http-codec.ts', 'src/tracker/udp-codec.ts', 'src/tracker/types.ts', 'src/tracker/tiers.ts',
      'src/discovery/pex.ts', 'src/discovery/lsd-codec.ts'],
    ignores: ['src/metainfo/create.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ioModules, patterns: ioPatterns }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval'],
    },
  },
);
