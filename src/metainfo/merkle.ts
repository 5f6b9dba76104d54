/**
 * BEP 52 merkle math: the per-file SHA-256 trees of BitTorrent v2, their piece layers, and the proofs carried by the
 * hash request / hashes messages. Pure: no I/O, no clock.
 *
 * The tree of a file of `n` bytes has `merkleNumLeafs(ceil(n / 16 KiB))` leaves (the next power of two; at least 1).
 * Leaf k is SHA-256 of block k (the last block may be short and is hashed as it is); leaves past the end of the file
 * are 32 zero bytes, and every inner node is SHA-256(left ‖ right), including nodes over padding only, so the node
 * over an all-padding subtree of 2^level leaves is {@link padHash}(level). Levels count up from the leaves (level 0)
 * to the root (level `fileTreeDepth(n)`); this is libtorrent's numbering (`merkle_num_layers`), which the `base` and
 * `proof layers` fields of a hash request use.
 *
 * Invariants: every function returns fresh 32-byte hashes (never views of its arguments); a hash range that is not a
 * whole number of 32-byte hashes, or a level/index outside the tree, is a RangeError (callers validate peer input
 * with {@link validateHashRequest} first); verification functions return false rather than throw on wrong hashes.
 */
import { createHash } from 'node:crypto';

/** The leaf size: v2 hashes 16 KiB blocks. */
export const MERKLE_BLOCK = 16384;
/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;
/** The hash of a leaf past the end of a file. */
export const ZERO_HASH: Buffer = Buffer.alloc(HASH_SIZE);

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The next power of two ≥ `n` (≥ 1): libtorrent's `merkle_num_leafs`. */
export function merkleNumLeafs(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 40) throw new RangeError(`bad leaf count ${n}`);
  let r = 1;
  while (r < n) r *= 2;
  return r;
}

/** log2 of a power of two: the number of levels above the leaves (libtorrent's `merkle_num_layers`). */
export function merkleDepth(leaves: number): number {
  const d = Math.log2(leaves);
  if (!Number.isInteger(d) || d < 0) throw new RangeError(`${leaves} is not a power of two`);
  return d;
}

/** Number of 16 KiB blocks in a file (0 for an empty file). */
export function fileBlocks(fileLength: number): number {
  return Math.ceil(fileLength / MERKLE_BLOCK);
}

/** The level of a file's root: log2 of its leaf count. */
export function fileTreeDepth(fileLength: number): number {
  return merkleDepth(merkleNumLeafs(fileBlocks(fileLength)));
}

/** The level of the piece layer for `pieceLength` (a power of two ≥ 16 KiB): log2(pieceLength / 16 KiB). */
export function pieceLayerLevel(pieceLength: number): number {
  if (pieceLength < MERKLE_BLOCK || pieceLength % MERKLE_BLOCK !== 0) throw new RangeError(`bad v2 piece length ${pieceLength}`);
  return merkleDepth(pieceLength / MERKLE_BLOCK);
}

const padCache: Buffer[] = [ZERO_HASH];

/** Root of a subtree of 2^level leaves that lie wholly past the end of a file. */
export function padHash(level: number): Buffer {
  if (!Number.isInteger(level) || level < 0 || level > 64) throw new RangeError(`bad merkle level ${level}`);
  while (padCache.length <= level) {
    const below = padCache[padCache.length - 1]!;
    padCache.push(sha256(below, below));
  }
  return padCache[level]!;
}

function checkHashes(hashes: Uint8Array): number {
  if (hashes.length % HASH_SIZE !== 0) throw new RangeError(`${hashes.length} bytes is not a whole number of hashes`);
  return hashes.length / HASH_SIZE;
}

/** SHA-256 of each 16 KiB block of `data` (the last may be short), concatenated: 32 bytes per block. */
export function leafHashes(data: Uint8Array): Buffer {
  const n = fileBlocks(data.length);
  const out = Buffer.allocUnsafe(n * HASH_SIZE);
  for (let k = 0; k < n; k++) {
    createHash('sha256').update(data.subarray(k * MERKLE_BLOCK, Math.min(data.length, (k + 1) * MERKLE_BLOCK)))
      .digest().copy(out, k * HASH_SIZE);
  }
  return out;
}

/**
 * The layers of a subtree whose base layer is `hashes` (at tree level `level`), padded with padHash(level) to
 * `width` entries (a power of two ≥ the count). Returns [base (padded), …, root], each a concatenation of hashes.
 */
