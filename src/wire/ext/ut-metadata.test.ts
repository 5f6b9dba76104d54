import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBtError } from '../../util/errors.js';
import {
  decodeUtMetadata, encodeUtMetadata, MAX_METADATA_SIZE, METADATA_PIECE_SIZE, metadataPieceCount, metadataPieceLength,
  type UtMetadataMessage,
} from './ut-metadata.js';

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');
const protocolError = (e: unknown): boolean => isBtError(e, 'PROTOCOL');

test('golden: request, reject and data encode as BEP 9 shows them', () => {
  assert.equal(encodeUtMetadata({ type: 'request', piece: 0 }).toString('latin1'), 'd8:msg_typei0e5:piecei0ee');
  assert.equal(encodeUtMetadata({ type: 'reject', piece: 3 }).toString('latin1'), 'd8:msg_typei2e5:piecei3ee');
  const data = encodeUtMetadata({ type: 'data', piece: 1, totalSize: METADATA_PIECE_SIZE + 5, data: bin('abcde') });
  assert.equal(data.toString('latin1'), 'd8:msg_typei1e5:piecei1e10:total_sizei16389eeabcde');
});

test('golden: decoding the BEP 9 examples', () => {
  assert.deepEqual(decodeUtMetadata(bin('d8:msg_typei0e5:piecei0ee')), { type: 'request', piece: 0 });
  assert.deepEqual(decodeUtMetadata(bin('d8:msg_typei2e5:piecei0ee')), { type: 'reject', piece: 0 });
  const m = decodeUtMetadata(bin('d8:msg_typei1e5:piecei0e10:total_sizei3eexyz'));
  assert.deepEqual(m, { type: 'data', piece: 0, totalSize: 3, data: bin('xyz') });
  // Unknown keys are ignored.
  assert.deepEqual(decodeUtMetadata(bin('d8:msg_typei0e5:piecei7e3:zzz3:abce')), { type: 'request', piece: 7 });
});

test('piece geometry', () => {
  assert.equal(metadataPieceCount(1), 1);
  assert.equal(metadataPieceCount(METADATA_PIECE_SIZE), 1);
  assert.equal(metadataPieceCount(METADATA_PIECE_SIZE + 1), 2);
  assert.equal(metadataPieceLength(METADATA_PIECE_SIZE + 1, 0), METADATA_PIECE_SIZE);
  assert.equal(metadataPieceLength(METADATA_PIECE_SIZE + 1, 1), 1);
  assert.equal(metadataPieceLength(METADATA_PIECE_SIZE + 1, 2), 0);
  assert.equal(metadataPieceLength(10, -1), 0);
});

test('decoding the data block copies it', () => {
  const payload = encodeUtMetadata({ type: 'data', piece: 0, totalSize: 4, data: bin('abcd') });
  const m = decodeUtMetadata(payload);
  payload.fill(0);
  assert.ok(m.type === 'data' && m.data.toString('latin1') === 'abcd');
});

test('garbage and out-of-range messages are BtError(PROTOCOL)', () => {
  const bad = [
    '', 'x', 'le', 'i1e', 'd8:msg_typei0ee', 'd5:piecei0ee', 'd8:msg_typei3e5:piecei0ee', 'd8:msg_type1:05:piecei0ee',
    'd8:msg_typei0e5:piecei-1ee', 'd8:msg_typei0e5:piecei1024ee', 'd8:msg_typei0e5:piecei0eeX',
    'd8:msg_typei2e5:piecei0eeX', 'd8:msg_typei0e5:piecei01ee', 'd8:msg_typei0e5:piece',
    // data: missing/zero/huge total_size, piece beyond it, wrong block length
    'd8:msg_typei1e5:piecei0eeabc', 'd8:msg_typei1e5:piecei0e10:total_sizei0ee',
    `d8:msg_typei1e5:piecei0e10:total_sizei${MAX_METADATA_SIZE + 1}ee`, 'd8:msg_typei1e5:piecei1e10:total_sizei3eexyz',
    'd8:msg_typei1e5:piecei0e10:total_sizei3eexy', 'd8:msg_typei1e5:piecei0e10:total_sizei3eexyzw',
    'd8:msg_typei1e5:piecei0e10:total_sizei99999999999999999999eexyz',
    `d8:msg_typei0e5:piecei0e3:pad${2000}:${'p'.repeat(2000)}e`,
  ];
  for (const s of bad) assert.throws(() => decodeUtMetadata(bin(s)), protocolError, JSON.stringify(s.slice(0, 80)));
});

test('encoder rejects its own bad input with RangeError', () => {
  assert.throws(() => encodeUtMetadata({ type: 'request', piece: -1 }), RangeError);
  assert.throws(() => encodeUtMetadata({ type: 'data', piece: 0, totalSize: 5, data: bin('abc') }), RangeError);
  assert.throws(() => encodeUtMetadata({ type: 'data', piece: 1, totalSize: 5, data: bin('') }), RangeError);
  assert.throws(() => encodeUtMetadata({ type: 'data', piece: 0, totalSize: MAX_METADATA_SIZE + 1, data: bin('') }), RangeError);
});

test('property: round trip of every valid message', () => {
  const msg: fc.Arbitrary<UtMetadataMessage> = fc.oneof(
    fc.record({ type: fc.constantFrom('request' as const, 'reject' as const), piece: fc.integer({ min: 0, max: 1023 }) })
      .map((r) => ({ type: r.type, piece: r.piece })),
    fc.integer({ min: 1, max: 5 * METADATA_PIECE_SIZE }).chain((totalSize) =>
      fc.integer({ min: 0, max: metadataPieceCount(totalSize) - 1 }).map((piece) => ({
        type: 'data' as const, piece, totalSize,
        data: Buffer.alloc(metadataPieceLength(totalSize, piece), piece & 0xff),
      }))),
  );
  fc.assert(fc.property(msg, (m) => { assert.deepEqual(decodeUtMetadata(encodeUtMetadata(m)), m); }), { numRuns: 200 });
});

test('property: arbitrary bytes decode or throw BtError(PROTOCOL), nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, prefixed) => {
    const payload = prefixed ? Buffer.concat([bin('d8:msg_typei1e5:piecei0e'), Buffer.from(bytes)]) : Buffer.from(bytes);
    try { decodeUtMetadata(payload); } catch (e) { assert.ok(protocolError(e), String(e)); }
  }), { numRuns: 500 });
});
