/**
 * A pending magnet: a metadata fetch (BEP 9) for one info-hash that waits for peers instead of giving up, as
 * Transmission and qBittorrent do. Peers come from every source the session has: the link's `x.pe` peers and peers
 * given by the caller, the link's trackers (HTTP and UDP through the session's clients; announced again and again,
 * a failure retried after 15 s, 30 s, 60 s … at most 5 min, src/session/magnet-status.ts), local service discovery
 * (BEP 14: the session announces the info-hash and routes LSD peers here), incoming connections for the info-hash
 * (routed here by the session), and BEP 11 peer exchange from connected peers. Failed peers are retried with a
 * back-off (src/session/metadata-fetch.ts, persistent mode).
 *
 * It ends only when the metadata is verified (the promise resolves), when `stop()` or the caller's signal ends it, or
 * after `timeoutMs` when one is given (BtError 'ABORTED' / 'TIMEOUT'). Status: `status.snapshot()` / `describe()`,
 * and `metadata-fetching` events on the session's stream whenever it changes; `metadata-received` at the end.
 *
 * Invariant: once settled, no timer, socket or session route of it is left.
 */
import { announceHttp } from '../tracker/http-client.js';
import type { AnnounceResponse } from '../tracker/client-common.js';
import { mergeResponses } from '../tracker/announcer.js';
import { parseMagnet, torrentFromInfo, type MagnetInfo } from '../metainfo/index.js';
import { BtError, errorMessage } from '../util/errors.js';
import { formatPeerAddress, tryParsePeerAddress } from '../util/peer-address.js';
import { MagnetStatus } from './magnet-status.js';
import { startMetadataFetch, type MetadataFetch } from './metadata-fetch.js';
import type { Session } from './session.js';
import type { ClockTimer } from '../util/clock.js';
import type { PeerSource } from './torrent-options.js';

type HostPort = { host: string; port: number };

export interface PendingMagnetOptions {
  /** Extra peers to try (e.g. `get --peer`). */
  peers?: HostPort[];
  signal?: AbortSignal;
  /** Give up after this long (BtError 'TIMEOUT'); default: never. */
  timeoutMs?: number;
  log?: (m: string) => void;
}

/** What a finished fetch gives. */
export interface ResolvedMagnet {
  /** A .torrent made of the verified info dictionary and the link's trackers. */
  torrent: Buffer;
  name: string | undefined;
  /** Every peer known for the link: the new torrent should start with them (with where it was found, if known). */
  peers: Array<HostPort & { source?: PeerSource }>;
}

/** Where a magnet's peer came from, as the torrent's events name it (x.pe and --peer peers are 'manual'). */
const TORRENT_SOURCES: ReadonlySet<string> = new Set<PeerSource>(['tracker', 'pex', 'lsd', 'dht']);

/** Announces to one tracker time out after this long (then count as a failure). */
const ANNOUNCE_TIMEOUT_MS = 15_000;
/** Trackers of a link that are used. */
const MAX_TRACKERS = 10;
/** How often peer counts are looked at for a `metadata-fetching` event. */
const STATUS_POLL_MS = 1000;

/** Peers given as `host:port` / `[v6]:port` strings (x.pe); bad ones are skipped. */
export function parsePeerStrings(list: readonly string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const p of list) {
    const a = tryParsePeerAddress(p);
    if (a) out.push({ host: a.host, port: a.port });
  }
  return out;
}

export class PendingMagnet {
  readonly link: MagnetInfo;
  readonly infoHashHex: string;
  readonly status: MagnetStatus;
  readonly promise: Promise<ResolvedMagnet>;
  private readonly fetch: MetadataFetch;
  private readonly controller = new AbortController();
  private readonly timers = new Set<ClockTimer>();
  /** Every peer address handed to the fetch, with the source that found it first. */
  private readonly knownKeys = new Map<string, string>();
  /** Trackers that have answered a `started` announce: later announces are regular ones (event none, BEP 3/15). */
  private readonly startedAt = new Set<string>();
  private settled = false;
  private lastKey = '';
  private readonly log: (m: string) => void;

