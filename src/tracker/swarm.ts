/**
 * The embedded tracker's state: one swarm (peer list) per info-hash, with no transport in sight (BEP 3 announce and
 * scrape semantics, shared by the HTTP and UDP front ends). Pure: time and randomness are injected.
 *
 * Invariants:
 * - A peer's identity in a swarm is (ip, port). The ip is the request's SOURCE address, never a client-supplied one.
 *   A re-announce from the same (ip, port) with a new peer id replaces the entry.
 * - `complete` / `incomplete` counters always equal the number of stored seeds / leechers (plus the session itself
 *   when it is registered with `setSelf`).
 * - A requester is never handed its own (ip, port), nor a peer carrying its own peer id.
 * - The session itself (registered with `setSelf`) is listed and counted once: an announce carrying the session's
 *   own peer id (the session announcing to its own tracker) gets peers but is not stored.
 * - Each swarm's `byKey` map is kept in last-announce order (an entry is re-inserted on every announce), so expiry
 *   only walks the stale head. This assumes `now()` does not go backwards; if it does, expiry is only delayed.
 * - Sizes are capped: `maxPeersPerSwarm` entries per swarm (a newcomer beyond it still gets peers but is not stored),
 *   `maxSwarms` swarms for info-hashes the session does not know (open mode only), numwant ≤ `maxNumwant`.
 * - Aliases (BEP 52 hybrid torrents): an info-hash registered with `setAlias(alias, canonical)` (a hybrid's truncated
 *   v2 hash → its v1 hash) names the canonical swarm everywhere: an announce for either hash is stored in, and gets
 *   peers from, the one swarm; scrapes of either give its numbers.
 */
import type { IpFamily, TrackerEvent } from './types.js';
import { ipFamily, isUnspecified, normalizeIp } from './address.js';
import { formatPeerAddress } from '../util/peer-address.js';

/** Tracker configuration. `now` returns milliseconds (like `Date.now`). */
export interface TrackerOptions {
  now: () => number;
  /** Uniform random number in [0, 1); default Math.random. Inject a seeded one in tests. */
  rng?: () => number;
  /** Announce interval sent to clients, seconds. Default 120: this is a LAN-first tracker. */
  intervalSec?: number;
  /** `min interval` sent to clients, seconds. Default 30. */
  minIntervalSec?: number;
  /** Upper bound on peers returned per announce. Default 74. */
  maxNumwant?: number;
  /** Peers returned when the client sends no numwant (or a negative one). Default 50. */
  defaultNumwant?: number;
  /** Stored peers per swarm. Default 2000. */
  maxPeersPerSwarm?: number;
  /** Swarms for info-hashes that `isKnown` does not claim (open mode). Default 10000. */
  maxSwarms?: number;
  /** Track any info-hash, not only the session's torrents. Default false. */
  open?: boolean;
  /** The session's torrents (lower-case hex info-hash). Default: none. Always tracked, never counted in maxSwarms. */
  isKnown?: (infoHashHex: string) => boolean;
}

/** One announce, already parsed and validated by a front end (http-codec.ts or udp-server.ts). */
export interface AnnounceRequest {
  infoHash: Buffer;
  peerId: Buffer;
  /** The SOURCE address of the request (never the `ip` parameter). */
  ip: string;
  port: number;
  uploaded: number;
  downloaded: number;
  /** Bytes left; 0 means a seed. */
  left: number;
  event: TrackerEvent;
  /** Peers wanted; undefined = default. Capped at maxNumwant. */
  numwant: number | undefined;
  compact: boolean;
  noPeerId: boolean;
  key?: string;
  /** Only return peers of this family (UDP: the family of the packet). Undefined = both. */
  family?: IpFamily;
  /**
   * The local address the request arrived on (HTTP: `socket.localAddress`). Used as the session's own address in
   * the peer list when `setSelf` gave no ip.
   */
  localIp?: string;
}

/** A peer handed out in an announce response. */
export interface SwarmPeer {
  ip: string;
  port: number;
  peerId: Buffer;
}

/** A successful announce. Times in seconds. */
export interface AnnounceResult {
  interval: number;
  minInterval: number;
  complete: number;
  incomplete: number;
  peers: SwarmPeer[];
}

/** An announce the tracker refuses; `failure` is the human-readable reason sent to the client. */
export interface AnnounceFailure {
  failure: string;
}

/** Scrape numbers for one info-hash (BEP 48 / BEP 15). Unknown info-hashes give zeros. */
export interface SwarmScrapeEntry {
  infoHash: Buffer;
  complete: number;
  downloaded: number;
  incomplete: number;
}

