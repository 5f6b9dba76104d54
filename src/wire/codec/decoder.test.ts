import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BtError, isBtError } from '../../util/errors.js';
import { encodeMessage, hashesProofCount, type Message } from './messages.js';
import { MessageDecoder, bitfieldProblem, MAX_HASHES_PER_MESSAGE, MAX_PROOF_LAYERS, type WireGeometry, type DecoderLimits } from './decoder.js';

// 10 pieces of 32 KiB; the last one is 20000 bytes.
const G: WireGeometry = { pieceCount: 10, pieceLength: 32768, totalLength: 9 * 32768 + 20000 };
const pieceSize = (i: number): number => (i === G.pieceCount - 1 ? 20000 : G.pieceLength);

/** Decodes everything the chunks hold; asserts nothing is left over. */
function decodeAll(chunks: Buffer[], g: WireGeometry | null = G, limits?: DecoderLimits): Message[] {
  const d = new MessageDecoder(g, limits);
  const out: Message[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let m = d.next(); m !== null; m = d.next()) out.push(m);
    assert.ok(d.needed >= 1, 'needed >= 1 after next() returned null');
  }
  assert.equal(d.buffered, 0, 'no bytes left over');
  return out;
}

/** Pushes `bytes` (hex or buffer) in one go and returns the PROTOCOL error reason that next() throws. */
function reasonOf(bytes: Buffer | string, g: WireGeometry | null = G, limits?: DecoderLimits): string {
  const d = new MessageDecoder(g, limits);
  d.push(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes);
  try {
    while (d.next() !== null) { /* drain */ }
  } catch (e) {
    assert.ok(isBtError(e, 'PROTOCOL'), `expected BtError PROTOCOL, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a protocol error');
}

const u32 = (n: number): string => n.toString(16).padStart(8, '0');
const hdr = (len: number, id: number): string => u32(len) + id.toString(16).padStart(2, '0');

const SAMPLE: Message[] = [
  { type: 'keepAlive' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'notInterested' },
  { type: 'bitfield', bitfield: Buffer.from([0xa5, 0x40]) },
  { type: 'have', index: 9 }, { type: 'request', index: 9, begin: 16384, length: 3616 },
  { type: 'piece', index: 0, begin: 16384, block: Buffer.alloc(16384, 0x5a) },
  { type: 'piece', index: 9, begin: 19990, block: Buffer.from('0123456789') },
  { type: 'cancel', index: 3, begin: 0, length: 16384 }, { type: 'port', port: 51413 },
  { type: 'suggest', index: 4 }, { type: 'haveAll' }, { type: 'haveNone' },
  { type: 'reject', index: 8, begin: 32767, length: 1 }, { type: 'allowedFast', index: 0 },
  { type: 'extended', id: 0, payload: Buffer.from('d1:md6:ut_pexi1eee') }, { type: 'extended', id: 3, payload: Buffer.alloc(0) },
  { type: 'unknown', id: 200, length: 40 }, { type: 'unknown', id: 24, length: 1 }, { type: 'keepAlive' },
  { type: 'hashRequest', piecesRoot: Buffer.alloc(32, 0xab), baseLayer: 2, index: 512, length: 512, proofLayers: 10 },
  { type: 'hashes', piecesRoot: Buffer.alloc(32, 1), baseLayer: 0, index: 4, length: 4, proofLayers: 3, hashes: Buffer.alloc(32 * 6, 7) },
  { type: 'hashReject', piecesRoot: Buffer.alloc(32, 2), baseLayer: 1, index: 0, length: 2, proofLayers: 0 },
];
const SAMPLE_BYTES = Buffer.concat(SAMPLE.map(encodeMessage));

test('a stream of every message type decodes when split at every byte boundary', () => {
  for (let i = 0; i <= SAMPLE_BYTES.length; i++) {
    const got = decodeAll([SAMPLE_BYTES.subarray(0, i), SAMPLE_BYTES.subarray(i)]);
    assert.deepEqual(got, SAMPLE, `split at ${i}`);
  }
});

test('the same stream decodes when split at every pair of small boundaries (three chunks)', () => {
  // The first 120 bytes hold every header shape; a 3-way split there exercises the cross-chunk readers.
  for (let i = 0; i <= 120; i++) {
    for (let j = i; j <= 120; j++) {
      const got = decodeAll([SAMPLE_BYTES.subarray(0, i), SAMPLE_BYTES.subarray(i, j), SAMPLE_BYTES.subarray(j)]);
      assert.deepEqual(got, SAMPLE, `split at ${i}, ${j}`);
    }
  }
});

test('the stream decodes when fed one byte at a time', () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < SAMPLE_BYTES.length; i++) chunks.push(SAMPLE_BYTES.subarray(i, i + 1));
  assert.deepEqual(decodeAll(chunks), SAMPLE);
});

test('many messages in one chunk', () => {
  const msgs: Message[] = [];
  for (let i = 0; i < 3000; i++) {
    const index = i % G.pieceCount;
    msgs.push(i % 3 === 0 ? { type: 'have', index }
      : i % 3 === 1 ? { type: 'request', index, begin: 0, length: 16384 }
        : { type: 'piece', index, begin: 16, block: Buffer.alloc(64, i & 0xff) });
  }
  const one = Buffer.concat(msgs.map(encodeMessage));
  const d = new MessageDecoder(G);
  d.push(one);
  const got: Message[] = [];
  for (let m = d.next(); m !== null; m = d.next()) got.push(m);
  assert.deepEqual(got, msgs);
  assert.equal(d.buffered, 0);
  assert.equal(d.needed, 4);
});

test('a block inside one chunk is a zero-copy view; a block across chunks is one fresh copy', () => {
  const msg = encodeMessage({ type: 'piece', index: 2, begin: 0, block: Buffer.alloc(16384, 1) });
  const d = new MessageDecoder(G);
  d.push(msg);
  const m = d.next();
  assert.ok(m && m.type === 'piece');
  assert.equal(m.block.buffer, msg.buffer);
  assert.equal(m.block.byteOffset, msg.byteOffset + 13);

  const a = msg.subarray(0, 1000);
  const b = msg.subarray(1000);
  d.push(a);
  d.push(b);
  const m2 = d.next();
  assert.ok(m2 && m2.type === 'piece');
  assert.ok(m2.block.equals(Buffer.alloc(16384, 1)));
  // A copy: changing the input does not change the block. (Identity of the ArrayBuffer proves nothing: Node 24
  // allocates small buffers from a 64 KiB pool, so a copy can share the input's ArrayBuffer.)
  msg.fill(9);
  assert.ok(m2.block.equals(Buffer.alloc(16384, 1)));
});

test('a bitfield is always a copy (it is kept for the life of the connection)', () => {
  const msg = encodeMessage({ type: 'bitfield', bitfield: Buffer.from([0xff, 0xc0]) });
  const d = new MessageDecoder(G);
  d.push(msg);
  const m = d.next();
  assert.ok(m && m.type === 'bitfield');
  msg.fill(0);
  assert.equal(m.bitfield.toString('hex'), 'ffc0');
});

test('needed: exact byte counts through every stage of a piece message', () => {
  const msg = encodeMessage({ type: 'piece', index: 1, begin: 100, block: Buffer.alloc(500, 3) });
  const d = new MessageDecoder(G);
  assert.equal(d.needed, 4);
  const expectNeeded = (pos: number): number => {
    if (pos < 4) return 4 - pos;      // length prefix
    if (pos < 5) return 1;            // id
    if (pos < 13) return 13 - pos;    // index + begin (validated before the block is waited for)
    return msg.length - pos;          // block
  };
  for (let pos = 0; pos < msg.length; pos++) {
    assert.equal(d.next(), null);
    assert.equal(d.needed, expectNeeded(pos), `at ${pos}`);
    d.push(msg.subarray(pos, pos + 1));
  }
  assert.equal(d.needed, 0, 'a full stage is buffered: call next()');
  assert.equal(d.next()?.type, 'piece');
  assert.equal(d.needed, 4);
});

test('needed: pushing exactly `needed` bytes each time always makes progress (property)', () => {
  fc.assert(fc.property(fc.array(arbMessage(), { maxLength: 20 }), (msgs) => {
    const bytes = Buffer.concat(msgs.map(encodeMessage));
    const d = new MessageDecoder(G);
    const got: Message[] = [];
    let pos = 0;
    let pushes = 0;
    while (pos < bytes.length) {
      const n = d.needed;
      assert.ok(n >= 1);
      d.push(bytes.subarray(pos, pos + n));
      pos += n;
      pushes++;
      assert.equal(d.needed, 0, 'exactly `needed` bytes complete a stage');
      for (let m = d.next(); m !== null; m = d.next()) got.push(m);
      assert.ok(d.needed >= 1);
    }
    assert.deepEqual(got, msgs);
    assert.ok(pushes <= msgs.length * 4, `${pushes} pushes for ${msgs.length} messages`);
  }), { numRuns: 100 });
});

test('unknown ids are skipped as they arrive, never buffered', () => {
  const d = new MessageDecoder(G);
  d.push(Buffer.from(hdr(1 + 100000, 99), 'hex'));
  assert.equal(d.next(), null);
  assert.equal(d.needed, 100000);
  d.push(Buffer.alloc(60000));
  assert.equal(d.next(), null);
  assert.equal(d.buffered, 0);
  assert.equal(d.needed, 40000);
  d.push(Buffer.concat([Buffer.alloc(40000), encodeMessage({ type: 'have', index: 1 })]));
  assert.deepEqual(d.next(), { type: 'unknown', id: 99, length: 100001 });
  assert.deepEqual(d.next(), { type: 'have', index: 1 });
});

test('a 0xFFFFFFFF length prefix is rejected after 4 bytes, without waiting or allocating', () => {
  const d = new MessageDecoder(G);
  const before = process.memoryUsage().arrayBuffers;
  d.push(Buffer.from('ffffffff', 'hex'));
  assert.throws(() => d.next(), (e) => isBtError(e, 'PROTOCOL') && e.message === 'message too long: 4294967295 > 1049600');
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
});

test('after an error the decoder is dead and rethrows the same error', () => {
  const d = new MessageDecoder(G);
  d.push(Buffer.from(hdr(6, 4) + '0000000100', 'hex'));
  let first: unknown;
  try { d.next(); } catch (e) { first = e; }
  assert.ok(first instanceof BtError);
  d.push(encodeMessage({ type: 'choke' }));
  assert.throws(() => d.next(), (e) => e === first);
  assert.equal(d.buffered, 0);
});

test('general cap and configurable limits', () => {
  assert.equal(reasonOf(u32(1049601)), 'message too long: 1049601 > 1049600');
  assert.equal(reasonOf(u32(101), G, { maxMessageLength: 100 }), 'message too long: 101 > 100');
  // Unknown ids within the cap are fine; over the cap they are not.
  assert.equal(reasonOf(hdr(200, 99), G, { maxMessageLength: 100 }), 'message too long: 200 > 100');
  assert.throws(() => new MessageDecoder(G, { maxBlockLength: 0 }), RangeError);
});

test('each fixed-size message must have its exact length (checked at the id byte)', () => {
  const cases: Array<[number, string, number]> = [
    [0, 'choke', 1], [1, 'unchoke', 1], [2, 'interested', 1], [3, 'not interested', 1], [4, 'have', 5],
    [6, 'request', 13], [8, 'cancel', 13], [9, 'port', 3], [13, 'suggest', 5], [14, 'have all', 1],
    [15, 'have none', 1], [16, 'reject', 13], [17, 'allowed fast', 5],
  ];
  for (const [id, name, len] of cases) {
    for (const bad of [len - 1, len + 1]) {
      if (bad < 1) continue;
      // Only the 5 header bytes are pushed: the error must not wait for the body.
      assert.equal(reasonOf(hdr(bad, id)), `${name} message has wrong length: ${bad} != ${len}`);
    }
  }
});

test('piece: at most one block, never empty, and inside its piece', () => {
  assert.equal(reasonOf(hdr(70000, 7)), 'piece message too long: 70000 > 16393');
  assert.equal(reasonOf(hdr(16394, 7)), 'piece message too long: 16394 > 16393');
  assert.equal(reasonOf(hdr(9, 7)), 'piece message too short: 9 < 10 (empty block)');
  assert.equal(reasonOf(hdr(9 + 1024, 7), G, { maxBlockLength: 1000 }), 'piece message too long: 1033 > 1009');
  // Index and range are checked from the 13-byte header, before the block arrives.
  assert.equal(reasonOf(hdr(9 + 16384, 7) + u32(10) + u32(0)), 'piece index out of range: 10 >= 10');
  assert.equal(reasonOf(hdr(9 + 16384, 7) + u32(9) + u32(16384)),
    'piece outside piece 9: begin 16384 + length 16384 > piece size 20000');
  assert.equal(reasonOf(hdr(9 + 1, 7) + u32(0) + u32(32768)),
    'piece outside piece 0: begin 32768 + length 1 > piece size 32768');
  assert.equal(reasonOf(hdr(9 + 1, 7) + u32(0) + u32(0xffffffff)),
    'piece outside piece 0: begin 4294967295 + length 1 > piece size 32768');
});

test('bitfield: exact length; spare bits set are cleared, not fatal (as libtorrent does)', () => {
  assert.equal(reasonOf(hdr(4, 5)), 'bitfield message has wrong length: 4 != 3 (10 pieces)');
  assert.equal(reasonOf(hdr(2, 5)), 'bitfield message has wrong length: 2 != 3 (10 pieces)');
  assert.deepEqual(decodeAll([Buffer.from(hdr(3, 5) + 'ff' + 'e1', 'hex')], G), [{ type: 'bitfield', bitfield: Buffer.from('ffc0', 'hex') }]);
  assert.deepEqual(decodeAll([Buffer.from(hdr(3, 5) + '01' + '3f', 'hex')], G), [{ type: 'bitfield', bitfield: Buffer.from('0100', 'hex') }]);
  assert.equal(bitfieldProblem(Buffer.from([0xff, 0xc1]), 10), null);
  const g16 = { pieceCount: 16, pieceLength: 16384, totalLength: 16 * 16384 };
  assert.deepEqual(decodeAll([Buffer.from(hdr(3, 5) + 'ffff', 'hex')], g16), [{ type: 'bitfield', bitfield: Buffer.from('ffff', 'hex') }]);
  assert.equal(bitfieldProblem(Buffer.from([0xff, 0xc0]), 10), null);
  assert.match(bitfieldProblem(Buffer.from([0xff]), 10) ?? '', /wrong length: 1 != 2/);
});

for (const [id, what] of [[6, 'request'], [8, 'cancel'], [16, 'reject']] as const) {
  test(`${what}: 0 < length <= 16 KiB, index in range, inside its piece`, () => {
    const msg = (i: number, b: number, l: number): string => hdr(13, id) + u32(i) + u32(b) + u32(l);
    assert.equal(reasonOf(msg(0, 0, 0)), `${what} length is zero`);
    assert.equal(reasonOf(msg(0, 0, 16385)), `${what} length too long: 16385 > 16384`);
    assert.equal(reasonOf(msg(0, 0, 131072)), `${what} length too long: 131072 > 16384`);
    assert.equal(reasonOf(msg(10, 0, 16384)), `${what} index out of range: 10 >= 10`);
    assert.equal(reasonOf(msg(0xffffffff, 0, 16384)), `${what} index out of range: 4294967295 >= 10`);
    assert.equal(reasonOf(msg(9, 16384, 16384)), `${what} outside piece 9: begin 16384 + length 16384 > piece size 20000`);
    assert.equal(reasonOf(msg(3, 32767, 2)), `${what} outside piece 3: begin 32767 + length 2 > piece size 32768`);
    const okMsg = Buffer.from(msg(9, 16384, 3616), 'hex');
    assert.deepEqual(decodeAll([okMsg]), [{ type: what, index: 9, begin: 16384, length: 3616 }]);
  });
}

test('have, suggest, allowed fast: index < pieceCount', () => {
  assert.equal(reasonOf(hdr(5, 4) + u32(10)), 'have index out of range: 10 >= 10');
  assert.equal(reasonOf(hdr(5, 13) + u32(11)), 'suggest index out of range: 11 >= 10');
  assert.equal(reasonOf(hdr(5, 17) + u32(0x80000000)), 'allowed fast index out of range: 2147483648 >= 10');
});

test('extended: at least the id byte, payload <= maxExtendedLength', () => {
  assert.equal(reasonOf(hdr(1, 20)), 'extended message too short: 1 < 2');
  assert.equal(reasonOf(hdr(2 + 1048577, 20)), 'extended message too long: payload 1048577 > 1048576');
  assert.equal(reasonOf(hdr(2 + 101, 20), G, { maxExtendedLength: 100 }), 'extended message too long: payload 101 > 100');
  const ok = encodeMessage({ type: 'extended', id: 1, payload: Buffer.alloc(100, 9) });
  assert.deepEqual(decodeAll([ok], G, { maxExtendedLength: 100 }), [{ type: 'extended', id: 1, payload: Buffer.alloc(100, 9) }]);
});

test('unknown geometry (magnet, before metadata): structure checked, indexes not; setGeometry turns checks on', () => {
  const d = new MessageDecoder(null);
  d.push(encodeMessage({ type: 'bitfield', bitfield: Buffer.alloc(300, 0xff) }));
  d.push(encodeMessage({ type: 'have', index: 12345 }));
  assert.equal(d.next()?.type, 'bitfield');
  assert.deepEqual(d.next(), { type: 'have', index: 12345 });
  assert.equal(reasonOf(hdr(70000, 7), null), 'piece message too long: 70000 > 16393');
  assert.equal(reasonOf(hdr(13, 6) + u32(1) + u32(0) + u32(16385), null), 'request length too long: 16385 > 16384');
  d.setGeometry(G);
  d.push(encodeMessage({ type: 'have', index: 12345 }));
  assert.throws(() => d.next(), /have index out of range: 12345 >= 10/);
});

// --- BEP 52 hash messages ------------------------------------------------------------------------------------------

const ROOT_HEX = 'cd'.repeat(32);
/** Body of a hash message after the id: root, base layer, index, length, proof layers, then `hashes` 32-byte hashes. */
const hashBody = (base: number, index: number, length: number, proof: number, hashes = 0): string =>
  ROOT_HEX + u32(base) + u32(index) + u32(length) + u32(proof) + '11'.repeat(32 * hashes);

test('hash request and hash reject: exactly 49 bytes (checked at the id byte), fields passed through', () => {
  assert.match(reasonOf(hdr(48, 21)), /hash request message has wrong length: 48 != 49/);
  assert.match(reasonOf(hdr(50, 21)), /hash request message has wrong length: 50 != 49/);
  assert.match(reasonOf(hdr(1, 23)), /hash reject message has wrong length: 1 != 49/);
  assert.match(reasonOf(hdr(49 + 32, 23)), /hash reject message has wrong length/);
  // Field values are the session's to judge (it answers out-of-range requests with a reject, as libtorrent does).
  const [m] = decodeAll([Buffer.from(hdr(49, 21) + hashBody(0xffffffff, 7, 0, 99), 'hex')]);
  assert.deepEqual(m, { type: 'hashRequest', piecesRoot: Buffer.from(ROOT_HEX, 'hex'), baseLayer: 0xffffffff, index: 7, length: 0, proofLayers: 99 });
  // Not a view into the socket's chunk: the root is kept while the request is served.
  const chunk = Buffer.from(hdr(49, 23) + hashBody(1, 2, 3, 4), 'hex');
  const [r] = decodeAll([chunk]);
  assert.ok(r?.type === 'hashReject');
  chunk.fill(0);
  assert.equal(r.piecesRoot.toString('hex'), ROOT_HEX);
});

test('hashes: whole 32-byte hashes, bounded before the body is read, as many as the header announces', () => {
  const max = 49 + 32 * (MAX_HASHES_PER_MESSAGE + MAX_PROOF_LAYERS + 1);
  assert.match(reasonOf(hdr(48, 22)), /hashes message too short: 48 < 49/);
  assert.match(reasonOf(hdr(49 + 31, 22)), /not the header plus whole 32-byte hashes/);
  // Too long: refused after the 5 header bytes, no body waited for.
  const d = new MessageDecoder(G);
  d.push(Buffer.from(hdr(max + 32, 22), 'hex'));
  assert.throws(() => d.next(), (e: unknown) => isBtError(e, 'PROTOCOL') && /hashes message too long/.test(e.message));
  // The count in the header must match the hashes carried: 4 base hashes + proof (libtorrent: proof - log2(4) + 1).
  assert.equal(hashesProofCount(4, 3), 2);
  assert.equal(hashesProofCount(4, 1), 0);
  assert.equal(hashesProofCount(512, 10), 2);
  assert.equal(hashesProofCount(3, 2), 1); // 3 hashes span a subtree of 4 leaves (2 layers)
  assert.equal(hashesProofCount(1, 0), 1);
  const ok = decodeAll([Buffer.from(hdr(49 + 32 * 6, 22) + hashBody(0, 8, 4, 3, 6), 'hex')]);
  assert.equal(ok.length, 1);
  assert.ok(ok[0]?.type === 'hashes' && ok[0].hashes.length === 32 * 6 && ok[0].index === 8);
  assert.match(reasonOf(hdr(49 + 32 * 5, 22) + hashBody(0, 8, 4, 3, 5)), /hashes: 5 hashes, the header announces 6/);
  assert.match(reasonOf(hdr(49 + 32 * 7, 22) + hashBody(0, 8, 4, 3, 7)), /hashes: 7 hashes, the header announces 6/);
  // length 0 and length > 8192 (libtorrent's cap) are protocol errors; so is an absurd proof-layer count.
  assert.match(reasonOf(hdr(49, 22) + hashBody(0, 0, 0, 0, 0)), /hashes: length 0 not in 1\.\.8192/);
  assert.match(reasonOf(hdr(49 + 32, 22) + hashBody(0, 0, 8193, 0, 1)), /hashes: length 8193 not in 1\.\.8192/);
  assert.match(reasonOf(hdr(49 + 32, 22) + hashBody(0, 0, 1, 65, 1)), /proof layers 65 > 64/);
  // The most hashes a legal message can carry: 8192 + (64 - 13 + 1) proof hashes (under the length cap).
  const most = 8192 + hashesProofCount(8192, MAX_PROOF_LAYERS);
  assert.ok(49 + 32 * most <= max);
  const big = decodeAll([Buffer.from(hdr(49 + 32 * most, 22) + hashBody(0, 0, 8192, MAX_PROOF_LAYERS, most), 'hex')]);
  assert.ok(big[0]?.type === 'hashes' && big[0].hashes.length === 32 * most);
});

test('geometry is validated', () => {
  assert.throws(() => new MessageDecoder({ pieceCount: 2, pieceLength: 100, totalLength: 201 }), RangeError);
  assert.throws(() => new MessageDecoder({ pieceCount: 2, pieceLength: 100, totalLength: 100 }), RangeError);
  assert.throws(() => new MessageDecoder({ pieceCount: 1, pieceLength: 0, totalLength: 0 }), RangeError);
  assert.doesNotThrow(() => new MessageDecoder({ pieceCount: 2, pieceLength: 100, totalLength: 101 }));
  assert.doesNotThrow(() => new MessageDecoder({ pieceCount: 0, pieceLength: 16384, totalLength: 0 }));
});

// --- property tests ------------------------------------------------------------------------------------------------

const arbIndex = fc.integer({ min: 0, max: G.pieceCount - 1 });
/** A block reference (index, begin, length) valid for G. */
const arbRef = (maxLen: number): fc.Arbitrary<{ index: number; begin: number; length: number }> =>
  arbIndex.chain((index) => fc.integer({ min: 1, max: Math.min(maxLen, pieceSize(index)) }).chain((length) =>
    fc.integer({ min: 0, max: pieceSize(index) - length }).map((begin) => ({ index, begin, length }))));
const UNKNOWN_IDS = [10, 11, 12, 18, 19, 24, 99, 255];

function arbMessage(): fc.Arbitrary<Message> {
  return fc.oneof(
    fc.constantFrom<Message>({ type: 'keepAlive' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' },
      { type: 'notInterested' }, { type: 'haveAll' }, { type: 'haveNone' }),
    arbIndex.map((index): Message => ({ type: 'have', index })),
    arbIndex.map((index): Message => ({ type: 'suggest', index })),
    arbIndex.map((index): Message => ({ type: 'allowedFast', index })),
    fc.uint8Array({ minLength: 2, maxLength: 2 }).map((b): Message => {
      b[1]! &= 0xc0; // 10 pieces: 6 spare bits
      return { type: 'bitfield', bitfield: Buffer.from(b) };
    }),
    arbRef(16384).map((r): Message => ({ type: 'request', ...r })),
    arbRef(16384).map((r): Message => ({ type: 'cancel', ...r })),
    arbRef(16384).map((r): Message => ({ type: 'reject', ...r })),
    arbRef(2048).chain((r) => fc.uint8Array({ minLength: r.length, maxLength: r.length })
      .map((b): Message => ({ type: 'piece', index: r.index, begin: r.begin, block: Buffer.from(b) }))),
    fc.integer({ min: 0, max: 65535 }).map((port): Message => ({ type: 'port', port })),
    fc.record({ id: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 300 }) })
      .map(({ id, payload }): Message => ({ type: 'extended', id, payload: Buffer.from(payload) })),
    fc.record({
      root: fc.uint8Array({ minLength: 32, maxLength: 32 }), baseLayer: fc.integer({ min: 0, max: 40 }),
      index: fc.nat(), length: fc.integer({ min: 1, max: 40 }), proofLayers: fc.integer({ min: 0, max: 12 }),
      kind: fc.constantFrom('hashRequest', 'hashes', 'hashReject'), fill: fc.integer({ min: 0, max: 255 }),
    }).map(({ root, kind, fill, ...f }): Message => {
      const fields = { piecesRoot: Buffer.from(root), ...f };
      if (kind !== 'hashes') return { type: kind as 'hashRequest' | 'hashReject', ...fields };
      return { type: 'hashes', ...fields, hashes: Buffer.alloc(32 * (f.length + hashesProofCount(f.length, f.proofLayers)), fill) };
    }),
    fc.record({ id: fc.constantFrom(...UNKNOWN_IDS), length: fc.integer({ min: 1, max: 300 }) })
      .map(({ id, length }): Message => ({ type: 'unknown', id, length })),
  );
}

/** Splits `buf` at the given cut points (any order, duplicates allowed, giving empty chunks). */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

test('property: decode(encode(msgs)) === msgs for any chunking of the stream', () => {
  fc.assert(fc.property(
    fc.array(arbMessage(), { minLength: 1, maxLength: 30 }),
    fc.array(fc.nat(), { maxLength: 40 }),
    (msgs, cuts) => {
      const bytes = Buffer.concat(msgs.map(encodeMessage));
      assert.deepEqual(decodeAll(splitAt(bytes, cuts)), msgs);
    },
  ), { numRuns: 300 });
});

test('property: random bytes never make the decoder throw anything but a PROTOCOL BtError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
    const d = new MessageDecoder(G, { maxMessageLength: 1000 });
    try {
      for (const c of splitAt(Buffer.from(bytes), cuts)) {
        d.push(c);
        while (d.next() !== null) { /* drain */ }
      }
    } catch (e) {
      assert.ok(isBtError(e, 'PROTOCOL'), String(e));
    }
  }), { numRuns: 300 });
});

test('retainBuffered: a reused read buffer can be overwritten after every push (property)', () => {
  // The shell reads into one reused buffer: after each chunk it calls retainBuffered(), then the buffer is scribbled
  // over. Whatever the chunk boundaries, the messages must come out intact.
  const msgs: Message[] = [];
  for (let i = 0; i < 9; i++) {
    const block = Buffer.alloc(16384, i + 1);
    msgs.push({ type: 'piece', index: i, begin: 0, block }, { type: 'have', index: i }, { type: 'request', index: i, begin: 16384, length: 16384 });
  }
  const stream = Buffer.concat(msgs.map((m) => encodeMessage(m)));
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 40000 }), { minLength: 1, maxLength: 40 }), (cuts) => {
    const d = new MessageDecoder(G);
    const reused = Buffer.alloc(40000);
    const out: Array<{ type: string; index?: number; fill?: number; len?: number }> = [];
    let at = 0;
    for (let k = 0; at < stream.length; k++) {
      const n = Math.min(cuts[k % cuts.length]!, stream.length - at);
      stream.copy(reused, 0, at, at + n);
      at += n;
      d.push(reused.subarray(0, n));
      for (let m = d.next(); m !== null; m = d.next()) {
        // Handlers copy what they keep: check the block now, while it is valid.
        if (m.type === 'piece') out.push({ type: m.type, index: m.index, fill: m.block.every((b) => b === m.index + 1) ? m.index + 1 : -1, len: m.block.length });
        else out.push({ type: m.type, index: 'index' in m ? m.index : undefined });
      }
      d.retainBuffered();
      reused.fill(0xee);
    }
    assert.equal(d.buffered, 0);
    assert.equal(out.length, msgs.length);
    for (let i = 0; i < 9; i++) {
      assert.deepEqual(out[3 * i], { type: 'piece', index: i, fill: i + 1, len: 16384 });
      assert.deepEqual(out[3 * i + 1], { type: 'have', index: i });
    }
  }), { numRuns: 200 });
});
