// Piece/file arithmetic: spans across files, zero-length files, short last piece, tiling property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { filePieceRange, pieceSize, pieceSpans } from './geometry.js';
import type { TorrentFile } from './types.js';

function geometry(lengths: number[], pieceLength: number) {
  const files: TorrentFile[] = [];
  let offset = 0;
  lengths.forEach((length, i) => {
    files.push({ path: ['t', `f${i}`], relPath: `t/f${i}`, length, offset });
    offset += length;
  });
  return { files, pieceLength, totalLength: offset, pieceCount: Math.ceil(offset / pieceLength) };
}

test('a piece crossing three files (with zero-length files between)', () => {
  // files: 5, 0, 3, 0, 10 ; piece length 10 → pieces [0,10) [10,18)
  const g = geometry([5, 0, 3, 0, 10], 10);
  assert.equal(g.pieceCount, 2);
  assert.deepEqual(pieceSpans(g, 0), [
    { fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 5 },
    { fileIndex: 2, fileOffset: 0, pieceOffset: 5, length: 3 },
    { fileIndex: 4, fileOffset: 0, pieceOffset: 8, length: 2 },
  ]);
  assert.deepEqual(pieceSpans(g, 1), [{ fileIndex: 4, fileOffset: 2, pieceOffset: 0, length: 8 }]);
  assert.equal(pieceSize(g, 1), 8); // short last piece
});

test('block ranges inside a piece', () => {
  const g = geometry([5, 0, 3, 0, 10], 10);
  assert.deepEqual(pieceSpans(g, 0, 4, 3), [
    { fileIndex: 0, fileOffset: 4, pieceOffset: 4, length: 1 },
    { fileIndex: 2, fileOffset: 0, pieceOffset: 5, length: 2 },
  ]);
  assert.deepEqual(pieceSpans(g, 0, 5, 0), []);
  assert.deepEqual(pieceSpans(g, 1, 7), [{ fileIndex: 4, fileOffset: 9, pieceOffset: 7, length: 1 }]);
  assert.throws(() => pieceSpans(g, 1, 0, 9), RangeError);
  assert.throws(() => pieceSpans(g, 0, -1, 1), RangeError);
  assert.throws(() => pieceSpans(g, 2), RangeError);
  assert.throws(() => pieceSpans(g, 0.5), RangeError);
});

test('leading and trailing zero-length files never appear', () => {
  const g = geometry([0, 0, 4, 0], 4);
  assert.deepEqual(pieceSpans(g, 0), [{ fileIndex: 2, fileOffset: 0, pieceOffset: 0, length: 4 }]);
});

test('filePieceRange', () => {
  const g = geometry([5, 0, 3, 0, 10], 10);
  assert.deepEqual(filePieceRange(g, 0), { first: 0, last: 0 });
  assert.equal(filePieceRange(g, 1), null);
  assert.deepEqual(filePieceRange(g, 2), { first: 0, last: 0 });
  assert.deepEqual(filePieceRange(g, 4), { first: 0, last: 1 });
  assert.throws(() => filePieceRange(g, 5), RangeError);
  assert.throws(() => filePieceRange(g, -1), RangeError);
  const h = geometry([10, 10], 10);
  assert.deepEqual(filePieceRange(h, 1), { first: 1, last: 1 });
});

test('property: spans of all pieces tile the files exactly, in order', () => {
  const arb = fc.record({
    lengths: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 12 }),
    pieceLength: fc.integer({ min: 1, max: 64 }),
  }).filter((r) => r.lengths.some((l) => l > 0));
  fc.assert(fc.property(arb, ({ lengths, pieceLength }) => {
    const g = geometry(lengths, pieceLength);
    const covered = lengths.map(() => 0);
    let lastFile = -1;
    for (let p = 0; p < g.pieceCount; p++) {
      const spans = pieceSpans(g, p);
      let pieceOffset = 0;
      for (const s of spans) {
        assert.ok(s.length > 0);
        assert.equal(s.pieceOffset, pieceOffset);
        assert.equal(s.fileOffset, covered[s.fileIndex], 'contiguous within a file');
        assert.ok(s.fileIndex >= lastFile, 'files in order');
        assert.equal(g.files[s.fileIndex]!.offset + s.fileOffset, p * pieceLength + s.pieceOffset, 'absolute offsets agree');
        covered[s.fileIndex]! += s.length;
        pieceOffset += s.length;
        lastFile = s.fileIndex;
      }
      assert.equal(pieceOffset, pieceSize(g, p));
      // filePieceRange agrees with the spans
      for (const s of spans) {
        const r = filePieceRange(g, s.fileIndex)!;
        assert.ok(r.first <= p && p <= r.last);
      }
    }
    assert.deepEqual(covered, lengths);
  }), { numRuns: 1000, interruptAfterTimeLimit: 3000 });
});
