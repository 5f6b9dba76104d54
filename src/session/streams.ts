/**
 * Streams of one torrent: readers of byte ranges (the facade's readFile, the HTTP /stream route) that want their
 * pieces soon and in order. This is the thin engine around the pure policies of src/picker/deadlines.ts:
 *
 *  - each open stream has a read-ahead window (StreamWindows); their union, nearest deadline first, is given to the
 *    picker as its critical pieces (PiecePicker.setCritical), which only the fast peers (`isFast`) are served;
 *  - while a stream is open, and for STREAM_LINGER_MS after the last one closed (a player's next range request, a
 *    seek, usually follows), each peer's request queue is kept short (`queueCap`: half a second of data at its rate),
 *    so the first piece of a seek waits behind little: peers serve requests in order, and cancelling the queue is not
 *    honoured by every peer (libtorrent 2.0 sent the cancelled blocks anyway);
 *  - once a second (`tick`): the fast peers are measured again, and blocks of critical pieces that a slow or late
 *    peer sits on are requested from a fast peer as well (take-back; the first copy in wins, the other is cancelled);
 *  - `waitPiece` resolves when a piece is verified AND written (never before), rejects on abort or when the torrent
 *    closes, and at once for a piece nobody will download (a file not selected).
 *
 * Invariants: the picker's critical list is always the union of the open windows (re-applied after each change and
 * after the picker is rebuilt by a verify); a closed stream leaves no deadline and no waiter behind.
 * BEP: none (see docs/design/streaming.md).
 */
import type { PiecePicker } from '../picker/piece-picker.js';
import { fastPeers, streamQueueDepth, StreamWindows, takeBack, type CriticalRequest, type TakeBackPeer } from '../picker/deadlines.js';
import { BtError } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import type { Peer } from './peer.js';
import type { RequestScheduler } from './requests.js';

/** Queues stay short for this long after the last stream closed. */
const STREAM_LINGER_MS = 15_000;


export interface StreamsHost {
  readonly pieceCount: number;
  readonly pieceLength: number;
  picker(): PiecePicker;
  requests(): RequestScheduler;
  peers(): Iterable<Peer>;
  peerByKey(key: string): Peer | undefined;
  now(): number;
}

/** What the torrent's readers may do with its streams (Torrent.streaming). */
export type StreamCommands = Pick<TorrentStreams, 'open' | 'aim' | 'close' | 'window' | 'waitPiece' | 'count'>;

interface Waiter { resolve(): void; reject(err: unknown): void; signal: AbortSignal | undefined; onAbort: () => void }

export class TorrentStreams {
  private readonly windows: StreamWindows;
  private readonly waiters = new Map<number, Set<Waiter>>();
  /** Peers that may take critical pieces (null: all of them, while no rate is known). */
  private fast: Set<string> | null = null;
  private current = new Map<number, number>();
  private closedWith: unknown;
  /** When the last stream closed (ms), or -Infinity. */
  private lastClosedAt = -Infinity;

  constructor(private readonly host: StreamsHost) {
    this.windows = new StreamWindows({ pieceCount: host.pieceCount, pieceLength: host.pieceLength });
  }

  /** Number of open streams. */
  get count(): number { return this.windows.count; }

  /** Opens a stream over pieces [first, last], aimed at `first`; returns its id (give it to aim/close). */
  open(first: number, last: number): number {
    const id = this.windows.open(first, last, this.host.now());
    this.apply();
    return id;
  }

  /** Re-aims a stream at `piece` (a seek, or the reader moving on): fresh deadlines from now. */
  aim(id: number, piece: number): void {
    this.windows.aim(id, piece, this.host.now());
    this.apply();
  }

  /** Closes a stream: its deadlines go. */
  close(id: number): void {
    this.windows.close(id);
    if (this.windows.count === 0) this.lastClosedAt = this.host.now();
    this.apply();
  }

  /** The pieces of a stream's window (tests, diagnostics). */
  window(id: number): number[] { return this.windows.window(id); }

  /** A peer may take critical pieces. */
  isFast(peer: Peer): boolean { return this.fast === null || this.fast.has(peer.key); }

  /** While streams are open (or were, recently): the most requests a peer may have outstanding; else Infinity. */
  queueCap(peer: Peer): number {
    if (this.windows.count === 0 && this.host.now() - this.lastClosedAt > STREAM_LINGER_MS) return Infinity;
    return streamQueueDepth(peer.down.rate, { blockSize: BLOCK_SIZE });
  }

