/**
 * The composition root: `openBitpeer(options)` builds a Session (port, bind address, limits, LSD, PEX, trackers, I/O
 * options), with its state directory when it has one (settings, resume data, pending magnets: src/api/state-dir.ts),
 * opens the port, and returns the facade (BitpeerApi) with what a host needs: the port and `close()`. The daemon, the
 * CLI's `seed`/`get`/`share` and tests that need a whole session all start here; nothing else builds a Session for
 * them.
 *
 * Invariant: when it rejects (the port is taken, the state directory is locked or unreadable…), everything it opened
 * is closed again. `onEvent` sees every event from before the port opens (the `listening` event, a restore's events).
 */
import { resolve } from 'node:path';
import { DEFAULT_QUEUE_LIMITS, Session, type SessionOptions } from '../session/session.js';
import type { TorrentIds } from './torrent-ids.js';
import { SessionApi, type SessionApiHooks } from './session-api.js';
import type { BitpeerApi, EncryptionPolicy, SessionEvent, SessionSettings } from './types.js';
import type { DhtConfig, DhtPersistedState } from '../discovery/dht/types.js';
import { checkBootstrapList, defaultDhtBootstrap, isPrivateBootstrap } from './dht-config.js';

export interface OpenStateOptions {
  /** The state directory (locked while open). */
  dir: string;
  /** The download folder when neither `downloadDir` nor a saved setting gives one (the user's Downloads). */
  defaultDownloadDir: () => string;
  /** The RPC port to save in settings.json (the host runs the RPC server; default: the saved one, else 9091). */
  rpcPort?: number;
  /** Resume data is saved at most this often while pieces arrive (default: src/state's). */
  resumeIntervalMs?: number;
}

export interface OpenOptions {
  /** The peer port (0 = any free one). Default: the saved one with a state directory, else 6881. */
  port?: number;
  /** The bind address. Default 0.0.0.0. */
  bind?: string;
  /** Local service discovery (BEP 14), peer exchange (BEP 11). Default: saved with a state directory, else on. */
  lsd?: boolean;
  pex?: boolean;
  /** uTP (BEP 29) besides TCP (src/net/utp/). Default: saved with a state directory, else on (as libtorrent). */
  utp?: boolean;
  /** MSE/PE encryption policy. Default: saved with a state directory, else `enabled`. */
  encryption?: EncryptionPolicy;
  /** Announce to the torrents' trackers. Default on. */
  trackers?: boolean;
  /** The embedded tracker answers for any info-hash. Default off. */
  openTracker?: boolean;
  /** The Mainline DHT (BEP 5) on the UDP port. Default: saved with a state directory, else on. */
  dht?: boolean;
  /**
   * DHT bootstrap nodes, HOST:PORT (checked: BtError('USAGE') on junk). Default: saved with a state directory, else
   * the default list of `env` (src/api/dht-config.ts: the public routers, or BITPEER_DHT_BOOTSTRAP's list when that
   * variable is set; "" or "none": no bootstrap node).
   */
  dhtBootstrap?: string[];
  /** DHT private-network mode (loopback/private nodes, several per IP). Default: on when every bootstrap node is private. */
  dhtPrivate?: boolean;
  /**
   * The user's environment (the CLI and the daemon pass process.env; library code reads none): it decides the
   * default DHT bootstrap list. Absent (an embedder, a test): no default bootstrap node, so that only a user's real
   * runs ever contact the public routers.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Global rate limits, bytes/s (0 = none). */
  uploadLimit?: number;
  downloadLimit?: number;
  /** Connection caps: in all, and per torrent. Default: the session's (200, 50). */
  maxConnections?: number;
  maxPeersPerTorrent?: number;
  /** Peer sockets read into one shared buffer where Node allows it; file I/O only through the thread pool. */
  io?: Pick<SessionOptions, 'sharedReadBuffer' | 'asyncIo' | 'pieceWorker'>;
  /** The default save folder of `add`. Default: the saved one with a state directory, else the current folder. */
  downloadDir?: string;
  /** Lines for people (warnings, what a restore found, what a removal deleted). */
  log?: (line: string) => void;
  /** Debug lines (no prefix). */
  debug?: (line: string) => void;
  /** Every session event, from before the port opens; with the facade (to name a torrent `#id name`). */
  onEvent?: (e: SessionEvent, api: BitpeerApi) => void;
  /** Keep settings, torrents and their resume data in a state directory (the daemon). */
  state?: OpenStateOptions;
}

