/**
 * One torrent in a session: a thin state machine that glues the picker, the peers, storage and the choker.
 *
 *   added → checking → downloading → seeding        (error: storage failure, with a reason; stopped: closed)
 *
 * The work is done elsewhere: peers.ts (connections), requests.ts (download side), uploads.ts (upload side),
 * the pure picker and choker (src/picker). This file dispatches peer messages and runs the once-a-second tick.
 *
 * Leecher → seeder (when the last piece is verified): announce `complete`, send `not interested` to everyone, drop
 * peers that are seeds too, and switch the choker to seed mode.
 *
 * Encapsulated: every part (picker, peers, announcer, tracker log, storage, buckets) is private. Readers take
 * `status()`, an immutable snapshot (torrent-status.ts), or a readonly getter; writers use the commands (setFiles,
 * setLimits, userPause/userResume, addPeer, verify...). Options and plain types: torrent-options.ts.
 *
 * Invariant: a piece is counted as had (picker.have, `have` broadcast) only after its data verified AND was written.
 */
import { filePieceRange, type Metainfo } from '../metainfo/index.js';
import { Choker } from '../picker/choker.js';
import { PiecePicker } from '../picker/piece-picker.js';
import { checkPieces } from '../storage/check.js';
import type { HashPool } from '../storage/hasher.js';
import type { Storage } from '../storage/storage.js';
import { Bitfield } from '../util/bitfield.js';
import { BtError, cause, causeKey, errorMessage, type Cause } from '../util/errors.js';
import { pieceSizeAt } from '../util/geometry.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { RateMeter } from '../util/rate.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Handshake, Message } from '../wire/codec/index.js';
import type { AnnouncerLike, PeerSource, StartPlan, TorrentOptions } from './torrent-options.js';
import type { DisconnectCount, SessionEvent, TorrentState } from './events.js';
import { bytesLeftOf, fileStatuses, freezeStatus, progressEvent, peerStatuses, TrackerLog, wantedTotals, type FilePriority, type TorrentStatus } from './torrent-status.js';
import type { Peer } from './peer.js';
import { DEFAULT_PEER_LIMITS, PeerManager } from './peers.js';
import { Extensions } from './extensions.js';
import { RequestScheduler } from './requests.js';
import { UploadServer } from './uploads.js';
import type { PeerStream } from '../net/transport.js';
import { tcpTransport } from '../net/tcp-transport.js';
import { systemClock } from '../platform/clock.js';
import { MerkleState } from './v2-hashes.js';
import { HashExchange } from './hash-exchange.js';
import { TorrentStreams, type StreamCommands } from './streams.js';

export type { AnnouncerLike, PeerSource, RestoredTotals, StartPlan, TorrentOptions } from './torrent-options.js';

const BOTH_SEEDS = cause('local', 'NOT_NEEDED', 'both sides are seeds');
const IDLE_TIMEOUT = cause('timeout', 'TIMEOUT', 'idle timeout (120 s without a message)');

const RECHOKE_EVERY_MS = 10_000;
/** File priorities as picker priorities (0: not wanted). */
const PICKER_PRIORITY: Readonly<Record<FilePriority, number>> = { low: 1, normal: 4, high: 7 };
/** Strikes (hash failures) after which a peer is banned; a sole contributor of a bad piece is banned at once. */
const MAX_STRIKES = 3;
/** Incoming connections held while the start-up check runs. */
const MAX_DEFERRED_INCOMING = 50;

export class Torrent {
  readonly meta: Metainfo;
  readonly infoHash: Buffer;
  readonly infoHashHex: string;
  readonly savePath: string;
  private picker: PiecePicker;
  private readonly peers: PeerManager;
  private readonly storage: Storage;
  private readonly hasher: HashPool;
  private st: TorrentState = 'checking';
  private errorReasonText: string | undefined;
  private readonly down: RateMeter;
  private readonly up: RateMeter;
  /** Payload totals: restored ones (state directory) plus this torrent object's. */
  private downloadedBytes = 0;
  private uploadedBytes = 0;
  /** Bytes of pieces that failed their hash check. */
  private corruptBytes = 0;
  /** When this torrent object was made (ms). */
  private readonly createdAt: number;
  /** When it was added (ms since the epoch, whole seconds: restored from the state directory, else creation). */
  private readonly addedAt: number;
  /** When it last went live, and the last block received or sent (ms). */
  private liveSince: number | undefined;
  private lastActivityAt: number | undefined;
  private completedAt: number | undefined;
  /** Completion time restored from the state directory (ms); dropped, like completedAt, when a piece is lost. */
  private restoredCompletedAt: number | undefined;
  /** Per-peer byte totals, kept after a peer disconnects (for the exit summary). */
  private readonly peerTotals = new Map<string, { client: string; downloaded: number; uploaded: number }>();
  /** Ended connections by cause ("op/code"), over the life of this torrent object. */
  private readonly disconnects = new Map<string, DisconnectCount>();

