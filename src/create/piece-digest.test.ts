// Per-piece digests of creation: SHA-1 over data + pad zeros, BEP 52 piece roots over 16 KiB SHA-256 leaves, and the
// leaf chunking, checked against a straightforward recomputation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PieceDigester, pieceRange, type PieceGeometry } from './piece-digest.js';

const sha256 = (...b: Buffer[]): Buffer => { const h = createHash('sha256'); for (const x of b) h.update(x); return h.digest(); };
const sha1 = (b: Buffer): Buffer => createHash('sha1').update(b).digest();

/** Reference: the root over `leafCount` leaves, the hashes of 16 KiB blocks of `data`, zero hashes after. */
function refRoot(data: Buffer, leafCount: number): Buffer {
  let layer: Buffer[] = [];
  for (let i = 0; i < leafCount; i++) {
    const block = data.subarray(i * 16384, (i + 1) * 16384);
    layer.push(block.length > 0 ? sha256(block) : Buffer.alloc(32));
  }
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1]!));
    layer = next;
  }
  return layer[0]!;
}

test('hybrid geometry: each piece is one file\'s bytes, then pad zeros for SHA-1 only', () => {
  const pl = 32768;
  // Layout as layoutV2 gives it: f0 40000 B at 0 (pad to 65536), f1 5 B at 65536 (pad to 98304), f2 16384 B at 98304.
  const sizes = [40000, 5, 16384];
  const offsets = [0, 65536, 98304];
  const data = sizes.map((s) => randomBytes(s));
  const g: PieceGeometry = { mode: 'hybrid', pl, total: 98304 + 32768, files: sizes.map((s, i) => ({ abs: `f${i}`, size: s, offset: offsets[i]! })) };
  assert.deepEqual(pieceRange(g, 1), { start: 32768, len: 40000 - 32768, zeros: 65536 - 40000, leaves: 2 });
  assert.deepEqual(pieceRange(g, 2), { start: 65536, len: 5, zeros: 32768 - 5, leaves: 1 });
  assert.deepEqual(pieceRange(g, 3), { start: 98304, len: 16384, zeros: 16384, leaves: 1 });
  const sha = Buffer.alloc(4 * 20);
  const roots = Buffer.alloc(4 * 32);
  const d = new PieceDigester(g, sha, roots);
  for (let i = 0; i < 4; i++) {
    const r = d.begin(i);
    const fi = offsets.findIndex((o, k) => r.start >= o && r.start < o + sizes[k]!);
    const bytes = data[fi]!.subarray(r.start - offsets[fi]!, r.start - offsets[fi]! + r.len);
    // Odd chunking: leaves must not depend on how the reads were cut.
    for (let o = 0; o < bytes.length; o += 7001) d.update(bytes.subarray(o, o + 7001));
    d.end();
    assert.deepEqual(sha.subarray(i * 20, i * 20 + 20), sha1(Buffer.concat([bytes, Buffer.alloc(r.zeros)])), `sha1 ${i}`);
    assert.deepEqual(roots.subarray(i * 32, i * 32 + 32), refRoot(bytes, r.leaves), `root ${i}`);
  }
});

test('v2 geometry: no SHA-1 table; v1 geometry: pieces run across files, no roots', () => {
  const g2: PieceGeometry = { mode: 'v2', pl: 16384, total: 16384 + 3, files: [{ abs: 'a', size: 10, offset: 0 }, { abs: 'b', size: 3, offset: 16384 }] };
  assert.deepEqual(pieceRange(g2, 0), { start: 0, len: 10, zeros: 0, leaves: 1 });
  assert.throws(() => new PieceDigester(g2, undefined, undefined), RangeError);
  const roots = Buffer.alloc(64);
  const d = new PieceDigester(g2, undefined, roots);
  d.begin(1);
  d.update(Buffer.from('xyz'));
  d.end();
  assert.deepEqual(roots.subarray(32), sha256(Buffer.from('xyz')), 'a file of one short block: its root is the block hash');
  d.begin(0);
  d.update(Buffer.alloc(9));
  assert.throws(() => d.end(), /fed 9 of 10/);
  const g1: PieceGeometry = { mode: 'v1', pl: 16384, total: 20000, files: [{ abs: 'a', size: 10000, offset: 0 }, { abs: 'b', size: 10000, offset: 10000 }] };
  assert.deepEqual(pieceRange(g1, 0), { start: 0, len: 16384, zeros: 0, leaves: 0 });
  assert.deepEqual(pieceRange(g1, 1), { start: 16384, len: 3616, zeros: 0, leaves: 0 });
});