/** The session's own listening address for one torrent (see `TrackerSwarms.setSelf`). */
export interface SelfEntry {
  port: number;
  /** Address to hand out; omitted (or unspecified 0.0.0.0/::) = the local address each request arrived on. */
  ip?: string;
  peerId: Buffer;
  /** The session has the whole torrent (counted in `complete`, else in `incomplete`). */
  seed: boolean;
}

/** Failure strings (stable: tests and clients may match on them). */
export const FAILURE_NOT_TRACKED = 'torrent not tracked here';
export const FAILURE_TOO_MANY_SWARMS = 'tracker is tracking too many torrents';

interface PeerEntry {
  key: string;
  ip: string;
  port: number;
  family: IpFamily | null;
  peerId: Buffer;
  seed: boolean;
  lastSeen: number;
  /** A `completed` event from this peer was already counted. */
  counted: boolean;
  /** Position in `Swarm.list`, for O(1) removal. */
  slot: number;
}

interface Swarm {
  byKey: Map<string, PeerEntry>;
  list: PeerEntry[];
  complete: number;
  incomplete: number;
  downloaded: number;
  self: SelfEntry | null;
}

function peerKey(ip: string, port: number): string {
  return formatPeerAddress(ip, port);
}

/** The peer lists of all tracked torrents. See the module comment for the invariants. */
export class TrackerSwarms {
  readonly intervalSec: number;
  readonly minIntervalSec: number;
  readonly maxNumwant: number;
  readonly defaultNumwant: number;
  readonly maxPeersPerSwarm: number;
  readonly maxSwarms: number;
  readonly open: boolean;
  private readonly now: () => number;
  private readonly rng: () => number;
  private readonly isKnown: (infoHashHex: string) => boolean;
  private readonly swarms = new Map<string, Swarm>();
  /** Swarms whose info-hash is not known to the session (bounded by maxSwarms). */
  private unknownSwarms = 0;
  /** Whether each swarm's info-hash was known when the swarm was created (unknown ones count against maxSwarms). */
  private readonly isKnownAtCreation = new Map<string, boolean>();
  /** Second names of swarms: alias hex → canonical hex (a hybrid torrent's truncated v2 hash → its v1 hash). */
  private readonly aliases = new Map<string, string>();

  constructor(opts: TrackerOptions) {
    this.now = opts.now;
    // A pure module cannot import the platform's rng: the session passes its own; Math.random is for bare callers.
    // eslint-disable-next-line no-restricted-properties -- the one documented exception (architecture.md, "Time and randomness")
    this.rng = opts.rng ?? Math.random;
    this.intervalSec = opts.intervalSec ?? 120;
    this.minIntervalSec = opts.minIntervalSec ?? 30;
    this.maxNumwant = opts.maxNumwant ?? 74;
    this.defaultNumwant = Math.min(opts.defaultNumwant ?? 50, this.maxNumwant);
    this.maxPeersPerSwarm = opts.maxPeersPerSwarm ?? 2000;
    this.maxSwarms = opts.maxSwarms ?? 10000;
    this.open = opts.open ?? false;
    this.isKnown = opts.isKnown ?? (() => false);
  }

  /** A peer with no announce for this long (2 × interval) is dropped. Milliseconds. */
  get peerTtlMs(): number {
    return 2 * this.intervalSec * 1000;
  }

  /** Handles one announce: updates the swarm and picks peers for the requester. Never throws for any input. */
  announce(req: AnnounceRequest): AnnounceResult | AnnounceFailure {
    const hex = this.canonical(req.infoHash.toString('hex'));
    const known = this.isKnown(hex);
    if (!known && !this.open) return { failure: FAILURE_NOT_TRACKED };
    const now = this.now();
    let swarm = this.swarms.get(hex);
    if (swarm) {
      this.expireSwarm(hex, swarm, now);
      swarm = this.swarms.get(hex);
    }
    if (!swarm) {
      if (req.event === 'stopped') return this.result(null, []);
      if (!known && this.unknownSwarms >= this.maxSwarms) return { failure: FAILURE_TOO_MANY_SWARMS };
      swarm = this.createSwarm(hex, known);
    }

    const ip = normalizeIp(req.ip);
    const key = peerKey(ip, req.port);
    const seed = req.left === 0;
    let entry = swarm.byKey.get(key);

    if (req.event === 'stopped') {
      if (entry) this.removeEntry(swarm, entry);
      this.dropIfEmpty(hex, swarm);
      return this.result(swarm, []);
    }

    if (swarm.self && swarm.self.peerId.equals(req.peerId)) {
      // The session announcing to its own tracker: it is already listed (and counted) through setSelf.
      return this.result(swarm, this.pickPeers(swarm, req, ip, this.wanted(req)));
    }
    if (entry && !entry.peerId.equals(req.peerId)) {
      // Same (ip, port), new peer id: the client restarted. Replace the entry (and its completed flag).
      this.removeEntry(swarm, entry);
      entry = undefined;
    }
    if (entry) {
      if (entry.seed !== seed) {
        if (seed) { swarm.incomplete--; swarm.complete++; } else { swarm.complete--; swarm.incomplete++; }
        entry.seed = seed;
      }
      entry.lastSeen = now;
      swarm.byKey.delete(key);
      swarm.byKey.set(key, entry); // keep byKey in last-announce order
    } else if (swarm.list.length < this.maxPeersPerSwarm) {
      entry = { key, ip, port: req.port, family: ipFamily(ip), peerId: Buffer.from(req.peerId), seed, lastSeen: now,
        counted: false, slot: swarm.list.length };
      swarm.list.push(entry);
      swarm.byKey.set(key, entry);
      if (seed) swarm.complete++; else swarm.incomplete++;
    }
    if (req.event === 'completed') {
      // Count each peer's completion once; a peer over the size cap is not stored but its completion still counts.
      if (!entry) swarm.downloaded++;
      else if (!entry.counted) { entry.counted = true; swarm.downloaded++; }
    }

    return this.result(swarm, this.pickPeers(swarm, req, ip, this.wanted(req)));
  }

