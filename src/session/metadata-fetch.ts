/**
 * BEP 9 (ut_metadata), fetching side: get a torrent's info dictionary from peers when all we have is its info-hash
 * (a magnet link, BEP 9/53).
 *
 * - Dials at most `maxPeers` of the given peers at a time through the transport (TCP by default), sends the
 *   BitTorrent handshake with the BEP 10 extension bit and our extended handshake (`m: { ut_metadata }`), and waits
 *   for theirs: it must name a ut_metadata id and a `metadata_size` of 1..16 MiB.
 * - Peers are grouped by the size they advertise (a liar cannot spoil the pieces of honest peers that disagree with
 *   it). Each ready peer has at most {@link PER_PEER_REQUESTS} pieces in flight; pieces are spread across peers, a
 *   piece unanswered after {@link REQUEST_TIMEOUT_MS} is asked of someone else, a reject backs that peer off.
 * - A complete assembly is checked: SHA-1 of the bytes == the v1 info-hash and/or SHA-256 == the v2 info-hash (BEP 52:
 *   a btmh magnet names the torrent by its SHA-256; the wire then uses it truncated to 20 bytes). On a mismatch its pieces are dropped; if one
 *   peer sent them all it is banned, otherwise the group switches to "exclusive" mode, where a single peer at a time
 *   provides every piece, so the next failure names the liar.
 * - Everything else a peer sends (bitfield, have, piece...) is ignored: the wire decoder runs without a geometry.
 * - A peer that rejects 4 requests in a row is dropped, so it does not hold a slot.
 * - A peer that fails (closed, bad handshake, no metadata yet) is retried up to {@link MAX_ATTEMPTS} times with a
 *   back-off, unless it is banned or serves another torrent.
 * - Persistent mode ({@link startMetadataFetch} with `persistent`, a pending magnet): no deadline, never gives up when
 *   every peer failed, retries peers forever with a back-off capped at {@link PEER_RETRY_CAP_MS}, takes new peers at
 *   any time (`addPeers`: trackers, LSD, BEP 11 ut_pex messages of connected peers) and incoming connections for the
 *   info-hash (`acceptIncoming`), and counts what it did (`counts`).
 *
 * Invariant: when the promise settles every socket it opened is destroyed and every timer cleared; only verified
 * bytes are ever resolved.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { BtError, cause, causeOf, errorMessage, isBtError, type Cause } from '../util/errors.js';
import type { PeerStream, Transport } from '../net/transport.js';
import { tcpTransport } from '../net/tcp-transport.js';
import { encodeHandshake, hasReserved, ReservedBit, type Handshake, type Message } from '../wire/codec/index.js';
import { PeerConnection } from '../wire/connection.js';
import { DEFAULT_ENCRYPTION, handshakeOut, type EncryptionPolicy } from '../wire/mse/policy.js';
import { decodeExtendedHandshake, encodeExtendedHandshake, LOCAL_EXTENSION_IDS } from '../wire/ext/extended.js';
import {
  decodeUtMetadata, encodeUtMetadata, isValidMetadataSize, metadataPieceCount, type UtMetadataMessage,
} from '../wire/ext/ut-metadata.js';
import { decodeUtPex } from '../wire/ext/ut-pex.js';
import { CLIENT_NAME } from '../util/version.js';
import { formatPeerAddress, isValidPort } from '../util/peer-address.js';
import { systemClock } from '../platform/clock.js';
import type { Clock, ClockTimer } from '../util/clock.js';

/** Options of {@link fetchMetadata}. */
export interface FetchMetadataOptions {
  /**
   * The 20-byte wire info-hash (handshakes). Unless `infoHashV2` is given, the result's SHA-1 equals it.
   */
  infoHash: Buffer;
  /** BEP 52: the 32-byte v2 info-hash (btmh); the result's SHA-256 must equal it. */
  infoHashV2?: Buffer;
  /** The 20-byte v1 info-hash (btih); the result's SHA-1 must equal it (give it with `infoHashV2` for a hybrid). */
  infoHashV1?: Buffer;
  /** Peers to ask (duplicates are dropped). */
  peers: ReadonlyArray<{ host: string; port: number }>;
  /** Our 20-byte peer id. */
  peerId: Buffer;
  /** Our 8 reserved handshake bytes; the BEP 10 extension bit is added if missing. */
  reserved: Buffer;
  /** Our TCP listen port, sent as `p` (0: not sent). */
  listenPort: number;
  signal?: AbortSignal;
  /** How peers are dialled (src/net/transport.ts). Default TCP. */
  transport?: Transport;
  /** Overall bound (default 60 s). */
  timeoutMs?: number;
  /** Connections at a time (default 8). */
  maxPeers?: number;
  /** Never give up (see the header); `timeoutMs` then bounds the fetch only when given. */
  persistent?: boolean;
  /** Told when a peer connection is made or ends (status displays). */
  onChange?(): void;
  log?(msg: string): void;
  /** Time and timers (default: the real clock; a pending magnet passes its session's). */
  clock?: Clock;
  /** Peer sockets read into the shared buffer where Node allows it (default true; src/wire/node-internals.ts). */
  sharedReadBuffer?: boolean;
  /** MSE/PE policy of our dials (src/wire/mse/policy.ts); default `enabled`. */
  encryption?: () => EncryptionPolicy;
  /** Random bytes for MSE/PE handshakes (default node:crypto's). */
  randomBytes?: (n: number) => Buffer;
}

