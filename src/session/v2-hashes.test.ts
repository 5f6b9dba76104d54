import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Metainfo, TorrentFile } from '../metainfo/index.js';
import { hashesProofCount } from '../wire/codec/index.js';
import { MerkleState } from './v2-hashes.js';

// An independent reference: the whole tree of a file, built naively from its bytes (BEP 52: 16 KiB leaves, zero
// hashes past the end, padded to a power of two).
const H = (a: Buffer, b: Buffer): Buffer => createHash('sha256').update(a).update(b).digest();
function fullTree(data: Buffer): Buffer[][] {
  const blocks = Math.max(1, Math.ceil(data.length / 16384));
  let width = 1;
  while (width < blocks) width *= 2;
  const leaves: Buffer[] = [];
  for (let k = 0; k < width; k++) {
    leaves.push(k < blocks ? createHash('sha256').update(data.subarray(k * 16384, (k + 1) * 16384)).digest() : Buffer.alloc(32));
  }
  const levels = [leaves];
  while (levels[levels.length - 1]!.length > 1) {
    const l = levels[levels.length - 1]!;
    const up: Buffer[] = [];
    for (let k = 0; k < l.length; k += 2) up.push(H(l[k]!, l[k + 1]!));
    levels.push(up);
  }
  return levels;
}

const PIECE = 64 * 1024; // 4 blocks: piece level 2
/** A v2 torrent by hand: files start on piece boundaries (pads between), roots and piece layers from fullTree. */
function v2Meta(sizes: number[], withLayers = true): { meta: Metainfo; data: Buffer; trees: Buffer[][][] } {
  const files: TorrentFile[] = [];
  const parts: Buffer[] = [];
  const trees: Buffer[][][] = [];
  const pieceLayers = new Map<string, Buffer>();
  let offset = 0;
  sizes.forEach((size, i) => {
    const bytes = randomBytes(size);
    const tree = fullTree(bytes);
    trees.push(tree);
    const root = tree[tree.length - 1]![0]!;
    files.push({ path: ['t', `f${i}`], relPath: `t/f${i}`, length: size, offset, piecesRoot: root });
    parts.push(bytes);
    offset += size;
    if (size > PIECE) pieceLayers.set(root.toString('hex'), Buffer.concat(tree[2]!.slice(0, Math.ceil(size / PIECE))));
    const pad = (PIECE - (size % PIECE)) % PIECE;
    if (pad && i < sizes.length - 1) {
      files.push({ path: ['t', '.pad', `${pad}`], relPath: `t/.pad/${pad}`, length: pad, offset, padding: true });
      parts.push(Buffer.alloc(pad));
      offset += pad;
    }
  });
  const data = Buffer.concat(parts);
  const meta = {
    files, pieceLength: PIECE, pieceCount: Math.ceil(offset / PIECE), totalLength: offset,
    pieceLayers: withLayers ? pieceLayers : new Map(), version: 'v2',
  } as unknown as Metainfo;
  return { meta, data, trees };
}
const pieceData = (data: Buffer, i: number): Buffer => data.subarray(i * PIECE, (i + 1) * PIECE);

test('pieces verify by their v2 hash: piece-layer hashes for big files, the root for a small one', () => {
  // f0: 5 pieces (last short, 3 blocks); f1: one block; f2: 2 pieces + 1 byte = 3 pieces (last piece one byte).
  const { meta, data } = v2Meta([4 * PIECE + 40000, 1000, 2 * PIECE + 1]);
  const s = new MerkleState(meta);
  assert.equal(s.pieceLevel, 2);
  assert.ok(s.allLayersKnown);
  for (let i = 0; i < meta.pieceCount; i++) assert.equal(s.verifyPiece(i, pieceData(data, i)), 'ok', `piece ${i}`);
  for (let i = 0; i < meta.pieceCount; i++) {
    const bad = Buffer.from(pieceData(data, i));
    const f = s.fileOfPiece(i)!;
    bad[s.fileBytesInPiece(f, i) - 1]! ^= 1; // the file's last byte in this piece (pad bytes are not hashed in v2)
    assert.equal(s.verifyPiece(i, bad), 'bad', `corrupt piece ${i}`);
  }
  // A piece layer that does not hash to its root is refused.
  const f0 = s.files[0]!;
  const layer = Buffer.from(meta.pieceLayers.get(f0.rootHex)!);
  layer[0]! ^= 1;
  assert.equal(s.addLayer(f0, layer), false);
  assert.equal(s.addLayer(f0, layer.subarray(32)), false);
});

