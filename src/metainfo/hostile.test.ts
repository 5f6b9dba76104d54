// Hostile torrents: every fixture is rejected with the right code and a message naming the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from './metainfo.js';
import { isBtError } from '../util/errors.js';
import { hostileTorrents } from '../../test/fixtures/make-hostile.js';

function assertRejected(bytes: Uint8Array, code: string, fragment: string, label: string): void {
  assert.throws(() => parseTorrent(bytes), (e: unknown) => {
    assert.ok(isBtError(e), `${label}: expected a BtError, got ${String(e)}`);
    assert.equal(e.code, code, `${label}: ${e.message}`);
    assert.ok(e.message.includes(fragment), `${label}: message ${JSON.stringify(e.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  }, label);
}

test('every hostile fixture is rejected with its code and message', () => {
  const all = hostileTorrents();
  assert.ok(all.length >= 50);
  for (const h of all) assertRejected(h.bytes, h.code, h.fragment, h.name);
});

test('fixtures fail fast', () => {
  const t0 = performance.now();
  for (const h of hostileTorrents()) { try { parseTorrent(h.bytes); } catch { /* expected */ } }
  assert.ok(performance.now() - t0 < 2000);
});

test('a __proto__ key anywhere does not pollute prototypes', () => {
  const h = hostileTorrents().find((x) => x.name === 'proto-file-entry')!;
  assert.throws(() => parseTorrent(h.bytes));
  assert.equal(({} as Record<string, unknown>)['length'], undefined);
  assert.equal(({} as Record<string, unknown>)['path'], undefined);
});

test('on-disk fixtures (test/fixtures/hostile) match their index, if generated', (t) => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = path.resolve(here, '../../../test/fixtures/hostile');
  const indexFile = path.join(dir, 'expected.json');
  if (!existsSync(indexFile)) { t.skip('test/fixtures/hostile not generated'); return; }
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, { code: string; fragment: string }>;
  const names = Object.keys(index);
  assert.ok(names.length > 0);
  for (const name of names) {
    const e = index[name]!;
    assertRejected(readFileSync(path.join(dir, name)), e.code, e.fragment, name);
  }
});
