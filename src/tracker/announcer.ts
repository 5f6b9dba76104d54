/**
 * The announce schedule of ONE torrent across its trackers (BEP 3 events and intervals, BEP 12 tiers, BEP 15 for
 * udp:// URLs through the shared {@link UdpTrackerClient}).
 *
 * A small state machine driven by `tick(now)` (the torrent calls it every second) and by the completions of the
 * requests it starts. It has no timers of its own, except the bounded wait in `stop()`.
 *
 * Rules:
 * - One request in flight per torrent (the `stopped` fan-out in `stop()` is the only exception).
 * - A round tries the trackers in BEP 12 order; a failure moves at once to the next tracker; a round where every
 *   tracker failed is retried after a backoff of retryBaseSec·2^k (15 s, 30 s, 60 s, … capped at 30 min).
 * - A success promotes the tracker within its tier and schedules the next announce after the tracker's `interval`,
 *   clamped to [minIntervalSec, maxIntervalSec]. `announceNow()` is honoured no earlier than the tracker's
 *   `min interval` (clamped likewise; minIntervalSec when absent). `completed()` ignores `min interval`.
 * - Events: a tracker that has not accepted us yet is sent `started` (so `started` is repeated until a tracker
 *   accepts it, and a fall-back tracker gets its own `started`); `completed` is sent once, to a tracker that has
 *   accepted `started`; `stop()` sends `stopped` to every tracker that accepted us, and waits at most `timeoutMs`.
 * - A request that has not finished `requestTimeoutMs` after it began is aborted at the next tick and counts as a
 *   failure (this bounds BEP 15's long UDP retransmission schedule so a dead tracker does not hold the round).
 * - Tracker warnings and failures reach `onEvent`; a throwing callback never breaks the schedule.
 * - A hybrid torrent (BEP 52) has two names: each request to a tracker is two announces sent together, one with the
 *   v1 info-hash and one with the truncated v2 info-hash (as libtorrent 2 announces both), with the same counters.
 *   The pair is one request for the schedule: it succeeds when either succeeds (peers of both, de-duplicated, go to
 *   the one swarm; the failure of the other is reported as a warning) and fails only when both fail.
 */
import { clockWithNow, systemClock, systemRng } from '../platform/clock.js';
import type { Clock, ClockTimer } from '../util/clock.js';
import { BtError, errorMessage } from '../util/errors.js';
import type { AnnounceParams, AnnounceResponse, TrackerPeer } from './client-common.js';
import { announceHttp } from './http-client.js';
import { TrackerTiers } from './tiers.js';

/**
 * What the announcer reports. `event` is the event sent (`''` for a regular re-announce). A failed announce carries
 * `retryInSec`: 0 when the next tracker is tried at once, else the backoff before the next round.
 */
export type AnnouncerEvent =
  | { type: 'announce'; url: string; event: string; peers: number; interval: number; complete?: number; incomplete?: number }
  | { type: 'warning'; url: string; message: string }
  | { type: 'error'; url: string; message: string; retryInSec?: number };

/** The part of {@link UdpTrackerClient} the announcer uses. */
export interface UdpAnnouncer {
  announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse>;
}

/** Options of {@link Announcer}. */
export interface AnnouncerOptions {
  /** The metainfo's announce-list (may be empty). */
  tiers: string[][];
  /** The metainfo's announce, used when the announce-list has no usable tracker. */
  announce?: string;
  infoHash: Buffer;
  /** A hybrid torrent's second name (its SHA-256 info-hash truncated to 20 bytes), announced alongside `infoHash`. */
  infoHashV2?: Buffer;
  peerId: Buffer;
  /** Our listening TCP port. */
  port: number;
  /** Our u32 tracker key (one per session). */
  key: number;
  /** Byte counters, read when each request is built. */
  stats: () => { uploaded: number; downloaded: number; left: number };
  /** Peers from a tracker (not empty). */
  onPeers: (peers: TrackerPeer[], url: string) => void;
  onEvent: (e: AnnouncerEvent) => void;
  /** HTTP(S) announce (default {@link announceHttp}). */
  http?: typeof announceHttp;
  /** UDP announce (the session's {@link UdpTrackerClient}). */
  udp: UdpAnnouncer;
  /** Time in ms (default the clock's). */
  now?: () => number;
  /** Timers (the stop deadline) and time (default the system clock of src/platform/clock.ts). */
  clock?: Clock;
  /** Uniform in [0, 1) (default the system rng), for the BEP 12 shuffle. */
  rng?: () => number;
  /** Lower clamp of intervals (default 30 s). */
  minIntervalSec?: number;
  /** Upper clamp of intervals (default 86,400 s). */
  maxIntervalSec?: number;
  /** Peers asked for (default 50; 0 for `stopped`). */
  numwant?: number;
  /** A request still running this long after it began is aborted (default 60,000 ms). */
  requestTimeoutMs?: number;
  /** First backoff after a failed round (default 15 s). */
  retryBaseSec?: number;
  /** Backoff cap (default 1,800 s). */
  retryMaxSec?: number;
}