/** Pieces in flight per peer. */
export const PER_PEER_REQUESTS = 4;
/** A request unanswered this long is given to another peer. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Bound for TCP connect plus both handshakes. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Connection attempts per peer. */
export const MAX_ATTEMPTS = 3;
/** Persistent mode: longest wait before a failed peer is dialled again. */
export const PEER_RETRY_CAP_MS = 30_000;
/** Most distinct peers we keep from the caller's list. */
const MAX_CANDIDATES = 1000;
const TICK_MS = 250;
const KEEPALIVE_MS = 60_000;
/** Requests from a peer (for our metadata, which we do not have) answered with a reject; more are ignored. */
const MAX_REJECTS_SENT = 64;
/** Rejects in a row after which a peer is dropped (and retried later). */
const MAX_REJECTS = 4;

/** A geometry the decoder never sees: null skips bitfield/index checks (see MessageDecoder). */
const NO_GEOMETRY = null;

interface Candidate {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  attempts: number;
  /** Not dialled again before this time. */
  notBefore: number;
  /** Never dialled again (banned, wrong torrent, ourselves). */
  dead: boolean;
  active: boolean;
  /** Encryption `enabled`: the next dial is plaintext (the last MSE attempt failed); flipped at each failure. */
  plainNext?: boolean;
}

/** What a fetch has done so far (for status displays). */
export interface FetchCounts {
  /** Distinct peer addresses known. */
  known: number;
  /** Of those, dialled at least once. */
  tried: number;
  /** Connections open now (outgoing and incoming). */
  connected: number;
}

/** A running fetch: its result, and ways to feed it peers while it runs. */
export interface MetadataFetch {
  readonly promise: Promise<Buffer>;
  /** More peers to try (duplicates are dropped). */
  addPeers(peers: ReadonlyArray<{ host: string; port: number }>): void;
  /** An incoming connection whose handshake (for this info-hash) has been read; ours is sent here. */
  acceptIncoming(socket: PeerStream, theirHandshake: Handshake, rest: Buffer): void;
  counts(): FetchCounts;
  /** Every dialable address known: given, added, learned by PEX, and the listen port (`p`) of incoming peers. */
  addresses(): Array<{ host: string; port: number }>;
}

interface Assembly {
  readonly size: number;
  readonly pieces: Array<Buffer | undefined>;
  readonly from: Array<FetchPeer | undefined>;
  /** After a failure with several contributors: one peer at a time provides every piece. */
  exclusive: boolean;
  owner: FetchPeer | undefined;
  /** Pieces present. */
  received: number;
}

interface FetchPeer {
  readonly cand: Candidate;
  conn: PeerConnection | undefined;
  theirId: number;
  assembly: Assembly | undefined;
  /** piece → time requested. */
  readonly outstanding: Map<number, number>;
  backoffUntil: number;
  backoffMs: number;
  /** Rejects received since the last data message. */
  rejects: number;
  rejectsSent: number;
  readonly connectedAt: number;
}

