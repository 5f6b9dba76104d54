/**
 * The lint rule that keeps the pure layers pure (issue 10, item 8), run through the repository's own
 * eslint.config.js on code given as text: a pure module (by folder, by `-codec` name, or by the short list for mixed
 * folders) may not import a module that is not pure, so no chain of imports reaches I/O; type-only imports and
 * imports between pure modules pass; an I/O module is not held to the rule. No files are written.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const eslint = new ESLint({ cwd: root });

/** The rule ids of the errors that linting `code` as the repository file `file` gives. */
async function errors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => m.ruleId ?? m.message);
}

const IMPURE = "import { createTorrent } from '../create/create-torrent.js';\nexport const f = createTorrent;\n";

test('a pure module may not import a module that does I/O, even one that imports no built-in itself', { timeout: 30_000 }, async () => {
  // src/create/create-torrent.ts does I/O; src/tracker/announcer.ts keeps timers; both are caught by where they live.
  assert.deepEqual(await errors('src/metainfo/new.ts', IMPURE), ['bitpeer/pure-imports']);
  assert.deepEqual(await errors('src/picker/new.ts', "export { Announcer } from '../tracker/announcer.js';\n"), ['bitpeer/pure-imports']);
  assert.deepEqual(await errors('src/tracker/new-codec.ts', "export * from './announcer.js';\n"), ['bitpeer/pure-imports']);
  assert.deepEqual(await errors('src/discovery/pex.ts', "export const m = import('./lsd.js');\n"), ['bitpeer/pure-imports']);
});

test('pure modules may import pure modules and types; I/O modules are not held to the rule', { timeout: 30_000 }, async () => {
  assert.deepEqual(await errors('src/metainfo/new.ts', "import { encode } from '../bencode/encode.js';\nexport const e = encode;\n"), []);
  assert.deepEqual(await errors('src/tracker/tiers.ts', "import { checkTrackerUrl } from './client-common.js';\nexport const c = checkTrackerUrl;\n"), []);
  assert.deepEqual(await errors('src/metainfo/new.ts', "import type { CreateOptions } from '../create/create-torrent.js';\nexport type O = CreateOptions;\n"), []);
  assert.deepEqual(await errors('src/create/new.ts', IMPURE), []);
  // Tests next to a pure module may use I/O helpers.
  assert.deepEqual(await errors('src/metainfo/new.test.ts', IMPURE), []);
});

test('pure modules still may not import I/O built-ins or use global timers', { timeout: 30_000 }, async () => {
  assert.deepEqual(await errors('src/wire/codec/new.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('src/util/new.ts', 'export const t = setTimeout;\n'), ['no-restricted-globals']);
});
