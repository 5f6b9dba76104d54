/**
 * The piece picker: which blocks to request from which peer (BEP 3 rarest first, random first pieces, end game;
 * BEP 6 have-all / have-none as `addPeer(peer, 'all' | 'none')`).
 *
 * Pure state machine: the engine tells it what the swarm has (`addPeer`, `peerHave`, `removePeer`), what we have
 * (`markHave`, `pieceVerified`, `pieceFailed`) and what happened to requests (`blockReceived`, `release`); it
 * answers `pick(peer, max)` with blocks to request. No sockets, no timers, no clock; randomness is injected.
 *
 * Policy, in order of precedence:
 *  1. priority dominates: a piece of priority p is picked before any piece of priority < p; priority 0 never;
 *  2. within one priority, partial pieces the peer has come first ("finish what you started"): pieces this peer
 *     already has requests in, then the ones with the fewest missing blocks;
 *  3. then fresh pieces: uniformly random while we have fewer than `randomFirstPieces` pieces, rarest first
 *     after that (ties in random order, never by index);
 *  4. a peer takes the missing blocks of a piece in order, so one peer tends to get a whole piece;
 *  5. end game: when no missing block of a wanted piece can be requested from any connected peer, a peer may also
 *     get blocks already requested from OTHER peers (never twice from itself), at most `maxRequestersPerBlock`
 *     peers per block, least-requested first. When such a block arrives, the others are returned as `cancels`.
 *
 * States. A block of a piece we do not have is exactly one of: missing | requested (by a non-empty set of peers) |
 * received. A piece is either `have`, or "fresh" (all blocks missing, no entry in `downloading`), or downloading
 * (an entry with at least one requested or received block). A piece we have has no requests and no entry.
 *
 * Invariants (checked by `_checkInvariants()` in tests):
 *  - `avail[i]` = number of non-seed peers whose bitfield has i; `seeds` = number of seed peers; the swarm
 *    availability of i is `avail[i] + seeds` (so a seed joining or leaving is O(1));
 *  - a piece is filed in the order buckets iff it is wanted (not had, priority > 0), under (priority, avail[i]);
 *  - for each requested block, every requester lists that block in its request set, and every id in a peer's
 *    request set is a requested block naming that peer; a peer never appears twice on one block, and no block has
 *    more than `maxRequestersPerBlock` requesters;
 *  - the per-piece counters (missing, requested, received) match the block states; a downloading entry has
 *    requested + received > 0;
 *  - `missingTotal` = missing blocks over wanted pieces; `missingNoPeer` = the part of it in pieces with avail 0;
 *    `peer.wanted` = wanted pieces in a non-seed peer's bitfield; `wantedPieces` = number of wanted pieces.
 *
 * Sequential mode (`setSequential`): fresh pieces are taken in index order within a priority instead of random /
 * rarest first (rules 1, 2, 4 and 5 unchanged). Critical pieces (`setCritical`, a stream's read-ahead window ordered
 * by deadline: src/picker/deadlines.ts) come before everything, for the peers the engine calls fast; slow peers skip
 * them; `requestAlso` lets a fast peer take a block of one back from a slow peer (docs/design/streaming.md).
 *
 * Complexity: see docs/design/picker.md (pick is O(D log D) + a bucket walk that stops at `max` blocks; sequential
 * walks from the lowest wanted index, O(P) at worst; the critical list is at most a few hundred pieces).
 */
import { Bitfield, forEachSetBit } from '../util/bitfield.js';
import { BtError } from '../util/errors.js';
import { BLOCK_SIZE, blockCount, isValidGeometry, pieceSizeAt } from '../util/geometry.js';
import { MAX_PRIORITY, PieceOrder } from './piece-order.js';

/** In endgame, a peer takes duplicate requests only while it has fewer outstanding requests than this. */
const ENDGAME_OUTSTANDING = 8;

/** Opaque peer identity chosen by the engine (e.g. "ip:port"). */
export type PeerKey = string;

/** One block of a piece: `begin` and `length` in bytes within the piece. */
export interface BlockRef { piece: number; begin: number; length: number }

/** Geometry and policy knobs of a picker. */
export interface PickerOptions {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
  /** Block size in bytes (default {@link BLOCK_SIZE}, 16 KiB). */
  blockSize?: number;
  /** Until we have this many pieces, pick random available pieces instead of the rarest (default 4). */
  randomFirstPieces?: number;
  /** End game: most peers that may have the same block requested at once (default 3). */
  maxRequestersPerBlock?: number;
  /** Injected randomness in [0, 1). */
  rng: () => number;
}

