/**
 * The resume file of one torrent: a bencoded dictionary (BEP 3 bencoding; the peers use the BEP 23 / BEP 7 compact
 * forms). Pure: no I/O, no clock.
 *
 * Invariants:
 * - `decodeResume` never trusts its input beyond validation: size, depth and token limits are applied before and
 *   while decoding; every field is type- and range-checked; the info-hash, the bitfield length (spare bits zero) and
 *   the per-file list lengths must match what the caller expects; unknown keys are refused. Any failure is a
 *   BtError('BAD_RESUME'), so a caller can always fall back to a recheck.
 * - `encodeResume` output is canonical bencode that `decodeResume` accepts (for the same expectations) and that
 *   decodes to an equal `ResumeData`.
 * - The bitfield means "verified AND durably written" (reliability rule 9 in docs/design/reliability.md: may
 *   under-report, never over-report); the codec does not enforce that, the writer of the snapshot does.
 *
 * Format (version 1), keys in canonical order:
 * ```
 * added_at i<ms>  completed_at i<ms>?  download_limit i<B/s, 0 = none>  downloaded i<bytes>  error <utf-8>?
 * files l( d e  |  d 5:mtime <ms as decimal text> 4:size i<bytes> e )*   (one per file; `de` = file was missing)
 * id i<1..2^31-1>?  (the torrent's session id, kept across restarts; files written before it existed lack it)
 * info_hash <20 bytes>  paused i0|i1  peers l(<6 or 18 bytes: address + port>)*  pieces <bitfield bytes>
 * priorities l(i-1|i0|i1)*  queue_position i<n>  save_path <utf-8>  upload_limit i<B/s>  uploaded i<bytes>
 * version i1  wanted l(i0|i1)*
 * piece_layers l( l <32-byte pieces root> <layer: 32 bytes per piece of that file> e )*   (BEP 52, optional)
 * sequential i0|i1   (optional: sequential download; absent = off)
 * ```
 * `piece_layers` holds the v2 piece layers fetched from peers (a magnet's metadata has none), so a restart does not
 * fetch them again. Bounded here (at most one entry per file, whole 32-byte hashes, at most 32 bytes per piece in
 * all); the torrent checks each layer against its file's pieces root before using it.
 * `mtime` is text so that the float `mtimeMs` (microsecond resolution, see fast-resume.ts) round-trips exactly.
 */
import { decode, encode, type BDict, type BValue } from '../bencode/index.js';
import { Bitfield } from '../util/bitfield.js';
import { BtError } from '../util/errors.js';
import { bytesToIp, ipToBytes } from '../tracker/address.js';
import { formatPeerAddress as formatHostPort, tryParsePeerAddress } from '../util/peer-address.js';

/** The resume format version this code writes and reads. */
export const RESUME_VERSION = 1;
/** At most this many peers are kept in a resume file. */
export const MAX_RESUME_PEERS = 200;
/** Cap on the save path and the error text, in UTF-8 bytes. */
export const MAX_RESUME_TEXT = 4096;
/** Base size cap of a resume file (the bitfield and a per-file allowance come on top). */
export const MAX_RESUME_BASE_SIZE = 16 * 1024 * 1024;
/** Per-file allowance on top of the base cap (a file entry, its wanted flag and priority take ~60 bytes). */
export const RESUME_BYTES_PER_FILE = 64;
/** Nesting limit when decoding (the format needs 3). */
export const RESUME_MAX_DEPTH = 8;

/** Size and modification time of a file as observed on disk (`fs.Stats`-like; see fast-resume.ts). */
export interface FileStamp {
  /** Bytes. */
  size: number;
  /** Modification time in ms since the epoch, microsecond resolution. */
  mtimeMs: number;
}

/** Download priority of a file: -1 low, 0 normal, 1 high. */
export type FilePriority = -1 | 0 | 1;

