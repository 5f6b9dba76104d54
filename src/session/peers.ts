/**
 * Connection management for one torrent: the candidate list, dialling, accepting, banning and dropping peers.
 *
 * Candidates come from every discovery source (`--peer`, trackers, PEX, LSD, peers saved in the resume data) and
 * are de-duplicated by `ip:port` (a peer's identity is its address AND port: many peers share one machine).
 * Failed candidates are retried with exponential backoff. Connections are capped per torrent (and globally, through
 * `canOpen()`), and attempts are rate-limited per second.
 *
 * Invariant: a key is in at most one of `connecting` and `connected`; a banned key or peer id is never connected.
 */
import { errorMessage, type Cause } from '../util/errors.js';
import { describePeerId } from '../util/peer-id.js';
import { formatPeerAddress, isValidPort } from '../util/peer-address.js';
import {
  acceptAnswer, answerIncoming, encodeHandshake, hasReserved, ReservedBit, reservedFor, type Handshake, type WireNames,
} from '../wire/codec/index.js';
import { PeerConnection, type ConnectionHandler } from '../wire/connection.js';
import { DEFAULT_ENCRYPTION, handshakeOut, type EncryptionPolicy } from '../wire/mse/policy.js';
import { systemClock } from '../platform/clock.js';
import { Peer } from './peer.js';
import type { PeerStream, Transport } from '../net/transport.js';
import type { Clock } from '../util/clock.js';
import { Rc4Stream } from '../wire/mse/stream.js';

export interface Candidate {
  host: string;
  port: number;
  source: string;
  failures: number;
  nextAttemptAt: number;
  /** Never retry (e.g. it was ourselves, or the peer is banned). */
  dead: boolean;
  /** The peer was a seed when we last saw it: not worth dialling while we are a seed too. */
  knownSeed?: boolean;
  /**
   * Encryption `enabled`: dial this peer in plaintext next (its last MSE attempt failed). Flipped at every failed
   * handshake, as libtorrent does; cleared when the peer is known to want encryption (PEX flag 0x01, BEP 10 `e`).
   */
  plainNext?: boolean;
}

export interface PeerManagerHost {
  /** The wire info-hash: what we send in our handshakes (v1 SHA-1, or the truncated SHA-256 of a v2-only torrent). */
  readonly infoHash: Buffer;
  /**
   * A hybrid torrent's other name: its SHA-256 info-hash truncated to 20 bytes (BEP 52). A peer may name the torrent
   * by it; we answer with the hash the peer used (one swarm, as libtorrent does). See handshake.ts for the upgrade.
   */
  readonly infoHashV2Truncated?: Buffer;
  /** A v2-only torrent (its `infoHash` is the truncated v2 hash): every connection is a v2 one. */
  readonly v2Only?: boolean;
  readonly peerId: Buffer;
  readonly reserved: Buffer;
  readonly pieceCount: number;
  readonly geometry: { pieceCount: number; pieceLength: number; totalLength: number };
  readonly now: () => number;
  /** Timers (the handshake deadline); default the system clock. */
  readonly clock?: Clock;
  /** The torrent's signal: its abort aborts every dial in progress (chained cancellation). */
  readonly signal?: AbortSignal;
  /** Read peer sockets into the shared buffer where Node allows it (default true). */
  readonly sharedReadBuffer?: boolean;
  /** Dials go through this (src/net/transport.ts). */
  readonly transport: Transport;
  /** MSE/PE policy (src/wire/mse/policy.ts); default `enabled`. */
  encryption?(): EncryptionPolicy;
  /** Random bytes for MSE/PE handshakes (default node:crypto's). */
  readonly randomBytes?: (n: number) => Buffer;
  /** Are we allowed to open one more connection (global limit)? */
  canOpen(): boolean;
  /** Our DHT's UDP port while the DHT runs, else 0 (BEP 5 `port` message to peers that set the DHT bit). */
  dhtPort?(): number;
  /** Should we connect out at all right now? */
  wantsOutgoing(): boolean;
  /** We are a seed: skip candidates known to be seeds. */
  isSeeding(): boolean;
  onPeerConnected(peer: Peer): void;
  onPeerMessage(peer: Peer, msg: import('../wire/codec/index.js').Message): void;
  onPeerClosed(peer: Peer, why: Cause): void;
  onPeerDrain(peer: Peer): void;
  log(message: string): void;
}

export interface PeerLimits {
  maxPeers: number;          // per torrent
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  maxDialsPerTick: number;
}

