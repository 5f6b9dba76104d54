/**
 * BEP 10 (extension protocol) and BEP 11 (ut_pex) for one torrent: the glue between peers and the pure codecs
 * (src/wire/ext) and PEX bookkeeping (src/discovery/pex.ts).
 *
 * - Right after the BitTorrent handshake, a peer that set the extension bit gets our extended handshake:
 *   `m` (ut_pex when PEX is on and the torrent is not private), `p` (our listen port), `v`, `yourip`, `reqq`.
 * - Their handshake gives us their listen port (so an incoming peer can be advertised by PEX and is not dialled
 *   again), their request-queue limit (`reqq`), our address as they see it (`yourip`, so we never dial ourselves),
 *   and their ut_pex id.
 * - PEX: the first message goes out right after their extended handshake, later ones at most once a minute (the
 *   PexState decides); inbound messages are rate limited, capped, and every added address becomes a candidate
 *   with source `pex`. Garbage is ignored and counted, never fatal: PEX is advisory.
 * - BEP 27: a private torrent never uses PEX.
 * - BEP 9 (ut_metadata), serving side: when the host has the info dictionary we advertise `ut_metadata` and
 *   `metadata_size` (private torrents too, as libtorrent does: the peer already knows the info-hash) and answer each
 *   request with the 16 KiB piece, or a reject when it is out of range or we have no metadata. Requests wait in a
 *   per-peer queue of at most {@link MAX_METADATA_QUEUE}; more are ignored. The queue drains while the socket's
 *   write buffer is under {@link METADATA_WRITE_LIMIT}, and on every tick.
 *
 * Invariant: every peer in PexState's connected set is a live connection of this torrent, keyed by its listen address.
 */
import { PexState } from '../discovery/pex.js';
import { compactAddr, decodeExtendedHandshake, encodeExtendedHandshake, LOCAL_EXTENSION_IDS } from '../wire/ext/extended.js';
import { decodeUtPex, PexFlag } from '../wire/ext/ut-pex.js';
import { formatIp } from '../util/ip.js';
import { decodeUtMetadata, encodeUtMetadata, isValidMetadataSize, METADATA_PIECE_SIZE, metadataPieceCount } from '../wire/ext/ut-metadata.js';
import { CLIENT_NAME } from '../util/version.js';
import { formatPeerAddress, tryParsePeerAddress } from '../util/peer-address.js';
import type { Peer } from './peer.js';
import { OUR_REQQ } from './uploads.js';

/** Most ut_metadata requests queued per peer (Transmission's limit); more are ignored. */
export const MAX_METADATA_QUEUE = 64;
/** Metadata pieces are written only while the peer's write buffer holds less than this. */
export const METADATA_WRITE_LIMIT = 256 * 1024;

export interface ExtensionHost {
  readonly pexEnabled: boolean;
  listenPort(): number;
  now(): number;
  addPeer(host: string, port: number, source: 'pex'): void;
  /** Our address as a remote peer sees it (BEP 10 `yourip`). */
  onYourIp(ip: string, from: string): void;
  /** The raw info dictionary (BEP 9 metadata), or undefined while it is unknown (a magnet link). */
  metadata(): Buffer | undefined;
  /** We require MSE/PE encryption (policy `forced`): our handshake says `e: 1`. */
  encryptionRequired?(): boolean;
  /** A peer at this address wants encryption (PEX flag 0x01 or its `e`): dial it through MSE. */
  preferEncrypted?(host: string, port: number): void;
  log(msg: string): void;
}

export class Extensions {
  readonly pex = new PexState();
  /** Counters of ignored input, for diagnostics and tests. */
  readonly stats = {
    badHandshakes: 0, badPex: 0, pexRateLimited: 0, pexPeersLearned: 0,
    metadataServed: 0, metadataRejected: 0, metadataDropped: 0, badMetadata: 0,
  };
  /** Pending ut_metadata requests per peer (piece indexes, oldest first). */
  private readonly metadataQueues = new Map<Peer, number[]>();

