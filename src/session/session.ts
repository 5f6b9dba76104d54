/**
 * A bitpeer session: one public TCP port, many torrents, one hash pool, one event stream.
 *
 * Peer connections are accepted and opened through the session's `Transport` (src/net/transport.ts; TCP unless
 * `SessionOptions.transport` says otherwise); torrents and pending magnets dial through the same one. With uTP on
 * (`utp`, the default), that is TCP and uTP (BEP 29, src/net/utp/) on the one port: uTP rides the session's UDP
 * endpoint, incoming uTP and TCP connections both reach `onConnection` (one connection count), dials try uTP first.
 * Incoming connections are sniffed on their first bytes: 19 + "BitTorrent protocol" starts a plaintext BitTorrent
 * handshake (BEP 3), `GET ` goes to the embedded HTTP tracker (src/session/services.ts), anything else is an MSE/PE
 * handshake (src/wire/mse/, allowed or refused by the `encryption` policy) with the BitTorrent handshake inside. The
 * handshake is routed to a torrent by its info-hash, or to a pending magnet's metadata fetch (registerMagnet); an
 * unknown info-hash is refused. LSD peers are routed the same way.
 * One interval drives every torrent's tick, so there are no per-peer or per-block timers.
 * Start-up checks take turns by the bytes they hash (many small torrents at once, a big one alone), and the queue
 * is re-evaluated once per turn of the event loop, so a thousand torrents added together cost little each.
 *
 * Invariant: no exception from a socket callback escapes; errors end that connection only.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Metainfo } from '../metainfo/index.js';
import { FsStorage } from '../storage/fs-storage.js';
import { HashPool } from '../storage/hasher.js';
import type { Storage } from '../storage/storage.js';
import { BtError, errorMessage } from '../util/errors.js';
import { EventStream } from '../util/event-stream.js';
import { makePeerId } from '../util/peer-id.js';
import { TokenBucket } from '../util/token-bucket.js';
import { makeReserved, ReservedBit } from '../wire/codec/index.js';
import { readHandshake } from '../wire/connection.js';
import { networkInterfaces } from 'node:os';
import { Announcer, type AnnouncerEvent } from '../tracker/announcer.js';
import { describeDeletion } from '../storage/delete-data.js';
import { PathClaims } from './path-claims.js';
import { SessionServices } from './services.js';
import type { SessionEvent } from './events.js';
import type { PeerLimits } from './peers.js';
import type { Handshake } from '../wire/codec/index.js';
import { Torrent, type RestoredTotals, type StartPlan } from './torrent.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { clockWithNow, systemClock, systemRng } from '../platform/clock.js';
import type { Clock, ClockTimer } from '../util/clock.js';
import type { PeerStream, Transport, TransportListener } from '../net/transport.js';
import { tcpTransport } from '../net/tcp-transport.js';
import { UtpSocket } from '../net/utp/utp-socket.js';
import { UtpTcpTransport } from '../net/utp/utp-transport.js';
import { CRYPTO_RC4, mseTorrentKey } from '../wire/mse/handshake.js';
import { DEFAULT_ENCRYPTION, incomingRefusal, isEncryptionPolicy, receiverMethods, type EncryptionPolicy } from '../wire/mse/policy.js';
import { classifyIncoming, mseAccept } from '../wire/mse/stream.js';
import { dataSizeOf } from './torrent-status.js';
import type { PeerSource } from './torrent-options.js';
import type { DhtConfig, DhtPersistedState, DhtStats } from '../discovery/dht/types.js';
import { dhtSubjects, SessionDht, type DhtNodeFactory } from './session-dht.js';

export interface SessionOptions {
  port?: number;            // 0 = any free port
  host?: string;            // bind address, default 0.0.0.0
  maxConnections?: number;  // global cap (default 200)
  hashWorkers?: number;
  peerLimits?: Partial<PeerLimits>;
  uploadSlots?: number;
  /** Local service discovery (BEP 14). Default true. */
  lsd?: boolean;
  /** Peer exchange (BEP 11). Default true. */
  pex?: boolean;
  /** Announce to the torrents' trackers. Default true. */
  trackers?: boolean;
  /** The embedded tracker answers for any info-hash, not only this session's torrents. Default false. */
  openTracker?: boolean;
  /** Global rate limits in bytes/s (0 = unlimited). */
  uploadLimit?: number;
  downloadLimit?: number;
  /** Debug log sink (the CLI prints it with --verbose). */
  log?: (msg: string) => void;
  now?: () => number;
  rng?: () => number;
  /** Timers (and time, unless `now` is given) for the modules converted to an injected clock (default: the real one). */
  clock?: Clock;
  /** Peer sockets read into one shared buffer where Node allows it (src/wire/node-internals.ts). Default true. */
  sharedReadBuffer?: boolean;
  /** File reads and writes always go through the thread pool, never synchronous calls (src/storage/fs-storage.ts). */
  asyncIo?: boolean;
  /**
   * v1 downloads hash and write their pieces on the piece-writer thread (src/storage/piece-writer.ts) instead of the
   * event loop's thread (FsStorage's `pieceWorker`). Default false. Storage passed in by the caller is used as is.
   */
  pieceWorker?: boolean;
  /** How peer connections are opened and accepted (src/net/transport.ts). Default TCP. */
  transport?: Transport;
  /** Our peer id (20 bytes, BEP 20 style). Default: a fresh random one (a simulation passes a seeded one). */
  peerId?: Buffer;
  /** Bind the UDP endpoint (UDP tracker server and client) on `listen`. Default true; a simulated network has no UDP. */
  udp?: boolean;
  /**
   * uTP (BEP 29) on the UDP endpoint: incoming uTP accepted, dials tried over uTP first and over TCP when that fails
   * or takes over 3 s (as libtorrent does). Default true. Only with the default transport (a given `transport` is
   * used as it is); `setUtp` turns it on and off while running.
   */
  utp?: boolean;
  /** TCP for peers (dials, and incoming peer connections). Default true; false with `utp` makes a uTP-only peer. */
  tcp?: boolean;
  /** MSE/PE encryption policy, incoming and outgoing (src/wire/mse/policy.ts). Default `enabled`. */
  encryption?: EncryptionPolicy;
  /**
   * Random bytes for MSE/PE keys and padding. Default: node:crypto's, or, when `rng` is injected (a replayable
   * simulation), bytes drawn from `rng`, so that a seed replays exactly.
   */
  randomBytes?: (n: number) => Buffer;
  /**
   * The Mainline DHT (BEP 5) on the UDP endpoint (src/session/session-dht.ts): bootstrap nodes, private-network mode,
   * the restored node id and cache. Default off (the facade, src/api/open.ts, turns it on); `setDht` turns it on and
   * off while running.
   */
  dht?: DhtConfig | false;
  /** The DHT node's id or table changed enough to be saved (the state directory writes `dht.dat`). */
  onDhtPersist?: (state: DhtPersistedState) => void;
  /** Makes the DHT node (tests pass a fake; default the real DhtNode). */
  dhtNodeFactory?: DhtNodeFactory;
}