/** The most candidate addresses a torrent keeps (reliability rule 6 in docs/design/reliability.md). */
const MAX_CANDIDATES = 3000;

export const DEFAULT_PEER_LIMITS: PeerLimits = { maxPeers: 50, connectTimeoutMs: 10_000, handshakeTimeoutMs: 10_000, maxDialsPerTick: 20 };

export class PeerManager {
  readonly candidates = new Map<string, Candidate>();
  readonly connected = new Map<string, Peer>();
  /** Dials in progress, by address: aborting one ends it (connect or handshake). */
  readonly connecting = new Map<string, AbortController>();
  private readonly bannedKeys = new Map<string, string>();
  private readonly bannedIds = new Set<string>();
  /**
   * Hash-failure strikes by address, kept across reconnections (libtorrent keeps them on its peer entry): a verdict
   * can come after the peer has gone, and a peer must not clear its record by reconnecting. Bounded like the list.
   */
  private readonly strikes = new Map<string, number>();
  private stopped = false;
  private dialWindow = 0;
  private dialsInWindow = 0;
  /** Listen addresses of connected incoming peers (from BEP 10 `p`): connected already, never dialled. */
  private readonly aliases = new Map<string, Peer>();

  addAlias(key: string, peer: Peer): void { this.aliases.set(key, peer); }
  /** The torrent's names on the wire (BEP 52). */
  private readonly names: WireNames;
  /**
   * Our reserved bytes for this torrent: the host's, with the v2 upgrade bit for a hybrid only. Read at each
   * handshake: the host's change while the session runs (the DHT bit, when the DHT is turned on or off).
   */
  private get reserved(): Buffer { return reservedFor(this.host.reserved, this.names); }

  constructor(private readonly host: PeerManagerHost, private readonly limits: PeerLimits = DEFAULT_PEER_LIMITS) {
    this.names = { infoHash: host.infoHash, v2Truncated: host.infoHashV2Truncated, v2Only: host.v2Only };
  }

  get count(): number { return this.connected.size + this.connecting.size; }

  /** Add a candidate address; true when it is new. */
  addCandidate(host: string, port: number, source: string): boolean {
    if (!isValidPort(port)) return false;
    const key = formatPeerAddress(host, port);
    if (this.candidates.has(key) || this.bannedKeys.has(key)) return false;
    if (this.candidates.size >= MAX_CANDIDATES) return false; // reliability rule 6 in docs/design/reliability.md: peer list cap
    this.candidates.set(key, { host, port, source, failures: 0, nextAttemptAt: 0, dead: false });
    return true;
  }

  isBanned(key: string, peerId?: Buffer): boolean {
    return this.bannedKeys.has(key) || (peerId !== undefined && this.bannedIds.has(peerId.toString('hex')));
  }

  /** Counts one hash failure against the address `key`; returns its strikes so far. */
  strike(key: string): number {
    const n = (this.strikes.get(key) ?? 0) + 1;
    if (this.strikes.has(key) || this.strikes.size < MAX_CANDIDATES) this.strikes.set(key, n);
    return n;
  }

  /**
   * Ban the address `key`: never dialled or accepted again. When it is connected, its peer id is banned too and the
   * connection closed with `why` (code BANNED; the message is prefixed "banned: "). A peer already gone is banned all
   * the same: a hash verdict may come after the download completed and closed its connections to the seeds.
   */
  ban(key: string, why: Cause): void {
    this.bannedKeys.set(key, why.message);
    this.strikes.delete(key);
    const c = this.candidates.get(key);
    if (c) c.dead = true;
    const peer = this.connected.get(key);
    if (!peer) return;
    this.bannedIds.add(peer.peerId.toString('hex'));
    peer.conn.close({ ...why, message: `banned: ${why.message}` });
  }

  /** Dial due candidates up to the limits. Called from the torrent's tick. */
  tick(now: number): void {
    if (this.stopped || !this.host.wantsOutgoing()) return;
    // Connection attempts are rate limited per second window, however often tick() runs (reliability rule 12 in
    // docs/design/reliability.md: 20/s).
    const second = Math.floor(now / 1000);
    if (second !== this.dialWindow) { this.dialWindow = second; this.dialsInWindow = 0; }
    for (const [key, c] of this.candidates) {
      if (this.count >= this.limits.maxPeers || this.dialsInWindow >= this.limits.maxDialsPerTick) break;
      if (c.knownSeed && this.host.isSeeding()) continue;
      if (c.dead || c.nextAttemptAt > now || this.connected.has(key) || this.connecting.has(key) || this.aliases.has(key)) continue;
      if (!this.host.canOpen()) break;
      this.dialsInWindow++;
      this.dial(key, c);
    }
  }

