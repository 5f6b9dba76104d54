import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPieces } from './check.js';
import { FsStorage } from './fs-storage.js';
import { MemoryStorage } from './memory-storage.js';
import { HashPool } from './hasher.js';
import { makeMeta, pieceOf } from '../../test/support/test-meta.js';
import { isBtError } from '../util/errors.js';
import type { Storage } from './storage.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('check');
let pool: HashPool;
before(() => { pool = new HashPool({ workers: 2 }); });
after(() => pool.close());

const layout = () => makeMeta({ name: 'chk', pieceLength: 1024, files: [
  { path: ['a'], length: 3000 }, { path: ['z0'], length: 0 }, { path: ['sub', 'b'], length: 1500 }, { path: ['c'], length: 5000 },
] }); // 9500 bytes: 10 pieces, the last one 284 bytes

/** Write the torrent's files directly (as another client would have). */
function writeFiles(dir: string, meta: ReturnType<typeof layout>['meta'], data: Buffer, skip: string[] = []): void {
  for (const f of meta.files) {
    if (skip.includes(f.relPath)) continue;
    const p = path.join(dir, ...f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data.subarray(f.offset, f.offset + f.length));
  }
}

test('checkPieces: complete data → every piece; progress reaches the total', async () => {
  const dir = tmpDir();
  const { meta, data } = layout();
  writeFiles(dir, meta, data);
  const s = await FsStorage.open(meta, dir, { readOnly: true });
  const progress: Array<[number, number]> = [];
  const have = await checkPieces(meta, s, pool, { onProgress: (c, t) => progress.push([c, t]) });
  await s.close();
  assert.equal(have.count, meta.pieceCount);
  assert.deepEqual(progress.at(-1), [meta.pieceCount, meta.pieceCount]);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] > progress[i - 1]![0]);
});

test('checkPieces: missing file, short file, corrupted byte, subset', async () => {
  const dir = tmpDir();
  const { meta, data } = layout();
  writeFiles(dir, meta, data, ['chk/sub/b']); // bytes 3000..4500 missing: pieces 2, 3, 4 lost
  // Corrupt one byte of c in piece 6 (offset 6500 → c offset 2000).
  const cPath = path.join(dir, 'chk', 'c');
  const c = fs.readFileSync(cPath);
  c[2000]! ^= 0xff;
  fs.writeFileSync(cPath, c.subarray(0, 4900)); // and truncate c: the last piece (9216..9500) is short
  const s = await FsStorage.open(meta, dir);
  const have = await checkPieces(meta, s, pool);
  assert.deepEqual([...have.indexes()], [0, 1, 5, 7, 8]);
  const some = await checkPieces(meta, s, pool, { only: [8, 1, 2, 1, 9] });
  assert.deepEqual([...some.indexes()], [1, 8]);
  assert.deepEqual([...(await checkPieces(meta, s, pool, { only: [] })).indexes()], []);
  await assert.rejects(checkPieces(meta, s, pool, { only: [10] }), RangeError);
  await s.close();
});

test('checkPieces: nothing on disk at all', async () => {
  const { meta } = layout();
  const s = await FsStorage.open(meta, path.join(tmpDir(), 'absent'), { readOnly: true });
  assert.equal((await checkPieces(meta, s, pool)).count, 0);
  await s.close();
});

test('checkPieces: small pieces are batched; holes inside batches are handled', async () => {
  const { meta, data } = makeMeta({ pieceLength: 16, length: 16 * 1000 + 5 });
  const s = new MemoryStorage(meta, { data });
  for (const p of [0, 17, 500, 999, 1000]) s.delete(p);
  const have = await checkPieces(meta, s, pool);
  assert.equal(have.count, meta.pieceCount - 5);
  for (const p of [0, 17, 500, 999, 1000]) assert.ok(!have.has(p));
  // Corrupt one piece by rewriting it.
  await s.writePiece(3, Buffer.alloc(16));
  assert.ok(!(await checkPieces(meta, s, pool, { only: [2, 3, 4] })).has(3));
});

test('checkPieces: agrees with writes through FsStorage', async () => {
  const dir = tmpDir();
  const { meta, data } = layout();
  const s = await FsStorage.open(meta, dir);
  for (const p of [0, 4, 9]) await s.writePiece(p, pieceOf(meta, data, p));
  assert.deepEqual([...(await checkPieces(meta, s, pool)).indexes()], [0, 4, 9]);
  await s.close();
});

test('checkPieces: abort before and during', async () => {
  const { meta, data } = makeMeta({ pieceLength: 1 << 16, length: 16 << 20, data: Buffer.alloc(16 << 20, 7) });
  const s = new MemoryStorage(meta, { data });
  await assert.rejects(checkPieces(meta, s, pool, { signal: AbortSignal.abort() }), (e) => isBtError(e, 'ABORTED'));
  const ac = new AbortController();
  let seen = 0;
  const run = checkPieces(meta, s, pool, { signal: ac.signal, onProgress: (c) => { seen = c; if (c > 64) ac.abort(); } });
  await assert.rejects(run, (e) => isBtError(e, 'ABORTED'));
  assert.ok(seen < meta.pieceCount, `stopped early (${seen} of ${meta.pieceCount})`);
});

test('checkPieces: storage errors other than missing data reject', async () => {
  const { meta, data } = layout();
  const failing: Storage = new MemoryStorage(meta, { data, fault: (op, p) => (p === 5 ? new Error('EIO: boom') : undefined) });
  await assert.rejects(checkPieces(meta, failing, pool), /EIO/);
});
