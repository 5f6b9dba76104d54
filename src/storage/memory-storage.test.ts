import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from './memory-storage.js';
import { makeMeta, pieceOf } from '../../test/support/test-meta.js';
import { BtError, isBtError } from '../util/errors.js';

test('MemoryStorage: write, read, missing pieces, faults, close', async () => {
  const { meta, data } = makeMeta({ pieceLength: 32, length: 100 });
  const s = new MemoryStorage(meta, { fault: (op, p) => (op === 'write' && p === 2 ? new BtError('IO', 'ENOSPC') : undefined) });
  assert.equal(await s.readPiece(0), null);
  await assert.rejects(s.read(0, 0, 4), (e) => isBtError(e, 'IO'));
  await s.writePiece(3, pieceOf(meta, data, 3));
  assert.deepEqual(await s.readPiece(3), pieceOf(meta, data, 3));
  assert.deepEqual(await s.read(3, 1, 2), data.subarray(97, 99));
  await assert.rejects(s.writePiece(2, pieceOf(meta, data, 2)), /ENOSPC/);
  await assert.rejects(s.writePiece(1, Buffer.alloc(3)), RangeError);
  await assert.rejects(s.read(3, 2, 3), RangeError);
  await s.close();
  await assert.rejects(s.readPiece(3), (e) => isBtError(e, 'ABORTED'));
  const full = new MemoryStorage(meta, { data });
  const into = Buffer.alloc(32);
  assert.deepEqual(await full.readPiece(3, into), data.subarray(96));
  assert.deepEqual(full.heldPieces, [0, 1, 2, 3]);
});
