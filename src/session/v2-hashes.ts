/**
 * Per-torrent BEP 52 merkle state: which piece belongs to which file tree, the piece layers we know, piece
 * verification by SHA-256 merkle hashes, and both sides of the hash request / hashes / hash reject exchange
 * (validating a request as libtorrent's validate_hash_request does, answering it with the uncle proof, and checking
 * an answer's proof against the file's `pieces root`).
 *
 * Pure: no sockets, files or timers (node:crypto only). The session glue is hash-exchange.ts.
 *
 * Invariants:
 * - a piece-layer hash is stored only after it was proven against its file's pieces root: a whole layer (from the
 *   .torrent, the resume data or computed from data on disk) by recomputing the root, a chunk fetched over the wire
 *   by its uncle proof; so `expectedPieceHash` never returns an unproven hash;
 * - a piece of a file no larger than one piece is verified against the file's root directly;
 * - tree positions follow BEP 52: 16 KiB leaves, the leaves past a file's end are zero hashes, every layer padded to
 *   a power of two.
 */
import type { Metainfo } from '../metainfo/index.js';
import {
  buildHashes, HASH_SIZE, LayerTree, leafHashes, MERKLE_BLOCK, merkleDepth, merkleLayers, merkleNumLeafs, merkleRootOf,
  proveRange, validateHashRequest, type NodeSource,
} from '../metainfo/merkle.js';
import type { HashRequestFields } from '../wire/codec/index.js';

/** Piece-layer hashes asked for in one request (libtorrent's chunk). */
export const LAYER_CHUNK = 512;

const nextPow2 = merkleNumLeafs;
const log2 = merkleDepth;

/** One file of a v2 tree (non-pad, non-empty, with a pieces root). */
export interface V2File {
  /** Index in `meta.files`. */
  fileIndex: number;
  root: Buffer;
  rootHex: string;
  length: number;
  /** Global index of its first piece (it starts on a piece boundary). */
  firstPiece: number;
  pieces: number;
  blocks: number;
  /** Layers above the leaves: log2(nextPow2(blocks)); the root is at this level. */
  layers: number;
  /** Piece layer (files larger than one piece): `pieces` hashes, filled chunk by chunk as they are proven. */
  layer: Buffer | null;
  /** Per LAYER_CHUNK-chunk of the layer: proven. */
  known: Uint8Array;
  /** The tree from the piece layer up, built once the layer is complete (for answering requests). */
  upper?: LayerTree;
}

export type PieceCheck = 'ok' | 'bad' | 'unknown' | 'none';

/** What `validateRequest` found for an incoming request: the file, or why it is refused. */
export type RequestCheck = { ok: true; file: V2File } | { ok: false; reason: string };

export class MerkleState {
  readonly pieceLength: number;
  /** Tree level of the piece layer: log2(pieceLength / 16 KiB). */
  readonly pieceLevel: number;
  readonly blocksPerPiece: number;
  readonly files: V2File[] = [];
  private readonly byRoot = new Map<string, V2File>();
  /** The later files whose root another file has already (byRoot names the first). */
  private readonly sameRoot = new Map<string, V2File[]>();
  /** Global piece → index into `files`, or -1 (a piece with no v2 file, e.g. all padding). */
  private readonly pieceFile: Int32Array;

