/**
 * BitpeerApi implemented over a live Session (the daemon's control surface; the RPC layer and the CLI's client
 * commands use it). Every call is plain data in, plain data out.
 *
 * Persistence hooks (`onAdded`, `onRemoved`, `onSettingsChanged`, `onTorrentChanged`, `onMagnetSaved`,
 * `onMagnetRemoved`) let the state directory (src/api/state-dir.ts) keep in step without this module knowing about files.
 *
 * Ids (small integers: the RPC's and the CLI's `bitpeer pause 3`) are this layer's: a TorrentIds (src/api/torrent-ids.ts) shared with the daemon's
 * restore gives them and maps them to info-hashes; queue positions are derived from the session's queue order.
 *
 * Magnet links (BEP 9): `add` of a magnet returns at once with an id reserved from the id counter; the link is a
 * "pending magnet" (src/session/pending-magnet.ts) that waits for peers and never gives up. It shows in `get` as a
 * torrent with `metadataPending` (name from `dn` or the hash, size 0, state downloading or paused); stop/start/remove
 * work on it. When the metadata arrives it becomes a normal torrent in place: same id, folder and paused state.
 *
 * Events and waiting: `subscribe` hands out the session's event stream; `whenDone` settles on the events of its
 * torrent (and on removal, relocation and close, which this class sees), and removes its listeners when it settles.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { buildMagnet, parseMagnet, parseTorrent } from '../metainfo/index.js';
import { deleteTorrentData, describeDeletion } from '../storage/delete-data.js';
import { moveTorrentData } from '../storage/move-data.js';
import { PendingMagnet } from '../session/pending-magnet.js';
import { FsStorage } from '../storage/fs-storage.js';
import type { PendingMagnetRecord } from '../state/magnet-store.js';
import type { AddTorrentOptions, Session } from '../session/session.js';
import type { Torrent } from '../session/torrent.js';
import type { FilePriority, TorrentStatus } from '../session/torrent-status.js';
import type { Metainfo } from '../metainfo/index.js';
import { TorrentIds } from './torrent-ids.js';
import { BtError, errorMessage, type ErrorCode } from '../util/errors.js';
import type { SessionEvent } from '../session/events.js';
import { identityOf, peerTotalsOf, progressOf, summarize, torrentLabel } from './torrent-read.js';
import { applyCarried } from './torrent-settings.js';
import { readTorrentFile } from './file-reader.js';
import { checkBootstrapList, isPrivateBootstrap } from './dht-config.js';
import type {
  AddOptions, AddResult, AddSource, BitpeerApi, FileChanges, MetadataFetchHandle, PeerTotalsReport, ProgressEvent, ReadFileOptions,
  SessionSettings, SessionStats, TorrentId, TorrentIdentity, TorrentInfo, TorrentStateName, TorrentSummary,
} from './types.js';

export interface SessionApiHooks {
  /** A torrent was added (its .torrent bytes, for the state directory). */
  onAdded?(t: Torrent, torrentFile: Buffer): Promise<void> | void;
  onRemoved?(t: Torrent): Promise<void> | void;
  /** Settings or a torrent's persistent state changed. */
  onSettingsChanged?(s: SessionSettings): Promise<void> | void;
  onTorrentChanged?(t: Torrent): Promise<void> | void;
  /** A pending magnet was added or changed (paused/resumed): save its record. */
  onMagnetSaved?(rec: PendingMagnetRecord): Promise<void> | void;
  /** A pending magnet is gone (removed, or its metadata arrived and the torrent was added). */
  onMagnetRemoved?(infoHashHex: string): Promise<void> | void;
  /** Debug log (a pending magnet's fetch). */
  debug?(msg: string): void;
  /** Log sink (the daemon's log): what a delete-local-data removed and what it kept, and why; magnet outcomes. */
  log?(msg: string): void;
  /** Totals of earlier runs (from the state directory). */
  cumulativeBase?: { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number };
}

/** A magnet link whose metadata has not arrived yet. */
interface PendingEntry {
  rec: PendingMagnetRecord;
  name: string;
  /** The link's trackers (`tr`), parsed once. */
  trackers: string[];
  /** Peers given to `add` (tried by the fetch; not saved). */
  peers: Array<{ host: string; port: number }>;
  /** The running fetch; undefined while paused. */
  fetch: PendingMagnet | undefined;
  /** The metadata arrived and the torrent is being added. */
  completing: boolean;
  removed: boolean;
  error: string | null;
  /** The link's btmh (BEP 52 v2 info-hash, 64 hex), if it has one. */
  infoHashV2?: string;
}