  constructor(private readonly host: ExtensionHost) {}

  onPeerConnected(peer: Peer): void {
    if (peer.direction === 'out') {
      const a = tryParsePeerAddress(peer.key);
      if (a) {
        this.pex.addConnected(peer.key, { host: a.host, port: a.port, connectable: true, ...(peer.encrypted ? { flags: PexFlag.ENCRYPTION } : {}) });
        peer.pexKey = peer.key;
      }
    }
    if (!peer.extended) return;
    const m: Record<string, number> = {};
    if (this.host.pexEnabled) m['ut_pex'] = LOCAL_EXTENSION_IDS.ut_pex;
    const metadataSize = this.host.metadata()?.length;
    if (isValidMetadataSize(metadataSize)) m['ut_metadata'] = LOCAL_EXTENSION_IDS.ut_metadata;
    const yourip = compactAddr(peer.conn.remoteAddress, 1)?.subarray(0, -2);
    peer.conn.send({ type: 'extended', id: 0, payload: encodeExtendedHandshake({
      m, p: this.host.listenPort() || undefined, v: CLIENT_NAME, reqq: OUR_REQQ, ...(yourip ? { yourip } : {}),
      ...(this.host.encryptionRequired?.() === true ? { e: true } : {}),
      ...(isValidMetadataSize(metadataSize) ? { metadataSize } : {}),
    }) });
  }

  onPeerClosed(peer: Peer): void {
    if (peer.pexKey) this.pex.removeConnected(peer.pexKey);
    this.pex.peerGone(remoteKey(peer));
    this.metadataQueues.delete(peer);
  }

  /** An extended message (BEP 10 id 20). Never throws for bad payloads of optional extensions. */
  onExtended(peer: Peer, id: number, payload: Buffer): void {
    if (id === 0) { this.onHandshake(peer, payload); return; }
    if (id === LOCAL_EXTENSION_IDS.ut_pex && this.host.pexEnabled) { this.onPex(peer, payload); return; }
    if (id === LOCAL_EXTENSION_IDS.ut_metadata) { this.onMetadata(peer, payload); return; }
    // Unknown or disabled extension: ignore (BEP 10).
  }

  private onHandshake(peer: Peer, payload: Buffer): void {
    // A malformed handshake is a protocol violation of BEP 10 itself: the caller's error boundary closes the peer.
    const h = decodeExtendedHandshake(payload);
    peer.extIds = new Map(Object.entries(h.m));
    if (h.reqq !== undefined) peer.reqq = h.reqq;
    if (h.v) peer.clientName = h.v;
    if (h.yourip) {
      const ip = ipFromBytes(h.yourip);
      if (ip) this.host.onYourIp(ip, peer.conn.remoteAddress);
    }
    if (h.p !== undefined && peer.direction === 'in' && !peer.pexKey) {
      const host = peer.conn.remoteAddress;
      const key = formatPeerAddress(host, h.p);
      peer.listenKey = key;
      const wantsMse = peer.encrypted || h.e === true;
      if (this.pex.addConnected(key, { host, port: h.p, ...(wantsMse ? { flags: PexFlag.ENCRYPTION } : {}) })) peer.pexKey = key;
      if (h.e === true) this.host.preferEncrypted?.(host, h.p);
    }
    const theirPex = peer.extIds.get('ut_pex') ?? 0;
    if (this.host.pexEnabled && theirPex > 0) {
      this.pex.peerReady(remoteKey(peer));
      this.sendPex(peer, this.host.now());
    }
  }