export interface OpenedBitpeer {
  api: BitpeerApi;
  /** The peer port it listens on. */
  readonly port: number;
  /** The RPC port saved in the state directory's settings (only with `state`). */
  rpcPort?: number;
  /** Torrents in the session (pending magnets not counted). */
  torrentCount(): number;
  /**
   * Stops every torrent (announcing `stopped`), saves the state directory's data, releases its lock. Idempotent.
   * `{ save: false }`: the host's own start failed after this opened; the state directory is left as it was read
   * (no totals, no session counted), as a start that never happened.
   */
  close(opts?: { save?: boolean }): Promise<void>;
}

/** The pieces src/api/state-dir.ts composes around. */
export interface SessionParts {
  session: Session;
  api: SessionApi;
}

/** The session's queue defaults (0: no limit), as SessionSettings shows them. */
export const QUEUE_DEFAULTS = { maxActiveDownloads: DEFAULT_QUEUE_LIMITS.downloads, maxActiveSeeds: DEFAULT_QUEUE_LIMITS.seeds };

/**
 * The session's DHT setting: off when `options.dht` (or the saved setting) says so, else the bootstrap nodes (given,
 * saved, else the default list) and private-network mode (given, else by the nodes), with the restored node state.
 */
export function dhtConfigOf(options: OpenOptions, settings: SessionSettings, restored?: DhtPersistedState): DhtConfig | false {
  if ((options.dht ?? settings.dht ?? true) === false) return false;
  const bootstrap = options.dhtBootstrap !== undefined ? checkBootstrapList(options.dhtBootstrap)
    : settings.dhtBootstrap ?? (options.env ? defaultDhtBootstrap(options.env) : []);
  return { bootstrap, privateNetwork: options.dhtPrivate ?? isPrivateBootstrap(bootstrap), ...(restored ? { restored } : {}) };
}

export async function openBitpeer(options: OpenOptions = {}): Promise<OpenedBitpeer> {
  if (options.state) {
    // Loaded only here: `get` and `seed` do not load the state directory's modules (start-up time).
    const { openWithState } = await import('./state-dir.js');
    return openWithState(options, options.state);
  }
  const { session, api } = buildSession(options, {
    downloadDir: options.downloadDir ?? resolve('.'), port: options.port ?? 6881,
    uploadLimit: options.uploadLimit ?? 0, downloadLimit: options.downloadLimit ?? 0,
    maxActiveDownloads: QUEUE_DEFAULTS.maxActiveDownloads, maxActiveSeeds: QUEUE_DEFAULTS.maxActiveSeeds,
    lsd: options.lsd ?? true, pex: options.pex ?? true, utp: options.utp ?? true, encryption: options.encryption ?? 'enabled',
  }, {});
  try {
    await session.listen();
  } catch (err) {
    await session.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    api, get port() { return session.port; },
    torrentCount: () => session.torrents.size,
    close: () => closing ??= (async () => { api.close(); await session.close(); })(),
  };
}

/**
 * A Session for `options` and its facade (`onEvent` subscribed before anything happens); not listening yet. `dht`:
 * the DHT's restored state and where to save it (the state directory's dht.dat).
 */
export function buildSession(options: OpenOptions, settings: SessionSettings, hooks: SessionApiHooks, ids?: TorrentIds,
  dht: { restored?: DhtPersistedState; onPersist?: (s: DhtPersistedState) => void } = {}): SessionParts {
  const debug = options.debug;
  const session = new Session({
    dht: dhtConfigOf(options, settings, dht.restored),
    ...(dht.onPersist ? { onDhtPersist: dht.onPersist } : {}),
    port: options.port ?? settings.port,
    host: options.bind ?? '0.0.0.0',
    lsd: options.lsd ?? settings.lsd,
    pex: options.pex ?? settings.pex,
    utp: options.utp ?? settings.utp ?? true,
    encryption: options.encryption ?? settings.encryption ?? 'enabled',
    trackers: options.trackers ?? true,
    ...(options.openTracker !== undefined ? { openTracker: options.openTracker } : {}),
    uploadLimit: options.uploadLimit ?? settings.uploadLimit,
    downloadLimit: options.downloadLimit ?? settings.downloadLimit,
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxPeersPerTorrent !== undefined ? { peerLimits: { maxPeers: options.maxPeersPerTorrent } } : {}),
    ...(debug ? { log: debug } : {}),
    ...options.io,
  });
  session.setQueueLimits({ downloads: settings.maxActiveDownloads, seeds: settings.maxActiveSeeds });
  const api = new SessionApi(session, settings, hooks, { ...(options.io?.asyncIo ? { asyncIo: true } : {}), ...(ids ? { ids } : {}) });
  const onEvent = options.onEvent;
  if (onEvent) session.events.subscribe((e) => onEvent(e, api));
  return { session, api };
}
