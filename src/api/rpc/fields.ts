/**
 * Transmission RPC field mapping: bitpeer's TorrentInfo, SessionSettings and SessionStats as the JSON objects that
 * transmission-daemon 3.00 (RPC version 16) answers, so that transmission-remote and Transmission front-ends work
 * unchanged against bitpeer's daemon. Pure: no I/O; the clock comes in through {@link FieldContext}.
 *
 * Invariants:
 * - every integer field is a JSON integer (transmission-remote reads them with tr_variantDictFindInt, which rejects
 *   reals: a torrent with `"eta": 12.5` silently vanishes from `transmission-remote -l`);
 * - rates are bytes/s; speed LIMITS are kB/s with k = 1000 ({@link SPEED_K}), as in transmission-daemon 3.00;
 * - every field transmission-remote 3.00 asks for (-l, -i, -if, -ip, -it, -ic, -si, -st) is answered;
 *   unknown field names are skipped, as Transmission does;
 * - BEP 47 pad files are invisible: not in `files`/`fileStats`/`wanted`/`priorities`/`file-count`, not counted in
 *   `totalSize`/`sizeWhenDone`/`leftUntilDone`/`haveValid` ({@link userView}); RPC file index k is the k-th non-pad
 *   file ({@link apiFileIndices} maps it back).
 * BEP: none (Transmission's rpc-spec.txt, version 16).
 */
import { VERSION } from '../../util/version.js';
import type { PeerInfo, SessionSettings, SessionStats, TorrentInfo, TrackerInfo } from '../types.js';
import { toTransmissionPriority } from './priority.js';
import type { EncryptionPolicy } from '../types.js';

/**
 * Transmission's `encryption` values and bitpeer's policies: `required` = `forced` (RC4 only), `preferred` =
 * `enabled` (both accepted, outgoing tries MSE first), `tolerated` = `disabled` (Transmission's `tolerated` still
 * accepts incoming encrypted connections; bitpeer's `disabled` refuses them: the nearest of the three).
 */
const ENCRYPTION_NAMES: Record<EncryptionPolicy, string> = { forced: 'required', enabled: 'preferred', disabled: 'tolerated' };

export function toTransmissionEncryption(p: EncryptionPolicy): string { return ENCRYPTION_NAMES[p]; }

export function fromTransmissionEncryption(name: string): EncryptionPolicy | undefined {
  for (const [p, n] of Object.entries(ENCRYPTION_NAMES)) if (n === name) return p as EncryptionPolicy;
  return undefined;
}

/** The RPC version we speak (Transmission 3.00's). */
export const RPC_VERSION = 16;
export const RPC_VERSION_MINIMUM = 1;
/** Transmission 3.00's rpc-version 16 as a semver (Transmission 4.0 added the field to the legacy protocol). */
export const RPC_VERSION_SEMVER = '5.2.0';
/** bitpeer's own version, reported after Transmission's "$version ($revision)" pattern. */
export const BITPEER_VERSION = VERSION;
export const DAEMON_VERSION = `3.00 (bitpeer ${BITPEER_VERSION})`;
/**
 * What session_get reports over JSON-RPC 2.0: Transmission 4.1's RPC as of 4.1.1 (rpc_version 19, semver 6.0.1,
 * minimum 14). 6.0.1 differs from 4.1.0's 6.0.0 only in speed limits being integers again, which ours always were.
 */
export const RPC_VERSION_41 = 19;
export const RPC_VERSION_MINIMUM_41 = 14;
export const RPC_VERSION_SEMVER_41 = '6.0.1';
export const DAEMON_VERSION_41 = `4.1.1 (bitpeer ${BITPEER_VERSION})`;
/** Bytes in a "kB" of speed (limits in session-set / torrent-set): 1000 in transmission-daemon 3.00. */
export const SPEED_K = 1000;
/** Per-torrent peer limit reported when the API does not give one. */
export const DEFAULT_PEER_LIMIT_PER_TORRENT = 50;
export const DEFAULT_PEER_LIMIT_GLOBAL = 200;
/** Seconds a torrent counts as "recently active" (ids: "recently-active"). */
export const RECENTLY_ACTIVE_SECONDS = 60;

