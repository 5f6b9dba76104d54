/**
 * The BEP 52 hash exchange of one v2 or hybrid torrent, both roles: fetching missing piece layers and the leaf hashes
 * of a failed piece (to find the bad block), and answering other peers' hash requests. The merkle math and state are
 * in v2-hashes.ts; this module keeps the per-peer bookkeeping, the timeouts and the storage reads.
 *
 * Invariants:
 * - every answer we accept matches a request we sent to that peer and proves against the file's pieces root (piece
 *   layers) or the known piece hash (leaves); a peer whose hashes fail their proof is dropped; an unsolicited answer
 *   is ignored;
 * - at most MAX_OUT requests are outstanding per peer and one per layer chunk overall; a reject or a timeout frees
 *   the chunk for another peer;
 * - answering never blocks and never grows without bound: requests that need a piece read are limited to
 *   MAX_SERVE_READS per peer, and nothing but a reject is queued while SERVE_WRITE_LIMIT bytes wait for the peer's
 *   socket; the rest are rejected (as libtorrent rejects what it cannot answer);
 * - a failed v2 piece strikes only the senders of the blocks whose leaf hash is wrong; when no peer can give the leaf
 *   hashes within LEAF_TIMEOUT_MS (or the piece has one block), every contributor is struck, as for v1.
 */
import type { Storage } from '../storage/storage.js';
import { BtError, errorMessage } from '../util/errors.js';
import type { HashRequestFields, Message } from '../wire/codec/index.js';
import type { Peer } from './peer.js';
import type { MerkleState } from './v2-hashes.js';

/** Hash requests outstanding to one peer (libtorrent keeps two). */
const MAX_OUT = 2;
/** A request unanswered for this long is given up and retried elsewhere. */
const REQUEST_TIMEOUT_MS = 15_000;
/** How long a failed piece waits for its leaf hashes before every contributor is struck. */
const LEAF_TIMEOUT_MS = 30_000;
/** For this long after a piece failed, its leaf hashes are asked only of peers that sent none of its blocks. */
const PREFER_OTHERS_MS = 3000;
/** Piece reads in flight to answer one peer's leaf-hash requests. */
const MAX_SERVE_READS = 4;
/** A peer that refused a layer chunk (or let it time out) is asked for it again after this long. */
const REFUSAL_MS = 30_000;
/**
 * Answers are sent only while less than this is queued for the peer's socket; past it requests are rejected (a
 * 49-byte request can ask for 256 KiB of hashes: without this a peer that asks and never reads fills our memory).
 * Above the upload side's 1 MiB high-water mark, so that uploading blocks to a peer never makes us refuse its hashes.
 */
const SERVE_WRITE_LIMIT = 4 * 1024 * 1024;
/** Failed pieces waiting for their leaf hashes (beyond this, the v1 rule applies at once). */
const MAX_SUSPECT_PIECES = 16;

export interface HashExchangeHost {
  readonly state: MerkleState;
  readonly storage: Storage;
  now(): number;
  peers(): Iterable<Peer>;
  /** We have (verified and wrote) this piece. */
  have(piece: number): boolean;
  /**
   * Strike the peers that sent a bad piece (the torrent's v1 rule: a sole sender is banned); `badBlocks` when the
   * leaf hashes located them.
   */
  onPieceFailed(piece: number, peers: string[], badBlocks?: number[]): void;
  /** Piece-layer hashes were learned: requests may start, and the resume data should be saved. */
  onLayersLearned(): void;
  log?(msg: string): void;
}

interface Outstanding {
  req: HashRequestFields;
  sentAt: number;
  /** For a leaf request: the failed piece it is for. */
  piece?: number;
}

/** One failed download of a piece: what we received and from whom. */
interface Attempt {
  leaves: Buffer;
  senders: string[];
  contributors: string[];
}

/** A piece that failed (once or more) and waits for its true leaf hashes. */
interface Suspect {
  piece: number;
  attempts: Attempt[];
  /** Every peer that sent a block of a failed attempt. */
  senders: Set<string>;
  since: number;
  /** Peers asked already (each at most once). */
  asked: Set<string>;
}

const sameRequest = (a: HashRequestFields, b: HashRequestFields): boolean =>
  a.baseLayer === b.baseLayer && a.index === b.index && a.length === b.length && a.proofLayers === b.proofLayers
  && a.piecesRoot.equals(b.piecesRoot);

const chunkKey = (r: HashRequestFields): string => `${r.piecesRoot.toString('hex')}:${r.baseLayer}:${r.index}`;

export class HashExchange {
  private readonly out = new Map<string, Outstanding[]>();
  /** Layer chunks requested from some peer, by chunkKey → peer key. */
  private readonly chunkOwner = new Map<string, string>();
  /** Peers that rejected a chunk or let it time out, and when (not asked again for it for REFUSAL_MS). */
  private readonly refusedBy = new Map<string, Map<string, number>>();
  private readonly suspects = new Map<number, Suspect>();
  private readonly serveReads = new Map<string, number>();
  private closed = false;

  constructor(private readonly host: HashExchangeHost) {}