/** The persisted state of one torrent. */
export interface ResumeData {
  version: 1;
  /** 20 bytes. */
  infoHash: Buffer;
  /** The folder that holds the torrent's data (the folder that contains the torrent's name). */
  savePath: string;
  paused: boolean;
  /** Position in the session's queue, 0 first. */
  queuePosition: number;
  /** When the torrent was added, ms since the epoch. */
  addedAt: number;
  /** When it completed, ms since the epoch. */
  completedAt?: number;
  /** Totals in bytes. */
  uploaded: number;
  downloaded: number;
  /** Pieces verified AND durably written (never more). Length = the torrent's piece count. */
  pieces: Bitfield;
  /** Per file, in torrent order: what was on disk when `pieces` was recorded (null: the file did not exist). */
  files: Array<FileStamp | null>;
  /** Per file: whether the user wants it downloaded. */
  wanted: boolean[];
  /** Per file: -1 | 0 | 1. */
  priorities: FilePriority[];
  /** Known peers, `host:port` (`[v6]:port` for IPv6), IP addresses only, at most MAX_RESUME_PEERS. */
  peers: string[];
  /** Bytes per second, 0 = unlimited. */
  uploadLimit: number;
  downloadLimit: number;
  /** Why the torrent is in the error state, if it is. */
  error?: string;
  /** The torrent's id in the daemon (RPC `id`), 1..MAX_TORRENT_ID; absent in files written before ids were kept. */
  id?: number;
  /** BEP 52 piece layers fetched from peers: pieces root (hex) → layer. Unverified here (the torrent checks them). */
  pieceLayers?: Map<string, Buffer>;
  /** Sequential download on (absent: off). */
  sequential?: boolean;
}

/** Largest torrent id (Transmission's ids are 32-bit signed integers). */
export const MAX_TORRENT_ID = 0x7fffffff;

/** What the caller knows independently of the file, and checks it against. */
export interface ResumeExpectation {
  infoHash: Buffer;
  pieceCount: number;
  fileCount: number;
}

/**
 * Parse `host:port` / `[v6]:port` (src/util/peer-address.ts, IP literals only) into address bytes and port; null if it
 * is not an IP address with a port 1..65535.
 */
export function parsePeerAddress(s: string): { ip: Buffer; port: number } | null {
  const a = tryParsePeerAddress(s, { ipOnly: true });
  const ip = a ? ipToBytes(a.host) : null;
  return a && ip ? { ip, port: a.port } : null;
}

/** Text of address bytes and a port, `a.b.c.d:p` or `[v6]:p` (src/util/peer-address.ts's format). */
export function formatPeerAddress(ip: Uint8Array, port: number): string {
  return formatHostPort(bytesToIp(ip), port);
}

/** Compact form: 4 or 16 address bytes followed by the port, big-endian. */
function compactPeer(s: string): Buffer | null {
  const p = parsePeerAddress(s);
  if (!p) return null;
  const out = Buffer.alloc(p.ip.length + 2);
  p.ip.copy(out, 0);
  out.writeUInt16BE(p.port, p.ip.length);
  return out;
}

