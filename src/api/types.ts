/**
 * The bitpeer API facade: plain, JSON-serialisable calls and types, plus an event subscription and `whenDone`. It is
 * the one way into a session: the daemon's Transmission-compatible RPC (src/api/rpc/), the CLI's client commands, its
 * foreground `seed`/`get`/`share` and the daemon use only this (a lint rule keeps src/cli/ and src/daemon/ from
 * importing src/session/). The Session implements it (src/api/session-api.ts); src/api/open.ts builds one.
 *
 * Ids: every torrent has a small integer id (stable for the life of the daemon, assigned in add order, restored from
 * the state directory) and its info-hash (40 lowercase hex). Calls that take ids accept either. The numeric ids stay
 * in the facade (not only in the RPC): the CLI names torrents by them too (`bitpeer pause 3`, `#3 name` in logs).
 *
 * Transmission's own shapes (−1/0/1 file priorities, kB/s limits, its field names) live in src/api/rpc/; the types
 * here are neutral (a file priority is 'low' | 'normal' | 'high').
 */
import type { Metainfo } from '../metainfo/index.js';
import type { DisconnectCount, PeerTotals, SessionEvent, TorrentState } from '../session/events.js';
import type { FilePriority } from '../session/torrent-status.js';
import type { EncryptionPolicy } from '../wire/mse/policy.js';
import type { DhtStats } from '../discovery/dht/types.js';

export type { EncryptionPolicy };
/** The DHT's figures (`bitpeer stats`, RPC `session-stats`' `bitpeer-dht`). */
export type { DhtPhase, DhtStats } from '../discovery/dht/types.js';

export type TorrentId = number | string;

// The session's event types, for callers of the facade (they import them from here, never from src/session/).
export type { DisconnectCount, MagnetTrackerEvent, PeerTotals, SessionEvent, TorrentState } from '../session/events.js';
/** A file's download priority (the RPC speaks it as Transmission's −1/0/1: src/api/rpc/priority.ts). */
export type { FilePriority } from '../session/torrent-status.js';

/** The `progress` event: a torrent's pieces, bytes, rates and peers now. */
export type ProgressEvent = Extract<SessionEvent, { event: 'progress' }>;

export type TorrentStateName = 'checking' | 'downloading' | 'seeding' | 'paused' | 'queued' | 'error';

export interface FileInfo {
  path: string;          // relative, '/'-separated, first component is the torrent name
  length: number;
  bytesCompleted: number;
  wanted: boolean;
  priority: FilePriority;
  /** BEP 47 pad file (never on disk, zeros): the RPC hides it and maps its file indices past it. */
  padding?: boolean;
}

export interface PeerInfo {
  address: string; port: number; client: string; direction: 'in' | 'out'; source: string;
  rateToClient: number; rateToPeer: number; /** 0..1 */ progress: number;
  downloaded: number; uploaded: number;
  // Optional, for the Transmission RPC's peer flags; when absent the RPC derives them from the rates.
  /** The peer chokes us. */
  clientChoked?: boolean;
  /** We are interested in the peer. */
  clientInterested?: boolean;
  /** We choke the peer. */
  peerChoked?: boolean;
  /** The peer is interested in us. */
  peerInterested?: boolean;
  /** The connection went through MSE/PE encryption. */
  encrypted?: boolean;
  /** The connection runs over uTP (BEP 29). */
  utp?: boolean;
}

export interface TrackerInfo {
  url: string; tier: number; lastAnnounceTime: number /*s since epoch, 0 never*/; lastAnnounceSucceeded: boolean;
  lastAnnounceResult: string; lastAnnouncePeerCount: number; seeders: number /*-1 unknown*/; leechers: number;
  nextAnnounceTime: number;
}

