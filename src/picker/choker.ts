/**
 * The choker: which peers may download from us (BEP 3 "choking and optimistic unchoking").
 *
 * Pure: the engine calls `rechoke` every round (10 s in BEP 3's advice) with a snapshot of its peers and applies the
 * returned actions; time comes in as `now`, randomness from the injected rng.
 *
 * Leech mode (tit-for-tat): `uploadSlots` regular slots go to the interested, non-snubbed, non-seed peers that send
 * us data fastest (ties: keep the current regular holders, then random). One more slot, the optimistic unchoke, goes to
 * a random interested non-seed peer outside the regular set (a recently connected peer weighs 3x); it rotates every
 * `optimisticEveryRounds` rounds, or sooner if its holder leaves, loses interest or earns a regular slot.
 *
 * Seed mode (round robin): a peer unchoked for fewer than `seedSlotRounds` rounds keeps its slot (the fastest
 * uploads first if slots shrank); the free slots go to the interested peers that have waited longest since their last
 * unchoke (never unchoked first; ties by the engine's `lastUnchokedAt`, then the highest uploadRate, then random).
 * A peer whose period ran out yields only if someone is waiting, so every interested peer is served within about
 * ceil(interested / slots) x seedSlotRounds rounds.
 *
 * Both modes: peers that are not interested, and seeds, are choked (they would not request anything).
 *
 * Invariant: after applying a result, at most `uploadSlots + 1` peers are unchoked (`uploadSlots` in seed mode),
 * all of them interested non-seeds.
 */
import type { PeerKey } from './piece-picker.js';

/** The engine's view of one peer at rechoke time. Times are in the same unit as `now` (milliseconds). */
export interface ChokePeer {
  key: PeerKey;
  interested: boolean;
  /** Bytes/s we receive from this peer. */
  downloadRate: number;
  /** Bytes/s we send to this peer. */
  uploadRate: number;
  /** We currently unchoke it. */
  unchoked: boolean;
  /** When we last unchoked it (tie-break in seed mode). */
  lastUnchokedAt?: number;
  /** It has sent us nothing for a long while: no regular slot. */
  snubbed?: boolean;
  /** It has every piece: it never wants our data. */
  isSeed?: boolean;
  /** When the connection was made; recent peers are more likely to get the optimistic unchoke. */
  connectedAt?: number;
}

/** Choker settings. */
export interface ChokerOptions {
  /** Regular upload slots (default 4). */
  uploadSlots?: number;
  /** Rounds between optimistic unchoke rotations (default 3, i.e. 30 s at 10 s rounds). */
  optimisticEveryRounds?: number;
  /** Seed mode: rounds a peer keeps its slot while others wait (default: optimisticEveryRounds). */
  seedSlotRounds?: number;
  /** A peer connected less than this long ago (ms) weighs 3x for the optimistic unchoke (default 60000). */
  newPeerWindow?: number;
  /** Injected randomness in [0, 1). */
  rng: () => number;
}

/** Actions for the engine: send `unchoke` to / `choke` to these peers (only changes, never repeats). */
export interface RechokeResult {
  /** Peers currently choked that must be unchoked. */
  unchoke: PeerKey[];
  /** Peers currently unchoked that must be choked. */
  choke: PeerKey[];
  /** The optimistic unchoke holder after this round (leech mode), or null. */
  optimistic: PeerKey | null;
}

/** Decides, round after round, which peers are unchoked. Keeps a little memory between rounds. */
export class Choker {
  private slots: number;
  private readonly optimisticEvery: number;
  private readonly seedSlotRounds: number;
  private readonly newPeerWindow: number;
  private readonly rng: () => number;
  private round = 0;
  private optimistic: PeerKey | null = null;
  private optimisticRound = 0;
  /** Consecutive rounds each peer has been unchoked at the end of the last rechoke. */
  private readonly held = new Map<PeerKey, number>();
  /** Last round in which each peer was unchoked by us. */
  private readonly lastRound = new Map<PeerKey, number>();

  constructor(opts: ChokerOptions) {
    this.slots = Math.max(0, Math.floor(opts.uploadSlots ?? 4));
    this.optimisticEvery = Math.max(1, Math.floor(opts.optimisticEveryRounds ?? 3));
    this.seedSlotRounds = Math.max(1, Math.floor(opts.seedSlotRounds ?? this.optimisticEvery));
    this.newPeerWindow = opts.newPeerWindow ?? 60_000;
    this.rng = opts.rng;
  }
  /** Change the number of regular upload slots (the session shares a global budget among torrents). */
  setSlots(n: number): void {
    this.slots = Math.max(0, Math.floor(n));
  }