  private requests: RequestScheduler;
  private readonly uploads: UploadServer;
  private readonly choker: Choker;
  private lastRechokeAt = 0;
  private readonly opts: TorrentOptions;
  private readonly abort = new AbortController();
  /** Schedule `fn` on an unref'd timer of the clock: rate-limit retries must never keep the process alive. */
  private readonly schedule = (fn: () => void, ms: number): void => { (this.opts.clock ?? systemClock).setTimeout(fn, ms).unref(); };
  private readonly onParentAbort = (): void => { if (!this.abort.signal.aborted) this.abort.abort(this.opts.signal?.reason ?? new BtError('ABORTED', 'session closed')); };
  private readonly uploadBucket: TokenBucket;
  private readonly downloadBucket: TokenBucket;
  private announcer: AnnouncerLike | undefined;
  private ext: Extensions | undefined;
  /** BEP 10 and PEX state, made when the first peer connects: a thousand torrents without peers need none. */
  private get extensions(): Extensions { return this.ext ??= this.newExtensions(); }
  /** Checking progress 0..1 (while state is `checking`). */
  private checkProgress = 0;
  /** The user paused it (as opposed to the session queueing it). */
  private paused: boolean;
  /** Per tracker URL: the last announce outcome. */
  private readonly trackerLog = new TrackerLog();
  private filesWanted: boolean[];
  private filePriorities: FilePriority[];
  /** BEP 52 (v2 and hybrid torrents only): the merkle state and the hash exchange (v2-hashes.ts, hash-exchange.ts). */
  private readonly v2: MerkleState | undefined;
  private readonly hashes: HashExchange | undefined;
  /** Readers of byte ranges (streaming): their read-ahead windows, deadlines and waits (streams.ts). */
  private readonly streams: TorrentStreams;

  constructor(opts: TorrentOptions) {
    this.opts = opts;
    // Chained cancellation: session → torrent (→ each dial, src/session/peers.ts).
    if (opts.signal?.aborted) this.onParentAbort(); else opts.signal?.addEventListener('abort', this.onParentAbort, { once: true });
    this.meta = opts.meta;
    this.infoHash = opts.meta.infoHash;
    this.infoHashHex = opts.meta.infoHashHex;
    this.savePath = opts.savePath;
    this.storage = opts.storage;
    this.hasher = opts.hasher;
    this.createdAt = opts.now();
    this.addedAt = opts.addedAt ?? Math.floor(this.createdAt / 1000) * 1000;
    this.paused = opts.paused ?? false;
    this.downloadedBytes = opts.restored?.downloaded ?? 0;
    this.uploadedBytes = opts.restored?.uploaded ?? 0;
    this.restoredCompletedAt = opts.restored?.completedAt;
    this.down = new RateMeter(opts.now);
    this.up = new RateMeter(opts.now);
    this.picker = this.newPicker();
    if (opts.meta.version === 'v2' || opts.meta.version === 'hybrid') {
      this.v2 = new MerkleState(opts.meta, opts.restoredPieceLayers);
      this.hashes = new HashExchange({
        state: this.v2, storage: this.storage, now: opts.now, peers: () => this.peers.connected.values(),
        have: (i) => this.picker.have(i), onPieceFailed: (i, c, b) => this.onPieceFailed(i, c, b),
        onLayersLearned: () => this.requests.fillAll(), log: opts.log,
      });
    }
    this.filesWanted = opts.meta.files.map(() => true);
    this.filePriorities = opts.meta.files.map((): FilePriority => 'normal');
    this.choker = new Choker({ uploadSlots: opts.uploadSlots ?? 4, rng: opts.rng });
    this.uploadBucket = new TokenBucket({ rate: opts.uploadLimit ?? 0, now: opts.now, ...(opts.uploadParent ? { parent: opts.uploadParent } : {}) });
    this.downloadBucket = new TokenBucket({ rate: opts.downloadLimit ?? 0, now: opts.now, ...(opts.downloadParent ? { parent: opts.downloadParent } : {}) });
    this.peers = new PeerManager({
      infoHash: this.infoHash, peerId: opts.peerId, reserved: opts.reserved, pieceCount: opts.meta.pieceCount,
      ...(opts.meta.version === 'hybrid' && opts.meta.infoHashV2 ? { infoHashV2Truncated: opts.meta.infoHashV2.subarray(0, 20) } : {}),
      ...(opts.meta.version === 'v2' ? { v2Only: true } : {}),
      geometry: { pieceCount: opts.meta.pieceCount, pieceLength: opts.meta.pieceLength, totalLength: opts.meta.totalLength },
      now: opts.now,
      ...(opts.clock ? { clock: opts.clock } : {}),
      signal: this.abort.signal,
      transport: opts.transport ?? tcpTransport,
      ...(opts.encryption ? { encryption: opts.encryption } : {}),
      ...(opts.randomBytes ? { randomBytes: opts.randomBytes } : {}),
      canOpen: opts.canOpen, ...(opts.dhtPort ? { dhtPort: opts.dhtPort } : {}),
      ...(opts.sharedReadBuffer === false ? { sharedReadBuffer: false } : {}),
      wantsOutgoing: () => this.state === 'downloading' || this.state === 'seeding',
      isSeeding: () => this.picker.complete,
      onPeerConnected: (p) => this.onPeerConnected(p),
      onPeerMessage: (p, m) => this.onPeerMessage(p, m),
      onPeerClosed: (p, r) => this.onPeerClosed(p, r),
      onPeerDrain: (p) => this.uploads.pump(p),
      log: opts.log,
    }, { ...DEFAULT_PEER_LIMITS, ...opts.peerLimits });
    this.requests = this.newRequests();
    this.streams = new TorrentStreams({
      pieceCount: opts.meta.pieceCount, pieceLength: opts.meta.pieceLength, picker: () => this.picker, requests: () => this.requests,
      peers: () => this.peers.connected.values(), peerByKey: (k) => this.peers.connected.get(k), now: opts.now,
    });
    this.uploads = new UploadServer({
      storage: this.storage,
      pieceLength: this.meta.pieceLength,
      havePiece: (i) => this.picker.have(i),
      onUploadBytes: (p, n) => { p.up.add(n); this.up.add(n); this.uploadedBytes += n; this.lastActivityAt = opts.now(); this.totalsFor(p).uploaded += n; },
      onStorageError: (e) => this.fail(e),
      uploadBucket: this.uploadBucket,
      schedule: this.schedule,
    });
  }

