/**
 * uTP packet codec (BEP 29): header fields, selective ACK masks of any length (libtorrent sends whole bytes, libutp
 * 4), unknown extensions skipped, truncated chains refused, and no input that throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isUtpPacket } from '../datagram-codec.js';
import { decodePacket, encodePacket, sackHas, seqDiff, ST_DATA, ST_STATE, ST_SYN, usDiff, type UtpPacket } from './packet.js';

function header(type: number, ext = 0): Buffer {
  const b = Buffer.alloc(20);
  b[0] = (type << 4) | 1;
  b[1] = ext;
  b.writeUInt16BE(0xbeef, 2);
  b.writeUInt32BE(0xfffffff0, 4);
  b.writeUInt32BE(12345, 8);
  b.writeUInt32BE(0x100000, 12);
  b.writeUInt16BE(0xffff, 16);
  b.writeUInt16BE(7, 18);
  return b;
}

test('header fields decode as BEP 29 lays them out', () => {
  const r = decodePacket(Buffer.concat([header(ST_DATA), Buffer.from('hello')]));
  assert.ok(r.ok);
  assert.deepEqual({ ...r.packet, payload: r.packet.payload.toString() }, {
    type: ST_DATA, connectionId: 0xbeef, timestampUs: 0xfffffff0, timestampDiffUs: 12345, wndSize: 0x100000,
    seqNr: 0xffff, ackNr: 7, sack: undefined, payload: 'hello',
  });
});

test('selective ACK masks of 1 (libtorrent) to 32 bytes; libutp sends 4', () => {
  for (const len of [1, 2, 3, 4, 8, 32]) {
    const mask = Buffer.alloc(len, 0);
    mask[len - 1] = 0x80;
    const r = decodePacket(Buffer.concat([header(ST_STATE, 1), Buffer.from([0, len]), mask]));
    assert.ok(r.ok, `length ${len}`);
    assert.equal(r.packet.sack?.length, len);
    assert.ok(sackHas(r.packet.sack!, len * 8 - 1));
    assert.ok(!sackHas(r.packet.sack!, 0));
    assert.ok(!sackHas(r.packet.sack!, len * 8)); // past the mask: not acked
    assert.equal(r.packet.payload.length, 0);
  }
});

test('unknown extensions are skipped, the SACK after them is found, the payload follows the chain', () => {
  const chain = Buffer.from([
    1, 3, 0xaa, 0xbb, 0xcc,   // extension 2 (close-ish/bitfield in old libtorrent): next = 1, 3 bytes
    0, 4, 0x05, 0, 0, 0,      // SACK: next = 0, 4 bytes
  ]);
  const r = decodePacket(Buffer.concat([header(ST_DATA, 2), chain, Buffer.from('xyz')]));
  assert.ok(r.ok);
  assert.deepEqual([...r.packet.sack!], [5, 0, 0, 0]);
  assert.equal(r.packet.payload.toString(), 'xyz');
});

test('truncated or malformed packets are refused with a reason, never thrown', () => {
  const bad: Array<[string, Buffer]> = [
    ['short', Buffer.alloc(19, 1)],
    ['version 2', Buffer.concat([Buffer.from([0x02]), Buffer.alloc(19)])],
    ['type 5', Buffer.concat([Buffer.from([0x51]), Buffer.alloc(19)])],
    ['extension header cut', Buffer.concat([header(ST_DATA, 1), Buffer.from([0])])],
    ['extension body cut', Buffer.concat([header(ST_DATA, 1), Buffer.from([0, 8, 1, 2])])],
    ['empty SACK', Buffer.concat([header(ST_STATE, 1), Buffer.from([0, 0])])],
  ];
  for (const [name, buf] of bad) {
    const r = decodePacket(buf);
    assert.equal(r.ok, false, name);
  }
});

test('property: encode then decode is the identity', () => {
  const arb = fc.record({
    type: fc.constantFrom(0, 1, 2, 3, 4) as fc.Arbitrary<0 | 1 | 2 | 3 | 4>,
    connectionId: fc.integer({ min: 0, max: 0xffff }),
    timestampUs: fc.integer({ min: 0, max: 0xffffffff }),
    timestampDiffUs: fc.integer({ min: 0, max: 0xffffffff }),
    wndSize: fc.integer({ min: 0, max: 0xffffffff }),
    seqNr: fc.integer({ min: 0, max: 0xffff }),
    ackNr: fc.integer({ min: 0, max: 0xffff }),
    sack: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)), { nil: undefined }),
    payload: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
  });
  fc.assert(fc.property(arb, (p: UtpPacket) => {
    const enc = encodePacket(p);
    assert.ok(isUtpPacket(enc)); // the endpoint's classifier routes it to uTP
    const r = decodePacket(enc);
    assert.ok(r.ok);
    assert.deepEqual(r.packet, { ...p });
  }), { numRuns: 300 });
});

test('fuzz: random bytes and mutated packets never throw and never read outside the buffer', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
    const r = decodePacket(Buffer.from(a));
    if (r.ok) assert.ok(r.packet.payload.length <= a.length);
  }), { numRuns: 2000 });
  const base = encodePacket({ type: ST_SYN, connectionId: 1, timestampUs: 2, timestampDiffUs: 3, wndSize: 4, seqNr: 1, ackNr: 0,
    sack: Buffer.alloc(4), payload: Buffer.alloc(10) });
  fc.assert(fc.property(fc.integer({ min: 1, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
    const b = Buffer.from(base);
    b[i] = v;
    decodePacket(b);
    decodePacket(b.subarray(0, i + 1));
  }), { numRuns: 2000 });
});

test('sequence numbers and timestamps compare across the wrap', () => {
  assert.equal(seqDiff(0, 0xffff), 1);
  assert.equal(seqDiff(0xffff, 0), -1);
  assert.equal(seqDiff(5, 0xfff0), 21);
  assert.equal(seqDiff(100, 100), 0);
  assert.equal(usDiff(10, 0xfffffff6), 20);
  assert.equal(usDiff(0xfffffff6, 10), -20);
});
