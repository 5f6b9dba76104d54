/**
 * A session with a state directory (the daemon's): the composition that src/api/open.ts runs when it is given one.
 *
 * Start: take the state directory's lock, read settings.json (options override and are saved), open the port, then
 * bring back every torrent of torrents/ with its resume file: pieces proven by the resume data are trusted without
 * hashing, pieces of changed files are re-hashed, and a missing or corrupt resume file means a full check
 * (docs/design/persistence.md). Each torrent comes back paused or running, as it was. Pending magnets (links whose
 * metadata has not arrived, magnets/<infohash>.json) come back after them, with their ids, and fetch again. Many
 * torrents are restored together; the spot checks of trusted pieces share one budget (SPOT_CHECK_BUDGET pieces per
 * start), and resume data is saved once the whole restore is over, only where it changed (a warm start writes nothing).
 *
 * While running: a piece that is verified and written marks the torrent's resume data dirty; the ResumeWriter saves
 * it at most every few seconds, and at once on completion, pause, resume, removal and stop. A snapshot lists only
 * pieces that were had BEFORE the storage flush (fdatasync) that precedes it, so resume data never over-reports.
 *
 * Ids: a torrent keeps its id for life (saved in its resume data; settings.json keeps `nextId`), and the id
 * counter (TorrentIds, src/api/torrent-ids.ts, shared with the SessionApi) never gives an id twice, even after a removal and a `kill -9`. Log lines name a torrent
 * `#id name`.
 *
 * Close: pending fetches stopped, resume data flushed, totals saved, `stopped` announced, lock released.
 */
import { parseTorrent, pieceSize, type Metainfo } from '../metainfo/index.js';
import type { Session } from '../session/session.js';
import type { Torrent } from '../session/torrent.js';
import { observeFilesSync, planStartupCheck, ResumeWriter, snapshotDiskState, StateStore, type FileStamp, type ResumeData } from '../state/index.js';
import { errorMessage } from '../util/errors.js';
import { loadPendingMagnets, removePendingMagnet, savePendingMagnet } from '../state/magnet-store.js';
import { MAX_TORRENT_ID } from '../state/resume-codec.js';
import { DEFAULT_ENCRYPTION, isEncryptionPolicy } from '../wire/mse/policy.js';
import { applyCarried } from './torrent-settings.js';
import { torrentLabel } from './torrent-read.js';
import { TorrentIds } from './torrent-ids.js';
import { buildSession, QUEUE_DEFAULTS, type OpenedBitpeer, type OpenOptions, type OpenStateOptions } from './open.js';
import type { SessionApiHooks } from './session-api.js';
import { checkBootstrapList } from './dht-config.js';
import { DHT_SAVE_INTERVAL_MS, DhtStateWriter, loadDhtState } from './dht-file.js';
import type { FilePriority, SessionSettings } from './types.js';
import type { FilePriority as ResumePriority } from '../state/index.js';

interface StoredSettings extends SessionSettings { rpcPort: number; cumulative?: { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number } }

/** File priorities as the resume file stores them (−1 low, 0 normal, 1 high: its format, src/state/resume-codec.ts). */
function toResumePriority(p: FilePriority): ResumePriority { return p === 'low' ? -1 : p === 'high' ? 1 : 0; }
function fromResumePriority(p: ResumePriority): FilePriority { return p < 0 ? 'low' : p > 0 ? 'high' : 'normal'; }


/** Torrents restored at once (their checks are scheduled by the session). */
const RESTORE_PARALLEL = 16;
/** File-system calls made synchronously before the event loop gets a turn, while the state directory is read. */
const SYNC_OPS_PER_TURN = 64;

/** A torrent read from the state directory. */
interface Restored { meta: Metainfo; resume: ResumeData | null; observed: Array<FileStamp | null> | undefined }
/** Resume files written at once (each is an fsync or three). */
const RESUME_WRITES_PARALLEL = 4;

/** Trusted pieces hashed as a spot check at start-up, over all torrents together (up to 4 per torrent). */
const SPOT_CHECK_BUDGET = 64;

/**
 * How many spot checks each torrent gets (`hasResume[i]`: torrent i has resume data): 4 each while that fits the
 * budget; with more torrents, one each for SPOT_CHECK_BUDGET torrents picked at random (a different sample at every
 * start), so a thousand torrents do not mean re-reading a thousand files' worth of pieces at every start.
 */
