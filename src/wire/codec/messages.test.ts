import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, encodePieceHeader, framePieceBlocks, framePieceInPlace, framedPieceLength, CHOKE, KEEP_ALIVE, type Message } from './messages.js';
import { MessageDecoder } from './decoder.js';

// Golden bytes: [message, hex of the full encoding (length prefix included)].
const GOLDEN: Array<[Message, string]> = [
  [{ type: 'keepAlive' }, '00000000'],
  [{ type: 'choke' }, '0000000100'],
  [{ type: 'unchoke' }, '0000000101'],
  [{ type: 'interested' }, '0000000102'],
  [{ type: 'notInterested' }, '0000000103'],
  [{ type: 'have', index: 9 }, '000000050400000009'],
  [{ type: 'bitfield', bitfield: Buffer.from([0xff, 0x80]) }, '0000000305ff80'],
  [{ type: 'request', index: 1, begin: 16384, length: 16384 }, '0000000d06000000010000400000004000'],
  [{ type: 'piece', index: 1, begin: 0, block: Buffer.from('abc') }, '0000000c070000000100000000616263'],
  [{ type: 'cancel', index: 2, begin: 0, length: 100 }, '0000000d08000000020000000000000064'],
  [{ type: 'port', port: 6881 }, '00000003091ae1'],
  [{ type: 'suggest', index: 3 }, '000000050d00000003'],
  [{ type: 'haveAll' }, '000000010e'],
  [{ type: 'haveNone' }, '000000010f'],
  [{ type: 'reject', index: 9, begin: 16384, length: 3616 }, '0000000d10000000090000400000000e20'],
  [{ type: 'allowedFast', index: 7 }, '000000051100000007'],
  [{ type: 'extended', id: 0, payload: Buffer.from('d1:ai1ee') }, '0000000a1400' + '64313a6169316565'],
  [{ type: 'unknown', id: 99, length: 3 }, '00000003630000'],
  [{ type: 'hashRequest', piecesRoot: Buffer.alloc(32, 0xaa), baseLayer: 2, index: 512, length: 512, proofLayers: 9 },
    '0000003115' + 'aa'.repeat(32) + '00000002' + '00000200' + '00000200' + '00000009'],
  [{ type: 'hashes', piecesRoot: Buffer.alloc(32, 0xbb), baseLayer: 0, index: 2, length: 2, proofLayers: 1, hashes: Buffer.alloc(96, 0xcc) },
    '0000009116' + 'bb'.repeat(32) + '00000000' + '00000002' + '00000002' + '00000001' + 'cc'.repeat(96)],
  [{ type: 'hashReject', piecesRoot: Buffer.alloc(32, 0xdd), baseLayer: 1, index: 0, length: 8192, proofLayers: 0 },
    '0000003117' + 'dd'.repeat(32) + '00000001' + '00000000' + '00002000' + '00000000'],
];

// The geometry the golden messages are valid for: 10 pieces of 32 KiB, the last one 20000 bytes.
const GEOMETRY = { pieceCount: 10, pieceLength: 32768, totalLength: 9 * 32768 + 20000 };

test('encodeMessage produces the golden bytes', () => {
  for (const [m, hex] of GOLDEN) {
    assert.equal(encodeMessage(m).toString('hex'), hex, m.type);
  }
});

test('every golden message decodes back to itself', () => {
  for (const [m, hex] of GOLDEN) {
    const d = new MessageDecoder(GEOMETRY);
    d.push(Buffer.from(hex, 'hex'));
    assert.deepEqual(d.next(), m, m.type);
    assert.equal(d.next(), null);
    assert.equal(d.buffered, 0);
  }
});

test('encodePieceHeader + block equals the encoded piece message', () => {
  const block = Buffer.alloc(16384, 7);
  const header = encodePieceHeader(4, 16384, block.length);
  assert.equal(header.length, 13);
  assert.equal(header.toString('hex'), '00004009070000000400004000');
  assert.deepEqual(Buffer.concat([header, block]), encodeMessage({ type: 'piece', index: 4, begin: 16384, block }));
});