/** What the engine should do with a block that arrived. */
export interface BlockReceivedResult {
  /** false: nobody requested it, or we already have it: drop the data. */
  wanted: boolean;
  /** Every block of the piece is now received: hash it. */
  pieceComplete: boolean;
  /** End game: other peers that have this block requested; send them `cancel`. Shared when empty: do not modify. */
  cancels: ReadonlyArray<{ peer: PeerKey; block: BlockRef }>;
}

/** The `cancels` of nearly every received block (no other peer had it requested): one shared empty array. */
const NO_CANCELS: ReadonlyArray<{ peer: PeerKey; block: BlockRef }> = Object.freeze([]);

const MISSING = 0;
const REQUESTED = 1;
const RECEIVED = 2;

interface PeerState {
  seed: boolean;
  /** Null for a seed. */
  bits: Bitfield | null;
  /** Non-seed: number of wanted pieces in `bits`. */
  wanted: number;
  /** Global block ids (piece * maxBlocks + block) requested from this peer. */
  requests: Set<number>;
}

interface PieceDownload {
  piece: number;
  state: Uint8Array;
  requesters: Array<PeerKey[] | null>;
  missing: number;
  requested: number;
  received: number;
  contributors: Set<PeerKey>;
}

function notWanted(): BlockReceivedResult { return { wanted: false, pieceComplete: false, cancels: [] }; }

/**
 * Tracks swarm availability, our pieces and every block request, and decides which blocks to request next.
 * See the module header for the policy, the states and the invariants.
 */
export class PiecePicker {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  private readonly randomFirst: number;
  private readonly maxRequesters: number;
  private readonly rng: () => number;
  /** Blocks in a full-size piece; block ids are piece * maxBlocks + block. */
  private readonly maxBlocks: number;

  private readonly haveBits: Bitfield;
  private readonly prio: Uint8Array;
  private readonly avail: Int32Array;
  private seeds = 0;
  private readonly order: PieceOrder;
  private readonly downloading = new Map<number, PieceDownload>();
  private readonly peers = new Map<PeerKey, PeerState>();
  private readonly failedContributors = new Map<number, PeerKey[]>();
  private wantedPieces: number;
  private missingTotal = 0;
  private missingNoPeer = 0;
  /** Sequential mode: fresh pieces in index order; `seqFrom` ≤ the lowest wanted index (advanced lazily). */
  private seq = false;
  private seqFrom = 0;
  /** Critical pieces (streams), nearest deadline first, and the same as a set. */
  private critical: readonly number[] = [];
  private criticalSet = new Set<number>();

  constructor(opts: PickerOptions) {
    const { pieceCount, pieceLength, totalLength } = opts;
    const blockSize = opts.blockSize ?? BLOCK_SIZE;
    if (!Number.isSafeInteger(pieceCount) || pieceCount < 0) throw new BtError('BAD_TORRENT', `bad piece count ${pieceCount}`);
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new BtError('BAD_TORRENT', `bad piece length ${pieceLength}`);
    if (!Number.isSafeInteger(blockSize) || blockSize <= 0) throw new BtError('BAD_TORRENT', `bad block size ${blockSize}`);
    if (!isValidGeometry({ pieceCount, pieceLength, totalLength })) {
      throw new BtError('BAD_TORRENT', `total length ${totalLength} does not fit ${pieceCount} pieces of ${pieceLength}`);
    }
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.blockSize = blockSize;
    this.randomFirst = opts.randomFirstPieces ?? 4;
    this.maxRequesters = Math.max(1, opts.maxRequestersPerBlock ?? 3);
    this.rng = opts.rng;
    this.maxBlocks = blockCount(pieceLength, blockSize);
    this.haveBits = new Bitfield(pieceCount);
    this.prio = new Uint8Array(pieceCount).fill(1);
    this.avail = new Int32Array(pieceCount);
    this.order = new PieceOrder(pieceCount, this.rng);
    this.wantedPieces = pieceCount;
    for (let i = 0; i < pieceCount; i++) {
      this.order.insert(i, 1, 0);
      const n = this.blocksInPiece(i);
      this.missingTotal += n;
      this.missingNoPeer += n;
    }
  }

  // ---------------------------------------------------------------- geometry

  /** Size in bytes of piece `index` (the last one may be shorter). */
  pieceSize(index: number): number {
    return pieceSizeAt(this, index);
  }

  /** Number of blocks in piece `index`. */
  blocksInPiece(index: number): number { return blockCount(this.pieceSize(index), this.blockSize); }

  private blockRef(piece: number, b: number): BlockRef {
    const begin = b * this.blockSize;
    return { piece, begin, length: Math.min(this.blockSize, this.pieceSize(piece) - begin) };
  }