  /** Scrape numbers for each info-hash, in the order given. Unknown or untracked info-hashes give zeros. */
  scrape(infoHashes: Buffer[]): SwarmScrapeEntry[] {
    const now = this.now();
    return infoHashes.map((infoHash) => {
      const hex = this.canonical(infoHash.toString('hex'));
      let swarm = this.swarms.get(hex);
      if (swarm) {
        this.expireSwarm(hex, swarm, now);
        swarm = this.swarms.get(hex);
      }
      if (!swarm || (!this.open && !this.isKnown(hex))) {
        return { infoHash, complete: 0, downloaded: 0, incomplete: 0 };
      }
      return { infoHash, complete: swarm.complete, downloaded: swarm.downloaded, incomplete: swarm.incomplete };
    });
  }

  /**
   * Removes peers with no announce for 2 × interval from every swarm, and swarms left empty (a swarm of a known
   * torrent is kept while the session still knows it, so its `downloaded` count survives). Call it from a tick;
   * `announce` and `scrape` also expire the swarm they touch.
   */
  expire(): void {
    const now = this.now();
    for (const [hex, swarm] of [...this.swarms]) this.expireSwarm(hex, swarm, now);
  }

  /**
   * Registers (or with null, removes) the session's own listening address for one torrent, so a client announcing
   * here learns the session as a peer even though the session never announces to itself. The session entry is
   * handed to every requester (except itself), at a random position, and is counted as a seed or leecher.
   */
  setSelf(infoHashHex: string, self: SelfEntry | null): void {
    const hex = this.canonical(infoHashHex.toLowerCase());
    let swarm = this.swarms.get(hex);
    if (self === null) {
      if (!swarm || !swarm.self) return;
      if (swarm.self.seed) swarm.complete--; else swarm.incomplete--;
      swarm.self = null;
      this.dropIfEmpty(hex, swarm);
      return;
    }
    if (!swarm) swarm = this.createSwarm(hex, this.isKnown(hex));
    if (swarm.self) { if (swarm.self.seed) swarm.complete--; else swarm.incomplete--; }
    swarm.self = { ...self, ip: self.ip === undefined ? undefined : normalizeIp(self.ip) };
    if (self.seed) swarm.complete++; else swarm.incomplete++;
  }

  /**
   * Makes `aliasHex` a second name of the swarm `canonicalHex` (BEP 52: a hybrid torrent's truncated v2 info-hash and
   * its v1 info-hash are one swarm). A swarm already kept under the alias is forgotten (its peers re-announce).
   */
  setAlias(aliasHex: string, canonicalHex: string): void {
    const alias = aliasHex.toLowerCase();
    const canonical = canonicalHex.toLowerCase();
    if (alias === canonical || this.aliases.has(canonical)) return; // no chains
    if (this.swarms.has(alias)) this.remove(alias);
    this.aliases.set(alias, canonical);
  }

  /** The swarm key `infoHashHex` names: itself, or the canonical hash it is an alias of. */
  canonical(infoHashHex: string): string {
    return this.aliases.get(infoHashHex) ?? infoHashHex;
  }

