/**
 * Piece deadlines for streams (libtorrent's time-critical pieces): each open stream has a read-ahead window of
 * pieces starting at its read position; every piece of the window gets a deadline; the union of all windows, nearest
 * deadline first, is what the picker serves before anything else (PiecePicker.setCritical). Plus the two policies
 * that go with it: which peers count as fast (only they get critical pieces), and which blocks of critical pieces a
 * slow or late peer sits on and a fast peer should fetch as well (take-back).
 *
 * Pure: no sockets, no timers, no clock: `now` (ms) is passed in. The engine is src/session/streams.ts;
 * docs/design/streaming.md explains the whole.
 *
 * Invariants:
 *  - a stream's window is [pos, min(pos + windowPieces, last) ], inside the stream's own piece range [first, last];
 *  - piece pos + k of a window aimed at time t has deadline t + firstMs + k × pieceMs (re-aiming restarts the clock:
 *    a seek, or the reader moving on, gives fresh deadlines);
 *  - `critical()` lists each piece once, with the smallest deadline any window gives it; pieces we have are left out;
 *    ties go to the lower index.
 * BEP: none (BEP 3 requests; the idea is libtorrent's set_piece_deadline).
 */

/** Window geometry and deadline spacing. */
export interface WindowOptions {
  pieceLength: number;
  pieceCount: number;
  /** Bytes to read ahead of the position (default 16 MiB); the window is clamped to [minPieces, maxPieces]. */
  readAheadBytes?: number;
  minPieces?: number;
  maxPieces?: number;
  /** Deadline of the piece at the read position, after the aim (default 0: wanted now). */
  firstMs?: number;
  /** Deadline spacing between consecutive pieces of a window (default 500 ms). */
  pieceMs?: number;
}

interface Stream { first: number; last: number; pos: number; aimedAt: number }

/** A critical piece and its deadline (ms, same clock as `now`). */
export interface CriticalPiece { piece: number; deadline: number }

/** The read-ahead windows of every open stream of one torrent. */
export class StreamWindows {
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  private readonly windowPieces: number;
  private readonly firstMs: number;
  private readonly pieceMs: number;

  constructor(private readonly opts: WindowOptions) {
    const min = Math.max(1, opts.minPieces ?? 4);
    const max = Math.max(min, opts.maxPieces ?? 64);
    const want = Math.ceil((opts.readAheadBytes ?? 16 * 1024 * 1024) / Math.max(1, opts.pieceLength));
    this.windowPieces = Math.min(max, Math.max(min, want));
    this.firstMs = opts.firstMs ?? 0;
    this.pieceMs = opts.pieceMs ?? 500;
  }

  /** Pieces in a full window. */
  get size(): number { return this.windowPieces; }

  /** Number of open streams. */
  get count(): number { return this.streams.size; }

  /**
   * Opens a stream over pieces [first, last] (a file range), aimed at `first`; returns its id. A range outside the
   * torrent is clamped; an empty one (last < first) gives a stream with an empty window.
   */
  open(first: number, last: number, now: number): number {
    const lo = clamp(first, 0, this.opts.pieceCount - 1);
    const hi = clamp(last, -1, this.opts.pieceCount - 1);
    const id = this.nextId++;
    this.streams.set(id, { first: lo, last: hi, pos: lo, aimedAt: now });
    return id;
  }

  /** Re-aims stream `id` at piece `pos` (a seek, or the reader moving on): fresh deadlines from `now`. */
  aim(id: number, pos: number, now: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    s.pos = clamp(pos, s.first, Math.max(s.first, s.last + 1));
    s.aimedAt = now;
  }

  close(id: number): void { this.streams.delete(id); }

  /** The pieces of stream `id`'s window, in order (empty for an unknown id). */
  window(id: number): number[] {
    const s = this.streams.get(id);
    if (!s) return [];
    const out: number[] = [];
    const end = Math.min(s.last, s.pos + this.windowPieces - 1);
    for (let i = s.pos; i <= end; i++) out.push(i);
    return out;
  }

  /** The union of the windows without the pieces we have, nearest deadline first (ties: lower index). */
  critical(have: (piece: number) => boolean): CriticalPiece[] {
    const best = new Map<number, number>();
    for (const s of this.streams.values()) {
      const end = Math.min(s.last, s.pos + this.windowPieces - 1);
      for (let i = s.pos, k = 0; i <= end; i++, k++) {
        if (have(i)) continue;
        const d = s.aimedAt + this.firstMs + k * this.pieceMs;
        const old = best.get(i);
        if (old === undefined || d < old) best.set(i, d);
      }
    }
    return [...best].map(([piece, deadline]) => ({ piece, deadline }))
      .sort((a, b) => (a.deadline - b.deadline) || (a.piece - b.piece));
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(v)));
}

// ------------------------------------------------------------------------------------------------ queue depth

/**
 * The request queue a peer may hold while streams wait for critical pieces: `queueMs` of data at its rate, at least
 * `minBlocks`. A peer serves requests in order, so a seek's first piece waits behind at most that much; cancelling
 * the queued requests instead does not work with every peer (libtorrent 2.0, rate-limited, sent them anyway: 16 MB
 * wasted in the interop test, docs/design/streaming.md).
 */
