// The pure half of torrent creation: piece-length choice (the bytes it builds are checked through createTorrent in
// src/create/create-torrent.test.ts and against mktorrent in test/interop/mktorrent.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoPieceLength } from './build.js';

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
