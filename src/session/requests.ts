/**
 * The download side of one torrent: requests pipelining, block assembly, hashing and writing pieces.
 *
 * Flow: the pure PiecePicker decides which blocks to ask each peer for; this module sends the requests, keeps each
 * peer's queue at a depth sized to its rate, and copies arriving blocks into the piece's buffer. SHA-1 runs
 * incrementally as the blocks arrive (in order; a block that arrives early is hashed when the gap before it fills),
 * so when the last block lands the digest is one call away and the piece goes straight to storage in one write. A
 * verified piece is written and only then reported as had; a failed piece is dropped and its contributors get a
 * strike.
 *
 * Why hash here and not on a worker thread: measured on 2 cores, a worker round trip per piece (postMessage with a
 * transferred buffer, wake-up, reply) cost more main-thread time than hashing the piece in place (SHA-1 runs at
 * ~1.7 GB/s, ~0.6 ms per 1 MiB piece, spread over the blocks as they arrive), and each worker adds ~10 MB of RSS.
 * Bulk checks of data on disk still use the HashPool.
 *
 * Offload (`Storage.verifyAndWrite`, FsStorage's `pieceWorker` option; v1 torrents only): pieces are assembled in
 * SharedArrayBuffers and handed whole to the storage's piece-writer thread through a ring in shared memory (no
 * postMessage), which hashes them and writes only those that match; while that thread falls behind, new pieces are
 * hashed here as above and it only writes them (`hashOnWriter`). docs/design/performance.md, Download, item 8.
 *
 * Invariants:
 * - a block is accepted only if we requested it from that peer (unrequested data is dropped, never written);
 * - piece data is written only after its SHA-1 matched (v1), its v2 merkle hash matched (v2-only: src/session/v2-hashes.ts),
 *   or both did (hybrid; a piece for which they disagree is a torrent error, as in libtorrent); v1 torrents compute no
 *   SHA-256 at all; a v2 piece is not requested until its piece-layer hash is known (`canRequest`);
 * - the bytes held in piece buffers awaiting hash/write are bounded: above `highWater` every peer socket is paused
 *   (disk backpressure), below `lowWater` reading resumes (4 / 2 MiB with offload);
 * - a piece is reported verified only after the storage's write (in place or on its writer thread) has completed.
 */
import type { Metainfo } from '../metainfo/index.js';
import { pieceHash, pieceSize } from '../metainfo/index.js';
import type { BlockRef, PiecePicker } from '../picker/piece-picker.js';
import { createHash, type Hash } from 'node:crypto';
import type { Storage } from '../storage/storage.js';
import { BLOCK_SIZE, blockCount } from '../util/geometry.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { BtError } from '../util/errors.js';
import { blockKey, type Peer } from './peer.js';
import type { MerkleState } from './v2-hashes.js';

export interface RequestHost {
  readonly meta: Metainfo;
  readonly picker: PiecePicker;
  readonly storage: Storage;
  readonly now: () => number;
  peers(): Iterable<Peer>;
  peerByKey(key: string): Peer | undefined;
  onPieceVerified(piece: number): void;
  onPieceFailed(piece: number, contributors: string[]): void;
  onStorageError(err: unknown): void;
  /** Payload bytes received (for totals and rate limits). */
  onBlockBytes(peer: Peer, bytes: number): void;
  /** Download rate limit: a request reserves its bytes here before it is sent. */
  readonly downloadBucket: TokenBucket;
  schedule(fn: () => void, ms: number): void;
  /** BEP 52 merkle state for v2 and hybrid torrents; absent for v1 (which then pays nothing for v2). */
  readonly v2?: MerkleState | undefined;
  /** False while blocks must not be requested (a v2 torrent whose piece layers are still being fetched). */
  canRequest?(): boolean;
  /**
   * A piece failed its v2 hash: `leaves` are the SHA-256 of each block we received, `senders[b]` the peer that sent
   * block b. The host finds the bad block(s) through the piece's leaf hashes and strikes only their senders (it
   * falls back to onPieceFailed with every contributor when it cannot). Without this hook, onPieceFailed is called.
   */
  onV2PieceFailed?(piece: number, leaves: Buffer, senders: string[], contributors: string[]): void;
  /** Whether the peer may take critical (streamed) pieces: the fast ones (src/session/streams.ts). Absent: all. */
  mayTakeCritical?(peer: Peer): boolean;
  /** The most requests the peer may have outstanding now (streams keep queues short). Absent: no cap. */
  queueCap?(peer: Peer): number;
}