/** Transmission's tr_torrent_activity numbers (the `status` field). */
export const TR_STATUS = {
  STOPPED: 0, CHECK_WAIT: 1, CHECK: 2, DOWNLOAD_WAIT: 3, DOWNLOAD: 4, SEED_WAIT: 5, SEED: 6,
} as const;

/** Transmission's `error` numbers. */
export const TR_ERROR = { OK: 0, TRACKER_WARNING: 1, TRACKER_ERROR: 2, LOCAL_ERROR: 3 } as const;

/** What the mapping needs besides the torrent. */
export interface FieldContext {
  /** Now, seconds since the epoch. */
  nowSec: number;
}

/** A value that must be an integer on the wire. */
function int(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) ? Math.round(x) : 0;
}

/** bytes/s → Transmission kB/s (k = 1000), rounded. */
export function toKBps(bytesPerSecond: number): number {
  return int(bytesPerSecond / SPEED_K);
}

/** The `status` number of a torrent. */
export function statusOf(t: TorrentInfo): number {
  switch (t.state) {
    case 'checking': return TR_STATUS.CHECK;
    case 'downloading': return TR_STATUS.DOWNLOAD;
    case 'seeding': return TR_STATUS.SEED;
    case 'queued': return t.leftUntilDone > 0 ? TR_STATUS.DOWNLOAD_WAIT : TR_STATUS.SEED_WAIT;
    case 'paused': case 'error': return TR_STATUS.STOPPED;
  }
}

/** Transmission's `error` number: only local errors exist in bitpeer's API (tracker failures are in trackerStats). */
export function errorOf(t: TorrentInfo): number {
  return t.state === 'error' || (t.error !== null && t.error !== '') ? TR_ERROR.LOCAL_ERROR : TR_ERROR.OK;
}

/** The API's file index of each file the RPC shows (non-pad files, in order): RPC index k → `apiFileIndices(t)[k]`. */
export function apiFileIndices(t: TorrentInfo): number[] {
  const out: number[] = [];
  t.files.forEach((f, i) => { if (f.padding !== true) out.push(i); });
  return out;
}

/**
 * The torrent as the user sees it: pad files removed from `files`, their bytes taken out of the sizes. A pad's
 * bytes count as wanted while its flag is wanted (the default) and as done once its piece is verified, as the
 * session counts them, so they are subtracted the same way.
 */
export function userView(t: TorrentInfo): TorrentInfo {
  if (!t.files.some((f) => f.padding === true)) return t;
  let all = 0; let wanted = 0; let left = 0;
  for (const f of t.files) {
    if (f.padding !== true) continue;
    all += f.length;
    if (f.wanted) { wanted += f.length; left += Math.max(0, f.length - f.bytesCompleted); }
  }
  return {
    ...t,
    files: t.files.filter((f) => f.padding !== true),
    totalSize: Math.max(0, t.totalSize - all),
    sizeWhenDone: Math.max(0, t.sizeWhenDone - wanted),
    leftUntilDone: Math.max(0, t.leftUntilDone - left),
  };
}

/** Bytes of verified data over all files (Transmission's haveValid). */
export function haveValidOf(t: TorrentInfo): number {
  if (t.files.length === 0) return Math.max(0, t.sizeWhenDone - t.leftUntilDone);
  let sum = 0;
  for (const f of t.files) sum += f.bytesCompleted;
  return sum;
}

/** Transmission's tr_getRatio: -1 = not available, -2 = infinite. */
export function ratioOf(t: TorrentInfo): number {
  const denominator = t.downloadedEver > 0 ? t.downloadedEver : haveValidOf(t);
  if (denominator > 0) return t.uploadedEver / denominator;
  return t.uploadedEver > 0 ? -2 : -1;
}