  /**
   * @param restored piece layers from the resume data (root hex → layer); each is used only if it hashes up to its
   *   file's root, like the metainfo's own `piece layers`.
   */
  constructor(meta: Pick<Metainfo, 'files' | 'pieceLength' | 'pieceCount' | 'pieceLayers'>, restored?: ReadonlyMap<string, Buffer>) {
    this.pieceLength = meta.pieceLength;
    this.blocksPerPiece = Math.max(1, meta.pieceLength / MERKLE_BLOCK);
    this.pieceLevel = log2(this.blocksPerPiece);
    this.pieceFile = new Int32Array(meta.pieceCount).fill(-1);
    meta.files.forEach((f, fileIndex) => {
      if (f.padding || f.length === 0 || !f.piecesRoot) return;
      const blocks = Math.ceil(f.length / MERKLE_BLOCK);
      const pieces = Math.ceil(f.length / meta.pieceLength);
      const rootHex = f.piecesRoot.toString('hex');
      const v: V2File = {
        fileIndex, root: f.piecesRoot, rootHex, length: f.length, firstPiece: Math.floor(f.offset / meta.pieceLength),
        pieces, blocks, layers: log2(nextPow2(blocks)), layer: null, known: new Uint8Array(Math.ceil(pieces / LAYER_CHUNK)),
      };
      if (pieces > 1) v.layer = Buffer.alloc(32 * pieces);
      const k = this.files.push(v) - 1;
      if (!this.byRoot.has(rootHex)) this.byRoot.set(rootHex, v);
      else this.sameRoot.set(rootHex, [...(this.sameRoot.get(rootHex) ?? []), v]);
      for (let p = 0; p < pieces; p++) this.pieceFile[v.firstPiece + p] = k;
      if (pieces > 1) {
        const given = meta.pieceLayers.get(rootHex);
        if (!(given && this.addLayer(v, given))) {
          const kept = restored?.get(rootHex);
          if (kept) this.addLayer(v, kept);
        }
      }
    });
  }

  fileByRoot(root: Buffer): V2File | undefined { return this.byRoot.get(root.toString('hex')); }

  fileOfPiece(piece: number): V2File | undefined {
    const k = this.pieceFile[piece];
    return k === undefined || k < 0 ? undefined : this.files[k];
  }

  /** The piece's v2 hash can be checked now (its file is small, or its layer chunk is proven). */
  canVerify(piece: number): boolean {
    const f = this.fileOfPiece(piece);
    if (!f) return true;
    return f.pieces === 1 || f.known[Math.floor((piece - f.firstPiece) / LAYER_CHUNK)] === 1;
  }

  /** Every piece can be verified (every large file's layer is known). */
  get allLayersKnown(): boolean {
    return this.files.every((f) => f.pieces === 1 || f.known.every((b) => b === 1));
  }

  /** Is the whole layer of `f` proven? */
  layerComplete(f: V2File): boolean { return f.pieces === 1 || f.known.every((b) => b === 1); }

  /** Expected v2 hash of a piece: its file's root (small file) or its piece-layer hash; null when not known yet. */
  expectedPieceHash(piece: number): Buffer | null {
    const f = this.fileOfPiece(piece);
    if (!f) return null;
    if (f.pieces === 1) return f.root;
    const j = piece - f.firstPiece;
    if (f.known[Math.floor(j / LAYER_CHUNK)] !== 1) return null;
    return f.layer!.subarray(32 * j, 32 * j + 32);
  }

  /** Bytes of the piece that belong to its file (the rest is padding). */
  fileBytesInPiece(f: V2File, piece: number): number {
    return Math.min(this.pieceLength, f.length - (piece - f.firstPiece) * this.pieceLength);
  }

  /** Leaves a piece's subtree has: blocksPerPiece, or nextPow2(blocks) for a file no larger than one piece. */
  pieceWidth(f: V2File): number { return f.pieces === 1 ? 2 ** f.layers : this.blocksPerPiece; }

  /** The v2 hash of a piece's data (`data` = the whole piece, pad zeros included); null if no v2 file. */
  computePieceHash(piece: number, data: Buffer): Buffer | null {
    const f = this.fileOfPiece(piece);
    if (!f) return null;
    return merkleRootOf(leafHashes(data.subarray(0, this.fileBytesInPiece(f, piece))), this.pieceWidth(f));
  }

  /** SHA-256 of each 16 KiB block of the piece's file bytes (what we received, to compare with the true leaves). */
  receivedLeaves(piece: number, data: Buffer): Buffer | null {
    const f = this.fileOfPiece(piece);
    return f ? leafHashes(data.subarray(0, this.fileBytesInPiece(f, piece))) : null;
  }

  /** Verify a piece by its v2 hash: 'none' when the piece has no v2 file, 'unknown' while its layer is missing. */
  verifyPiece(piece: number, data: Buffer): PieceCheck {
    const f = this.fileOfPiece(piece);
    if (!f) return 'none';
    const expected = this.expectedPieceHash(piece);
    if (!expected) return 'unknown';
    return this.computePieceHash(piece, data)!.equals(expected) ? 'ok' : 'bad';
  }