export interface AddTorrentOptions {
  savePath: string;
  storage?: Storage;
  /** Peers to start with; `source` (default 'manual') is what their events say, e.g. 'dht' for a magnet's peers. */
  peers?: Array<{ host: string; port: number; source?: PeerSource }>;
  skipCheck?: boolean;
  /** What the start-up check may trust (resume data) and what it must hash. */
  plan?: StartPlan;
  /** Added paused by the user. */
  paused?: boolean;
  /** How messages name it, before its quoted name (e.g. `#3`, the API's id): "torrent #3 ("name")". */
  tag?: string;
  /** When it was first added (ms since the epoch; default now, in whole seconds). */
  addedAt?: number;
  /** Its place in the queue (0 = first; default last; beyond the end = last). */
  queuePosition?: number;
  /** Totals of earlier runs (from the state directory). */
  restored?: RestoredTotals;
  /** Called with the torrent before it starts (e.g. to restore file priorities and limits through its commands). */
  beforeStart?: (t: Torrent) => void;
  /** When the check fails (unreadable data...), keep the torrent in the error state instead of throwing. */
  keepOnError?: boolean;
  /** BEP 52 piece layers from the resume data (checked against the file roots before use). */
  restoredPieceLayers?: ReadonlyMap<string, Buffer>;
}

/** Where the session sends what concerns a pending magnet (src/session/pending-magnet.ts). */
export interface MagnetRoute {
  addPeer(host: string, port: number, source: string): void;
  /** An incoming connection whose handshake names the magnet's info-hash (ours is not sent yet). */
  acceptIncoming(socket: PeerStream, handshake: Handshake, rest: Buffer, encrypted: boolean): void;
  /** The session is closing. */
  close(): void;
  /** Peers connected to the fetch now (the DHT looks up a magnet with none again sooner). */
  connectedPeers?(): number;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_PENDING_HANDSHAKES = 256;
/**
 * Start-up checks run together while the bytes they hash fit this budget: many small torrents at once, a big one
 * alone (so a spinning disk reads one file sequentially). In the order the torrents were added.
 */
const CHECK_BUDGET_BYTES = 64 * 1024 * 1024;
const MAX_PARALLEL_CHECKS = 16;

export const DEFAULT_QUEUE_LIMITS = { downloads: 5, seeds: 0 } as const; // Transmission's (0: no limit): no seed queue

export class Session {
  readonly events = new EventStream<SessionEvent>((err) => this.log(`event listener threw: ${errorMessage(err)}`));
  readonly peerId: Buffer;
  /**
   * Our handshake's reserved bits: Fast, BEP 10, and the DHT bit while the DHT runs (a hybrid torrent's connections
   * add BEP 52's v2 upgrade bit).
   */
  readonly reserved = makeReserved([ReservedBit.FAST, ReservedBit.EXTENSION_PROTOCOL]);
  /** The DHT (BEP 5): its node on the UDP endpoint, and the service that announces the torrents. */
  private readonly dht: SessionDht;
  /** Tracker server and client, UDP socket, LSD (created by listen()). */
  private svc: SessionServices | undefined;
  /** Addresses that are this session (our interfaces, and `yourip` reports from peers). */
  private readonly ownAddresses = new Set<string>(['127.0.0.1', '::1', '0.0.0.0']);
  /** Tracker key (BEP 3 `key`), one per session. */
  private readonly trackerKey = randomBytes(4).readUInt32BE(0);
  readonly torrents = new Map<string, Torrent>();
  readonly hasher: HashPool;
  private server: TransportListener | undefined;
  /** Peer connections are opened and accepted through this (TCP unless the options say otherwise). */
  readonly transport: Transport;
  /** The uTP side of the default transport (none with a custom `transport`). */
  private readonly utp: UtpTcpTransport | undefined;
  private timer: ClockTimer | undefined;
  /** Aborted when the session closes; every torrent's signal is chained to it (and every dial to its torrent's). */
  private readonly abort = new AbortController();
  private pendingHandshakes = 0;
  private readonly opts: SessionOptions;
  private encryptionPolicy: EncryptionPolicy;
  readonly now: () => number;
  readonly rng: () => number;
  /** Random bytes of MSE/PE handshakes (see `SessionOptions.randomBytes`). */
  readonly randomBytes: (n: number) => Buffer;
  readonly clock: Clock;
  private closed = false;
  /** Global rate limits; every torrent's buckets hang below these. */
  readonly uploadBucket: TokenBucket;
  readonly downloadBucket: TokenBucket;

