/**
 * Token bucket for rate limits (upload / download), optionally hierarchical: a torrent's bucket has the session's
 * global bucket as its parent, and a take succeeds only when every bucket up the chain has the tokens.
 *
 * Pure: time comes from the injected `now()` (milliseconds, monotonic); buckets refill lazily when asked.
 * Invariant: a bucket never holds more than `burst` tokens, so over any window of `w` ms the bytes taken from it are at
 * most `rate * w / 1000 + burst`. A take is all or nothing across the whole chain. A rate of 0 means unlimited: such a
 * bucket never blocks, and holds no tokens of its own (only its parent can limit it).
 * BEP: none (client policy).
 */
import { BLOCK_SIZE } from './geometry.js';

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Bytes per second; 0 = unlimited. */
  readonly rate: number;
  /**
   * The most tokens the bucket can hold (bytes). Default: one second's worth of `rate`, but at least
   * {@link MIN_DEFAULT_BURST} so a whole block can always pass. A take of more than `burst` never succeeds.
   */
  readonly burst?: number;
  /** Monotonic clock in milliseconds. */
  readonly now: () => number;
  /** A bucket that must also pay for every take (e.g. the global limit above a per-torrent one). */
  readonly parent?: TokenBucket;
}

/** The smallest default burst: one block ({@link BLOCK_SIZE}, 16 KiB). */
export const MIN_DEFAULT_BURST = BLOCK_SIZE;

/** Float slack so that waiting exactly {@link TokenBucket.delayUntil} ms makes the take succeed. */
const EPSILON = 1e-6;

/** A (possibly hierarchical) token bucket. See the module comment. */
export class TokenBucket {
  private rateBps: number;
  private burstBytes: number;
  private readonly burstGiven: boolean;
  private tokens: number;
  private last: number;
  private readonly now: () => number;
  /** The bucket above this one, if any. */
  readonly parent: TokenBucket | undefined;

  constructor(opts: TokenBucketOptions) {
    checkRate(opts.rate);
    if (opts.burst !== undefined && !(opts.burst > 0 && Number.isFinite(opts.burst))) {
      throw new RangeError(`token bucket burst must be a positive number, got ${opts.burst}`);
    }
    this.now = opts.now;
    this.parent = opts.parent;
    this.rateBps = opts.rate;
    this.burstGiven = opts.burst !== undefined;
    this.burstBytes = opts.burst ?? defaultBurst(opts.rate);
    this.tokens = this.burstBytes; // start full
    this.last = this.now();
  }

  /** Bytes per second (0 = unlimited). */
  get rate(): number {
    return this.rateBps;
  }

  /** The capacity in bytes (Infinity when unlimited). */
  get burst(): number {
    return this.rateBps === 0 ? Infinity : this.burstBytes;
  }

  /** True when neither this bucket nor any parent limits anything. */
  get unlimited(): boolean {
    return this.rateBps === 0 && (this.parent?.unlimited ?? true);
  }

  /**
   * Takes `n` bytes if this bucket and every parent have them; returns false (and takes nothing anywhere) otherwise.
   * `n <= 0` always succeeds.
   */
  take(n: number): boolean {
    if (!(n > 0)) return true;
    if (this.available() + EPSILON < n) return false;
    this.consume(n);
    return true;
  }

  private consume(n: number): void {
    if (this.rateBps !== 0) this.tokens = Math.max(0, this.tokens - n);
    this.parent?.consume(n);
  }

  /** Bytes that could be taken now: the minimum over the chain (Infinity when nothing limits). */
  available(): number {
    const own = this.ownAvailable();
    return this.parent === undefined ? own : Math.min(own, this.parent.available());
  }

  /**
   * Milliseconds until `take(n)` could succeed if nothing else takes meanwhile (rounded up to a whole ms): 0 if it
   * can now, Infinity if it never can (n above some bucket's burst).
   */
  delayUntil(n: number): number {
    if (!(n > 0)) return 0;
    let own = 0;
    if (this.rateBps !== 0) {
      if (n > this.burstBytes) return Infinity;
      const missing = n - this.ownAvailable();
      own = missing <= EPSILON ? 0 : Math.ceil(((missing - EPSILON) * 1000) / this.rateBps);
    }
    return this.parent === undefined ? own : Math.max(own, this.parent.delayUntil(n));
  }

  /**
   * Changes the rate (0 = unlimited). Tokens earned so far are kept, capped at the new burst; a bucket that was
   * unlimited starts full. A default burst follows the new rate; an explicit one is kept.
   */
  setRate(rate: number): void {
    checkRate(rate);
    const wasUnlimited = this.rateBps === 0;
    this.refill();
    this.rateBps = rate;
    if (!this.burstGiven) this.burstBytes = defaultBurst(rate);
    this.tokens = wasUnlimited ? this.burstBytes : Math.min(this.tokens, this.burstBytes);
  }

  private ownAvailable(): number {
    if (this.rateBps === 0) return Infinity;
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const t = this.now();
    const dt = t - this.last;
    if (!(dt > 0)) return; // a clock that stands still or goes back earns nothing
    this.last = t;
    if (this.rateBps === 0) return;
    this.tokens = Math.min(this.burstBytes, this.tokens + (dt * this.rateBps) / 1000);
  }
}

function checkRate(rate: number): void {
  if (!(rate >= 0 && Number.isFinite(rate))) throw new RangeError(`token bucket rate must be >= 0, got ${rate}`);
}

function defaultBurst(rate: number): number {
  return Math.max(rate, MIN_DEFAULT_BURST);
}
