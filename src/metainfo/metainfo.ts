/**
 * Parse and validate .torrent files: v1 (BEP 3), v2 and hybrid (BEP 52); BEP 12 announce-list; BEP 27 private;
 * BEP 47 pad files and file attributes.
 *
 * Policy: accept and refuse exactly what libtorrent 2.0's `torrent_info` does, and name files as it names them
 * (docs/design/metainfo.md has the table; test/interop/metainfo-differential.test.ts checks it against
 * python3-libtorrent). Paths are sanitised, never refused (paths.ts `sanitizeElement`); duplicates are renamed
 * (paths.ts `resolveDuplicatePaths`); the v2 file tree, synthetic pads and piece layers are in v2-parse.ts.
 *
 * Invariants of a returned `Metainfo` (see types.ts): the info-hashes are SHA-1 / SHA-256 of the RAW info-dict bytes
 * (never of a re-encoding, reliability rule 3 in docs/design/reliability.md); every path component passes
 * `isSafeComponent`, so `resolveInside` accepts it; the geometry is exact: `pieceCount === ceil(totalLength /
 * pieceLength)`, `pieceHashes.length === 20 * pieceCount` (0 for v2-only), all lengths are safe integers.
 *
 * Decisions:
 * - Bencode is decoded in .torrent mode: leading zeros, unsorted and duplicate keys are soft errors (first duplicate
 *   wins) — except in the info dict of a `meta version` 2 torrent, which must be canonical (as libtorrent requires);
 *   depth ≤ 100, tokens ≤ 3 M; bytes after the final `e` are ignored with a soft error (libtorrent ignores them).
 * - `name.utf-8` / `path.utf-8` are preferred over `name` / `path` when present (as libtorrent does).
 * - Refused, as libtorrent refuses: missing/negative/non-integer lengths, a missing or non-positive piece length, a
 *   v2 piece length that is not a power of two ≥ 16 KiB, missing or wrong-sized `pieces`, no files, total 0, too
 *   many pieces, a file without a path (pad files excepted), a v2 file without a valid `pieces root`, a malformed
 *   `piece layers`, hybrid parts that disagree, an unknown meta version.
 * - Limits: .torrent ≤ 10 MiB (option), piece length ≤ 32767 × 16 KiB (stricter than libtorrent's 1 GiB, a memory
 *   bound), pieces ≤ 2^21, file and total lengths ≤ 2^48 − 1.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { decode } from '../bencode/decode.js';
import { encode } from '../bencode/encode.js';
import type { BDict, BValue } from '../bencode/types.js';
import { BtError, isBtError } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import { resolveDuplicatePaths, sanitizeElement } from './paths.js';
import { fileAttrs, hybridMismatch, layoutV2, parseFileTree, parsePieceLayers, removeTailPadding, symlinkComponents } from './v2-parse.js';
import type { FileAttrs } from './v2-parse.js';
import type { Metainfo, TorrentFile } from './types.js';

export type { Metainfo, TorrentFile, FileSpan } from './types.js';
export { pieceSize, pieceHash, pieceSpans, filePieceRange } from './geometry.js';

/** Default cap on the size of a .torrent file (libtorrent: 10 MB). */
export const MAX_TORRENT_SIZE = 10 * 1024 * 1024;
/** Largest accepted piece length: 32767 blocks of 16 KiB (libtorrent's limit, about 512 MiB). */
export const MAX_PIECE_LENGTH = 32767 * BLOCK_SIZE;
/** Most pieces in one torrent (libtorrent `max_pieces`). */
export const MAX_PIECES = 2 ** 21;
/** Largest file or total length (libtorrent: 2^48 − 1; exact in a JS number). */
export const MAX_TOTAL_LENGTH = 2 ** 48 - 1;

/** Options for {@link parseTorrent}. */
export interface ParseOptions {
  /** Largest accepted input in bytes (default {@link MAX_TORRENT_SIZE}). */
  maxSize?: number;
}

function badTorrent(msg: string, cause?: unknown): never {
  throw new BtError('BAD_TORRENT', `invalid torrent: ${msg}`, cause === undefined ? undefined : { cause });
}