  /** One choking round. Returns only the changes to make, plus the optimistic holder. */
  rechoke(peers: ChokePeer[], mode: 'leech' | 'seed', now: number): RechokeResult {
    this.round++;
    const tie = new Map<PeerKey, number>();
    for (const p of peers) tie.set(p.key, this.rng());
    const eligible = peers.filter((p) => p.interested && !p.isSeed);
    const chosen = mode === 'leech' ? this.leech(eligible, tie, now) : this.seed(eligible, tie);

    const unchoke: PeerKey[] = [];
    const choke: PeerKey[] = [];
    const present = new Set<PeerKey>();
    for (const p of peers) {
      present.add(p.key);
      const on = chosen.has(p.key);
      if (on && !p.unchoked) unchoke.push(p.key);
      if (!on && p.unchoked) choke.push(p.key);
      if (on) {
        this.held.set(p.key, p.unchoked ? (this.held.get(p.key) ?? 0) + 1 : 1);
        this.lastRound.set(p.key, this.round);
      } else {
        this.held.delete(p.key);
      }
    }
    for (const k of [...this.held.keys()]) if (!present.has(k)) this.held.delete(k);
    for (const k of [...this.lastRound.keys()]) if (!present.has(k)) this.lastRound.delete(k);
    return { unchoke, choke, optimistic: mode === 'leech' ? this.optimistic : null };
  }

  private leech(eligible: ChokePeer[], tie: Map<PeerKey, number>, now: number): Set<PeerKey> {
    // Ties (e.g. every rate still 0) keep the current regular holders, so slots do not flap.
    const incumbent = (p: ChokePeer): number => (p.unchoked && p.key !== this.optimistic ? 1 : 0);
    const regular = eligible.filter((p) => !p.snubbed)
      .sort((a, b) => (b.downloadRate - a.downloadRate) || (incumbent(b) - incumbent(a)) ||
        (tie.get(a.key)! - tie.get(b.key)!))
      .slice(0, this.slots);
    const chosen = new Set(regular.map((p) => p.key));

    const pool = eligible.filter((p) => !chosen.has(p.key));
    const current = this.optimistic !== null ? pool.find((p) => p.key === this.optimistic) : undefined;
    const due = this.round - this.optimisticRound >= this.optimisticEvery;
    if (!current || due) {
      const others = current && pool.length > 1 ? pool.filter((p) => p !== current) : pool;
      const next = this.weightedPick(others, now);
      this.optimistic = next ? next.key : null;
      this.optimisticRound = this.round;
    }
    if (this.optimistic !== null) chosen.add(this.optimistic);
    return chosen;
  }

  private weightedPick(pool: ChokePeer[], now: number): ChokePeer | undefined {
    if (pool.length === 0) return undefined;
    const weight = (p: ChokePeer): number =>
      p.connectedAt !== undefined && now - p.connectedAt < this.newPeerWindow ? 3 : 1;
    let total = 0;
    for (const p of pool) total += weight(p);
    let x = this.rng() * total;
    for (const p of pool) {
      x -= weight(p);
      if (x < 0) return p;
    }
    return pool[pool.length - 1];
  }

  private seed(eligible: ChokePeer[], tie: Map<PeerKey, number>): Set<PeerKey> {
    this.optimistic = null;
    const heldFor = (p: ChokePeer): number => (p.unchoked ? this.held.get(p.key) ?? 0 : 0);
    const keep = eligible.filter((p) => p.unchoked && heldFor(p) < this.seedSlotRounds)
      .sort((a, b) => (b.uploadRate - a.uploadRate) || (tie.get(a.key)! - tie.get(b.key)!))
      .slice(0, this.slots);
    const chosen = new Set(keep.map((p) => p.key));
    // Waiting order: choked peers by the round they were last unchoked (never = first); peers whose period ran
    // out come last, so they keep their slot only when nobody waits.
    const waitKey = (p: ChokePeer): number => (p.unchoked ? Infinity : this.lastRound.get(p.key) ?? -1);
    const waiting = eligible.filter((p) => !chosen.has(p.key))
      .sort((a, b) => (waitKey(a) - waitKey(b) || 0) ||
        ((a.lastUnchokedAt ?? -Infinity) - (b.lastUnchokedAt ?? -Infinity) || 0) ||
        (b.uploadRate - a.uploadRate) || (tie.get(a.key)! - tie.get(b.key)!));
    for (const p of waiting) {
      if (chosen.size >= this.slots) break;
      chosen.add(p.key);
    }
    return chosen;
  }
}