export interface RequestLimits {
  minQueue: number;
  maxQueue: number;
  /** Seconds of data at the peer's current rate to keep requested (libtorrent's request_queue_time). */
  queueSeconds: number;
  requestTimeoutMs: number;
  highWater: number;
  lowWater: number;
  /**
   * Blocks requested from all peers together and not yet received. Every outstanding block may become part of a
   * partial piece in memory, so this bounds the download side's memory whatever the number of peers (8 peers with
   * 500-deep queues would otherwise hold 64 MiB of partial pieces); 1024 blocks (16 MiB) still cover 50 MB/s at
   * 300 ms of round trip.
   */
  maxOutstanding: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  minQueue: 8, maxQueue: 500, queueSeconds: 3, requestTimeoutMs: 60_000,
  highWater: 16 * 1024 * 1024, lowWater: 8 * 1024 * 1024, maxOutstanding: 1024,
};

/** Bytes of complete pieces waiting for the storage's writer thread above which peer sockets are paused. */
const OFFLOAD_HIGH_WATER = 4 * 1024 * 1024;
/** Pieces waiting in the writer thread's queue from which new pieces are hashed on this thread (hashOnWriter). */
const HASH_HERE_QUEUE = 2;

interface PieceInProgress {
  buf: Buffer;
  /** Null when the storage verifies the piece itself (`Storage.verifyAndWrite`: hashed on its writer thread). */
  sha1: Hash | null;
  /** Bytes [0, hashedTo) are hashed. */
  hashedTo: number;
  /** Blocks copied in, by block number (1 = present). */
  got: Uint8Array;
  /** v2 and hybrid only: the peer that sent each block (to strike only the sender of a bad block). */
  senders?: string[];
}

/**
 * Reusable piece buffers, each owning its whole ArrayBuffer (allocUnsafeSlow). Reuse spares the allocator, the GC and,
 * above all, the page faults of fresh memory (64 per 256 KiB). Spares are kept only while spares + buffers in use stay
 * under the cap, so the pool never holds more than the download needed at its peak.
 */
class PieceBufferPool {
  private readonly free: Array<ArrayBuffer | SharedArrayBuffer> = [];
  /** Buffers handed out and not yet released. */
  private inUse = 0;
  /**
   * @param maxBuffers cap on the buffers in use plus the spare ones kept: spares are dropped beyond it.
   * @param shared buffers live in SharedArrayBuffers (handed to the storage's writer thread without a copy).
   */
  constructor(private readonly pieceLength: number, private readonly maxBuffers: number, private readonly shared = false) {}
  acquire(size: number): Buffer {
    this.inUse++;
    const ab = this.free.pop();
    if (ab) return Buffer.from(ab, 0, size);
    return this.shared ? Buffer.from(new SharedArrayBuffer(this.pieceLength), 0, size)
      : Buffer.from(Buffer.allocUnsafeSlow(this.pieceLength).buffer, 0, size);
  }
  /** Drop the spare buffers (the torrent finished downloading). */
  trim(): void { this.free.length = 0; }
  release(buf: Buffer): void {
    this.inUse--;
    if (buf.buffer.byteLength === this.pieceLength && this.free.length + this.inUse < this.maxBuffers && (buf.buffer instanceof SharedArrayBuffer) === this.shared) {
      this.free.push(buf.buffer);
    }
  }
}