test('without piece layers: pieces of big files are unknown until the layer is fetched with a proof', () => {
  const sizes = [600 * PIECE + 5, 3 * PIECE, 2000];
  const seedSide = v2Meta(sizes);
  const { meta, data } = seedSide;
  const seed = new MerkleState(meta);
  const leech = new MerkleState({ ...meta, pieceLayers: new Map() });
  assert.equal(leech.allLayersKnown, false);
  assert.equal(leech.verifyPiece(0, pieceData(data, 0)), 'unknown');
  assert.equal(leech.canVerify(meta.pieceCount - 1), true, 'the small file needs no layer');
  const reqs = leech.missingLayerRequests();
  // f0 has 601 pieces → chunks [0, 512) and [512, 1024) (601 - 512 = 89 → 128 hashes); f1 has 3 → 4 hashes.
  assert.deepEqual(reqs.map((r) => [r.index, r.length, r.baseLayer, r.proofLayers]), [[0, 512, 2, 9], [512, 128, 2, 9], [0, 4, 2, 1]]);
  for (const r of reqs) {
    const check = seed.validateRequest(r);
    assert.ok(check.ok, JSON.stringify(check));
    assert.equal(seed.pieceNeeded(check.file, r), -1);
    const answer = seed.answer(check.file, r)!;
    assert.equal(answer.length, 32 * (r.length + hashesProofCount(r.length, r.proofLayers)));
    // A tampered answer fails its proof and stores nothing.
    for (const at of [0, answer.length - 1]) {
      const bad = Buffer.from(answer);
      bad[at]! ^= 1;
      assert.equal(leech.acceptLayerChunk(r, bad), false);
    }
    assert.equal(leech.acceptLayerChunk(r, answer), true);
  }
  assert.ok(leech.allLayersKnown);
  for (let i = 0; i < meta.pieceCount; i++) assert.equal(leech.verifyPiece(i, pieceData(data, i)), 'ok', `piece ${i}`);
  assert.deepEqual(leech.completeLayers(), seed.completeLayers());
});

test('leaf hashes of a piece: answered from its data, checked against the piece hash, locate the bad block', () => {
  const { meta, data, trees } = v2Meta([5 * PIECE + 20000, 3 * 16384]);
  const s = new MerkleState(meta);
  for (const piece of [0, 5, 6]) {
    const r = s.leafRequest(piece)!;
    const check = s.validateRequest(r);
    assert.ok(check.ok, JSON.stringify(check));
    assert.equal(s.pieceNeeded(check.file, r), piece);
    const leaves = s.answer(check.file, r, pieceData(data, piece))!;
    assert.equal(hashesProofCount(r.length, r.proofLayers), 0);
    assert.equal(leaves.length, 32 * r.length);
    const f = check.file;
    const tree = trees[s.files.indexOf(f)]!;
    assert.deepEqual(leaves, Buffer.concat(tree[0]!.slice(r.index, r.index + r.length)));
    assert.ok(s.acceptLeaves(piece, r, leaves));
    const bad = Buffer.from(leaves);
    bad[40]! ^= 1;
    assert.equal(s.acceptLeaves(piece, r, bad), null);
  }
  // A single-block file has nothing to narrow down.
  const one = v2Meta([100]);
  assert.equal(new MerkleState(one.meta).leafRequest(0), null);
});

test('answers with proofs at any layer match the reference tree (requests as libtorrent sends them)', () => {
  const { meta, data, trees } = v2Meta([9 * PIECE + 3]);
  const s = new MerkleState(meta);
  const f = s.files[0]!;
  const tree = trees[0]!;
  assert.equal(f.layers, tree.length - 1);
  // libtorrent's block request for piece 3: base 0, 4 blocks, proof to the root (layers - 1).
  const r = { piecesRoot: f.root, baseLayer: 0, index: 12, length: 4, proofLayers: f.layers - 1 };
  assert.ok(s.validateRequest(r).ok);
  const got = s.answer(f, r, pieceData(data, 3))!;
  const expected: Buffer[] = tree[0]!.slice(12, 16);
  let pos = 12 / 4;
  for (let level = 2; level < f.layers; level++) { expected.push(tree[level]![pos ^ 1]!); pos >>= 1; }
  assert.deepEqual(got, Buffer.concat(expected));
  // Piece-layer request at a higher base (level 3, 2 hashes), proof to the root.
  const r2 = { piecesRoot: f.root, baseLayer: 3, index: 2, length: 2, proofLayers: f.layers - 3 - 1 };
  const got2 = s.answer(f, r2)!;
  const exp2: Buffer[] = [tree[3]![2]!, tree[3]![3]!];
  pos = 1;
  for (let level = 4; level < f.layers; level++) { exp2.push(tree[level]![pos ^ 1]!); pos >>= 1; }
  assert.deepEqual(got2, Buffer.concat(exp2));
});