export interface TorrentInfo {
  id: number;
  /** The wire info-hash (40 hex): v1 SHA-1, or for a v2-only torrent the SHA-256 truncated to 20 bytes. */
  infoHash: string;
  /** BEP 52: the v2 info-hash (64 hex, SHA-256) of a v2 or hybrid torrent (or of a btmh magnet). */
  infoHashV2?: string;
  /** BEP 52: 'v1', 'v2' or 'hybrid' (absent while a magnet's metadata is pending). */
  metaVersion?: 'v1' | 'v2' | 'hybrid';
  name: string;
  state: TorrentStateName;
  error: string | null;
  /** 0..1 over the wanted pieces */
  percentDone: number;
  totalSize: number;
  sizeWhenDone: number;
  leftUntilDone: number;
  downloadRate: number;
  uploadRate: number;
  peersConnected: number;
  uploadedEver: number;
  downloadedEver: number;
  /** seconds since the epoch */
  addedDate: number;
  doneDate: number;
  savePath: string;
  pieceCount: number;
  pieceSize: number;
  /** seconds, -1 unknown */
  eta: number;
  queuePosition: number;
  uploadLimit: number;   // bytes/s, 0 = none
  downloadLimit: number;
  files: FileInfo[];
  peers: PeerInfo[];
  trackers: TrackerInfo[];
  /** checking progress 0..1 while state is checking */
  recheckProgress: number;
  magnetLink: string;
  comment: string;
  creator: string;
  dateCreated: number;
  isPrivate: boolean;
  // Optional extras for the Transmission RPC (src/api/rpc/fields.ts derives a value when one is absent).
  /** Seconds since the epoch of the last start, 0 never. */
  startDate?: number;
  /** Seconds since the epoch of the last block sent or received, 0 never. */
  activityDate?: number;
  /** Bytes downloaded that failed their hash check. */
  corruptEver?: number;
  /** Bytes still wanted that connected peers have. */
  desiredAvailable?: number;
  secondsDownloading?: number;
  secondsSeeding?: number;
  /** The have-bitfield, base64 (bit 7 of byte 0 is piece 0, as on the wire). */
  pieces?: string;
  /**
   * A magnet link whose metadata (BEP 9) has not arrived yet: no files, size 0, state `downloading` while it looks
   * for peers (`paused` when stopped); `metadataFetch` says what it is doing. Absent or false: a normal torrent.
   */
  metadataPending?: boolean;
  metadataFetch?: MetadataFetchInfo;
  /** Pieces are fetched in file order (Transmission 4.1's sequential_download) instead of rarest first. */
  sequentialDownload?: boolean;
}

/** What a pending magnet is doing. */
export interface MetadataFetchInfo {
  peersKnown: number;
  peersTried: number;
  peersConnected: number;
  /** One line for people: peers, and each tracker's last result and next retry. */
  status: string;
}

export interface SessionSettings {
  downloadDir: string;
  port: number;
  /** bytes/s, 0 = unlimited */
  uploadLimit: number;
  downloadLimit: number;
  maxActiveDownloads: number;
  maxActiveSeeds: number;
  lsd: boolean;
  pex: boolean;
  /** uTP (BEP 29) for peers, besides TCP: incoming accepted, dials tried over uTP first. Absent means on. */
  utp?: boolean;
  /** MSE/PE encryption policy (docs/design/encryption.md); default `enabled`. */
  encryption?: EncryptionPolicy;
  /** The Mainline DHT (BEP 5); absent means on (the facade's default). */
  dht?: boolean;
  /**
   * DHT bootstrap nodes (HOST:PORT). Absent: the default list (the public routers, or BITPEER_DHT_BOOTSTRAP's);
   * getSettings() gives the list in use.
   */
  dhtBootstrap?: string[];
  // Optional extras for the Transmission RPC's session-get / session-set.
  peerLimitGlobal?: number;
  peerLimitPerTorrent?: number;
  /** The state directory (Transmission's `config-dir`). */
  stateDir?: string;
}

export interface SessionStats {
  torrentCount: number;
  activeTorrentCount: number;
  pausedTorrentCount: number;
  downloadSpeed: number;
  uploadSpeed: number;
  /** totals over the life of the state directory */
  cumulative: { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number };
  /** totals since this daemon started */
  current: { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number };
  /** The DHT now (null: it is off, or does not run). */
  dht?: DhtStats | null;
}

