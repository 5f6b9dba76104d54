/**
 * Transfer-rate meter: bytes per second over a short sliding window (2 s by default, as Transmission does).
 *
 * Pure: time comes from an injected clock, read when bytes are added and again when the rate is read, so the rate
 * decays by itself: nobody has to tick the meter, and a meter nobody feeds reads exactly 0 once a window has passed
 * since its last byte (a paused torrent, a closed peer, a seed with no peer).
 * Invariant: `rate` is never negative and is 0 when no byte was added during the last `windowMs`; `total` counts
 * every byte ever added.
 */
export class RateMeter {
  total = 0;
  private readonly slotMs: number;
  /** Ring of per-slot byte counts; `slotIndex[k]` is the absolute slot (time / slotMs) that `slotBytes[k]` belongs to. */
  private readonly slotBytes: number[];
  private readonly slotIndex: number[];
  private readonly createdAt: number;

  /**
   * @param clock    the injected clock (milliseconds; monotonic in production).
   * @param windowMs how far back the rate looks; also how long after the last byte the rate reaches 0.
   * @param slots    resolution of the window (the window slides in steps of windowMs / slots).
   */
  constructor(private readonly clock: () => number, windowMs = 2000, slots = 8) {
    this.slotMs = windowMs / slots;
    this.slotBytes = new Array<number>(slots).fill(0);
    this.slotIndex = new Array<number>(slots).fill(Number.NEGATIVE_INFINITY);
    this.createdAt = clock();
  }

  add(bytes: number): void {
    if (!(bytes > 0)) return;
    this.total += bytes;
    const idx = Math.floor(this.clock() / this.slotMs);
    const k = this.pos(idx);
    if (this.slotIndex[k] !== idx) { this.slotIndex[k] = idx; this.slotBytes[k] = 0; }
    this.slotBytes[k] = (this.slotBytes[k] ?? 0) + bytes;
  }

  /** Bytes per second over the window ending now (fractional; callers round for display). */
  get rate(): number {
    const now = this.clock();
    const n = this.slotBytes.length;
    const current = Math.floor(now / this.slotMs);
    const oldest = current - n + 1;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const idx = this.slotIndex[k] ?? Number.NEGATIVE_INFINITY;
      if (idx >= oldest && idx <= current) sum += this.slotBytes[k] ?? 0;
    }
    if (sum === 0) return 0;
    // The window covers the oldest slot whole and the current one up to now; a young meter covers only its life.
    const span = Math.min(now - oldest * this.slotMs, now - this.createdAt);
    return (sum * 1000) / Math.max(this.slotMs, span);
  }

  /** Forget the window (not the total): the rate reads 0 until bytes arrive again. */
  reset(): void {
    this.slotIndex.fill(Number.NEGATIVE_INFINITY);
    this.slotBytes.fill(0);
  }

  private pos(idx: number): number {
    const n = this.slotBytes.length;
    return ((idx % n) + n) % n;
  }
}