function assertEncodable(cond: boolean, what: string): asserts cond {
  if (!cond) throw new RangeError(`encodeResume: ${what}`);
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Decimal text of a finite mtime (shortest round-trip form, as JS prints numbers). */
function mtimeText(ms: number): string {
  return String(ms);
}

const MTIME_RE = /^-?\d{1,16}(\.\d{1,20})?$/;

/**
 * Encode resume data. Peers that are not `ip:port` are dropped, duplicates removed, and at most MAX_RESUME_PEERS
 * kept (the first ones).
 * @throws RangeError when `r` is inconsistent (lengths, ranges, types): a programming error.
 */
export function encodeResume(r: ResumeData): Buffer {
  const n = r.files.length;
  assertEncodable(r.version === RESUME_VERSION, `version must be ${RESUME_VERSION}`);
  assertEncodable(Buffer.isBuffer(r.infoHash) && r.infoHash.length === 20, 'infoHash must be 20 bytes');
  assertEncodable(r.pieces instanceof Bitfield, 'pieces must be a Bitfield');
  assertEncodable(r.wanted.length === n && r.priorities.length === n, 'files, wanted and priorities differ in length');
  assertEncodable(r.priorities.every((p) => p === -1 || p === 0 || p === 1), 'priority must be -1, 0 or 1');
  assertEncodable(checkText(r.savePath, false) === null, `savePath: ${checkText(r.savePath, false) ?? ''}`);
  assertEncodable(r.error === undefined || checkText(r.error, true) === null, 'error text');
  for (const [k, v] of [['queuePosition', r.queuePosition], ['addedAt', r.addedAt], ['uploaded', r.uploaded],
    ['downloaded', r.downloaded], ['uploadLimit', r.uploadLimit], ['downloadLimit', r.downloadLimit]] as const) {
    assertEncodable(isCount(v), `${k} must be a non-negative safe integer`);
  }
  assertEncodable(r.completedAt === undefined || isCount(r.completedAt), 'completedAt must be a non-negative safe integer');
  assertEncodable(r.id === undefined || (isCount(r.id) && r.id >= 1 && r.id <= MAX_TORRENT_ID), 'id must be 1..2^31-1');
  const layers = r.pieceLayers && r.pieceLayers.size > 0 ? [...r.pieceLayers].map(([root, layer]) => {
    assertEncodable(/^[0-9a-f]{64}$/.test(root) && layer.length > 0 && layer.length % 32 === 0, 'piece layer');
    return [Buffer.from(root, 'hex'), layer];
  }) : undefined;
  // A stamp that cannot be written exactly is written as "missing": on the next start the file then counts as
  // changed and its pieces are rechecked, which is safe.
  const files = r.files.map((f) => {
    if (f === null || !isCount(f.size) || !Number.isFinite(f.mtimeMs) || !MTIME_RE.test(mtimeText(f.mtimeMs))) {
      return new Map<string, never>();
    }
    return { mtime: mtimeText(f.mtimeMs), size: f.size };
  });
  const peers: Buffer[] = [];
  const seen = new Set<string>();
  for (const p of r.peers) {
    if (peers.length >= MAX_RESUME_PEERS) break;
    const c = compactPeer(p);
    if (!c) continue;
    const key = c.toString('latin1');
    if (seen.has(key)) continue;
    seen.add(key);
    peers.push(c);
  }
  return encode({
    version: RESUME_VERSION,
    info_hash: r.infoHash,
    save_path: r.savePath,
    paused: r.paused ? 1 : 0,
    queue_position: r.queuePosition,
    added_at: r.addedAt,
    completed_at: r.completedAt,
    uploaded: r.uploaded,
    downloaded: r.downloaded,
    pieces: r.pieces.bytes,
    files,
    wanted: r.wanted.map((w) => (w ? 1 : 0)),
    priorities: r.priorities,
    peers,
    upload_limit: r.uploadLimit,
    download_limit: r.downloadLimit,
    error: r.error,
    id: r.id,
    piece_layers: layers,
    sequential: r.sequential ? 1 : undefined,
  });
}

/** Why `s` is not acceptable as stored text, or null. */
function checkText(s: unknown, allowEmpty: boolean): string | null {
  if (typeof s !== 'string') return 'not a string';
  if (!allowEmpty && s.length === 0) return 'empty';
  if (s.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(s, 'utf8') > MAX_RESUME_TEXT) return `longer than ${MAX_RESUME_TEXT} bytes`;
  return null;
}

/** Largest resume file accepted for a torrent of this geometry. */
export function maxResumeSize(pieceCount: number, fileCount: number): number {
  // Piece layers: at most one 32-byte hash per piece, plus a root and framing per file.
  return MAX_RESUME_BASE_SIZE + Math.ceil(pieceCount / 8) + RESUME_BYTES_PER_FILE * fileCount + 32 * pieceCount + 48 * fileCount;
}

const KNOWN_KEYS = new Set(['added_at', 'completed_at', 'download_limit', 'downloaded', 'error', 'files', 'id', 'info_hash',
  'paused', 'peers', 'piece_layers', 'pieces', 'priorities', 'queue_position', 'save_path', 'sequential', 'upload_limit',
  'uploaded', 'version', 'wanted']);

function bad(what: string, cause?: unknown): never {
  throw new BtError('BAD_RESUME', `bad resume data: ${what}`, cause === undefined ? undefined : { cause });
}

function reqInt(d: BDict, key: string): number {
  const v = d.get(key);
  if (typeof v !== 'number') bad(`${key}: ${v === undefined ? 'missing' : 'not an integer'}`);
  return v;
}

function reqCount(d: BDict, key: string): number {
  const v = reqInt(d, key);
  if (v < 0) bad(`${key}: negative`);
  return v;
}

function reqBytes(d: BDict, key: string): Buffer {
  const v = d.get(key);
  if (!Buffer.isBuffer(v)) bad(`${key}: ${v === undefined ? 'missing' : 'not a byte string'}`);
  return v;
}

function reqList(d: BDict, key: string, length?: number): BValue[] {
  const v = d.get(key);
  if (!Array.isArray(v)) bad(`${key}: ${v === undefined ? 'missing' : 'not a list'}`);
  if (length !== undefined && v.length !== length) bad(`${key}: ${v.length} entries, expected ${length}`);
  return v;
}

/** Strict UTF-8 text: must round-trip, no NUL, bounded. */
function reqText(d: BDict, key: string, allowEmpty: boolean): string {
  const b = reqBytes(d, key);
  const s = b.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(b)) bad(`${key}: not valid UTF-8`);
  const why = checkText(s, allowEmpty);
  if (why) bad(`${key}: ${why}`);
  return s;
}