function peerFlags(p: PeerInfo): { clientChoked: boolean; clientInterested: boolean; peerChoked: boolean; peerInterested: boolean } {
  return {
    clientChoked: p.clientChoked ?? !(p.rateToClient > 0),
    clientInterested: p.clientInterested ?? p.rateToClient > 0,
    peerChoked: p.peerChoked ?? !(p.rateToPeer > 0),
    peerInterested: p.peerInterested ?? p.rateToPeer > 0,
  };
}

function isDownloadingFrom(p: PeerInfo): boolean {
  const f = peerFlags(p);
  return !f.clientChoked && f.clientInterested;
}

function isUploadingTo(p: PeerInfo): boolean {
  const f = peerFlags(p);
  return !f.peerChoked && f.peerInterested;
}

/** Transmission's peer flag letters (D/d, U/u, K, ?, X, H, I) from what bitpeer knows of the peer. */
export function flagStr(p: PeerInfo): string {
  const f = peerFlags(p);
  let s = '';
  if (isDownloadingFrom(p)) s += 'D'; else if (f.clientInterested) s += 'd';
  if (isUploadingTo(p)) s += 'U'; else if (f.peerInterested) s += 'u';
  if (!f.clientChoked && !f.clientInterested) s += 'K';
  if (!f.peerChoked && !f.peerInterested) s += '?';
  if (p.encrypted === true) s += 'E';
  if (p.source === 'dht') s += 'H'; else if (p.source === 'pex') s += 'X';
  if (p.direction === 'in') s += 'I';
  if (p.utp === true) s += 'T';
  return s;
}

function peerObject(p: PeerInfo): Record<string, unknown> {
  const f = peerFlags(p);
  return {
    address: p.address,
    clientName: p.client,
    clientIsChoked: f.clientChoked,
    clientIsInterested: f.clientInterested,
    flagStr: flagStr(p),
    isDownloadingFrom: isDownloadingFrom(p),
    isEncrypted: p.encrypted === true,
    isIncoming: p.direction === 'in',
    isUploadingTo: isUploadingTo(p),
    isUTP: p.utp === true,
    peerIsChoked: f.peerChoked,
    peerIsInterested: f.peerInterested,
    port: int(p.port),
    progress: Number.isFinite(p.progress) ? p.progress : 0,
    rateToClient: int(p.rateToClient),
    rateToPeer: int(p.rateToPeer),
  };
}

function peersFrom(t: TorrentInfo): Record<string, number> {
  const from = { fromCache: 0, fromDht: 0, fromIncoming: 0, fromLpd: 0, fromLtep: 0, fromPex: 0, fromTracker: 0 };
  for (const p of t.peers) {
    if (p.direction === 'in' || p.source === 'incoming') from.fromIncoming++;
    else if (p.source === 'tracker') from.fromTracker++;
    else if (p.source === 'pex') from.fromPex++;
    else if (p.source === 'lsd') from.fromLpd++;
    else if (p.source === 'dht') from.fromDht++;
    else from.fromCache++; // 'resume', 'manual' (--peer) and anything else
  }
  return from;
}

/** BEP 48's convention: …/announce[…] → …/scrape[…]; "" when the URL does not follow it. */
export function scrapeUrl(announce: string): string {
  const q = announce.indexOf('?');
  const base = q < 0 ? announce : announce.slice(0, q);
  const slash = base.lastIndexOf('/');
  if (slash < 0 || !base.startsWith('announce', slash + 1)) return '';
  return `${base.slice(0, slash + 1)}scrape${base.slice(slash + 1 + 'announce'.length)}${q < 0 ? '' : announce.slice(q)}`;
}

/** "scheme://host:port" as Transmission's trackerStats `host`. */
export function trackerHost(url: string): string {
  try {
    const u = new URL(url);
    const defaultPort = u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
    const port = u.port || defaultPort;
    return `${u.protocol}//${u.hostname}${port ? `:${port}` : ''}`;
  } catch {
    return url;
  }
}

