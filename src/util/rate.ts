/**
 * Transfer-rate meter: an exponentially weighted moving average of bytes per second.
 *
 * Pure: the owner feeds bytes with `add()` and calls `tick(nowMs)` about once a second with an injected clock.
 * Invariant: `rate` is never negative; `total` counts every byte ever added.
 */
export class RateMeter {
  private pending = 0;
  private lastTick: number;
  private current = 0;
  total = 0;

  /** @param halfLifeMs how quickly old samples fade (libtorrent-like smoothing; 3-5 s is typical). */
  constructor(now: number, private readonly halfLifeMs = 3000) {
    this.lastTick = now;
  }

  add(bytes: number): void {
    this.pending += bytes;
    this.total += bytes;
  }

  /** Fold the bytes seen since the last tick into the average. */
  tick(now: number): void {
    const dt = now - this.lastTick;
    if (dt <= 0) return;
    const sample = (this.pending * 1000) / dt;
    const alpha = 1 - Math.pow(0.5, dt / this.halfLifeMs);
    this.current += alpha * (sample - this.current);
    if (this.current < 1e-3) this.current = 0;
    this.pending = 0;
    this.lastTick = now;
  }

  get rate(): number { return this.current; }
}