/**
 * Do the info-dict bytes match the hashes the fetch was given? SHA-256 against the v2 hash when there is one (btmh),
 * SHA-1 against the v1 hash (btih); with neither, SHA-1 against the wire hash. Every hash given must match.
 */
export function metadataMatches(bytes: Buffer, h: { infoHash: Buffer; infoHashV1?: Buffer | undefined; infoHashV2?: Buffer | undefined }): boolean {
  const v1 = h.infoHashV1 ?? (h.infoHashV2 === undefined ? h.infoHash : undefined);
  if (v1 !== undefined && !createHash('sha1').update(bytes).digest().equals(v1)) return false;
  if (h.infoHashV2 !== undefined && !createHash('sha256').update(bytes).digest().equals(h.infoHashV2)) return false;
  return true;
}

/**
 * Fetches and verifies a torrent's info dictionary (BEP 9) from the given peers.
 * @returns the raw info-dict bytes, whose SHA-1 equals `infoHash` (and/or SHA-256 equals `infoHashV2`).
 * @throws BtError('TIMEOUT') when no peer delivered within `timeoutMs` (or every peer failed for good),
 *   BtError('ABORTED') when `signal` fires; RangeError for bad arguments.
 */
export function fetchMetadata(opts: FetchMetadataOptions): Promise<Buffer> {
  return startMetadataFetch(opts).promise;
}

/** {@link fetchMetadata}, with a handle to add peers and incoming connections while it runs. */
export function startMetadataFetch(opts: FetchMetadataOptions): MetadataFetch {
  if (opts.infoHash.length !== 20) throw new RangeError('infoHash must be 20 bytes');
  if (opts.infoHashV2 !== undefined && opts.infoHashV2.length !== 32) throw new RangeError('infoHashV2 must be 32 bytes');
  if (opts.infoHashV1 !== undefined && opts.infoHashV1.length !== 20) throw new RangeError('infoHashV1 must be 20 bytes');
  if (opts.peerId.length !== 20) throw new RangeError('peerId must be 20 bytes');
  if (opts.reserved.length !== 8) throw new RangeError('reserved must be 8 bytes');
  const f = new MetadataFetcher(opts);
  const promise = f.run();
  return {
    promise,
    addPeers: (peers) => f.addPeers(peers),
    acceptIncoming: (socket, hs, rest) => f.acceptIncoming(socket, hs, rest),
    counts: () => f.counts(),
    addresses: () => f.addresses(),
  };
}

class MetadataFetcher {
  private readonly candidates: Candidate[] = [];
  private readonly peers = new Set<FetchPeer>();
  private readonly sockets = new Set<PeerStream>();
  /** Aborted when the fetch ends: connection attempts still opening stop then. */
  private readonly dials = new AbortController();
  private readonly assemblies = new Map<number, Assembly>();
  private readonly reserved: Buffer;
  private readonly maxPeers: number;
  private readonly log: (m: string) => void;
  private done = false;
  private resolve: ((b: Buffer) => void) | undefined;
  private reject!: (e: Error) => void;
  private timer: ClockTimer | undefined;
  private deadline: ClockTimer | undefined;
  private readonly clock: Clock;
  private readonly onAbort = (): void => this.finish(new BtError('ABORTED', 'metadata fetch aborted'));

  constructor(private readonly opts: FetchMetadataOptions) {
    this.reserved = Buffer.from(opts.reserved);
    this.reserved[ReservedBit.EXTENSION_PROTOCOL.byte]! |= ReservedBit.EXTENSION_PROTOCOL.mask;
    this.maxPeers = Math.max(1, opts.maxPeers ?? 8);
    this.log = opts.log ?? ((): void => undefined);
    this.clock = opts.clock ?? systemClock;
    // One listener per dial in progress (at most maxPeers, removed when the dial settles): no leak to warn about.
    setMaxListeners(0, this.dials.signal);
    this.addPeers(opts.peers);
  }

  private readonly seen = new Set<string>();

