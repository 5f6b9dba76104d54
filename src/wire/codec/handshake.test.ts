import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBtError } from '../../util/errors.js';
import {
  encodeHandshake, parseHandshake, makeReserved, hasReserved, ReservedBit, HANDSHAKE_LENGTH, PROTOCOL_NAME,
  reservedFor, answerIncoming, acceptAnswer,
} from './handshake.js';

const infoHash = Buffer.alloc(20, 0xaa);
const peerId = Buffer.from('-BP0001-abcdefghijkl', 'latin1');

test('handshake golden bytes', () => {
  const reserved = makeReserved([ReservedBit.EXTENSION_PROTOCOL, ReservedBit.FAST, ReservedBit.DHT]);
  assert.equal(reserved.toString('hex'), '0000000000100005');
  const b = encodeHandshake({ reserved, infoHash, peerId });
  assert.equal(b.length, HANDSHAKE_LENGTH);
  const expected = Buffer.concat([
    Buffer.from([19]), Buffer.from(PROTOCOL_NAME, 'latin1'), reserved, infoHash, peerId,
  ]);
  assert.equal(b.toString('hex'), expected.toString('hex'));
  assert.equal(b.subarray(0, 20).toString('hex'), '13426974546f7272656e742070726f746f636f6c');
});

test('handshake round trip returns copies', () => {
  const reserved = makeReserved([ReservedBit.FAST]);
  const b = encodeHandshake({ reserved, infoHash, peerId });
  const h = parseHandshake(b);
  assert.deepEqual(h, { reserved, infoHash, peerId });
  b.fill(0);
  assert.equal(h.peerId.toString('latin1'), '-BP0001-abcdefghijkl', 'fields must not alias the input');
});

test('parseHandshake rejects a bad length byte, a bad protocol string and a wrong size', () => {
  const good = encodeHandshake({ reserved: Buffer.alloc(8), infoHash, peerId });
  const badLen = Buffer.from(good);
  badLen[0] = 18;
  assert.throws(() => parseHandshake(badLen), (e) => isBtError(e, 'HANDSHAKE') && /length: 18 != 19/.test(e.message));
  const badStr = Buffer.from(good);
  badStr[5] = 0x74; // 'BitTtrrent'
  assert.throws(() => parseHandshake(badStr), (e) => isBtError(e, 'HANDSHAKE') && /protocol string/.test(e.message));
  assert.throws(() => parseHandshake(good.subarray(0, 67)), (e) => isBtError(e, 'HANDSHAKE') && /67/.test(e.message));
  assert.throws(() => parseHandshake(Buffer.concat([good, Buffer.from([0])])), (e) => isBtError(e, 'HANDSHAKE'));
});

test('encodeHandshake rejects wrongly sized fields', () => {
  assert.throws(() => encodeHandshake({ reserved: Buffer.alloc(7), infoHash, peerId }), RangeError);
  assert.throws(() => encodeHandshake({ reserved: Buffer.alloc(8), infoHash: Buffer.alloc(32), peerId }), RangeError);
  assert.throws(() => encodeHandshake({ reserved: Buffer.alloc(8), infoHash, peerId: Buffer.alloc(19) }), RangeError);
});

test('reserved bits', () => {
  const r = makeReserved([ReservedBit.FAST]);
  assert.equal(hasReserved(r, ReservedBit.FAST), true);
  assert.equal(hasReserved(r, ReservedBit.DHT), false);
  assert.equal(hasReserved(r, ReservedBit.EXTENSION_PROTOCOL), false);
  assert.equal(hasReserved(Buffer.alloc(8, 0xff), ReservedBit.EXTENSION_PROTOCOL), true);
  assert.equal(hasReserved(Buffer.alloc(0), ReservedBit.FAST), false);
  assert.throws(() => makeReserved([{ byte: 8, mask: 1 }]), RangeError);
});

