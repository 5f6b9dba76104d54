/**
 * A test double of the BitpeerApi facade: two torrents with mutable state and a log of the calls, so the RPC server,
 * transmission-remote and bitpeer's client commands can be tested before (and without) the daemon.
 *
 * Torrent 1 is a seeding single-file torrent with two peers we upload to; torrent 2 is a half-done three-file
 * torrent with two peers we download from. `add` parses real .torrent bytes (src/metainfo) and magnet links.
 * `setSequential` (the facade's optional sequential download) sets `sequentialDownload` on the torrents.
 * Invariant: `get` returns deep copies, so a caller can never mutate the fake's state except through the API.
 * BEP: none (test tooling).
 */
import { readFile } from 'node:fs/promises';
import { BtError } from '../../src/util/errors.js';
import { buildMagnet, parseMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { CREATED_BY } from '../../src/util/version.js';
import type {
  AddOptions, AddResult, AddSource, BitpeerApi, FileChanges, FileInfo, MetadataFetchHandle, PeerTotalsReport,
  ProgressEvent, SessionEvent, SessionSettings, SessionStats, TorrentId, TorrentIdentity, TorrentInfo, TorrentSummary,
} from '../../src/api/types.js';

/** One recorded API call. */
export interface FakeCall {
  method: string;
  args: unknown[];
}

const HASH1 = '1111111111111111111111111111111111111111';
const HASH2 = '2222222222222222222222222222222222222222';
const MB = 1_000_000;

function recompute(t: TorrentInfo): void {
  t.sizeWhenDone = t.files.filter((f) => f.wanted).reduce((s, f) => s + f.length, 0);
  t.leftUntilDone = t.files.filter((f) => f.wanted).reduce((s, f) => s + (f.length - f.bytesCompleted), 0);
  t.percentDone = t.sizeWhenDone > 0 ? (t.sizeWhenDone - t.leftUntilDone) / t.sizeWhenDone : t.files.length > 0 ? 1 : 0;
}

/** In-memory BitpeerApi with two torrents. */
export class FakeApi implements BitpeerApi {
  readonly torrents: TorrentInfo[];
  readonly calls: FakeCall[] = [];
  settings: SessionSettings;
  /** When set, the next API call throws it (then it is cleared). */
  failNext: Error | undefined;
  /** Set by shutdown(). */
  shutDown = false;
  private nextId = 3;
  private readonly now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
    const nowSec = Math.floor(this.now() / 1000);
    this.settings = {
      downloadDir: '/srv/downloads', port: 6881, uploadLimit: 0, downloadLimit: 0, maxActiveDownloads: 3,
      maxActiveSeeds: 5, lsd: true, pex: true, dht: false,
    };
    const seedFile: FileInfo = { path: 'ubuntu-24.04-desktop-amd64.iso', length: 4_700 * MB, bytesCompleted: 4_700 * MB, wanted: true, priority: 'normal' };
    const bbb: FileInfo[] = [
      { path: 'Big Buck Bunny/bbb_1080p.mp4', length: 250 * MB, bytesCompleted: 100 * MB, wanted: true, priority: 'high' },
      { path: 'Big Buck Bunny/poster.jpg', length: 300_000, bytesCompleted: 300_000, wanted: true, priority: 'normal' },
      { path: 'Big Buck Bunny/subs/en.srt', length: 40_000, bytesCompleted: 0, wanted: false, priority: 'low' },
    ];
    const base = {
      error: null, doneDate: 0, eta: -1, queuePosition: 0, uploadLimit: 0, downloadLimit: 0, recheckProgress: 0,
      comment: '', creator: CREATED_BY, dateCreated: nowSec - 86_400 * 30, isPrivate: false,
    };
    this.torrents = [
      {
        ...base, id: 1, infoHash: HASH1, name: 'ubuntu-24.04-desktop-amd64.iso', state: 'seeding', percentDone: 1,
        totalSize: seedFile.length, sizeWhenDone: seedFile.length, leftUntilDone: 0, downloadRate: 0, uploadRate: 1_250_000,
        peersConnected: 2, uploadedEver: 9_400 * MB, downloadedEver: 4_700 * MB, addedDate: nowSec - 7200,
        doneDate: nowSec - 3600, savePath: '/srv/downloads', pieceCount: Math.ceil(seedFile.length / 4_194_304),
        pieceSize: 4_194_304, files: [seedFile], comment: 'Ubuntu CD releases.ubuntu.com',
        peers: [
          { address: '127.0.0.2', port: 51413, client: 'Transmission 3.00', direction: 'in', source: 'incoming', rateToClient: 0, rateToPeer: 750_000, progress: 0.25, downloaded: 0, uploaded: 1_000 * MB },
          { address: '127.0.0.3', port: 6881, client: 'libtorrent 2.0.8', direction: 'out', source: 'tracker', rateToClient: 0, rateToPeer: 500_000, progress: 0.6, downloaded: 0, uploaded: 400 * MB },
        ],
        trackers: [{
          url: 'http://127.0.0.1:6969/announce', tier: 0, lastAnnounceTime: nowSec - 600, lastAnnounceSucceeded: true,
          lastAnnounceResult: 'Success', lastAnnouncePeerCount: 12, seeders: 40, leechers: 7, nextAnnounceTime: nowSec + 1200,
        }],
        magnetLink: buildMagnet({ infoHash: HASH1, name: 'ubuntu-24.04-desktop-amd64.iso', trackers: ['http://127.0.0.1:6969/announce'] }),
        startDate: nowSec - 7200, activityDate: nowSec - 1,
      },
      {
        ...base, id: 2, infoHash: HASH2, name: 'Big Buck Bunny', state: 'downloading', percentDone: 0,
        totalSize: bbb.reduce((s, f) => s + f.length, 0), sizeWhenDone: 0, leftUntilDone: 0, downloadRate: 2_500_000,
        uploadRate: 0, peersConnected: 2, uploadedEver: 0, downloadedEver: 100 * MB, addedDate: nowSec - 600,
        savePath: '/srv/downloads', pieceCount: Math.ceil(250_340_000 / 262_144), pieceSize: 262_144, files: bbb, eta: 60,
        peers: [
          { address: '127.0.0.4', port: 51413, client: 'Deluge 2.1', direction: 'out', source: 'pex', rateToClient: 1_500_000, rateToPeer: 0, progress: 1, downloaded: 60 * MB, uploaded: 0 },
          { address: '::1', port: 6882, client: 'qBittorrent 4.6', direction: 'out', source: 'lsd', rateToClient: 1_000_000, rateToPeer: 0, progress: 1, downloaded: 40 * MB, uploaded: 0 },
        ],
        trackers: [],
        magnetLink: buildMagnet({ infoHash: HASH2, name: 'Big Buck Bunny' }),
        queuePosition: 1,
      },
    ];
    recompute(this.torrents[1]!);
  }

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args: structuredClone(args) });
    const fail = this.failNext;
    if (fail) {
      this.failNext = undefined;
      throw fail;
    }
  }

  private find(id: TorrentId): TorrentInfo | undefined {
    return typeof id === 'number' ? this.torrents.find((t) => t.id === id) : this.torrents.find((t) => t.infoHash === id.toLowerCase());
  }

  private pick(ids: TorrentId[] | undefined): TorrentInfo[] {
    if (ids === undefined) return [...this.torrents];
    const out: TorrentInfo[] = [];
    for (const id of ids) {
      const t = this.find(id);
      if (t && !out.includes(t)) out.push(t);
    }
    return out;
  }

  getSettings(): SessionSettings {
    this.record('getSettings');
    return structuredClone(this.settings);
  }

  async setSettings(changes: Partial<SessionSettings>): Promise<void> {
    this.record('setSettings', changes);
    this.settings = { ...this.settings, ...changes };
  }

  stats(): SessionStats {
    this.record('stats');
    const active = this.torrents.filter((t) => t.state === 'downloading' || t.state === 'seeding' || t.state === 'checking').length;
    const up = this.torrents.reduce((s, t) => s + t.uploadedEver, 0);
    const down = this.torrents.reduce((s, t) => s + t.downloadedEver, 0);
    return {
      torrentCount: this.torrents.length, activeTorrentCount: active, pausedTorrentCount: this.torrents.length - active,
      downloadSpeed: this.torrents.reduce((s, t) => s + t.downloadRate, 0),
      uploadSpeed: this.torrents.reduce((s, t) => s + t.uploadRate, 0),
      cumulative: { uploadedBytes: up + 5 * MB, downloadedBytes: down + 7 * MB, secondsActive: 90_000, sessionCount: 4 },
      current: { uploadedBytes: up, downloadedBytes: down, secondsActive: 3_725, sessionCount: 1 },
    };
  }

  get(ids?: TorrentId[]): TorrentInfo[] {
    this.record('get', ids);
    return structuredClone(this.pick(ids));
  }

  async add(source: AddSource, opts: AddOptions = {}): Promise<AddResult> {
    this.record('add', { ...source, torrentFile: source.torrentFile ? `<${source.torrentFile.length} bytes>` : undefined }, opts);
    let infoHash: string;
    let name: string;
    let files: FileInfo[] = [];
    let pieceCount = 0;
    let pieceSize = 0;
    let magnetLink: string;
    if (source.magnet !== undefined) {
      const m = parseMagnet(source.magnet);
      infoHash = m.infoHashHex;
      name = m.name ?? m.infoHashHex;
      magnetLink = source.magnet;
    } else {
      let bytes = source.torrentFile;
      if (bytes === undefined && source.path !== undefined) {
        try {
          bytes = await readFile(source.path);
        } catch {
          throw new BtError('NOT_FOUND', `no such file: ${source.path}`);
        }
      }
      if (bytes === undefined) throw new BtError('USAGE', 'nothing to add');
      const meta = parseTorrent(bytes);
      infoHash = meta.infoHashHex;
      name = meta.name;
      files = meta.files.filter((f) => !f.padding).map((f) => ({ path: f.relPath, length: f.length, bytesCompleted: 0, wanted: true, priority: 'normal' as const }));
      pieceCount = meta.pieceCount;
      pieceSize = meta.pieceLength;
      magnetLink = buildMagnet({ infoHash, name });
    }
    const dup = this.torrents.find((t) => t.infoHash === infoHash);
    if (dup) return { id: dup.id, name: dup.name, infoHash, duplicate: true };
    const nowSec = Math.floor(this.now() / 1000);
    const t: TorrentInfo = {
      id: this.nextId++, infoHash, name, state: opts.paused ? 'paused' : 'downloading', error: null, percentDone: 0,
      totalSize: files.reduce((s, f) => s + f.length, 0), sizeWhenDone: 0, leftUntilDone: 0, downloadRate: 0,
      uploadRate: 0, peersConnected: 0, uploadedEver: 0, downloadedEver: 0, addedDate: nowSec, doneDate: 0,
      savePath: opts.downloadDir ?? this.settings.downloadDir, pieceCount, pieceSize, eta: -1,
      queuePosition: this.torrents.length, uploadLimit: 0, downloadLimit: 0, files, peers: [], trackers: [],
      recheckProgress: 0, magnetLink, comment: '', creator: '', dateCreated: 0, isPrivate: false,
      ...(source.magnet !== undefined ? { metadataPending: true } : {}),
    };
    recompute(t);
    this.torrents.push(t);
    return { id: t.id, name, infoHash, duplicate: false };
  }

  async start(ids?: TorrentId[]): Promise<void> {
    this.record('start', ids);
    for (const t of this.pick(ids)) {
      if (t.state === 'paused' || t.state === 'queued') t.state = t.leftUntilDone === 0 && t.sizeWhenDone > 0 ? 'seeding' : 'downloading';
    }
  }

  async startNow(ids?: TorrentId[]): Promise<void> {
    this.record('startNow', ids);
    for (const t of this.pick(ids)) t.state = t.leftUntilDone === 0 && t.sizeWhenDone > 0 ? 'seeding' : 'downloading';
  }

  async stop(ids?: TorrentId[]): Promise<void> {
    this.record('stop', ids);
    for (const t of this.pick(ids)) {
      t.state = 'paused';
      t.downloadRate = 0;
      t.uploadRate = 0;
      t.peers = [];
      t.peersConnected = 0;
    }
  }

  async verify(ids?: TorrentId[]): Promise<void> {
    this.record('verify', ids);
    for (const t of this.pick(ids)) {
      t.state = 'checking';
      t.recheckProgress = 0.5;
    }
  }

  async remove(ids: TorrentId[], deleteData: boolean): Promise<void> {
    this.record('remove', ids, deleteData);
    for (const t of this.pick(ids)) this.torrents.splice(this.torrents.indexOf(t), 1);
  }

  async setLocation(ids: TorrentId[], location: string, move: boolean): Promise<void> {
    this.record('setLocation', ids, location, move);
    for (const t of this.pick(ids)) t.savePath = location;
  }

  async setFiles(ids: TorrentId[], changes: FileChanges): Promise<void> {
    this.record('setFiles', ids, changes);
    for (const t of this.pick(ids)) {
      const at = (i: number): FileInfo => {
        const f = t.files[i];
        if (!f) throw new BtError('USAGE', `file index ${i} out of range`);
        return f;
      };
      for (const i of changes.wanted ?? []) at(i).wanted = true;
      for (const i of changes.unwanted ?? []) at(i).wanted = false;
      for (const i of changes.priorityHigh ?? []) at(i).priority = 'high';
      for (const i of changes.priorityNormal ?? []) at(i).priority = 'normal';
      for (const i of changes.priorityLow ?? []) at(i).priority = 'low';
      recompute(t);
    }
  }

  async setLimits(ids: TorrentId[], limits: { uploadLimit?: number; downloadLimit?: number }): Promise<void> {
    this.record('setLimits', ids, limits);
    for (const t of this.pick(ids)) {
      if (limits.uploadLimit !== undefined) t.uploadLimit = limits.uploadLimit;
      if (limits.downloadLimit !== undefined) t.downloadLimit = limits.downloadLimit;
    }
  }

  async setSequential(ids: TorrentId[], sequential: boolean): Promise<void> {
    this.record('setSequential', ids, sequential);
    for (const t of this.pick(ids)) t.sequentialDownload = sequential;
  }

  async shutdown(): Promise<void> {
    this.record('shutdown');
    this.shutDown = true;
  }

  // The facade's session-side calls (events, waiting, foreground reads): not used by the RPC; inert here.
  subscribe(_listener: (e: SessionEvent) => void): () => void { return () => {}; }
  whenDone(id: TorrentId): Promise<TorrentSummary> { return Promise.reject(new BtError('NOT_FOUND', `no torrent ${String(id)} in the fake`)); }
  summary(_id: TorrentId): TorrentSummary | undefined { return undefined; }
  progress(_id: TorrentId): ProgressEvent | undefined { return undefined; }
  peerTotals(_id: TorrentId): PeerTotalsReport | undefined { return undefined; }
  identify(_id: TorrentId): TorrentIdentity | undefined { return undefined; }
  fetchMetadata(_magnet: string): MetadataFetchHandle { throw new BtError('USAGE', 'the fake fetches no metadata'); }

  /** The calls made to `method`, in order. */
  callsTo(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }
}