export function streamQueueDepth(rate: number, opts: { queueMs?: number; minBlocks?: number; blockSize?: number } = {}): number {
  const block = opts.blockSize ?? 16 * 1024;
  const byRate = Number.isFinite(rate) && rate > 0 ? Math.ceil((rate * (opts.queueMs ?? 500)) / 1000 / block) : 0;
  return Math.max(opts.minBlocks ?? 16, byRate);
}

// ------------------------------------------------------------------------------------------------ fast peers

/** Options of {@link fastPeers}. */
export interface FastPeerOptions {
  /** A peer at least this share of the best rate is fast (default 0.25). */
  fraction?: number;
  /** The best `minFast` peers are fast whatever their share (default 2). */
  minFast?: number;
  /** Below this best rate (B/s) nothing is known yet: every peer is fast (default 32 KiB/s). */
  floor?: number;
}

/**
 * The peers that may take critical pieces: every peer while no rate is known yet (all below `floor`), else the best
 * `minFast` peers and every peer with at least `fraction` of the best rate.
 */
export function fastPeers(peers: ReadonlyArray<{ key: string; rate: number }>, opts: FastPeerOptions = {}): Set<string> {
  const sorted = [...peers].sort((a, b) => b.rate - a.rate);
  const best = sorted[0]?.rate ?? 0;
  if (best < (opts.floor ?? 32 * 1024)) return new Set(sorted.map((p) => p.key));
  const fraction = opts.fraction ?? 0.25;
  const minFast = opts.minFast ?? 2;
  return new Set(sorted.filter((p, rank) => rank < minFast || p.rate >= best * fraction).map((p) => p.key));
}

// ------------------------------------------------------------------------------------------------ take-back

/** One outstanding request of a block of a critical piece. */
export interface CriticalRequest {
  peer: string;
  piece: number;
  begin: number;
  length: number;
  /** When it was sent (ms). */
  sentAt: number;
  /** How many peers have this block requested now (1 unless already taken back). */
  requesters: number;
}

/** A peer that could fetch a block too. */
export interface TakeBackPeer {
  key: string;
  rate: number;
  fast: boolean;
  /** Blocks requested from it now. */
  outstanding: number;
  /** Requests it may take now (queue depth minus outstanding). */
  room: number;
  has(piece: number): boolean;
}

/** Options of {@link takeBack}. */
export interface TakeBackOptions {
  /** A slow peer's request of a critical block is late after this long (default 1500 ms). */
  slowAfterMs?: number;
  /** At most this many requesters per block (default 2: the original and one take-back). */
  maxRequesters?: number;
  /** At most this many take-backs per call (default 32). */
  max?: number;
  blockSize?: number;
}

/** A block to request again: from `to`, while `from` still has it requested. */
export interface TakeBack { piece: number; begin: number; length: number; from: string; to: string }

/**
 * Which blocks of critical pieces to request again from a faster peer. A request is late when a slow peer has held
 * it for `slowAfterMs`, or a fast peer for twice the time its whole queue should take at its rate (at least
 * 2 × `slowAfterMs`; with no measured rate, 2 × `slowAfterMs`). Late requests of the nearest deadlines go first; each
 * goes to the fastest peer that has the piece, has room, is fast and is not the one holding it.
 */
export function takeBack(
  requests: readonly CriticalRequest[],
  deadlines: ReadonlyMap<number, number>,
  peers: readonly TakeBackPeer[],
  now: number,
  opts: TakeBackOptions = {},
): TakeBack[] {
  const slowAfter = opts.slowAfterMs ?? 1500;
  const maxReq = opts.maxRequesters ?? 2;
  const max = opts.max ?? 32;
  const block = opts.blockSize ?? 16 * 1024;
  const byKey = new Map(peers.map((p) => [p.key, p]));
  const late = requests.filter((r) => {
    if (r.requesters >= maxReq || !deadlines.has(r.piece)) return false;
    const p = byKey.get(r.peer);
    const age = now - r.sentAt;
    if (!p || !p.fast) return age > slowAfter;
    const drainMs = p.rate > 0 ? (p.outstanding * block * 1000) / p.rate : 0;
    return age > Math.max(2 * slowAfter, 2 * drainMs);
  }).sort((a, b) => (deadlines.get(a.piece)! - deadlines.get(b.piece)!) || (a.piece - b.piece) || (a.begin - b.begin));
  const room = new Map(peers.map((p) => [p.key, p.room]));
  const helpers = peers.filter((p) => p.fast).sort((a, b) => b.rate - a.rate);
  const out: TakeBack[] = [];
  const taken = new Set<string>();
  for (const r of late) {
    if (out.length >= max) break;
    const id = `${r.piece}/${r.begin}`;
    if (taken.has(id)) continue;
    const to = helpers.find((h) => h.key !== r.peer && room.get(h.key)! > 0 && h.has(r.piece));
    if (!to) continue;
    room.set(to.key, room.get(to.key)! - 1);
    taken.add(id);
    out.push({ piece: r.piece, begin: r.begin, length: r.length, from: r.peer, to: to.key });
  }
  return out;
}