  private newExtensions(): Extensions {
    const opts = this.opts;
    return new Extensions({
      pexEnabled: (opts.pex ?? false) && !opts.meta.private,
      listenPort: () => opts.listenPort?.() ?? 0,
      now: opts.now,
      addPeer: (h, p, src) => this.addPeer(h, p, src),
      onYourIp: (ip, from) => opts.onYourIp?.(ip, from),
      metadata: () => opts.meta.infoBytes,
      encryptionRequired: () => opts.encryption?.() === 'forced',
      preferEncrypted: (h, p) => this.peers.preferEncrypted(formatPeerAddress(h, p)),
      log: opts.log,
    });
  }

  private newPicker(): PiecePicker {
    const m = this.opts.meta;
    return new PiecePicker({ pieceCount: m.pieceCount, pieceLength: m.pieceLength, totalLength: m.totalLength, rng: this.opts.rng });
  }

  private newRequests(): RequestScheduler {
    return new RequestScheduler({
      meta: this.meta, picker: this.picker, storage: this.storage, now: this.opts.now,
      peers: () => this.peers.connected.values(),
      peerByKey: (k) => this.peers.connected.get(k),
      onPieceVerified: (i) => this.onPieceVerified(i),
      onPieceFailed: (i, c) => this.onPieceFailed(i, c),
      onStorageError: (e) => this.fail(e),
      onBlockBytes: (p, n) => { p.down.add(n); this.down.add(n); this.downloadedBytes += n; this.lastActivityAt = this.opts.now(); this.totalsFor(p).downloaded += n; },
      downloadBucket: this.downloadBucket,
      schedule: this.schedule,
      v2: this.v2,
      // v2-only pieces wait for their piece-layer hashes; hybrid pieces can stand on SHA-1 meanwhile.
      canRequest: () => this.meta.version !== 'v2' || !this.hashes || this.hashes.ready,
      onV2PieceFailed: (i, leaves, senders, c) => this.hashes?.onPieceFailed(i, leaves, senders, c),
      mayTakeCritical: (p) => this.streams.isFast(p), queueCap: (p) => this.streams.queueCap(p),
    });
  }

  /** Complete BEP 52 piece layers (root hex → layer); `fetchedOnly`: those the metainfo lacks (for the resume data). */
  pieceLayers(fetchedOnly = false): Map<string, Buffer> {
    const out = this.v2?.completeLayers() ?? new Map<string, Buffer>();
    if (fetchedOnly) for (const root of this.meta.pieceLayers.keys()) out.delete(root);
    return out;
  }

  get complete(): boolean { return this.picker.complete; }
  get signal(): AbortSignal { return this.abort.signal; }

  /** Check what is on disk (as `plan` says), then go live unless `plan.paused`. */
  async start(plan: StartPlan = {}): Promise<void> {
    await this.check(plan);
    if (this.state === 'stopped') return;
    if (this.pauseRequested) { this.pauseRequested = false; this.setState('paused'); return; }
    if (plan.paused) { this.setState(plan.paused === 'queued' ? 'queued' : 'paused'); return; }
    await this.goLive();
  }

  /** True when every wanted piece is verified (all pieces, unless files were deselected). */
  get done(): boolean { return this.picker.wantedRemaining === 0; }

  private async check(plan: StartPlan): Promise<void> {
    const { meta } = this;
    const started = this.opts.now();
    this.setState('checking');
    this.checkProgress = 0;
    for (const i of plan.trusted ?? []) this.picker.markHave(i);
    const recheck = plan.recheck ?? (this.opts.skipCheck ? 'none' : 'all');
    if (recheck !== 'none') {
      const only = recheck === 'all' ? undefined : [...recheck].filter((i) => !this.picker.have(i));
      if (only === undefined || only.length > 0) {
        let lastProgressAt = started;
        const have = await checkPieces(meta, this.storage, this.hasher, {
          signal: this.abort.signal,
          ...(this.v2 ? { v2: { state: this.v2, sha1: meta.version === 'hybrid' } } : {}),
          ...(only ? { only } : {}),
          onProgress: (checked, total) => {
            this.checkProgress = total > 0 ? checked / total : 1;
            // At most 4 events a second: a fresh 1 GiB download "checks" its 4096 missing pieces in ~40 ms.
            const now = this.opts.now();
            if (now - lastProgressAt < 250 && checked < total) return;
            lastProgressAt = now;
            this.opts.emit({ event: 'checking', infoHash: this.infoHashHex, checked, pieces: total });
          },
        });
        for (const i of have.indexes()) this.picker.markHave(i);
      }
    }
    this.checkProgress = 1;
    this.opts.emit({ event: 'checked', infoHash: this.infoHashHex, have: this.picker.haveCount, pieces: meta.pieceCount, elapsedMs: this.opts.now() - started });
  }