/** Decodes bytes as UTF-8, noting (not failing on) invalid sequences. */
function text(buf: Buffer, field: string, soft: string[]): string {
  if (!isUtf8(buf)) soft.push(`${field} is not valid UTF-8; invalid bytes replaced with U+FFFD`);
  return buf.toString('utf8');
}

function describe(v: BValue | undefined): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return 'an integer';
  if (Buffer.isBuffer(v)) return 'a string';
  if (Array.isArray(v)) return 'a list';
  return 'a dictionary';
}

/** Reads one v1 file length as libtorrent does (a symlink has length 0 whatever it says). */
function v1Length(d: BDict, symlink: boolean, field: string): number {
  if (symlink) return 0;
  const v = d.get('length');
  if (typeof v !== 'number') badTorrent(`${field}.length must be an integer (it is ${describe(v)})`);
  if (v < 0) badTorrent(`${field}.length is negative (${v})`);
  if (v > MAX_TOTAL_LENGTH || Math.floor(v / BLOCK_SIZE) >= Math.floor(0x7fffffff / 2)) badTorrent(`${field}.length is too large (${v} > 2^48 - 1)`);
  return v;
}

/** BEP 47 attributes, `sha1` and `symlink path` of a v1 file dict onto `file` (libtorrent extract_single_file). */
function v1Extras(d: BDict, file: TorrentFile, attrs: FileAttrs, field: string): void {
  if (file.path.some((c) => c.includes('_____padding_file_'))) file.padding = true;
  if (attrs.padding) file.padding = true;
  if (attrs.executable) file.executable = true;
  if (attrs.hidden) file.hidden = true;
  const sha1 = d.get('sha1');
  if (Buffer.isBuffer(sha1) && sha1.length === 20) file.sha1 = sha1;
  if (attrs.symlink) {
    const target = symlinkComponents(d, field);
    if (target !== undefined) file.symlinkTarget = target;
  }
}

/**
 * One entry of a v1 `files` list (libtorrent extract_single_file): `path.utf-8` is preferred when it is a list;
 * each element is sanitised (sanitizeElement); a path that sanitises to nothing becomes `name/_`; a pad file may
 * have no path (it becomes `.pad/<length>`); any other file without a path makes the torrent invalid.
 */
function v1File(fd: BValue, name: string, offset: number, field: string): TorrentFile {
  if (!(fd instanceof Map)) badTorrent(`${field} must be a dictionary (it is ${describe(fd)})`);
  const attrs = fileAttrs(fd);
  const length = v1Length(fd, attrs.symlink, field);
  let list = fd.get('path.utf-8');
  let pf = `${field}.path.utf-8`;
  if (!Array.isArray(list)) { list = fd.get('path'); pf = `${field}.path`; }
  let path: string[];
  if (Array.isArray(list) && list.length > 0) {
    path = [name];
    list.forEach((e, i) => {
      if (!Buffer.isBuffer(e)) badTorrent(`${pf}[${i}] must be a string (it is ${describe(e)})`);
      const c = sanitizeElement(e);
      if (c !== undefined) path.push(c);
    });
    if (path.length === 1) path.push('_');
  } else if (attrs.padding) {
    path = [name, '.pad', String(length)];
  } else {
    badTorrent(list === undefined ? `${field}.path is missing` : `${field}.path must be a non-empty list of strings (it is ${describe(list)})`);
  }
  const file: TorrentFile = { path, relPath: path.join('/'), length, offset };
  v1Extras(fd, file, attrs, field);
  return file;
}

