/**
 * The upload side of one torrent: queue the peers' requests, read blocks, send pieces.
 *
 * - Requests are served only to peers we have unchoked (or for allowed-fast pieces, which we do not grant yet).
 *   Anything else is rejected when the peer speaks the fast extension (BEP 6), and ignored otherwise (BEP 3).
 * - Each peer's queue is capped (`maxQueued`, advertised as `reqq` once BEP 10 lands); excess requests are rejected.
 * - Backpressure: we stop reading blocks for a peer while its socket holds more than `writeHighWater` bytes and
 *   resume on 'drain'.
 * - Reads go through a small LRU cache of whole pieces: a leecher asks for a piece block by block, so one large read
 *   serves 16-64 requests. The cache is bounded in bytes.
 *
 * Invariant: we only ever send data for a piece we have (verified and written).
 */
import type { Storage } from '../storage/storage.js';
import type { TokenBucket } from '../util/token-bucket.js';
import type { Peer } from './peer.js';

export interface UploadHost {
  readonly storage: Storage;
  havePiece(index: number): boolean;
  onUploadBytes(peer: Peer, bytes: number): void;
  onStorageError(err: unknown): void;
  /** Upload rate limit (this torrent's bucket, whose parent is the session's). */
  readonly uploadBucket: TokenBucket;
  /** Run `fn` after `ms` (an unref'd timer in production). */
  schedule(fn: () => void, ms: number): void;
}

export interface UploadLimits { maxQueued: number; writeHighWater: number; readsInFlight: number; cacheBytes: number }
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxQueued: 2000, writeHighWater: 1024 * 1024, readsInFlight: 4, cacheBytes: 32 * 1024 * 1024 };

export class UploadServer {
  private readonly cache = new Map<number, Promise<Buffer | null>>();
  private cachedBytes = 0;
  private readonly cacheSizes = new Map<number, number>();

  constructor(private readonly host: UploadHost, private readonly limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {}

  onRequest(peer: Peer, piece: number, begin: number, length: number): void {
    if (peer.amChoking || !this.host.havePiece(piece) || peer.incoming.length >= this.limits.maxQueued) {
      if (peer.fast) peer.conn.send({ type: 'reject', index: piece, begin, length });
      return;
    }
    peer.incoming.push({ piece, begin, length });
    this.pump(peer);
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

  /** Serve queued requests while the socket has room. */
  pump(peer: Peer): void {
    while (peer.incoming.length > 0 && peer.readsInFlight < this.limits.readsInFlight
      && peer.conn.writableLength < this.limits.writeHighWater && !peer.conn.closed) {
      const req = peer.incoming[0]!;
      if (!this.host.uploadBucket.take(req.length)) {
        // Rate limited: try again when the bucket has refilled enough for this block.
        if (!peer.uploadRetryScheduled) {
          peer.uploadRetryScheduled = true;
          this.host.schedule(() => { peer.uploadRetryScheduled = false; this.pump(peer); }, Math.max(5, this.host.uploadBucket.delayUntil(req.length)));
        }
        return;
      }
      peer.incoming.shift();
      peer.readsInFlight++;
      this.readBlock(req.piece, req.begin, req.length).then((block) => {
        peer.readsInFlight--;
        if (peer.conn.closed) return;
        if (block === null) {
          if (peer.fast) peer.conn.send({ type: 'reject', index: req.piece, begin: req.begin, length: req.length });
        } else if (!peer.amChoking) {
          peer.conn.sendPiece(req.piece, req.begin, block);
          this.host.onUploadBytes(peer, block.length);
        }
        this.pump(peer);
      }, (err: unknown) => {
        peer.readsInFlight--;
        this.host.onStorageError(err);
      });
    }
  }

  private readBlock(piece: number, begin: number, length: number): Promise<Buffer | null> {
    let p = this.cache.get(piece);
    if (p) {
      // LRU: move to the end.
      this.cache.delete(piece);
      this.cache.set(piece, p);
    } else {
      p = this.host.storage.readPiece(piece);
      this.cache.set(piece, p);
      p.then((buf) => {
        if (!buf || this.cache.get(piece) !== p) { if (!buf) this.cache.delete(piece); return; }
        this.cacheSizes.set(piece, buf.length);
        this.cachedBytes += buf.length;
        this.evict();
      }, () => { this.cache.delete(piece); });
    }
    return p.then((buf) => (buf && begin + length <= buf.length ? buf.subarray(begin, begin + length) : null));
  }

  private evict(): void {
    for (const piece of this.cache.keys()) {
      if (this.cachedBytes <= this.limits.cacheBytes) break;
      const size = this.cacheSizes.get(piece);
      if (size === undefined) continue; // still loading
      this.cache.delete(piece);
      this.cacheSizes.delete(piece);
      this.cachedBytes -= size;
    }
  }

  clearCache(): void {
    this.cache.clear();
    this.cacheSizes.clear();
    this.cachedBytes = 0;
  }
}
