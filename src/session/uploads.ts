/**
 * The upload side of one torrent: queue the peers' requests, read blocks, send pieces.
 *
 * - Requests are served only to peers we have unchoked (we grant no BEP 6 allowed-fast pieces).
 *   Anything else is rejected when the peer speaks the fast extension (BEP 6), and ignored otherwise (BEP 3).
 * - Each peer's queue is capped (`maxQueued`, by default {@link OUR_REQQ}, the `reqq` we advertise); excess requests are rejected.
 * - Backpressure: we stop reading blocks for a peer while its socket holds more than `writeHighWater` bytes and
 *   resume on the connection's `onDrain` (asked for with `wantRoom`, so it comes even when the socket's own
 *   high-water mark was not reached: a uTP stream's is as large as `writeHighWater`).
 * - Reads go through a small LRU cache of whole pieces: a leecher asks for a piece block by block, so one large read
 *   serves 16-64 requests, and cached blocks are sent synchronously (no promise per block). The cache is bounded in
 *   bytes. Random single-block requests are read as single blocks.
 * - Cached pieces are kept framed, as the piece messages that carry them ([header|block|header|block…], built once
 *   per piece by `framePieceBlocks`): a run of queued requests for consecutive 16 KiB blocks of one piece is sent as
 *   one contiguous span of that buffer (one write, one iovec, no header allocated per block). A request off the
 *   16 KiB grid (legal, rare) is served from a copy of its bytes.
 *
 * Invariant: we only ever send data for a piece we have (verified and written).
 */
import type { Storage } from '../storage/storage.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { framePieceBlocks, framePieceInPlace, framedPieceLength, PIECE_HEADER_LENGTH } from '../wire/codec/index.js';
import type { Peer } from './peer.js';

export interface UploadHost {
  readonly storage: Storage;
  /** Nominal piece length (the size of reusable piece buffers). */
  readonly pieceLength: number;
  havePiece(index: number): boolean;
  onUploadBytes(peer: Peer, bytes: number): void;
  onStorageError(err: unknown): void;
  /** Upload rate limit (this torrent's bucket, whose parent is the session's). */
  readonly uploadBucket: TokenBucket;
  /** Run `fn` after `ms` (an unref'd timer in production). */
  schedule(fn: () => void, ms: number): void;
}

export interface UploadLimits { maxQueued: number; writeHighWater: number; readsInFlight: number; cacheBytes: number }
/** Our incoming request queue cap: the default `maxQueued`, and the `reqq` we advertise (BEP 10, extensions.ts). */
export const OUR_REQQ = 2000;
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxQueued: OUR_REQQ, writeHighWater: 1024 * 1024, readsInFlight: 4, cacheBytes: 16 * 1024 * 1024 };

/** How many queued requests of one peer are scanned for pieces to read ahead. */
const LOOKAHEAD = 64;

/**
 * A piece in the cache. Its memory is reused for another piece after eviction, but only once no socket still holds
 * one of its blocks (`sending` counts blocks handed to connections and not yet released by them).
 */
interface CachedPiece {
  /** The piece framed as piece messages, block after block (see `framePieceBlocks`). */
  buf: Buffer;
  /** The piece's data length. */
  length: number;
  sending: number;
  evicted: boolean;
}

/** Bytes from one framed block's message start to the next's. */
const FRAMED_BLOCK = PIECE_HEADER_LENGTH + BLOCK_SIZE;

/** Spare piece buffers kept for reuse, at most this many bytes: fresh memory costs a page fault per 4 KiB. */
const SPARE_BYTES = 4 * 1024 * 1024;

export class UploadServer {
  /** Whole pieces read from storage, least recently used first. Served synchronously: no promise per block. */
  private readonly cache = new Map<number, CachedPiece>();
  private cachedBytes = 0;
  /** Whole-piece reads in flight. */
  private readonly loading = new Map<number, Promise<void>>();
  /** Reusable buffers of a framed piece's size (each owns its whole ArrayBuffer): read into, then kept framed. */
  private readonly spare: Buffer[] = [];

