/**
 * Announced peers per info-hash (BEP 5 announce_peer / get_peers) [pure].
 *
 * Invariants:
 * - Bounded: at most `maxTorrents` info-hashes and `maxPeersPerTorrent` peers each. A new info-hash in a full store
 *   evicts the one announced least recently; a new peer in a full torrent replaces its oldest (least recently
 *   announced) peer. Both are O(1): Maps kept in announce order (an announce re-inserts its key).
 * - A peer is forgotten `ttlMs` after its last announce: `get` never returns it, `expire` drops it.
 * - Stored addresses and keys are copies of what callers pass.
 * - `get` returns at most `max` peers: a random subset (injected rng) when more are stored, else the freshest ones.
 */
import { BtError } from '../../util/errors.js';
import { ID_LENGTH, MAX_PEERS_PER_TORRENT, MAX_STORED_TORRENTS, MAX_VALUES_PER_REPLY, PEER_TTL_MS } from './types.js';
import type { NodeAddress } from './types.js';

export interface PeerStoreOptions {
  /** Info-hashes kept (default MAX_STORED_TORRENTS). */
  maxTorrents?: number;
  /** Peers kept per info-hash (default MAX_PEERS_PER_TORRENT). */
  maxPeersPerTorrent?: number;
  /** A peer is forgotten this long after its last announce (default PEER_TTL_MS). */
  ttlMs?: number;
}

interface StoredPeer {
  readonly addr: NodeAddress;
  announcedAt: number;
}

export class PeerStore {
  private readonly maxTorrents: number;
  private readonly maxPeers: number;
  private readonly ttlMs: number;
  /** info-hash (latin1) -> peers by "host:port", both in announce order (oldest first). */
  private readonly torrents = new Map<string, Map<string, StoredPeer>>();
  private peers = 0;

  constructor(opts: PeerStoreOptions = {}) {
    this.maxTorrents = opts.maxTorrents ?? MAX_STORED_TORRENTS;
    this.maxPeers = opts.maxPeersPerTorrent ?? MAX_PEERS_PER_TORRENT;
    this.ttlMs = opts.ttlMs ?? PEER_TTL_MS;
    if (!(this.maxTorrents >= 1) || !(this.maxPeers >= 1) || !(this.ttlMs > 0)) {
      throw new BtError('INTERNAL', 'peer store: maxTorrents, maxPeersPerTorrent and ttlMs must be positive');
    }
  }

  get torrentCount(): number {
    return this.torrents.size;
  }

  get peerCount(): number {
    return this.peers;
  }

  /** Records that `peer` announced `infoHash` at `now` (a second announce refreshes it). */
  add(infoHash: Buffer, peer: NodeAddress, now: number): void {
    if (infoHash.length !== ID_LENGTH) throw new BtError('INTERNAL', `peer store: info-hash of ${infoHash.length} bytes`);
    if (!Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535) return;
    const key = infoHash.toString('latin1');
    let peers = this.torrents.get(key);
    if (peers === undefined) {
      if (this.torrents.size >= this.maxTorrents) {
        const oldest = this.torrents.entries().next();
        if (oldest.done !== true) this.dropTorrent(oldest.value[0], oldest.value[1]);
      }
      peers = new Map();
    } else {
      this.torrents.delete(key); // re-inserted below: most recently announced last
    }
    this.torrents.set(key, peers);
    const peerKey = `${peer.host}:${peer.port}`;
    const known = peers.get(peerKey);
    if (known !== undefined) {
      peers.delete(peerKey);
      known.announcedAt = now;
      peers.set(peerKey, known);
      return;
    }
    if (peers.size >= this.maxPeers) {
      const oldest = peers.keys().next();
      if (oldest.done !== true) {
        peers.delete(oldest.value);
        this.peers--;
      }
    }
    peers.set(peerKey, { addr: { host: peer.host, port: peer.port }, announcedAt: now });
    this.peers++;
  }

  /**
   * Peers announced for `infoHash` within the TTL: at most `max`; when more are stored, a random subset drawn with
   * `rng` if given, else the `max` most recently announced.
   */
  get(infoHash: Buffer, now: number, max: number = MAX_VALUES_PER_REPLY, rng?: () => number): NodeAddress[] {
    const peers = this.torrents.get(infoHash.toString('latin1'));
    if (peers === undefined || max <= 0) return [];
    const live: NodeAddress[] = [];
    for (const p of peers.values()) if (now - p.announcedAt < this.ttlMs) live.push(p.addr);
    if (live.length <= max) return live.map(copy);
    if (rng === undefined) return live.slice(live.length - max).map(copy);
    // Partial Fisher-Yates: the first `max` slots become a uniform random subset.
    for (let i = 0; i < max; i++) {
      const j = i + Math.min(live.length - i - 1, Math.floor(rng() * (live.length - i)));
      const t = live[i]!;
      live[i] = live[j]!;
      live[j] = t;
    }
    return live.slice(0, max).map(copy);
  }

  /** Drops every peer last announced `ttlMs` or more ago, and info-hashes left with none. */
  expire(now: number): void {
    for (const [key, peers] of this.torrents) {
      // Peers are in announce order: the expired ones are at the front.
      for (const [peerKey, p] of peers) {
        if (now - p.announcedAt < this.ttlMs) break;
        peers.delete(peerKey);
        this.peers--;
      }
      if (peers.size === 0) this.torrents.delete(key);
    }
  }

  private dropTorrent(key: string, peers: Map<string, StoredPeer>): void {
    this.peers -= peers.size;
    this.torrents.delete(key);
  }
}

function copy(a: NodeAddress): NodeAddress {
  return { host: a.host, port: a.port };
}