test('validateRequest enforces libtorrent bounds', () => {
  const { meta } = v2Meta([8 * PIECE]); // 32 blocks: 5 layers
  const s = new MerkleState(meta);
  const root = s.files[0]!.root;
  const ok = { piecesRoot: root, baseLayer: 2, index: 0, length: 8, proofLayers: 2 };
  assert.ok(s.validateRequest(ok).ok);
  const bad = (patch: Partial<typeof ok>, why: RegExp): void => {
    const c = s.validateRequest({ ...ok, ...patch });
    assert.ok(!c.ok && why.test(c.reason), `${JSON.stringify(patch)} → ${JSON.stringify(c)}`);
  };
  bad({ piecesRoot: Buffer.alloc(32, 1) }, /unknown pieces root/);
  bad({ length: 0 }, /outside/);
  bad({ length: 8193 }, /outside/);
  bad({ baseLayer: 5 }, /outside/);
  bad({ index: 8 }, /outside/);
  bad({ index: 4, length: 5 }, /outside/);
  bad({ proofLayers: 3 }, /outside/);
  bad({ index: 2 ** 31 }, /outside/);
  assert.ok(s.validateRequest({ ...ok, baseLayer: 0, index: 31, length: 1, proofLayers: 4 }).ok);
  // Pieces we cannot answer from one piece's data are refused (null), not guessed.
  assert.equal(s.pieceNeeded(s.files[0]!, { ...ok, baseLayer: 0, index: 2, length: 4 }), null);
});

test('restored piece layers (resume data) are used only when they hash up to their root', () => {
  const { meta, data } = v2Meta([6 * PIECE + 7, 2 * PIECE]);
  const layers = new MerkleState(meta).completeLayers();
  const bare = { ...meta, pieceLayers: new Map<string, Buffer>() };
  const restored = new MerkleState(bare, layers);
  assert.ok(restored.allLayersKnown);
  for (let i = 0; i < meta.pieceCount; i++) assert.equal(restored.verifyPiece(i, pieceData(data, i)), 'ok');
  // A tampered or truncated layer is ignored: those pieces wait for a layer from a peer.
  const [firstRoot, firstLayer] = [...layers][0]!;
  const tampered = new Map(layers);
  const bad = Buffer.from(firstLayer);
  bad[5]! ^= 1;
  tampered.set(firstRoot, bad);
  const s = new MerkleState(bare, tampered);
  assert.equal(s.allLayersKnown, false);
  assert.equal(s.verifyPiece(0, pieceData(data, 0)), 'unknown');
  assert.equal(new MerkleState(bare, new Map([[firstRoot, firstLayer.subarray(32)]])).verifyPiece(0, pieceData(data, 0)), 'unknown');
});

test('two files with the same content (same pieces root): one fetched layer serves both', () => {
  const { meta, data } = v2Meta([3 * PIECE, 3 * PIECE]);
  // Make f1 a copy of f0 (same bytes, so the same root); the files are piece-aligned, no pad between them.
  data.copy(data, 3 * PIECE, 0, 3 * PIECE);
  meta.files[1]!.piecesRoot = meta.files[0]!.piecesRoot;
  const seed = new MerkleState(meta);
  const leech = new MerkleState({ ...meta, pieceLayers: new Map() });
  for (let round = 0; round < 4 && !leech.allLayersKnown; round++) {
    for (const r of leech.missingLayerRequests()) {
      const check = seed.validateRequest(r);
      assert.ok(check.ok);
      assert.equal(leech.acceptLayerChunk(r, seed.answer(check.file, r)!), true);
    }
  }
  assert.ok(leech.allLayersKnown, 'the second file\'s layer was never learned: a v2 magnet download would never start');
  for (let i = 0; i < meta.pieceCount; i++) assert.equal(leech.verifyPiece(i, pieceData(data, i)), 'ok', `piece ${i}`);
});