export function spotCheckShares(hasResume: readonly boolean[], random: () => number): number[] {
  const out = hasResume.map(() => 0);
  const candidates = hasResume.flatMap((has, i) => (has ? [i] : []));
  if (candidates.length * 4 <= SPOT_CHECK_BUDGET) {
    for (const i of candidates) out[i] = 4;
    return out;
  }
  for (let j = 0; j < SPOT_CHECK_BUDGET; j++) {
    const k = j + Math.min(candidates.length - 1 - j, Math.floor(random() * (candidates.length - j)));
    [candidates[j], candidates[k]] = [candidates[k]!, candidates[j]!];
    out[candidates[j]!] = 1;
  }
  return out;
}

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** The saved `dhtBootstrap` setting: a list of HOST:PORT strings, or undefined (absent, or not such a list: a warning). */
function savedDhtBootstrap(v: unknown, log: (m: string) => void): string[] | undefined {
  if (v === undefined) return undefined;
  try {
    if (!Array.isArray(v) || v.length > 64 || !v.every((x): x is string => typeof x === 'string')) throw new Error('not a list of HOST:PORT strings');
    return checkBootstrapList(v);
  } catch (e) {
    log(`warning: settings.json: dhtBootstrap ignored (${errorMessage(e)}); the default bootstrap nodes are used`);
    return undefined;
  }
}

function num(v: unknown, fallback: number): number { return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback; }