function parseTrackers(top: BDict, soft: string[]): { announce: string | undefined; announceList: string[][] } {
  let announce: string | undefined;
  const a = top.get('announce');
  if (Buffer.isBuffer(a)) announce = text(a, 'announce', soft).trim() || undefined;
  else if (a !== undefined) soft.push(`announce is ${describe(a)}, ignored`);

  const announceList: string[][] = [];
  const raw = top.get('announce-list');
  if (raw === undefined) return { announce, announceList };
  if (!Array.isArray(raw)) {
    soft.push(`announce-list is ${describe(raw)}, ignored`);
    return { announce, announceList };
  }
  const seen = new Set<string>();
  raw.forEach((tier, t) => {
    let urls: BValue[];
    if (Buffer.isBuffer(tier)) {
      soft.push(`announce-list[${t}] is a string, not a list; taken as a tier of one`);
      urls = [tier];
    } else if (Array.isArray(tier)) {
      urls = tier;
    } else {
      soft.push(`announce-list[${t}] is ${describe(tier)}, ignored`);
      return;
    }
    const out: string[] = [];
    urls.forEach((u, i) => {
      if (!Buffer.isBuffer(u)) { soft.push(`announce-list[${t}][${i}] is ${describe(u)}, ignored`); return; }
      const url = text(u, `announce-list[${t}][${i}]`, soft).trim();
      if (url === '' || seen.has(url)) return;
      seen.add(url);
      out.push(url);
    });
    if (out.length > 0) announceList.push(out);
  });
  return { announce, announceList };
}

/** The preferred name string: `name.utf-8` when it is a string, else `name` (libtorrent's order). */
function nameBytes(info: BDict): Buffer | undefined {
  const u = info.get('name.utf-8');
  if (Buffer.isBuffer(u)) return u;
  const n = info.get('name');
  return Buffer.isBuffer(n) ? n : undefined;
}

/** Notes non-UTF-8 text that sanitizing replaced with `_`. */
function noteEncoding(buf: Buffer, field: string, soft: string[]): void {
  if (!isUtf8(buf)) soft.push(`${field} is not valid UTF-8; invalid bytes replaced with "_"`);
}

/**
 * Parse and validate a .torrent file: v1, v2 (`meta version` 2) or hybrid. Accepts and refuses exactly what
 * libtorrent 2.0's `torrent_info` does (docs/design/metainfo.md has the table), with paths sanitised its way.
 * @throws BtError 'BAD_TORRENT' (the message names the field)
 */