export function merkleLayers(hashes: Uint8Array, width: number, level = 0): Buffer[] {
  const count = checkHashes(hashes);
  merkleDepth(width);
  if (count > width) throw new RangeError(`${count} hashes do not fit a subtree ${width} wide`);
  let layer = Buffer.alloc(width * HASH_SIZE);
  Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength).copy(layer);
  const pad = padHash(level);
  for (let i = count; i < width; i++) pad.copy(layer, i * HASH_SIZE);
  const out = [layer];
  while (layer.length > HASH_SIZE) {
    const next = Buffer.allocUnsafe(layer.length / 2);
    for (let i = 0; i < next.length / HASH_SIZE; i++) {
      sha256(layer.subarray(2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE)).copy(next, i * HASH_SIZE);
    }
    out.push(next);
    layer = next;
  }
  return out;
}

/** Root of a subtree whose base layer is `hashes` at level `level`, padded to `width` entries. */
export function merkleRootOf(hashes: Uint8Array, width: number, level = 0): Buffer {
  const layers = merkleLayers(hashes, width, level);
  return Buffer.from(layers[layers.length - 1]!);
}

/**
 * The piece-layer hash of one piece of a file larger than a piece: the root over `pieceLength / 16 KiB` leaves, those
 * past `data` (the file's end) being zero hashes.
 */
export function pieceLayerHash(data: Uint8Array, pieceLength: number): Buffer {
  if (data.length === 0 || data.length > pieceLength) throw new RangeError(`piece data of ${data.length} bytes for pieces of ${pieceLength}`);
  return merkleRootOf(leafHashes(data), pieceLength / MERKLE_BLOCK, 0);
}

/** The pieces root of a whole file held in memory (any size > 0; used for files of at most one piece). */
export function fileRootFromData(data: Uint8Array): Buffer {
  if (data.length === 0) throw new RangeError('an empty file has no pieces root');
  return merkleRootOf(leafHashes(data), merkleNumLeafs(fileBlocks(data.length)), 0);
}

/** Number of pieces of a file in a v2 torrent (each file starts on a piece boundary). */
export function filePieces(fileLength: number, pieceLength: number): number {
  return Math.ceil(fileLength / pieceLength);
}

/**
 * The pieces root of a file larger than one piece, from its piece layer (one 32-byte hash per piece). The layer is
 * padded with padHash(piece level) up to the tree's width at that level.
 * @throws RangeError when the layer does not have exactly one hash per piece
 */
export function fileRootFromLayer(layer: Uint8Array, pieceLength: number, fileLength: number): Buffer {
  const count = checkHashes(layer);
  const pieces = filePieces(fileLength, pieceLength);
  if (count !== pieces) throw new RangeError(`piece layer holds ${count} hashes; the file has ${pieces} pieces`);
  const level = pieceLayerLevel(pieceLength);
  const depth = fileTreeDepth(fileLength);
  if (depth < level) throw new RangeError('a file of at most one piece has no piece layer');
  return merkleRootOf(layer, 2 ** (depth - level), level);
}

// ---------------------------------------------------------------------------------------------------------------
// Hash requests (BEP 52 messages 21–23)

/** The fields of a hash request, hashes, or hash reject message that select hashes of one file's tree. */
export interface HashRange {
  /** Level of the requested hashes (0 = leaves). */
  base: number;
  /** Index of the first requested hash in that level. */
  index: number;
  /** Number of requested hashes. */
  count: number;
  /** Number of levels above `base` whose uncle hashes prove the range. */
  proofLayers: number;
}

/** Largest `count` libtorrent accepts in a hash request (it caps a v2 piece at 128 MiB of leaves). */
export const MAX_HASH_REQUEST_COUNT = 8192;

/**
 * libtorrent's `validate_hash_request`, for a non-empty, non-pad file of `fileLength` bytes: the range lies inside
 * its level, the level is below the root, and the proof stops below the root.
 */
export function validateHashRequest(r: HashRange, fileLength: number): boolean {
  if (![r.base, r.index, r.count, r.proofLayers].every((v) => Number.isInteger(v) && v >= 0)) return false;
  if (r.count <= 0 || r.count > MAX_HASH_REQUEST_COUNT || fileLength <= 0) return false;
  const depth = fileTreeDepth(fileLength);
  if (r.base >= depth) return false;
  const levelSize = 2 ** (depth - r.base);
  if (r.index >= levelSize || r.index + r.count > levelSize) return false;
  return r.proofLayers < depth - r.base;
}