  /** Store a whole piece layer after checking it against the root; false (nothing stored) if it does not match. */
  addLayer(f: V2File, layer: Buffer): boolean {
    if (f.pieces === 1 || layer.length !== 32 * f.pieces) return false;
    if (!merkleRootOf(layer, 2 ** (f.layers - this.pieceLevel), this.pieceLevel).equals(f.root)) return false;
    layer.copy(f.layer!);
    f.known.fill(1);
    return true;
  }

  /** Complete piece layers by pieces root (hex), for the resume data. */
  completeLayers(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const f of this.files) if (f.pieces > 1 && this.layerComplete(f)) out.set(f.rootHex, Buffer.from(f.layer!));
    return out;
  }

  // ---- requests we send -------------------------------------------------------------------------------------

  /** Proof layers that take an answer at `base` for `count` hashes up to the file's root (libtorrent's counting). */
  proofToRoot(f: V2File, base: number): number { return f.layers - base - 1; }

  /** The piece-layer chunks still missing, as the hash requests that fetch them (index multiple of 512). */
  missingLayerRequests(): HashRequestFields[] {
    const out: HashRequestFields[] = [];
    for (const f of this.files) {
      if (f.pieces === 1) continue;
      f.known.forEach((known, c) => {
        if (known) return;
        const index = c * LAYER_CHUNK;
        const length = Math.min(LAYER_CHUNK, nextPow2(f.pieces - index));
        out.push({ piecesRoot: f.root, baseLayer: this.pieceLevel, index, length, proofLayers: this.proofToRoot(f, this.pieceLevel) });
      });
    }
    return out;
  }

  /**
   * The request for a piece's leaf hashes (to find a bad block): base 0, from the piece's first block, as many as the
   * piece's subtree has leaves, proof up to the piece hash only (none carried: the piece hash is known). Null when
   * the piece has one block (nothing to narrow down) or no known v2 hash.
   */
  leafRequest(piece: number): HashRequestFields | null {
    const f = this.fileOfPiece(piece);
    if (!f || !this.expectedPieceHash(piece)) return null;
    const width = this.pieceWidth(f);
    if (width < 2) return null;
    return { piecesRoot: f.root, baseLayer: 0, index: (piece - f.firstPiece) * this.blocksPerPiece, length: width, proofLayers: log2(width) - 1 };
  }

  /**
   * Check and store an answer to a piece-layer request we sent (`req` is that request; the answer's header matched
   * it). Returns false when its proof fails (the peer sent bad hashes).
   */
  acceptLayerChunk(req: HashRequestFields, hashes: Buffer): boolean {
    const f = this.fileByRoot(req.piecesRoot);
    if (!f || f.pieces === 1 || req.baseLayer !== this.pieceLevel || req.index % LAYER_CHUNK !== 0) return false;
    const base = hashes.subarray(0, 32 * req.length);
    const uncles = hashes.subarray(32 * req.length);
    if (!this.proves(f, req.baseLayer, req.index, req.length, base, uncles)) return false;
    // Hashes beyond the file's last piece must be the pad hash (they are part of what was proven).
    const real = Math.min(req.length, f.pieces - req.index);
    // Files with the same content share a root (fileByRoot names the first): the proven chunk is theirs too.
    for (const g of [f, ...(this.sameRoot.get(f.rootHex) ?? [])]) {
      if (g.pieces !== f.pieces) continue;
      base.copy(g.layer!, 32 * req.index, 0, 32 * real);
      g.known[req.index / LAYER_CHUNK] = 1;
    }
    return true;
  }

  /**
   * Check an answer to a leaf request (`leafRequest(piece)`): the leaves must hash up to the known piece hash.
   * Returns the leaf hashes (one per block of the piece's subtree) or null when they do not prove.
   */
  acceptLeaves(piece: number, req: HashRequestFields, hashes: Buffer): Buffer | null {
    const expected = this.expectedPieceHash(piece);
    if (!expected || hashes.length !== 32 * req.length) return null;
    return merkleRootOf(hashes, req.length).equals(expected) ? hashes : null;
  }

  /** Do `base` (count hashes at `level`, starting at `index`) and `uncles` hash up to the file's root? */
  private proves(f: V2File, level: number, index: number, count: number, base: Buffer, uncles: Buffer): boolean {
    const r = { base: level, index, count, proofLayers: f.layers - level - 1 };
    const top = proveRange(r, base, uncles);
    return top !== null && top.level === f.layers && top.index === 0 && top.node.equals(f.root);
  }

  // ---- requests we answer -----------------------------------------------------------------------------------

  /** libtorrent's validate_hash_request (merkle.ts): the bounds a request must meet to be answered at all. */
  validateRequest(r: HashRequestFields): RequestCheck {
    const f = this.fileByRoot(r.piecesRoot);
    if (!f) return { ok: false, reason: 'unknown pieces root' };
    const range = { base: r.baseLayer, index: r.index, count: r.length, proofLayers: r.proofLayers };
    // libtorrent reads the fields as int32: 2^31 and above are negative there, and refused.
    if (r.baseLayer >= 2 ** 31 || r.index >= 2 ** 31 || r.proofLayers >= 2 ** 31 || !validateHashRequest(range, f.length)) {
      return { ok: false, reason: `outside the file's tree: base ${r.baseLayer} index ${r.index} length ${r.length} proof ${r.proofLayers} (${f.layers} layers)` };
    }
    return { ok: true, file: f };
  }

  /**
   * Which piece's data must be read to answer a request below the piece layer (the range must lie inside one
   * piece's subtree), or -1 when no read is needed (answered from the piece layer), or null when we cannot answer.
   */
  pieceNeeded(f: V2File, r: HashRequestFields): number | null {
    const top = f.pieces === 1 ? f.layers : this.pieceLevel;
    if (r.baseLayer >= top) return this.layerComplete(f) ? -1 : null;
    const shift = top - r.baseLayer;
    const j = Math.floor(r.index / 2 ** shift);
    if (Math.floor((r.index + r.length - 1) / 2 ** shift) !== j || j >= f.pieces) return null;
    if (!this.layerComplete(f) && r.proofLayers + r.baseLayer >= top) return null;
    return f.firstPiece + j;
  }

  /**
   * The hashes that answer `r` (base hashes, then the uncle proof), or null when we cannot. `pieceData` is the piece
   * `pieceNeeded` asked for (whole piece, as stored), when it asked for one.
   */
  answer(f: V2File, r: HashRequestFields, pieceData?: Buffer): Buffer | null {
    const top = f.pieces === 1 ? f.layers : this.pieceLevel;
    let local: Buffer[] | null = null;
    let localPiece = 0;
    if (r.baseLayer < top) {
      if (!pieceData) return null;
      localPiece = Math.floor(r.index / 2 ** (top - r.baseLayer));
      local = merkleLayers(leafHashes(pieceData.subarray(0, this.fileBytesInPiece(f, f.firstPiece + localPiece))), 2 ** top, 0);
    }
    const upper = top < f.layers ? this.upperTree(f) : null;
    if (top < f.layers && !upper) return null;
    const source: NodeSource = {
      node: (level, pos) => {
        if (level >= top) return level === f.layers ? (pos === 0 ? f.root : undefined) : upper?.node(level, pos);
        const at = pos - localPiece * 2 ** (top - level);
        const l = local?.[level];
        if (!l || at < 0) return undefined;
        return at * HASH_SIZE < l.length ? l.subarray(at * HASH_SIZE, (at + 1) * HASH_SIZE) : undefined;
      },
    };
    return buildHashes(source, { base: r.baseLayer, index: r.index, count: r.length, proofLayers: r.proofLayers });
  }

  /** The tree from the piece layer up (cached), once the layer is complete; null before. */
  private upperTree(f: V2File): LayerTree | null {
    if (f.upper) return f.upper;
    if (f.pieces === 1 || !this.layerComplete(f)) return null;
    f.upper = new LayerTree(f.layer!, this.pieceLevel, f.length);
    return f.upper;
  }
}