  private async goLive(): Promise<void> {
    // Folders and files appear when their first piece is written; a complete torrent gets its zero-length files.
    if (this.done) await this.storage.prepare?.();
    else await this.storage.checkWritable?.();
    if (this.state === 'stopped') return;
    this.errorReasonText = undefined;
    this.liveSince = this.opts.now();
    this.setState(this.done ? 'seeding' : 'downloading');
    this.peers.resume();
    this.acceptDeferred();
    this.opts.setTrackerSelf?.(this.done);
    if (!this.meta.private) this.opts.lsd?.add(this.infoHashHex);
    if (this.opts.createAnnouncer) {
      this.announcer = this.opts.createAnnouncer(this, (e) => this.trackerLog.record(e, this.opts.now()));
      this.announcer.start();
    }
    this.tick(this.opts.now());
  }

  private pauseRequested = false;

  /** Stop trading (paused, or queued by the session): peers dropped, `stopped` announced; pieces are kept. */
  async pause(state: 'paused' | 'queued' = 'paused'): Promise<void> {
    if (this.state === 'checking') { this.pauseRequested = true; return; }
    if (this.state === 'stopped' || this.state === state) return;
    const wasLive = this.state === 'downloading' || this.state === 'seeding';
    if (wasLive) {
      const announcer = this.announcer;
      this.announcer = undefined;
      this.peers.stop(cause('local', 'ABORTED', state === 'paused' ? 'torrent paused' : 'torrent queued'));
      this.opts.lsd?.remove(this.infoHashHex);
      this.opts.setTrackerSelf?.(null);
      this.setState(state);
      await Promise.all([announcer?.stop(3000).catch(() => {}), this.storage.flush?.().catch(() => {})]);
    } else {
      this.setState(state);
    }
  }

  /** Go live again after pause(), queueing or an error (the error is cleared; a persisting fault shows again). */
  async resume(): Promise<void> {
    if (this.state !== 'paused' && this.state !== 'queued' && this.state !== 'error') return;
    await this.goLive();
  }

  /** Hash every piece again (torrent-verify): drop what fails, keep what passes, then continue as before. */
  async verify(): Promise<void> {
    if (this.state === 'checking' || this.state === 'stopped') return;
    const before = this.state;
    await this.pause('paused');
    const priorities = Array.from({ length: this.meta.pieceCount }, (_, i) => this.picker.piecePriority(i));
    const sequential = this.picker.sequential;
    this.picker = this.newPicker();
    this.picker.setSequential(sequential);
    priorities.forEach((p, i) => { if (p !== 1) this.picker.setPiecePriority(i, p); });
    this.requests.close();
    this.requests = this.newRequests();
    this.streams.apply();
    this.uploads.clearCache();
    await this.check({ recheck: 'all' });
    if (!this.done) this.forgetCompletion(); // a piece was lost: completing again is a new completion
    if ((this.state as TorrentState) === 'stopped') return;
    if (before === 'paused' || before === 'queued' || this.pauseRequested) { this.pauseRequested = false; this.setState(before === 'queued' ? 'queued' : 'paused'); return; }
    await this.goLive();
  }

  /**
   * File selection (selective download): unwanted files get priority 0 unless a piece is shared with a wanted
   * file; otherwise low/normal/high map to picker priorities 1/4/7 (higher picked first). A list shorter than the
   * file list leaves the rest wanted, at normal priority. Pad files are ignored (zeros nobody needs to download).
   */
  setFiles(wanted: readonly boolean[], priorities: readonly FilePriority[]): void {
    const piecePrio = new Array<number>(this.meta.pieceCount).fill(0);
    this.meta.files.forEach((f, i) => {
      const range = filePieceRange(this.meta, i);
      // A pad file (BEP 47) never makes a piece wanted: only the files around it do (libtorrent: pads get priority 0).
      if (!range || f.padding === true || !(wanted[i] ?? true)) return;
      const p = PICKER_PRIORITY[priorities[i] ?? 'normal'];
      for (let k = range.first; k <= range.last; k++) if (p > piecePrio[k]!) piecePrio[k] = p;
    });
    piecePrio.forEach((p, i) => this.picker.setPiecePriority(i, p));
    this.filesWanted = this.meta.files.map((_, i) => wanted[i] ?? true);
    this.filePriorities = this.meta.files.map((_, i) => priorities[i] ?? 'normal');
    if (this.state === 'downloading' && this.done) this.onComplete();
    else if (this.state === 'seeding' && !this.done) {
      this.forgetCompletion();
      this.setState('downloading');
      for (const p of this.peers.connected.values()) this.updateInterest(p);
      this.requests.fillAll();
    } else if (this.state === 'downloading') {
      for (const p of this.peers.connected.values()) this.updateInterest(p);
      this.requests.fillAll();
    }
  }

  /** No longer complete: no completion time, neither this object's nor the restored one. */
  private forgetCompletion(): void { this.completedAt = undefined; this.restoredCompletedAt = undefined; }

  /** Sequential download: pieces in index order within a priority (docs/design/picker.md), instead of rarest first. */
  setSequential(on: boolean): void { this.picker.setSequential(on); }
  get sequential(): boolean { return this.picker.sequential; }
  /** Announce to the trackers again as soon as their `min interval` allows (a no-op while stopped). */
  reannounce(): void { this.announcer?.announceNow?.(); }

  /** Streams (readers of byte ranges): open, aim, close, and wait for a piece. */
  get streaming(): StreamCommands { return this.streams; }