export interface AddSource {
  torrentFile?: Buffer; path?: string; magnet?: string;
  /** `torrentFile` already parsed (it is not parsed again); only with `torrentFile`. */
  metainfo?: Metainfo;
}
export interface AddOptions {
  /** The save folder (default: the session's download folder). */
  downloadDir?: string;
  paused?: boolean;
  /** Peers to try at once (`host`, `port`), besides those the trackers, LSD and PEX find. */
  peers?: Array<{ host: string; port: number }>;
  /**
   * Read the data through symbolic links, as `create` hashed it: for seeding what is already there (a download
   * never follows a link).
   */
  followLinks?: boolean;
  /**
   * When the start-up check fails (unreadable data, a folder that cannot be written…), reject the add with that error
   * and remove only what the torrent created, instead of keeping the torrent in the error state (the default, as the
   * daemon does). For a foreground run that has nothing else to do.
   */
  failOnError?: boolean;
}
export interface AddResult { id: number; name: string; infoHash: string; duplicate: boolean }

export interface FileChanges {
  wanted?: number[]; unwanted?: number[];
  priorityHigh?: number[]; priorityNormal?: number[]; priorityLow?: number[];
}

/** A cheap read of one torrent: identity, where its data is, pieces and totals (a foreground run's lines). */
export interface TorrentSummary {
  id: number;
  infoHash: string;
  name: string;
  /** The save folder (the data is `savePath/name`). */
  savePath: string;
  state: TorrentState;
  /** Why the torrent is in the error state, else null. */
  error: string | null;
  /** Pieces verified, and the torrent's piece count. */
  have: number;
  pieces: number;
  /** Every wanted piece is verified. */
  done: boolean;
  /** Every piece is verified. */
  complete: boolean;
  downloaded: number;
  uploaded: number;
}

/** Who sent and received what over the life of a torrent, and its ended connections counted by cause. */
export interface PeerTotalsReport { peers: PeerTotals[]; disconnects: DisconnectCount[] }

/** The range and cancellation of `BitpeerApi.readFile`: bytes [start, end) of the file. */
export interface ReadFileOptions { start?: number; end?: number; signal?: AbortSignal }

/** What identifies a torrent (or a pending magnet) in messages: `#id name`. */
export interface TorrentIdentity { id: number; infoHash: string; name: string; metadataPending: boolean }

/** A magnet link's metadata being fetched (BEP 9) without adding a torrent: `api.fetchMetadata`. */
export interface MetadataFetchHandle {
  infoHash: string;
  /** Resolves with a .torrent of the verified metadata and every peer known; rejects BtError('ABORTED') on a stop. */
  promise: Promise<{ torrentFile: Buffer; name: string | undefined; peers: Array<{ host: string; port: number }> }>;
  /** Peers found, tried and connected now. */
  progress(): { peersKnown: number; peersTried: number; peersConnected: number };
  /** Ends the fetch (the promise rejects with BtError('ABORTED')). */
  stop(): void;
}