/** log2 of the subtree the `count` base hashes span (0 for one hash). */
function spanDepth(count: number): number {
  return merkleDepth(merkleNumLeafs(count));
}

/**
 * How many uncle hashes follow the `count` base hashes in a hashes message: one per level from the top of the
 * subtree the base hashes span up to `base + proofLayers` (libtorrent's `on_hashes`: proofLayers − (depth − 1)).
 */
export function proofHashCount(r: Pick<HashRange, 'count' | 'proofLayers'>): number {
  return Math.max(0, r.proofLayers + 1 - spanDepth(r.count));
}

/** The level of the node that a verified hashes message proves: the top of its uncle chain (or of the subtree). */
export function provenLevel(r: HashRange): number {
  return r.base + Math.max(spanDepth(r.count), r.proofLayers + 1);
}

/**
 * The node that `hashes` (the `count` base hashes, padded with padHash(base) to a power of two) and `proof` (their
 * uncles, lowest first) lead to, at level {@link provenLevel}; null when the sizes are wrong or the subtree is not
 * aligned on its own width (libtorrent requests are).
 */
export function proveRange(r: HashRange, hashes: Uint8Array, proof: Uint8Array): { level: number; index: number; node: Buffer } | null {
  if (hashes.length !== r.count * HASH_SIZE || proof.length !== proofHashCount(r) * HASH_SIZE) return null;
  const width = merkleNumLeafs(r.count);
  if (r.index % width !== 0) return null;
  let node = merkleRootOf(hashes, width, r.base);
  let level = r.base + spanDepth(r.count);
  let index = r.index / width;
  for (let k = 0; k < proof.length / HASH_SIZE; k++) {
    const uncle = proof.subarray(k * HASH_SIZE, (k + 1) * HASH_SIZE);
    node = index % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node);
    index = Math.floor(index / 2);
    level++;
  }
  return { level, index, node };
}

/**
 * Read access to the nodes of one file's tree that a peer may serve: `node(level, index)` returns the hash, or
 * undefined when it is not known. {@link LayerTree} is one implementation.
 */
export interface NodeSource {
  node(level: number, index: number): Buffer | undefined;
}

/**
 * The body of a hashes message answering `r`: the base hashes then the uncles, or null when a node is not known.
 * Base hashes past the end of the file are padding hashes (as libtorrent sends them).
 */
export function buildHashes(tree: NodeSource, r: HashRange): Buffer | null {
  const parts: Buffer[] = [];
  for (let i = r.index; i < r.index + r.count; i++) {
    const h = tree.node(r.base, i);
    if (h === undefined) return null;
    parts.push(h);
  }
  let level = r.base + spanDepth(r.count);
  let index = Math.floor(r.index / merkleNumLeafs(r.count));
  for (let k = 0; k < proofHashCount(r); k++) {
    const uncle = tree.node(level, index ^ 1);
    if (uncle === undefined) return null;
    parts.push(uncle);
    index = Math.floor(index / 2);
    level++;
  }
  return Buffer.concat(parts);
}

/**
 * The upper part of one file's tree, built from a complete layer at `level` (for example its piece layer, or the
 * leaves of a small file): every node at that level and above is known; below it nothing is. Out-of-range indexes
 * inside the tree's width answer with padding hashes.
 */
export class LayerTree implements NodeSource {
  private readonly layers: Buffer[];
  readonly root: Buffer;

  /**
   * @param layer the hashes of level `level`, one per node that covers file data (padding is added)
   * @param level the level of `layer`
   * @param fileLength the file's size, which fixes the tree's width
   */
  constructor(layer: Uint8Array, readonly level: number, readonly fileLength: number) {
    const depth = fileTreeDepth(fileLength);
    if (level > depth) throw new RangeError(`level ${level} is above the root (${depth})`);
    this.layers = merkleLayers(layer, 2 ** (depth - level), level);
    this.root = Buffer.from(this.layers[this.layers.length - 1]!);
  }

  node(level: number, index: number): Buffer | undefined {
    const l = this.layers[level - this.level];
    if (l === undefined || !Number.isInteger(index) || index < 0 || (index + 1) * HASH_SIZE > l.length) return undefined;
    return Buffer.from(l.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE));
  }
}