export class RequestScheduler {
  private readonly inProgress = new Map<number, PieceInProgress>();
  /** Bytes of complete pieces waiting for hash and write. */
  private pendingBytes = 0;
  private paused = false;
  private closed = false;
  private readonly buffers: PieceBufferPool;
  /** v1 pieces are hashed and written by the storage (`verifyAndWrite`, its writer thread), not here. */
  private readonly offload: boolean;
  /** The back-pressure marks in force (the limits', or lower with offload). */
  private readonly highWater: number;
  private readonly lowWater: number;
  /** With offload: pieces hashed on this thread and on the writer thread (for debugging and profiles). */
  readonly hashSplit = { here: 0, writer: 0 };

  constructor(private readonly host: RequestHost, private readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS) {
    this.offload = host.meta.version === 'v1' && typeof host.storage.verifyAndWrite === 'function';
    // With offload, complete pieces wait for the writer thread (up to highWater) while partial ones fill: the pool
    // keeps enough shared buffers for both, so they are reused rather than dropped and allocated again (a fresh
    // SharedArrayBuffer is zeroed and page-faulted, and is freed only after both threads let go of it).
    // The writer thread takes a piece within ~1 ms, so a few MiB waiting for it keep it busy: OFFLOAD_HIGH_WATER
    // (instead of the 16 MiB that covered a slow disk on the main thread) keeps the pool, and RSS, small.
    this.highWater = this.offload ? Math.min(limits.highWater, OFFLOAD_HIGH_WATER) : limits.highWater;
    this.lowWater = Math.min(limits.lowWater, this.highWater / 2);
    const poolBytes = this.offload ? this.highWater + 16 * 1024 * 1024 : 16 * 1024 * 1024;
    this.buffers = new PieceBufferPool(host.meta.pieceLength, Math.max(2, Math.ceil(poolBytes / host.meta.pieceLength) + (this.offload ? 2 : 0)), this.offload);
  }

  /** Top up this peer's request queue, within the torrent's budget of outstanding blocks. */
  fill(peer: Peer): void {
    if (this.closed || peer.conn.closed || peer.peerChoking || !peer.amInterested) return;
    if (this.host.canRequest && !this.host.canRequest()) return;
    let want = this.depthOf(peer) - peer.requests.size;
    if (want <= 0) return;
    let outstanding = 0;
    for (const p of this.host.peers()) outstanding += p.requests.size;
    want = Math.min(want, this.limits.maxOutstanding - outstanding);
    if (want <= 0) return;
    const bucket = this.host.downloadBucket;
    if (!bucket.unlimited) {
      // Each request reserves 16 KiB of the download budget: peers send what we ask for, so limiting requests
      // limits the download rate without stalling sockets.
      let granted = 0;
      while (granted < want && bucket.take(BLOCK_SIZE)) granted++;
      if (granted < want && !peer.downloadRetryScheduled) {
        peer.downloadRetryScheduled = true;
        this.host.schedule(() => { peer.downloadRetryScheduled = false; this.fill(peer); }, Math.max(5, bucket.delayUntil(BLOCK_SIZE)));
      }
      want = granted;
      if (want === 0) return;
    }
    const blocks = this.host.picker.pick(peer.key, want, { critical: this.host.mayTakeCritical?.(peer) ?? true });
    if (blocks.length === 0) return;
    const now = this.host.now();
    const pl = this.host.meta.pieceLength;
    for (const b of blocks) {
      peer.requests.set(blockKey(pl, b.piece, b.begin), { block: b, sentAt: now });
      peer.conn.send({ type: 'request', index: b.piece, begin: b.begin, length: b.length });
    }
  }

  /**
   * Top up every peer whose queue has drained to the refill mark (see `needsRefill`). A peer above the mark is
   * refilled by its own next blocks (onPiece): topping it up here, after every verified piece, meant one pick and
   * one socket write per piece instead of one per quarter queue.
   */
  fillAll(everyPeer = false): void {
    for (const p of this.host.peers()) if (everyPeer || this.needsRefill(p)) this.fill(p);
  }