function decodeFile(v: BValue, i: number): FileStamp | null {
  if (!(v instanceof Map)) bad(`files[${i}]: not a dictionary`);
  if (v.size === 0) return null;
  for (const k of v.keys()) if (k !== 'size' && k !== 'mtime') bad(`files[${i}]: unknown key ${JSON.stringify(k)}`);
  const size = reqCount(v, 'size');
  const text = reqBytes(v, 'mtime').toString('latin1');
  if (!MTIME_RE.test(text)) bad(`files[${i}].mtime: not a decimal number`);
  const mtimeMs = Number(text);
  if (!Number.isFinite(mtimeMs)) bad(`files[${i}].mtime: out of range`);
  return { size, mtimeMs };
}

/**
 * Decode and validate a resume file against what the caller knows.
 * @throws BtError('BAD_RESUME') on anything malformed or inconsistent (truncated or garbage bytes, wrong version,
 *   wrong info-hash, wrong bitfield length, spare bits set, wrong file count, bad types or ranges, unknown keys).
 */
export function decodeResume(buf: Uint8Array, expected: ResumeExpectation): ResumeData {
  const { pieceCount, fileCount } = expected;
  if (!isCount(pieceCount) || !isCount(fileCount) || expected.infoHash.length !== 20) {
    throw new RangeError('decodeResume: bad expectation');
  }
  const limit = maxResumeSize(pieceCount, fileCount);
  if (buf.length > limit) bad(`${buf.length} bytes, more than the limit of ${limit}`);
  const bitfieldBytes = Math.ceil(pieceCount / 8);
  let root: BValue;
  try {
    root = decode(Buffer.from(buf.buffer, buf.byteOffset, buf.length), {
      maxDepth: RESUME_MAX_DEPTH,
      maxTokens: 512 + 12 * fileCount + 2 * MAX_RESUME_PEERS,
      leadingZeros: 'error',
      keyOrder: 'error',
      maxStringLength: Math.max(MAX_RESUME_TEXT, bitfieldBytes, 32 * pieceCount),
    }).value;
  } catch (e) {
    bad(e instanceof Error ? e.message : String(e), e);
  }
  if (!(root instanceof Map)) bad('not a dictionary');
  for (const k of root.keys()) if (!KNOWN_KEYS.has(k)) bad(`unknown key ${JSON.stringify(k)}`);

  const version = reqInt(root, 'version');
  if (version !== RESUME_VERSION) bad(`unsupported version ${version}`);
  const infoHash = reqBytes(root, 'info_hash');
  if (infoHash.length !== 20) bad(`info_hash: ${infoHash.length} bytes`);
  if (!infoHash.equals(expected.infoHash)) bad('info_hash: belongs to another torrent');

  const pieceBytes = reqBytes(root, 'pieces');
  if (pieceBytes.length !== bitfieldBytes) bad(`pieces: ${pieceBytes.length} bytes, expected ${bitfieldBytes}`);
  const spare = bitfieldBytes * 8 - pieceCount;
  if (spare > 0 && (pieceBytes[bitfieldBytes - 1]! & ((1 << spare) - 1)) !== 0) bad('pieces: spare bits set');
  const pieces = new Bitfield(pieceCount, pieceBytes);

  const files = reqList(root, 'files', fileCount).map(decodeFile);
  const wanted = reqList(root, 'wanted', fileCount).map((v, i) => {
    if (v !== 0 && v !== 1) bad(`wanted[${i}]: not 0 or 1`);
    return v === 1;
  });
  const priorities = reqList(root, 'priorities', fileCount).map((v, i): FilePriority => {
    if (v !== -1 && v !== 0 && v !== 1) bad(`priorities[${i}]: not -1, 0 or 1`);
    return v;
  });
  const peerList = reqList(root, 'peers');
  if (peerList.length > MAX_RESUME_PEERS) bad(`peers: more than ${MAX_RESUME_PEERS}`);
  const peers = peerList.map((v, i) => {
    if (!Buffer.isBuffer(v) || (v.length !== 6 && v.length !== 18)) bad(`peers[${i}]: not a 6- or 18-byte address`);
    const port = v.readUInt16BE(v.length - 2);
    if (port === 0) bad(`peers[${i}]: port 0`);
    return formatPeerAddress(v.subarray(0, v.length - 2), port);
  });

  const paused = reqInt(root, 'paused');
  if (paused !== 0 && paused !== 1) bad('paused: not 0 or 1');
  const out: ResumeData = {
    version: RESUME_VERSION,
    infoHash: Buffer.from(infoHash),
    savePath: reqText(root, 'save_path', false),
    paused: paused === 1,
    queuePosition: reqCount(root, 'queue_position'),
    addedAt: reqCount(root, 'added_at'),
    uploaded: reqCount(root, 'uploaded'),
    downloaded: reqCount(root, 'downloaded'),
    pieces,
    files,
    wanted,
    priorities,
    peers,
    uploadLimit: reqCount(root, 'upload_limit'),
    downloadLimit: reqCount(root, 'download_limit'),
  };
  if (root.has('completed_at')) out.completedAt = reqCount(root, 'completed_at');
  if (root.has('error')) out.error = reqText(root, 'error', true);
  if (root.has('piece_layers')) out.pieceLayers = decodeLayers(reqList(root, 'piece_layers'), pieceCount, fileCount);
  if (root.has('sequential')) {
    const q = reqInt(root, 'sequential');
    if (q !== 0 && q !== 1) bad('sequential: not 0 or 1');
    out.sequential = q === 1;
  }
  if (root.has('id')) {
    const id = reqInt(root, 'id');
    if (id < 1 || id > MAX_TORRENT_ID) bad('id: out of range');
    out.id = id;
  }
  return out;
}

/** `piece_layers`: [root, layer] pairs, at most one per file, whole hashes, at most one hash per piece in all. */
function decodeLayers(list: BValue[], pieceCount: number, fileCount: number): Map<string, Buffer> {
  if (list.length > fileCount) bad(`piece_layers: ${list.length} entries for ${fileCount} files`);
  const out = new Map<string, Buffer>();
  let hashes = 0;
  list.forEach((e, i) => {
    if (!Array.isArray(e) || e.length !== 2 || !Buffer.isBuffer(e[0]) || !Buffer.isBuffer(e[1])) bad(`piece_layers[${i}]: not [root, layer]`);
    const [root, layer] = e as [Buffer, Buffer];
    if (root.length !== 32) bad(`piece_layers[${i}]: root of ${root.length} bytes`);
    if (layer.length === 0 || layer.length % 32 !== 0) bad(`piece_layers[${i}]: ${layer.length} bytes is not whole hashes`);
    hashes += layer.length / 32;
    if (hashes > pieceCount) bad(`piece_layers: more hashes than the torrent's ${pieceCount} pieces`);
    const key = root.toString('hex');
    if (out.has(key)) bad(`piece_layers[${i}]: duplicate root`);
    out.set(key, Buffer.from(layer));
  });
  return out;
}