  constructor(opts: SessionOptions = {}) {
    this.opts = opts;
    if (opts.encryption !== undefined && !isEncryptionPolicy(opts.encryption)) throw new RangeError(`unknown encryption policy ${String(opts.encryption)}`);
    this.encryptionPolicy = opts.encryption ?? DEFAULT_ENCRYPTION;
    this.clock = clockWithNow(opts.clock ?? systemClock, opts.now);
    this.now = this.clock.now;
    this.uploadBucket = new TokenBucket({ rate: opts.uploadLimit ?? 0, now: this.now });
    this.downloadBucket = new TokenBucket({ rate: opts.downloadLimit ?? 0, now: this.now });
    this.rng = opts.rng ?? systemRng;
    const rng = opts.rng;
    this.randomBytes = opts.randomBytes
      ?? (rng ? (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256))) : (n: number): Buffer => randomBytes(n));
    setMaxListeners(0, this.abort.signal); // one listener per torrent
    if (opts.transport === undefined) {
      this.utp = new UtpTcpTransport(tcpTransport, new UtpSocket({ clock: this.clock, log: (m) => this.log(m) }), {
        enabled: opts.utp ?? true, tcpOutgoing: opts.tcp ?? true, tcpIncoming: opts.tcp ?? true, log: (m) => this.log(m),
        now: this.now, clock: this.clock,
      });
    }
    this.transport = opts.transport ?? this.utp!;
    if (opts.peerId !== undefined && opts.peerId.length !== 20) throw new RangeError(`peer id must be 20 bytes, got ${opts.peerId.length}`);
    this.peerId = opts.peerId !== undefined ? Buffer.from(opts.peerId) : makePeerId((n) => randomBytes(n));
    this.hasher = new HashPool(opts.hashWorkers !== undefined ? { workers: opts.hashWorkers } : {});
    this.dht = new SessionDht({
      clock: this.clock, rng: this.rng, randomBytes: this.randomBytes, reserved: this.reserved,
      port: () => this.port, udp: () => this.svc?.dhtUdp, log: (m) => this.log(m),
      onPhase: (phase, st) => this.events.emit({ event: 'dht', phase, nodes: st.nodes, good: st.good, id: st.id }),
      ...(opts.onDhtPersist ? { onPersist: opts.onDhtPersist } : {}),
      ...(opts.dhtNodeFactory ? { factory: opts.dhtNodeFactory } : {}),
    }, opts.dht);
  }

  /** Aborted when the session closes (chained to every torrent's signal). */
  get signal(): AbortSignal { return this.abort.signal; }

  private log(msg: string): void { this.opts.log?.(msg); }

  get port(): number {
    return this.server && !this.closed ? this.server.port : 0;
  }

  /** Open the public port. Rejects with BtError('PORT_IN_USE') when it is taken. */
  async listen(): Promise<number> {
    const host = this.opts.host ?? '0.0.0.0';
    this.server = await this.transport.listen(host, this.opts.port ?? 0, (stream) => this.onConnection(stream),
      (err) => this.log(`listener error: ${err.message}`));
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) this.ownAddresses.add(i.address);
    this.svc = new SessionServices({
      port: this.port, host, peerId: this.peerId, now: this.now, rng: this.rng, clock: this.clock,
      openTracker: this.opts.openTracker ?? false, udp: this.opts.udp ?? true,
      isKnown: (h) => this.torrents.has(h) || this.magnets.has(h),
      lsd: this.opts.lsd ?? false,
      onLsdPeer: (h, ip, port) => {
        const named = this.wireName(h);
        const t = this.torrents.get(named);
        if (t) t.addPeer(ip, port, 'lsd'); else this.magnets.get(named)?.addPeer(ip, port, 'lsd');
      },
      log: (m) => this.log(m),
    });
    // The embedded tracker treats both names of a hybrid as one swarm (BEP 52).
    for (const [alias, wire] of this.v2Names) this.svc.swarms.setAlias(alias, wire);
    await this.svc.start();
    const udp = this.svc.udp;
    if (this.utp && udp.bound) {
      udp.setOwner('utp', (msg, from) => this.utp!.socket.handleDatagram(msg, from));
      this.utp.socket.attach((buf, port, h) => udp.send(buf, port, h), host === '0.0.0.0' ? undefined : host);
    }
    this.dht.start();
    this.timer = this.clock.setInterval(() => this.tick(), 1000);
    this.events.emit({ event: 'listening', port: this.port, host });
    return this.port;
  }

  private onConnection(socket: PeerStream): void {
    socket.on('error', () => { /* handled where the socket is consumed; never crash */ });
    if (this.closed || this.pendingHandshakes >= MAX_PENDING_HANDSHAKES || this.connectionCount() >= (this.opts.maxConnections ?? 200)) {
      socket.destroy();
      return;
    }
    this.pendingHandshakes++;
    let pending = true;
    const finish = (): void => {
      if (!pending) return;
      pending = false;
      this.pendingHandshakes--;
      this.clock.clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onAbort);
    };
    const timer = this.clock.setTimeout(() => { finish(); socket.destroy(); }, HANDSHAKE_TIMEOUT_MS);
    // Not yet handed to a torrent: the session's abort ends it (and its timer).
    const onAbort = (): void => { finish(); socket.destroy(); };
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', finish);
    // Sniff the first bytes: 19 + "BitTorrent protocol" starts a plaintext handshake (BEP 3), `GET ` the embedded
    // HTTP tracker, anything else an MSE/PE handshake. At most 20 bytes are held to tell.
    const where = (): string => formatPeerAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const refuse = (why: string): void => { finish(); this.log(`incoming ${where()}: ${why}`); socket.destroy(); };
    let first: Buffer = Buffer.alloc(0);
    const onFirst = (chunk: Buffer): void => {
      first = first.length === 0 ? chunk : Buffer.concat([first, chunk]);
      const kind = classifyIncoming(first);
      if (kind === 'more') return;
      socket.off('data', onFirst);
      socket.pause();
      if (kind === 'http') {
        finish();
        if (this.services) this.services.handleHttp(socket, first);
        else socket.destroy();
        return;
      }
      const refusal = incomingRefusal(this.encryption, kind);
      if (refusal) { refuse(refusal); return; }
      const handshake = kind === 'plain'
        ? readHandshake(socket, HANDSHAKE_TIMEOUT_MS, first, this.clock).then((r) => ({ ...r, stream: socket, skey: undefined }))
        : mseAccept(socket, first, { ...receiverMethods(this.encryption), findTorrent: (k) => this.findMseTorrent(k), random: this.randomBytes },
          HANDSHAKE_TIMEOUT_MS, this.clock).then((m) => {
          this.log(`incoming ${where()}: MSE handshake done (${m.result.method === CRYPTO_RC4 ? 'RC4' : 'plaintext'} selected)`);
          return m;
        }).then((m) => readHandshake(m.stream, HANDSHAKE_TIMEOUT_MS, m.payload, this.clock)
          .then((r) => ({ ...r, stream: m.stream, skey: m.result.infoHash })));
      handshake.then(({ handshake: hs, rest, stream, skey }) => {
        finish();
        if (skey && !skey.equals(hs.infoHash)) { refuse('MSE torrent and handshake info-hash differ'); stream.destroy(); return; }
        // A hybrid torrent is found by either of its names (v1, truncated v2): one swarm (BEP 52).
        const named = this.wireName(hs.infoHash.toString('hex'));
        const torrent = this.torrents.get(named);
        const magnet = torrent ? undefined : this.magnets.get(named);
        if (magnet) { magnet.acceptIncoming(stream, hs, rest, skey !== undefined); return; }
        if (!torrent) {
          this.log(`refused ${where()}: unknown info-hash ${hs.infoHash.toString('hex')}`);
          stream.destroy();
          return;
        }
        torrent.acceptIncoming(stream, hs, rest, skey !== undefined);
      }, (err: unknown) => refuse(errorMessage(err)));
    };
    socket.on('data', onFirst);
    socket.resume();
  }

  /** uTP on or off from now on (incoming SYNs are then reset, dials go over TCP); open connections stay. */
  setUtp(enabled: boolean): void { this.utp?.setEnabled(enabled); }

  /** Is uTP on (false with a custom transport)? */
  get utpEnabled(): boolean { return this.utp?.enabled ?? false; }
  /** The MSE/PE policy of this session's connections. */
  get encryption(): EncryptionPolicy { return this.encryptionPolicy; }

  /** Change the MSE/PE policy; it applies to the connections made from now on. */
  setEncryption(policy: EncryptionPolicy): void { this.encryptionPolicy = policy; }

  /** HASH('req2', info-hash) of each torrent and pending magnet, computed once per info-hash. */
  private readonly mseKeys = new Map<string, string>();

  /**
   * Second names: a hybrid torrent's (or hybrid magnet's) SHA-256 info-hash truncated to 20 bytes (hex) → its wire
   * info-hash (hex, the v1 SHA-1), the key of `torrents` / `magnets`. Entries whose target is gone are ignored.
   */
  private readonly v2Names = new Map<string, string>();

  /** The key under which the torrent or magnet named `hex` (either name of a hybrid) is kept. */
  private wireName(hex: string): string {
    const w = this.v2Names.get(hex);
    return w !== undefined && (this.torrents.has(w) || this.magnets.has(w)) ? w : hex;
  }

  /** Forget the second names of `wireHex` once neither a torrent nor a magnet is kept under it. */
  private forgetV2Names(wireHex: string): void {
    if (this.torrents.has(wireHex) || this.magnets.has(wireHex)) return;
    for (const [k, w] of this.v2Names) if (w === wireHex) { this.v2Names.delete(k); this.services?.swarms.remove(k); }
  }

  /** A hybrid's second name (its truncated v2 info-hash) routes incoming connections to `wireHex` too. */
  private addV2Name(v2: Buffer | undefined, wireHex: string): void {
    if (v2 === undefined || v2.length !== 32) return;
    const name = v2.subarray(0, 20).toString('hex');
    if (name === wireHex) return;
    this.v2Names.set(name, wireHex);
    this.services?.swarms.setAlias(name, wireHex);
  }

  /**
   * The info-hash (of a torrent or pending magnet, either name of a hybrid) whose HASH('req2', info-hash) is `key`:
   * MSE's SKEY is the info-hash the initiator will name in its handshake.
   */
  private findMseTorrent(key: Buffer): Buffer | undefined {
    const want = key.toString('hex');
    if (this.mseKeys.size > this.torrents.size + this.magnets.size + this.v2Names.size + 64) this.mseKeys.clear(); // forget removed ones
    const second = [...this.v2Names].filter(([, w]) => this.torrents.has(w) || this.magnets.has(w)).map(([k]) => k);
    for (const hex of [...this.torrents.keys(), ...this.magnets.keys(), ...second]) {
      let k = this.mseKeys.get(hex);
      if (k === undefined) { k = mseTorrentKey(Buffer.from(hex, 'hex')).toString('hex'); this.mseKeys.set(hex, k); }
      if (k === want) return Buffer.from(hex, 'hex');
    }
    return undefined;
  }

  connectionCount(): number {
    let n = 0;
    for (const t of this.torrents.values()) n += t.connectionCount;
    return n + this.pendingHandshakes;
  }

  /** Add a torrent and start it (check, then go live). Resolves once it is live. */
  async addTorrent(meta: Metainfo, opts: AddTorrentOptions): Promise<Torrent> {
    // Two torrents never share files (docs/design/storage.md): refused before anything is created.
    this.checkAdd(meta, opts.savePath);
    this.paths.claim({ key: meta.infoHashHex, label: opts.tag ? `${opts.tag} (${JSON.stringify(meta.name)})` : JSON.stringify(meta.name) }, meta, opts.savePath);
    // The queue place is taken before anything asynchronous, so torrents added together queue in the order of the calls.
    const place = Math.max(0, Math.min(opts.queuePosition ?? this.queueList.length, this.queueList.length));
    this.queueList.splice(place, 0, meta.infoHashHex);
    let storage: Storage;
    try {
      storage = opts.storage ?? await FsStorage.open(meta, opts.savePath, { asyncIo: this.opts.asyncIo ?? false, pieceWorker: this.opts.pieceWorker ?? false });
    } catch (err) {
      this.paths.release(meta.infoHashHex);
      this.unqueue(meta.infoHashHex);
      throw err;
    }
    const torrent: Torrent = new Torrent({
      meta, savePath: opts.savePath, storage, hasher: this.hasher, peerId: this.peerId, reserved: this.reserved,
      now: this.now, rng: this.rng, clock: this.clock, signal: this.abort.signal, emit: this.shared.emit, log: (m) => this.log(`[${meta.name}] ${m}`),
      canOpen: this.shared.canOpen,
      ...(this.opts.sharedReadBuffer === false ? { sharedReadBuffer: false } : {}),
      ...(this.opts.peerLimits ? { peerLimits: this.opts.peerLimits } : {}),
      ...(this.opts.uploadSlots !== undefined ? { uploadSlots: this.opts.uploadSlots } : {}),
      ...(opts.skipCheck !== undefined ? { skipCheck: opts.skipCheck } : {}),
      uploadParent: this.uploadBucket,
      downloadParent: this.downloadBucket,
      pex: this.opts.pex ?? false,
      listenPort: this.shared.listenPort,
      transport: this.transport,
      encryption: () => this.encryption,
      randomBytes: this.randomBytes,
      onYourIp: this.shared.onYourIp, dhtPort: this.shared.dhtPort, onDhtNode: this.shared.onDhtNode,
      isSelf: this.shared.isSelf,
      ...(this.services?.lsd ? { lsd: this.shared.lsd } : {}),
      // With no peer the share is not used (nobody to unchoke): not counted, which is O(torrents).
      uploadSlotShare: (): number => (torrent.connectedPeerCount === 0 ? 2 : this.uploadSlotShare()),
      onPieceDone: (i) => this.pieceDone(meta.infoHashHex, i),
      setTrackerSelf: (seed) => this.services?.swarms.setSelf(meta.infoHashHex, seed === null ? null : { port: this.port, peerId: this.peerId, seed }),
      ...(this.opts.trackers !== false && this.services && (meta.announce || meta.announceList.length > 0)
        ? { createAnnouncer: (t: Torrent, record: (e: AnnouncerEvent) => void) => this.makeAnnouncer(t, record) } : {}),
      ...(opts.paused !== undefined ? { paused: opts.paused } : {}),
      ...(opts.addedAt !== undefined ? { addedAt: opts.addedAt } : {}),
      ...(opts.restored ? { restored: opts.restored } : {}),
      ...(opts.restoredPieceLayers ? { restoredPieceLayers: opts.restoredPieceLayers } : {}),
    });
    this.torrents.set(meta.infoHashHex, torrent);
    if (meta.version === 'hybrid') this.addV2Name(meta.infoHashV2, meta.infoHashHex);
    this.queueOrder = undefined;
    opts.beforeStart?.(torrent);
    this.events.emit({ event: 'added', infoHash: meta.infoHashHex, name: meta.name, pieces: meta.pieceCount, size: dataSizeOf(meta), savePath: opts.savePath,
      version: meta.version, ...(meta.infoHashV2 ? { infoHashV2: meta.infoHashV2.toString('hex') } : {}) });
    for (const p of opts.peers ?? []) torrent.addPeer(p.host, p.port, p.source ?? 'manual');
    const weight = this.checkWeight(meta, opts);
    try {
      // Check first (in turn with other checks), then let the queue decide whether it runs now.
      if (weight > 0) await this.acquireCheck(weight);
      try {
        await torrent.start({ ...opts.plan, paused: torrent.userPaused ? true : 'queued' });
      } finally {
        if (weight > 0) this.releaseCheck(weight);
      }
    } catch (err) {
      if (opts.keepOnError && !this.closed) {
        torrent.markError(err);
        return torrent;
      }
      await this.dropFailed(torrent, storage);
      throw err;
    }
    await this.updateQueue();
    if (torrent.state === 'error' && !opts.keepOnError) {
      const reason = torrent.errorReason ?? 'torrent failed';
      await this.dropFailed(torrent, storage);
      throw new BtError('IO', reason);
    }
    return torrent;
  }

  /** Which torrent owns which file path (two torrents never share files). */
  private readonly paths = new PathClaims();

  /** The torrent (other than `except`) that lists the file at absolute path `absPath`, for messages. */
  fileOwner(absPath: string, except?: Torrent): string | undefined {
    return this.paths.fileOwner(absPath, except?.infoHashHex)?.label;
  }

  /**
   * Throw what addTorrent(meta, { savePath }) would throw before it starts: BtError('USAGE') when the torrent is in
   * the session already (or being added), BtError('PATH_CONFLICT') when its files would be another torrent's.
   */
  checkAdd(meta: Metainfo, savePath: string): void {
    if (this.torrents.has(meta.infoHashHex) || this.queueList.includes(meta.infoHashHex)) throw new BtError('USAGE', `torrent ${meta.infoHashHex} is already in the session`);
    this.paths.check(meta, savePath);
  }

  /** Throw BtError('PATH_CONFLICT') if `t`'s files at `savePath` would be another torrent's (set-location). */
  checkPaths(t: Torrent, savePath: string): void { this.paths.check(t.meta, savePath, t.infoHashHex); }

  /** A failed add: forget the torrent and remove only what its storage created (files, then empty folders). */
  private async dropFailed(torrent: Torrent, storage: Storage): Promise<void> {
    this.torrents.delete(torrent.infoHashHex);
    this.forgetV2Names(torrent.infoHashHex);
    this.paths.release(torrent.infoHashHex);
    this.unqueue(torrent.infoHashHex);
    await torrent.close().catch(() => {});
    const report = await storage.removeCreated?.().catch(() => undefined);
    if (report && (report.deleted.length > 0 || report.removedDirs.length > 0 || report.kept.length > 0)) {
      this.log(`[${torrent.meta.name}] add failed; removed what it created: ${describeDeletion(report)}`);
    }
  }

  private checkBytes = 0;
  private checkCount = 0;
  private readonly checkWaiters: Array<{ weight: number; go: () => void }> = [];

  /** Bytes the start-up check of a new torrent will hash (0: no check). */
  private checkWeight(meta: Metainfo, opts: AddTorrentOptions): number {
    const recheck = opts.plan?.recheck ?? (opts.skipCheck ? 'none' : 'all');
    if (recheck === 'none') return 0;
    if (recheck === 'all') return Math.max(1, Math.min(CHECK_BUDGET_BYTES, meta.totalLength));
    let n = 0;
    for (const _ of recheck) n++;
    return n === 0 ? 0 : Math.min(CHECK_BUDGET_BYTES, n * meta.pieceLength);
  }

  private checkFits(weight: number): boolean {
    return this.checkCount === 0 || (this.checkCount < MAX_PARALLEL_CHECKS && this.checkBytes + weight <= CHECK_BUDGET_BYTES);
  }

  private acquireCheck(weight: number): Promise<void> {
    if (this.checkWaiters.length === 0 && this.checkFits(weight)) {
      this.checkBytes += weight;
      this.checkCount++;
      return Promise.resolve();
    }
    return new Promise((go) => this.checkWaiters.push({ weight, go }));
  }

  private releaseCheck(weight: number): void {
    this.checkBytes -= weight;
    this.checkCount--;
    while (this.checkWaiters.length > 0 && (this.closed || this.checkFits(this.checkWaiters[0]!.weight))) {
      const w = this.checkWaiters.shift()!;
      this.checkBytes += w.weight;
      this.checkCount++;
      w.go();
    }
  }

  /** Callbacks that are the same for every torrent: made once, not once per torrent (a thousand torrents). */
  private readonly shared = {
    emit: (e: SessionEvent): void => this.events.emit(e),
    canOpen: (): boolean => this.connectionCount() < (this.opts.maxConnections ?? 200),
    listenPort: (): number => this.port,
    onYourIp: (ip: string, from: string): void => { if (this.ownAddresses.size < 64) this.ownAddresses.add(ip); this.dht.noteExternalAddress(ip, from); },
    dhtPort: (): number => (this.dht.running ? this.port : 0),
    onDhtNode: (host: string, port: number): void => this.dht.addNode({ host, port }),
    isSelf: (host: string, port: number): boolean => port === this.port && this.ownAddresses.has(host),
    lsd: { add: (h: string): void => this.services?.lsd?.addTorrent(h), remove: (h: string): void => this.services?.lsd?.removeTorrent(h) },
  };

  /** Tracker server and client, UDP socket, LSD: undefined until listen() (pending magnets announce through it). */
  get services(): SessionServices | undefined { return this.svc; }

  /** Listeners of pieceVerified (the state directory marks a torrent's resume data dirty). */
  private readonly pieceListeners = new Set<(t: Torrent, index: number) => void>();

  /**
   * Calls `fn` each time a torrent has verified AND written a piece (not an event of the stream: one per piece is
   * too many for a log). Returns the unsubscribe function.
   */
  onPieceVerified(fn: (t: Torrent, index: number) => void): () => void {
    this.pieceListeners.add(fn);
    return () => { this.pieceListeners.delete(fn); };
  }

  private pieceDone(infoHashHex: string, index: number): void {
    if (this.pieceListeners.size === 0) return;
    const t = this.torrents.get(infoHashHex);
    if (!t) return;
    for (const fn of this.pieceListeners) {
      try { fn(t, index); } catch (err) { this.log(`piece listener threw: ${errorMessage(err)}`); }
    }
  }

  /** Pending magnets (metadata fetches) by info-hash: incoming connections and LSD peers for them go there. */
  private readonly magnets = new Map<string, MagnetRoute>();

  /**
   * Routes incoming connections and LSD peers for `infoHashHex` to a metadata fetch, and announces it by LSD. A hybrid
   * magnet (btih and btmh) gives its v2 info-hash: connections naming its truncated form are routed there too.
   */
  registerMagnet(infoHashHex: string, route: MagnetRoute, infoHashV2?: Buffer): void {
    if (this.closed) { route.close(); return; }
    this.magnets.set(infoHashHex, route);
    this.addV2Name(infoHashV2, infoHashHex);
    if (infoHashV2?.length === 32) this.magnetV2.set(infoHashHex, infoHashV2.subarray(0, 20));
    this.dhtTick(); // a magnet's first DHT lookup now, not at the next tick
    if (!this.torrents.has(infoHashHex)) this.services?.lsd?.addTorrent(infoHashHex);
  }

  unregisterMagnet(infoHashHex: string): void {
    if (!this.magnets.delete(infoHashHex)) return;
    this.magnetV2.delete(infoHashHex);
    this.forgetV2Names(infoHashHex);
    if (!this.torrents.has(infoHashHex)) this.services?.lsd?.removeTorrent(infoHashHex);
  }

  /** A hybrid magnet's second name (truncated v2 info-hash), by its wire info-hash: the DHT announces both. */
  private readonly magnetV2 = new Map<string, Buffer>();

  /** The DHT is wanted (it runs while the session listens with a UDP socket). */
  get dhtEnabled(): boolean { return this.dht.enabled; }

  /** Turn the DHT on or off while running (the node id and node cache are kept across). */
  setDht(enabled: boolean): void { this.dht.setEnabled(enabled); }

  /** New DHT bootstrap nodes (HOST:PORT): used when the node starts again, or now if its table is empty. `dhtBootstrap` reads them. */
  setDhtBootstrap(bootstrap: readonly string[], privateNetwork?: boolean): void { this.dht.setBootstrap(bootstrap, privateNetwork); }

  get dhtBootstrap(): readonly string[] { return this.dht.bootstrap; }
  /** The DHT node's figures, or undefined when it does not run. */
  dhtStats(): DhtStats | undefined { return this.dht.stats(); }

  /** The DHT node's id and best nodes (or the last ones of a node that ran), for the state directory. */
  dhtSnapshot(): DhtPersistedState | undefined { return this.dht.snapshot(); }

  /** The session announces to trackers (not `--no-tracker`). */
  get trackersEnabled(): boolean { return this.opts.trackers !== false; }

  /** Is `host:port` this session (our listen port on a loopback, local or peer-reported address)? */
  isSelf(host: string, port: number): boolean { return this.shared.isSelf(host, port); }

  /** Peer sockets read into the shared buffer where Node allows it (the `sharedReadBuffer` option). */
  get sharedReadBuffer(): boolean { return this.opts.sharedReadBuffer !== false; }
  /** How many torrents download / seed at once (Transmission's *-queue-size); 0: no limit (the queue is off). */
  private maxActiveDownloads: number = DEFAULT_QUEUE_LIMITS.downloads;
  private maxActiveSeeds: number = DEFAULT_QUEUE_LIMITS.seeds;

  /** The queue limits now. */
  get queueLimits(): { downloads: number; seeds: number } { return { downloads: this.maxActiveDownloads, seeds: this.maxActiveSeeds }; }

  /** Sets how many torrents download and seed at once (0: no limit; absent: unchanged), applied at the queue's next pass. */
  setQueueLimits(limits: { downloads?: number | undefined; seeds?: number | undefined }): void {
    if (limits.downloads !== undefined && Number.isFinite(limits.downloads)) this.maxActiveDownloads = Math.max(0, Math.floor(limits.downloads));
    if (limits.seeds !== undefined && Number.isFinite(limits.seeds)) this.maxActiveSeeds = Math.max(0, Math.floor(limits.seeds));
  }
  private queueRunning: Promise<void> | undefined;
  /** The queue: info-hashes in queue order (a torrent's place is taken when its add starts). */
  private readonly queueList: string[] = [];
  /** The torrents in queue order (undefined: to be made again from queueList). */
  private queueOrder: Torrent[] | undefined;

  /** The torrents in queue order (first = first to start). A fresh array. */
  queue(): Torrent[] {
    return (this.queueOrder ??= this.queueList.flatMap((h) => { const t = this.torrents.get(h); return t ? [t] : []; })).slice();
  }

  private unqueue(infoHashHex: string): void {
    const i = this.queueList.indexOf(infoHashHex);
    if (i >= 0) this.queueList.splice(i, 1);
    this.queueOrder = undefined;
  }
  private queueAgain = false;

  /**
   * Start queued torrents while there is room, queue running ones beyond the limits, in queue order. User-paused
   * torrents, torrents in error and torrents being checked are left alone.
   */
  async updateQueue(): Promise<void> {
    if (this.queueRunning) { this.queueAgain = true; return this.queueRunning; }
    this.queueRunning = (async () => {
      // Calls made in the same turn of the event loop (torrents whose checks ended together) share one pass.
      await new Promise<void>((resolve) => setImmediate(resolve));
      do {
        this.queueAgain = false;
        // Made once per change of the torrent set, not at every pass: a thousand torrents added together make a
        // thousand passes.
        const list = this.queueOrder ??= this.queue();
        let downloads = 0;
        let seeds = 0;
        for (const t of list) {
          if (this.closed) return;
          if (t.userPaused || t.state === 'error' || t.state === 'checking' || t.state === 'stopped') continue;
          const seeding = t.done;
          const max = seeding ? this.maxActiveSeeds : this.maxActiveDownloads;
          const room = max === 0 || (seeding ? seeds : downloads) < max;
          if (room) {
            if (seeding) seeds++; else downloads++;
            if (t.state === 'queued' || t.state === 'paused') {
              // One torrent's failure (e.g. its folder is read-only) puts it in error; the others go on.
              try { await t.resume(); } catch (err) { t.markError(err); }
            }
          } else if (t.state === 'downloading' || t.state === 'seeding') {
            await t.pause('queued');
          }
        }
      } while (this.queueAgain);
    })().finally(() => { this.queueRunning = undefined; });
    return this.queueRunning;
  }

  /**
   * Upload slots are shared fairly across torrents: a global budget (`globalUploadSlots`, default 16) divided among
   * the torrents that have interested peers, at least 2 and at most 8 each (one more optimistic slot each in leech
   * mode, from the choker).
   */
  uploadSlotShare(): number {
    if (this.opts.uploadSlots !== undefined) return this.opts.uploadSlots;
    let active = 0;
    for (const t of this.torrents.values()) {
      if (t.connectedPeerCount === 0 || (t.state !== 'downloading' && t.state !== 'seeding')) continue;
      if (t.hasInterestedPeer) active++;
    }
    return Math.max(2, Math.min(8, Math.floor(16 / Math.max(1, active))));
  }

  /** Paused by the user: the queue leaves it alone until resumeTorrent(). */
  async pauseTorrent(t: Torrent): Promise<void> {
    await t.userPause();
    await this.updateQueue();
  }

  /** The user's pause is lifted: the queue starts it when there is room. */
  async resumeTorrent(t: Torrent): Promise<void> {
    await t.userResume();
    await this.updateQueue();
  }

  async removeTorrent(t: Torrent): Promise<void> {
    this.torrents.delete(t.infoHashHex);
    this.forgetV2Names(t.infoHashHex);
    this.paths.release(t.infoHashHex);
    this.unqueue(t.infoHashHex);
    this.services?.swarms.remove(t.infoHashHex);
    await t.close('torrent removed');
    await this.updateQueue();
  }

  private makeAnnouncer(t: Torrent, record: (e: AnnouncerEvent) => void): Announcer {
    const services = this.services!;
    return new Announcer({
      tiers: t.meta.announceList, ...(t.meta.announce ? { announce: t.meta.announce } : {}),
      infoHash: t.infoHash, peerId: this.peerId, port: this.port, key: this.trackerKey,
      // A hybrid announces its truncated v2 info-hash too (BEP 52; libtorrent 2 does): peers of both, one swarm.
      ...(t.meta.version === 'hybrid' && t.meta.infoHashV2 ? { infoHashV2: t.meta.infoHashV2.subarray(0, 20) } : {}),
      stats: () => ({ uploaded: t.uploaded, downloaded: t.downloaded, left: t.bytesLeft() }),
      onPeers: (peers) => { for (const p of peers) t.addPeer(p.host, p.port, 'tracker'); },
      onEvent: (e) => {
        const infoHash = t.infoHashHex;
        record(e);
        if (e.type === 'announce') {
          this.events.emit({ event: 'tracker-announce', infoHash, url: e.url, trackerEvent: e.event, peers: e.peers, interval: e.interval,
            ...(e.complete !== undefined ? { complete: e.complete } : {}), ...(e.incomplete !== undefined ? { incomplete: e.incomplete } : {}) });
        } else if (e.type === 'warning') {
          this.events.emit({ event: 'tracker-warning', infoHash, url: e.url, message: e.message });
        } else {
          this.events.emit({ event: 'tracker-error', infoHash, url: e.url, message: e.message,
            ...(e.retryInSec !== undefined ? { retryInSec: e.retryInSec } : {}) });
        }
      },
      udp: services.udpClient, now: this.now, rng: this.rng, clock: this.clock,
    });
  }

  private dhtTick(now = this.now()): void {
    try { this.dht.tick(now, () => dhtSubjects(this.torrents, this.magnets, this.magnetV2)); } catch (err) { this.log(`DHT tick threw: ${errorMessage(err)}`); }
  }

  private tick(): void {
    const now = this.now();
    try { this.services?.tick(); } catch (err) { this.log(`tracker tick threw: ${errorMessage(err)}`); }
    this.dhtTick(now);
    for (const t of this.torrents.values()) {
      try { t.tick(now); } catch (err) { this.log(`tick of ${t.meta.name} threw: ${errorMessage(err)}`); }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearInterval(this.timer);
    // Checks waiting for their turn go now: their torrents are closed, so they end at once.
    for (const w of this.checkWaiters.splice(0)) { this.checkBytes += w.weight; this.checkCount++; w.go(); }
    for (const m of [...this.magnets.values()]) m.close();
    this.abort.abort(new BtError('ABORTED', 'session closed')); // chained: every torrent's signal (and dial) aborts, then each closes
    const closed = await Promise.allSettled([...this.torrents.values()].map((t) => t.close('session closed')));
    this.utp?.socket.close();
    this.dht.close();
    await this.services?.close();
    await this.server?.close();
    await this.hasher.close();
    for (const r of closed) if (r.status === 'rejected') throw r.reason; // e.g. a torrent's final sync failed: not durable
  }
}