/** A read-only view for status displays. */
export interface AnnouncerStatus {
  state: 'idle' | 'running' | 'stopping' | 'stopped';
  /** The tracker the next (or the running) request goes to. */
  tracker: string | undefined;
  inFlight: boolean;
  /** When the next announce is due (ms; Infinity when none is planned). */
  nextAnnounceAt: number;
  /** Rounds in a row where every tracker failed. */
  failedRounds: number;
  /** Trackers that accepted us and will get `stopped`. */
  announcedTo: string[];
}

interface InFlight {
  id: number;
  url: string;
  event: AnnounceParams['event'];
  ac: AbortController;
  deadline: number;
}

/**
 * The answers to a hybrid's two announces as one: peers of both (de-duplicated, the v1 answer's first), the shorter
 * intervals, the larger counts (the same peers are usually in both swarms), both warnings.
 */
export function mergeResponses(a: AnnounceResponse, b: AnnounceResponse): AnnounceResponse {
  const seen = new Set<string>();
  const peers = [...a.peers, ...b.peers].filter((p) => {
    const k = `${p.host}|${p.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const out: AnnounceResponse = { interval: Math.min(a.interval, b.interval), peers };
  const pick = (x: number | undefined, y: number | undefined, f: (p: number, q: number) => number): number | undefined =>
    x === undefined ? y : y === undefined ? x : f(x, y);
  const minInterval = pick(a.minInterval, b.minInterval, Math.min);
  if (minInterval !== undefined) out.minInterval = minInterval;
  const complete = pick(a.complete, b.complete, Math.max);
  if (complete !== undefined) out.complete = complete;
  const incomplete = pick(a.incomplete, b.incomplete, Math.max);
  if (incomplete !== undefined) out.incomplete = incomplete;
  const warnings = [a.warning, b.warning].filter((w): w is string => w !== undefined && w !== '');
  if (warnings.length > 0) out.warning = [...new Set(warnings)].join('; ');
  const trackerId = a.trackerId ?? b.trackerId;
  if (trackerId !== undefined) out.trackerId = trackerId;
  return out;
}

/** See the module comment. */
export class Announcer {
  private readonly o: AnnouncerOptions;
  private readonly tiersList: TrackerTiers;
  private readonly clock: Clock;
  private readonly http: typeof announceHttp;
  private readonly now: () => number;
  private readonly minIntervalSec: number;
  private readonly maxIntervalSec: number;
  private readonly requestTimeoutMs: number;
  private readonly retryBaseSec: number;
  private readonly retryMaxSec: number;
  private state: AnnouncerStatus['state'] = 'idle';
  private inFlight: InFlight | undefined;
  private seq = 0;
  private nextAt = Infinity;
  private minNextAt = 0;
  private failedRounds = 0;
  private readonly announcedTo = new Set<string>();
  private readonly trackerIds = new Map<string, string>();
  private completedPending = false;
  private completedSent = false;
  private stopping: Promise<void> | undefined;

  constructor(o: AnnouncerOptions) {
    this.o = o;
    this.clock = clockWithNow(o.clock ?? systemClock, o.now);
    this.now = this.clock.now;
    this.tiersList = new TrackerTiers(o.tiers, o.announce, o.rng ?? systemRng);
    this.http = o.http ?? announceHttp;
    this.minIntervalSec = o.minIntervalSec ?? 30;
    this.maxIntervalSec = Math.max(this.minIntervalSec, o.maxIntervalSec ?? 86_400);
    this.requestTimeoutMs = o.requestTimeoutMs ?? 60_000;
    this.retryBaseSec = o.retryBaseSec ?? 15;
    this.retryMaxSec = o.retryMaxSec ?? 1800;
  }

  /** The trackers in BEP 12 order, and the URLs left out with reasons. */
  get trackers(): { tiers: string[][]; rejected: Array<{ url: string; reason: string }> } {
    return { tiers: this.tiersList.toLists(), rejected: [...this.tiersList.rejected] };
  }

  /** Starts announcing (`started`, at once). Reports left-out tracker URLs as warnings. No-op unless idle/stopped. */
  start(): void {
    if (this.state === 'running' || this.state === 'stopping') return;
    this.state = 'running';
    this.tiersList.reset();
    this.failedRounds = 0;
    this.nextAt = this.now();
    for (const r of this.tiersList.rejected) this.emit({ type: 'warning', url: r.url, message: `tracker ignored: ${r.reason}` });
    this.tick(this.now());
  }

  /** The download finished: sends `completed` as soon as no request is in flight (once per torrent). */
  completed(): void {
    if (this.state !== 'running' || this.completedSent) return;
    this.completedPending = true;
    this.nextAt = Math.min(this.nextAt, this.now());
    this.tick(this.now());
  }

  /** Re-announce as soon as the tracker's `min interval` allows. */
  announceNow(): void {
    if (this.state !== 'running') return;
    const now = this.now();
    this.nextAt = Math.min(this.nextAt, Math.max(now, this.minNextAt));
    this.tick(now);
  }

  /** Drives the schedule; the torrent calls it every second. */
  tick(now: number): void {
    if (this.state !== 'running') return;
    if (this.inFlight !== undefined) {
      if (now >= this.inFlight.deadline) {
        this.inFlight.ac.abort(new BtError('TIMEOUT', `tracker did not answer within ${this.requestTimeoutMs} ms`));
      }
      return;
    }
    if (now >= this.nextAt) this.launch(now);
  }

  /**
   * Stops announcing: aborts a request in flight, sends `stopped` to every tracker that accepted us (in parallel),
   * and resolves when they have answered or after `timeoutMs`, whichever comes first. Never rejects.
   */
  stop(timeoutMs = 3000): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    if (this.state !== 'running') {
      this.state = this.state === 'idle' ? 'idle' : 'stopped';
      return Promise.resolve();
    }
    this.state = 'stopping';
    const running = this.inFlight;
    this.inFlight = undefined;
    running?.ac.abort(new BtError('ABORTED', 'announcer stopped'));
    const targets = [...this.announcedTo];
    this.announcedTo.clear();
    this.nextAt = Infinity;
    const ac = new AbortController();
    // A download that finished just before the stop still owes its trackers `completed` (BEP 3): send it first,
    // then `stopped`, within the same deadline.
    const owesCompleted = this.completedPending && !this.completedSent;
    const sends = targets.map(async (url) => {
      try {
        if (owesCompleted) {
          const c = await this.send(url, this.params(url, 'completed'), ac.signal);
          this.completedSent = true;
          this.emit({ type: 'announce', url, event: 'completed', peers: 0, interval: c.interval });
        }
        const r = await this.send(url, this.params(url, 'stopped'), ac.signal);
        this.emit({ type: 'announce', url, event: 'stopped', peers: 0, interval: r.interval });
      } catch (e) {
        if (!ac.signal.aborted) this.emit({ type: 'error', url, message: errorMessage(e) });
      }
    });
    this.stopping = (async () => {
      let timer: ClockTimer | undefined;
      const deadline = new Promise<void>((resolve) => { timer = this.clock.setTimeout(resolve, timeoutMs); });
      try {
        await Promise.race([Promise.all(sends), deadline]);
      } finally {
        this.clock.clearTimeout(timer);
        ac.abort(new BtError('ABORTED', 'stop timed out'));
        this.state = 'stopped';
        this.stopping = undefined;
      }
    })();
    return this.stopping;
  }

  /** A snapshot for status displays. */
  status(): AnnouncerStatus {
    return {
      state: this.state,
      tracker: this.inFlight?.url ?? this.tiersList.current() ?? this.tiersList.urls()[0],
      inFlight: this.inFlight !== undefined,
      nextAnnounceAt: this.nextAt,
      failedRounds: this.failedRounds,
      announcedTo: [...this.announcedTo],
    };
  }

  private eventFor(url: string): AnnounceParams['event'] {
    if (!this.announcedTo.has(url)) return 'started';
    if (this.completedPending) return 'completed';
    return '';
  }

  private params(url: string, event: AnnounceParams['event']): AnnounceParams {
    const s = this.o.stats();
    const p: AnnounceParams = {
      infoHash: this.o.infoHash, peerId: this.o.peerId, port: this.o.port, key: this.o.key, compact: true,
      uploaded: s.uploaded, downloaded: s.downloaded, left: s.left, event,
      numwant: event === 'stopped' ? 0 : (this.o.numwant ?? 50),
    };
    const tid = this.trackerIds.get(url);
    if (tid !== undefined) p.trackerId = tid;
    return p;
  }

  private sendOne(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceResponse> {
    try {
      return url.startsWith('udp:') ? this.o.udp.announce(url, params, signal) : this.http(url, params, { signal, clock: this.clock });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** One announce, or for a hybrid the pair of announces (v1 and truncated v2 name) merged; see the module comment. */
  private async send(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceResponse> {
    const v2 = this.o.infoHashV2;
    if (v2 === undefined || v2.equals(params.infoHash)) return this.sendOne(url, params, signal);
    const [a, b] = await Promise.allSettled([this.sendOne(url, params, signal), this.sendOne(url, { ...params, infoHash: v2 }, signal)]);
    if (a.status === 'rejected' && b.status === 'rejected') throw a.reason;
    if (a.status === 'rejected' || b.status === 'rejected') {
      const ok = a.status === 'fulfilled' ? a.value : (b as PromiseFulfilledResult<AnnounceResponse>).value;
      const failed = a.status === 'rejected' ? `v1 announce failed: ${errorMessage(a.reason)}` : `v2 announce failed: ${errorMessage((b as PromiseRejectedResult).reason)}`;
      return { ...ok, warning: ok.warning === undefined ? failed : `${ok.warning}; ${failed}` };
    }
    return mergeResponses(a.value, b.value);
  }

  private launch(now: number): void {
    let url = this.tiersList.current();
    if (url === undefined) {
      this.tiersList.reset();
      url = this.tiersList.current();
    }
    if (url === undefined) {
      this.nextAt = Infinity; // no usable tracker
      return;
    }
    const event = this.eventFor(url);
    const id = ++this.seq;
    const ac = new AbortController();
    this.inFlight = { id, url, event, ac, deadline: now + this.requestTimeoutMs };
    let request: Promise<AnnounceResponse>;
    try {
      request = this.send(url, this.params(url, event), ac.signal);
    } catch (e) {
      request = Promise.reject(e); // stats() threw
    }
    request.then(
      (r) => this.onSuccess(id, url, event, r),
      (e: unknown) => this.onFailure(id, url, e),
    );
  }

  private clampSec(v: number, lo: number, hi: number): number {
    return Math.min(Math.max(Number.isFinite(v) ? v : lo, lo), hi);
  }

  private onSuccess(id: number, url: string, event: AnnounceParams['event'], r: AnnounceResponse): void {
    if (this.inFlight?.id !== id) return;
    this.inFlight = undefined;
    if (this.state !== 'running') return;
    const now = this.now();
    this.announcedTo.add(url);
    if (event === 'completed') {
      this.completedPending = false;
      this.completedSent = true;
    }
    if (r.trackerId !== undefined) this.trackerIds.set(url, r.trackerId);
    this.tiersList.promote(url);
    this.tiersList.reset();
    this.failedRounds = 0;
    const interval = this.clampSec(r.interval, this.minIntervalSec, this.maxIntervalSec);
    const minInterval = r.minInterval === undefined ? this.minIntervalSec
      : this.clampSec(r.minInterval, this.minIntervalSec, interval);
    this.nextAt = this.completedPending ? now : now + interval * 1000;
    this.minNextAt = now + minInterval * 1000;
    const e: AnnouncerEvent = { type: 'announce', url, event, peers: r.peers.length, interval };
    if (r.complete !== undefined) e.complete = r.complete;
    if (r.incomplete !== undefined) e.incomplete = r.incomplete;
    this.emit(e);
    if (r.warning !== undefined) this.emit({ type: 'warning', url, message: r.warning });
    if (r.peers.length > 0) {
      try {
        this.o.onPeers(r.peers, url);
      } catch (err) {
        this.emit({ type: 'error', url, message: `peer handler failed: ${errorMessage(err)}` });
      }
    }
  }

  private onFailure(id: number, url: string, err: unknown): void {
    if (this.inFlight?.id !== id) return;
    this.inFlight = undefined;
    if (this.state !== 'running') return;
    const now = this.now();
    const message = errorMessage(err);
    if (this.tiersList.next() !== undefined) {
      this.emit({ type: 'error', url, message, retryInSec: 0 });
      this.nextAt = now;
      this.launch(now); // BEP 12: the next tracker at once
      return;
    }
    this.failedRounds++;
    this.tiersList.reset();
    const delaySec = Math.min(this.retryBaseSec * 2 ** Math.min(this.failedRounds - 1, 30), this.retryMaxSec);
    this.nextAt = now + delaySec * 1000;
    this.emit({ type: 'error', url, message, retryInSec: delaySec });
  }

  private emit(e: AnnouncerEvent): void {
    try {
      this.o.onEvent(e);
    } catch {
      // A display callback must not break the schedule.
    }
  }
}