  /** Reads verified data (a stream waits for the piece first: `streaming.waitPiece`). BtError('IO') when absent. */
  readData(piece: number, begin: number, length: number): Promise<Buffer> { return this.storage.read(piece, begin, length); }

  /** Per-torrent rate limits in bytes/s (0 = unlimited; a negative value counts as 0). Absent: unchanged. */
  setLimits(limits: { upload?: number | undefined; download?: number | undefined }): void {
    if (limits.upload !== undefined) this.uploadBucket.setRate(Math.max(0, limits.upload));
    if (limits.download !== undefined) this.downloadBucket.setRate(Math.max(0, limits.download));
  }

  /** Paused by the user: stays paused (the session's queue leaves it alone) until userResume(). */
  async userPause(): Promise<void> {
    this.paused = true;
    await this.pause('paused');
  }

  /** The user's pause is lifted: the torrent waits, queued, for the session's queue to start it. */
  async userResume(): Promise<void> {
    this.paused = false;
    if (this.state === 'paused' || this.state === 'error') await this.pause('queued');
  }

  /**
   * Bytes found verified on disk that the restored totals had not counted (pieces written after the last save of
   * the state directory, before a crash): they were downloaded by us, so they count as downloaded.
   */
  creditRecoveredDownload(bytes: number): void {
    if (Number.isFinite(bytes) && bytes > 0) this.downloadedBytes += bytes;
  }

  /** Flush written data to disk (the resume data lists only pieces made durable by such a flush). */
  async flush(): Promise<void> { if (this.state !== 'stopped') await this.storage.flush?.(); }

  /** A copy of the have-bitfield (verified and written pieces). */
  haveBitfield(): Bitfield { return this.picker.haveBitfield(); }

  /** Up to `max` peer addresses (`ip:port`) worth trying again later: connected ones first, then good candidates. */
  knownPeers(max: number): string[] { return this.peers.knownAddresses(max); }

  get state(): TorrentState { return this.st; }
  /** The reason of the last error (kept until the torrent goes live again). */
  get errorReason(): string | undefined { return this.errorReasonText; }
  /** Paused by the user (as opposed to queued by the session). */
  get userPaused(): boolean { return this.paused; }
  /** Payload totals (restored totals included). */
  get downloaded(): number { return this.downloadedBytes; }
  get uploaded(): number { return this.uploadedBytes; }
  /** Bytes/s now. */
  get downloadRate(): number { return this.down.rate; }
  get uploadRate(): number { return this.up.rate; }
  /** Connections open now, and those open or being dialled (what counts against the connection limits). */
  get connectedPeerCount(): number { return this.peers.connected.size; }
  get connectionCount(): number { return this.peers.count; }
  /** Some connected peer is interested in us (the session shares upload slots among such torrents). */
  get hasInterestedPeer(): boolean {
    for (const p of this.peers.connected.values()) if (p.peerInterested) return true;
    return false;
  }

  /** For tests and diagnostics only: the storage, and which peer connections read into the shared buffer. */
  diagnostics(): { storage: Storage; peerReadsSharedBuffer: boolean[] } {
    return { storage: this.storage, peerReadsSharedBuffer: [...this.peers.connected.values()].map((p) => p.conn.userBuffer) };
  }

  addPeer(host: string, port: number, source: PeerSource): void {
    if (this.isSelf(host, port)) return;
    if (!this.peers.addCandidate(host, port, source)) return;
    if (source !== 'manual') this.opts.emit({ event: 'peer-discovered', infoHash: this.infoHashHex, peer: formatPeerAddress(host, port), source });
    // Dial now rather than at the next tick (the connection manager still applies every limit).
    if (this.state === 'downloading' || this.state === 'seeding') this.peers.tick(this.opts.now());
  }

  /** Our own listen address (as far as we know it): never dial it. */
  private isSelf(host: string, port: number): boolean { return this.opts.isSelf?.(host, port) ?? false; }

  acceptIncoming(socket: PeerStream, hs: Handshake, rest: Buffer, encrypted = false): void {
    if (this.state === 'checking' && this.deferred.length < MAX_DEFERRED_INCOMING) {
      // Hold the connection until the check ends: refusing it would make clients such as libtorrent wait a minute
      // before they try again. Our handshake (and so our bitfield) goes out once we know what we have.
      this.deferred.push({ socket, hs, rest, encrypted });
      return;
    }
    if (this.state !== 'downloading' && this.state !== 'seeding') { socket.destroy(); return; }
    this.peers.acceptIncoming(socket, hs, rest, encrypted);
  }

  private readonly deferred: Array<{ socket: PeerStream; hs: Handshake; rest: Buffer; encrypted: boolean }> = [];

  private acceptDeferred(): void {
    for (const d of this.deferred.splice(0)) {
      if (d.socket.destroyed) continue;
      this.acceptIncoming(d.socket, d.hs, d.rest, d.encrypted);
    }
  }

  private totalsFor(p: Peer): { client: string; downloaded: number; uploaded: number } {
    let t = this.peerTotals.get(p.key);
    if (!t) { t = { client: p.client, downloaded: 0, uploaded: 0 }; this.peerTotals.set(p.key, t); }
    return t;
  }

  private setState(state: TorrentState, reason?: string): void {
    if (this.state === state) return;
    this.st = state;
    // Not trading: the rates read 0 at once (the meters would reach 0 by themselves within their 2 s window).
    if (state !== 'downloading' && state !== 'seeding') { this.down.reset(); this.up.reset(); }
    this.opts.emit({ event: 'state', infoHash: this.infoHashHex, state, ...(reason ? { reason } : {}) });
  }