function trackerObject(tr: TrackerInfo, index: number): Record<string, unknown> {
  return { announce: tr.url, id: index, scrape: scrapeUrl(tr.url), tier: int(tr.tier) };
}

function trackerStatObject(t: TorrentInfo, tr: TrackerInfo, index: number): Record<string, unknown> {
  const running = t.state !== 'paused' && t.state !== 'error';
  // TR_TRACKER_INACTIVE 0, WAITING 1, QUEUED 2, ACTIVE 3
  const announceState = running && tr.nextAnnounceTime > 0 ? 1 : 0;
  return {
    announce: tr.url,
    announceState,
    downloadCount: -1,
    downloaderCount: -1, // 4.1's downloader_count: bitpeer does not scrape
    hasAnnounced: tr.lastAnnounceTime > 0,
    hasScraped: false,
    host: trackerHost(tr.url),
    id: index,
    isBackup: false,
    lastAnnouncePeerCount: int(tr.lastAnnouncePeerCount),
    lastAnnounceResult: tr.lastAnnounceResult,
    lastAnnounceStartTime: int(tr.lastAnnounceTime),
    lastAnnounceSucceeded: tr.lastAnnounceSucceeded,
    lastAnnounceTime: int(tr.lastAnnounceTime),
    lastAnnounceTimedOut: !tr.lastAnnounceSucceeded && /timed? ?out/i.test(tr.lastAnnounceResult),
    lastScrapeResult: '',
    lastScrapeStartTime: 0,
    lastScrapeSucceeded: false,
    lastScrapeTime: 0,
    lastScrapeTimedOut: false,
    leecherCount: int(tr.leechers),
    nextAnnounceTime: int(tr.nextAnnounceTime),
    nextScrapeTime: 0,
    scrape: scrapeUrl(tr.url),
    scrapeState: 0,
    seederCount: int(tr.seeders),
    tier: int(tr.tier),
  };
}

/**
 * The have-bitfield as base64. Uses `t.pieces` when the API gives it; otherwise a conservative estimate from the
 * files: a piece is set only when every file it touches is complete (it may under-report, never over-report).
 */
export function piecesOf(t: TorrentInfo): string {
  if (t.pieces !== undefined) return t.pieces;
  const n = t.pieceCount;
  if (!(n > 0) || !(t.pieceSize > 0)) return '';
  const bits = Buffer.alloc(Math.ceil(n / 8));
  const complete = t.files.length > 0 ? t.files.every((f) => f.bytesCompleted >= f.length) : t.leftUntilDone === 0 && t.sizeWhenDone === t.totalSize;
  if (complete) {
    for (let i = 0; i < n; i++) bits[i >> 3]! |= 0x80 >> (i & 7);
    return bits.toString('base64');
  }
  const has = new Uint8Array(n).fill(1);
  let offset = 0;
  for (const f of t.files) {
    if (f.length > 0 && f.bytesCompleted < f.length) {
      const first = Math.floor(offset / t.pieceSize);
      const last = Math.min(n - 1, Math.floor((offset + f.length - 1) / t.pieceSize));
      has.fill(0, first, last + 1);
    }
    offset += f.length;
  }
  if (t.files.length === 0) has.fill(0);
  for (let i = 0; i < n; i++) if (has[i]) bits[i >> 3]! |= 0x80 >> (i & 7);
  return bits.toString('base64');
}

/** Bytes still wanted that connected peers have: the API's value, or an estimate from the peers' progress. */
export function desiredAvailableOf(t: TorrentInfo): number {
  if (t.desiredAvailable !== undefined) return int(t.desiredAvailable);
  if (t.leftUntilDone <= 0 || t.peers.length === 0) return 0;
  let best = 0;
  for (const p of t.peers) best = Math.max(best, p.progress);
  return int(Math.min(t.leftUntilDone, best * t.sizeWhenDone));
}