  constructor(private readonly host: UploadHost, private readonly limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {}

  onRequest(peer: Peer, piece: number, begin: number, length: number): void {
    if (peer.amChoking || !this.host.havePiece(piece) || peer.incoming.length >= this.limits.maxQueued) {
      if (peer.fast) peer.conn.send({ type: 'reject', index: piece, begin, length });
      return;
    }
    peer.incoming.push({ piece, begin, length });
    if (peer.incoming.length === 1) this.pump(peer);
  }

  onCancel(peer: Peer, piece: number, begin: number, length: number): void {
    const i = peer.incoming.findIndex((r) => r.piece === piece && r.begin === begin && r.length === length);
    if (i >= 0) peer.incoming.splice(i, 1);
  }

  /** We choked the peer: drop its queue (rejecting each request under the fast extension). */
  onChokedByUs(peer: Peer): void {
    if (peer.fast) for (const r of peer.incoming) peer.conn.send({ type: 'reject', index: r.piece, begin: r.begin, length: r.length });
    peer.incoming = [];
  }

  /**
   * Serve queued requests, in order, while the socket has room. A request whose piece is cached is sent at once; for
   * one that is not, the piece is read whole when the peer asks for it from its start (a downloader fetching the
   * piece block by block), else only that block is read (random access: reading 256 KiB to send 16 KiB would
   * multiply disk reads). Pieces further down the queue are read ahead, up to `readsInFlight` reads per peer.
   */
  pump(peer: Peer): void {
    const conn = peer.conn;
    while (peer.incoming.length > 0 && conn.writableLength < this.limits.writeHighWater && !conn.closed) {
      const req = peer.incoming[0]!;
      const entry = this.cache.get(req.piece);
      if (entry === undefined) {
        this.readAhead(peer);
        const loading = this.loading.get(req.piece);
        if (loading) {
          // Maybe another peer's read: come back when it lands.
          if (peer.uploadWaitPiece !== req.piece) {
            peer.uploadWaitPiece = req.piece;
            void loading.then(() => { peer.uploadWaitPiece = -1; if (!peer.conn.closed) this.pump(peer); });
          }
        } else if (peer.readsInFlight < this.limits.readsInFlight) {
          this.readOneBlock(peer);
        }
        return;
      }
      if (this.rateLimited(peer, req.length)) return;
      peer.incoming.shift();
      this.cache.delete(req.piece); // LRU: move to the end
      this.cache.set(req.piece, entry);
      if (req.length <= 0 || req.begin + req.length > entry.length) {
        if (peer.fast) conn.send({ type: 'reject', index: req.piece, begin: req.begin, length: req.length });
        continue;
      }
      const start = framedAt(entry, req.begin, req.length);
      if (start < 0) {
        conn.sendPiece(req.piece, req.begin, copyOut(entry, req.begin, req.length));
        this.host.onUploadBytes(peer, req.length);
        continue;
      }
      // Extend the run over the next requests while they ask for the following blocks of the same piece.
      let end = start + PIECE_HEADER_LENGTH + req.length;
      let bytes = req.length;
      let next = req.begin + req.length;
      while (peer.incoming.length > 0 && conn.writableLength + (end - start) < this.limits.writeHighWater) {
        const r = peer.incoming[0]!;
        if (r.piece !== req.piece || r.begin !== next || framedAt(entry, r.begin, r.length) !== end) break;
        if (this.rateLimited(peer, r.length)) break;
        peer.incoming.shift();
        end += PIECE_HEADER_LENGTH + r.length;
        bytes += r.length;
        next += r.length;
      }
      entry.sending++;
      conn.sendFramed(entry.buf.subarray(start, end), () => this.released(entry));
      this.host.onUploadBytes(peer, bytes);
    }
    if (peer.incoming.length > 0 && !conn.closed && conn.writableLength >= this.limits.writeHighWater) conn.wantRoom();
  }

  /** Takes `bytes` from the upload budget, or schedules another pump for when it has refilled and says so. */
  private rateLimited(peer: Peer, bytes: number): boolean {
    const bucket = this.host.uploadBucket;
    if (bucket.take(bytes)) return false;
    if (!peer.uploadRetryScheduled) {
      peer.uploadRetryScheduled = true;
      this.host.schedule(() => { peer.uploadRetryScheduled = false; this.pump(peer); }, Math.max(5, bucket.delayUntil(bytes)));
    }
    return true;
  }

  /** Start whole-piece reads for the pieces of the queue's first requests that start at offset 0. */
  private readAhead(peer: Peer): void {
    const n = Math.min(peer.incoming.length, LOOKAHEAD);
    for (let i = 0; i < n && peer.readsInFlight < this.limits.readsInFlight; i++) {
      const r = peer.incoming[i]!;
      if (r.begin !== 0 || this.cache.has(r.piece) || this.loading.has(r.piece)) continue;
      peer.readsInFlight++;
      void this.loadPiece(r.piece).then(() => { peer.readsInFlight--; if (!peer.conn.closed) this.pump(peer); });
    }
  }

  private loadPiece(piece: number): Promise<void> {
    let p = this.loading.get(piece);
    if (p) return p;
    // The piece is read into the tail of a framed-size buffer, past the room its headers need, then framed in place.
    const pl = this.host.pieceLength;
    const framed = this.spare.pop() ?? Buffer.allocUnsafe(framedPieceLength(pl, BLOCK_SIZE));
    const dataAt = framed.length - pl;
    p = this.host.storage.readPiece(piece, framed.subarray(dataAt)).then((buf) => {
      this.loading.delete(piece);
      if (!buf) { this.recycle(framed); return; }
      const inPlace = buf.buffer === framed.buffer && buf.byteOffset === framed.byteOffset + dataAt;
      this.insert(piece, inPlace ? framePieceInPlace(piece, framed, dataAt, buf.length, BLOCK_SIZE)
        : framePieceBlocks(piece, buf, BLOCK_SIZE), buf.length);
      if (!inPlace) this.recycle(framed);
    }, (err: unknown) => {
      this.loading.delete(piece);
      this.recycle(framed);
      this.host.onStorageError(err);
    });
    this.loading.set(piece, p);
    return p;
  }

  /** The head request's piece is neither cached nor loading: read and send just that block. */
  private readOneBlock(peer: Peer): void {
    const req = peer.incoming[0]!;
    if (this.rateLimited(peer, req.length)) return;
    peer.incoming.shift();
    peer.readsInFlight++;
    this.host.storage.read(req.piece, req.begin, req.length).then((block) => {
      peer.readsInFlight--;
      if (peer.conn.closed) return;
      if (!peer.amChoking) {
        peer.conn.sendPiece(req.piece, req.begin, block);
        this.host.onUploadBytes(peer, block.length);
      }
      this.pump(peer);
    }, (err: unknown) => {
      peer.readsInFlight--;
      if (!peer.conn.closed && peer.fast) peer.conn.send({ type: 'reject', index: req.piece, begin: req.begin, length: req.length });
      this.host.onStorageError(err);
    });
  }

  private insert(piece: number, buf: Buffer, length: number): void {
    const old = this.cache.get(piece);
    if (old) this.evict(piece, old);
    this.cache.set(piece, { buf, length, sending: 0, evicted: false });
    this.cachedBytes += buf.length;
    for (const [k, e] of this.cache) {
      if (this.cachedBytes <= this.limits.cacheBytes || k === piece) break;
      this.evict(k, e);
    }
  }

  private evict(piece: number, e: CachedPiece): void {
    this.cache.delete(piece);
    this.cachedBytes -= e.buf.length;
    e.evicted = true;
    if (e.sending === 0) this.recycle(e.buf);
  }

  private released(e: CachedPiece): void {
    if (--e.sending === 0 && e.evicted) this.recycle(e.buf);
  }

  /** Keep a framed piece buffer for the next read if it owns its whole memory and there is room. */
  private recycle(buf: Buffer): void {
    const size = framedPieceLength(this.host.pieceLength, BLOCK_SIZE);
    const ab = buf.buffer;
    if (buf.byteOffset !== 0 || ab instanceof SharedArrayBuffer || ab.byteLength !== size) return;
    if ((this.spare.length + 1) * size > SPARE_BYTES) return;
    this.spare.push(Buffer.from(ab, 0, size));
  }

  clearCache(): void {
    for (const [k, e] of this.cache) this.evict(k, e);
    this.cachedBytes = 0;
    this.spare.length = 0;
  }
}

/**
 * Where the piece message for [begin, begin + length) starts in a framed piece, or -1 when the request is not exactly
 * one block of the 16 KiB grid (it must then be served from a copy).
 */
function framedAt(e: CachedPiece, begin: number, length: number): number {
  if (begin % BLOCK_SIZE !== 0 || length !== Math.min(BLOCK_SIZE, e.length - begin)) return -1;
  return (begin / BLOCK_SIZE) * FRAMED_BLOCK;
}

/** The piece's bytes [begin, begin + length) gathered out of its framed layout (requests off the block grid). */
function copyOut(e: CachedPiece, begin: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const pos = begin + done;
    const block = Math.floor(pos / BLOCK_SIZE);
    const within = pos - block * BLOCK_SIZE;
    const n = Math.min(BLOCK_SIZE - within, length - done);
    const from = block * FRAMED_BLOCK + PIECE_HEADER_LENGTH + within;
    e.buf.copy(out, done, from, from + n);
    done += n;
  }
  return out;
}
