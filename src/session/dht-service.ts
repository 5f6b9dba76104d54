/**
 * The session's DHT service (BEP 5): owns the DHT node (any `DhtNodeApi`; `createDhtNode` makes the real one) and
 * decides when each torrent is announced and looked up.
 *
 * Every running torrent that is not private (BEP 27), and every pending magnet, is announced (get_peers, then
 * announce_peer with our port) when it starts, when the DHT becomes ready, and then every ANNOUNCE_INTERVAL_MS. A
 * torrent that still needs peers (downloading, or a magnet) and has none connected is looked up again sooner: 10 s,
 * 20 s, 40 s … at most 5 minutes after the previous lookup; so is any torrent whose last announce reached no node (the
 * DHT was still empty: a seed must not wait 15 minutes to be found). A hybrid is announced under both its names (the v1
 * info-hash and the truncated v2 one, as trackers are). Peers found go to the subject's `addPeer` (source `dht`).
 *
 * The session's one-second tick drives it (`tick(now, subjects)`: the subjects are what runs now; anything no longer
 * listed stops being announced and its lookup is aborted). There are no timers here, and time comes from `now`.
 *
 * Invariants: at most `maxLookups` lookups run at once (a thousand torrents never start a thousand lookups; the
 * others wait their turn, the longest-waiting first); no callback of a lookup reaches a subject after it was dropped;
 * nothing a node or a subject throws escapes (it is logged).
 */
import { ANNOUNCE_INTERVAL_MS, type DhtNodeApi, type DhtPhase, type DhtStats, type NodeAddress } from '../discovery/dht/types.js';
import { errorMessage } from '../util/errors.js';

/** Lookups (announces) running at once, for the whole session. */
export const MAX_CONCURRENT_LOOKUPS = 4;
/** A torrent that needs peers and has none connected is looked up again after this, doubling each time… */
export const RETRY_FIRST_MS = 10_000;
/** … up to this. */
export const RETRY_MAX_MS = 5 * 60_000;

/** What the service announces: a running torrent or a pending magnet, as the session sees it now. */
export interface DhtSubject {
  /** The session's key (wire info-hash, hex). */
  readonly key: string;
  /** The names to announce: the wire info-hash, and a hybrid's truncated v2 info-hash (20 bytes each). */
  readonly names: readonly Buffer[];
  /** BEP 27: a private torrent is never announced nor looked up on the DHT. */
  readonly private: boolean;
  /** Downloading, or a magnet waiting for metadata (a seed needs no peers: it only announces). */
  readonly needsPeers: boolean;
  /** Peers connected now. */
  connectedPeers(): number;
  /** A peer found on the DHT. */
  addPeer(host: string, port: number): void;
}

export interface DhtServiceOptions {
  node: DhtNodeApi;
  /** The port peers reach us on (the session's port; TCP and uTP). */
  port: () => number;
  now: () => number;
  log: (msg: string) => void;
  /** Phase changes of the node, once per change. */
  onPhase?: (phase: DhtPhase, stats: DhtStats) => void;
  maxLookups?: number;
}

/** The wait before the next lookup of a subject that needs peers, after `rounds` lookups in a row found none. */
export function retryDelay(rounds: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, Math.min(rounds, 32) - 1));
}

interface Entry {
  subject: DhtSubject;
  /** When the last lookup of it ended (undefined: never looked up). */
  lastDoneAt: number | undefined;
  /** When it was last announced successfully or not (undefined: never). */
  lastAnnounceAt: number | undefined;
  /** Lookups in a row that ended with no peer connected while it needed some, or that reached no node (the back-off). */
  emptyRounds: number;
  /** Nodes that answered its last lookup (all names together). */
  lastReached: number;
  /** Set by the DHT becoming ready: announce again at the next turn. */
  urgent: boolean;
  /** The running lookup; aborted when the subject is dropped. */
  running: AbortController | undefined;
  /** Dropped (not running any more): its lookup's callbacks are ignored. */
  dropped: boolean;
}

/** What the service did (tests, logs). */
export interface DhtServiceCounters { lookups: number; peersFound: number; failures: number }

export class DhtService {
  readonly node: DhtNodeApi;
  readonly counters: DhtServiceCounters = { lookups: 0, peersFound: 0, failures: 0 };
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  private closed = false;
  private phase: DhtPhase = 'off';
  private readonly maxLookups: number;

  constructor(private readonly opts: DhtServiceOptions) {
    this.node = opts.node;
    this.maxLookups = Math.max(1, opts.maxLookups ?? MAX_CONCURRENT_LOOKUPS);
    this.node.onPhase = (phase) => this.onPhase(phase);
  }