  /** Gives the picker the union of the windows, and tops up every peer's queue (critical pieces first). */
  apply(): void {
    const picker = this.host.picker();
    const list = this.windows.critical((i) => picker.have(i));
    this.current = new Map(list.map((c) => [c.piece, c.deadline]));
    picker.setCritical(list.map((c) => c.piece));
    if (list.length > 0) this.host.requests().fillAll(true);
  }

  /** Once a second while downloading: measure the fast peers, take back late blocks of critical pieces. */
  tick(now: number): void {
    if (this.windows.count === 0) { this.fast = null; return; }
    const peers = [...this.host.peers()];
    const fast = fastPeers(peers.map((p) => ({ key: p.key, rate: p.down.rate })));
    this.fast = fast.size === peers.length ? null : fast;
    this.apply();
    if (this.current.size === 0) return;
    const reqs: CriticalRequest[] = [];
    const count = new Map<number, number>();
    for (const p of peers) {
      for (const [key, r] of p.requests) {
        if (!this.current.has(r.block.piece)) continue;
        count.set(key, (count.get(key) ?? 0) + 1);
        reqs.push({ peer: p.key, piece: r.block.piece, begin: r.block.begin, length: r.block.length, sentAt: r.sentAt, requesters: 0 });
      }
    }
    const pl = this.host.pieceLength;
    for (const r of reqs) r.requesters = count.get(r.piece * pl + r.begin) ?? 1;
    const helpers: TakeBackPeer[] = peers.filter((p) => !p.peerChoking && !p.conn.closed).map((p) => ({
      key: p.key, rate: p.down.rate, fast: this.isFast(p), outstanding: p.requests.size,
      room: Math.max(0, p.queueDepth - p.requests.size), has: (i: number) => p.has.has(i),
    }));
    const picker = this.host.picker();
    for (const t of takeBack(reqs, this.current, helpers, now, { blockSize: BLOCK_SIZE })) {
      const to = this.host.peerByKey(t.to);
      const block = { piece: t.piece, begin: t.begin, length: t.length };
      if (to && picker.requestAlso(t.to, block)) this.host.requests().sendExtra(to, block, now);
    }
  }

  /**
   * Resolves once piece `index` is verified and written. Rejects with BtError('ABORTED') when `signal` aborts or the
   * torrent closes, and with BtError('USAGE') when the piece is not wanted (its files are not selected).
   */
  waitPiece(index: number, signal?: AbortSignal): Promise<void> {
    const picker = this.host.picker();
    if (picker.have(index)) return Promise.resolve();
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    if (signal?.aborted) return Promise.reject(new BtError('ABORTED', 'read aborted', { cause: signal.reason }));
    if (picker.piecePriority(index) === 0) {
      return Promise.reject(new BtError('USAGE', `piece ${index} belongs to no selected file: select the file to stream it`));
    }
    return new Promise<void>((resolve, reject) => {
      let set = this.waiters.get(index);
      if (!set) this.waiters.set(index, set = new Set());
      const w: Waiter = {
        resolve, reject, signal,
        onAbort: () => { this.dropWaiter(index, w); reject(new BtError('ABORTED', 'read aborted', { cause: signal?.reason })); },
      };
      set.add(w);
      signal?.addEventListener('abort', w.onAbort, { once: true });
    });
  }

  private dropWaiter(index: number, w: Waiter): void {
    const set = this.waiters.get(index);
    set?.delete(w);
    if (set?.size === 0) this.waiters.delete(index);
    w.signal?.removeEventListener('abort', w.onAbort);
  }

  /** Piece `index` is verified and written: wake its readers. */
  onPieceVerified(index: number): void {
    const set = this.waiters.get(index);
    if (!set) return;
    this.waiters.delete(index);
    for (const w of set) { w.signal?.removeEventListener('abort', w.onAbort); w.resolve(); }
  }

  /** The torrent closed (stopped, removed): every waiter rejects, and so does every later wait. */
  closeAll(err: unknown): void {
    this.closedWith = err;
    for (const [index, set] of [...this.waiters]) {
      for (const w of [...set]) { this.dropWaiter(index, w); w.reject(err); }
    }
  }
}
