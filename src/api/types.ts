/**
 * The bitpeer API facade: plain, JSON-serialisable calls and types. The daemon's Transmission-compatible RPC
 * (src/api/rpc/) and the CLI's client commands use only this; the Session implements it (src/api/session-api.ts).
 *
 * Ids: every torrent has a small integer id (stable for the life of the daemon, assigned in add order, restored from
 * the state directory) and its info-hash (40 lowercase hex). Calls that take ids accept either.
 */
export type TorrentId = number | string;

export type TorrentStateName = 'checking' | 'downloading' | 'seeding' | 'paused' | 'queued' | 'error';

export interface FileInfo {
  path: string;          // relative, '/'-separated, first component is the torrent name
  length: number;
  bytesCompleted: number;
  wanted: boolean;
  priority: -1 | 0 | 1;  // low, normal, high (Transmission's scale)
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
}

export interface TrackerInfo {
  url: string; tier: number; lastAnnounceTime: number /*s since epoch, 0 never*/; lastAnnounceSucceeded: boolean;
  lastAnnounceResult: string; lastAnnouncePeerCount: number; seeders: number /*-1 unknown*/; leechers: number;
  nextAnnounceTime: number;
}

export interface TorrentInfo {
  id: number;
  infoHash: string;
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
  // Optional extras for the Transmission RPC's session-get / session-set.
  dht?: boolean;
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
}

export interface AddSource { torrentFile?: Buffer; path?: string; magnet?: string }
export interface AddOptions { downloadDir?: string; paused?: boolean }
export interface AddResult { id: number; name: string; infoHash: string; duplicate: boolean }

export interface FileChanges {
  wanted?: number[]; unwanted?: number[];
  priorityHigh?: number[]; priorityNormal?: number[]; priorityLow?: number[];
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
  /** Optional: start now, bypassing the queue (Transmission's torrent-start-now). Absent: `start` is used. */
  startNow?(ids?: TorrentId[]): Promise<void>;
  /** Optional: announce to the trackers now (torrent-reannounce). Absent: the call is accepted and does nothing. */
  reannounce?(ids?: TorrentId[]): Promise<void>;
  /** Optional: shut the daemon down (session-close); called after the reply is sent. */
  shutdown?(): Promise<void>;
}