test('BEP 52 v2 upgrade bit is reserved[7] & 0x10, independent of Fast and DHT', () => {
  const r = makeReserved([ReservedBit.FAST, ReservedBit.EXTENSION_PROTOCOL, ReservedBit.V2]);
  assert.equal(r[7], 0x14);
  assert.equal(r[5], 0x10);
  assert.ok(hasReserved(r, ReservedBit.V2));
  assert.ok(!hasReserved(makeReserved([ReservedBit.FAST, ReservedBit.DHT]), ReservedBit.V2));
  // libtorrent 2's reserved bytes (extension, Fast, DHT, v2) round-trip through a handshake.
  const lt = Buffer.from('0000000000100015', 'hex');
  const hs = parseHandshake(encodeHandshake({ reserved: lt, infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2) }));
  assert.ok(hasReserved(hs.reserved, ReservedBit.V2) && hasReserved(hs.reserved, ReservedBit.DHT) && hasReserved(hs.reserved, ReservedBit.FAST));
});

test('BEP 52 names: reservedFor sets the upgrade bit for hybrids only', () => {
  const base = makeReserved([ReservedBit.FAST, ReservedBit.EXTENSION_PROTOCOL]);
  const v1 = Buffer.alloc(20, 1);
  const v2t = Buffer.alloc(20, 2);
  assert.ok(hasReserved(reservedFor(base, { infoHash: v1, v2Truncated: v2t }), ReservedBit.V2));
  assert.ok(!hasReserved(reservedFor(base, { infoHash: v1 }), ReservedBit.V2));
  assert.ok(!hasReserved(reservedFor(base, { infoHash: v2t, v2Only: true }), ReservedBit.V2));
  // A v1 torrent never sends it, even if the base had it.
  assert.ok(!hasReserved(reservedFor(makeReserved([ReservedBit.V2]), { infoHash: v1 }), ReservedBit.V2));
  assert.ok(hasReserved(reservedFor(base, { infoHash: v1 }), ReservedBit.FAST));
});

test('BEP 52 names: answerIncoming and acceptAnswer (libtorrent\'s v2 upgrade of a hybrid connection)', () => {
  const v1 = Buffer.alloc(20, 1);
  const v2t = Buffer.alloc(20, 2);
  const hybrid = { infoHash: v1, v2Truncated: v2t };
  const hs = (ih: Buffer, bits: Array<{ byte: number; mask: number }> = []) => ({ reserved: makeReserved(bits), infoHash: ih, peerId });
  // Named by the truncated v2 hash: a v2 connection, answered by that name.
  assert.deepEqual(answerIncoming(hybrid, hs(v2t), false), { infoHash: v2t, v2: true });
  assert.deepEqual(answerIncoming(hybrid, hs(v2t), true), { infoHash: v2t, v2: true });
  // By the v1 hash without the bit: a v1 connection.
  assert.deepEqual(answerIncoming(hybrid, hs(v1), false), { infoHash: v1, v2: false });
  // With the bit, plaintext: upgraded; over MSE the name is kept.
  assert.deepEqual(answerIncoming(hybrid, hs(v1, [ReservedBit.V2]), false), { infoHash: v2t, v2: true });
  assert.deepEqual(answerIncoming(hybrid, hs(v1, [ReservedBit.V2]), true), { infoHash: v1, v2: false });
  // Another torrent.
  assert.equal(answerIncoming(hybrid, hs(Buffer.alloc(20, 3)), false), null);
  // v1-only: the bit changes nothing; a v2-name is not ours.
  assert.deepEqual(answerIncoming({ infoHash: v1 }, hs(v1, [ReservedBit.V2]), false), { infoHash: v1, v2: false });
  assert.equal(answerIncoming({ infoHash: v1 }, hs(v2t), false), null);
  // v2-only: every connection is v2.
  assert.deepEqual(answerIncoming({ infoHash: v2t, v2Only: true }, hs(v2t), false), { infoHash: v2t, v2: true });
  // Our dial of a hybrid (v1 name, upgrade offered): the peer keeps v1 or upgrades.
  assert.deepEqual(acceptAnswer(hybrid, hs(v1)), { infoHash: v1, v2: false });
  assert.deepEqual(acceptAnswer(hybrid, hs(v2t)), { infoHash: v2t, v2: true });
  assert.equal(acceptAnswer(hybrid, hs(Buffer.alloc(20, 3))), null);
  assert.equal(acceptAnswer({ infoHash: v1 }, hs(v2t)), null);
  assert.deepEqual(acceptAnswer({ infoHash: v2t, v2Only: true }, hs(v2t)), { infoHash: v2t, v2: true });
});
