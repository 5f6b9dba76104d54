import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pieceSize, pieceSpans, resolveInside, isInside } from './spans.js';
import { makeMeta } from './test-meta.js';
import { isBtError } from '../util/errors.js';

test('pieceSpans: a piece crossing several files, zero-length files skipped, short last piece', () => {
  const { meta } = makeMeta({ pieceLength: 64, files: [
    { path: ['a'], length: 50 }, { path: ['empty'], length: 0 }, { path: ['x', 'b'], length: 10 },
    { path: ['c'], length: 3 }, { path: ['d'], length: 200 }, { path: ['z'], length: 0 },
  ] });
  assert.equal(meta.pieceCount, 5);
  assert.equal(pieceSize(meta, 4), 263 - 256);
  assert.deepEqual(pieceSpans(meta, 0), [
    { fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 50 },
    { fileIndex: 2, fileOffset: 0, pieceOffset: 50, length: 10 },
    { fileIndex: 3, fileOffset: 0, pieceOffset: 60, length: 3 },
    { fileIndex: 4, fileOffset: 0, pieceOffset: 63, length: 1 },
  ]);
  assert.deepEqual(pieceSpans(meta, 0, 55, 7), [
    { fileIndex: 2, fileOffset: 5, pieceOffset: 55, length: 5 },
    { fileIndex: 3, fileOffset: 0, pieceOffset: 60, length: 2 },
  ]);
  assert.deepEqual(pieceSpans(meta, 4), [{ fileIndex: 4, fileOffset: 193, pieceOffset: 0, length: 7 }]);
  assert.throws(() => pieceSpans(meta, 4, 0, 8), RangeError);
  assert.throws(() => pieceSpans(meta, 5), RangeError);
});

test('pieceSpans covers every piece exactly (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 12 }).filter((ls) => ls.some((l) => l > 0)),
    fc.integer({ min: 1, max: 100 }),
    (lengths, pieceLength) => {
      const { meta } = makeMeta({ pieceLength, files: lengths.map((length, i) => ({ path: [`f${i}`], length })) });
      let covered = 0;
      for (let p = 0; p < meta.pieceCount; p++) {
        let at = 0;
        for (const s of pieceSpans(meta, p)) {
          assert.equal(s.pieceOffset, at);
          assert.ok(s.length > 0);
          const f = meta.files[s.fileIndex]!;
          assert.equal(f.offset + s.fileOffset, p * pieceLength + s.pieceOffset);
          assert.ok(s.fileOffset + s.length <= f.length);
          at += s.length;
        }
        assert.equal(at, pieceSize(meta, p));
        covered += at;
      }
      assert.equal(covered, meta.totalLength);
    }), { numRuns: 200 });
});

test('resolveInside refuses unsafe components', () => {
  assert.equal(resolveInside('/save', ['t', 'a']), '/save/t/a');
  for (const bad of [['..'], ['t', '..', '..'], ['.'], [''], ['a/b'], ['a\\b'], ['a\0b'], []]) {
    assert.throws(() => resolveInside('/save', bad), (e) => isBtError(e, 'BAD_PATH'));
  }
  assert.ok(isInside('/', '/x'));
  assert.ok(!isInside('/save', '/saved'));
});