/** Last activity (seconds since the epoch): the API's value, else now while data moves, else 0. */
export function activityDateOf(t: TorrentInfo, ctx: FieldContext): number {
  if (t.activityDate !== undefined) return int(t.activityDate);
  return t.downloadRate > 0 || t.uploadRate > 0 || t.state === 'checking' ? int(ctx.nowSec) : 0;
}

/**
 * `files`, with Transmission 4.1's beginPiece/endPiece (the pieces the file spans, end exclusive; an empty file spans
 * none). Takes the torrent WITH its pad files: their bytes place the others on the pieces; they are not listed.
 */
export function filesOf(t: TorrentInfo): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let offset = 0;
  for (const f of t.files) {
    const begin = t.pieceSize > 0 ? Math.floor(offset / t.pieceSize) : 0;
    const end = t.pieceSize > 0 && f.length > 0 ? Math.floor((offset + f.length - 1) / t.pieceSize) + 1 : begin;
    offset += f.length;
    if (f.padding === true) continue;
    out.push({ bytesCompleted: int(f.bytesCompleted), length: int(f.length), name: f.path, beginPiece: begin, endPiece: end });
  }
  return out;
}

/** Transmission 4.0's trackerList: announce URLs one per line, a blank line between tiers (BEP 12). */
export function trackerListOf(t: TorrentInfo): string {
  const tiers = new Map<number, string[]>();
  for (const tr of t.trackers) tiers.set(tr.tier, [...(tiers.get(tr.tier) ?? []), tr.url]);
  return [...tiers.entries()].sort((a, b) => a[0] - b[0]).map(([, urls]) => urls.join('\n')).join('\n\n');
}

/** Common file extensions' media types (Transmission 4.0's primary-mime-type; a web client picks an icon by it). */
const MIME_TYPES: ReadonlyMap<string, string> = new Map(Object.entries({
  mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm', avi: 'video/x-msvideo',
  mov: 'video/quicktime', mpg: 'video/mpeg', mpeg: 'video/mpeg', ts: 'video/mp2t', wmv: 'video/x-ms-wmv', ogv: 'video/ogg',
  mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav',
  m4a: 'audio/mp4', aac: 'audio/aac',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  txt: 'text/plain', nfo: 'text/plain', md: 'text/markdown', html: 'text/html', srt: 'application/x-subrip',
  pdf: 'application/pdf', epub: 'application/epub+zip', zip: 'application/zip', rar: 'application/vnd.rar',
  '7z': 'application/x-7z-compressed', gz: 'application/gzip', xz: 'application/x-xz', tar: 'application/x-tar',
  iso: 'application/x-iso9660-image', img: 'application/octet-stream', deb: 'application/vnd.debian.binary-package',
}));
const OCTET_STREAM = 'application/octet-stream';

/** The media type holding most of the torrent's bytes, by file extension (application/octet-stream when none). */
export function primaryMimeTypeOf(t: TorrentInfo): string {
  const bytes = new Map<string, number>();
  for (const f of t.files) {
    const base = f.path.slice(f.path.lastIndexOf('/') + 1);
    const dot = base.lastIndexOf('.');
    const type = (dot > 0 ? MIME_TYPES.get(base.slice(dot + 1).toLowerCase()) : undefined) ?? OCTET_STREAM;
    bytes.set(type, (bytes.get(type) ?? 0) + f.length);
  }
  let best = OCTET_STREAM;
  let most = -1;
  for (const [type, n] of bytes) if (n > most) { best = type; most = n; }
  return best;
}

type Getter = (t: TorrentInfo, ctx: FieldContext) => unknown;

const peersSendingToUs = (t: TorrentInfo): number => t.peers.filter(isDownloadingFrom).length;
const peersGettingFromUs = (t: TorrentInfo): number => t.peers.filter(isUploadingTo).length;
const peerLimit = (): number => DEFAULT_PEER_LIMIT_PER_TORRENT;