  /** Everything that can be verified now (no piece layer missing). */
  get ready(): boolean { return this.host.state.allLayersKnown; }

  /** Send what this peer can be asked now: missing layer chunks, leaf hashes of failed pieces. */
  pump(peer: Peer): void {
    // Only a v2 connection may carry hash requests: libtorrent disconnects a peer that sends one on a hybrid's v1
    // connection (bt_peer_connection::on_hash_request, protocol_v2). See handshake.ts for which connections are v2.
    if (this.closed || peer.conn.closed || !peer.supportsV2) return;
    const mine = this.out.get(peer.key) ?? [];
    if (mine.length >= MAX_OUT) return;
    const state = this.host.state;
    for (const s of this.suspects.values()) {
      if (mine.length >= MAX_OUT) break;
      if (s.asked.has(peer.key) || !peer.has.has(s.piece)) continue;
      // Ask a peer that sent none of the piece first, if there is one (any answer is checked, but a liar's would
      // only cost time).
      if (s.senders.has(peer.key) && this.host.now() - s.since < PREFER_OTHERS_MS && this.otherCanAnswer(s)) continue;
      if (mine.some((o) => o.piece === s.piece)) continue;
      const req = state.leafRequest(s.piece);
      if (!req) continue;
      s.asked.add(peer.key);
      this.send(peer, mine, { req, sentAt: this.host.now(), piece: s.piece });
    }
    if (state.allLayersKnown) return;
    for (const req of state.missingLayerRequests()) {
      if (mine.length >= MAX_OUT) break;
      const key = chunkKey(req);
      const refused = this.refusedBy.get(key)?.get(peer.key);
      if (this.chunkOwner.has(key) || (refused !== undefined && this.host.now() - refused < REFUSAL_MS)) continue;
      const f = state.fileByRoot(req.piecesRoot)!;
      if (!this.peerHasFilePiece(peer, f.firstPiece + req.index, Math.min(f.firstPiece + f.pieces, f.firstPiece + req.index + req.length))) continue;
      this.chunkOwner.set(key, peer.key);
      this.send(peer, mine, { req, sentAt: this.host.now() });
    }
  }

  pumpAll(): void { for (const p of this.host.peers()) this.pump(p); }

  private otherCanAnswer(s: Suspect): boolean {
    for (const p of this.host.peers()) if (p.supportsV2 && !s.senders.has(p.key) && !s.asked.has(p.key) && p.has.has(s.piece) && !p.conn.closed) return true;
    return false;
  }

  private peerHasFilePiece(peer: Peer, from: number, to: number): boolean {
    if (peer.isSeed) return true;
    for (let p = from; p < to; p++) if (peer.has.has(p)) return true;
    return false;
  }

  private send(peer: Peer, mine: Outstanding[], o: Outstanding): void {
    mine.push(o);
    this.out.set(peer.key, mine);
    peer.conn.send({ ...o.req, type: 'hashRequest' });
  }

  /**
   * A failed v2 piece (requests.ts): find its bad blocks through the piece's leaf hashes, then strike their senders.
   * `leaves` are the hashes of the blocks we got, `senders[b]` who sent block b.
   */
  onPieceFailed(piece: number, leaves: Buffer, senders: string[], contributors: string[]): void {
    if (this.closed) return;
    const known = this.suspects.get(piece);
    if (known) {
      // Failed again before its leaf hashes came: judged together when they do.
      known.attempts.push({ leaves, senders: [...senders], contributors });
      for (const k of senders) if (k !== undefined) known.senders.add(k);
      return;
    }
    if (this.suspects.size >= MAX_SUSPECT_PIECES || !this.host.state.leafRequest(piece)) {
      this.host.onPieceFailed(piece, contributors);
      return;
    }
    this.suspects.set(piece, {
      piece, attempts: [{ leaves, senders: [...senders], contributors }], senders: new Set(senders.filter((k) => k !== undefined)),
      since: this.host.now(), asked: new Set(),
    });
    this.pumpAll();
  }

  /** A BEP 52 message from a peer. Throws BtError('PROTOCOL') for what must drop the peer. */
  onMessage(peer: Peer, msg: Extract<Message, { type: 'hashRequest' | 'hashes' | 'hashReject' }>): void {
    if (this.closed) return;
    switch (msg.type) {
      case 'hashRequest': this.serve(peer, msg); return;
      case 'hashReject': this.onReject(peer, msg); return;
      case 'hashes': this.onHashes(peer, msg); return;
    }
  }

  private take(peer: Peer, r: HashRequestFields): Outstanding | undefined {
    const mine = this.out.get(peer.key);
    const at = mine ? mine.findIndex((o) => sameRequest(o.req, r)) : -1;
    if (!mine || at < 0) return undefined;
    return mine.splice(at, 1)[0];
  }

  private onReject(peer: Peer, r: HashRequestFields): void {
    const o = this.take(peer, r);
    if (!o) return; // not ours (or timed out already): ignored, as libtorrent does
    if (o.piece === undefined) this.releaseChunk(o.req, peer.key);
    this.pumpAll();
  }

