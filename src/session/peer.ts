/**
 * One connected peer of one torrent: the protocol state of both directions plus counters.
 *
 * Plain data with tiny helpers; the behaviour lives in requests.ts (download side), uploads.ts (upload side) and
 * peers.ts (connection management). Invariant: `has` is only ever filled from the peer's own bitfield/have/haveAll
 * messages, and `key` never changes for the life of the connection.
 */
import type { PeerConnection } from '../wire/connection.js';
import { Bitfield } from '../util/bitfield.js';
import { RateMeter } from '../util/rate.js';
import type { BlockRef } from '../picker/piece-picker.js';

export interface PendingRequest { block: BlockRef; sentAt: number }
export interface IncomingRequest { piece: number; begin: number; length: number }

/**
 * The key of a block in `Peer.requests`: its byte offset in the torrent (a safe integer: torrents are < 2^53 bytes).
 * A number, not a string: no string built and hashed per block sent and received. Keys are unique for in-range
 * blocks only, so a lookup must still compare the stored block's piece and begin (requests.ts does).
 */
export function blockKey(pieceLength: number, piece: number, begin: number): number { return piece * pieceLength + begin; }

export class Peer {
  /** `ip:port` as we know it: the dialled address, or the remote socket address for incoming connections. */
  readonly key: string;
  readonly direction: 'in' | 'out';
  readonly client: string;
  readonly fast: boolean;
  readonly peerId: Buffer;
  readonly connectedAt: number;

  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  has: Bitfield;
  lastUnchokedAt: number | undefined;
  /** Pieces the peer lets us request while choked (BEP 6 allowed fast). */
  allowedFast = new Set<number>();

  readonly down: RateMeter;
  readonly up: RateMeter;
  /** Requests we sent and have not been answered, by blockKey. */
  readonly requests = new Map<number, PendingRequest>();
  /** Requests the peer sent us, waiting to be served, in order. */
  incoming: IncomingRequest[] = [];
  readsInFlight = 0;
  /** The piece whose read (started for another peer) this peer's upload queue waits for, or -1. */
  uploadWaitPiece = -1;
  uploadRetryScheduled = false;
  downloadRetryScheduled = false;
  /** Target number of outstanding requests to this peer (adapted to its rate). */
  queueDepth = 16;
  /**
   * Request slow start (as TCP's, and libtorrent's): until the measured rate catches up, the queue depth doubles each
   * time a whole queue's worth of blocks has arrived, so a fast peer is not held at the initial depth for seconds
   * while the rate average (3 s half-life) ramps up.
   */
  slowStart = true;
  slowStartBlocks = 0;
  /** Unrequested or duplicate bytes received (waste). */
  wastedBytes = 0;
  snubbed = false;
  lastPieceAt: number;
  /** Both sides set the BEP 10 extension bit. */
  extended = false;
  /**
   * A BitTorrent v2 connection (BEP 52): hash request, hashes and hash reject may be sent and are answered. True for
   * every peer of a v2-only torrent, and for a hybrid's peer when the connection is named by the truncated v2
   * info-hash (the peer used it, or took or made the upgrade offer of reserved[7] & 0x10); libtorrent only answers
   * hash requests on such connections.
   */
  supportsV2 = false;
  /** The connection went through an MSE/PE handshake (RC4, or plaintext after the MSE header). */
  encrypted = false;
  /** RC4 was selected (the MSE handshake's crypto_select); false for plaintext after the MSE header. */
  rc4 = false;
  /** The transport the connection runs over. */
  transport: 'tcp' | 'utp' = 'tcp';
  /** The peer's extension name → message id map, from its extended handshake. */
  extIds: Map<string, number> | undefined;
  /** The peer's `reqq` (how many requests it accepts), if it said. */
  reqq: number | undefined;
  /** The `v` of its extended handshake. */
  clientName: string | undefined;
  /** The key under which PEX advertises this peer (its listen address), if known. */
  pexKey: string | undefined;
  /** For an incoming peer: `ip:listenPort` from its extended handshake. */
  listenKey: string | undefined;
  /** DHT port from a BEP 5 `port` message. */
  dhtPort: number | undefined;

  constructor(
    readonly conn: PeerConnection,
    opts: { key: string; direction: 'in' | 'out'; client: string; fast: boolean; peerId: Buffer; pieceCount: number; now: number; clock: () => number },
  ) {
    this.key = opts.key;
    this.direction = opts.direction;
    this.client = opts.client;
    this.fast = opts.fast;
    this.peerId = opts.peerId;
    this.connectedAt = opts.now;
    this.lastPieceAt = opts.now;
    this.has = new Bitfield(opts.pieceCount);
    this.down = new RateMeter(opts.clock);
    this.up = new RateMeter(opts.clock);
  }

  get isSeed(): boolean { return this.has.complete; }
}