const GETTERS: ReadonlyMap<string, Getter> = new Map<string, Getter>([
  ['activityDate', activityDateOf],
  // Transmission 4.0's bytes_completed: each (non-pad) file's verified bytes.
  ['bytesCompleted', (t) => t.files.map((f) => int(f.bytesCompleted))],
  ['addedDate', (t) => int(t.addedDate)],
  ['bandwidthPriority', () => 0],
  ['comment', (t) => t.comment],
  ['corruptEver', (t) => int(t.corruptEver)],
  ['creator', (t) => t.creator],
  ['dateCreated', (t) => int(t.dateCreated)],
  ['desiredAvailable', desiredAvailableOf],
  ['doneDate', (t) => int(t.doneDate)],
  ['downloadDir', (t) => t.savePath],
  ['downloadedEver', (t) => int(t.downloadedEver)],
  ['downloadLimit', (t) => toKBps(t.downloadLimit)],
  ['downloadLimited', (t) => t.downloadLimit > 0],
  ['error', errorOf],
  ['errorString', (t) => t.error ?? ''],
  // -2 (TR_ETA_UNKNOWN) for a pending magnet, as Transmission answers: clients show "Unknown", not "Done".
  ['eta', (t) => (t.metadataPending === true ? -2 : Number.isFinite(t.eta) && t.eta >= 0 ? int(t.eta) : -1)],
  ['etaIdle', () => -1],
  ['file-count', (t) => t.files.length],
  ['files', filesOf],
  ['fileStats', (t) => t.files.map((f) => ({ bytesCompleted: int(f.bytesCompleted), wanted: f.wanted, priority: toTransmissionPriority(f.priority) }))],
  ['hashString', (t) => t.infoHash],
  // bitpeer's own (BEP 52; not in Transmission 3.00, whose clients never ask for them): the v2 info-hash (64 hex, ""
  // for a v1 torrent) and the meta version ("v1", "v2", "hybrid"; "" while a magnet's metadata is pending).
  ['bitpeer-hashStringV2', (t) => t.infoHashV2 ?? ''],
  ['bitpeer-metaVersion', (t) => t.metaVersion ?? ''],
  ['haveUnchecked', () => 0],
  ['haveValid', (t) => int(haveValidOf(t))],
  ['honorsSessionLimits', () => true],
  ['id', (t) => t.id],
  ['isFinished', () => false], // Transmission: stopped because a seed ratio/idle limit was reached; bitpeer has none
  ['isPrivate', (t) => t.isPrivate],
  ['isStalled', () => false],
  ['labels', () => []],
  ['leftUntilDone', (t) => int(t.leftUntilDone)],
  ['magnetLink', (t) => t.magnetLink],
  ['manualAnnounceTime', () => 0],
  ['maxConnectedPeers', peerLimit],
  // A pending magnet (no metadata yet, BEP 9) is 0 (docs/design/rpc.md); everything else has its metadata.
  ['metadataPercentComplete', (t) => (t.metadataPending === true || t.pieceCount === 0 ? 0 : 1)],
  ['name', (t) => t.name],
  ['peer-limit', peerLimit],
  ['peers', (t) => t.peers.map(peerObject)],
  ['peersConnected', (t) => int(t.peersConnected)],
  ['peersFrom', peersFrom],
  ['peersGettingFromUs', peersGettingFromUs],
  ['peersSendingToUs', peersSendingToUs],
  ['percentComplete', (t) => (t.totalSize > 0 ? haveValidOf(t) / t.totalSize : 0)],
  ['percentDone', (t) => (Number.isFinite(t.percentDone) ? t.percentDone : 0)],
  ['pieces', piecesOf],
  ['pieceCount', (t) => int(t.pieceCount)],
  ['pieceSize', (t) => int(t.pieceSize)],
  ['priorities', (t) => t.files.map((f) => toTransmissionPriority(f.priority))],
  ['primary-mime-type', primaryMimeTypeOf],
  ['queuePosition', (t) => int(t.queuePosition)],
  ['rateDownload', (t) => int(t.downloadRate)],
  ['rateUpload', (t) => int(t.uploadRate)],
  ['recheckProgress', (t) => (t.state === 'checking' && Number.isFinite(t.recheckProgress) ? t.recheckProgress : 0)],
  ['secondsDownloading', (t) => int(t.secondsDownloading)],
  ['secondsSeeding', (t) => int(t.secondsSeeding)],
  ['seedIdleLimit', () => 30],
  ['seedIdleMode', () => 2], // TR_IDLELIMIT_UNLIMITED
  ['seedRatioLimit', () => 2],
  ['seedRatioMode', () => 2], // TR_RATIOLIMIT_UNLIMITED: bitpeer seeds until told to stop
  // Transmission 4.1's sequential_download (the legacy spelling is camelCase, like the other torrent fields).
  ['sequentialDownload', (t) => t.sequentialDownload === true],
  ['sizeWhenDone', (t) => int(t.sizeWhenDone)],
  ['startDate', (t) => int(t.startDate)],
  ['status', statusOf],
  ['torrentFile', () => ''],
  ['totalSize', (t) => int(t.totalSize)],
  ['trackers', (t) => t.trackers.map(trackerObject)],
  ['trackerList', trackerListOf],
  ['trackerStats', (t) => t.trackers.map((tr, i) => trackerStatObject(t, tr, i))],
  ['uploadedEver', (t) => int(t.uploadedEver)],
  ['uploadLimit', (t) => toKBps(t.uploadLimit)],
  ['uploadLimited', (t) => t.uploadLimit > 0],
  ['uploadRatio', ratioOf],
  ['wanted', (t) => t.files.map((f) => (f.wanted ? 1 : 0))],
  ['webseeds', () => []],
  ['webseedsSendingToUs', () => 0],
]);

