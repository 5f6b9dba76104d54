import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_SIZE, blockCount, isValidGeometry, lastPieceSize, pieceSizeAt } from './geometry.js';

test('BLOCK_SIZE is 16 KiB', () => assert.equal(BLOCK_SIZE, 16384));

test('isValidGeometry: the last piece holds 1..pieceLength bytes', () => {
  assert.ok(isValidGeometry({ pieceCount: 0, pieceLength: 16384, totalLength: 0 }));
  assert.ok(isValidGeometry({ pieceCount: 3, pieceLength: 100, totalLength: 201 }));
  assert.ok(isValidGeometry({ pieceCount: 3, pieceLength: 100, totalLength: 300 }));
  assert.ok(!isValidGeometry({ pieceCount: 3, pieceLength: 100, totalLength: 200 }));
  assert.ok(!isValidGeometry({ pieceCount: 3, pieceLength: 100, totalLength: 301 }));
  assert.ok(!isValidGeometry({ pieceCount: 0, pieceLength: 100, totalLength: 1 }));
  assert.ok(!isValidGeometry({ pieceCount: 1, pieceLength: 0, totalLength: 0 }));
  assert.ok(!isValidGeometry({ pieceCount: 1.5, pieceLength: 100, totalLength: 100 }));
  assert.ok(!isValidGeometry({ pieceCount: 1, pieceLength: 100, totalLength: NaN }));
  assert.ok(!isValidGeometry({ pieceCount: -1, pieceLength: 100, totalLength: 0 }));
});

test('piece and block sizes', () => {
  const g = { pieceCount: 3, pieceLength: 2 * BLOCK_SIZE, totalLength: 4 * BLOCK_SIZE + 5 };
  assert.equal(pieceSizeAt(g, 0), 2 * BLOCK_SIZE);
  assert.equal(pieceSizeAt(g, 2), 5);
  assert.equal(lastPieceSize(g), 5);
  assert.equal(lastPieceSize({ pieceCount: 0, pieceLength: 1, totalLength: 0 }), 0);
  assert.equal(blockCount(pieceSizeAt(g, 0)), 2);
  assert.equal(blockCount(5), 1);
  assert.equal(blockCount(BLOCK_SIZE + 1), 2);
  assert.equal(blockCount(10, 4), 3);
});