  /** Forgets everything about one info-hash (e.g. the session removed the torrent), and the aliases of it. */
  remove(infoHashHex: string): void {
    const hex = infoHashHex.toLowerCase();
    if (this.aliases.delete(hex)) return;
    for (const [a, c] of this.aliases) if (c === hex) this.aliases.delete(a);
    const swarm = this.swarms.get(hex);
    if (!swarm) return;
    this.swarms.delete(hex);
    if (!this.isKnownAtCreation.get(hex)) this.unknownSwarms--;
    this.isKnownAtCreation.delete(hex);
  }

  /** Counts for monitoring: swarms, stored peers. */
  stats(): { swarms: number; peers: number; unknownSwarms: number } {
    let peers = 0;
    for (const s of this.swarms.values()) peers += s.list.length;
    return { swarms: this.swarms.size, peers, unknownSwarms: this.unknownSwarms };
  }

  /** Number of stored peers in one swarm (tests, monitoring). */
  peerCount(infoHashHex: string): number {
    return this.swarms.get(this.canonical(infoHashHex.toLowerCase()))?.list.length ?? 0;
  }

  // ---- internals ----

  private createSwarm(hex: string, known: boolean): Swarm {
    const swarm: Swarm = { byKey: new Map(), list: [], complete: 0, incomplete: 0, downloaded: 0, self: null };
    this.swarms.set(hex, swarm);
    this.isKnownAtCreation.set(hex, known);
    if (!known) this.unknownSwarms++;
    return swarm;
  }

  private wanted(req: AnnounceRequest): number {
    return Math.max(0, Math.min(req.numwant ?? this.defaultNumwant, this.maxNumwant));
  }

  private result(swarm: Swarm | null, peers: SwarmPeer[]): AnnounceResult {
    return {
      interval: this.intervalSec,
      minInterval: this.minIntervalSec,
      complete: swarm?.complete ?? 0,
      incomplete: swarm?.incomplete ?? 0,
      peers,
    };
  }

  private removeEntry(swarm: Swarm, entry: PeerEntry): void {
    swarm.byKey.delete(entry.key);
    const last = swarm.list.pop()!;
    if (last !== entry) {
      swarm.list[entry.slot] = last;
      last.slot = entry.slot;
    }
    if (entry.seed) swarm.complete--; else swarm.incomplete--;
  }

  private expireSwarm(hex: string, swarm: Swarm, now: number): void {
    const cutoff = now - this.peerTtlMs;
    for (const entry of swarm.byKey.values()) {
      if (entry.lastSeen > cutoff) break;
      this.removeEntry(swarm, entry);
    }
    this.dropIfEmpty(hex, swarm);
  }

  private dropIfEmpty(hex: string, swarm: Swarm): void {
    if (swarm.list.length > 0 || swarm.self) return;
    if (this.isKnown(hex)) return; // keep the downloaded count of the session's own torrents
    this.remove(hex);
  }

  /** Up to `wanted` peers, uniformly at random, never the requester; the session itself always comes along. */
  private pickPeers(swarm: Swarm, req: AnnounceRequest, ip: string, wanted: number): SwarmPeer[] {
    if (wanted === 0) return [];
    const out: SwarmPeer[] = [];
    const self = swarm.self;
    let selfPeer: SwarmPeer | null = null;
    if (self) {
      const selfIp = self.ip !== undefined && !isUnspecified(self.ip) ? self.ip
        : req.localIp !== undefined ? normalizeIp(req.localIp) : undefined;
      if (selfIp !== undefined && !isUnspecified(selfIp) && !(selfIp === ip && self.port === req.port)
        && !self.peerId.equals(req.peerId) && (req.family === undefined || ipFamily(selfIp) === req.family)) {
        selfPeer = { ip: selfIp, port: self.port, peerId: self.peerId };
      }
    }
    const selfKey = selfPeer ? peerKey(selfPeer.ip, selfPeer.port) : '';
    const room = selfPeer ? wanted - 1 : wanted;
    // Partial Fisher-Yates over a copy of the slots: uniform sample, stops as soon as enough peers are found.
    const pool = swarm.list.slice();
    for (let i = 0; i < pool.length && out.length < room; i++) {
      const j = Math.min(pool.length - 1, i + Math.floor(this.rng() * (pool.length - i)));
      const e = pool[j]!;
      pool[j] = pool[i]!;
      pool[i] = e;
      if (e.ip === ip && e.port === req.port) continue;
      if (e.peerId.equals(req.peerId)) continue;
      if (req.family !== undefined && e.family !== req.family) continue;
      if (e.key === selfKey) continue;
      out.push({ ip: e.ip, port: e.port, peerId: e.peerId });
    }
    if (selfPeer) out.splice(Math.min(out.length, Math.floor(this.rng() * (out.length + 1))), 0, selfPeer);
    return out;
  }
}