  addPeers(peers: ReadonlyArray<{ host: string; port: number }>): void {
    if (this.done) return;
    let added = false;
    for (const p of peers) {
      if (!isValidPort(p.port) || !p.host) continue;
      const key = formatPeerAddress(p.host, p.port);
      if (this.seen.has(key) || this.seen.size >= MAX_CANDIDATES) continue;
      this.seen.add(key);
      this.candidates.push({ host: p.host, port: p.port, key, attempts: 0, notBefore: 0, dead: false, active: false });
      added = true;
    }
    // Dial now rather than at the next tick (only once running: the constructor adds the first list).
    if (added && this.resolve !== undefined) queueMicrotask(() => this.guard(() => this.tick()));
  }

  addresses(): Array<{ host: string; port: number }> {
    return this.candidates.map((c) => ({ host: c.host, port: c.port }));
  }

  counts(): FetchCounts {
    let tried = 0;
    for (const c of this.candidates) if (c.attempts > 0) tried++;
    return { known: this.candidates.length, tried, connected: this.peers.size };
  }

  /** An incoming connection for our info-hash: answer its handshake and treat it as a peer (never re-dialled). */
  acceptIncoming(socket: PeerStream, hs: Handshake, rest: Buffer): void {
    if (this.done || this.peers.size >= this.maxPeers * 2 || hs.peerId.equals(this.opts.peerId)
      || !hasReserved(hs.reserved, ReservedBit.EXTENSION_PROTOCOL)) { socket.destroy(); return; }
    const key = `in:${formatPeerAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}`;
    const c: Candidate = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, key, attempts: 1, notBefore: 0, dead: true, active: true };
    this.log(`metadata: incoming connection from ${key.slice(3)}`);
    // A hybrid link reached by its truncated v2 name (the session routes both names here) is answered by that name.
    const v2Name = this.opts.infoHashV2?.subarray(0, 20);
    const name = v2Name !== undefined && v2Name.equals(hs.infoHash) ? v2Name : this.opts.infoHash;
    socket.write(encodeHandshake({ reserved: this.reserved, infoHash: name, peerId: this.opts.peerId }));
    this.guard(() => this.attach(c, socket, rest, hasReserved(hs.reserved, ReservedBit.FAST) && hasReserved(this.reserved, ReservedBit.FAST)));
  }

  run(): Promise<Buffer> {
    const promise = new Promise<Buffer>((res, rej) => { this.resolve = res; this.reject = rej; });
    const signal = this.opts.signal;
    if (signal?.aborted) { this.onAbort(); return promise; }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const timeoutMs = this.opts.timeoutMs ?? (this.opts.persistent ? undefined : 60_000);
    if (timeoutMs !== undefined) {
      this.deadline = this.clock.setTimeout(() => this.finish(new BtError('TIMEOUT', `no peer delivered the metadata within ${timeoutMs} ms`)), timeoutMs);
    }
    this.timer = this.clock.setInterval(() => this.guard(() => this.tick()), TICK_MS);
    this.guard(() => this.tick());
    return promise;
  }

  /** Error boundary for timer and socket callbacks (reliability rule 11 in docs/design/reliability.md). */
  private guard(fn: () => void): void {
    try { fn(); } catch (e) { this.finish(e instanceof Error ? e : new Error(String(e))); }
  }

  private finish(result: Buffer | Error): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearInterval(this.timer);
    this.clock.clearTimeout(this.deadline);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    for (const p of this.peers) p.conn?.close(cause('local', 'NOT_NEEDED', 'metadata fetch finished'));
    this.dials.abort();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.peers.clear();
    if (Buffer.isBuffer(result)) this.resolve!(result); else this.reject(result);
  }

  private tick(): void {
    if (this.done) return;
    const now = this.clock.now();
    for (const p of this.peers) {
      if (!p.conn) continue;
      if (p.theirId === 0 && now - p.connectedAt > HANDSHAKE_TIMEOUT_MS) { p.conn.close(cause('timeout', 'TIMEOUT', 'no extended handshake')); continue; }
      // A peer that sits on a request is dropped (and retried later); its pieces go to others.
      for (const at of p.outstanding.values()) if (now - at > REQUEST_TIMEOUT_MS) { p.conn.close(cause('timeout', 'TIMEOUT', 'metadata request timed out')); break; }
      if (p.conn.closed) continue;
      if (now - p.conn.lastSentAt > KEEPALIVE_MS) p.conn.send({ type: 'keepAlive' });
    }
    this.schedule(now);
    let active = 0;
    for (const c of this.candidates) if (c.active) active++;
    const maxAttempts = this.opts.persistent ? Infinity : MAX_ATTEMPTS;
    for (const c of this.candidates) {
      if (active >= this.maxPeers) break;
      if (c.active || c.dead || c.attempts >= maxAttempts || c.notBefore > now) continue;
      active++;
      this.dial(c);
    }
    if (!this.opts.persistent && active === 0 && this.candidates.every((c) => c.dead || c.attempts >= MAX_ATTEMPTS)) {
      this.finish(new BtError('TIMEOUT', `no peer delivered the metadata (${this.candidates.length} tried)`));
    }
  }

  private dial(c: Candidate): void {
    c.active = true;
    c.attempts++;
    this.log(`metadata: dialling ${c.key} (attempt ${c.attempts})`);
    // The transport keeps an error event from ever being unhandled; errors also end in 'close', which the owner of
    // the moment handles.
    const transport = this.opts.transport ?? tcpTransport;
    const policy = this.opts.encryption?.() ?? DEFAULT_ENCRYPTION;
    const encrypted = policy === 'forced' || (policy === 'enabled' && c.plainNext !== true);
    transport.connect(c.host, c.port, { signal: this.dials.signal, timeoutMs: HANDSHAKE_TIMEOUT_MS }).then((socket) => {
      if (this.done) { socket.destroy(); return; }
      this.sockets.add(socket);
      const fail = (reason: string, dead = false): void => {
        socket.destroy();
        this.sockets.delete(socket);
        this.candidateDone(c, reason, dead);
      };
      handshakeOut(socket, {
        encrypted, policy, reserved: this.reserved, infoHash: this.opts.infoHash, peerId: this.opts.peerId,
        timeoutMs: HANDSHAKE_TIMEOUT_MS, clock: this.clock,
        ...(this.opts.randomBytes ? { random: this.opts.randomBytes } : {}),
      }).then(({ stream, handshake, rest }) => {
        if (this.done) { socket.destroy(); return; }
        if (!handshake.infoHash.equals(this.opts.infoHash)) { fail('wrong info-hash in handshake', true); return; }
        if (handshake.peerId.equals(this.opts.peerId)) { fail('connected to ourselves', true); return; }
        if (!hasReserved(handshake.reserved, ReservedBit.EXTENSION_PROTOCOL)) { fail('no extension protocol (BEP 10)', true); return; }
        this.sockets.delete(socket);
        this.guard(() => this.attach(c, stream, rest, hasReserved(handshake.reserved, ReservedBit.FAST)
          && hasReserved(this.reserved, ReservedBit.FAST)));
      }, (e: unknown) => {
        // Encryption `enabled`: the next attempt goes the other way (MSE ↔ plaintext), as libtorrent does.
        if (policy === 'enabled') c.plainNext = encrypted;
        fail(`${encrypted ? 'encrypted ' : ''}handshake failed: ${errorMessage(e)}`);
        if (policy === 'enabled' && encrypted && !c.dead) c.notBefore = this.clock.now(); // retry in plaintext at once
      });
    }, (e: unknown) => {
      if (this.done) return; // aborted by finish(): nothing left to account for
      this.candidateDone(c, isBtError(e, 'TIMEOUT') ? 'connect timed out' : `connect failed: ${errorMessage(e)}`, false);
    });
  }

  private candidateDone(c: Candidate, reason: string, dead: boolean): void {
    if (!c.active) return;
    c.active = false;
    if (dead) c.dead = true;
    const backoff = 1000 * 2 ** Math.min(c.attempts, 16);
    c.notBefore = this.clock.now() + (this.opts.persistent ? Math.min(PEER_RETRY_CAP_MS, backoff) : backoff);
    this.log(`metadata: ${c.key}: ${reason}`);
    this.opts.onChange?.();
    if (!this.done) queueMicrotask(() => this.guard(() => this.tick()));
  }

  private attach(c: Candidate, socket: PeerStream, rest: Buffer, fast: boolean): void {
    const p: FetchPeer = {
      cand: c, conn: undefined, theirId: 0, assembly: undefined, outstanding: new Map(), backoffUntil: 0, backoffMs: 0,
      rejects: 0, rejectsSent: 0, connectedAt: this.clock.now(),
    };
    this.peers.add(p);
    // Send before constructing the connection: `rest` may already hold their extended handshake.
    p.conn = new PeerConnection(socket, NO_GEOMETRY, {
      onMessage: (m) => this.onMessage(p, m),
      onClose: (why) => this.onClose(p, why),
    }, this.clock.now, undefined, this.opts.sharedReadBuffer === false ? { sharedReadBuffer: false } : {});
    if (fast) p.conn.send({ type: 'haveNone' });
    p.conn.send({ type: 'extended', id: 0, payload: encodeExtendedHandshake({
      // A pending magnet also learns peers by BEP 11 peer exchange.
      m: this.opts.persistent ? { ut_metadata: LOCAL_EXTENSION_IDS.ut_metadata, ut_pex: LOCAL_EXTENSION_IDS.ut_pex }
        : { ut_metadata: LOCAL_EXTENSION_IDS.ut_metadata },
      v: CLIENT_NAME, reqq: 250,
      ...(this.opts.listenPort > 0 && this.opts.listenPort < 65536 ? { p: this.opts.listenPort } : {}),
    }) });
    if (rest.length > 0) p.conn.feed(rest);
    this.opts.onChange?.();
  }

  private onClose(p: FetchPeer, why: Cause): void {
    if (!this.peers.delete(p)) return;
    const a = p.assembly;
    if (a?.owner === p) a.owner = undefined;
    this.candidateDone(p.cand, why.message, false);
  }

  private drop(p: FetchPeer, why: Cause, ban = false): void {
    if (ban) p.cand.dead = true;
    p.conn?.close(why);
  }

  private onMessage(p: FetchPeer, msg: Message): void {
    if (msg.type !== 'extended') return; // bitfield, have, piece...: irrelevant here
    if (msg.id === 0) { this.onExtendedHandshake(p, msg.payload); return; }
    if (msg.id === LOCAL_EXTENSION_IDS.ut_pex && this.opts.persistent) {
      const r = decodeUtPex(msg.payload);
      if (!r.ok) { this.log(`metadata: bad ut_pex from ${p.cand.key}: ${r.message}`); return; }
      const added = r.value.added;
      if (added.length > 0) this.log(`metadata: ${added.length} peer(s) by PEX from ${p.cand.key}`);
      this.addPeers(added);
      return;
    }
    if (msg.id !== LOCAL_EXTENSION_IDS.ut_metadata) return;
    let m: UtMetadataMessage;
    try { m = decodeUtMetadata(msg.payload); } catch (e) { this.drop(p, causeOf(e, 'protocol')); return; }
    this.onUtMetadata(p, m);
  }

  private onExtendedHandshake(p: FetchPeer, payload: Buffer): void {
    const h = decodeExtendedHandshake(payload); // a throw closes the connection (PeerConnection's boundary)
    // An incoming peer's listen port: a dialable address (for a retry, and for the torrent once we have the metadata).
    if (p.cand.key.startsWith('in:') && h.p !== undefined && p.cand.host !== '') this.addPeers([{ host: p.cand.host, port: h.p }]);
    const id = h.m['ut_metadata'] ?? 0;
    if (id <= 0) { this.drop(p, cause('local', 'NOT_NEEDED', 'peer does not support ut_metadata'), true); return; }
    if (h.metadataSize === undefined) { p.conn?.close(cause('local', 'NOT_NEEDED', 'peer has no metadata (yet)')); return; }
    if (!isValidMetadataSize(h.metadataSize)) { this.drop(p, cause('protocol', 'PROTOCOL', `bad metadata_size ${h.metadataSize}`), true); return; }
    if (p.assembly && p.assembly.size !== h.metadataSize) { this.drop(p, cause('protocol', 'PROTOCOL', 'metadata_size changed'), true); return; }
    p.theirId = id;
    if (!p.assembly) {
      let a = this.assemblies.get(h.metadataSize);
      if (!a) {
        const n = metadataPieceCount(h.metadataSize);
        a = { size: h.metadataSize, pieces: new Array<Buffer | undefined>(n), from: new Array<FetchPeer | undefined>(n),
          exclusive: false, owner: undefined, received: 0 };
        this.assemblies.set(h.metadataSize, a);
      }
      p.assembly = a;
    }
    this.schedule(this.clock.now());
  }

  private onUtMetadata(p: FetchPeer, m: UtMetadataMessage): void {
    if (m.type === 'request') {
      if (p.theirId > 0 && p.rejectsSent++ < MAX_REJECTS_SENT) {
        p.conn?.send({ type: 'extended', id: p.theirId, payload: encodeUtMetadata({ type: 'reject', piece: m.piece }) });
      }
      return;
    }
    if (!p.outstanding.delete(m.piece)) return; // not asked of this peer (or timed out): dropped, never used
    const a = p.assembly!;
    if (m.type === 'reject') {
      // A peer that only rejects holds a connection slot for nothing: let another candidate have it.
      if (++p.rejects >= MAX_REJECTS) { this.drop(p, cause('local', 'LIMIT', `${p.rejects} metadata requests rejected`)); return; }
      p.backoffMs = Math.min(60_000, p.backoffMs === 0 ? 2000 : p.backoffMs * 2);
      p.backoffUntil = this.clock.now() + p.backoffMs;
      if (a.owner === p && p.outstanding.size === 0) a.owner = undefined;
      this.schedule(this.clock.now());
      return;
    }
    if (m.totalSize !== a.size) { this.drop(p, cause('protocol', 'PROTOCOL', `total_size ${m.totalSize} != metadata_size ${a.size}`), true); return; }
    if (a.exclusive && a.owner !== p) return;
    p.backoffMs = 0;
    p.rejects = 0;
    if (a.pieces[m.piece] === undefined) {
      a.pieces[m.piece] = m.data;
      a.from[m.piece] = p;
      a.received++;
    }
    if (a.received === a.pieces.length) { this.verify(a); return; }
    this.schedule(this.clock.now());
  }

  private verify(a: Assembly): void {
    const bytes = Buffer.concat(a.pieces as Buffer[], a.size);
    if (metadataMatches(bytes, this.opts)) { this.finish(bytes); return; }
    const contributors = new Set(a.from);
    this.log(`metadata: assembly of ${a.size} bytes failed the info-hash check (${contributors.size} peer(s))`);
    a.pieces.fill(undefined);
    a.from.fill(undefined);
    a.received = 0;
    for (const p of this.peers) if (p.assembly === a) p.outstanding.clear();
    if (contributors.size === 1) {
      const liar = [...contributors][0];
      if (liar) this.drop(liar, cause('hash', 'BANNED', 'sent metadata that fails the info-hash check'), true);
      a.owner = undefined;
    } else {
      a.exclusive = true;
      a.owner = undefined;
    }
    this.schedule(this.clock.now());
  }

  /** Hands out requests: spread across ready peers, or to the single owner in exclusive mode. */
  private schedule(now: number): void {
    if (this.done) return;
    for (const a of this.assemblies.values()) {
      const ready = [...this.peers].filter((p) => p.assembly === a && p.theirId > 0 && p.conn && !p.conn.closed);
      if (a.exclusive) {
        if (!a.owner || !this.peers.has(a.owner)) {
          a.owner = ready.find((p) => p.backoffUntil <= now);
          if (!a.owner) continue;
          // Pieces from earlier owners are not mixed with the new owner's.
          for (let i = 0; i < a.pieces.length; i++) if (a.from[i] !== a.owner && a.pieces[i]) { a.pieces[i] = undefined; a.from[i] = undefined; a.received--; }
        }
        this.fill(a, a.owner, now, new Set());
        continue;
      }
      const inFlight = new Set<number>();
      for (const p of ready) for (const piece of p.outstanding.keys()) inFlight.add(piece);
      for (const p of ready) this.fill(a, p, now, inFlight);
    }
  }

  private fill(a: Assembly, p: FetchPeer, now: number, inFlight: Set<number>): void {
    if (p.backoffUntil > now || !p.conn || p.conn.closed) return;
    for (let i = 0; i < a.pieces.length && p.outstanding.size < PER_PEER_REQUESTS; i++) {
      if (a.pieces[i] !== undefined || inFlight.has(i) || p.outstanding.has(i)) continue;
      p.outstanding.set(i, now);
      inFlight.add(i);
      p.conn.send({ type: 'extended', id: p.theirId, payload: encodeUtMetadata({ type: 'request', piece: i }) });
    }
  }
}
