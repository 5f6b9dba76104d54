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

// Library code reads no environment variables: the CLI (and the daemon) read them and pass options.
const envRead = { object: 'process', property: 'env', message: 'read the environment in src/cli/ and pass an option' };
// Folders whose modules take time, timers and randomness only from an injected Clock and rng (issue 10, item 5);
// tests are excluded. The one exception is a line-level disable in the pure src/tracker/swarm.ts (its Math.random
// default for callers that pass no rng; docs/design/architecture.md, "Time and randomness").
export const CLOCKED_FOLDERS = ['src/session/**/*.ts', 'src/discovery/**/*.ts', 'src/tracker/**/*.ts', 'src/net/**/*.ts'];
const internalsMsg = 'private Node internals belong in src/wire/node-internals.ts, behind its feature probe';
const clockMsg = 'use the injected clock/rng (src/util/clock.ts)';
const clockProps = [
  { object: 'Date', property: 'now', message: clockMsg }, { object: 'Math', property: 'random', message: clockMsg },
  { object: 'performance', property: 'now', message: clockMsg }, { object: 'AbortSignal', property: 'timeout', message: clockMsg },
  ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'].map((property) => ({ object: 'globalThis', property, message: clockMsg })),
];

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
    // Private Node internals live in one module, behind a feature probe (src/wire/node-internals.ts); no env reads.
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/wire/node-internals.ts', 'src/cli/**', 'src/daemon/**'],
    rules: {
      'no-restricted-properties': ['error', envRead],
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[property.name=/^(_handle|_readableState|_writableState)$/]", message: internalsMsg },
        { selector: "MemberExpression[property.name=/^(binding|_linkedBinding)$/]", message: internalsMsg },
        { selector: "Identifier[name='internalBinding']", message: internalsMsg }],
    },
  },
  {
    files: CLOCKED_FOLDERS,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', envRead, ...clockProps],
      'no-restricted-globals': ['error', ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'Date']
        .map((name) => ({ name, message: clockMsg }))],
    },
  },
  {
    // The facade is the only way in (issue 10, item 2): the CLI and the daemon reach a session through src/api/
    // (BitpeerApi, built by openBitpeer in src/api/open.ts), never by importing src/session/, types included.
    files: ['src/cli/**/*.ts', 'src/daemon/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/session/*', '**/session'],
        message: 'src/cli/ and src/daemon/ use the facade (src/api/), not src/session/' }] }],
    },
  },
  {
    // The web UI (webui/src/) runs in a browser and reaches the daemon only over its RPC (docs/design/webui.md): no
    // Node built-in and nothing outside webui/src/ (its unit tests, run by Node, may use node:test and node:assert).
    files: ['webui/**/*.ts', 'webui/**/*.tsx'],
    ignores: ['webui/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', '../**'],
        message: 'the web UI is browser code that talks to the daemon over the RPC only (webui/src/rpc.ts)' }] }],
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
