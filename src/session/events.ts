/**
 * The typed event stream of a session: one discriminated union, one object per event.
 *
 * The CLI's `--json` mode prints these objects one per line (see docs/cli.md), so field names are part of the CLI
 * contract: add fields freely, never rename or remove one.
 */
import type { ErrorCode, ErrorOp } from '../util/errors.js';
import type { DhtPhase } from '../discovery/dht/types.js';

export type TorrentState = 'checking' | 'downloading' | 'seeding' | 'paused' | 'queued' | 'error' | 'stopped';

/** A tracker of a pending magnet, as in `metadata-fetching` events. */
export interface MagnetTrackerEvent { url: string; ok: boolean; message: string; peers: number; retryInSeconds: number }

export interface PeerTotals { peer: string; client: string; downloaded: number; uploaded: number }

/** How many connections ended with one cause (op and code, see src/util/errors.ts). */
export interface DisconnectCount { op: ErrorOp; code: ErrorCode; count: number }

export type SessionEvent =
  | { event: 'listening'; port: number; host: string }
  | { event: 'added'; infoHash: string; name: string; pieces: number; size: number; savePath: string;
      /** BEP 52: 'v1', 'v2' or 'hybrid'; the v2 info-hash (64 hex, SHA-256) of a v2 or hybrid torrent. */
      version?: 'v1' | 'v2' | 'hybrid'; infoHashV2?: string }
  | { event: 'checking'; infoHash: string; checked: number; pieces: number }
  | { event: 'checked'; infoHash: string; have: number; pieces: number; elapsedMs: number }
  | { event: 'state'; infoHash: string; state: TorrentState; reason?: string }
  | { event: 'progress'; infoHash: string; have: number; pieces: number; percent: number; downloaded: number;
      uploaded: number; downRate: number; upRate: number; peers: number; etaSeconds: number | null;
      /** Bytes verified, and the torrent's size. */
      completedBytes?: number; size?: number;
      /** Nodes in the session's DHT routing table (present while the DHT runs; the facade's `progress` adds it). */
      dhtNodes?: number }
  | { event: 'peer-connect'; infoHash: string; peer: string; direction: 'in' | 'out'; client: string; source: string;
      /** The transport, and the encryption: none, MSE with plaintext selected, or RC4. */
      transport: 'tcp' | 'utp'; encryption: 'none' | 'mse-plaintext' | 'rc4' }
  | { event: 'peer-discovered'; infoHash: string; peer: string; source: string }
  | { event: 'tracker-announce'; infoHash: string; url: string; trackerEvent: string; peers: number; interval: number; complete?: number; incomplete?: number }
  | { event: 'tracker-warning'; infoHash: string; url: string; message: string }
  | { event: 'tracker-error'; infoHash: string; url: string; message: string; retryInSec?: number }
  | { event: 'peer-disconnect'; infoHash: string; peer: string; reason: string; downloaded: number; uploaded: number;
      /** The cause: the operation and the stable code (`reason` is its message, for humans). */
      op: ErrorOp; code: ErrorCode }
  | { event: 'peer-banned'; infoHash: string; peer: string; reason: string; op: ErrorOp; code: ErrorCode }
  /** `peers`: the peers struck. `badBlocks` (v2): the blocks whose leaf hash was wrong, when leaf hashes found them. */
  | { event: 'piece-failed'; infoHash: string; piece: number; peers: string[]; badBlocks?: number[] }
  | { event: 'complete'; infoHash: string; elapsedMs: number; downloaded: number }
  | { event: 'peer-totals'; infoHash: string; peers: PeerTotals[];
      /** Ended connections counted by cause, most frequent first (absent when the emitter has no count). */
      disconnects?: DisconnectCount[] }
  | { event: 'metadata-fetching'; infoHash: string; name: string; peersKnown: number; peersTried: number;
      peersConnected: number; trackers: MagnetTrackerEvent[]; status: string }
  | { event: 'metadata-received'; infoHash: string; name: string; size: number; elapsedMs: number; peers: number;
      /** A btmh link's v2 info-hash (64 hex; the metadata's SHA-256 equals it). */
      infoHashV2?: string }
  /** The session's DHT (BEP 5) changed phase (once per change): bootstrapping, ready, no-nodes, off. */
  | { event: 'dht'; phase: DhtPhase; nodes: number; good: number; id: string }
  | { event: 'warning'; infoHash?: string; message: string }
  | { event: 'error'; infoHash?: string; code: string; message: string };