/** Errors thrown by the API are BtError with a stable code; the RPC layer turns them into `result` strings. */
export interface BitpeerApi {
  getSettings(): SessionSettings;
  setSettings(changes: Partial<SessionSettings>): Promise<void>;
  stats(): SessionStats;
  /** All torrents, or those named by ids (unknown ids are skipped). */
  get(ids?: TorrentId[]): TorrentInfo[];
  add(source: AddSource, opts?: AddOptions): Promise<AddResult>;
  start(ids?: TorrentId[]): Promise<void>;
  stop(ids?: TorrentId[]): Promise<void>;
  verify(ids?: TorrentId[]): Promise<void>;
  remove(ids: TorrentId[], deleteData: boolean): Promise<void>;
  /**
   * torrent-set-location: point the torrents at save folder `location` (absolute); with `move`, move their own files
   * there first (never overwriting; BtError otherwise). Ids, totals, priorities and paused state are kept.
   */
  setLocation(ids: TorrentId[], location: string, move: boolean): Promise<void>;
  setFiles(ids: TorrentId[], changes: FileChanges): Promise<void>;
  setLimits(ids: TorrentId[], limits: { uploadLimit?: number; downloadLimit?: number }): Promise<void>;
  /**
   * Every event of the session (the `SessionEvent` union), in order, from now on; returns the unsubscribe function.
   * A listener that throws does not stop the others.
   */
  subscribe(listener: (e: SessionEvent) => void): () => void;
  /**
   * Resolves when every wanted piece of the torrent is verified (at once if it is already). A pending magnet is
   * waited for through its metadata phase. Rejects with a BtError: the torrent's error code (or `IO`) and reason when
   * it enters the error state; `ABORTED` when it is removed, or the session closes; `ABORTED` when `signal` aborts
   * (the signal's reason as `cause`); `NOT_FOUND` for an unknown id. Leaves no listener behind once settled.
   */
  whenDone(id: TorrentId, opts?: { signal?: AbortSignal }): Promise<TorrentSummary>;
  /** The torrent's summary, or undefined (unknown id, or a pending magnet). */
  summary(id: TorrentId): TorrentSummary | undefined;
  /** The torrent's `progress` event now (what the periodic progress lines print), or undefined. */
  progress(id: TorrentId): ProgressEvent | undefined;
  /** Per-peer totals and disconnect counts of the torrent (the final summary), or undefined. */
  peerTotals(id: TorrentId): PeerTotalsReport | undefined;
  /** Id, info-hash and name of a torrent or pending magnet, cheaply (for log lines), or undefined. */
  identify(id: TorrentId): TorrentIdentity | undefined;
  /**
   * Fetch a magnet link's metadata (BEP 9) from peers, waiting for peers as long as it takes, without adding a
   * torrent: `get <magnet>` shows the wait, then adds the .torrent it got. `peers` are tried besides the link's own.
   */
  fetchMetadata(magnet: string, opts?: { peers?: Array<{ host: string; port: number }>; signal?: AbortSignal; log?: (m: string) => void }): MetadataFetchHandle;
  /** Optional: start now, bypassing the queue (Transmission's torrent-start-now). Absent: `start` is used. */
  startNow?(ids?: TorrentId[]): Promise<void>;
  /**
   * Optional: announce to the trackers again as soon as their `min interval` allows (torrent-reannounce; the session's
   * facade has it). Absent: the call is accepted and does nothing.
   */
  reannounce?(ids?: TorrentId[]): Promise<void>;
  /**
   * Optional: fetch the torrents' pieces in order (`true`) or rarest first (`false`, the default): Transmission 4.1's
   * `sequential_download`. Absent: the RPC answers that this daemon cannot.
   */
  setSequential?(ids: TorrentId[], sequential: boolean): Promise<void>;
  /**
   * Optional: read bytes [start, end) (`end` exclusive; default the whole file) of file `fileIndex` (the API's index
   * into `TorrentInfo.files`, BEP 47 pad files included: the RPC's indices skip them, see apiFileIndices) while the
   * torrent downloads. Registers a stream (a read-ahead window of pieces with deadlines, picked before anything
   * else), waits for each piece to be verified (unverified bytes are never returned), moves the window as it reads,
   * and drops its deadlines when the iteration ends or `signal` aborts. Throws at once (not on iteration) for an
   * unknown torrent or file index (NOT_FOUND), a pending magnet or a range outside the file (USAGE). While iterating:
   * ABORTED (signal, torrent stopped or removed), USAGE (a piece of a file not selected for download), IO.
   */
  readFile?(id: TorrentId, fileIndex: number, opts?: ReadFileOptions): AsyncIterable<Buffer>;
  /** Optional: shut the daemon down (session-close); called after the reply is sent. */
  shutdown?(): Promise<void>;
}