  constructor(private readonly session: Session, uri: string | MagnetInfo, opts: PendingMagnetOptions = {}) {
    this.link = typeof uri === 'string' ? parseMagnet(uri) : uri;
    this.infoHashHex = this.link.infoHashHex;
    this.log = opts.log ?? ((): void => undefined);
    const trackers = this.link.trackers.slice(0, MAX_TRACKERS);
    this.status = new MagnetStatus(this.infoHashHex, session.trackersEnabled ? trackers : [], session.now);
    if (opts.signal?.aborted) this.controller.abort();
    opts.signal?.addEventListener('abort', () => this.stop(), { once: true });
    const started = session.now();
    this.fetch = startMetadataFetch({
      infoHash: this.link.infoHash,
      // btmh: the info dict's SHA-256 must equal it; btih: its SHA-1 (both for a hybrid link; BEP 52).
      ...(this.link.infoHashV2 ? { infoHashV2: this.link.infoHashV2 } : {}),
      ...(this.link.infoHashV1 ? { infoHashV1: this.link.infoHashV1 } : {}),
      peers: [], peerId: session.peerId, reserved: session.reserved, listenPort: session.port,
      persistent: true, transport: session.transport, encryption: () => session.encryption, randomBytes: session.randomBytes, signal: this.controller.signal, log: this.log, onChange: () => this.refresh(), clock: session.clock,
      ...(session.sharedReadBuffer === false ? { sharedReadBuffer: false } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    this.addPeers([...(opts.peers ?? []), ...parsePeerStrings(this.link.peers)], 'magnet');
    session.registerMagnet(this.infoHashHex, {
      addPeer: (host, port, source) => this.addPeers([{ host, port }], source),
      acceptIncoming: (socket, hs, rest) => this.fetch.acceptIncoming(socket, hs, rest),
      close: () => this.stop(),
      connectedPeers: () => this.fetch.counts().connected,
    }, this.link.infoHashV1 ? this.link.infoHashV2 : undefined);
    if (session.trackersEnabled) for (const url of trackers) this.announce(url);
    const poll = session.clock.setInterval(() => this.refresh(), STATUS_POLL_MS);
    poll.unref();
    this.timers.add(poll);
    this.refresh();
    this.promise = this.fetch.promise.then((info) => {
      const name = this.link.name;
      const torrent = torrentFromInfo(info, this.link.trackers);
      this.session.events.emit({ event: 'metadata-received', infoHash: this.infoHashHex, name: name ?? this.infoHashHex,
        size: info.length, elapsedMs: session.now() - started, peers: this.fetch.addresses().length,
        ...(this.link.infoHashV2 ? { infoHashV2: this.link.infoHashV2.toString('hex') } : {}) });
      // Every address the fetch knows (ours, PEX, incoming peers' listen ports), ourselves left out.
      const peers = this.fetch.addresses().filter((p) => !this.session.isSelf(p.host, p.port)).map((p) => {
        const source = this.knownKeys.get(formatPeerAddress(p.host, p.port));
        return source !== undefined && TORRENT_SOURCES.has(source) ? { ...p, source: source as PeerSource } : p;
      });
      return { torrent, name, peers };
    }).finally(() => this.cleanup());
  }

  /** Display name: the link's `dn`, else the info-hash. */
  get name(): string { return this.link.name ?? this.infoHashHex; }

  /** Ends the fetch: the promise rejects with BtError('ABORTED'). Idempotent. */
  stop(): void { this.controller.abort(); }

  addPeers(peers: readonly HostPort[], source: string): void {
    if (this.settled) return;
    const fresh: HostPort[] = [];
    for (const p of peers) {
      const key = formatPeerAddress(p.host, p.port);
      if (this.knownKeys.has(key) || this.knownKeys.size >= 1000) continue;
      if (this.session.isSelf(p.host, p.port)) continue;
      this.knownKeys.set(key, source);
      fresh.push(p);
      this.session.events.emit({ event: 'peer-discovered', infoHash: this.infoHashHex, peer: key, source });
    }
    if (fresh.length > 0) this.fetch.addPeers(fresh);
  }

  private announce(url: string): void {
    if (this.settled) return;
    const services = this.session.services;
    const params = {
      infoHash: this.link.infoHash, peerId: this.session.peerId, port: this.session.port, uploaded: 0, downloaded: 0, left: 1,
      event: this.startedAt.has(url) ? '' as const : 'started' as const, numwant: 50, key: 0, compact: true as const,
    };
    // HTTP: announceHttp's own deadline (on the session's clock). UDP: the client retransmits for minutes (BEP 15),
    // so the deadline is set here, on the session's clock, and cleared when the request ends.
    let timer: ClockTimer | undefined;
    let send: (infoHash: Buffer) => Promise<AnnounceResponse>;
    if (!url.startsWith('udp:')) {
      send = (infoHash) => announceHttp(url, { ...params, infoHash }, { signal: this.controller.signal, timeoutMs: ANNOUNCE_TIMEOUT_MS, clock: this.session.clock });
    } else if (!services) {
      send = () => Promise.reject(new BtError('IO', 'no UDP socket'));
    } else {
      const deadline = new AbortController();
      timer = this.session.clock.setTimeout(() => deadline.abort(new BtError('TIMEOUT', 'tracker announce timed out')), ANNOUNCE_TIMEOUT_MS);
      timer.unref();
      send = (infoHash) => services.udpClient.announce(url, { ...params, infoHash }, AbortSignal.any([this.controller.signal, deadline.signal]));
    }
    // A hybrid link (btih and btmh) is announced under both names, as libtorrent does; peers of both are one swarm.
    const v2Name = this.link.infoHashV1 !== undefined ? this.link.infoHashV2?.subarray(0, 20) : undefined;
    const request: Promise<AnnounceResponse> = v2Name === undefined ? send(params.infoHash)
      : Promise.allSettled([send(params.infoHash), send(v2Name)]).then(([a, b]) => {
        if (a.status === 'fulfilled' && b.status === 'fulfilled') return mergeResponses(a.value, b.value);
        if (a.status === 'fulfilled') return a.value;
        if (b.status === 'fulfilled') return b.value;
        throw a.reason;
      });
    request.then((r) => {
      if (this.settled) return;
      const wait = this.status.trackerSucceeded(url, r.peers.length, r.interval);
      this.log(`magnet: tracker ${url}: ${r.peers.length} peer(s); again in ${Math.round(wait / 1000)} s`);
      this.startedAt.add(url);
      this.session.events.emit({ event: 'tracker-announce', infoHash: this.infoHashHex, url, trackerEvent: params.event, peers: r.peers.length, interval: r.interval });
      this.addPeers(r.peers, 'tracker');
      this.later(wait, () => this.announce(url));
    }, (err: unknown) => {
      if (this.settled) return;
      const message = errorMessage(err);
      const wait = this.status.trackerFailed(url, message);
      this.log(`magnet: tracker ${url}: ${message}; retry in ${Math.round(wait / 1000)} s`);
      this.session.events.emit({ event: 'tracker-error', infoHash: this.infoHashHex, url, message });
      this.later(wait, () => this.announce(url));
    }).catch((err: unknown) => this.log(`magnet: tracker ${url}: ${errorMessage(err)}`)) // never unhandled (reliability rule 11 in docs/design/reliability.md)
      .finally(() => { this.session.clock.clearTimeout(timer); this.refresh(true); });
  }

  private later(ms: number, fn: () => void): void {
    if (this.settled) return;
    const t = this.session.clock.setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Updates the peer counts; emits `metadata-fetching` when something changed (or `force`). */
  private refresh(force = false): void {
    if (this.settled) return;
    const c = this.fetch.counts();
    this.status.peers = c;
    const s = this.status.snapshot();
    const key = `${c.known}/${c.tried}/${c.connected}/${s.trackers.map((t) => `${t.lastAt}`).join(',')}`;
    if (!force && key === this.lastKey) return;
    this.lastKey = key;
    this.session.events.emit({
      event: 'metadata-fetching', infoHash: this.infoHashHex, name: this.name,
      peersKnown: s.peersKnown, peersTried: s.peersTried, peersConnected: s.peersConnected,
      trackers: s.trackers.map((t) => ({ url: t.url, ok: t.ok, message: t.message, peers: t.peers, retryInSeconds: t.retryInSeconds })),
      status: this.status.describe(),
    });
  }

  private cleanup(): void {
    if (this.settled) return;
    this.settled = true;
    for (const t of this.timers) { this.session.clock.clearTimeout(t); this.session.clock.clearInterval(t); }
    this.timers.clear();
    this.controller.abort();
    this.session.unregisterMagnet(this.infoHashHex);
  }
}