  /** Sends a request the picker already recorded for `peer` (a take-back: PiecePicker.requestAlso). */
  sendExtra(peer: Peer, block: BlockRef, now: number): void {
    peer.requests.set(blockKey(this.host.meta.pieceLength, block.piece, block.begin), { block, sentAt: now });
    peer.conn.send({ type: 'request', index: block.piece, begin: block.begin, length: block.length });
  }

  /** The queue has drained to three quarters of its depth: refills come in batches of at least a quarter queue. */
  private needsRefill(peer: Peer): boolean {
    return peer.requests.size <= (this.depthOf(peer) * 3) >> 2;
  }

  /** The peer's queue depth now: by its rate, capped while streams want short queues (src/session/streams.ts). */
  private depthOf(peer: Peer): number {
    return Math.min(peer.queueDepth, this.host.queueCap?.(peer) ?? Infinity);
  }

  onPiece(peer: Peer, index: number, begin: number, block: Buffer): void {
    const key = blockKey(this.host.meta.pieceLength, index, begin);
    const pending = peer.requests.get(key);
    if (!pending || pending.block.piece !== index || pending.block.begin !== begin || pending.block.length !== block.length) {
      peer.wastedBytes += block.length; // unrequested (or cancelled in endgame): drop, never write
      return;
    }
    peer.requests.delete(key);
    if (peer.slowStart && ++peer.slowStartBlocks >= peer.queueDepth) {
      peer.slowStartBlocks = 0;
      const cap = Math.min(this.limits.maxQueue, peer.reqq ?? this.limits.maxQueue);
      peer.queueDepth = Math.min(cap, peer.queueDepth * 2);
      if (peer.queueDepth >= cap) peer.slowStart = false;
    }
    peer.lastPieceAt = this.host.now();
    peer.snubbed = false;
    this.host.onBlockBytes(peer, block.length);
    const res = this.host.picker.blockReceived(peer.key, pending.block);
    for (const c of res.cancels) {
      const other = this.host.peerByKey(c.peer);
      if (!other) continue;
      if (other.requests.delete(blockKey(this.host.meta.pieceLength, c.block.piece, c.block.begin))) {
        other.conn.send({ type: 'cancel', index: c.block.piece, begin: c.block.begin, length: c.block.length });
      }
    }
    if (res.wanted) {
      let pip = this.inProgress.get(index);
      if (!pip) {
        const size = pieceSize(this.host.meta, index);
        pip = { buf: this.buffers.acquire(size), sha1: this.hashOnWriter() ? null : createHash('sha1'), hashedTo: 0, got: new Uint8Array(blockCount(size)) };
        if (this.host.v2) pip.senders = [];
        this.inProgress.set(index, pip);
      }
      if (pip.senders) pip.senders[begin / BLOCK_SIZE] = peer.key;
      // Into a SharedArrayBuffer, Buffer#copy (TypedArray#set) is V8's byte-wise relaxed memmove, 3.5× slower than
      // the plain memcpy that Buffer#fill with a buffer value does (measured: 166 against 47 ms per GiB).
      if (this.offload) { if (block.length > 0) pip.buf.fill(block, begin, begin + block.length); } else block.copy(pip.buf, begin);
      pip.got[begin / BLOCK_SIZE] = 1;
      if (pip.sha1 && begin === pip.hashedTo) this.hashForward(pip);
      if (res.pieceComplete) this.completePiece(index, pip);
    } else {
      peer.wastedBytes += block.length;
    }
    // Refill in batches (when a quarter of the queue has drained), not after every block: each refill is a pick and
    // a socket write, and bigger batches make both cheaper.
    if (this.needsRefill(peer)) this.fill(peer);
  }