test('framePieceBlocks equals the piece messages of every block, and decodes split at every byte boundary', () => {
  for (const [length, blockSize] of [[65536, 16384], [20000, 16384], [16384, 16384], [1, 16384], [1000, 300]] as const) {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i++) data[i] = (i * 7 + 3) & 0xff;
    const expected: Buffer[] = [];
    for (let b = 0; b < length; b += blockSize) {
      expected.push(encodeMessage({ type: 'piece', index: 9, begin: b, block: data.subarray(b, Math.min(length, b + blockSize)) }));
    }
    const framed = framePieceBlocks(9, data, blockSize);
    assert.equal(framed.length, framedPieceLength(length, blockSize));
    assert.deepEqual(framed, Buffer.concat(expected), `${length}/${blockSize}`);
    // Into a larger reused buffer: the same bytes, a view of its start.
    const into = Buffer.alloc(framed.length + 50, 0xee);
    const again = framePieceBlocks(9, data, blockSize, into);
    assert.equal(again.buffer, into.buffer);
    assert.deepEqual(again, framed);
    // Any prefix of the layout ending on a message boundary is a run of whole messages; split anywhere it decodes.
    if (length <= 1000) {
      for (let cut = 0; cut <= framed.length; cut++) {
        const d = new MessageDecoder({ pieceCount: 10, pieceLength: length, totalLength: 10 * length });
        d.push(framed.subarray(0, cut));
        const got: Message[] = [];
        for (let m = d.next(); m !== null; m = d.next()) got.push(m);
        d.push(framed.subarray(cut));
        for (let m = d.next(); m !== null; m = d.next()) got.push(m);
        assert.equal(got.length, expected.length, `cut at ${cut}`);
        got.forEach((m, i) => assert.deepEqual(encodeMessage(m), expected[i]));
      }
    }
  }
  assert.throws(() => framePieceBlocks(0, Buffer.alloc(1), 0), RangeError);
});

test('framePieceInPlace builds the same layout as framePieceBlocks from data read into the buffer\'s tail', () => {
  const nominal = 65536;
  for (const [length, blockSize] of [[65536, 16384], [50000, 16384], [16384, 16384], [1, 16384], [65536, 1000], [7, 3]] as const) {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i++) data[i] = (i * 13 + 5) & 0xff;
    const buf = Buffer.alloc(framedPieceLength(nominal, blockSize), 0xaa);
    const dataAt = buf.length - nominal; // where the upload side reads a piece of any length up to the nominal one
    data.copy(buf, dataAt);
    const framed = framePieceInPlace(3, buf, dataAt, length, blockSize);
    assert.equal(framed.buffer, buf.buffer);
    assert.equal(framed.byteOffset, buf.byteOffset);
    assert.deepEqual(framed, framePieceBlocks(3, data, blockSize), `${length}/${blockSize}`);
  }
  // Too little room for the headers in front of the data, or data past the end: refused, nothing framed.
  assert.throws(() => framePieceInPlace(0, Buffer.alloc(16384 + 12), 12, 16384, 16384), RangeError);
  assert.throws(() => framePieceInPlace(0, Buffer.alloc(16384 + 13), 13, 16385, 16384), RangeError);
});

test('no-payload messages are shared constants; fields out of range throw', () => {
  assert.equal(encodeMessage({ type: 'choke' }), CHOKE);
  assert.equal(encodeMessage({ type: 'keepAlive' }), KEEP_ALIVE);
  assert.throws(() => encodeMessage({ type: 'have', index: -1 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'have', index: 2 ** 32 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'port', port: 65536 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'extended', id: 256, payload: Buffer.alloc(0) }), RangeError);
  const f = { piecesRoot: Buffer.alloc(32), baseLayer: 0, index: 0, length: 1, proofLayers: 0 };
  assert.throws(() => encodeMessage({ type: 'hashRequest', ...f, piecesRoot: Buffer.alloc(20) }), RangeError);
  assert.throws(() => encodeMessage({ type: 'hashRequest', ...f, index: -1 }), RangeError);
  assert.throws(() => encodeMessage({ type: 'hashes', ...f, hashes: Buffer.alloc(33) }), RangeError);
});
