import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  LayerTree, MERKLE_BLOCK, buildHashes, fileRootFromData, fileRootFromLayer, fileTreeDepth, leafHashes,
  merkleNumLeafs, merkleRootOf, padHash, pieceLayerHash, proofHashCount, proveRange, provenLevel, sha256,
  validateHashRequest, ZERO_HASH,
} from './merkle.js';

/** The content python3-libtorrent 2.0.8 hashed for the vectors below: byte i of file k is (7i + k) mod 251. */
function content(n: number, seed: string): Buffer {
  const b = Buffer.alloc(n);
  const s = seed.charCodeAt(0);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + s) % 251;
  return b;
}

const PIECE = 32768;
/**
 * Pieces roots and sha256(piece layer) from libtorrent 2.0.8's create_torrent(v2_only) over these files with 32 KiB
 * pieces (`lt.create_torrent(fs, 32768, lt.create_torrent.v2_only)`), so the math is checked against the reference.
 */
const VECTORS = [
  { name: 'a', size: 1, root: 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' },
  { name: 'b', size: 16384, root: '78bbd7db329748901e7ef421cead0696458b1dc4ea9ff747c30f88d76377b565' },
  { name: 'c', size: 16385, root: 'f993f255859450af147db6974e1b8c2cc6beab479950e2e0097bebfdc5090960' },
  { name: 'd', size: 3 * 32768 + 5, root: '90b6a1867c91841ef3d99a606c66d7f7bc6a9f7912026d988884e376a81ea719', layer: 'c6e76db4432bc8cc0bccf69a7e9f63ffd5a7ac8b8508bd66ffbcaa6d554f42ec', pieces: 4 },
  { name: 'e', size: 32768 * 9, root: 'bbaebbe87cc60d07f65686e4f9563ea237f8a9cab49790150d2538b1f8217f04', layer: '2fe2503df8b12119e103b94b906eb396d062127b04e78a2d3b870ecccc117ebb', pieces: 9 },
];

function pieceLayer(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < data.length; o += PIECE) parts.push(pieceLayerHash(data.subarray(o, Math.min(data.length, o + PIECE)), PIECE));
  return Buffer.concat(parts);
}

test('pieces roots and piece layers equal libtorrent 2.0.8', () => {
  for (const v of VECTORS) {
    const data = content(v.size, v.name);
    if (v.layer === undefined) {
      assert.equal(fileRootFromData(data).toString('hex'), v.root, v.name);
    } else {
      const layer = pieceLayer(data);
      assert.equal(layer.length / 32, v.pieces);
      assert.equal(createHash('sha256').update(layer).digest('hex'), v.layer, v.name);
      assert.equal(fileRootFromLayer(layer, PIECE, v.size).toString('hex'), v.root, v.name);
      assert.equal(fileRootFromData(data).toString('hex'), v.root, `${v.name} from data`);
    }
  }
});

test('padding hashes and small trees', () => {
  assert.deepEqual(padHash(0), ZERO_HASH);
  assert.deepEqual(padHash(1), sha256(ZERO_HASH, ZERO_HASH));
  assert.deepEqual(padHash(2), sha256(padHash(1), padHash(1)));
  assert.equal(merkleNumLeafs(0), 1);
  assert.equal(merkleNumLeafs(5), 8);
  assert.equal(fileTreeDepth(1), 0);
  assert.equal(fileTreeDepth(MERKLE_BLOCK + 1), 1);
  const one = Buffer.alloc(32, 7);
  assert.deepEqual(merkleRootOf(one, 1), one);
  assert.deepEqual(merkleRootOf(one, 2), sha256(one, ZERO_HASH));
  assert.throws(() => fileRootFromLayer(Buffer.alloc(64), PIECE, PIECE * 3), RangeError);
  assert.throws(() => merkleRootOf(Buffer.alloc(33), 2), RangeError);
});

test('hash request validation follows libtorrent', () => {
  const len = PIECE * 9; // 18 blocks → 32 leaves, depth 5
  assert.equal(validateHashRequest({ base: 1, index: 0, count: 16, proofLayers: 3 }, len), true);
  assert.equal(validateHashRequest({ base: 1, index: 0, count: 16, proofLayers: 4 }, len), false); // proof reaches the root
  assert.equal(validateHashRequest({ base: 5, index: 0, count: 1, proofLayers: 0 }, len), false); // the root itself
  assert.equal(validateHashRequest({ base: 0, index: 30, count: 4, proofLayers: 0 }, len), false); // past the level
  assert.equal(validateHashRequest({ base: 0, index: 0, count: 8193, proofLayers: 0 }, len), false);
  assert.equal(validateHashRequest({ base: 0, index: -1, count: 2, proofLayers: 0 }, len), false);
  assert.equal(validateHashRequest({ base: 0, index: 0, count: 1, proofLayers: 0 }, 1), false); // one block: nothing to ask
});

test('hashes built from a layer tree prove the range up to the root; a wrong hash does not', () => {
  const data = content(PIECE * 9, 'e');
  const layer = pieceLayer(data);
  const tree = new LayerTree(layer, 1, data.length);
  assert.deepEqual(tree.root, fileRootFromLayer(layer, PIECE, data.length));
  for (const r of [
    { base: 1, index: 0, count: 16, proofLayers: 3 },
    { base: 1, index: 8, count: 8, proofLayers: 3 },
    { base: 1, index: 4, count: 2, proofLayers: 3 },
    { base: 2, index: 2, count: 2, proofLayers: 2 },
  ]) {
    const body = buildHashes(tree, r);
    assert.ok(body, JSON.stringify(r));
    const hashes = body.subarray(0, r.count * 32);
    const proof = body.subarray(r.count * 32);
    assert.equal(proof.length / 32, proofHashCount(r));
    const proven = proveRange(r, hashes, proof);
    assert.ok(proven);
    assert.equal(proven.level, provenLevel(r));
    assert.equal(proven.level, fileTreeDepth(data.length));
    assert.deepEqual(proven.node, tree.root);
    const bad = Buffer.from(hashes);
    bad[5]! ^= 1;
    assert.notDeepEqual(proveRange(r, bad, proof)!.node, tree.root);
    if (proof.length > 0) assert.equal(proveRange(r, hashes, proof.subarray(32)), null);
    else assert.equal(proveRange(r, hashes, Buffer.alloc(32)), null);
  }
  // Leaf hashes of one piece prove that piece's layer hash with no uncles.
  const piece3 = data.subarray(3 * PIECE, 4 * PIECE);
  const leaves = leafHashes(piece3);
  const r = { base: 0, index: 6, count: 2, proofLayers: 0 };
  const p = proveRange(r, leaves, Buffer.alloc(0));
  assert.ok(p);
  assert.equal(p.level, 1);
  assert.equal(p.index, 3);
  assert.deepEqual(p.node, layer.subarray(96, 128));
  // Nodes below the tree's base level are not known.
  assert.equal(buildHashes(tree, { base: 0, index: 0, count: 2, proofLayers: 0 }), null);
});