export async function openWithState(options: OpenOptions, state: OpenStateOptions): Promise<OpenedBitpeer> {
  const log = options.log ?? ((): void => undefined);
  const debug = options.debug ?? ((): void => undefined);
  const store = await StateStore.open(state.dir, { onWarning: (m) => log(`warning: ${m}`) });
  let session: Session | undefined;
  let dhtTimer: ReturnType<typeof setInterval> | undefined;
  try {
    const saved = (await store.loadSettings()) ?? {};
    const settings: StoredSettings = {
      downloadDir: options.downloadDir ?? (typeof saved['downloadDir'] === 'string' ? saved['downloadDir'] : state.defaultDownloadDir()),
      port: options.port ?? num(saved['port'], 6881),
      uploadLimit: options.uploadLimit ?? num(saved['uploadLimit'], 0),
      downloadLimit: options.downloadLimit ?? num(saved['downloadLimit'], 0),
      maxActiveDownloads: num(saved['maxActiveDownloads'], QUEUE_DEFAULTS.maxActiveDownloads),
      maxActiveSeeds: num(saved['maxActiveSeeds'], QUEUE_DEFAULTS.maxActiveSeeds),
      lsd: options.lsd ?? (typeof saved['lsd'] === 'boolean' ? saved['lsd'] : true),
      pex: options.pex ?? (typeof saved['pex'] === 'boolean' ? saved['pex'] : true),
      utp: options.utp ?? (typeof saved['utp'] === 'boolean' ? saved['utp'] : true),
      encryption: options.encryption ?? (isEncryptionPolicy(saved['encryption']) ? saved['encryption'] : DEFAULT_ENCRYPTION),
      dht: options.dht ?? (typeof saved['dht'] === 'boolean' ? saved['dht'] : true),
      rpcPort: state.rpcPort ?? num(saved['rpcPort'], 9091),
    };
    // DHT bootstrap nodes: given (checked, saved), else saved (a bad saved list is a warning: the default is used).
    const savedBootstrap = savedDhtBootstrap(saved['dhtBootstrap'], log);
    const bootstrap = options.dhtBootstrap !== undefined ? checkBootstrapList(options.dhtBootstrap) : savedBootstrap;
    if (bootstrap) settings.dhtBootstrap = bootstrap;
    const cumulative = (saved['cumulative'] && typeof saved['cumulative'] === 'object') ? saved['cumulative'] as StoredSettings['cumulative'] : undefined;
    // The next torrent id (ids are never given twice, even after a removal and a restart; see TorrentIds).
    const savedNextId = num(saved['nextId'], 1);
    let nextId = Number.isSafeInteger(savedNextId) && savedNextId >= 1 && savedNextId <= MAX_TORRENT_ID ? savedNextId : 1;
    const settingsFile = (cum = cumulative): Record<string, unknown> => ({ ...settings, nextId, ...(cum ? { cumulative: cum } : {}) });
    await store.saveSettings(settingsFile());
    // settings.json writes, one at a time, in order.
    let settingsSaving: Promise<void> = Promise.resolve();
    const saveSettings = (cum = cumulative): Promise<void> => (settingsSaving = settingsSaving
      .then(() => store.saveSettings(settingsFile(cum)))
      .catch((e: unknown) => log(`warning: saving settings.json failed: ${errorMessage(e)}`)));

    // The facade's hooks keep the state directory in step (the writer is made once the session is).
    const made: { writer?: ResumeWriter } = {};
    const hooks: SessionApiHooks = {
      onAdded: async (t, bytes) => { await store.saveMetainfo(t.infoHashHex, bytes); await made.writer?.flush(t.infoHashHex); await settingsSaving; },
      onRemoved: async (t) => { await made.writer?.forget(t.infoHashHex); await store.removeTorrent(t.infoHashHex); },
      onSettingsChanged: async (next) => { Object.assign(settings, next); await saveSettings(); },
      onTorrentChanged: async (t) => { if (session?.torrents.has(t.infoHashHex)) await made.writer?.flush(t.infoHashHex); },
      onMagnetSaved: (rec) => savePendingMagnet(store.dir, rec),
      onMagnetRemoved: (hex) => removePendingMagnet(store.dir, hex),
      debug,
      log,
      ...(cumulative ? { cumulativeBase: cumulative } : {}),
    };
    const ids = new TorrentIds();
    if (nextId > 1) ids.note(nextId - 1);
    // The DHT's node id and node cache (dht.dat): reused, saved when the node asks, every 10 minutes and at close.
    const dhtWriter = new DhtStateWriter(store.dir, (m) => log(`warning: ${m}`));
    let dhtSaving = true;
    const dhtRestored = loadDhtState(store.dir, (m) => log(`warning: ${m}`));
    const { session: s, api } = buildSession(options, settings, hooks, ids, {
      ...(dhtRestored ? { restored: dhtRestored } : {}),
      onPersist: (st) => { if (dhtSaving) dhtWriter.save(st); },
    });
    session = s;
    await s.listen();
    dhtTimer = setInterval(() => { const st = s.dhtSnapshot(); if (st && dhtSaving) dhtWriter.save(st); }, DHT_SAVE_INTERVAL_MS);
    dhtTimer.unref();

    // Resume data: written at most every few seconds while pieces arrive, at once on state changes.
    const resume = new ResumeWriter({
      save: (hex, d) => store.saveResume(hex, d),
      snapshot: async (hex) => {
        const t = s.torrents.get(hex);
        return t ? snapshot(t, ids.idOf(hex) ?? 0, s.queue().indexOf(t)) : null;
      },
      ...(state.resumeIntervalMs !== undefined ? { intervalMs: state.resumeIntervalMs } : {}),
      maxConcurrent: RESUME_WRITES_PARALLEL,
      onError: (hex, e) => {
        const t = s.torrents.get(hex);
        log(`warning: saving resume data of ${t ? torrentLabel({ id: ids.idOf(hex) ?? 0, name: t.meta.name }) : hex} failed: ${errorMessage(e)}`);
      },
    });
    made.writer = resume;
    s.onPieceVerified((t) => resume.markDirty(t.infoHashHex));
    // Torrents being brought back: their state changes are start-up noise, saved once their restore is over.
    const restoring = new Set<string>();
    s.events.subscribe((e) => {
      if (e.event === 'state' && e.state !== 'checking' && e.state !== 'stopped' && s.torrents.has(e.infoHash) && !restoring.has(e.infoHash)) {
        void resume.flush(e.infoHash).catch(() => {});
      }
    });

    // Bring back every torrent of the state directory. The small files (metainfo, resume data, the data files'
    // stamps) are read synchronously, a batch at a time with the event loop running in between: for a thousand
    // torrents that is several times faster than four thread-pool round trips per file. Then the torrents are
    // restored RESTORE_PARALLEL at a time, in queue order (the session runs their checks in turn, many small ones
    // at once).
    const hexes = await store.listTorrents();
    const restored: Restored[] = [];
    let ops = 0;
    for (const hex of hexes) {
      const bytes = store.loadMetainfoSync(hex);
      ops++;
      if (bytes) {
        let meta: Metainfo | undefined;
        try { meta = parseTorrent(bytes); } catch (e) { log(`warning: torrents/${hex}.torrent is unreadable (${errorMessage(e)}); skipped`); }
        if (meta) {
          const resume = store.loadResumeSync(hex, { pieceCount: meta.pieceCount, fileCount: meta.files.length });
          let observed: Array<FileStamp | null> | undefined;
          // On failure, planStartupCheck observes again and reports it.
          try { observed = observeFilesSync(meta, resume?.savePath ?? settings.downloadDir); } catch { observed = undefined; }
          restored.push({ meta, resume, observed });
          ops += 1 + meta.files.length;
        }
      }
      if (ops >= SYNC_OPS_PER_TURN) { ops = 0; await new Promise<void>((resolve) => setImmediate(resolve)); }
    }
    restored.sort((a, b) => (a.resume?.queuePosition ?? 1e9) - (b.resume?.queuePosition ?? 1e9));
    for (const r of restored) restoring.add(r.meta.infoHashHex);
    // Ids: each torrent keeps the id of its resume data; one without (an older file, a lost resume file, a
    // duplicate) gets a fresh one, above every saved id, in queue order.
    const savedIds: Array<number | undefined> = restored.map((r) => r.resume?.id);
    const taken = new Set<number>();
    savedIds.forEach((id, i) => { if (id !== undefined && !taken.has(id)) { taken.add(id); ids.note(id); } else savedIds[i] = undefined; });
    const restoredIds = savedIds.map((id) => id ?? ids.reserve());
    const spotted = spotCheckShares(restored.map((r) => r.resume !== null), Math.random);
    // Queue order: each restore plans in parallel, but its add (which takes the queue place at once) starts only
    // after every earlier one's has, so the places come out in saved order whatever order the plans end in.
    const turns = restored.map(() => { let go!: () => void; const started = new Promise<void>((r) => { go = r; }); return { started, go }; });
    await mapLimit(restored.map((r, position) => ({ ...r, position })), RESTORE_PARALLEL, async ({ meta, resume, observed, position }) => {
      await restoreTorrent(meta, resume, observed, position, spotted[position]!, restoredIds[position]!);
    });
    // Once every torrent is back: saved where something changed (the store skips writing identical bytes), a few
    // at a time. (A piece downloaded meanwhile has already marked its torrent dirty.)
    restoring.clear();
    for (const r of restored) if (s.torrents.has(r.meta.infoHashHex)) resume.markDirty(r.meta.infoHashHex);
    // These lists live in the scope of `close` below: drop the resume data they hold.
    restored.length = 0;
    // From now on every new id is saved at once (the RPC answers an add only after it is: see onAdded).
    ids.onNextChanged((next) => { nextId = next; void saveSettings(); });
    if (ids.nextId !== nextId) { nextId = ids.nextId; void saveSettings(); }

    async function restoreTorrent(meta: Metainfo, resume: ResumeData | null, observed: Array<FileStamp | null> | undefined,
      position: number, spotChecks: number, id: number): Promise<void> {
      const savePath = resume?.savePath ?? settings.downloadDir;
      const label = torrentLabel({ id, name: meta.name });
      let trusted: number[] = [];
      let recheck: number[] | 'all' = 'all';
      let spot: number[] = [];
      try {
        const plan = await planStartupCheck(meta, savePath, resume, { spotChecks, ...(observed ? { observed } : {}) });
        trusted = [...plan.trusted.indexes()];
        recheck = [...new Set([...plan.recheck, ...plan.spotCheck])].sort((a, b) => a - b);
        spot = plan.spotCheck;
        if (plan.ignoredReason) log(`${label}: resume data not used (${plan.ignoredReason}); checking everything`);
        else log(`${label}: ${trusted.length} pieces trusted from resume data, ${recheck.length} to check, changed files: ${plan.changedFiles.length}`);
      } catch (e) {
        log(`${label}: cannot plan the start-up check (${errorMessage(e)}); checking everything`);
      }
      const recheckSet = new Set(recheck === 'all' ? [] : recheck);
      if (position > 0) await turns[position - 1]!.started;
      ids.assign(meta.infoHashHex, id);
      const adding = s.addTorrent(meta, {
        savePath, keepOnError: true, paused: resume?.paused ?? false, queuePosition: position, tag: `#${id}`,
        plan: { trusted: recheck === 'all' ? [] : trusted.filter((i) => !recheckSet.has(i)), recheck },
        ...(resume ? {
          addedAt: Math.floor(resume.addedAt / 1000) * 1000,
          restored: { uploaded: resume.uploaded, downloaded: resume.downloaded, ...(resume.completedAt ? { completedAt: resume.completedAt } : {}) },
          ...(resume.pieceLayers ? { restoredPieceLayers: resume.pieceLayers } : {}),
        } : {}),
        beforeStart: (t) => {
          if (!resume) return;
          applyCarried(t, {
            wanted: resume.wanted, priorities: resume.priorities.map(fromResumePriority),
            limits: { upload: resume.uploadLimit, download: resume.downloadLimit }, peers: resume.peers,
            ...(resume.sequential ? { sequential: true } : {}),
          });
        },
      });
      turns[position]!.go(); // the add has taken its queue place (synchronously, before its first await)
      await adding.then(async (t) => {
        // After a crash the saved totals lag: pieces written after the last save are found again by re-hashing
        // (their files changed). They were downloaded by us, so they count toward downloadedEver.
        const have = t.haveBitfield();
        if (resume) {
          let recovered = 0;
          let savedHave = 0;
          for (let i = 0; i < meta.pieceCount; i++) {
            if (resume.pieces.has(i)) savedHave += pieceSize(meta, i);
            else if (have.has(i)) recovered += pieceSize(meta, i);
          }
          // The saved counter already includes blocks of pieces that were incomplete at the save: don't count twice.
          recovered = Math.max(0, recovered - Math.max(0, resume.downloaded - savedHave));
          if (recovered > 0) {
            t.creditRecoveredDownload(recovered);
            log(`${label}: ${recovered} bytes written after the last resume save were found on disk and kept`);
          }
        }
        // A failed spot check means the resume data cannot be trusted: hash everything (reliability rule 9 in
        // docs/design/reliability.md).
        if (spot.some((i) => !have.has(i))) {
          log(`${label}: a spot-checked piece failed; re-checking all data`);
          await t.verify();
        }
      }).catch((e: unknown) => {
        if (!s.torrents.has(meta.infoHashHex)) ids.release(meta.infoHashHex);
        log(`${label}: could not be restored: ${errorMessage(e)}`);
      });
    }

    // Pending magnets, after the torrents (whose ids they must not take): fetching again, under their ids.
    for (const rec of await loadPendingMagnets(store.dir, (m) => log(`warning: ${m}`))) {
      await api.restoreMagnet(rec).catch((e: unknown) => log(`warning: pending magnet ${rec.infoHash}: ${errorMessage(e)}`));
    }
    let closing: Promise<void> | undefined;
    return {
      api, get port() { return s.port; }, rpcPort: settings.rpcPort,
      torrentCount: () => s.torrents.size,
      close: ({ save = true } = {}) => closing ??= (async () => {
        api.close();
        clearInterval(dhtTimer);
        if (!save) {
          dhtSaving = false;
          ids.onNextChanged(undefined);
          await s.close();
          await dhtWriter.flush();
          await store.close();
          return;
        }
        await resume.close().catch((e: unknown) => log(`warning: final resume save: ${errorMessage(e)}`));
        const stats = api.stats();
        ids.onNextChanged(undefined);
        await saveSettings(stats.cumulative);
        await s.close(); // the DHT node's last state is handed to the writer as it closes
        await dhtWriter.flush();
        await store.close();
      })(),
    };
  } catch (err) {
    clearInterval(dhtTimer);
    await session?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

/** The torrent's resume data now. Pieces are taken BEFORE the storage flush, so only durable pieces are listed. */
async function snapshot(t: Torrent, id: number, queuePosition: number): Promise<ResumeData> {
  // Order matters (docs/design/persistence.md): file stamps first, then the piece list, then the flush. A piece
  // written after the stamps makes its file look changed at the next start, so it is re-hashed, never lost; a piece
  // in the list was written before the flush, so it is durable.
  const { pieces, files } = await snapshotDiskState(t.meta, t.savePath, () => t.haveBitfield(), () => t.flush()).catch(async () => ({
    pieces: t.haveBitfield(), files: t.meta.files.map(() => null),
  }));
  const st = t.status();
  const fetched = t.pieceLayers(true);
  return {
    version: 1, infoHash: t.infoHash, savePath: t.savePath, paused: st.userPaused, queuePosition: Math.max(0, queuePosition),
    ...(id >= 1 && id <= MAX_TORRENT_ID ? { id } : {}),
    addedAt: st.times.added, ...(st.times.completed ? { completedAt: st.times.completed } : {}),
    uploaded: st.totals.uploaded, downloaded: st.totals.downloaded, pieces, files,
    wanted: st.files.map((f) => f.wanted), priorities: st.files.map((f) => toResumePriority(f.priority)),
    peers: t.knownPeers(200).filter((a) => /^(\d+\.){3}\d+:\d+$|^\[[0-9a-fA-F:.]+\]:\d+$/.test(a)),
    uploadLimit: st.limits.upload, downloadLimit: st.limits.download,
    ...(st.state === 'error' && t.errorReason ? { error: t.errorReason.slice(0, 4000) } : {}),
    ...(fetched.size > 0 ? { pieceLayers: fetched } : {}),
    ...(t.sequential ? { sequential: true } : {}),
  };
}
