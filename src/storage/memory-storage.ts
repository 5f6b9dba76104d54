/**
 * In-memory storage for tests and for torrents that are never meant to touch the disk.
 *
 * Invariant: holds only pieces given to `writePiece` (or the initial data); a missing piece reads as `null` from
 * `readPiece` and throws BtError('IO') from `read`, exactly like FsStorage with missing files. Buffers are copied in
 * and out, so callers may reuse theirs. Same BEP 3 piece geometry as the file backend.
 */
import { BtError } from '../util/errors.js';
import { pieceSize } from '../metainfo/index.js';
import type { Storage, StorageMeta } from './storage.js';

/** Options of `MemoryStorage`. */
export interface MemoryStorageOptions {
  /** Initial content: the whole torrent's data (every piece is then present). */
  data?: Buffer;
  /** Fault injection: return an error to make that operation fail (e.g. an IO error with an ENOSPC cause). */
  fault?: (op: 'read' | 'write', piece: number) => Error | undefined;
}

/** Storage held in a Map of pieces. */
export class MemoryStorage implements Storage {
  private readonly pieces = new Map<number, Buffer>();
  private closed = false;
  private readonly fault: MemoryStorageOptions['fault'];

  constructor(private readonly meta: StorageMeta, opts: MemoryStorageOptions = {}) {
    this.fault = opts.fault;
    if (opts.data) {
      if (opts.data.length !== meta.totalLength) {
        throw new RangeError(`data is ${opts.data.length} bytes, torrent is ${meta.totalLength}`);
      }
      for (let i = 0; i < meta.pieceCount; i++) {
        const start = i * meta.pieceLength;
        this.pieces.set(i, Buffer.from(opts.data.subarray(start, start + pieceSize(meta, i))));
      }
    }
  }

  /** Pieces currently held, ascending. */
  get heldPieces(): number[] { return [...this.pieces.keys()].sort((a, b) => a - b); }

  /** Drop a piece (tests: simulate lost data). */
  delete(piece: number): void { this.pieces.delete(piece); }

  async read(piece: number, begin: number, length: number): Promise<Buffer> {
    this.check('read', piece);
    const size = pieceSize(this.meta, piece);
    if (begin < 0 || length < 0 || begin + length > size) {
      throw new RangeError(`range ${begin}+${length} outside piece ${piece} of ${size} bytes`);
    }
    const p = this.pieces.get(piece);
    if (!p) throw new BtError('IO', `read piece ${piece}: data missing`);
    return Buffer.from(p.subarray(begin, begin + length));
  }

  async readPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    this.check('read', piece);
    const size = pieceSize(this.meta, piece);
    const p = this.pieces.get(piece);
    if (!p) return null;
    if (into) {
      if (into.length < size) throw new RangeError(`buffer of ${into.length} bytes for piece of ${size}`);
      p.copy(into);
      return into.subarray(0, size);
    }
    return Buffer.from(p);
  }

  async writePiece(piece: number, data: Buffer): Promise<void> {
    this.check('write', piece);
    const size = pieceSize(this.meta, piece);
    if (data.length !== size) throw new RangeError(`piece ${piece} is ${size} bytes, got ${data.length}`);
    this.pieces.set(piece, Buffer.from(data));
  }

  async flush(): Promise<void> { this.check(null, 0); }

  async close(): Promise<void> { this.closed = true; }

  private check(op: 'read' | 'write' | null, piece: number): void {
    if (this.closed) throw new BtError('ABORTED', 'storage closed');
    if (op && this.fault) {
      const e = this.fault(op, piece);
      if (e) throw e;
    }
  }
}
