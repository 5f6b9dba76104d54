/**
 * Local Service Discovery (BEP 14): announces our torrents to the LAN by UDP multicast and reports peers that
 * announce torrents we have. The I/O shell around lsd-codec.ts.
 *
 * Sockets: UDP 0.0.0.0:6771 with SO_REUSEADDR (every bitpeer on the machine must receive), member of
 * 239.192.152.143, multicast TTL 1, loopback on (peers on one machine find each other). With `ipv6`, also
 * [::]:6771 in ff15::efc0:988f; any IPv6 failure is logged and LSD carries on with IPv4 alone.
 *
 * Schedule (outgoing): a torrent is announced right away when added (at the end of the current event-loop turn, so
 * torrents added together share datagrams), then every `announceIntervalMs` (5 min, ±10 %
 * jitter), and never twice within `minIntervalPerTorrentMs` (60 s): an early `announceNow` is deferred to the end of
 * that minute. Up to 5 torrents due together go one per datagram (older clients read one Infohash only); more are
 * packed into as few datagrams as fit 1400 bytes.
 *
 * Incoming: announces carrying our cookie are ours and ignored. Each (source address, announced port, info-hash) is
 * reported at most once per `inboundIntervalMs` (10 s), each source address may send at most 50 datagrams per 10 s,
 * and only info-hashes we have are reported. The rate-limit tables are capped (4096 entries). A peer heard for the
 * first time makes us announce that torrent at the next tick (still at most once a minute), so a newcomer learns
 * about us within a minute rather than within five; a peer already known does not, so two peers never keep
 * answering each other.
 *
 * Invariant: no socket, timer or `onPeer` callback lets an exception out; errors are logged (reliability rule 11 in
 * docs/design/reliability.md).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { BtError, errorMessage } from '../util/errors.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { systemClock, systemRng } from '../platform/clock.js';
import type { Clock, ClockTimer } from '../util/clock.js';
import {
  LSD_GROUP_V4, LSD_GROUP_V6, LSD_HOST_V4, LSD_HOST_V6, LSD_PORT, encodeLsdAnnounces, isHexInfoHash,
  isValidLsdCookie, parseLsdAnnounce,
} from './lsd-codec.js';

/** Options of {@link LsdService}. */
export interface LsdServiceOptions {
  /** Our TCP listen port, announced to the LAN. */
  port: number;
  /** Cookie identifying our announces (1..64 printable ASCII); random by default. */
  cookie?: string;
  /** IPv4 address of the interface to join the group on and send from (default: the kernel's choice). */
  interfaceAddress?: string;
  /** Also use IPv6 (ff15::efc0:988f). Failure is not fatal. Default false. */
  ipv6?: boolean;
  /** A peer on the LAN announced `infoHashHex` (lowercase) and listens at `host:port`. */
  onPeer: (infoHashHex: string, host: string, port: number) => void;
  /** Debug log sink. */
  log?: (msg: string) => void;
  /** Time and timers (default: the real clock; the session passes its own). */
  clock?: Clock;
  /** Time in ms (default `clock.now`). */
  now?: () => number;
  /** Randomness in [0, 1) for the announce jitter (default Math.random; the session passes its own). */
  rng?: () => number;
  /** Normal period between announces of one torrent (default 5 min). */
  announceIntervalMs?: number;
  /** Least time between two announces of one torrent (default 60 s). */
  minIntervalPerTorrentMs?: number;
  /** Least time between two reports of one (source, port, info-hash) (default 10 s). */
  inboundIntervalMs?: number;
  /** UDP port of the LSD group (default 6771; only tests change it). */
  lsdPort?: number;
}

/** Counters, for tests and diagnostics. */
export interface LsdStats {
  /** Datagrams sent (per family). */
  sent: number;
  /** Datagrams received. */
  received: number;
  /** Received datagrams that were not valid announces. */
  invalid: number;
  /** Our own announces, recognised by the cookie. */
  own: number;
  /** Announces (or info-hashes in them) dropped by the inbound rate limits. */
  rateLimited: number;
  /** Peers reported through `onPeer`. */
  reported: number;
}

interface TorrentSchedule {
  /** When it was last announced, or undefined. */
  lastSent: number | undefined;
  /** When it is due next. */
  nextAt: number;
}

const TICK_MS = 1000;
const SOURCE_WINDOW_MS = 10_000;
const SOURCE_MAX_DATAGRAMS = 50;
const TABLE_CAP = 4096;
const UNPACKED_MAX = 5;

/** One LSD endpoint for the whole session (all torrents). */
export class LsdService {
  /** The cookie in our announces. */
  readonly cookie: string;
  readonly stats: LsdStats = { sent: 0, received: 0, invalid: 0, own: 0, rateLimited: 0, reported: 0 };
  private readonly opts: LsdServiceOptions;
  private readonly now: () => number;
  private readonly clock: Clock;
  private readonly rng: () => number;
  private readonly announceIntervalMs: number;
  private readonly minIntervalMs: number;
  private readonly inboundIntervalMs: number;
  private readonly lsdPort: number;
  private readonly torrents = new Map<string, TorrentSchedule>();
  /** (source|port|info-hash) → last report time. */
  private readonly seen = new Map<string, number>();
  /** source address → window start and datagram count. */
  private readonly sources = new Map<string, { start: number; count: number }>();
  private sock4: dgram.Socket | null = null;
  private sock6: dgram.Socket | null = null;
  private joined4 = false;
  private timer: ClockTimer | null = null;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private started = false;
  private closed = false;
  private lastError = '';