  /** The peer wants encryption (PEX flag 0x01, or `e` in its extension handshake): dial it through MSE next. */
  preferEncrypted(key: string): void {
    const c = this.candidates.get(key);
    if (c) c.plainNext = false;
  }

  private dial(key: string, c: Candidate): void {
    const dialing = new AbortController();
    this.connecting.set(key, dialing);
    let socket: PeerStream | undefined;
    const policy = this.host.encryption?.() ?? DEFAULT_ENCRYPTION;
    const encrypted = policy === 'forced' || (policy === 'enabled' && c.plainNext !== true);
    let handshaking = false;
    const fail = (reason: string): void => {
      if (this.connecting.get(key) !== dialing) return;
      this.connecting.delete(key);
      socket?.destroy();
      if (handshaking && policy === 'enabled') {
        // The handshake failed: maybe the peer does not speak this way. Try the other way at once (libtorrent's
        // pe_support toggle with a fast reconnect), without counting it as a failure of the peer.
        c.plainNext = encrypted;
        if (encrypted) {
          c.nextAttemptAt = this.host.now();
          this.host.log(`dial ${key}: encrypted handshake failed (${reason}); trying plaintext`);
          // Dial now, not at the torrent's next tick (up to 1 s later: that wait was most of the time a 256 MiB
          // download from a libtorrent seed with encryption off took). tick() applies every limit as usual.
          this.tick(this.host.now());
          return;
        }
      }
      c.failures++;
      // 5 s, 10 s, 20 s ... capped at 5 minutes.
      c.nextAttemptAt = this.host.now() + Math.min(300_000, 5_000 * 2 ** Math.min(6, c.failures - 1));
      this.host.log(`dial ${key} failed: ${reason}`);
    };
    const signal = this.host.signal ? AbortSignal.any([dialing.signal, this.host.signal]) : dialing.signal;
    // Removed when the handshake settles: a listener keeps the composite signal (and the socket) alive as long as the
    // torrent's signal lives, one per dial.
    const onAbort = (): void => { socket?.destroy(); };
    this.host.transport.connect(c.host, c.port, { signal, timeoutMs: this.limits.connectTimeoutMs }).then((s) => {
      socket = s;
      // Aborted (stop()) while the connection was being opened: it is not ours any more.
      if (this.connecting.get(key) !== dialing) { s.destroy(); return; }
      s.once('error', (err) => fail(errorMessage(err)));
      signal.addEventListener('abort', onAbort, { once: true });
      handshaking = true;
      handshakeOut(s, {
        encrypted, policy, reserved: this.reserved, infoHash: this.host.infoHash, peerId: this.host.peerId,
        timeoutMs: this.limits.handshakeTimeoutMs, clock: this.host.clock ?? systemClock,
        ...(this.host.randomBytes ? { random: this.host.randomBytes } : {}),
      }).then(({ stream, handshake, rest, encrypted: viaMse }) => {
        signal.removeEventListener('abort', onAbort);
        socket = stream;
        if (this.connecting.get(key) !== dialing) { stream.destroy(); return; }
        this.connecting.delete(key);
        const agreed = acceptAnswer(this.names, handshake);
        if (agreed === null) {
          c.dead = true;
          stream.destroy();
          this.host.log(`dial ${key}: peer answered for another torrent`);
          return;
        }
        const problem = this.admissionProblem(key, handshake);
        if (problem) {
          if (problem === 'connected to ourselves') c.dead = true;
          stream.destroy();
          this.host.log(`dial ${key}: ${problem}`);
          return;
        }
        c.failures = 0;
        if (viaMse) this.host.log(`dial ${key}: connected through MSE (${stream === s ? 'plaintext' : 'RC4'} selected)`);
        this.attach(stream, handshake, rest, 'out', key, viaMse, agreed.v2);
      }, (err: unknown) => { signal.removeEventListener('abort', onAbort); fail(errorMessage(err)); });
    }, (err: unknown) => fail(errorMessage(err)));
  }

