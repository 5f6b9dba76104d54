/**
 * The observable state of a pending magnet (a metadata fetch that waits for peers, BEP 9): when each of the link's
 * trackers is asked again, what each said last, and how many peers are known, tried and connected. Pure: time is
 * injected, nothing here does I/O (src/session/pending-magnet.ts drives it).
 *
 * Tracker schedule: a failed announce is retried after 15 s, 30 s, 60 s, 120 s, 240 s, then every 300 s
 * ({@link trackerRetryDelay}); a tracker that answered is asked again after its interval, held to 30 s..300 s while
 * we still have no metadata ({@link trackerSuccessDelay}). Nothing here ever gives up.
 *
 * Invariant: `nextAt` of a tracker is always in the future of its `lastAt` (or now, when never asked).
 */

/** First retry after a failed announce. */
export const TRACKER_RETRY_FIRST_MS = 15_000;
/** Longest wait between announces while the metadata is missing. */
export const TRACKER_RETRY_CAP_MS = 300_000;
/** Shortest wait after an announce that succeeded (a tracker's own `min interval` may be longer; we do not go below). */
export const TRACKER_SUCCESS_MIN_MS = 30_000;

/** Wait after the `failures`-th failure in a row (1-based): 15 s doubled each time, at most 5 min. */
export function trackerRetryDelay(failures: number): number {
  const n = Number.isFinite(failures) ? Math.max(1, Math.floor(failures)) : 1;
  return Math.min(TRACKER_RETRY_CAP_MS, TRACKER_RETRY_FIRST_MS * 2 ** Math.min(n - 1, 16));
}

/** Wait after a successful announce whose interval was `intervalSec` seconds. */
export function trackerSuccessDelay(intervalSec: number): number {
  const ms = Number.isFinite(intervalSec) && intervalSec > 0 ? intervalSec * 1000 : TRACKER_RETRY_CAP_MS;
  return Math.max(TRACKER_SUCCESS_MIN_MS, Math.min(TRACKER_RETRY_CAP_MS, ms));
}

/** One tracker of a pending magnet. */
export interface MagnetTrackerStatus {
  url: string;
  /** ms since the epoch of the last answer or failure; 0 = not asked yet. */
  lastAt: number;
  /** The last announce succeeded. */
  ok: boolean;
  /** "Success", or the error of the last announce; '' before the first. */
  message: string;
  /** Peers the last successful announce gave. */
  peers: number;
  /** Failures in a row. */
  failures: number;
  /** ms since the epoch of the next announce. */
  nextAt: number;
}

/** A snapshot for displays, the API and `--json` (`metadata-fetching` events). */
export interface MagnetStatusSnapshot {
  infoHash: string;
  /** ms since the epoch when the fetch started. */
  since: number;
  peersKnown: number;
  peersTried: number;
  peersConnected: number;
  trackers: Array<MagnetTrackerStatus & { retryInSeconds: number }>;
}

/** Peer counts come from the fetcher; the rest is kept here. */
export class MagnetStatus {
  private readonly trackers = new Map<string, MagnetTrackerStatus>();
  readonly since: number;
  peers = { known: 0, tried: 0, connected: 0 };

  constructor(readonly infoHash: string, trackerUrls: readonly string[], private readonly now: () => number) {
    this.since = now();
    for (const url of trackerUrls) {
      if (!this.trackers.has(url)) this.trackers.set(url, { url, lastAt: 0, ok: false, message: '', peers: 0, failures: 0, nextAt: this.since });
    }
  }

  /** Record a failed announce; returns the wait (ms) before the next one. */
  trackerFailed(url: string, message: string): number {
    const t = this.tracker(url);
    t.failures++;
    t.ok = false;
    t.message = message;
    t.lastAt = this.now();
    const wait = trackerRetryDelay(t.failures);
    t.nextAt = t.lastAt + wait;
    return wait;
  }

  /** Record a successful announce; returns the wait (ms) before the next one. */
  trackerSucceeded(url: string, peers: number, intervalSec: number): number {
    const t = this.tracker(url);
    t.failures = 0;
    t.ok = true;
    t.message = 'Success';
    t.peers = peers;
    t.lastAt = this.now();
    const wait = trackerSuccessDelay(intervalSec);
    t.nextAt = t.lastAt + wait;
    return wait;
  }

  snapshot(): MagnetStatusSnapshot {
    const now = this.now();
    return {
      infoHash: this.infoHash, since: this.since,
      peersKnown: this.peers.known, peersTried: this.peers.tried, peersConnected: this.peers.connected,
      trackers: [...this.trackers.values()].map((t) => ({ ...t, retryInSeconds: Math.max(0, Math.ceil((t.nextAt - now) / 1000)) })),
    };
  }

  /**
   * One line for people: "no peers yet (0 tried); tracker http://h/announce: connection refused, retry in 30 s".
   * Trackers that answered are summarised by the peers they gave.
   */
  describe(): string {
    const s = this.snapshot();
    const parts = [s.peersKnown === 0 ? 'no peers yet'
      : `${s.peersKnown} peer(s) known, ${s.peersTried} tried, ${s.peersConnected} connected`];
    for (const t of s.trackers) {
      if (t.lastAt === 0) parts.push(`tracker ${t.url}: announcing`);
      else if (t.ok) parts.push(`tracker ${t.url}: ${t.peers} peer(s), again in ${t.retryInSeconds} s`);
      else parts.push(`tracker ${t.url}: ${t.message}; retry in ${t.retryInSeconds} s`);
    }
    return parts.join('; ');
  }

  private tracker(url: string): MagnetTrackerStatus {
    let t = this.trackers.get(url);
    if (!t) {
      t = { url, lastAt: 0, ok: false, message: '', peers: 0, failures: 0, nextAt: this.now() };
      this.trackers.set(url, t);
    }
    return t;
  }
}
