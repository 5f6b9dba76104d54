/**
 * Tracker tiers (BEP 12, announce-list): which tracker to try, in which order.
 *
 * BEP 12: the trackers of each tier are shuffled once (the order of the tiers is kept); an announce tries the first
 * tracker of the first tier, on failure the next tracker of that tier, then the next tier; a tracker that answers
 * moves to the front of its tier. Without an announce-list, the single `announce` URL is the only tier.
 *
 * Invariants:
 * - Pure: randomness comes in as `rng`, logging as a callback.
 * - Every URL held passes the outbound URL policy (client-common.ts, reliability rule 12 in
 *   docs/design/reliability.md); the others are listed in `rejected` with a reason. No URL appears twice; no tier is
 *   empty.
 * - The cursor is either on a tracker (`current()` returns it) or past the last one (`current()` is undefined)
 *   until `reset()`.
 */
import { checkTrackerUrl } from './client-common.js';

/** A URL left out, and why. */
export interface RejectedTracker {
  url: string;
  reason: string;
}

export class TrackerTiers {
  private readonly tiers: string[][] = [];
  private tier = 0;
  private index = 0;
  /** URLs that were left out (unsupported scheme, invalid, refused by policy). */
  readonly rejected: RejectedTracker[] = [];

  /**
   * @param announceList the metainfo's `announce-list` (list of tiers), possibly empty.
   * @param announce the metainfo's `announce`, used when the announce-list gives no usable tracker.
   * @param rng uniform in [0, 1), for the one-time shuffle.
   * @param log told about each rejected URL.
   */
  constructor(announceList: readonly (readonly string[])[], announce: string | undefined, rng: () => number,
    log?: (message: string) => void) {
    const seen = new Set<string>();
    const accept = (url: string): boolean => {
      if (seen.has(url)) return false;
      seen.add(url);
      const r = checkTrackerUrl(url);
      if (!r.ok) {
        this.rejected.push({ url, reason: r.reason });
        log?.(`tracker ${url} ignored: ${r.reason}`);
        return false;
      }
      return true;
    };
    for (const tier of announceList) {
      const kept = tier.filter(accept);
      if (kept.length > 0) this.tiers.push(shuffle(kept, rng));
    }
    if (this.tiers.length === 0 && announce !== undefined && announce !== '' && accept(announce)) {
      this.tiers.push([announce]);
    }
  }

  /** Number of trackers held. */
  get size(): number {
    let n = 0;
    for (const t of this.tiers) n += t.length;
    return n;
  }

  /** The tracker to try now, or undefined when every tracker of this round was tried (or there are none). */
  current(): string | undefined {
    return this.tiers[this.tier]?.[this.index];
  }

  /** The current tracker failed: moves to the next one in its tier, then the next tier. Returns the new current. */
  next(): string | undefined {
    const t = this.tiers[this.tier];
    if (t === undefined) return undefined;
    this.index++;
    if (this.index >= t.length) {
      this.tier++;
      this.index = 0;
    }
    return this.current();
  }

  /** Starts a new round at the first tracker of the first tier. */
  reset(): void {
    this.tier = 0;
    this.index = 0;
  }

  /**
   * `url` answered: it moves to the front of its tier (BEP 12). If it was the current tracker, the cursor follows it,
   * so `current()` still returns it. Unknown URLs are ignored.
   */
  promote(url: string): void {
    for (let ti = 0; ti < this.tiers.length; ti++) {
      const t = this.tiers[ti]!;
      const i = t.indexOf(url);
      if (i < 0) continue;
      const wasCurrent = ti === this.tier && i === this.index;
      t.splice(i, 1);
      t.unshift(url);
      if (wasCurrent) this.index = 0;
      else if (ti === this.tier && i > this.index) this.index++;
      return;
    }
  }

  /** Every tracker in iteration order. */
  urls(): string[] {
    return this.tiers.flat();
  }

  /** A copy of the tiers in their current order. */
  toLists(): string[][] {
    return this.tiers.map((t) => [...t]);
  }
}

/** Fisher–Yates shuffle of a copy. */
function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng() * (i + 1)));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
