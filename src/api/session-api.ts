/**
 * BitpeerApi implemented over a live Session (the daemon's control surface; the RPC layer and the CLI's client
 * commands use it). Every call is plain data in, plain data out.
 *
 * Persistence hooks (`onAdded`, `onRemoved`, `onChanged`) let the daemon keep the state directory in step without
 * this module knowing about files.
 */
import { readFile } from 'node:fs/promises';
import { buildMagnet, parseTorrent, pieceSize } from '../metainfo/index.js';
import { resolve as resolvePath } from 'node:path';
import { deleteTorrentData, describeDeletion } from '../storage/delete-data.js';
import { moveTorrentData } from '../storage/move-data.js';
import { resolveMagnet } from '../session/magnet-resolve.js';
import type { Session } from '../session/session.js';
import type { Torrent } from '../session/torrent.js';
import { BtError } from '../util/errors.js';
import type {
  AddOptions, AddResult, AddSource, BitpeerApi, FileChanges, SessionSettings, SessionStats, TorrentId, TorrentInfo,
  TorrentStateName,
} from './types.js';

export interface SessionApiHooks {
  /** A torrent was added (its .torrent bytes, for the state directory). */
  onAdded?(t: Torrent, torrentFile: Buffer): Promise<void> | void;
  onRemoved?(t: Torrent): Promise<void> | void;
  /** Settings or a torrent's persistent state changed. */
  onSettingsChanged?(s: SessionSettings): Promise<void> | void;
  onTorrentChanged?(t: Torrent): Promise<void> | void;
  /** Log sink (the daemon's log): what a delete-local-data removed and what it kept, and why. */
  log?(msg: string): void;
  /** Totals of earlier runs (from the state directory). */
  cumulativeBase?: { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number };
}

export class SessionApi implements BitpeerApi {
  private readonly startedAt: number;

  constructor(private readonly session: Session, private settings: SessionSettings, private readonly hooks: SessionApiHooks = {}) {
    this.startedAt = Date.now();
  }

  getSettings(): SessionSettings { return { ...this.settings, port: this.session.port || this.settings.port }; }

  async setSettings(changes: Partial<SessionSettings>): Promise<void> {
    const next = { ...this.settings, ...changes };
    if (changes.uploadLimit !== undefined) this.session.uploadBucket.setRate(Math.max(0, changes.uploadLimit));
    if (changes.downloadLimit !== undefined) this.session.downloadBucket.setRate(Math.max(0, changes.downloadLimit));
    if (changes.maxActiveDownloads !== undefined) this.session.maxActiveDownloads = Math.max(1, changes.maxActiveDownloads);
    if (changes.maxActiveSeeds !== undefined) this.session.maxActiveSeeds = Math.max(1, changes.maxActiveSeeds);
    this.settings = next;
    await this.hooks.onSettingsChanged?.(next);
    await this.session.updateQueue();
  }

  stats(): SessionStats {
    const ts = [...this.session.torrents.values()];
    let down = 0; let up = 0; let downTotal = 0; let upTotal = 0;
    for (const t of ts) { down += t.down.rate; up += t.up.rate; downTotal += t.downloaded; upTotal += t.uploaded; }
    const secondsActive = Math.floor((Date.now() - this.startedAt) / 1000);
    const base = this.hooks.cumulativeBase ?? { uploadedBytes: 0, downloadedBytes: 0, secondsActive: 0, sessionCount: 0 };
    return {
      torrentCount: ts.length,
      activeTorrentCount: ts.filter((t) => t.state === 'downloading' || t.state === 'seeding' || t.state === 'checking').length,
      pausedTorrentCount: ts.filter((t) => t.state === 'paused').length,
      downloadSpeed: Math.round(down), uploadSpeed: Math.round(up),
      current: { uploadedBytes: upTotal, downloadedBytes: downTotal, secondsActive, sessionCount: 1 },
      cumulative: {
        uploadedBytes: base.uploadedBytes + upTotal, downloadedBytes: base.downloadedBytes + downTotal,
        secondsActive: base.secondsActive + secondsActive, sessionCount: base.sessionCount + 1,
      },
    };
  }