/** Every torrent field name we answer. */
export const TORRENT_FIELDS: readonly string[] = [...GETTERS.keys()];

/** The requested names we know, in request order, without duplicates (unknown names are skipped, as Transmission does). */
export function knownFields(requested: readonly unknown[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of requested) {
    if (typeof f === 'string' && GETTERS.has(f) && !seen.has(f)) { seen.add(f); out.push(f); }
  }
  return out;
}

/** Fields that map files onto pieces by their offsets, so they need the pads (they hide them themselves). */
const NEEDS_PADS = new Set(['pieces', 'files']);

/** One torrent as a torrent-get object with exactly `fields` (already filtered by {@link knownFields}). */
export function torrentObject(t: TorrentInfo, fields: readonly string[], ctx: FieldContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const view = userView(t);
  for (const f of fields) {
    const get = GETTERS.get(f);
    if (get) out[f] = get(NEEDS_PADS.has(f) ? t : view, ctx);
  }
  return out;
}

/** One torrent as a torrent-get "table" row (values in `fields` order). */
export function torrentRow(t: TorrentInfo, fields: readonly string[], ctx: FieldContext): unknown[] {
  const view = userView(t);
  return fields.map((f) => GETTERS.get(f)?.(NEEDS_PADS.has(f) ? t : view, ctx));
}

/** What session-get needs besides the settings. */
export interface SessionContext {
  sessionId: string;
  /** Free bytes in the download folder, -1 unknown. */
  freeSpace: number;
}