  constructor(opts: LsdServiceOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new RangeError(`LSD: bad listen port ${opts.port}`);
    if (opts.cookie !== undefined && !isValidLsdCookie(opts.cookie)) throw new RangeError('LSD: cookie must be 1..64 printable ASCII characters');
    this.opts = opts;
    this.cookie = opts.cookie ?? randomBytes(8).toString('hex');
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? this.clock.now;
    this.rng = opts.rng ?? systemRng;
    this.announceIntervalMs = opts.announceIntervalMs ?? 5 * 60_000;
    this.minIntervalMs = opts.minIntervalPerTorrentMs ?? 60_000;
    this.inboundIntervalMs = opts.inboundIntervalMs ?? 10_000;
    this.lsdPort = opts.lsdPort ?? LSD_PORT;
  }

  private log(msg: string): void {
    try { this.opts.log?.(`lsd: ${msg}`); } catch { /* a log sink must not break LSD */ }
  }

  /**
   * Binds the socket(s), joins the group(s) and starts the schedule. Torrents added before are announced now.
   * @throws BtError('IO') when the IPv4 socket cannot be bound (e.g. port 6771 held without SO_REUSEADDR).
   */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    try {
      this.sock4 = await this.bind('udp4', '0.0.0.0');
    } catch (err) {
      this.started = false;
      throw new BtError('IO', `LSD: cannot bind UDP ${this.lsdPort}: ${errorMessage(err)}`, { cause: err });
    }
    this.setUpMulticast4(this.sock4);
    if (this.opts.ipv6 === true) {
      try {
        const s = await this.bind('udp6', '::');
        try {
          s.addMembership(LSD_GROUP_V6);
          s.setMulticastTTL(1);
          s.setMulticastLoopback(true);
          this.sock6 = s;
        } catch (err) {
          this.log(`IPv6 multicast unavailable: ${errorMessage(err)}`);
          s.close();
        }
      } catch (err) {
        this.log(`IPv6 socket unavailable: ${errorMessage(err)}`);
      }
    }
    if (this.closed) { await this.closeSockets(); return; }
    this.timer = this.clock.setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.tick();
  }

  /** Announces `infoHashHex` from now on: right away (subject to the once-a-minute rule), then every 5 min. */
  addTorrent(infoHashHex: string): void {
    if (!isHexInfoHash(infoHashHex)) throw new RangeError(`LSD: not a hex info-hash: ${JSON.stringify(infoHashHex)}`);
    const ih = infoHashHex.toLowerCase();
    if (this.torrents.has(ih)) return;
    this.torrents.set(ih, { lastSent: undefined, nextAt: this.now() });
    this.soon();
  }

  /** Stops announcing `infoHashHex` and reporting peers for it. */
  removeTorrent(infoHashHex: string): void {
    this.torrents.delete(infoHashHex.toLowerCase());
  }

  /**
   * Announces one torrent (or all) as soon as the once-a-minute rule allows: now, or at the end of the minute.
   * Unknown info-hashes are ignored.
   */
  announceNow(infoHashHex?: string): void {
    const now = this.now();
    const targets = infoHashHex === undefined ? [...this.torrents.values()] : [this.torrents.get(infoHashHex.toLowerCase())];
    for (const t of targets) if (t !== undefined) t.nextAt = Math.min(t.nextAt, now);
    this.soon();
  }

  /** Runs a tick once the current turn ends, so torrents added together share datagrams. */
  private soon(): void {
    if (!this.started || this.closed || this.immediate !== null) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.tick();
    });
  }

  /** Stops the schedule and closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    await this.closeSockets();
  }

  private closeSockets(): Promise<void> {
    const socks = [this.sock4, this.sock6].filter((s): s is dgram.Socket => s !== null);
    this.sock4 = null;
    this.sock6 = null;
    return Promise.all(socks.map((s) => new Promise<void>((resolve) => {
      try { s.close(() => resolve()); } catch { resolve(); }
    }))).then(() => undefined);
  }

  private bind(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket(type === 'udp6' ? { type, reuseAddr: true, ipv6Only: true } : { type, reuseAddr: true });
      const onError = (err: Error): void => {
        try { s.close(); } catch { /* already closed */ }
        reject(err);
      };
      s.once('error', onError);
      s.on('message', (msg, rinfo) => {
        try { this.onDatagram(msg, rinfo.address); } catch (err) { this.log(`handling a datagram from ${rinfo.address} threw: ${errorMessage(err)}`); }
      });
      s.bind({ port: this.lsdPort, address }, () => {
        s.off('error', onError);
        s.on('error', (err) => this.log(`${type} socket error: ${err.message}`));
        resolve(s);
      });
    });
  }

  private setUpMulticast4(s: dgram.Socket): void {
    try {
      s.setMulticastTTL(1);
      s.setMulticastLoopback(true);
      if (this.opts.interfaceAddress !== undefined) s.setMulticastInterface(this.opts.interfaceAddress);
    } catch (err) {
      this.log(`IPv4 multicast options failed: ${errorMessage(err)}`);
    }
    this.join4();
  }

  /** Joins the IPv4 group; retried on every tick until it works (the network may come up later). */
  private join4(): void {
    if (this.joined4 || this.sock4 === null) return;
    try {
      this.sock4.addMembership(LSD_GROUP_V4, this.opts.interfaceAddress);
      this.joined4 = true;
      this.log(`joined ${LSD_GROUP_V4}${this.opts.interfaceAddress !== undefined ? ` on ${this.opts.interfaceAddress}` : ''}`);
    } catch (err) {
      const msg = `cannot join ${LSD_GROUP_V4}: ${errorMessage(err)}`;
      if (msg !== this.lastError) this.log(msg);
      this.lastError = msg;
    }
  }

  private tick(): void {
    try {
      if (this.closed || this.sock4 === null) return;
      this.join4();
      const now = this.now();
      const due: string[] = [];
      for (const [ih, t] of this.torrents) {
        if (t.nextAt > now) continue;
        if (t.lastSent !== undefined && now - t.lastSent < this.minIntervalMs) {
          t.nextAt = t.lastSent + this.minIntervalMs;
          continue;
        }
        due.push(ih);
        t.lastSent = now;
        t.nextAt = now + Math.round(this.announceIntervalMs * (0.9 + 0.2 * this.rng()));
      }
      if (due.length > 0) this.send(due);
    } catch (err) {
      this.log(`tick threw: ${errorMessage(err)}`);
    }
  }

  private send(infoHashes: string[]): void {
    const per = infoHashes.length <= UNPACKED_MAX ? 1 : Infinity;
    const targets: [dgram.Socket | null, string, typeof LSD_HOST_V4 | typeof LSD_HOST_V6][] = [
      [this.sock4, LSD_GROUP_V4, LSD_HOST_V4],
      [this.sock6, LSD_GROUP_V6, LSD_HOST_V6],
    ];
    for (const [sock, group, host] of targets) {
      if (sock === null) continue;
      for (const datagram of encodeLsdAnnounces({ host, port: this.opts.port, infoHashes, cookie: this.cookie }, per)) {
        this.stats.sent++;
        sock.send(datagram, this.lsdPort, group, (err) => {
          if (err === null || err === undefined) return;
          const msg = `send to ${group} failed: ${err.message}`;
          if (msg !== this.lastError) this.log(msg); // log each distinct failure once in a row, not every 5 min
          this.lastError = msg;
        });
      }
    }
  }

  private onDatagram(msg: Buffer, source: string): void {
    this.stats.received++;
    const a = parseLsdAnnounce(msg);
    if (a === null) { this.stats.invalid++; return; }
    if (a.cookie === this.cookie) { this.stats.own++; return; }
    if (source === '0.0.0.0' || source === '::') { this.stats.invalid++; return; }
    const now = this.now();

    let src = this.sources.get(source);
    if (src === undefined || now - src.start >= SOURCE_WINDOW_MS) {
      if (src === undefined) prune(this.sources, TABLE_CAP, (v) => now - v.start >= SOURCE_WINDOW_MS);
      src = { start: now, count: 0 };
      this.sources.set(source, src);
    }
    if (++src.count > SOURCE_MAX_DATAGRAMS) { this.stats.rateLimited++; return; }

    for (const ih of a.infoHashes) {
      const t = this.torrents.get(ih);
      if (t === undefined) continue;
      const key = `${formatPeerAddress(source, a.port)} ${ih}`;
      const last = this.seen.get(key);
      if (last !== undefined && now - last < this.inboundIntervalMs) { this.stats.rateLimited++; continue; }
      this.seen.delete(key);
      prune(this.seen, TABLE_CAP, (v) => now - v >= this.inboundIntervalMs);
      this.seen.set(key, now);
      // A peer we have not heard before: let it hear us soon instead of in up to 5 minutes (still at most once a
      // minute). Only for new peers, so two peers do not keep answering each other.
      if (last === undefined) t.nextAt = Math.min(t.nextAt, now);
      this.stats.reported++;
      try {
        this.opts.onPeer(ih, source, a.port);
      } catch (err) {
        this.log(`onPeer threw: ${errorMessage(err)}`);
      }
    }
  }
}

/**
 * Keeps `map` below `cap` entries: when it is full, drops expired entries, then (if still full) the oldest
 * inserted ones.
 */
function prune<V>(map: Map<string, V>, cap: number, expired: (v: V) => boolean): void {
  if (map.size < cap) return;
  for (const [k, v] of map) if (expired(v)) map.delete(k);
  for (const k of map.keys()) {
    if (map.size < cap) break;
    map.delete(k);
  }
}