  /**
   * With offload, who hashes a piece is decided when its first block arrives: the writer thread while it keeps up,
   * this thread (incrementally, as without offload) while HASH_HERE_QUEUE or more pieces wait in the writer thread's
   * queue (read from the ring: not `pendingBytes`, which also counts answers this thread has not collected yet).
   * Writing into the page cache costs the writer 0.5-1.8 s per GiB on the benchmark machine, so with SHA-1 too it can
   * become the slower of the two threads; taking the hash back here balances them. Either way a piece is written
   * only after its hash matched.
   */
  private hashOnWriter(): boolean {
    if (!this.offload) return false;
    if ((this.host.storage.writerQueue?.() ?? 0) >= HASH_HERE_QUEUE) { this.hashSplit.here++; return false; }
    this.hashSplit.writer++;
    return true;
  }

  /** Hash the blocks that are in, from `hashedTo` up to the first gap. */
  private hashForward(pip: PieceInProgress): void {
    if (!pip.sha1) return;
    const size = pip.buf.length;
    let end = pip.hashedTo;
    while (end < size && pip.got[end / BLOCK_SIZE] === 1) end = Math.min(size, end + BLOCK_SIZE);
    if (end > pip.hashedTo) {
      pip.sha1.update(pip.buf.subarray(pip.hashedTo, end));
      pip.hashedTo = end;
    }
  }

  private completePiece(index: number, pip: PieceInProgress): void {
    this.inProgress.delete(index);
    if (!pip.sha1) { this.verifyElsewhere(index, pip.buf); return; }
    const data = pip.buf;
    const size = data.length;
    if (pip.hashedTo !== size) this.hashForward(pip);
    const contributors = this.host.picker.contributors(index);
    const meta = this.host.meta;
    const v2 = this.host.v2;
    // v1: SHA-1 only. v2-only: the merkle hash only. Hybrid: both, and they must agree.
    const v1ok = meta.version === 'v2' ? null : pip.hashedTo === size && pip.sha1!.digest().equals(pieceHash(meta, index));
    const v2check = v2 && meta.version !== 'v1' ? v2.verifyPiece(index, data) : 'none';
    if (v1ok !== null && (v2check === 'ok' || v2check === 'bad') && v1ok !== (v2check === 'ok')) {
      this.buffers.release(data);
      this.host.picker.pieceFailed(index);
      this.host.onStorageError(new BtError('HASH_FAILED', `piece ${index}: its v1 (SHA-1) and v2 (merkle) hashes disagree: the torrent is inconsistent`));
      return;
    }
    // A v2-only piece is good only when its merkle hash was checked and matched: never accepted unverified.
    const ok = v1ok ?? v2check === 'ok';
    if (!ok) {
      const leaves = v2check === 'bad' && pip.senders && this.host.onV2PieceFailed && v2 ? v2.receivedLeaves(index, data) : null;
      this.buffers.release(data);
      this.host.picker.pieceFailed(index);
      if (v2check === 'unknown' && v1ok === null) {
        // Not the peers' fault: the piece-layer hash is not known yet (requests wait for it; a race at most).
      } else if (leaves && pip.senders && this.host.onV2PieceFailed) {
        this.host.onV2PieceFailed(index, leaves, pip.senders, contributors);
      } else {
        this.host.onPieceFailed(index, contributors);
      }
      this.fillAll();
      return;
    }
    this.pendingBytes += size;
    this.updateBackpressure();
    this.host.storage.writePiece(index, data).then(() => {
      this.pendingBytes -= size;
      this.updateBackpressure();
      this.buffers.release(data);
      if (this.closed) return;
      this.host.picker.pieceVerified(index);
      this.host.onPieceVerified(index);
      if (this.host.picker.complete) this.buffers.trim();
    }, (err: unknown) => {
      this.pendingBytes -= size;
      this.updateBackpressure();
      this.buffers.release(data);
      if (this.closed) return;
      this.host.picker.pieceFailed(index);
      this.host.onStorageError(err);
    });
  }