  // ---- peer lifecycle ----

  private onPeerConnected(peer: Peer): void {
    this.totalsFor(peer);
    const source = peer.direction === 'in' ? 'incoming' : (this.peers.candidates.get(peer.key)?.source ?? 'manual');
    this.opts.emit({ event: 'peer-connect', infoHash: this.infoHashHex, peer: peer.key, direction: peer.direction, client: peer.client, source,
      transport: peer.transport, encryption: peer.rc4 ? 'rc4' : peer.encrypted ? 'mse-plaintext' : 'none' });
    this.requests.onPeerConnected(peer);
    // Our pieces: haveAll / haveNone when both speak the fast extension (BEP 6), else a bitfield (skipped when empty).
    const have = this.picker.haveCount;
    if (peer.fast && have === this.meta.pieceCount) peer.conn.send({ type: 'haveAll' });
    else if (peer.fast && have === 0) peer.conn.send({ type: 'haveNone' });
    else if (have > 0) peer.conn.send({ type: 'bitfield', bitfield: this.picker.haveBitfield().toBuffer() });
    // Then the BEP 10 extended handshake (after the bitfield, as libtorrent orders them).
    this.extensions.onPeerConnected(peer);
    // Free upload slot? Unchoking right away saves a newcomer up to one rechoke period.
  }

  private onPeerClosed(peer: Peer, why: Cause): void {
    const key = causeKey(why);
    const counted = this.disconnects.get(key);
    if (counted) counted.count++; else this.disconnects.set(key, { op: why.op, code: why.code, count: 1 });
    this.requests.onPeerGone(peer);
    this.hashes?.onPeerGone(peer);
    this.ext?.onPeerClosed(peer);
    peer.incoming = [];
    this.opts.emit({
      event: 'peer-disconnect', infoHash: this.infoHashHex, peer: peer.key, reason: why.message, op: why.op, code: why.code,
      downloaded: peer.down.total, uploaded: peer.up.total,
    });
    if (!peer.amChoking) this.rechokeSoon();
    this.requests.fillAll();
  }

  private onPeerMessage(peer: Peer, msg: Message): void {
    // What is accepted and what closes the connection follows libtorrent, not the letter of BEP 3/6 (the table in
    // docs/design/wire.md): aria2, libtorrent and Transmission send their extension handshake before their bitfield.
    switch (msg.type) {
      case 'keepAlive': return;
      case 'choke': peer.peerChoking = true; this.requests.onChoked(peer); return;
      case 'unchoke': peer.peerChoking = false; this.requests.fill(peer); return;
      case 'interested': peer.peerInterested = true; this.rechokeIfSlotFree(); return;
      case 'notInterested': peer.peerInterested = false; if (!peer.amChoking) this.rechokeSoon(); return;
      case 'have':
        if (peer.has.set(msg.index)) this.picker.peerHave(peer.key, msg.index);
        this.afterAvailabilityChange(peer);
        return;
      case 'bitfield':
      case 'haveAll':
      case 'haveNone': {
        // Accepted at any point, as libtorrent does: after other messages, after `have`s, or a second time; the
        // latest one replaces what the peer had announced (BEP 3 asks for it first, but clients differ).
        if ((msg.type === 'haveAll' || msg.type === 'haveNone') && !peer.fast) {
          throw new BtError('PROTOCOL', `${msg.type} without the fast extension`);
        }
        if (msg.type === 'bitfield') {
          peer.has = new Bitfield(this.meta.pieceCount, msg.bitfield);
          this.picker.addPeer(peer.key, peer.has);
        } else if (msg.type === 'haveAll') {
          peer.has = Bitfield.full(this.meta.pieceCount);
          this.picker.addPeer(peer.key, 'all');
        } else {
          peer.has = new Bitfield(this.meta.pieceCount);
          this.picker.addPeer(peer.key, 'none');
        }
        this.afterAvailabilityChange(peer);
        return;
      }
      case 'request': this.uploads.onRequest(peer, msg.index, msg.begin, msg.length); return;
      case 'cancel': this.uploads.onCancel(peer, msg.index, msg.begin, msg.length); return;
      case 'piece': this.requests.onPiece(peer, msg.index, msg.begin, msg.block); return;
      case 'reject':
        if (!peer.fast) throw new BtError('PROTOCOL', 'reject without the fast extension');
        this.requests.onReject(peer, msg.index, msg.begin, msg.length);
        return;
      case 'allowedFast': peer.allowedFast.add(msg.index); return;
      case 'extended':
        if (!peer.extended) throw new BtError('PROTOCOL', 'extended message without the extension protocol bit');
        this.extensions.onExtended(peer, msg.id, msg.payload);
        if (msg.id === 0 && peer.listenKey) this.peers.addAlias(peer.listenKey, peer);
        return;
      case 'port': // BEP 5: the peer's DHT node (pinged, and added to our table if it answers)
        if ((peer.dhtPort = msg.port) > 0) this.opts.onDhtNode?.(peer.conn.remoteAddress, msg.port);
        return;
      case 'hashRequest':
      case 'hashes':
      case 'hashReject':
        if (!this.hashes) throw new BtError('PROTOCOL', `${msg.type} (BEP 52) on a v1 torrent`);
        this.hashes.onMessage(peer, msg);
        return;
      case 'suggest':
      case 'unknown':
        return; // suggestions are advisory; unknown messages are skipped (BEP 3 / libtorrent behaviour)
    }
  }

