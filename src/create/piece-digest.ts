/**
 * Per-piece digests of torrent creation, shared by the main thread and the create workers: BEP 3 SHA-1 piece hashes
 * and, for BitTorrent v2 (BEP 52), the SHA-256 merkle root of each piece's 16 KiB leaves (the file's piece-layer
 * hash). The caller reads the piece's data range ({@link pieceRange}) in any chunking and feeds it in order.
 *
 * Geometry (what libtorrent 2.0.8's create_torrent lays out, see src/metainfo/build.ts `layoutV2`): in 'v1' mode the
 * files are one concatenated stream and a piece may span several files. In 'v2' and 'hybrid' mode every non-empty
 * file starts on a piece boundary (pad files between them), so a piece holds bytes of exactly one file followed by
 * pad zeros: the SHA-1 (hybrid) covers data + zeros up to the piece's length in the padded space, the SHA-256 leaves
 * cover the data only, and the piece root pads its leaves with zero hashes to a whole piece (pieceLength / 16 KiB
 * leaves) or, for a file smaller than one piece, to the next power of two of its block count.
 *
 * Invariant: pure computation over bytes it is given (node:crypto and src/metainfo/merkle.ts only); it writes only the table slots of the piece
 * it was told to hash.
 */
import { createHash, type Hash } from 'node:crypto';
import { MERKLE_BLOCK as LEAF, merkleNumLeafs, merkleRootOf } from '../metainfo/merkle.js';
import type { HashFile } from './hash-files.js';
import { fileIndexAt } from './hash-files.js';

const ZEROS = Buffer.alloc(64 * 1024);

/** Which digests a creation needs. */
export type CreateMode = 'v1' | 'v2' | 'hybrid';

/** The data that piece `i` hashes: `len` bytes at `start` of the file offset space, then `zeros` pad bytes (SHA-1 only). */
export interface PieceRange {
  start: number;
  len: number;
  /** Pad zeros after the data that are part of the v1 piece (hybrid; 0 otherwise). */
  zeros: number;
  /** Leaves of this piece's subtree (a power of two); 0 in v1 mode. */
  leaves: number;
}

/** The piece geometry of one creation (files with offsets in the padded space; empty files left out). */
export interface PieceGeometry {
  mode: CreateMode;
  files: readonly HashFile[];
  /** Bytes of the torrent's offset space: data plus pad files. */
  total: number;
  pl: number;
}

export function pieceCountOf(g: PieceGeometry): number {
  return Math.ceil(g.total / g.pl);
}

/** Where piece `i`'s data lies and how it is hashed. */
export function pieceRange(g: PieceGeometry, i: number): PieceRange {
  const start = i * g.pl;
  const pieceEnd = Math.min(start + g.pl, g.total);
  if (g.mode === 'v1') return { start, len: pieceEnd - start, zeros: 0, leaves: 0 };
  const f = g.files[fileIndexAt(g.files, start)]!;
  const dataEnd = Math.min(pieceEnd, f.offset + f.size);
  if (start < f.offset || dataEnd <= start) throw new RangeError(`piece ${i} does not start inside a file`);
  const leaves = f.size < g.pl ? merkleNumLeafs(Math.ceil(f.size / LEAF)) : g.pl / LEAF;
  return { start, len: dataEnd - start, zeros: g.mode === 'hybrid' ? pieceEnd - dataEnd : 0, leaves };
}

/**
 * Hashes one piece at a time: `begin(i)`, `update(...)` with the piece's data in order, `end()`.
 * Writes SHA-1s into `sha1Out` (20 bytes a piece; v1 and hybrid) and piece roots into `rootOut` (32 bytes a piece;
 * v2 and hybrid).
 */
export class PieceDigester {
  private sha1: Hash | undefined;
  private leaf: Hash | undefined;
  private leafFill = 0;
  private leafHashes: Buffer[] = [];
  private piece = -1;
  private range: PieceRange | undefined;
  private fed = 0;

  constructor(private readonly g: PieceGeometry, private readonly sha1Out: Uint8Array | undefined,
    private readonly rootOut: Uint8Array | undefined) {
    if (g.mode !== 'v2' && sha1Out === undefined) throw new RangeError('v1 digests need a SHA-1 table');
    if (g.mode !== 'v1' && rootOut === undefined) throw new RangeError('v2 digests need a root table');
  }

  begin(i: number): PieceRange {
    this.piece = i;
    this.range = pieceRange(this.g, i);
    this.fed = 0;
    this.sha1 = this.g.mode === 'v2' ? undefined : createHash('sha1');
    this.leaf = undefined;
    this.leafFill = 0;
    this.leafHashes = [];
    return this.range;
  }

  update(data: Buffer): void {
    this.fed += data.length;
    this.sha1?.update(data);
    if (this.g.mode === 'v1') return;
    for (let off = 0; off < data.length;) {
      const take = Math.min(LEAF - this.leafFill, data.length - off);
      if (take === LEAF) {
        this.leafHashes.push(createHash('sha256').update(data.subarray(off, off + LEAF)).digest());
      } else {
        this.leaf ??= createHash('sha256');
        this.leaf.update(data.subarray(off, off + take));
        this.leafFill += take;
        if (this.leafFill === LEAF) this.closeLeaf();
      }
      off += take;
    }
  }

  /** Finishes the piece begun last and stores its digests. */
  end(): void {
    const r = this.range;
    if (r === undefined) throw new RangeError('end() without begin()');
    if (this.fed !== r.len) throw new RangeError(`piece ${this.piece}: fed ${this.fed} of ${r.len} bytes`);
    if (this.sha1 !== undefined) {
      for (let z = r.zeros; z > 0; z -= Math.min(z, ZEROS.length)) this.sha1.update(ZEROS.subarray(0, Math.min(z, ZEROS.length)));
      this.sha1Out!.set(this.sha1.digest(), this.piece * 20);
    }
    if (this.g.mode !== 'v1') {
      if (this.leafFill > 0) this.closeLeaf();
      const root = merkleRootOf(Buffer.concat(this.leafHashes), r.leaves, 0);
      this.rootOut!.set(root, this.piece * 32);
    }
    this.range = undefined;
  }

  private closeLeaf(): void {
    this.leafHashes.push(this.leaf!.digest());
    this.leaf = undefined;
    this.leafFill = 0;
  }
}