  get(ids?: TorrentId[]): TorrentInfo[] {
    const list = ids === undefined ? [...this.session.torrents.values()] : this.resolve(ids);
    return list.sort((a, b) => a.id - b.id).map((t) => describe(t));
  }

  async add(source: AddSource, opts: AddOptions = {}): Promise<AddResult> {
    let bytes: Buffer;
    let magnetPeers: Array<{ host: string; port: number }> = [];
    if (source.torrentFile) bytes = source.torrentFile;
    else if (source.path) {
      bytes = await readFile(source.path).catch((e: NodeJS.ErrnoException) => {
        throw new BtError(e.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read ${source.path}: ${e.code ?? String(e)}`);
      });
    } else if (source.magnet) {
      // BEP 9: the info dictionary comes from peers (x.pe and the link's trackers); bounded by a timeout.
      const resolved = await resolveMagnet(this.session, source.magnet, { timeoutMs: 60_000 });
      bytes = resolved.torrent;
      magnetPeers = resolved.peers;
    } else {
      throw new BtError('USAGE', 'nothing to add: give a .torrent file, its contents, or a magnet link');
    }
    const meta = parseTorrent(bytes);
    const existing = this.session.torrents.get(meta.infoHashHex);
    if (existing) return { id: existing.id, name: existing.meta.name, infoHash: existing.infoHashHex, duplicate: true };
    const savePath = opts.downloadDir ?? this.settings.downloadDir;
    const t = await this.session.addTorrent(meta, { savePath, paused: opts.paused ?? false, keepOnError: true, peers: magnetPeers });
    await this.hooks.onAdded?.(t, bytes);
    return { id: t.id, name: meta.name, infoHash: meta.infoHashHex, duplicate: false };
  }

  async start(ids?: TorrentId[]): Promise<void> {
    for (const t of this.targets(ids)) { await this.session.resumeTorrent(t); await this.hooks.onTorrentChanged?.(t); }
  }

  async stop(ids?: TorrentId[]): Promise<void> {
    for (const t of this.targets(ids)) { await this.session.pauseTorrent(t); await this.hooks.onTorrentChanged?.(t); }
  }

  async verify(ids?: TorrentId[]): Promise<void> {
    // Runs in the background, as in Transmission: the call returns once the check has started.
    for (const t of this.targets(ids)) {
      void t.verify().then(() => this.hooks.onTorrentChanged?.(t)).then(() => this.session.updateQueue()).catch(() => {});
    }
  }

  async remove(ids: TorrentId[], deleteData: boolean): Promise<void> {
    for (const t of this.resolve(ids)) {
      await this.session.removeTorrent(t);
      await this.hooks.onRemoved?.(t);
      if (deleteData) {
        // Only the torrent's own files, then its folders that became empty (src/storage/delete-data.ts).
        const report = await deleteTorrentData(t.meta, t.savePath, { isShared: (p) => this.session.fileOwner(p, t) });
        this.hooks.log?.(`${t.meta.name}: removed with its data: ${describeDeletion(report)}`);
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
      const had = [...t.picker.haveBitfield().indexes()];
      const state = {
        id: t.id, addedAt: t.addedAt, queuePosition: t.queuePosition, paused: t.userPaused,
        uploaded: t.uploaded, downloaded: t.downloaded, completedAt: t.completedAt ?? t.restoredCompletedAt,
        wanted: t.filesWanted.slice(), priorities: t.filePriorities.slice(),
        uploadLimit: t.uploadBucket.rate, downloadLimit: t.downloadBucket.rate, peers: t.peers.knownAddresses(200),
      };
      await this.session.removeTorrent(t);
      let savePath = to;
      let trusted = false;
      let failure: unknown;
      if (move) {
        try {
          const report = await moveTorrentData(t.meta, t.savePath, to);
          trusted = report.kept.every((k) => k.reason === 'folder not empty');
          this.hooks.log?.(`${t.meta.name}: moved ${report.moved.length} file(s) from ${t.savePath} to ${to}` +
            (report.kept.length > 0 ? `; left: ${report.kept.map((k) => `${k.path} (${k.reason})`).join('; ')}` : ''));
        } catch (err) {
          failure = err; // nothing moved (or everything moved back): the torrent goes back where it was
          savePath = t.savePath;
          trusted = true;
        }
      }
      const back = await this.session.addTorrent(t.meta, {
        savePath, keepOnError: true, paused: state.paused, id: state.id, addedAt: state.addedAt, queuePosition: state.queuePosition,
        plan: trusted ? { trusted: had, recheck: 'none' } : { recheck: 'all' },
        beforeStart: (n) => {
          n.uploaded = state.uploaded;
          n.downloaded = state.downloaded;
          if (state.completedAt !== undefined) n.restoredCompletedAt = state.completedAt;
          n.setFilePriorities(state.wanted, state.priorities);
          n.uploadBucket.setRate(state.uploadLimit);
          n.downloadBucket.setRate(state.downloadLimit);
          for (const p of state.peers) {
            const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(p);
            if (m) n.addPeer(m[1]!, Number(m[2]), 'resume');
          }
        },
      });
      await this.hooks.onTorrentChanged?.(back);
      if (failure !== undefined) throw failure;
    }
  }

  async setFiles(ids: TorrentId[], c: FileChanges): Promise<void> {
    for (const t of this.resolve(ids)) {
      const n = t.meta.files.length;
      const wanted = t.filesWanted.slice();
      const prio = t.filePriorities.slice();
      const check = (list: number[] | undefined): number[] => {
        for (const i of list ?? []) if (!Number.isInteger(i) || i < 0 || i >= n) throw new BtError('USAGE', `file index ${i} out of range (0..${n - 1})`);
        return list ?? [];
      };
      for (const i of check(c.wanted)) wanted[i] = true;
      for (const i of check(c.unwanted)) wanted[i] = false;
      for (const i of check(c.priorityHigh)) prio[i] = 1;
      for (const i of check(c.priorityNormal)) prio[i] = 0;
      for (const i of check(c.priorityLow)) prio[i] = -1;
      t.setFilePriorities(wanted, prio);
      await this.hooks.onTorrentChanged?.(t);
    }
    await this.session.updateQueue();
  }

  async setLimits(ids: TorrentId[], limits: { uploadLimit?: number; downloadLimit?: number }): Promise<void> {
    for (const t of this.resolve(ids)) {
      if (limits.uploadLimit !== undefined) t.uploadBucket.setRate(Math.max(0, limits.uploadLimit));
      if (limits.downloadLimit !== undefined) t.downloadBucket.setRate(Math.max(0, limits.downloadLimit));
      await this.hooks.onTorrentChanged?.(t);
    }
  }

  private targets(ids?: TorrentId[]): Torrent[] {
    return ids === undefined ? [...this.session.torrents.values()] : this.resolve(ids);
  }

  private resolve(ids: TorrentId[]): Torrent[] {
    const out: Torrent[] = [];
    for (const id of ids) {
      const t = this.session.torrentById(id);
      if (t && !out.includes(t)) out.push(t);
    }
    return out;
  }
}

function stateName(t: Torrent): TorrentStateName {
  switch (t.state) {
    case 'checking': case 'downloading': case 'seeding': case 'paused': case 'queued': case 'error': return t.state;
    default: return 'paused';
  }
}

export function describe(t: Torrent): TorrentInfo {
  const m = t.meta;
  const pieceBytes = (i: number): number => pieceSize(m, i);
  let wantedSize = 0; let wantedLeft = 0;
  for (let i = 0; i < m.pieceCount; i++) {
    const size = pieceBytes(i);
    const have = t.picker.have(i);
    if (t.picker.piecePriority(i) > 0) { wantedSize += size; if (!have) wantedLeft += size; }
  }
  const files = m.files.map((f, i) => {
    let done = 0;
    if (f.length > 0) {
      const first = Math.floor(f.offset / m.pieceLength);
      const last = Math.floor((f.offset + f.length - 1) / m.pieceLength);
      for (let k = first; k <= last; k++) {
        if (!t.picker.have(k)) continue;
        const start = Math.max(f.offset, k * m.pieceLength);
        const end = Math.min(f.offset + f.length, k * m.pieceLength + pieceBytes(k));
        done += end - start;
      }
    }
    return { path: f.relPath, length: f.length, bytesCompleted: done, wanted: t.filesWanted[i] ?? true, priority: t.filePriorities[i] ?? 0 };
  });
  const rate = t.down.rate;
  const peers = [...t.peers.connected.values()].map((p) => ({
    address: p.conn.remoteAddress, port: p.conn.remotePort, client: p.clientName ?? p.client, direction: p.direction,
    source: p.direction === 'in' ? 'incoming' : (t.peers.candidates.get(p.key)?.source ?? 'manual'),
    rateToClient: Math.round(p.down.rate), rateToPeer: Math.round(p.up.rate), progress: p.has.count / Math.max(1, m.pieceCount),
    downloaded: p.down.total, uploaded: p.up.total,
  }));
  const tiers = m.announceList.length > 0 ? m.announceList : m.announce ? [[m.announce]] : [];
  const trackers = tiers.flatMap((tier, ti) => tier.map((url) => {
    const log = t.trackerLog.get(url);
    return {
      url, tier: ti, lastAnnounceTime: log ? Math.floor(log.time / 1000) : 0, lastAnnounceSucceeded: log?.ok ?? false,
      lastAnnounceResult: log?.message ?? '', lastAnnouncePeerCount: log?.peers ?? 0, seeders: log?.seeders ?? -1,
      leechers: log?.leechers ?? -1, nextAnnounceTime: log ? Math.floor(log.time / 1000) + log.interval : 0,
    };
  }));
  return {
    id: t.id, infoHash: t.infoHashHex, name: m.name, state: stateName(t), error: t.state === 'error' ? (t.errorReason ?? 'error') : null,
    percentDone: wantedSize === 0 ? 1 : (wantedSize - wantedLeft) / wantedSize,
    totalSize: m.totalLength, sizeWhenDone: wantedSize, leftUntilDone: wantedLeft,
    downloadRate: Math.round(rate), uploadRate: Math.round(t.up.rate), peersConnected: t.peers.connected.size,
    uploadedEver: t.uploaded, downloadedEver: t.downloaded, addedDate: t.addedAt,
    doneDate: t.completedAt ? Math.floor(t.completedAt / 1000) : 0, savePath: t.savePath,
    pieceCount: m.pieceCount, pieceSize: m.pieceLength,
    // Transmission: -1 = not available (done, or not downloading), -2 = unknown.
    eta: wantedLeft === 0 ? -1 : rate > 1 ? Math.round(wantedLeft / rate) : -2,
    queuePosition: t.queuePosition, uploadLimit: t.uploadBucket.rate, downloadLimit: t.downloadBucket.rate,
    files, peers, trackers, recheckProgress: t.state === 'checking' ? t.checkProgress : 0,
    pieces: Buffer.from(t.picker.haveBitfield().bytes).toString('base64'),
    magnetLink: buildMagnet({ infoHash: t.infoHash, name: m.name, trackers: tiers.flat() }),
    comment: m.comment ?? '', creator: m.createdBy ?? '', dateCreated: m.creationDate ?? 0, isPrivate: m.private,
  };
}