  private afterAvailabilityChange(peer: Peer): void {
    if (this.picker.complete && peer.isSeed) {
      peer.conn.close(BOTH_SEEDS);
      return;
    }
    this.updateInterest(peer);
    this.hashes?.pump(peer);
    this.requests.fill(peer);
  }

  private updateInterest(peer: Peer): void {
    const want = !this.picker.complete && this.picker.isInteresting(peer.key);
    if (want !== peer.amInterested) {
      peer.amInterested = want;
      peer.conn.send({ type: want ? 'interested' : 'notInterested' });
    }
  }

  // ---- pieces ----

  private onPieceVerified(index: number): void {
    this.picker.markHave(index);
    this.streams.onPieceVerified(index);
    for (const p of this.peers.connected.values()) {
      // BEP 3: announce the piece; skipping peers that already have it is a common, allowed saving.
      if (!p.has.has(index)) p.conn.send({ type: 'have', index });
    }
    this.opts.onPieceDone?.(index);
    if (this.done) {
      this.onComplete();
    } else {
      this.requests.fillAll();
    }
  }

  private onPieceFailed(index: number, contributors: string[], badBlocks?: number[]): void {
    this.corruptBytes += pieceSizeAt(this.meta, index);
    this.opts.emit({ event: 'piece-failed', infoHash: this.infoHashHex, piece: index, peers: contributors, ...(badBlocks ? { badBlocks } : {}) });
    for (const key of contributors) {
      const strikes = this.peers.strike(key);
      if (contributors.length === 1 || strikes >= MAX_STRIKES) {
        const reason = contributors.length === 1 ? `sent piece ${index}, which failed its hash check` : `${strikes} hash failures`;
        this.opts.emit({ event: 'peer-banned', infoHash: this.infoHashHex, peer: key, reason, op: 'hash', code: 'BANNED' });
        this.peers.ban(key, cause('hash', 'BANNED', reason));
      }
    }
  }

  private onComplete(): void {
    if (this.completedAt !== undefined) return;
    this.completedAt = this.opts.now();
    this.opts.emit({ event: 'complete', infoHash: this.infoHashHex, elapsedMs: this.completedAt - this.createdAt, downloaded: this.downloadedBytes });
    this.setState('seeding');
    for (const p of [...this.peers.connected.values()]) {
      if (p.isSeed) { p.conn.close(BOTH_SEEDS); continue; }
      if (p.amInterested) { p.amInterested = false; p.conn.send({ type: 'notInterested' }); }
      p.requests.clear();
    }
    // The zero-length files whose piece was never written here (it was had already) are created now.
    const prepared = this.storage.prepare?.() ?? Promise.resolve();
    prepared.then(() => this.storage.flush?.()).catch((e: unknown) => this.fail(e));
    this.announcer?.completed();
    this.opts.setTrackerSelf?.(true);
    this.rechoke(this.opts.now());
  }

  /** Enter the error state (e.g. the start-up check could not read the data). */
  markError(err: unknown): void { this.fail(err); }

  private fail(err: unknown): void {
    if (this.state === 'error' || this.state === 'stopped') return;
    this.pauseRequested = false;
    const reason = errorMessage(err);
    this.errorReasonText = reason;
    this.opts.emit({ event: 'error', infoHash: this.infoHashHex, code: err instanceof BtError ? err.code : 'IO', message: reason });
    this.setState('error', reason);
    this.peers.stop(err instanceof BtError ? { op: err.op ?? 'local', code: err.code, message: `torrent error: ${reason}` }
      : cause('local', 'IO', `torrent error: ${reason}`));
    const announcer = this.announcer;
    this.announcer = undefined;
    void announcer?.stop(3000).catch(() => {});
    this.opts.lsd?.remove(this.infoHashHex);
    this.opts.setTrackerSelf?.(null);
  }

  // ---- choking ----

  private rechokeSoonFlag = false;
  private rechokeSoon(): void { this.rechokeSoonFlag = true; }

  private rechokeIfSlotFree(): void {
    let unchoked = 0;
    for (const p of this.peers.connected.values()) if (!p.amChoking) unchoked++;
    // Seed mode has no optimistic slot: with every slot taken, a rechoke here would only advance the choker's round
    // counter, so a burst of `interested` messages would rotate the slots once per message instead of per 10 s round.
    const slots = (this.opts.uploadSlotShare?.() ?? this.opts.uploadSlots ?? 4) + (this.done ? 0 : 1);
    if (unchoked < slots) this.rechoke(this.opts.now());
  }

  private rechoke(now: number): void {
    this.lastRechokeAt = now;
    if (this.opts.uploadSlotShare) this.choker.setSlots(this.opts.uploadSlotShare());
    this.rechokeSoonFlag = false;
    const peers = [...this.peers.connected.values()];
    const decision = this.choker.rechoke(peers.map((p) => ({
      key: p.key, interested: p.peerInterested, downloadRate: p.down.rate, uploadRate: p.up.rate, unchoked: !p.amChoking,
      lastUnchokedAt: p.lastUnchokedAt, snubbed: p.snubbed, isSeed: p.isSeed,
    })), this.done ? 'seed' : 'leech', now);
    for (const key of decision.choke) {
      const p = this.peers.connected.get(key);
      if (!p || p.amChoking) continue;
      p.amChoking = true;
      p.conn.send({ type: 'choke' });
      this.uploads.onChokedByUs(p);
    }
    for (const key of decision.unchoke) {
      const p = this.peers.connected.get(key);
      if (!p || !p.amChoking) continue;
      p.amChoking = false;
      p.lastUnchokedAt = now;
      p.conn.send({ type: 'unchoke' });
    }
  }

