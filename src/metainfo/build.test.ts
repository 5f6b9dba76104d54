// The pure half of torrent creation: piece-length choice and the v2/hybrid file order and pad layout (the bytes it
// builds are checked through createTorrent in src/create/create-torrent.test.ts, against mktorrent in
// test/interop/mktorrent.test.ts and against libtorrent in test/interop/create-v2.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoPieceLength, compareTreePaths, layoutV2, type V2InputFile } from './build.js';

test('autoPieceLength: powers of two, 16 KiB to 16 MiB, about 1000-2000 pieces', () => {
  assert.equal(autoPieceLength(0), 16384);
  assert.equal(autoPieceLength(1), 16384);
  assert.equal(autoPieceLength(30 * 1024 * 1024), 16384);
  assert.equal(autoPieceLength(32 * 1024 * 1024), 32768);
  assert.equal(autoPieceLength(1024 ** 3), 1024 * 1024);
  assert.equal(autoPieceLength(1024 ** 4), 16 * 1024 * 1024);
  for (const size of [5e7, 3e8, 7.7e9, 3e10]) {
    const pl = autoPieceLength(size);
    const pieces = Math.ceil(size / pl);
    assert.ok(pieces > 1000 && pieces <= 2000, `${size}: ${pieces}`);
  }
});

// ---- v2 / hybrid layout: libtorrent 2.0.8's order and pad placement (file_storage::canonicalize_impl) ----

const f = (p: string, length: number): V2InputFile => ({ path: p.split('/'), length, executable: false });
const shape = (files: V2InputFile[], pl: number): string[] =>
  layoutV2(files, pl).entries.map((e) => `${e.offset}:${e.path.join('/')}:${e.length}${e.pad ? 'p' : ''}`);

test('compareTreePaths: component by component, bytes of UTF-8, shorter prefix first', () => {
  const sorted = ['b', 'a.c', 'a/x', 'a-b', 'B', 'a/x/y', 'Z', '.hid/z', 'é', 'z'].map((p) => p.split('/'))
    .sort(compareTreePaths).map((p) => p.join('/'));
  // '/' is not a character here: 'a' (a folder) sorts before 'a-b' and 'a.c', unlike mktorrent's joined-string order.
  assert.deepEqual(sorted, ['.hid/z', 'B', 'Z', 'a/x', 'a/x/y', 'a-b', 'a.c', 'b', 'z', 'é']);
  assert.equal(compareTreePaths(['a'], ['a']), 0);
});

test('layoutV2: sorted, a pad after every unaligned non-empty file including the last, none after empty files', () => {
  const pl = 16384;
  assert.deepEqual(shape([f('z', 0), f('only', 40000), f('a', 0)], pl),
    ['0:a:0', '0:only:40000', '40000:.pad/9152:9152p', '49152:z:0']);
  assert.deepEqual(shape([f('b', 3), f('a/x', 16384), f('a-b', 16385), f('c', 1)], pl), [
    '0:a/x:16384', // exactly one piece: no pad
    '16384:a-b:16385', '32769:.pad/16383:16383p', // one byte over
    '49152:b:3', '49155:.pad/16381:16381p',
    '65536:c:1', '65537:.pad/16383:16383p', // the tail pad
  ]);
  assert.equal(layoutV2([f('b', 3), f('c', 1)], pl).total, 2 * pl);
});

test('layoutV2: one file (single-file torrent or a folder of one file) is never padded', () => {
  assert.deepEqual(shape([f('x', 40000)], 16384), ['0:x:40000']);
  assert.equal(layoutV2([{ path: [], length: 5, executable: true }], 16384).total, 5);
  // ... but one non-empty file with an empty one beside it is (libtorrent counts files, not non-empty files).
  assert.deepEqual(shape([f('x', 5), f('y', 0)], 16384), ['0:x:5', '5:.pad/16379:16379p', '16384:y:0']);
});

test('layoutV2: every non-empty file starts on a piece boundary, offsets are contiguous', () => {
  const sizes = [0, 1, 16383, 16384, 16385, 65536, 100_000, 0, 7];
  for (const pl of [16384, 32768, 65536]) {
    const { entries, total } = layoutV2(sizes.map((s, i) => f(`d${i % 3}/f${i}`, s)), pl);
    let off = 0;
    for (const e of entries) {
      assert.equal(e.offset, off);
      if (!e.pad && e.length > 0) assert.equal(e.offset % pl, 0, e.path.join('/'));
      if (e.pad) assert.ok(e.length > 0 && e.length < pl && e.path[0] === '.pad' && e.path[1] === String(e.length));
      off += e.length;
    }
    assert.equal(total, off);
    assert.equal(total % pl, 0, 'tail padded');
  }
});
