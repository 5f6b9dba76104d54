/**
 * The lint rule that makes the facade the only way in (issue 10, item 2), run through the repository's own
 * eslint.config.js on code given as text: a module under src/cli/ or src/daemon/ may not import src/session/ (values
 * or types); it may import the facade (src/api/) and the modules that are not the session. The web UI (webui/src/)
 * reaches the daemon only over the RPC: no Node built-in, nothing from src/. No files are written.
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

test('src/cli/ and src/daemon/ may not import src/session/, not even a type', { timeout: 30_000 }, async () => {
  assert.deepEqual(await errors('src/cli/commands/new.ts', "import { Session } from '../../session/session.js';\nexport const s = Session;\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('src/cli/new.ts', "import type { SessionEvent } from '../session/events.js';\nexport type E = SessionEvent;\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('src/daemon/new.ts', "export { Torrent } from '../session/torrent.js';\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('src/cli/new.test.ts', "import { Session } from '../session/session.js';\nexport const s = Session;\n"), ['no-restricted-imports']);
});

test('the facade and the modules that are not the session may be imported', { timeout: 30_000 }, async () => {
  assert.deepEqual(await errors('src/cli/commands/new.ts', "import { openBitpeer } from '../../api/open.js';\nexport const o = openBitpeer;\n"), []);
  assert.deepEqual(await errors('src/daemon/new.ts', "import type { SessionEvent } from '../api/types.js';\nexport type E = SessionEvent;\n"), []);
  assert.deepEqual(await errors('src/cli/new.ts', "import { chooseLanAddress } from '../net/lan-address.js';\nexport const c = chooseLanAddress;\n"), []);
  // The rule is for the CLI and the daemon only: the facade itself is built over the session.
  assert.deepEqual(await errors('src/api/new.ts', "import { Session } from '../session/session.js';\nexport const s = Session;\n"), []);
});

test('the web UI (webui/src/) imports no Node built-in and nothing outside webui/src/; its tests may use node:test', { timeout: 30_000 }, async () => {
  assert.deepEqual(await errors('webui/src/new.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('webui/src/new.tsx', "import type { BitpeerApi } from '../../src/api/types.js';\nexport type A = BitpeerApi;\n"), ['no-restricted-imports']);
  assert.deepEqual(await errors('webui/src/new.ts', "import { rpc } from './rpc.js';\nexport const r = rpc;\n"), []);
  assert.deepEqual(await errors('webui/src/new.test.ts', "import { test } from 'node:test';\nexport const t = test;\n"), []);
});