  // ---- the tick ----

  /** Called about once a second by the session. */
  tick(now: number): void {
    if (this.state === 'stopped' || this.state === 'error' || this.state === 'checking') return;
    for (const p of this.peers.connected.values()) {
      // Keep-alive after 60 s of silence from us; drop a peer silent for 120 s (BEP 3 suggests 2 minutes).
      if (now - p.conn.lastSentAt > 60_000) p.conn.send({ type: 'keepAlive' });
      if (now - p.conn.lastReceivedAt > 120_000) { p.conn.close(IDLE_TIMEOUT); continue; }
      if (this.state === 'downloading') this.updateInterest(p);
    }
    if (this.rechokeSoonFlag || now - this.lastRechokeAt >= RECHOKE_EVERY_MS) this.rechoke(now);
    if (this.state === 'downloading') { this.requests.tick(now); this.streams.tick(now); }
    this.hashes?.tick(now);
    this.peers.tick(now);
    this.ext?.tick(this.peers.connected.values(), now);
    this.announcer?.tick(now);
  }

  /** A snapshot for progress displays and the `progress` event. */
  progress(): Extract<SessionEvent, { event: 'progress' }> {
    return progressEvent(this.meta, this.picker.haveCount, this.bytesLeft(), (i) => this.picker.have(i), {
      downloaded: this.downloadedBytes, uploaded: this.uploadedBytes, downRate: this.down.rate, upRate: this.up.rate,
      peers: this.peers.connected.size,
    });
  }

  /** Bytes in pieces not verified yet (the announcer's `left`). O(1). */
  bytesLeft(): number {
    const m = this.meta;
    return bytesLeftOf(m, this.picker.haveCount, m.pieceCount > 0 && this.picker.have(m.pieceCount - 1));
  }

  /**
   * The read model: an immutable snapshot of the torrent (src/session/torrent-status.ts), detached from it.
   * O(pieces + files + peers + trackers); no hashing, no I/O.
   */
  status(): TorrentStatus {
    const m = this.meta;
    const bits = this.picker.haveBitfield();
    const left = this.bytesLeft();
    const wanted = this.filesWanted.every((w) => w) ? { pieces: m.pieceCount, bytes: m.totalLength, left }
      : wantedTotals(m, bits, (i) => this.picker.piecePriority(i) > 0);
    return freezeStatus({
      infoHash: this.infoHashHex, version: m.version, ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2.toString('hex') } : {}),
      name: m.name, savePath: this.savePath, state: this.st,
      error: this.st === 'error' ? (this.errorReasonText ?? 'error') : undefined, userPaused: this.paused,
      complete: bits.complete, done: this.done,
      pieces: { count: m.pieceCount, length: m.pieceLength, have: bits.count, wanted: wanted.pieces },
      bytes: { total: m.totalLength, verified: m.totalLength - left, left, wanted: wanted.bytes, wantedLeft: wanted.left },
      bitfield: Buffer.from(bits.bytes.buffer, bits.bytes.byteOffset, bits.bytes.byteLength).toString('base64'),
      files: fileStatuses(m, bits, this.filesWanted, this.filePriorities),
      peers: peerStatuses(this.peers.connected.values(), (k) => this.peers.candidates.get(k)?.source, m.pieceCount),
      trackers: this.trackerLog.statuses(m),
      limits: { upload: this.uploadBucket.rate, download: this.downloadBucket.rate },
      rates: { download: this.down.rate, upload: this.up.rate },
      totals: { downloaded: this.downloadedBytes, uploaded: this.uploadedBytes, corrupt: this.corruptBytes },
      times: { added: this.addedAt, started: this.liveSince, completed: this.completedAt ?? this.restoredCompletedAt, lastActivity: this.lastActivityAt },
      checkProgress: this.checkProgress,
      connectedPeers: this.peers.connected.size, connections: this.peers.count,
      peerTotals: [...this.peerTotals].map(([peer, t]) => ({ peer, ...t })),
      // Ended connections counted by cause (op and code), most frequent first.
      disconnects: [...this.disconnects.values()].map((d) => ({ ...d })).sort((a, b) => b.count - a.count),
    });
  }

  async close(reason = 'torrent stopped'): Promise<void> {
    if (this.state === 'stopped') return;
    this.opts.signal?.removeEventListener('abort', this.onParentAbort);
    if (!this.abort.signal.aborted) this.abort.abort(new BtError('ABORTED', reason));
    const stopping = this.announcer?.stop(3000).catch(() => {});
    for (const d of this.deferred.splice(0)) d.socket.destroy();
    this.opts.lsd?.remove(this.infoHashHex);
    this.opts.setTrackerSelf?.(null);
    this.peers.stop(cause('local', 'ABORTED', reason));
    this.requests.close();
    this.streams.closeAll(new BtError('ABORTED', reason));
    this.hashes?.close();
    this.uploads.clearCache();
    this.st = 'stopped';
    await Promise.all([this.storage.close(), stopping]);
  }
}