/** session-get's arguments (every key of rpc-spec 4.1). */
export function sessionObject(s: SessionSettings, ctx: SessionContext): Record<string, unknown> {
  const kbUnits = ['kB/s', 'MB/s', 'GB/s', 'TB/s'];
  return {
    'alt-speed-down': 50,
    'alt-speed-enabled': false,
    'alt-speed-time-begin': 540,
    'alt-speed-time-day': 127,
    'alt-speed-time-enabled': false,
    'alt-speed-time-end': 1020,
    'alt-speed-up': 50,
    'blocklist-enabled': false,
    'blocklist-size': 0,
    'blocklist-url': '',
    'cache-size-mb': 32,
    'config-dir': s.stateDir ?? '',
    'dht-enabled': s.dht ?? true,
    /** bitpeer's own: the DHT's bootstrap nodes (HOST:PORT). */
    'bitpeer-dht-bootstrap': s.dhtBootstrap ?? [],
    'download-dir': s.downloadDir,
    'download-dir-free-space': int(ctx.freeSpace),
    'download-queue-enabled': s.maxActiveDownloads > 0,
    'download-queue-size': int(s.maxActiveDownloads),
    encryption: toTransmissionEncryption(s.encryption ?? 'enabled'),
    'idle-seeding-limit': 30,
    'idle-seeding-limit-enabled': false,
    'incomplete-dir': '',
    'incomplete-dir-enabled': false,
    'lpd-enabled': s.lsd,
    'peer-limit-global': int(s.peerLimitGlobal ?? DEFAULT_PEER_LIMIT_GLOBAL),
    'peer-limit-per-torrent': int(s.peerLimitPerTorrent ?? DEFAULT_PEER_LIMIT_PER_TORRENT),
    'peer-port': int(s.port),
    'peer-port-random-on-start': false,
    'pex-enabled': s.pex,
    'port-forwarding-enabled': false,
    'queue-stalled-enabled': false,
    'queue-stalled-minutes': 30,
    'rename-partial-files': false,
    'rpc-version': RPC_VERSION,
    'rpc-version-minimum': RPC_VERSION_MINIMUM,
    'rpc-version-semver': RPC_VERSION_SEMVER,
    'script-torrent-done-enabled': false,
    'script-torrent-done-filename': '',
    'seed-queue-enabled': s.maxActiveSeeds > 0,
    'seed-queue-size': int(s.maxActiveSeeds),
    seedRatioLimit: 2,
    seedRatioLimited: false,
    'session-id': ctx.sessionId,
    'speed-limit-down': toKBps(s.downloadLimit),
    'speed-limit-down-enabled': s.downloadLimit > 0,
    'speed-limit-up': toKBps(s.uploadLimit),
    'speed-limit-up-enabled': s.uploadLimit > 0,
    'start-added-torrents': true,
    'trash-original-torrent-files': false,
    units: {
      'speed-units': kbUnits, 'speed-bytes': SPEED_K,
      'size-units': ['kB', 'MB', 'GB', 'TB'], 'size-bytes': 1000,
      'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'], 'memory-bytes': 1024,
    },
    'utp-enabled': s.utp ?? true,
    version: DAEMON_VERSION,
  };
}

/** Every session-get key (legacy spelling), for the name map (names.ts). */
export const SESSION_FIELDS: readonly string[] = Object.keys(sessionObject(
  { downloadDir: '/', port: 0, uploadLimit: 0, downloadLimit: 0, maxActiveDownloads: 0, maxActiveSeeds: 0, lsd: false, pex: false },
  { sessionId: '', freeSpace: 0 },
));

function statsBlock(b: SessionStats['current']): Record<string, number> {
  return {
    uploadedBytes: int(b.uploadedBytes), downloadedBytes: int(b.downloadedBytes), filesAdded: 0,
    sessionCount: int(b.sessionCount), secondsActive: int(b.secondsActive),
  };
}

/** session-stats' arguments. */
export function sessionStatsObject(s: SessionStats): Record<string, unknown> {
  return {
    activeTorrentCount: int(s.activeTorrentCount),
    downloadSpeed: int(s.downloadSpeed),
    pausedTorrentCount: int(s.pausedTorrentCount),
    torrentCount: int(s.torrentCount),
    uploadSpeed: int(s.uploadSpeed),
    'cumulative-stats': statsBlock(s.cumulative),
    'current-stats': statsBlock(s.current),
    /** bitpeer's own: the DHT's figures (src/discovery/dht/types.ts DhtStats), null while it is off. */
    'bitpeer-dht': s.dht ?? null,
  };
}