  /**
   * A v1 piece whose last block arrived, with offload: the storage hashes it and writes it only if it matches (on its
   * writer thread). Until it answers, the piece counts toward `pendingBytes` (disk back-pressure) and its buffer
   * stays out of the pool; it is reported had only after the write (the same order as the in-thread path).
   */
  private verifyElsewhere(index: number, data: Buffer): void {
    const size = data.length;
    const contributors = this.host.picker.contributors(index);
    this.pendingBytes += size;
    this.updateBackpressure();
    const done = (): void => {
      this.pendingBytes -= size;
      this.updateBackpressure();
      this.buffers.release(data);
    };
    this.host.storage.verifyAndWrite!(index, data, pieceHash(this.host.meta, index)).then((ok) => {
      done();
      if (this.closed) return;
      if (ok) {
        this.host.picker.pieceVerified(index);
        this.host.onPieceVerified(index);
        if (this.host.picker.complete) this.buffers.trim();
        return;
      }
      this.host.picker.pieceFailed(index);
      this.host.onPieceFailed(index, contributors);
      this.fillAll();
    }, (err: unknown) => {
      done();
      if (this.closed) return;
      this.host.picker.pieceFailed(index);
      this.host.onStorageError(err);
    });
  }

  private updateBackpressure(): void {
    if (!this.paused && this.pendingBytes > this.highWater) {
      this.paused = true;
      for (const p of this.host.peers()) p.conn.pauseReading();
    } else if (this.paused && this.pendingBytes < this.lowWater) {
      this.paused = false;
      for (const p of this.host.peers()) p.conn.resumeReading();
    }
  }

  /** A newly connected peer starts paused if the disk is behind. */
  onPeerConnected(peer: Peer): void {
    if (this.paused) peer.conn.pauseReading();
  }

  onReject(peer: Peer, index: number, begin: number, length: number): void {
    const key = blockKey(this.host.meta.pieceLength, index, begin);
    const pending = peer.requests.get(key);
    if (!pending || pending.block.piece !== index || pending.block.begin !== begin || pending.block.length !== length) return;
    peer.requests.delete(key);
    this.host.picker.release(peer.key, pending.block);
  }

  /** The peer choked us. Without the fast extension that cancels every request (BEP 3). */
  onChoked(peer: Peer): void {
    if (peer.fast) return; // BEP 6: requests stay until the peer rejects them (or they time out)
    this.host.picker.releaseAll(peer.key);
    peer.requests.clear();
  }

  onPeerGone(peer: Peer): void {
    this.host.picker.removePeer(peer.key);
    peer.requests.clear();
  }

  /** Once a second: request timeouts, snubbing, and queue depth from the measured rate. */
  tick(now: number): void {
    for (const peer of this.host.peers()) {
      const rate = peer.down.rate;
      const depth = Math.ceil((rate * this.limits.queueSeconds) / BLOCK_SIZE);
      const cap = Math.min(this.limits.maxQueue, peer.reqq ?? this.limits.maxQueue);
      const byRate = Math.max(Math.min(this.limits.minQueue, cap), Math.min(cap, depth));
      if (peer.slowStart && byRate < peer.queueDepth) {
        peer.queueDepth = Math.min(peer.queueDepth, cap); // still ramping: keep the depth slow start reached
      } else {
        peer.slowStart = false;
        peer.queueDepth = byRate;
      }
      const timeout = this.host.picker.inEndgame ? Math.min(this.limits.requestTimeoutMs, 10_000) : this.limits.requestTimeoutMs;
      let expired: BlockRef[] | null = null;
      for (const [key, r] of peer.requests) {
        if (now - r.sentAt > timeout) {
          (expired ??= []).push(r.block);
          peer.requests.delete(key);
        }
      }
      if (expired) {
        peer.snubbed = true;
        for (const b of expired) {
          this.host.picker.release(peer.key, b);
          peer.conn.send({ type: 'cancel', index: b.piece, begin: b.begin, length: b.length });
        }
      }
    }
    this.fillAll();
  }

  /** Bytes held in partial pieces plus complete pieces awaiting hash/write. */
  get bufferedBytes(): number {
    let n = this.pendingBytes;
    for (const p of this.inProgress.values()) n += p.buf.length;
    return n;
  }

  close(): void {
    this.closed = true;
    this.inProgress.clear();
  }
}
