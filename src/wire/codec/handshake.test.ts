import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBtError } from '../../util/errors.js';
import {
  encodeHandshake, parseHandshake, makeReserved, hasReserved, ReservedBit, HANDSHAKE_LENGTH, PROTOCOL_NAME,
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

test('BEP 52 v2 bit is reserved[7] & 0x10, independent of Fast and DHT', () => {
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
