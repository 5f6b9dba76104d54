// Hostile torrents: every fixture is refused with the right code and a message naming the problem, or (where
// libtorrent sanitises) accepted with the file names libtorrent gives it, and every such name is safe to join.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from './metainfo.js';
import { resolveInside } from './paths.js';
import { isBtError } from '../util/errors.js';
import { hostileTorrents } from '../../test/fixtures/make-hostile.js';

function assertSanitised(bytes: Uint8Array, files: readonly string[], fragment: string, label: string): void {
  const m = parseTorrent(bytes);
  assert.deepEqual(m.files.filter((x) => x.padding !== true).map((x) => x.relPath), files, label);
  if (fragment !== '') assert.ok(m.softErrors.some((s) => s.includes(fragment)), `${label}: no soft error with ${JSON.stringify(fragment)} in ${JSON.stringify(m.softErrors)}`);
  const jail = path.resolve('/jail/save');
  for (const x of m.files) assert.ok(resolveInside(jail, x.path).startsWith(jail + path.sep), `${label}: ${x.relPath}`);
}

function assertVerdict(bytes: Uint8Array, code: string, fragment: string, files: readonly string[] | undefined, label: string): void {
  if (code === 'SANITISED') assertSanitised(bytes, files ?? [], fragment, label);
  else assertRejected(bytes, code, fragment, label);
}

function assertRejected(bytes: Uint8Array, code: string, fragment: string, label: string): void {
  assert.throws(() => parseTorrent(bytes), (e: unknown) => {
    assert.ok(isBtError(e), `${label}: expected a BtError, got ${String(e)}`);
    assert.equal(e.code, code, `${label}: ${e.message}`);
    assert.ok(e.message.includes(fragment), `${label}: message ${JSON.stringify(e.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  }, label);
}

test('every hostile fixture is refused with its code and message, or sanitised to its expected files', () => {
  const all = hostileTorrents();
  assert.ok(all.length >= 50);
  for (const h of all) assertVerdict(h.bytes, h.code, h.fragment, h.files, h.name);
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
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, { code: string; fragment: string; files?: string[] }>;
  const names = Object.keys(index);
  assert.ok(names.length > 0);
  for (const name of names) {
    const e = index[name]!;
    assertVerdict(readFileSync(path.join(dir, name)), e.code, e.fragment, e.files, name);
  }
});
