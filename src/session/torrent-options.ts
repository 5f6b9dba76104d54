/**
 * The options and plain types of a torrent (src/session/torrent.ts): what the session passes in when it makes one,
 * how start() treats the data on disk, and the part of the tracker announcer the torrent drives.
 */
import type { EncryptionPolicy } from '../wire/mse/policy.js';
import type { Metainfo } from '../metainfo/index.js';
import type { HashPool } from '../storage/hasher.js';
import type { Storage } from '../storage/storage.js';
import type { TokenBucket } from '../util/token-bucket.js';
import type { Clock } from '../util/clock.js';
import type { Transport } from '../net/transport.js';
import type { AnnouncerEvent } from '../tracker/announcer.js';
import type { SessionEvent } from './events.js';
import type { PeerLimits } from './peers.js';
import type { Torrent } from './torrent.js';

export interface TorrentOptions {
  meta: Metainfo;
  savePath: string;
  storage: Storage;
  hasher: HashPool;
  peerId: Buffer;
  reserved: Buffer;
  now: () => number;
  rng: () => number;
  /** Timers (rate-limit retries); default the system clock of src/platform/clock.ts. */
  clock?: Clock;
  /** The session's signal: its abort aborts this torrent's signal (and so its check and its dials). */
  signal?: AbortSignal;
  emit: (e: SessionEvent) => void;
  log: (msg: string) => void;
  canOpen: () => boolean;
  /** Peer sockets read into the shared buffer where Node allows it (default true; see src/wire/node-internals.ts). */
  sharedReadBuffer?: boolean;
  /** MSE/PE policy of outgoing connections and of the BEP 10 `e` flag (src/wire/mse/policy.ts); default `enabled`. */
  encryption?: () => EncryptionPolicy;
  /** Random bytes for MSE/PE handshakes (default node:crypto's). */
  randomBytes?: (n: number) => Buffer;
  peerLimits?: Partial<PeerLimits>;
  uploadSlots?: number;
  /** This torrent's fair share of the session's upload slots, asked at every rechoke (overrides uploadSlots). */
  uploadSlotShare?: () => number;
  /** Skip the start-up check (the data is known to be absent, e.g. a fresh download folder). */
  skipCheck?: boolean;
  /** The session's global rate-limit buckets; this torrent's own buckets hang below them. */
  uploadParent?: TokenBucket;
  downloadParent?: TokenBucket;
  /** Per-torrent limits in bytes/s (0 = unlimited). */
  uploadLimit?: number;
  downloadLimit?: number;
  /**
   * Announces to trackers (built by the session; absent when trackers are off or the torrent has none). The
   * announcer reports each outcome to `record` (the torrent keeps the last one per tracker, for status()).
   */
  createAnnouncer?: (t: Torrent, record: (e: AnnouncerEvent) => void) => AnnouncerLike;
  /** Added paused by the user (default false). */
  paused?: boolean;
  /** When it was first added (ms since the epoch; default: now, in whole seconds). */
  addedAt?: number;
  /** Totals of earlier runs (from the state directory): counted on from there. */
  restored?: RestoredTotals;
  /** True for an address that is this session itself (our listen port on one of our addresses). */
  isSelf?: (host: string, port: number) => boolean;
  /** Peer exchange on (ignored for private torrents, BEP 27). */
  pex?: boolean;
  /** Our listen port (for BEP 10 `p`). */
  listenPort?: () => number;
  /** How peers are dialled (src/net/transport.ts). Default TCP. */
  transport?: Transport;
  /** A peer (`from`, its address) told us our address (BEP 10 `yourip`). */
  onYourIp?: (ip: string, from: string) => void;
  /** Our DHT's UDP port while the DHT runs, else 0: sent in a `port` message to peers whose handshake has the DHT bit (BEP 5). */
  dhtPort?: () => number;
  /** A peer's `port` message (BEP 5): its DHT node at `host:port`. */
  onDhtNode?: (host: string, port: number) => void;
  /** Local service discovery announces this torrent (session-wide service). */
  lsd?: { add(infoHashHex: string): void; remove(infoHashHex: string): void };
  /** A piece was verified and written (resume data bookkeeping). */
  onPieceDone?: (index: number) => void;
  /** BEP 52: piece layers kept in the resume data (pieces root hex → layer); each is checked against its root. */
  restoredPieceLayers?: ReadonlyMap<string, Buffer>;
  /** The embedded tracker lists this session as a peer of this torrent. */
  setTrackerSelf?: (seed: boolean | null) => void;
}

export type PeerSource = 'manual' | 'tracker' | 'pex' | 'lsd' | 'resume' | 'dht';

/** Every PeerSource once (the compiler checks the list is whole). */
const PEER_SOURCES: Record<PeerSource, true> = { manual: true, tracker: true, pex: true, lsd: true, resume: true, dht: true };

/** Whether `s` is one of the PeerSource labels. */
export function isPeerSource(s: string | undefined): s is PeerSource {
  return s !== undefined && Object.hasOwn(PEER_SOURCES, s);
}

/** Totals of earlier runs, restored from the state directory (bytes; completion time in ms). */
export interface RestoredTotals { uploaded: number; downloaded: number; completedAt?: number | undefined }

/** How start() treats the data on disk. */
export interface StartPlan {
  /** Pieces proven by resume data (files unchanged): marked had without hashing. */
  trusted?: Iterable<number>;
  /** Pieces to hash: all (default), none, or a list. */
  recheck?: Iterable<number> | 'all' | 'none';
  /** Stay paused (or queued, waiting for the session's queue) after the check. */
  paused?: boolean | 'queued';
}

/** The part of the tracker announcer the torrent drives (src/tracker/announcer.ts). */
export interface AnnouncerLike {
  start(): void;
  completed(): void;
  stop(timeoutMs?: number): Promise<void>;
  tick(now: number): void;
  /** Announce again as soon as the tracker's `min interval` allows (torrent-reannounce). */
  announceNow?(): void;
}