  /** Start the node (bootstrap). */
  start(): void {
    this.phase = 'bootstrapping';
    this.node.start();
  }

  /** The node's phase as last reported. */
  get currentPhase(): DhtPhase { return this.phase; }

  /** Lookups running now. */
  get activeLookups(): number { return this.running; }

  /** Subjects being announced. */
  get tracked(): number { return this.entries.size; }

  private onPhase(phase: DhtPhase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    // Ready (again): every subject is announced at the next turn, whatever its schedule.
    if (phase === 'ready') for (const e of this.entries.values()) e.urgent = true;
    try { this.opts.onPhase?.(phase, this.node.stats()); } catch (err) { this.opts.log(`dht: phase listener threw: ${errorMessage(err)}`); }
  }

  /**
   * Once a second: `subjects` are what runs now (private ones are skipped). New ones are announced, dropped ones
   * stop, and due lookups start while there is room.
   */
  tick(now: number, subjects: Iterable<DhtSubject>): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const s of subjects) {
      if (s.private || s.names.length === 0) continue;
      seen.add(s.key);
      const e = this.entries.get(s.key);
      if (e) e.subject = s;
      else this.entries.set(s.key, { subject: s, lastDoneAt: undefined, lastAnnounceAt: undefined, emptyRounds: 0, lastReached: 0, urgent: false, running: undefined, dropped: false });
    }
    for (const [key, e] of this.entries) if (!seen.has(key)) this.drop(key, e);
    if (this.running >= this.maxLookups) return;
    const due: Array<{ e: Entry; at: number }> = [];
    for (const e of this.entries.values()) {
      if (e.running) continue;
      const at = this.dueAt(e);
      if (at <= now) due.push({ e, at });
    }
    due.sort((a, b) => a.at - b.at);
    for (const { e } of due) {
      if (this.running >= this.maxLookups) break;
      this.lookup(e);
    }
  }

  /** When entry `e` should be looked up next (-Infinity: at once). */
  private dueAt(e: Entry): number {
    if (e.urgent || e.lastDoneAt === undefined || e.lastAnnounceAt === undefined) return -Infinity;
    const needy = this.needsRetry(e);
    const regular = e.lastAnnounceAt + ANNOUNCE_INTERVAL_MS;
    return needy ? Math.min(regular, e.lastDoneAt + retryDelay(e.emptyRounds)) : regular;
  }

  /** It needs peers and has none connected, or its last announce reached no node. */
  private needsRetry(e: Entry): boolean {
    if (e.lastReached === 0) return true;
    try { return e.subject.needsPeers && e.subject.connectedPeers() === 0; } catch { return false; }
  }

  private lookup(e: Entry): void {
    const controller = new AbortController();
    e.running = controller;
    e.urgent = false;
    this.running++;
    this.counters.lookups++;
    const names = e.subject.names;
    const port = this.opts.port();
    const onPeers = (peers: readonly NodeAddress[]): void => {
      if (e.dropped) return;
      for (const p of peers) {
        this.counters.peersFound++;
        try { e.subject.addPeer(p.host, p.port); } catch (err) { this.opts.log(`dht: addPeer threw: ${errorMessage(err)}`); }
      }
    };
    const startedAt = this.opts.now();
    let reached = 0;
    void (async () => {
      for (const name of names) {
        if (controller.signal.aborted) break;
        try {
          const r = await this.node.announce(name, port, { onPeers, signal: controller.signal });
          reached += r.responded;
          this.opts.log(`dht: announced ${name.toString('hex')}: ${r.peers} peer(s), ${r.responded}/${r.queried} nodes answered, ` +
            `announced to ${r.announcedTo ?? 0}, ${r.durationMs} ms`);
        } catch (err) {
          this.counters.failures++;
          this.opts.log(`dht: announce of ${name.toString('hex')} failed: ${errorMessage(err)}`);
        }
      }
    })().finally(() => {
      this.running--;
      if (e.running === controller) e.running = undefined;
      if (e.dropped) return;
      const now = this.opts.now();
      e.lastDoneAt = now;
      e.lastAnnounceAt = startedAt;
      e.lastReached = reached;
      const needy = this.needsRetry(e);
      // Still nobody: each retry waits twice as long as the one before (10 s, 20 s, 40 s … 5 min).
      e.emptyRounds = needy ? Math.min(e.emptyRounds + 1, 32) : 0;
    });
  }

  private drop(key: string, e: Entry): void {
    e.dropped = true;
    e.running?.abort();
    this.entries.delete(key);
  }

  /** Stop every lookup; the node is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [key, e] of this.entries) this.drop(key, e);
    this.node.onPhase = undefined;
    this.node.close();
    this.phase = 'off';
  }
}