  private onPex(peer: Peer, payload: Buffer): void {
    if (!this.pex.acceptInbound(remoteKey(peer), this.host.now())) { this.stats.pexRateLimited++; return; }
    const res = decodeUtPex(payload);
    if (!res.ok) { this.stats.badPex++; this.host.log(`ignored ut_pex from ${peer.key}: ${res.message}`); return; }
    const sourceIsLocal = isLocalAddress(peer.conn.remoteAddress);
    for (const a of res.value.added) {
      // A remote (public) peer may not steer us to private or loopback addresses (reliability rule 12 in
      // docs/design/reliability.md).
      if (!sourceIsLocal && isLocalAddress(a.host)) continue;
      this.stats.pexPeersLearned++;
      this.host.addPeer(a.host, a.port, 'pex');
      if ((a.flags & PexFlag.ENCRYPTION) !== 0) this.host.preferEncrypted?.(a.host, a.port);
    }
  }

  /** A ut_metadata message: requests are queued (capped) and served; anything else a peer sends us is ignored. */
  private onMetadata(peer: Peer, payload: Buffer): void {
    let msg;
    try { msg = decodeUtMetadata(payload); } catch (e) {
      this.stats.badMetadata++;
      this.host.log(`ignored ut_metadata from ${peer.key}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (msg.type !== 'request') return; // we never request metadata through a torrent's peers (yet)
    let queue = this.metadataQueues.get(peer);
    if (!queue) { queue = []; this.metadataQueues.set(peer, queue); }
    if (queue.length >= MAX_METADATA_QUEUE) { this.stats.metadataDropped++; return; }
    queue.push(msg.piece);
    this.serveMetadata(peer, queue);
  }

  /** Answers queued requests while the peer's write buffer has room. */
  private serveMetadata(peer: Peer, queue: number[]): void {
    const theirId = peer.extIds?.get('ut_metadata') ?? 0;
    if (theirId <= 0 || peer.conn.closed) { queue.length = 0; return; }
    const md = this.host.metadata();
    while (queue.length > 0 && peer.conn.writableLength < METADATA_WRITE_LIMIT) {
      const piece = queue.shift()!;
      if (!md || !isValidMetadataSize(md.length) || piece >= metadataPieceCount(md.length)) {
        this.stats.metadataRejected++;
        peer.conn.send({ type: 'extended', id: theirId, payload: encodeUtMetadata({ type: 'reject', piece }) });
        continue;
      }
      const data = md.subarray(piece * METADATA_PIECE_SIZE, (piece + 1) * METADATA_PIECE_SIZE);
      this.stats.metadataServed++;
      peer.conn.send({ type: 'extended', id: theirId, payload: encodeUtMetadata({ type: 'data', piece, totalSize: md.length, data }) });
    }
  }

  private sendPex(peer: Peer, now: number): void {
    const theirId = peer.extIds?.get('ut_pex') ?? 0;
    if (theirId <= 0 || peer.conn.closed) return;
    const msg = this.pex.buildMessage(remoteKey(peer), now);
    if (msg) peer.conn.send({ type: 'extended', id: theirId, payload: msg });
  }

  /** Once a second: queued metadata pieces, and PEX messages that are due. */
  tick(peers: Iterable<Peer>, now: number): void {
    for (const [peer, queue] of this.metadataQueues) {
      this.serveMetadata(peer, queue);
      if (queue.length === 0) this.metadataQueues.delete(peer);
    }
    if (!this.host.pexEnabled) return;
    for (const p of peers) this.sendPex(p, now);
  }
}

/** PexState keys a remote by its listen address when known, so it is never told about itself. */
function remoteKey(peer: Peer): string { return peer.pexKey ?? peer.key; }

function ipFromBytes(b: Buffer): string | null {
  return b.length === 4 || b.length === 16 ? formatIp(b) : null;
}

/** Loopback, private (RFC 1918), link-local, CGNAT and IPv6 ULA/link-local addresses. */
export function isLocalAddress(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(v4);
  if (m) {
    const a = Number(m[1]); const b = Number(m[2]);
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)
      || (a === 100 && b >= 64 && b <= 127);
  }
  const lower = ip.toLowerCase();
  return lower === '::1' || lower.startsWith('fe80:') || lower.startsWith('fc') || lower.startsWith('fd');
}