  /** Block index of a BlockRef inside its piece, or -1 if it does not match the geometry exactly. */
  private blockIndex(block: BlockRef): number {
    const { piece, begin, length } = block;
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return -1;
    if (!Number.isInteger(begin) || begin < 0 || begin % this.blockSize !== 0) return -1;
    const b = begin / this.blockSize;
    if (b >= this.blocksInPiece(piece)) return -1;
    return length === Math.min(this.blockSize, this.pieceSize(piece) - begin) ? b : -1;
  }

  private checkIndex(index: number, what: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new RangeError(`${what}: piece ${index} out of range 0..${this.pieceCount - 1}`);
    }
  }

  private isWanted(i: number): boolean { return this.prio[i]! > 0 && !this.haveBits.has(i); }

  private missingOf(i: number): number {
    const dl = this.downloading.get(i);
    return dl ? dl.missing : this.blocksInPiece(i);
  }

  /** Adjusts the missing-block counters for a change inside piece i (only wanted pieces count). */
  private addMissing(i: number, delta: number): void {
    if (!this.isWanted(i)) return;
    this.missingTotal += delta;
    if (this.avail[i] === 0) this.missingNoPeer += delta;
  }

  // ---------------------------------------------------------------- availability

  /** A peer's initial pieces: its bitfield, or BEP 6 have-all / have-none. Calling it again replaces them. */
  addPeer(peer: PeerKey, has: Bitfield | 'all' | 'none'): void {
    let ps = this.peers.get(peer);
    if (ps) this.dropAvailability(ps);
    else {
      ps = { seed: false, bits: null, wanted: 0, requests: new Set() };
      this.peers.set(peer, ps);
    }
    ps.seed = false;
    ps.wanted = 0;
    if (has === 'all' || (has !== 'none' && has.length === this.pieceCount && has.complete)) {
      ps.seed = true;
      ps.bits = null;
      this.seeds++;
      return;
    }
    if (has === 'none') {
      ps.bits = new Bitfield(this.pieceCount);
      return;
    }
    if (has.length !== this.pieceCount) {
      ps.bits = new Bitfield(this.pieceCount);
      throw new BtError('PROTOCOL', `bitfield has ${has.length} bits, torrent has ${this.pieceCount} pieces`);
    }
    ps.bits = has.clone();
    const state = ps;
    forEachSetBit(ps.bits, (i) => {
      this.incAvail(i);
      if (this.isWanted(i)) state.wanted++;
    });
  }

  /** A `have` message. An unknown peer is added with no pieces first. */
  peerHave(peer: PeerKey, index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new BtError('PROTOCOL', `have for piece ${index}, torrent has ${this.pieceCount} pieces`);
    }
    let ps = this.peers.get(peer);
    if (!ps) {
      this.addPeer(peer, 'none');
      ps = this.peers.get(peer)!;
    }
    if (ps.seed || !ps.bits!.set(index)) return;
    this.incAvail(index);
    if (this.isWanted(index)) ps.wanted++;
    if (ps.bits!.complete) {
      // Became a seed: fold its per-piece counts into `seeds` so later arrivals/departures are O(1).
      this.dropAvailability(ps);
      ps.seed = true;
      ps.bits = null;
      ps.wanted = 0;
      this.seeds++;
    }
  }

  /** Forgets a peer: its availability, and its outstanding requests, which go back to the pool and are returned. */
  removePeer(peer: PeerKey): BlockRef[] {
    const ps = this.peers.get(peer);
    if (!ps) return [];
    const released = this.releaseAll(peer);
    this.dropAvailability(ps);
    this.peers.delete(peer);
    return released;
  }

  /** Number of connected peers that have piece `index`. */
  availability(index: number): number {
    this.checkIndex(index, 'availability');
    return this.avail[index]! + this.seeds;
  }

  private dropAvailability(ps: PeerState): void {
    if (ps.seed) {
      this.seeds--;
      return;
    }
    if (ps.bits) forEachSetBit(ps.bits, (i) => this.decAvail(i));
  }

  private incAvail(i: number): void {
    const a = this.avail[i]!;
    if (this.isWanted(i)) {
      this.order.move(i, this.prio[i]!, a, a + 1);
      if (a === 0) this.missingNoPeer -= this.missingOf(i);
    }
    this.avail[i] = a + 1;
  }

  private decAvail(i: number): void {
    const a = this.avail[i]!;
    if (this.isWanted(i)) {
      this.order.move(i, this.prio[i]!, a, a - 1);
      if (a === 1) this.missingNoPeer += this.missingOf(i);
    }
    this.avail[i] = a - 1;
  }

  private peerHas(ps: PeerState, i: number): boolean { return ps.seed || ps.bits!.has(i); }

  // ---------------------------------------------------------------- our pieces

  /** Records a verified, written piece. Outstanding requests for it are forgotten (late blocks come back unwanted). */
  markHave(index: number): void {
    this.checkIndex(index, 'markHave');
    if (this.haveBits.has(index)) return;
    if (this.isWanted(index)) this.unwant(index);
    const dl = this.downloading.get(index);
    if (dl) {
      this.forgetRequests(dl);
      this.downloading.delete(index);
    }
    this.failedContributors.delete(index);
    this.haveBits.set(index);
  }

  /** Whether we have piece `index` (verified). */
  have(index: number): boolean { return this.haveBits.has(index); }

  /** Number of pieces we have. */
  get haveCount(): number { return this.haveBits.count; }

  /** We have every piece of the torrent. */
  get complete(): boolean { return this.haveBits.complete; }

  /** Number of pieces we still want (not had, priority > 0); 0 means a selective download is done. */
  get wantedRemaining(): number { return this.wantedPieces; }

  /** A copy of our pieces. */
  haveBitfield(): Bitfield { return this.haveBits.clone(); }

  /** Sets a piece's priority: 0 = do not download, 1 = normal (default) ... 7 = highest. */
  setPiecePriority(index: number, priority: number): void {
    this.checkIndex(index, 'setPiecePriority');
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
      throw new RangeError(`priority ${priority} out of range 0..${MAX_PRIORITY}`);
    }
    const old = this.prio[index]!;
    if (old === priority) return;
    const wasWanted = this.isWanted(index);
    if (wasWanted && priority > 0) {
      this.order.remove(index, old, this.avail[index]!);
      this.prio[index] = priority;
      this.order.insert(index, priority, this.avail[index]!);
      return;
    }
    if (wasWanted) this.unwant(index);
    this.prio[index] = priority;
    if (this.isWanted(index)) this.want(index);
  }

  /** Current priority of a piece. */
  piecePriority(index: number): number {
    this.checkIndex(index, 'piecePriority');
    return this.prio[index]!;
  }

  /** Sequential mode on or off: fresh pieces in index order (within a priority) instead of rarest first. */
  setSequential(on: boolean): void { this.seq = on; this.seqFrom = 0; }
  get sequential(): boolean { return this.seq; }

  /**
   * The critical pieces (streams' read-ahead windows), nearest deadline first: `pick` serves them before anything
   * else to the peers it may (`critical` not false). Replaces the previous list; indexes out of range are ignored.
   */
  setCritical(pieces: readonly number[]): void {
    this.critical = pieces.filter((i) => Number.isInteger(i) && i >= 0 && i < this.pieceCount);
    this.criticalSet = new Set(this.critical);
  }

  /**
   * Take-back: also request `block`, already requested from another peer, from `peer` (a faster one). Refused
   * (false) unless the block is requested now, the peer has its piece and is not a requester yet, and the block has
   * fewer than `maxRequestersPerBlock` requesters. When one copy arrives, `blockReceived` cancels the others.
   */
  requestAlso(peer: PeerKey, block: BlockRef): boolean {
    const b = this.blockIndex(block);
    const ps = this.peers.get(peer);
    if (b < 0 || !ps || !this.peerHas(ps, block.piece)) return false;
    const dl = this.downloading.get(block.piece);
    const reqs = dl?.requesters[b];
    if (!dl || dl.state[b] !== REQUESTED || !reqs || reqs.length >= this.maxRequesters || reqs.includes(peer)) return false;
    reqs.push(peer);
    ps.requests.add(block.piece * this.maxBlocks + b);
    return true;
  }

  /** Piece i stops being wanted (called while it still is). */
  private unwant(i: number): void {
    this.order.remove(i, this.prio[i]!, this.avail[i]!);
    const m = this.missingOf(i);
    this.missingTotal -= m;
    if (this.avail[i] === 0) this.missingNoPeer -= m;
    this.wantedPieces--;
    for (const ps of this.peers.values()) if (!ps.seed && ps.bits!.has(i)) ps.wanted--;
  }

  /** Piece i starts being wanted (called once it is). */
  private want(i: number): void {
    if (i < this.seqFrom) this.seqFrom = i;
    this.order.insert(i, this.prio[i]!, this.avail[i]!);
    const m = this.missingOf(i);
    this.missingTotal += m;
    if (this.avail[i] === 0) this.missingNoPeer += m;
    this.wantedPieces++;
    for (const ps of this.peers.values()) if (!ps.seed && ps.bits!.has(i)) ps.wanted++;
  }

  // ---------------------------------------------------------------- requesting

  /** The peer has some piece we lack with priority > 0. */
  isInteresting(peer: PeerKey): boolean {
    const ps = this.peers.get(peer);
    if (!ps) return false;
    return ps.seed ? this.wantedPieces > 0 : ps.wanted > 0;
  }

  /**
   * End game: no missing block of a wanted piece can be requested from a connected peer (they are all requested
   * already, or nobody has them), while some wanted piece remains.
   */
  get inEndgame(): boolean {
    const pickable = this.seeds > 0 ? this.missingTotal : this.missingTotal - this.missingNoPeer;
    return this.wantedPieces > 0 && pickable === 0;
  }

  /**
   * Up to `max` blocks to request from `peer` now; they are recorded as requested by it. `critical: false` (a slow
   * peer) skips the critical pieces; otherwise they come first, in the order `setCritical` gave.
   */
  pick(peer: PeerKey, max: number, opts: { critical?: boolean } = {}): BlockRef[] {
    const ps = this.peers.get(peer);
    const out: BlockRef[] = [];
    if (!ps || max <= 0 || this.wantedPieces === 0) return out;
    if (!ps.seed && ps.wanted === 0) return out;
    const mayCritical = opts.critical ?? true;
    if (mayCritical) {
      for (const i of this.critical) {
        if (out.length >= max) return out;
        if (!this.isWanted(i) || !this.peerHas(ps, i)) continue;
        const dl = this.downloading.get(i);
        if (dl) { if (dl.missing > 0) this.takeMissing(peer, ps, dl, max, out); } else this.takeMissing(peer, ps, this.startDownload(i), max, out);
      }
    }
    const skip = (i: number): boolean => !mayCritical && this.criticalSet.has(i);

    const partials = this.partialsFor(ps);
    let pi = 0;
    const randomPhase = !this.seq && this.haveBits.count < this.randomFirst;
    const small = !ps.seed && ps.wanted * 8 < this.wantedPieces ? this.candidatesFromBitfield(ps) : null;
    if (this.seq) while (this.seqFrom < this.pieceCount && !this.isWanted(this.seqFrom)) this.seqFrom++;

    for (let level = MAX_PRIORITY; level >= 1 && out.length < max; level--) {
      while (pi < partials.length && partials[pi]!.level > level) pi++;
      for (; pi < partials.length && partials[pi]!.level === level && out.length < max; pi++) {
        if (!skip(partials[pi]!.dl.piece)) this.takeMissing(peer, ps, partials[pi]!.dl, max, out);
      }
      if (out.length >= max) break;
      if (this.order.sizeAt(level) === 0) continue;
      const fresh = this.seq ? (small ? small[level]!.values() : this.freshSequential(ps, level))
        : small ? this.freshFromList(small[level]!, randomPhase)
        : randomPhase ? this.freshRandom(ps, level) : this.freshRarest(ps, level);
      for (const i of fresh) {
        if (this.downloading.has(i) || skip(i)) continue;
        this.takeMissing(peer, ps, this.startDownload(i), max, out);
        if (out.length >= max) break;
      }
    }
    if (out.length < max && this.inEndgame) this.pickEndgame(peer, ps, max, out);
    return out;
  }

  /** Downloading wanted pieces with missing blocks that the peer has, best first within each priority. */
  private partialsFor(ps: PeerState): Array<{ dl: PieceDownload; level: number; mine: boolean }> {
    const list: Array<{ dl: PieceDownload; level: number; mine: boolean }> = [];
    if (this.downloading.size === 0) return list;
    const minePieces = new Set<number>();
    for (const id of ps.requests) minePieces.add(Math.floor(id / this.maxBlocks));
    for (const dl of this.downloading.values()) {
      if (dl.missing === 0 || !this.isWanted(dl.piece) || !this.peerHas(ps, dl.piece)) continue;
      list.push({ dl, level: this.prio[dl.piece]!, mine: minePieces.has(dl.piece) });
    }
    list.sort((a, b) => (b.level - a.level) || (Number(b.mine) - Number(a.mine)) || (a.dl.missing - b.dl.missing) ||
      (this.avail[a.dl.piece]! - this.avail[b.dl.piece]!));
    return list;
  }

  /**
   * For a peer with few wanted pieces: its candidate fresh pieces, read from its own bitfield and grouped by
   * priority level, so the pick does not walk pieces it lacks.
   */
  private candidatesFromBitfield(ps: PeerState): number[][] {
    const byLevel: number[][] = [];
    for (let p = 0; p <= MAX_PRIORITY; p++) byLevel.push([]);
    forEachSetBit(ps.bits!, (i) => {
      if (this.isWanted(i) && !this.downloading.has(i)) byLevel[this.prio[i]!]!.push(i);
    });
    return byLevel;
  }

  /** Extracts pieces from a candidate list: uniformly at random, or rarest first with random ties. */
  private *freshFromList(list: number[], random: boolean): Generator<number, void, undefined> {
    while (list.length > 0) {
      let k: number;
      if (random) {
        k = Math.floor(this.rng() * list.length);
      } else {
        // Rarest, ties by reservoir sampling (uniform among the rarest).
        k = 0;
        let best = this.avail[list[0]!]!;
        let ties = 1;
        for (let j = 1; j < list.length; j++) {
          const a = this.avail[list[j]!]!;
          if (a < best) { best = a; k = j; ties = 1; } else if (a === best && this.rng() * ++ties < 1) k = j;
        }
      }
      k = Math.min(k, list.length - 1);
      const i = list[k]!;
      list[k] = list[list.length - 1]!;
      list.pop();
      yield i;
    }
  }

  /** Fresh pieces of one priority that the peer has, in index order (sequential mode). */
  private *freshSequential(ps: PeerState, level: number): Generator<number, void, undefined> {
    for (let i = this.seqFrom; i < this.pieceCount; i++) {
      if (this.prio[i] === level && !this.haveBits.has(i) && !this.downloading.has(i) && this.peerHas(ps, i)) yield i;
    }
  }

  /** Fresh pieces of one priority that the peer has, rarest first. */
  private *freshRarest(ps: PeerState, level: number): Generator<number, void, undefined> {
    for (const i of this.order.walk(level)) {
      if (!this.downloading.has(i) && this.peerHas(ps, i)) yield i;
    }
  }

  /** Fresh pieces of one priority that the peer has, in uniformly random order (random-first phase). */
  private *freshRandom(ps: PeerState, level: number): Generator<number, void, undefined> {
    // Rejection sampling over all indexes: cheap when this level holds a good share of the pieces.
    if (this.order.sizeAt(level) * 4 >= this.pieceCount) {
      for (let probe = 0; probe < 32; probe++) {
        const i = Math.min(this.pieceCount - 1, Math.floor(this.rng() * this.pieceCount));
        if (this.prio[i] === level && this.isWanted(i) && !this.downloading.has(i) && this.peerHas(ps, i)) yield i;
      }
    }
    const list: number[] = [];
    for (const i of this.order.members(level)) {
      if (!this.downloading.has(i) && this.peerHas(ps, i)) list.push(i);
    }
    yield* this.freshFromList(list, true);
  }

  private startDownload(i: number): PieceDownload {
    const n = this.blocksInPiece(i);
    const dl: PieceDownload = {
      piece: i, state: new Uint8Array(n), requesters: new Array<PeerKey[] | null>(n).fill(null),
      missing: n, requested: 0, received: 0, contributors: new Set(),
    };
    this.downloading.set(i, dl);
    return dl;
  }

  /** Requests the missing blocks of `dl`, in order, from the peer until `out` holds `max` blocks. */
  private takeMissing(peer: PeerKey, ps: PeerState, dl: PieceDownload, max: number, out: BlockRef[]): void {
    const n = dl.state.length;
    for (let b = 0; b < n && out.length < max && dl.missing > 0; b++) {
      if (dl.state[b] !== MISSING) continue;
      dl.state[b] = REQUESTED;
      dl.requesters[b] = [peer];
      dl.missing--;
      dl.requested++;
      this.addMissing(dl.piece, -1);
      ps.requests.add(dl.piece * this.maxBlocks + b);
      out.push(this.blockRef(dl.piece, b));
    }
  }

  /**
   * Endgame (every missing block is requested): duplicate requests for blocks others are fetching, slowest first.
   * A peer only takes duplicates while it has fewer than ENDGAME_OUTSTANDING requests in all: with deep pipelines the
   * endgame starts while many blocks are in flight, and letting each peer duplicate a whole queue's worth made a
   * 9-peer swarm download 13 % more than it needed.
   */
  private pickEndgame(peer: PeerKey, ps: PeerState, max: number, out: BlockRef[]): void {
    max = Math.min(max, out.length + ENDGAME_OUTSTANDING - ps.requests.size);
    if (max <= out.length) return;
    const cands: Array<{ dl: PieceDownload; b: number; n: number; level: number }> = [];
    for (const dl of this.downloading.values()) {
      if (dl.requested === 0 || !this.isWanted(dl.piece) || !this.peerHas(ps, dl.piece)) continue;
      for (let b = 0; b < dl.state.length; b++) {
        const r = dl.requesters[b];
        if (dl.state[b] === REQUESTED && r && r.length < this.maxRequesters && !r.includes(peer)) {
          cands.push({ dl, b, n: r.length, level: this.prio[dl.piece]! });
        }
      }
    }
    cands.sort((x, y) => (x.n - y.n) || (y.level - x.level));
    for (const c of cands) {
      if (out.length >= max) break;
      c.dl.requesters[c.b]!.push(peer);
      ps.requests.add(c.dl.piece * this.maxBlocks + c.b);
      out.push(this.blockRef(c.dl.piece, c.b));
    }
  }

  /**
   * A block arrived from `peer`. Accepted (`wanted`) only if it is currently requested from some peer and matches
   * the geometry; a block that was released (timed out) before it arrived is therefore dropped.
   */
  blockReceived(peer: PeerKey, block: BlockRef): BlockReceivedResult {
    const b = this.blockIndex(block);
    if (b < 0 || this.haveBits.has(block.piece)) return notWanted();
    const dl = this.downloading.get(block.piece);
    if (!dl || dl.state[b] !== REQUESTED) return notWanted();
    const id = block.piece * this.maxBlocks + b;
    const reqs = dl.requesters[b]!;
    let cancels = NO_CANCELS;
    if (reqs.length === 1 && reqs[0] === peer) {
      this.peers.get(peer)?.requests.delete(id);
    } else {
      const list: Array<{ peer: PeerKey; block: BlockRef }> = [];
      for (const p of reqs) {
        this.peers.get(p)?.requests.delete(id);
        if (p !== peer) list.push({ peer: p, block: this.blockRef(block.piece, b) });
      }
      cancels = list;
    }
    dl.requesters[b] = null;
    dl.state[b] = RECEIVED;
    dl.requested--;
    dl.received++;
    dl.contributors.add(peer);
    this.failedContributors.delete(block.piece);
    return { wanted: true, pieceComplete: dl.received === dl.state.length, cancels };
  }

  /** The request of `block` from `peer` is over without data (reject, timeout, choke): the block goes back. */
  release(peer: PeerKey, block: BlockRef): void {
    const b = this.blockIndex(block);
    if (b < 0) return;
    this.releaseId(peer, block.piece * this.maxBlocks + b);
  }

  /** All of the peer's requests go back to the pool (e.g. choked without the fast extension); returns them. */
  releaseAll(peer: PeerKey): BlockRef[] {
    const ps = this.peers.get(peer);
    if (!ps || ps.requests.size === 0) return [];
    const ids = [...ps.requests].sort((x, y) => x - y);
    const out: BlockRef[] = [];
    for (const id of ids) {
      const piece = Math.floor(id / this.maxBlocks);
      out.push(this.blockRef(piece, id - piece * this.maxBlocks));
      this.releaseId(peer, id);
    }
    return out;
  }

  private releaseId(peer: PeerKey, id: number): void {
    const ps = this.peers.get(peer);
    if (!ps || !ps.requests.delete(id)) return;
    const piece = Math.floor(id / this.maxBlocks);
    const b = id - piece * this.maxBlocks;
    const dl = this.downloading.get(piece)!;
    const reqs = dl.requesters[b]!;
    reqs.splice(reqs.indexOf(peer), 1);
    if (reqs.length > 0) return;
    dl.requesters[b] = null;
    dl.state[b] = MISSING;
    dl.requested--;
    dl.missing++;
    this.addMissing(piece, 1);
    if (dl.requested === 0 && dl.received === 0) this.downloading.delete(piece);
  }

  outstanding(peer: PeerKey): number { return this.peers.get(peer)?.requests.size ?? 0; } // blocks requested from it

  /** The piece's hash matched: it becomes `have` (same as markHave). Read `contributors` before calling this. */
  pieceVerified(index: number): void { this.markHave(index); }

  /**
   * The piece's hash did not match: every block goes back to missing (outstanding requests, if any, are released).
   * The contributors of the failed attempt stay readable through `contributors(index)` until a block of the piece
   * is received again.
   */
  pieceFailed(index: number): void {
    this.checkIndex(index, 'pieceFailed');
    const dl = this.downloading.get(index);
    if (!dl) return;
    if (dl.contributors.size > 0) this.failedContributors.set(index, [...dl.contributors]);
    this.forgetRequests(dl);
    this.addMissing(index, dl.requested + dl.received);
    this.downloading.delete(index);
  }

  /** Peers that delivered accepted blocks of the piece's current (or just failed) download. */
  contributors(index: number): PeerKey[] {
    const dl = this.downloading.get(index);
    if (dl && dl.contributors.size > 0) return [...dl.contributors];
    return [...(this.failedContributors.get(index) ?? [])];
  }

  /** Removes every request of `dl` from the peers' request sets (the entry itself is left to the caller). */
  private forgetRequests(dl: PieceDownload): void {
    for (let b = 0; b < dl.state.length; b++) {
      const reqs = dl.requesters[b];
      if (!reqs) continue;
      const id = dl.piece * this.maxBlocks + b;
      for (const p of reqs) this.peers.get(p)?.requests.delete(id);
    }
  }

  // ---------------------------------------------------------------- invariants (tests)

  /** Recomputes every derived quantity from scratch and throws if any invariant is broken. For tests. */
  _checkInvariants(): void {
    const fail = (msg: string): never => { throw new Error(`picker invariant: ${msg}`); };
    const P = this.pieceCount;
    const avail = new Int32Array(P);
    let seeds = 0;
    for (const [key, ps] of this.peers) {
      if (ps.seed) {
        seeds++;
        if (ps.bits !== null) fail(`seed ${key} keeps a bitfield`);
        continue;
      }
      if (!ps.bits || ps.bits.length !== P) fail(`peer ${key} bitfield`);
      let wanted = 0;
      forEachSetBit(ps.bits!, (i) => { avail[i]!++; if (this.isWanted(i)) wanted++; });
      if (wanted !== ps.wanted) fail(`peer ${key} wanted ${ps.wanted} != ${wanted}`);
    }
    if (seeds !== this.seeds) fail(`seeds ${this.seeds} != ${seeds}`);
    let wantedPieces = 0;
    let missingTotal = 0;
    let missingNoPeer = 0;
    for (let i = 0; i < P; i++) {
      if (avail[i] !== this.avail[i]) fail(`avail[${i}] ${this.avail[i]} != ${avail[i]}`);
      const wanted = this.isWanted(i);
      if (wanted !== this.order.has(i)) fail(`piece ${i} wanted=${wanted} but filed=${this.order.has(i)}`);
      if (wanted) {
        if (!this.order.filedAt(i, this.prio[i]!, this.avail[i]!)) fail(`piece ${i} filed in the wrong bucket`);
        wantedPieces++;
        const m = this.missingOf(i);
        missingTotal += m;
        if (this.avail[i] === 0) missingNoPeer += m;
      }
      if (this.haveBits.has(i) && this.downloading.has(i)) fail(`piece ${i} is had and downloading`);
    }
    if (this.order.countMembers() !== wantedPieces) fail('bucket members != wanted pieces');
    if (wantedPieces !== this.wantedPieces) fail(`wantedPieces ${this.wantedPieces} != ${wantedPieces}`);
    if (missingTotal !== this.missingTotal) fail(`missingTotal ${this.missingTotal} != ${missingTotal}`);
    if (missingNoPeer !== this.missingNoPeer) fail(`missingNoPeer ${this.missingNoPeer} != ${missingNoPeer}`);

    const requested = new Map<PeerKey, Set<number>>();
    for (const [piece, dl] of this.downloading) {
      if (dl.piece !== piece) fail(`entry ${piece} names ${dl.piece}`);
      if (dl.state.length !== this.blocksInPiece(piece)) fail(`piece ${piece} block count`);
      let m = 0; let r = 0; let v = 0;
      for (let b = 0; b < dl.state.length; b++) {
        const st = dl.state[b];
        const reqs = dl.requesters[b];
        if (st === REQUESTED) {
          r++;
          if (!reqs || reqs.length === 0) fail(`block ${piece}/${b} requested by nobody`);
          if (reqs!.length > this.maxRequesters) fail(`block ${piece}/${b} has ${reqs!.length} requesters`);
          if (new Set(reqs).size !== reqs!.length) fail(`block ${piece}/${b} requested twice by one peer`);
          for (const p of reqs!) {
            if (!this.peers.has(p)) fail(`block ${piece}/${b} requested by unknown peer ${p}`);
            let s = requested.get(p);
            if (!s) requested.set(p, s = new Set());
            s.add(piece * this.maxBlocks + b);
          }
        } else {
          if (reqs) fail(`block ${piece}/${b} in state ${st} has requesters`);
          if (st === MISSING) m++; else if (st === RECEIVED) v++; else fail(`block ${piece}/${b} bad state ${st}`);
        }
      }
      if (m !== dl.missing || r !== dl.requested || v !== dl.received) fail(`piece ${piece} counters`);
      if (r + v === 0) fail(`piece ${piece} is downloading with nothing requested or received`);
    }
    for (const [key, ps] of this.peers) {
      const want = requested.get(key) ?? new Set<number>();
      if (want.size !== ps.requests.size) fail(`peer ${key} has ${ps.requests.size} requests, blocks say ${want.size}`);
      for (const id of ps.requests) if (!want.has(id)) fail(`peer ${key} request ${id} not on its block`);
    }
  }
}
