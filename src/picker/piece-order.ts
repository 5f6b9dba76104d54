/**
 * Piece ordering for the picker: pieces kept in buckets by (priority, availability), so that "rarest first within
 * the highest priority" is a walk from the front, and an availability change is an O(1) move between buckets.
 *
 * This is the libtorrent idea (a vector sorted by a combined priority key, where +1 availability moves a piece by
 * one bucket) done with one small array per bucket instead of one big vector with boundaries.
 *
 * Invariant: a piece is in at most one bucket; `slot[i]` is its position in that bucket, or -1 when it is in none.
 * The caller (PiecePicker) decides which pieces are members (the ones it still wants) and tells this structure the
 * priority and availability under which each member is filed.
 *
 * Buckets are kept in random order: a piece is inserted at a uniformly random position, and a walk starts each
 * bucket at a random offset, so pieces of equal rank are tried in random order, never by index.
 *
 * Pure: no I/O, no timers; randomness is injected. Implements the ordering part of BEP 3's "rarest first" advice.
 */

/** Highest piece priority (BEP-less convention shared with libtorrent: 0 = skip, 1 = normal, 7 = top). */
export const MAX_PRIORITY = 7;

/** Buckets of piece indexes, keyed by priority (1..7) and availability (0..n). */
export class PieceOrder {
  /** levels[priority][availability] = pieces in random order. */
  private readonly levels: number[][][] = [];
  /** Position of a piece in its bucket, -1 when not a member. */
  private readonly slot: Int32Array;
  /** Number of members per priority level, to skip empty levels quickly. */
  private readonly levelSize = new Array<number>(MAX_PRIORITY + 1).fill(0);
  private readonly rng: () => number;

  constructor(pieceCount: number, rng: () => number) {
    this.slot = new Int32Array(pieceCount).fill(-1);
    this.rng = rng;
    for (let p = 0; p <= MAX_PRIORITY; p++) this.levels.push([]);
  }

  /** Whether piece `i` is filed in some bucket. */
  has(i: number): boolean { return this.slot[i]! >= 0; }

  /** Number of members filed at priority `p`. */
  sizeAt(p: number): number { return this.levelSize[p] ?? 0; }

  /** Files piece `i` under (priority, availability), at a random position of that bucket. */
  insert(i: number, priority: number, avail: number): void {
    const level = this.levels[priority]!;
    while (level.length <= avail) level.push([]);
    const b = level[avail]!;
    b.push(i);
    const last = b.length - 1;
    const j = Math.floor(this.rng() * b.length);
    if (j !== last && j >= 0 && j < last) {
      const other = b[j]!;
      b[j] = i;
      b[last] = other;
      this.slot[other] = last;
      this.slot[i] = j;
    } else {
      this.slot[i] = last;
    }
    this.levelSize[priority]!++;
  }

  /** Removes piece `i`, which must be filed under (priority, availability). */
  remove(i: number, priority: number, avail: number): void {
    const b = this.levels[priority]![avail]!;
    const k = this.slot[i]!;
    const last = b.pop()!;
    if (last !== i) {
      b[k] = last;
      this.slot[last] = k;
    }
    this.slot[i] = -1;
    this.levelSize[priority]!--;
  }

  /**
   * Moves a member from one availability to the next (O(1)). Appends at the end of the new bucket (no rng call,
   * since a have message must stay cheap); walks still start at a random offset.
   */
  move(i: number, priority: number, fromAvail: number, toAvail: number): void {
    this.remove(i, priority, fromAvail);
    const level = this.levels[priority]!;
    while (level.length <= toAvail) level.push([]);
    const b = level[toAvail]!;
    this.slot[i] = b.length;
    b.push(i);
    this.levelSize[priority]!++;
  }

  /**
   * Members at priority `p`, rarest first, each bucket walked from a random offset. The walk tolerates no
   * insert/remove/move while it runs (the picker never changes availability while picking).
   */
  *walk(p: number): Generator<number, void, undefined> {
    if (this.sizeAt(p) === 0) return;
    const level = this.levels[p]!;
    for (const b of level) {
      const n = b.length;
      if (n === 0) continue;
      const start = Math.floor(this.rng() * n) % n;
      for (let k = 0; k < n; k++) {
        const idx = start + k;
        yield b[idx < n ? idx : idx - n]!;
      }
    }
  }

  /** All members at priority `p`, in bucket order (no rng). */
  *members(p: number): Generator<number, void, undefined> {
    for (const b of this.levels[p]!) yield* b;
  }

  /** For invariant checks: is `i` at `slot[i]` of bucket (priority, avail)? */
  filedAt(i: number, priority: number, avail: number): boolean {
    const b = this.levels[priority]?.[avail];
    const k = this.slot[i]!;
    return b !== undefined && k >= 0 && b[k] === i;
  }

  /** For invariant checks: total members, counted from the buckets. */
  countMembers(): number {
    let n = 0;
    for (let p = 0; p <= MAX_PRIORITY; p++) for (const b of this.levels[p]!) n += b.length;
    return n;
  }
}