  /**
   * An incoming connection whose handshake named our info-hash (either name of a hybrid). We answer with our
   * handshake, naming the torrent by the hash the peer used.
   */
  acceptIncoming(socket: PeerStream, handshake: Handshake, rest: Buffer, encrypted = false): void {
    const key = formatPeerAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const agreed = answerIncoming(this.names, handshake, encrypted);
    const problem = this.stopped ? 'torrent stopped'
      : agreed === null ? 'handshake names another torrent'
      : this.connected.size >= this.limits.maxPeers ? 'too many peers'
      : this.admissionProblem(key, handshake);
    if (problem) {
      this.host.log(`refused incoming ${key}: ${problem}`);
      socket.destroy();
      return;
    }
    // Once the connection is a v2 one there is nothing to upgrade: the bit is offered only on v1 connections.
    const reserved = agreed!.v2 ? reservedFor(this.reserved, { infoHash: this.host.infoHash }) : this.reserved;
    socket.write(encodeHandshake({ reserved, infoHash: agreed!.infoHash, peerId: this.host.peerId }));
    this.attach(socket, handshake, rest, 'in', key, encrypted, agreed!.v2);
  }

  private admissionProblem(key: string, hs: Handshake): string | null {
    if (hs.peerId.equals(this.host.peerId)) return 'connected to ourselves';
    if (this.isBanned(key, hs.peerId)) return 'banned';
    for (const p of this.connected.values()) {
      if (p.peerId.equals(hs.peerId)) return 'already connected to this peer id';
    }
    return null;
  }

  private attach(socket: PeerStream, hs: Handshake, rest: Buffer, direction: 'in' | 'out', key: string, encrypted: boolean, v2: boolean): void {
    const holder: { peer?: Peer } = {};
    const handler: ConnectionHandler = {
      onMessage: (msg) => { if (holder.peer) this.host.onPeerMessage(holder.peer, msg); },
      onClose: (why) => {
        const peer = holder.peer;
        if (!peer) return;
        if (this.connected.get(peer.key) === peer) this.connected.delete(peer.key);
        if (peer.listenKey && this.aliases.get(peer.listenKey) === peer) this.aliases.delete(peer.listenKey);
        const c = this.candidates.get(peer.key) ?? (peer.listenKey ? this.candidates.get(peer.listenKey) : undefined);
        if (c && !c.dead) c.nextAttemptAt = this.host.now() + 5_000;
        if (c && peer.isSeed) c.knownSeed = true;
        this.host.onPeerClosed(peer, why);
      },
      onDrain: () => { if (holder.peer) this.host.onPeerDrain(holder.peer); },
    };
    // The connection may deliver `rest` synchronously, so the peer must exist first: create the connection with
    // no leftover, register the peer, then feed the leftover.
    const conn = new PeerConnection(socket, this.host.geometry, handler, this.host.now, undefined,
      this.host.sharedReadBuffer === false ? { sharedReadBuffer: false } : {});
    const ours = this.reserved;
    const peer = new Peer(conn, {
      key, direction, client: describePeerId(hs.peerId), fast: hasReserved(hs.reserved, ReservedBit.FAST) && hasReserved(ours, ReservedBit.FAST),
      peerId: hs.peerId, pieceCount: this.host.pieceCount, now: this.host.now(), clock: this.host.now,
    });
    peer.encrypted = encrypted;
    peer.rc4 = socket instanceof Rc4Stream;
    peer.transport = socket.transport ?? 'tcp';
    peer.extended = hasReserved(hs.reserved, ReservedBit.EXTENSION_PROTOCOL) && hasReserved(ours, ReservedBit.EXTENSION_PROTOCOL);
    peer.supportsV2 = v2;
    holder.peer = peer;
    this.connected.set(key, peer);
    this.host.onPeerConnected(peer);
    // BEP 5: both ends run a DHT: our node's port, after the bitfield and the extended handshake.
    const dhtPort = this.host.dhtPort?.() ?? 0;
    if (dhtPort > 0 && hasReserved(hs.reserved, ReservedBit.DHT) && hasReserved(ours, ReservedBit.DHT)) conn.send({ type: 'port', port: dhtPort });
    if (rest.length > 0) conn.feed(rest);
  }

  /** Accept and dial again after stop() (resume of a paused torrent). */
  resume(): void { this.stopped = false; }

  /** Known-good addresses for a quick reconnect after a restart (resume data). */
  knownAddresses(max: number): string[] {
    const out: string[] = [];
    for (const p of this.connected.values()) if (p.direction === 'out' || p.listenKey) out.push(p.listenKey ?? p.key);
    for (const [key, c] of this.candidates) { if (out.length >= max) break; if (!c.dead && c.failures === 0 && !out.includes(key)) out.push(key); }
    return out.slice(0, max);
  }

  stop(why: Cause): void {
    this.stopped = true;
    for (const d of this.connecting.values()) d.abort();
    this.connecting.clear();
    for (const p of [...this.connected.values()]) p.conn.close(why);
  }
}
