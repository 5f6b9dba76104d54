/**
 * Storage for the simulation tier (issue 10, item 7): hundreds of peers of one torrent in one process, without
 * holding the torrent's bytes once per peer (201 × 64 MiB would be 12.6 GiB).
 *
 * `SimContent` is the torrent's data, generated once from a seed (so a run is replayable) and shared by every peer.
 * A `SimStorage` per peer holds only a bitmap of the pieces it has written; it keeps what a real storage keeps
 * semantically:
 * - a peer can read (and so upload) only a piece it holds: the seed's pieces, or pieces it wrote itself;
 *   reading a block of a piece never written fails with BtError('IO'), `readPiece` answers null (as FsStorage does
 *   for missing data);
 * - a write must carry exactly the torrent's bytes: the session hash-checks every piece (real SHA-1 over the bytes
 *   it received, on the main thread: HashPool `workers: 0`) before it writes, and this storage compares the bytes
 *   again; a piece that differs is refused with BtError('IO') and counted (`badWrites`), so corruption that got past
 *   the hash check cannot go unnoticed (a real storage would have stored it; this one cannot hold foreign bytes).
 * Reads without a target buffer return read-only views of the shared content, not copies: the session's upload
 * cache would otherwise hold up to 16 MiB of copies per peer (3 GiB for 200 peers) and the copying would dominate the
 * run. The views never start at offset 0 of their memory, so the upload cache never recycles one as a spare read
 * buffer; a caller that wrote into one would corrupt every peer's source, which the receivers' hash checks would
 * report as failed pieces (the scenarios assert there are none). `readPiece(piece, into)` copies into `into`.
 */
import { createHash } from 'node:crypto';
import { BtError } from '../../src/util/errors.js';
import { buildTorrent } from '../../src/metainfo/build.js';
import type { Metainfo } from '../../src/metainfo/index.js';
import type { Storage } from '../../src/storage/storage.js';

/** The bytes and metainfo of one simulated torrent. */
export class SimContent {
  readonly data: Buffer;
  readonly meta: Metainfo;

  /** `size` bytes from `seed` (xorshift32, 4 bytes a step), cut into `pieceLength` pieces, single-file torrent. */
  constructor(name: string, size: number, pieceLength: number, seed: number) {
    // One leading byte: no piece view starts at offset 0 of the memory (see the module comment).
    this.data = Buffer.alloc(size + 1).subarray(1);
    let x = (seed >>> 0) || 0x9e3779b9;
    const words = Math.floor(size / 4);
    for (let i = 0; i < words; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      this.data.writeUInt32LE(x, 4 * i);
    }
    for (let i = 4 * words; i < size; i++) this.data[i] = (i * 31 + seed) & 0xff;
    const hashes: Buffer[] = [];
    for (let off = 0; off < size; off += pieceLength) {
      hashes.push(createHash('sha1').update(this.data.subarray(off, Math.min(size, off + pieceLength))).digest());
    }
    this.meta = buildTorrent(name, pieceLength, undefined, size, Buffer.concat(hashes), {}).meta;
  }

  pieceSize(piece: number): number {
    return Math.min(this.meta.pieceLength, this.meta.totalLength - piece * this.meta.pieceLength);
  }

  piece(piece: number): Buffer {
    const start = piece * this.meta.pieceLength;
    return this.data.subarray(start, start + this.pieceSize(piece));
  }
}

/** One peer's storage of a SimContent: a bitmap of the pieces it holds. */
export class SimStorage implements Storage {
  private readonly have: Uint8Array;
  private closed = false;
  /** Writes refused because their bytes were not the torrent's. */
  badWrites = 0;

  /** `complete`: the peer starts with every piece (a seed). */
  constructor(private readonly content: SimContent, complete = false) {
    this.have = new Uint8Array(content.meta.pieceCount).fill(complete ? 1 : 0);
  }

  /** Pieces held. */
  get heldCount(): number {
    let n = 0;
    for (const h of this.have) n += h;
    return n;
  }

  async read(piece: number, begin: number, length: number): Promise<Buffer> {
    this.check(piece);
    const size = this.content.pieceSize(piece);
    if (begin < 0 || length < 0 || begin + length > size) {
      throw new RangeError(`range ${begin}+${length} outside piece ${piece} of ${size} bytes`);
    }
    if (!this.have[piece]) throw new BtError('IO', `read piece ${piece}: data missing`);
    return this.content.piece(piece).subarray(begin, begin + length);
  }

  async readPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    this.check(piece);
    if (!this.have[piece]) return null;
    const src = this.content.piece(piece);
    if (into) {
      if (into.length < src.length) throw new RangeError(`buffer of ${into.length} bytes for piece of ${src.length}`);
      src.copy(into);
      return into.subarray(0, src.length);
    }
    return src;
  }

  async writePiece(piece: number, data: Buffer): Promise<void> {
    this.check(piece);
    const src = this.content.piece(piece);
    if (data.length !== src.length) throw new RangeError(`piece ${piece} is ${src.length} bytes, got ${data.length}`);
    if (!data.equals(src)) {
      this.badWrites++;
      throw new BtError('IO', `piece ${piece}: bytes differ from the torrent's (the simulated disk holds only those)`);
    }
    this.have[piece] = 1;
  }

  async flush(): Promise<void> { this.check(0); }

  async close(): Promise<void> { this.closed = true; }

  private check(piece: number): void {
    if (this.closed) throw new BtError('ABORTED', 'storage closed');
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.have.length) throw new RangeError(`no piece ${piece}`);
  }
}
