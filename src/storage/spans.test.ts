import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pieceSize, pieceSpans } from '../metainfo/index.js';
import { rangeSpans, isInside } from './spans.js';
import { makeMeta } from '../../test/support/test-meta.js';

const sample = () => makeMeta({ pieceLength: 64, files: [
  { path: ['a'], length: 50 }, { path: ['empty'], length: 0 }, { path: ['x', 'b'], length: 10 },
  { path: ['c'], length: 3 }, { path: ['d'], length: 200 }, { path: ['z'], length: 0 },
] });

test('the geometry storage relies on: a piece over 4 files, zero-length files skipped, short last piece', () => {
  const { meta } = sample();
  assert.equal(meta.pieceCount, 5);
  assert.equal(pieceSize(meta, 4), 263 - 256);
  assert.deepEqual(pieceSpans(meta, 0), [
    { fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 50 },
    { fileIndex: 2, fileOffset: 0, pieceOffset: 50, length: 10 },
    { fileIndex: 3, fileOffset: 0, pieceOffset: 60, length: 3 },
    { fileIndex: 4, fileOffset: 0, pieceOffset: 63, length: 1 },
  ]);
});

test('rangeSpans: several pieces at once, offsets relative to the range start', () => {
  const { meta } = sample();
  assert.deepEqual(rangeSpans(meta, 55, 100), [
    { fileIndex: 2, fileOffset: 5, pieceOffset: 0, length: 5 },
    { fileIndex: 3, fileOffset: 0, pieceOffset: 5, length: 3 },
    { fileIndex: 4, fileOffset: 0, pieceOffset: 8, length: 92 },
  ]);
  assert.deepEqual(rangeSpans(meta, 0, 0), []);
  assert.throws(() => rangeSpans(meta, 200, 64), RangeError);
});

test('rangeSpans over a run of pieces = the concatenation of pieceSpans (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 12 }).filter((ls) => ls.some((l) => l > 0)),
    fc.integer({ min: 1, max: 100 }),
    fc.nat(), fc.nat(),
    (lengths, pieceLength, a, b) => {
      const { meta } = makeMeta({ pieceLength, files: lengths.map((length, i) => ({ path: [`f${i}`], length })) });
      const first = a % meta.pieceCount;
      const count = 1 + (b % (meta.pieceCount - first));
      const start = first * pieceLength;
      const end = Math.min(meta.totalLength, (first + count) * pieceLength);
      const got = rangeSpans(meta, start, end - start);
      // Merge per-piece spans that continue the same file.
      const want: typeof got = [];
      for (let p = first; p < first + count; p++) {
        for (const s of pieceSpans(meta, p)) {
          const at = p * pieceLength + s.pieceOffset - start;
          const last = want.at(-1);
          if (last && last.fileIndex === s.fileIndex && last.fileOffset + last.length === s.fileOffset) last.length += s.length;
          else want.push({ ...s, pieceOffset: at });
        }
      }
      assert.deepEqual(got, want);
    }), { numRuns: 200 });
});

test('isInside', () => {
  assert.ok(isInside('/save', '/save'));
  assert.ok(isInside('/save', '/save/a/b'));
  assert.ok(isInside('/', '/x'));
  assert.ok(!isInside('/save', '/saved'));
  assert.ok(!isInside('/save', '/'));
});