  private releaseChunk(req: HashRequestFields, refuser: string): void {
    const key = chunkKey(req);
    this.chunkOwner.delete(key);
    let s = this.refusedBy.get(key);
    if (!s) this.refusedBy.set(key, s = new Map());
    s.set(refuser, this.host.now());
  }

  private onHashes(peer: Peer, msg: HashRequestFields & { hashes: Buffer }): void {
    const o = this.take(peer, msg);
    if (!o) return; // unsolicited: ignored
    const state = this.host.state;
    if (o.piece === undefined) {
      this.chunkOwner.delete(chunkKey(o.req));
      if (!state.acceptLayerChunk(o.req, msg.hashes)) {
        throw new BtError('PROTOCOL', `hashes for piece layer ${o.req.index}+${o.req.length} failed their proof`);
      }
      this.host.onLayersLearned();
      this.pumpAll();
      return;
    }
    const s = this.suspects.get(o.piece);
    const leaves = state.acceptLeaves(o.piece, o.req, msg.hashes);
    if (!leaves) throw new BtError('PROTOCOL', `leaf hashes of piece ${o.piece} do not hash to its piece hash`);
    if (!s) return; // already settled by another peer's answer
    this.suspects.delete(o.piece);
    for (const a of s.attempts) {
      const bad = new Set<string>();
      const badBlocks: number[] = [];
      for (let b = 0; 32 * b < a.leaves.length; b++) {
        if (!a.leaves.subarray(32 * b, 32 * b + 32).equals(leaves.subarray(32 * b, 32 * b + 32))) {
          badBlocks.push(b);
          const who = a.senders[b];
          if (who !== undefined) bad.add(who);
        }
      }
      this.host.log?.(`piece ${o.piece}: leaf hashes from ${peer.key} show bad blocks ${badBlocks.join(',')} from ${[...bad].join(', ') || 'nobody'}`);
      if (bad.size > 0) this.host.onPieceFailed(o.piece, [...bad], badBlocks); else this.host.onPieceFailed(o.piece, a.contributors);
    }
  }

  /** Answer a peer's hash request, or reject it (libtorrent's bounds; what we cannot answer). */
  private serve(peer: Peer, r: HashRequestFields): void {
    const state = this.host.state;
    const reject = (): void => { peer.conn.send({ ...r, type: 'hashReject' }); };
    const check = state.validateRequest(r);
    if (!check.ok || peer.conn.writableLength >= SERVE_WRITE_LIMIT) { reject(); return; }
    const piece = state.pieceNeeded(check.file, r);
    if (piece === null) { reject(); return; }
    if (piece < 0) {
      const hashes = state.answer(check.file, r);
      if (!hashes) { reject(); return; }
      peer.conn.send({ ...r, type: 'hashes', hashes });
      return;
    }
    const reads = this.serveReads.get(peer.key) ?? 0;
    if (!this.host.have(piece) || reads >= MAX_SERVE_READS) { reject(); return; }
    this.serveReads.set(peer.key, reads + 1);
    this.host.storage.readPiece(piece).then((data) => {
      if (this.closed || peer.conn.closed) return;
      const hashes = data && peer.conn.writableLength < SERVE_WRITE_LIMIT ? state.answer(check.file, r, data) : null;
      if (hashes) peer.conn.send({ ...r, type: 'hashes', hashes }); else reject();
    }, (e: unknown) => {
      this.host.log?.(`hash request of ${peer.key}: reading piece ${piece} failed: ${errorMessage(e)}`);
      if (!peer.conn.closed) reject();
    }).finally(() => {
      const n = (this.serveReads.get(peer.key) ?? 1) - 1;
      if (n > 0) this.serveReads.set(peer.key, n); else this.serveReads.delete(peer.key);
    });
  }

  onPeerGone(peer: Peer): void {
    const mine = this.out.get(peer.key);
    this.out.delete(peer.key);
    for (const o of mine ?? []) if (o.piece === undefined) this.chunkOwner.delete(chunkKey(o.req));
    this.serveReads.delete(peer.key);
    if (!this.closed && (this.suspects.size > 0 || !this.host.state.allLayersKnown)) this.pumpAll();
  }

  /** Once a second: give up on silent requests, and settle failed pieces nobody could explain. */
  tick(now: number): void {
    if (this.closed) return;
    for (const [key, mine] of this.out) {
      for (let k = mine.length - 1; k >= 0; k--) {
        const o = mine[k]!;
        if (now - o.sentAt <= REQUEST_TIMEOUT_MS) continue;
        mine.splice(k, 1);
        if (o.piece === undefined) this.releaseChunk(o.req, key);
      }
    }
    for (const s of [...this.suspects.values()]) {
      if (now - s.since <= LEAF_TIMEOUT_MS) continue;
      this.suspects.delete(s.piece);
      for (const a of s.attempts) this.host.onPieceFailed(s.piece, a.contributors);
    }
    this.pumpAll();
  }

  close(): void {
    this.closed = true;
    this.out.clear();
    this.suspects.clear();
  }
}
