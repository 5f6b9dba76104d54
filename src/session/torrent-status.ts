/**
 * The read model of a torrent: `Torrent.status()` returns one `TorrentStatus`, an immutable snapshot in plain data
 * (strings, numbers, booleans, frozen arrays and objects) of everything a reader needs: the API facade and its RPC,
 * the CLI's progress and summaries, a web UI. Readers never reach into the torrent's picker, peers or announcer.
 *
 * The shapes are the core's own, neutral ones: times in ms since the epoch (undefined: never), file priorities as
 * 'low' | 'normal' | 'high', tracker counts undefined when unknown. Transmission's shapes (numeric ids, queue
 * positions, −1/0/1 priorities, seconds, −1 for unknown) are made from these in src/api/.
 *
 * Invariant: a snapshot holds no live reference into the torrent; what happens to the torrent afterwards never
 * changes a snapshot already taken. Cost: O(pieces + files + peers + trackers) per call, with no hashing and no I/O.
 */
import type { DisconnectCount, PeerTotals, TorrentState } from './events.js';

export type FilePriority = 'low' | 'normal' | 'high';

/** Where a peer came from: dialled after a source named it, or connected to us. */
export type PeerOrigin = 'manual' | 'tracker' | 'pex' | 'lsd' | 'resume' | 'incoming';

export interface FileStatus {
  /** Relative, '/'-separated; the first component is the torrent's name. */
  readonly path: string;
  readonly length: number;
  /** Bytes of the file inside verified pieces. */
  readonly bytesCompleted: number;
  readonly wanted: boolean;
  readonly priority: FilePriority;
}

export interface PeerStatus {
  /** `ip:port`, IPv6 in brackets (src/util/peer-address.ts). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The client named by its peer id, or by its BEP 10 `v` when it sent one. */
  readonly client: string;
  readonly direction: 'in' | 'out';
  readonly source: PeerOrigin;
  /** We choke the peer / we are interested in it / it chokes us / it is interested in us. */
  readonly amChoking: boolean;
  readonly amInterested: boolean;
  readonly peerChoking: boolean;
  readonly peerInterested: boolean;
  /** Bytes/s, from the peer and to the peer. */
  readonly downloadRate: number;
  readonly uploadRate: number;
  /** 0..1: the share of the pieces the peer has. */
  readonly progress: number;
  /** Payload bytes over this connection. */
  readonly downloaded: number;
  readonly uploaded: number;
}

export interface TrackerStatus {
  readonly url: string;
  readonly tier: number;
  /** The last announce's time (ms; undefined: none yet), outcome, message and peer count. */
  readonly lastAnnounceAt: number | undefined;
  readonly lastAnnounceOk: boolean;
  readonly lastAnnounceMessage: string;
  readonly lastAnnouncePeers: number;
  /** As the tracker last reported them (undefined: unknown). */
  readonly seeders: number | undefined;
  readonly leechers: number | undefined;
  /** When the next regular announce is due (ms; the last announce plus its interval; undefined: none yet). */
  readonly nextAnnounceAt: number | undefined;
}

export interface TorrentStatus {
  readonly infoHash: string;
  readonly name: string;
  readonly savePath: string;
  readonly state: TorrentState;
  /** The reason of the error state (undefined in any other state). */
  readonly error: string | undefined;
  /** Paused by the user (as opposed to queued by the session). */
  readonly userPaused: boolean;
  /** Every piece is verified. */
  readonly complete: boolean;
  /** Every wanted piece is verified. */
  readonly done: boolean;
  readonly pieces: {
    readonly count: number;
    readonly length: number;
    /** Verified pieces. */
    readonly have: number;
    /** Pieces wanted (they touch a wanted file). */
    readonly wanted: number;
  };
  readonly bytes: {
    readonly total: number;
    /** Bytes in verified pieces. */
    readonly verified: number;
    /** Bytes in pieces not verified yet (wanted or not). */
    readonly left: number;
    /** Bytes in wanted pieces, and the part of them not verified yet. */
    readonly wanted: number;
    readonly wantedLeft: number;
  };
  /** The have-bitfield, base64 (bit 7 of byte 0 is piece 0, as on the wire). */
  readonly bitfield: string;
  readonly files: readonly FileStatus[];
  readonly peers: readonly PeerStatus[];
  readonly trackers: readonly TrackerStatus[];
  /** Bytes/s (0 = unlimited). */
  readonly limits: { readonly upload: number; readonly download: number };
  /** Bytes/s now. */
  readonly rates: { readonly download: number; readonly upload: number };
  /** Payload bytes: over the torrent's life (restored totals included), and bytes of pieces that failed their hash. */
  readonly totals: { readonly downloaded: number; readonly uploaded: number; readonly corrupt: number };
  /** ms since the epoch; undefined: never. */
  readonly times: {
    readonly added: number;
    /** The last time it went live (downloading or seeding). */
    readonly started: number | undefined;
    /** Completion (this run's, else the one restored from the state directory). */
    readonly completed: number | undefined;
    /** The last block received or sent. */
    readonly lastActivity: number | undefined;
  };
  /** 0..1 while checking; 1 once checked. */
  readonly checkProgress: number;
  /** Connections open now, and connections being dialled or open (what counts against the limits). */
  readonly connectedPeers: number;
  readonly connections: number;
  /** Per-peer byte totals, kept after a peer disconnects (the exit summary). */
  readonly peerTotals: readonly PeerTotals[];
  /** Ended connections counted by cause, most frequent first. */
  readonly disconnects: readonly DisconnectCount[];
}

/** Freeze `o` and the arrays and objects one level down (a status holds nothing deeper than two levels). */
export function freezeStatus(s: TorrentStatus): TorrentStatus {
  for (const v of Object.values(s)) {
    if (Array.isArray(v)) { for (const x of v) Object.freeze(x); Object.freeze(v); } else if (v !== null && typeof v === 'object') Object.freeze(v);
  }
  return Object.freeze(s);
}
