/**
 * Our external IPv4 address by vote (BEP 42): every DHT answer's top-level `ip` and every hint (BEP 10 `yourip`) is a
 * vote from its source IP. The address with a majority of the votes and at least MIN_VOTES of them wins.
 *
 * Invariants: one vote per source IP (a later vote replaces its earlier one), at most `maxSources` sources remembered
 * (the least recently voting one is forgotten first), so the state is bounded whatever the network sends.
 * Pure: no timers, no I/O.
 */

/** Votes an address needs (besides a majority) to win. */
export const MIN_VOTES = 3;

export class ExternalIpVotes {
  /** source IP -> the address it reported; Map order = least recently voting first. */
  private readonly votes = new Map<string, string>();
  private current: string | undefined;
  private lead: string | undefined;

  constructor(private readonly maxSources = 256) {}

  /** The winning address, if any. */
  get winner(): string | undefined { return this.current; }

  /** The address with the most votes, however few (our best guess, e.g. on a private network of one IP). */
  get leading(): string | undefined { return this.lead; }

  /** Sources remembered. */
  get sources(): number { return this.votes.size; }

  /** Counts `source`'s vote for `ip`; returns the winner after it. */
  vote(source: string, ip: string): string | undefined {
    this.votes.delete(source);
    this.votes.set(source, ip);
    while (this.votes.size > this.maxSources) {
      const oldest = this.votes.keys().next().value;
      if (oldest === undefined) break;
      this.votes.delete(oldest);
    }
    const counts = new Map<string, number>();
    let best: string | undefined;
    let bestCount = 0;
    for (const v of this.votes.values()) {
      const c = (counts.get(v) ?? 0) + 1;
      counts.set(v, c);
      if (c > bestCount) { best = v; bestCount = c; }
    }
    this.lead = best;
    this.current = best !== undefined && bestCount >= MIN_VOTES && bestCount * 2 > this.votes.size ? best : undefined;
    return this.current;
  }
}