/** How the facade opens storage it builds itself (`followLinks` adds). */
export interface SessionApiOptions {
  /** File reads and writes through the thread pool only (the session's `asyncIo`). */
  asyncIo?: boolean;
  /** The id registry to use (the state directory's restore numbers its torrents with it first). */
  ids?: TorrentIds;
}

export class SessionApi implements BitpeerApi {
  private readonly startedAt: number;
  /** Pending magnets by info-hash. */
  private readonly pending = new Map<string, PendingEntry>();
  /** `whenDone` waiters, called when something they cannot see as an event happens (removal, magnet error, close). */
  private readonly watchers = new Set<() => void>();
  /** Torrents being taken out and put back by setLocation: a waiter keeps waiting for them. */
  private readonly relocating = new Set<string>();
  private closed = false;

  /** The ids (`options.ids`: the state directory's restore numbered its torrents with it; default a fresh one). */
  private readonly ids: TorrentIds;

  constructor(private readonly session: Session, private settings: SessionSettings, private readonly hooks: SessionApiHooks = {},
    private readonly options: SessionApiOptions = {}) {
    this.startedAt = Date.now();
    this.ids = options.ids ?? new TorrentIds();
  }

  /** The id of a torrent of the session (0 if it has none, e.g. one added to the session behind the API's back). */
  private idOf(t: Torrent): number { return this.ids.idOf(t.infoHashHex) ?? 0; }

  /**
   * Adds a torrent to the session under id `id` (default: a fresh one, taken only once the session would accept
   * the torrent, so a refused add uses no id).
   */
  private async addToSession(meta: Metainfo, opts: AddTorrentOptions & { id?: number }): Promise<Torrent> {
    const { id: wanted, ...rest } = opts;
    this.session.checkAdd(meta, opts.savePath);
    const id = wanted ?? this.ids.reserve();
    this.ids.assign(meta.infoHashHex, id);
    try {
      return await this.session.addTorrent(meta, { ...rest, tag: `#${id}` });
    } catch (err) {
      if (!this.session.torrents.has(meta.infoHashHex)) this.ids.release(meta.infoHashHex);
      throw err;
    }
  }

  subscribe(listener: (e: SessionEvent) => void): () => void { return this.session.events.subscribe(listener); }

