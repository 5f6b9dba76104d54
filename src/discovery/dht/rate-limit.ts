/**
 * Per-source query rate limit [pure] (libtorrent's DHT rate limit, RELIABILITY.md's DHT row): a source (the node shell
 * keys by IP, or by IP:port on private networks) that sends more than perSecond × windowMs / 1000 queries inside one
 * window is blocked for blockMs; every query while it is blocked is refused.
 *
 * Invariants:
 * - O(1) amortized per call, no timers: time comes in as `now`.
 * - At most `maxTracked` windows and at most `maxTracked` blocked sources are kept; when full, the source whose
 *   window (or block) began first is forgotten. Under a flood of distinct sources a forgotten source starts afresh,
 *   which is the price of bounded memory.
 */
import { BtError } from '../../util/errors.js';
import { RATE_BLOCK_MS, RATE_PER_SECOND, RATE_WINDOW_MS } from './types.js';

/** Sources tracked at once by default. */
export const DEFAULT_MAX_TRACKED_SOURCES = 10_000;

export interface QueryRateLimiterOptions {
  /** Average queries per second allowed (default RATE_PER_SECOND). */
  perSecond?: number;
  /** Length of a counting window (default RATE_WINDOW_MS). */
  windowMs?: number;
  /** How long a source that went over is refused (default RATE_BLOCK_MS). */
  blockMs?: number;
  /** Sources tracked at once (default DEFAULT_MAX_TRACKED_SOURCES). */
  maxTracked?: number;
}

interface Window {
  start: number;
  count: number;
}

export class QueryRateLimiter {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly maxTracked: number;
  /** Open windows, oldest start first (Map insertion order; a new window re-inserts its key). */
  private readonly windows = new Map<string, Window>();
  /** Blocked sources and when their block ends, earliest block first. */
  private readonly blocks = new Map<string, number>();

  constructor(opts: QueryRateLimiterOptions = {}) {
    const perSecond = opts.perSecond ?? RATE_PER_SECOND;
    this.windowMs = opts.windowMs ?? RATE_WINDOW_MS;
    this.blockMs = opts.blockMs ?? RATE_BLOCK_MS;
    this.maxTracked = opts.maxTracked ?? DEFAULT_MAX_TRACKED_SOURCES;
    if (!(perSecond > 0) || !(this.windowMs > 0) || !(this.blockMs >= 0) || !(this.maxTracked >= 1)) {
      throw new BtError('INTERNAL', 'rate limiter: perSecond, windowMs and maxTracked must be positive, blockMs >= 0');
    }
    this.limit = (perSecond * this.windowMs) / 1000;
  }

  /** Sources blocked now (as of the last call). */
  get blocked(): number {
    return this.blocks.size;
  }

  /** Sources with an open window. */
  get tracked(): number {
    return this.windows.size;
  }

  /** Counts one query from `key` at `now`: true when it may be answered, false when the source is (now) blocked. */
  allow(key: string, now: number): boolean {
    this.unblockExpired(now);
    const until = this.blocks.get(key);
    if (until !== undefined) {
      if (now < until) return false;
      this.blocks.delete(key);
    }
    let w = this.windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs || now < w.start) {
      this.windows.delete(key);
      if (this.windows.size >= this.maxTracked) this.forgetOldest(this.windows);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count <= this.limit) return true;
    this.windows.delete(key);
    if (this.blocks.size >= this.maxTracked) this.forgetOldest(this.blocks);
    this.blocks.set(key, now + this.blockMs);
    return false;
  }

  /** Blocks end in the order they began (blockMs is fixed), so the expired ones are at the front. */
  private unblockExpired(now: number): void {
    for (const [key, until] of this.blocks) {
      if (until > now) break;
      this.blocks.delete(key);
    }
  }

  private forgetOldest(m: Map<string, unknown>): void {
    const first = m.keys().next();
    if (first.done !== true) m.delete(first.value);
  }
}