export function parseTorrent(input: Uint8Array, opts: ParseOptions = {}): Metainfo {
  const maxSize = opts.maxSize ?? MAX_TORRENT_SIZE;
  if (input.length > maxSize) badTorrent(`file is too large (${input.length} bytes; the limit is ${maxSize})`);
  // Private copy: the returned Buffers are views of it, so the caller may reuse its buffer.
  const buf = Buffer.from(input);

  let decoded;
  try {
    decoded = decode(buf, { leadingZeros: 'soft', keyOrder: 'soft', maxDepth: 100, maxTokens: 3_000_000, allowTrailing: true });
  } catch (e) {
    if (isBtError(e, 'BENCODE')) badTorrent(e.message, e);
    throw e;
  }
  const soft = [...decoded.softErrors];
  const top = decoded.value;
  if (!(top instanceof Map)) badTorrent(`the file is ${describe(top)}, not a bencoded dictionary`);
  const end = decoded.spanOf(top)![1];
  if (end < buf.length) soft.push(`trailing data (${buf.length - end} bytes) after the torrent's final "e"; ignored`);

  const info = top.get('info');
  if (info === undefined) badTorrent('info dictionary is missing');
  if (!(info instanceof Map)) badTorrent(`info must be a dictionary (it is ${describe(info)})`);
  const span = decoded.spanOf(info)!;
  const infoBytes = buf.subarray(span[0], span[1]);
  const sha1 = createHash('sha1').update(infoBytes).digest();

  // meta version (libtorrent: an integer > 0 requires canonical bencoding of the info dict; > 2 is unknown).
  const mv = info.get('meta version');
  const version = typeof mv === 'number' ? mv : -1;
  if (version > 0) {
    try {
      decode(infoBytes, { leadingZeros: 'error', keyOrder: 'error', maxDepth: 100, maxTokens: 3_000_000 });
    } catch (e) {
      if (isBtError(e, 'BENCODE')) badTorrent(`info of a meta version ${version} torrent is not canonical bencoding: ${e.message}`, e);
      throw e;
    }
    if (version > 2) badTorrent(`unknown meta version ${version}`);
  }
  const v2 = version === 2;

  // Piece length.
  const pl = info.get('piece length');
  if (typeof pl !== 'number') badTorrent(`info.piece length must be an integer (it is ${describe(pl)})`);
  if (pl <= 0) badTorrent(`info.piece length must be positive (it is ${pl})`);
  if (pl > MAX_PIECE_LENGTH) badTorrent(`info.piece length ${pl} exceeds the limit of ${MAX_PIECE_LENGTH}`);
  if (v2 && (pl < BLOCK_SIZE || (pl & (pl - 1)) !== 0)) badTorrent(`info.piece length ${pl} of a v2 torrent is not a power of two ≥ 16 KiB`);

  // Name: sanitised; one that sanitises to nothing (`..`, `/`) becomes the hex SHA-1 of the info dict (libtorrent).
  const nb = nameBytes(info);
  if (nb === undefined) {
    const n = info.get('name');
    badTorrent(n === undefined ? 'info.name is missing' : `info.name must be a string (it is ${describe(n)})`);
  }
  noteEncoding(nb, 'info.name', soft);
  let name = sanitizeElement(nb) ?? sha1.toString('hex');
  if (nb.length > 0 && sanitizeElement(nb) !== nb.toString('utf8')) soft.push(`info.name ${JSON.stringify(nb.toString('utf8'))} sanitised to ${JSON.stringify(name)}`);

  // v2 file tree.
  const filesRaw = info.get('files');
  const hasFilesList = Array.isArray(filesRaw);
  const treeRaw = info.get('file tree');
  let v2Files: TorrentFile[] | undefined;
  let single = false;
  if (v2) {
    if (!(treeRaw instanceof Map)) badTorrent('info.file tree is missing (meta version 2)');
    const tree = parseFileTree(treeRaw, name, hasFilesList);
    single = tree.single;
    if (single) name = tree.files[0]!.path[0]!;
    v2Files = layoutV2(tree.files, pl, single ? undefined : name);
  } else if (treeRaw instanceof Map) {
    badTorrent('info has a file tree but no meta version 2');
  }

  // v1 files (the whole torrent for v1; the v1 half of a hybrid).
  let v1Files: TorrentFile[] | undefined;
  if (filesRaw !== undefined && !hasFilesList) soft.push(`info.files is ${describe(filesRaw)}, not a list; ignored`);
  if (hasFilesList) {
    if (info.has('length')) soft.push('info has both length and files; length ignored');
    v1Files = [];
    let total = 0;
    for (let i = 0; i < filesRaw.length; i++) {
      const file = v1File(filesRaw[i]!, name, total, `info.files[${i}]`);
      v1Files.push(file);
      total += file.length;
      if (total > MAX_TOTAL_LENGTH) badTorrent(`total length exceeds 2^48 - 1 at info.files[${i}]`);
    }
  } else if (!v2 || info.has('length')) {
    if (nb.length === 0) badTorrent('info.name is empty');
    const own = sanitizeElement(nb);
    if (own === undefined) badTorrent(`info.name ${JSON.stringify(nb.toString('utf8'))} is not a usable file name`);
    const attrs = fileAttrs(info);
    const length = v1Length(info, attrs.symlink, 'info');
    const file: TorrentFile = { path: [own], relPath: own, length, offset: 0 };
    v1Extras(info, file, attrs, 'info');
    v1Files = [file];
    if (!v2) name = own;
  }

  let files: TorrentFile[];
  let metaVersion: Metainfo['version'];
  if (v2Files === undefined) {
    files = v1Files!;
    metaVersion = 'v1';
  } else if (v1Files === undefined) {
    files = v2Files;
    metaVersion = 'v2';
  } else {
    files = v2Files.length === v1Files.length + 1 ? removeTailPadding(v2Files) : v2Files;
    const why = v1Files.length > 0 ? hybridMismatch(files, v1Files) : undefined;
    if (why !== undefined) badTorrent(`the v1 and v2 parts of this hybrid torrent disagree: ${why}`);
    metaVersion = 'hybrid';
  }
  if (files.length === 0) badTorrent(hasFilesList ? 'info.files is empty' : 'the torrent has no files');
  const last = files[files.length - 1]!;
  const total = last.offset + last.length;

  const pieceCount = Math.ceil(total / pl);
  if (pieceCount > MAX_PIECES) badTorrent(`the torrent has ${pieceCount} pieces; the limit is ${MAX_PIECES}`);
  let pieceHashes: Buffer = Buffer.alloc(0);
  const pieces = info.get('pieces');
  if (!Buffer.isBuffer(pieces)) {
    if (metaVersion !== 'v2') badTorrent(pieces === undefined ? 'info.pieces is missing' : `info.pieces must be a string (it is ${describe(pieces)})`);
  } else {
    if (pieces.length % 20 !== 0) badTorrent(`info.pieces length ${pieces.length} is not a multiple of 20`);
    if (pieces.length !== pieceCount * 20) {
      badTorrent(`info.pieces holds ${pieces.length / 20} hashes but ${total} bytes in pieces of ${pl} need ${pieceCount}`);
    }
    if (metaVersion === 'v2') soft.push('info.pieces of a v2-only torrent (no v1 file list) ignored');
    else pieceHashes = pieces;
  }
  if (total === 0) badTorrent('total length is zero (the torrent holds no data)');

  for (const note of resolveDuplicatePaths(files)) soft.push(note);

  // Optional fields.
  const privRaw = info.get('private');
  if (privRaw !== undefined && privRaw !== 0 && privRaw !== 1) soft.push(`info.private is ${describe(privRaw)} other than 0/1`);
  const { announce, announceList } = parseTrackers(top, soft);

  const sha256 = metaVersion === 'v1' ? undefined : createHash('sha256').update(infoBytes).digest();
  const infoHash = metaVersion === 'v2' ? sha256!.subarray(0, 20) : sha1;
  const meta: Metainfo = {
    infoHash,
    infoHashHex: infoHash.toString('hex'),
    version: metaVersion,
    pieceLayers: sha256 === undefined ? new Map() : parsePieceLayers(top.get('piece layers'), files, pl, soft),
    name,
    pieceLength: pl,
    pieceCount,
    pieceHashes,
    files,
    totalLength: total,
    multiFile: metaVersion === 'v1' ? hasFilesList : !single,
    private: typeof privRaw === 'number' && privRaw !== 0,
    announce,
    announceList,
    infoBytes,
    softErrors: soft,
  };
  if (metaVersion !== 'v2') meta.infoHashV1 = sha1;
  if (sha256 !== undefined) meta.infoHashV2 = sha256;
  const comment = top.get('comment.utf-8') ?? top.get('comment');
  if (Buffer.isBuffer(comment)) meta.comment = text(comment, 'comment', soft);
  const createdBy = top.get('created by');
  if (Buffer.isBuffer(createdBy)) meta.createdBy = text(createdBy, 'created by', soft);
  const date = top.get('creation date');
  if (typeof date === 'number') meta.creationDate = date;
  return meta;
}

/**
 * Parse a bare info dictionary (as fetched with ut_metadata, BEP 9). The caller must still compare `infoHash` with
 * the hash it asked for.
 * @throws BtError 'BAD_TORRENT' | 'BAD_PATH'
 */
export function parseInfo(infoBytes: Uint8Array, opts: ParseOptions = {}): Metainfo {
  return parseTorrent(torrentFromInfo(infoBytes), { maxSize: (opts.maxSize ?? MAX_TORRENT_SIZE) + 16 });
}

/**
 * Build .torrent bytes around raw info-dict bytes, which are embedded verbatim (so the info-hash is unchanged).
 * @param trackers the first becomes `announce`; if there are more, each is its own tier in `announce-list`
 */
export function torrentFromInfo(infoBytes: Uint8Array, trackers: readonly string[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from('d')];
  const urls = trackers.filter((u) => u !== '');
  if (urls.length > 0) parts.push(encode('announce'), encode(urls[0]!));
  if (urls.length > 1) parts.push(encode('announce-list'), encode(urls.map((u) => [u])));
  parts.push(Buffer.from('4:info'), Buffer.from(infoBytes), Buffer.from('e'));
  return Buffer.concat(parts);
}