  whenDone(id: TorrentId, opts: { signal?: AbortSignal } = {}): Promise<TorrentSummary> {
    const { signal } = opts;
    const hex = this.torrentById(id)?.infoHashHex ?? this.resolvePending([id])[0]?.rec.infoHash;
    if (hex === undefined) return Promise.reject(new BtError('NOT_FOUND', `no torrent ${String(id)}`));
    return new Promise<TorrentSummary>((resolve, reject) => {
      let settled = false;
      let attached: Torrent | undefined;
      let errorCode: ErrorCode = 'IO';
      const onTorrentAbort = (): void => queueMicrotask(check); // close() marks it stopped right after the abort
      const settle = (err: BtError | undefined, value?: TorrentSummary): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        this.watchers.delete(check);
        signal?.removeEventListener('abort', check);
        attached?.signal.removeEventListener('abort', onTorrentAbort);
        if (err) reject(err); else resolve(value!);
      };
      const check = (): void => {
        if (settled) return;
        if (signal?.aborted) return settle(new BtError('ABORTED', 'wait aborted', { cause: signal.reason }));
        if (this.closed) return settle(new BtError('ABORTED', 'session closed'));
        const t = this.session.torrents.get(hex);
        if (t) {
          if (t !== attached) {
            attached?.signal.removeEventListener('abort', onTorrentAbort);
            attached = t;
            t.signal.addEventListener('abort', onTorrentAbort, { once: true });
          }
          if (t.state === 'error') return settle(new BtError(errorCode, t.errorReason ?? 'torrent failed'));
          if (t.state === 'stopped') {
            const why: unknown = t.signal.reason;
            return settle(new BtError('ABORTED', why instanceof Error ? why.message : 'torrent stopped'));
          }
          if (t.done && t.state !== 'checking') return settle(undefined, summarize(t, this.idOf(t)));
          return;
        }
        const e = this.pending.get(hex);
        if (e && !e.removed) {
          if (e.error !== null && !e.fetch && !e.completing) settle(new BtError('IO', e.error));
          return;
        }
        if (!this.relocating.has(hex)) settle(new BtError('ABORTED', 'torrent removed'));
      };
      const unsubscribe = this.session.events.subscribe((e) => {
        if (!('infoHash' in e) || e.infoHash !== hex) return;
        if (e.event === 'error') errorCode = e.code as ErrorCode;
        check();
      });
      this.watchers.add(check);
      signal?.addEventListener('abort', check, { once: true });
      check();
    });
  }

  summary(id: TorrentId): TorrentSummary | undefined {
    const t = this.torrentById(id);
    return t ? summarize(t, this.idOf(t)) : undefined;
  }

  progress(id: TorrentId): ProgressEvent | undefined {
    const t = this.torrentById(id);
    if (!t) return undefined;
    const dht = this.session.dhtStats();
    return dht ? { ...progressOf(t), dhtNodes: dht.nodes } : progressOf(t);
  }

  peerTotals(id: TorrentId): PeerTotalsReport | undefined {
    const t = this.torrentById(id);
    return t ? peerTotalsOf(t) : undefined;
  }

  identify(id: TorrentId): TorrentIdentity | undefined {
    const t = this.torrentById(id);
    if (t) return identityOf(t, this.idOf(t));
    const e = this.resolvePending([id])[0];
    return e ? { id: e.rec.id, infoHash: e.rec.infoHash, name: e.name, metadataPending: true } : undefined;
  }

  fetchMetadata(magnet: string, opts: { peers?: Array<{ host: string; port: number }>; signal?: AbortSignal; log?: (m: string) => void } = {}): MetadataFetchHandle {
    const fetch = new PendingMagnet(this.session, magnet, {
      ...(opts.peers ? { peers: opts.peers } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.log ? { log: opts.log } : {}),
    });
    return {
      infoHash: fetch.infoHashHex,
      promise: fetch.promise.then((r) => ({ torrentFile: r.torrent, name: r.name, peers: r.peers })),
      progress: () => {
        const s = fetch.status.snapshot();
        return { peersKnown: s.peersKnown, peersTried: s.peersTried, peersConnected: s.peersConnected };
      },
      stop: () => fetch.stop(),
    };
  }

  /** Stops the pending fetches and ends every `whenDone` (ABORTED); the host closes the session next. */
  close(): void {
    this.closed = true;
    this.closeMagnets();
    this.poke();
  }

  /** Wakes the `whenDone` waiters to look again. */
  private poke(): void { for (const w of [...this.watchers]) w(); }

  getSettings(): SessionSettings {
    return { ...this.settings, port: this.session.port || this.settings.port, utp: this.session.utpEnabled, encryption: this.session.encryption,
      dht: this.session.dhtEnabled, dhtBootstrap: [...this.session.dhtBootstrap] };
  }

  async setSettings(changes: Partial<SessionSettings>): Promise<void> {
    // Checked before anything changes: a bad bootstrap node (BtError 'USAGE') leaves every setting as it was.
    const bootstrap = changes.dhtBootstrap !== undefined ? checkBootstrapList(changes.dhtBootstrap) : undefined;
    const next = { ...this.settings, ...changes, ...(bootstrap ? { dhtBootstrap: bootstrap } : {}) };
    if (changes.uploadLimit !== undefined) this.session.uploadBucket.setRate(Math.max(0, changes.uploadLimit));
    if (changes.downloadLimit !== undefined) this.session.downloadBucket.setRate(Math.max(0, changes.downloadLimit));
    this.session.setQueueLimits({ downloads: changes.maxActiveDownloads, seeds: changes.maxActiveSeeds });
    if (changes.utp !== undefined) this.session.setUtp(changes.utp);
    if (changes.encryption !== undefined) this.session.setEncryption(changes.encryption);
    if (bootstrap) this.session.setDhtBootstrap(bootstrap, isPrivateBootstrap(bootstrap));
    if (changes.dht !== undefined) this.session.setDht(changes.dht);
    this.settings = next;
    await this.hooks.onSettingsChanged?.(next);
    await this.session.updateQueue();
  }

  stats(): SessionStats {
    const ts = [...this.session.torrents.values()];
    let down = 0; let up = 0; let downTotal = 0; let upTotal = 0;
    for (const t of ts) { down += t.downloadRate; up += t.uploadRate; downTotal += t.downloaded; upTotal += t.uploaded; }
    const secondsActive = Math.floor((Date.now() - this.startedAt) / 1000);
    const base = this.hooks.cumulativeBase ?? { uploadedBytes: 0, downloadedBytes: 0, secondsActive: 0, sessionCount: 0 };
    const magnets = this.pendingList();
    const pausedMagnets = magnets.filter((e) => e.rec.paused).length;
    return {
      torrentCount: ts.length + magnets.length,
      activeTorrentCount: ts.filter((t) => t.state === 'downloading' || t.state === 'seeding' || t.state === 'checking').length
        + magnets.length - pausedMagnets,
      pausedTorrentCount: ts.filter((t) => t.state === 'paused').length + pausedMagnets,
      downloadSpeed: Math.round(down), uploadSpeed: Math.round(up),
      current: { uploadedBytes: upTotal, downloadedBytes: downTotal, secondsActive, sessionCount: 1 },
      cumulative: {
        uploadedBytes: base.uploadedBytes + upTotal, downloadedBytes: base.downloadedBytes + downTotal,
        secondsActive: base.secondsActive + secondsActive, sessionCount: base.sessionCount + 1,
      },
      dht: this.session.dhtStats() ?? null,
    };
  }

  get(ids?: TorrentId[]): TorrentInfo[] {
    const list = ids === undefined ? [...this.session.torrents.values()] : this.resolve(ids);
    const positions = new Map<Torrent, number>();
    if (list.length > 0) this.session.queue().forEach((t, i) => positions.set(t, i));
    const out = list.map((t) => toInfo(t, this.idOf(t), positions.get(t) ?? 0));
    for (const e of ids === undefined ? this.pendingList() : this.resolvePending(ids)) out.push(this.describePending(e));
    return out.sort((a, b) => a.id - b.id);
  }

  async add(source: AddSource, opts: AddOptions = {}): Promise<AddResult> {
    let bytes: Buffer;
    if (source.torrentFile) bytes = source.torrentFile;
    else if (source.path) {
      bytes = await readFile(source.path).catch((e: NodeJS.ErrnoException) => {
        throw new BtError(e.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read ${source.path}: ${e.code ?? String(e)}`);
      });
    } else if (source.magnet) {
      return this.addMagnet(source.magnet, opts);
    } else {
      throw new BtError('USAGE', 'nothing to add: give a .torrent file, its contents, or a magnet link');
    }
    const meta = source.torrentFile && source.metainfo ? source.metainfo : parseTorrent(bytes);
    const existing = this.session.torrents.get(meta.infoHashHex);
    if (existing) return { id: this.idOf(existing), name: existing.meta.name, infoHash: existing.infoHashHex, duplicate: true };
    const waiting = this.pending.get(meta.infoHashHex);
    if (waiting) {
      // The .torrent of a pending magnet: its metadata has arrived by another way; the magnet's id is kept.
      if (waiting.completing) return { id: waiting.rec.id, name: waiting.name, infoHash: waiting.rec.infoHash, duplicate: true };
      waiting.fetch?.stop();
      waiting.fetch = undefined;
      waiting.completing = true;
      const t = await this.completeMagnet(waiting, bytes, []);
      return { id: t ? this.idOf(t) : waiting.rec.id, name: meta.name, infoHash: meta.infoHashHex, duplicate: false };
    }
    const savePath = opts.downloadDir ?? this.settings.downloadDir;
    const storage = opts.followLinks
      ? await FsStorage.open(meta, savePath, { followLinks: true, ...(this.options.asyncIo ? { asyncIo: true } : {}) }) : undefined;
    const t = await this.addToSession(meta, {
      savePath, paused: opts.paused ?? false, keepOnError: !opts.failOnError,
      ...(opts.peers ? { peers: opts.peers } : {}), ...(storage ? { storage } : {}),
    });
    await this.hooks.onAdded?.(t, bytes);
    return { id: this.idOf(t), name: meta.name, infoHash: meta.infoHashHex, duplicate: false };
  }

  async start(ids?: TorrentId[]): Promise<void> {
    for (const t of this.targets(ids)) { await this.session.resumeTorrent(t); await this.hooks.onTorrentChanged?.(t); }
    for (const e of ids === undefined ? this.pendingList() : this.resolvePending(ids)) {
      if (!e.rec.paused) continue;
      e.rec.paused = false;
      e.error = null;
      this.startFetch(e);
      await this.hooks.onMagnetSaved?.({ ...e.rec });
    }
  }

  async stop(ids?: TorrentId[]): Promise<void> {
    for (const t of this.targets(ids)) { await this.session.pauseTorrent(t); await this.hooks.onTorrentChanged?.(t); }
    for (const e of ids === undefined ? this.pendingList() : this.resolvePending(ids)) {
      if (e.rec.paused) continue;
      e.rec.paused = true;
      e.fetch?.stop();
      e.fetch = undefined;
      await this.hooks.onMagnetSaved?.({ ...e.rec });
    }
  }

  async verify(ids?: TorrentId[]): Promise<void> {
    // Runs in the background, as in Transmission: the call returns once the check has started.
    for (const t of this.targets(ids)) {
      void t.verify().then(() => this.hooks.onTorrentChanged?.(t)).then(() => this.session.updateQueue()).catch(() => {});
    }
  }

  async remove(ids: TorrentId[], deleteData: boolean): Promise<void> {
    // A pending magnet has no data yet: removing it stops the fetch and forgets it.
    for (const e of this.resolvePending(ids)) {
      e.removed = true;
      if (e.completing) continue; // removed as a torrent once added (completeMagnet)
      e.fetch?.stop();
      e.fetch = undefined;
      this.pending.delete(e.rec.infoHash);
      this.poke();
      await this.hooks.onMagnetRemoved?.(e.rec.infoHash);
    }
    for (const t of this.resolve(ids)) {
      const id = this.idOf(t);
      await this.session.removeTorrent(t);
      this.poke();
      await this.hooks.onRemoved?.(t);
      this.ids.release(t.infoHashHex);
      if (deleteData) {
        // Only the torrent's own files, then its folders that became empty (src/storage/delete-data.ts).
        const report = await deleteTorrentData(t.meta, t.savePath, { isShared: (p) => this.session.fileOwner(p, t) });
        this.hooks.log?.(`${torrentLabel({ id, name: t.meta.name })}: removed with its data: ${describeDeletion(report)}`);
      }
    }
  }

  /**
   * torrent-set-location (Transmission semantics): `move` moves the torrent's own files to `location` (never
   * overwriting anything there) and keeps what was verified; otherwise the torrent is only pointed at `location` and
   * checked again. The torrent is taken out of the session and put back with the same id, totals, file priorities,
   * limits, queue position and paused state; `onTorrentChanged` then saves the resume data with the new folder.
   */
  async setLocation(ids: TorrentId[], location: string, move: boolean): Promise<void> {
    const to = resolvePath(location);
    for (const t of this.resolve(ids)) {
      if (resolvePath(t.savePath) === to) continue;
      this.session.checkPaths(t, to); // PATH_CONFLICT before anything changes
      this.relocating.add(t.infoHashHex);
      try {
        await this.relocate(t, to, move);
      } finally {
        this.relocating.delete(t.infoHashHex);
        this.poke();
      }
    }
  }

  private async relocate(t: Torrent, to: string, move: boolean): Promise<void> {
    const had = [...t.haveBitfield().indexes()];
    const st = t.status();
    const id = this.idOf(t);
    const state = {
      id, addedAt: st.times.added, queuePosition: this.session.queue().indexOf(t), paused: st.userPaused,
      restored: { uploaded: st.totals.uploaded, downloaded: st.totals.downloaded, completedAt: st.times.completed },
      carried: {
        wanted: st.files.map((f) => f.wanted), priorities: st.files.map((f) => f.priority),
        limits: { ...st.limits }, peers: t.knownPeers(200), sequential: t.sequential,
      },
    };
    await this.session.removeTorrent(t);
    let savePath = to;
    let trusted = false;
    let failure: unknown;
    if (move) {
      try {
        const report = await moveTorrentData(t.meta, t.savePath, to);
        trusted = report.kept.every((k) => k.reason === 'folder not empty');
        this.hooks.log?.(`${torrentLabel({ id, name: t.meta.name })}: moved ${report.moved.length} file(s) from ${t.savePath} to ${to}` +
          (report.kept.length > 0 ? `; left: ${report.kept.map((k) => `${k.path} (${k.reason})`).join('; ')}` : ''));
      } catch (err) {
        failure = err; // nothing moved (or everything moved back): the torrent goes back where it was
        savePath = t.savePath;
        trusted = true;
      }
    }
    const back = await this.addToSession(t.meta, {
      savePath, keepOnError: true, paused: state.paused, id: state.id, addedAt: state.addedAt, queuePosition: state.queuePosition,
      restored: state.restored,
      plan: trusted ? { trusted: had, recheck: 'none' } : { recheck: 'all' },
      beforeStart: (n) => applyCarried(n, state.carried),
    });
    await this.hooks.onTorrentChanged?.(back);
    if (failure !== undefined) throw failure;
  }

  async setFiles(ids: TorrentId[], c: FileChanges): Promise<void> {
    for (const t of this.resolve(ids)) {
      const n = t.meta.files.length;
      const files = t.status().files;
      const wanted = files.map((f) => f.wanted);
      const prio: FilePriority[] = files.map((f) => f.priority);
      const check = (list: number[] | undefined): number[] => {
        for (const i of list ?? []) if (!Number.isInteger(i) || i < 0 || i >= n) throw new BtError('USAGE', `file index ${i} out of range (0..${n - 1})`);
        return list ?? [];
      };
      for (const i of check(c.wanted)) wanted[i] = true;
      for (const i of check(c.unwanted)) wanted[i] = false;
      for (const i of check(c.priorityHigh)) prio[i] = 'high';
      for (const i of check(c.priorityNormal)) prio[i] = 'normal';
      for (const i of check(c.priorityLow)) prio[i] = 'low';
      t.setFiles(wanted, prio);
      await this.hooks.onTorrentChanged?.(t);
    }
    await this.session.updateQueue();
  }

  /** torrent-reannounce: each running torrent asks its trackers again as soon as their `min interval` allows. */
  async reannounce(ids?: TorrentId[]): Promise<void> {
    for (const t of this.targets(ids)) t.reannounce();
  }

  async setSequential(ids: TorrentId[], sequential: boolean): Promise<void> {
    for (const t of this.resolve(ids)) {
      if (t.sequential === sequential) continue;
      t.setSequential(sequential);
      await this.hooks.onTorrentChanged?.(t);
    }
  }

  readFile(id: TorrentId, fileIndex: number, opts: ReadFileOptions = {}): AsyncIterable<Buffer> {
    const t = this.torrentById(id);
    if (!t) {
      if (this.resolvePending([id]).length > 0) throw new BtError('USAGE', 'the magnet link\'s metadata has not arrived yet: its files are not known');
      throw new BtError('NOT_FOUND', `no torrent ${String(id)}`);
    }
    return readTorrentFile(t, fileIndex, opts);
  }

  async setLimits(ids: TorrentId[], limits: { uploadLimit?: number; downloadLimit?: number }): Promise<void> {
    for (const t of this.resolve(ids)) {
      t.setLimits({ upload: limits.uploadLimit, download: limits.downloadLimit });
      await this.hooks.onTorrentChanged?.(t);
    }
  }

  /**
   * Brings back a pending magnet saved in the state directory (daemon start): same id unless a torrent took it
   * meanwhile, same folder and paused state. A magnet whose torrent is already in the session is forgotten.
   */
  async restoreMagnet(rec: PendingMagnetRecord): Promise<void> {
    if (this.session.torrents.has(rec.infoHash)) { await this.hooks.onMagnetRemoved?.(rec.infoHash); return; }
    if (this.pending.has(rec.infoHash)) return;
    const id = this.ids.reserve(rec.id);
    const e = this.newPending({ ...rec, id });
    if (id !== rec.id) await this.hooks.onMagnetSaved?.({ ...e.rec });
    if (!rec.paused) this.startFetch(e);
  }

  /** Stops every pending fetch (daemon stop); their records stay for the next start. */
  closeMagnets(): void {
    for (const e of this.pending.values()) { e.fetch?.stop(); e.fetch = undefined; }
  }

  private async addMagnet(uri: string, opts: AddOptions): Promise<AddResult> {
    const link = parseMagnet(uri);
    const hex = link.infoHashHex;
    const existing = this.session.torrents.get(hex);
    if (existing) return { id: this.idOf(existing), name: existing.meta.name, infoHash: hex, duplicate: true };
    const waiting = this.pending.get(hex);
    if (waiting) return { id: waiting.rec.id, name: waiting.name, infoHash: hex, duplicate: true };
    const e = this.newPending({
      version: 1, infoHash: hex, id: this.ids.reserve(), magnet: uri,
      savePath: resolvePath(opts.downloadDir ?? this.settings.downloadDir), paused: opts.paused ?? false,
      addedAt: Math.floor(this.session.now() / 1000),
    }, opts.peers);
    await this.hooks.onMagnetSaved?.({ ...e.rec });
    if (!e.rec.paused) this.startFetch(e);
    return { id: e.rec.id, name: e.name, infoHash: hex, duplicate: false };
  }

  private newPending(rec: PendingMagnetRecord, peers: Array<{ host: string; port: number }> = []): PendingEntry {
    const link = parseMagnet(rec.magnet);
    const e: PendingEntry = {
      rec, name: link.name ?? rec.infoHash, trackers: link.trackers, peers, fetch: undefined, completing: false, removed: false, error: null,
      ...(link.infoHashV2 ? { infoHashV2: link.infoHashV2.toString('hex') } : {}),
    };
    this.pending.set(rec.infoHash, e);
    return e;
  }

  private startFetch(e: PendingEntry): void {
    if (e.fetch || e.completing || e.removed) return;
    const log = (m: string): void => this.hooks.debug?.(`[${e.name}] ${m}`);
    const fetch = new PendingMagnet(this.session, e.rec.magnet, { log, ...(e.peers.length > 0 ? { peers: e.peers } : {}) });
    e.fetch = fetch;
    fetch.promise.then(async (r) => {
      if (e.fetch !== fetch || e.removed) return;
      e.fetch = undefined;
      e.completing = true;
      await this.completeMagnet(e, r.torrent, r.peers);
    }, (err: unknown) => {
      if (e.fetch !== fetch) return; // stopped on purpose
      e.fetch = undefined;
      e.error = errorMessage(err);
      log(`metadata fetch ended: ${e.error}`);
      this.poke();
    }).catch((err: unknown) => log(`pending magnet: ${errorMessage(err)}`));
  }

  /** The metadata of a pending magnet arrived: the torrent takes its place (same id, folder, paused state). */
  private async completeMagnet(e: PendingEntry, torrentFile: Buffer, peers: Array<{ host: string; port: number }>): Promise<Torrent | undefined> {
    try {
      const meta = parseTorrent(torrentFile);
      const t = await this.addToSession(meta, {
        id: e.rec.id, savePath: e.rec.savePath, paused: e.rec.paused, keepOnError: true, peers,
        ...(e.rec.addedAt > 0 ? { addedAt: e.rec.addedAt * 1000 } : {}),
      });
      await this.hooks.onAdded?.(t, torrentFile);
      if (this.pending.get(e.rec.infoHash) === e) this.pending.delete(e.rec.infoHash);
      await this.hooks.onMagnetRemoved?.(e.rec.infoHash);
      if (e.removed) await this.remove([t.infoHashHex], false);
      else if (t.userPaused !== e.rec.paused) await (e.rec.paused ? this.stop([t.infoHashHex]) : this.start([t.infoHashHex]));
      return t;
    } catch (err) {
      // Kept as a pending magnet in error (its record stays; a restart tries again).
      e.completing = false;
      e.error = errorMessage(err);
      this.hooks.log?.(`[${e.name}] cannot add the torrent of the fetched metadata: ${e.error}`);
      this.poke();
      return undefined;
    }
  }

  private pendingList(): PendingEntry[] {
    return [...this.pending.values()].filter((e) => !this.session.torrents.has(e.rec.infoHash));
  }

  private resolvePending(ids: TorrentId[]): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const e of this.pendingList()) {
      if (ids.some((id) => (typeof id === 'number' ? id === e.rec.id : id.toLowerCase() === e.rec.infoHash))) out.push(e);
    }
    return out;
  }

  private describePending(e: PendingEntry): TorrentInfo {
    const status = e.fetch?.status.snapshot();
    return {
      id: e.rec.id, infoHash: e.rec.infoHash, name: e.name,
      state: e.error ? 'error' : e.rec.paused ? 'paused' : 'downloading', error: e.error,
      percentDone: 0, totalSize: 0, sizeWhenDone: 0, leftUntilDone: 0, downloadRate: 0, uploadRate: 0,
      peersConnected: status?.peersConnected ?? 0, uploadedEver: 0, downloadedEver: 0, addedDate: e.rec.addedAt, doneDate: 0,
      savePath: e.rec.savePath, pieceCount: 0, pieceSize: 0, eta: -1, queuePosition: 0, uploadLimit: 0, downloadLimit: 0,
      files: [], peers: [],
      trackers: e.trackers.map((url, tier) => {
        const s = status?.trackers.find((x) => x.url === url);
        return {
          url, tier, lastAnnounceTime: s ? Math.floor(s.lastAt / 1000) : 0, lastAnnounceSucceeded: s?.ok ?? false,
          lastAnnounceResult: s?.message ?? '', lastAnnouncePeerCount: s?.peers ?? 0, seeders: -1, leechers: -1,
          nextAnnounceTime: s ? Math.floor(s.nextAt / 1000) : 0,
        };
      }),
      recheckProgress: 0, magnetLink: e.rec.magnet, comment: '', creator: '', dateCreated: 0, isPrivate: false,
      metadataPending: true,
      ...(e.infoHashV2 !== undefined ? { infoHashV2: e.infoHashV2 } : {}),
      metadataFetch: {
        peersKnown: status?.peersKnown ?? 0, peersTried: status?.peersTried ?? 0, peersConnected: status?.peersConnected ?? 0,
        status: e.fetch ? e.fetch.status.describe() : e.rec.paused ? 'paused' : (e.error ?? 'adding'),
      },
    };
  }

  private targets(ids?: TorrentId[]): Torrent[] {
    return ids === undefined ? [...this.session.torrents.values()] : this.resolve(ids);
  }

  private torrentById(id: TorrentId): Torrent | undefined { return this.resolve([id])[0]; }

  private resolve(ids: TorrentId[]): Torrent[] {
    const out: Torrent[] = [];
    for (const id of ids) {
      const t = this.session.torrents.get(typeof id === 'number' ? (this.ids.hashOf(id) ?? '') : id.toLowerCase());
      if (t && !out.includes(t)) out.push(t);
    }
    return out;
  }
}

function stateName(state: TorrentStatus['state']): TorrentStateName {
  switch (state) {
    case 'checking': case 'downloading': case 'seeding': case 'paused': case 'queued': case 'error': return state;
    default: return 'paused';
  }
}

const seconds = (ms: number | undefined): number => (ms === undefined ? 0 : Math.floor(ms / 1000));

/** TorrentInfo (the facade's shape) from the torrent's read model. */
export function toInfo(t: Torrent, id: number, queuePosition: number): TorrentInfo {
  const m = t.meta;
  const st = t.status();
  const rate = st.rates.download;
  const wantedLeft = st.bytes.wantedLeft;
  const tiers = m.announceList.length > 0 ? m.announceList : m.announce ? [[m.announce]] : [];
  return {
    id, infoHash: st.infoHash, name: st.name, state: stateName(st.state), error: st.error ?? null,
    percentDone: st.bytes.wanted === 0 ? 1 : (st.bytes.wanted - wantedLeft) / st.bytes.wanted,
    totalSize: st.bytes.total, sizeWhenDone: st.bytes.wanted, leftUntilDone: wantedLeft,
    downloadRate: Math.round(rate), uploadRate: Math.round(st.rates.upload), peersConnected: st.connectedPeers,
    uploadedEver: st.totals.uploaded, downloadedEver: st.totals.downloaded, addedDate: seconds(st.times.added),
    doneDate: seconds(st.times.completed), savePath: st.savePath,
    pieceCount: st.pieces.count, pieceSize: st.pieces.length,
    // Transmission: -1 = not available (done, or not downloading), -2 = unknown.
    eta: wantedLeft === 0 ? -1 : rate > 1 ? Math.round(wantedLeft / rate) : -2,
    queuePosition, uploadLimit: st.limits.upload, downloadLimit: st.limits.download,
    files: st.files.map((f, i) => ({
      path: f.path, length: f.length, bytesCompleted: f.bytesCompleted, wanted: f.wanted, priority: f.priority,
      ...(m.files[i]?.padding === true ? { padding: true } : {}),
    })),
    peers: st.peers.map((p) => ({
      address: p.host, port: p.port, client: p.client, direction: p.direction, source: p.source,
      rateToClient: Math.round(p.downloadRate), rateToPeer: Math.round(p.uploadRate), progress: p.progress,
      downloaded: p.downloaded, uploaded: p.uploaded, encrypted: p.encrypted, utp: p.transport === 'utp',
    })),
    trackers: st.trackers.map((k) => ({
      url: k.url, tier: k.tier, lastAnnounceTime: seconds(k.lastAnnounceAt), lastAnnounceSucceeded: k.lastAnnounceOk,
      lastAnnounceResult: k.lastAnnounceMessage, lastAnnouncePeerCount: k.lastAnnouncePeers, seeders: k.seeders ?? -1,
      leechers: k.leechers ?? -1,
      nextAnnounceTime: k.lastAnnounceAt === undefined ? 0 : seconds(k.lastAnnounceAt) + (k.nextAnnounceAt! - k.lastAnnounceAt) / 1000,
    })),
    recheckProgress: st.state === 'checking' ? st.checkProgress : 0,
    pieces: st.bitfield,
    magnetLink: buildMagnet({ infoHash: t.infoHash, ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2 } : {}), name: m.name, trackers: tiers.flat() }),
    metaVersion: m.version, ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2.toString('hex') } : {}),
    comment: m.comment ?? '', creator: m.createdBy ?? '', dateCreated: m.creationDate ?? 0, isPrivate: m.private,
    sequentialDownload: t.sequential,
  };
}
