/**
 * Parse and validate .torrent files (BEP 3; BEP 12 announce-list; BEP 27 private; BEP 47 pad files).
 *
 * Invariants of a returned `Metainfo` (see types.ts): the info-hash is SHA-1 of the RAW info-dict bytes (never of a
 * re-encoding, reliability rule 3 in docs/design/reliability.md), every path went through `sanitizeComponent` and the
 * duplicate/conflict check (paths.ts documents reject vs neutralise), and the geometry is exact: `pieceHashes.length
 * === 20 * pieceCount`, `pieceCount === ceil(totalLength / pieceLength)`, all lengths are safe integers.
 *
 * Decisions:
 * - Bencode is decoded in .torrent mode: leading zeros, unsorted and duplicate keys are soft errors (first duplicate
 *   wins), as libtorrent does; depth ≤ 100, tokens ≤ 3 M, trailing bytes are an error.
 * - `name.utf-8` / `path.utf-8` are preferred over `name` / `path` when present and well-formed (as libtorrent does).
 *   Names that are not valid UTF-8 are decoded lossily (U+FFFD) and noted as a soft error.
 * - Rejected: total length 0 (nothing to transfer), both `length` and `files`, v2-only torrents (no `pieces`),
 *   non-integer lengths. `private` other than 0/1 counts as not private, with a soft error.
 * - Limits: .torrent ≤ 10 MiB (option), piece length ≤ 32767 × 16 KiB (any positive value is legal in v1),
 *   pieces ≤ 2^21, file and total lengths ≤ 2^48 − 1, path depth ≤ 100.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { decode } from '../bencode/decode.js';
import { encode } from '../bencode/encode.js';
import type { BDict, BValue } from '../bencode/types.js';
import { BtError, isBtError } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import { MAX_PATH_DEPTH, PathSet, sanitizeComponent } from './paths.js';
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

/** Reads a required length: a safe integer in [0, MAX_TOTAL_LENGTH]. */
function lengthField(v: BValue | undefined, field: string): number {
  if (typeof v !== 'number') badTorrent(`${field} must be an integer (it is ${describe(v)})`);
  if (v < 0) badTorrent(`${field} is negative (${v})`);
  if (v > MAX_TOTAL_LENGTH) badTorrent(`${field} is too large (${v} > 2^48 - 1)`);
  return v;
}

/** A list of byte strings, or undefined if `v` is not one. */
function stringList(v: BValue | undefined): Buffer[] | undefined {
  if (!Array.isArray(v) || !v.every((x) => Buffer.isBuffer(x))) return undefined;
  return v as Buffer[];
}

/** Sanitised components of one file path (`prefer` is the `.utf-8` variant). */
function pathComponents(preferred: BValue | undefined, plain: BValue | undefined, field: string, soft: string[]): string[] {
  let list = stringList(preferred);
  let f = `${field}.utf-8`;
  if (list === undefined || list.length === 0) {
    if (preferred !== undefined) soft.push(`${f} is malformed; using ${field}`);
    list = stringList(plain);
    f = field;
    if (list === undefined) {
      if (plain === undefined) badTorrent(`${field} is missing`);
      badTorrent(`${field} must be a list of strings (it is ${describe(plain)})`);
    }
  }
  if (list.length === 0) throw new BtError('BAD_PATH', `${f}: empty path`);
  if (list.length >= MAX_PATH_DEPTH) throw new BtError('BAD_PATH', `${f}: more than ${MAX_PATH_DEPTH - 1} components`);
  return list.map((c, i) => sanitizeComponent(text(c, `${f}[${i}]`, soft), `${f}[${i}]`, soft));
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

/**
 * Parse and validate a .torrent file.
 * @throws BtError 'BAD_TORRENT' (message names the field) or 'BAD_PATH' (unsafe file path).
 */
export function parseTorrent(input: Uint8Array, opts: ParseOptions = {}): Metainfo {
  const maxSize = opts.maxSize ?? MAX_TORRENT_SIZE;
  if (input.length > maxSize) badTorrent(`file is too large (${input.length} bytes; the limit is ${maxSize})`);
  // Private copy: the returned Buffers are views of it, so the caller may reuse its buffer.
  const buf = Buffer.from(input);

  let decoded;
  try {
    decoded = decode(buf, { leadingZeros: 'soft', keyOrder: 'soft', maxDepth: 100, maxTokens: 3_000_000 });
  } catch (e) {
    if (isBtError(e, 'BENCODE')) badTorrent(e.message, e);
    throw e;
  }
  const soft = [...decoded.softErrors];
  const top = decoded.value;
  if (!(top instanceof Map)) badTorrent(`the file is ${describe(top)}, not a bencoded dictionary`);

  const info = top.get('info');
  if (info === undefined) badTorrent('info dictionary is missing');
  if (!(info instanceof Map)) badTorrent(`info must be a dictionary (it is ${describe(info)})`);
  const span = decoded.spanOf(info)!;
  const infoBytes = buf.subarray(span[0], span[1]);
  const infoHash = createHash('sha1').update(infoBytes).digest();

  // Piece length and hashes.
  const pl = info.get('piece length');
  if (typeof pl !== 'number') badTorrent(`info.piece length must be an integer (it is ${describe(pl)})`);
  if (pl <= 0) badTorrent(`info.piece length must be positive (it is ${pl})`);
  if (pl > MAX_PIECE_LENGTH) badTorrent(`info.piece length ${pl} exceeds the limit of ${MAX_PIECE_LENGTH}`);
  const pieces = info.get('pieces');
  if (pieces === undefined) {
    if (info.has('file tree')) badTorrent('BitTorrent v2-only torrents are not supported (info.pieces is missing)');
    badTorrent('info.pieces is missing');
  }
  if (!Buffer.isBuffer(pieces)) badTorrent(`info.pieces must be a string (it is ${describe(pieces)})`);
  if (pieces.length % 20 !== 0) badTorrent(`info.pieces length ${pieces.length} is not a multiple of 20`);
  const pieceCount = pieces.length / 20;
  if (pieceCount > MAX_PIECES) badTorrent(`info.pieces holds ${pieceCount} hashes; the limit is ${MAX_PIECES}`);

  // Name.
  const nameRaw = info.get('name');
  const nameUtf8 = info.get('name.utf-8');
  let nameField = 'info.name';
  let nameBuf: Buffer;
  if (Buffer.isBuffer(nameUtf8) && nameUtf8.length > 0) {
    nameBuf = nameUtf8;
    nameField = 'info.name.utf-8';
  } else if (Buffer.isBuffer(nameRaw)) {
    nameBuf = nameRaw;
  } else {
    badTorrent(nameRaw === undefined ? 'info.name is missing' : `info.name must be a string (it is ${describe(nameRaw)})`);
  }
  const name = sanitizeComponent(text(nameBuf, nameField, soft), nameField, soft);

  // Files.
  const files: TorrentFile[] = [];
  let total = 0;
  const filesRaw = info.get('files');
  const multiFile = filesRaw !== undefined;
  if (multiFile) {
    if (info.has('length')) badTorrent('info has both length and files');
    if (!Array.isArray(filesRaw)) badTorrent(`info.files must be a list (it is ${describe(filesRaw)})`);
    if (filesRaw.length === 0) badTorrent('info.files is empty');
    const seen = new PathSet();
    for (let i = 0; i < filesRaw.length; i++) {
      const field = `info.files[${i}]`;
      const fd = filesRaw[i];
      if (!(fd instanceof Map)) badTorrent(`${field} must be a dictionary (it is ${describe(fd)})`);
      const length = lengthField(fd.get('length'), `${field}.length`);
      const comps = [name, ...pathComponents(fd.get('path.utf-8'), fd.get('path'), `${field}.path`, soft)];
      const attr = fd.get('attr');
      const padding = Buffer.isBuffer(attr) && attr.includes(0x70 /* p */);
      if (!padding) seen.add(comps, i, `${field}.path`);
      const file: TorrentFile = { path: comps, relPath: comps.join('/'), length, offset: total };
      if (padding) file.padding = true;
      files.push(file);
      total += length;
      if (total > MAX_TOTAL_LENGTH) badTorrent(`total length exceeds 2^48 - 1 at ${field}`);
    }
  } else {
    const length = lengthField(info.get('length'), 'info.length');
    files.push({ path: [name], relPath: name, length, offset: 0 });
    total = length;
  }
  if (total === 0) badTorrent('total length is zero (the torrent holds no data)');

  const expected = Math.ceil(total / pl);
  if (expected !== pieceCount) {
    badTorrent(`info.pieces holds ${pieceCount} hashes but ${total} bytes in pieces of ${pl} need ${expected}`);
  }

  // Optional fields.
  const privRaw = info.get('private');
  if (privRaw !== undefined && privRaw !== 0 && privRaw !== 1) soft.push(`info.private is ${describe(privRaw)} other than 0/1; not private`);
  const { announce, announceList } = parseTrackers(top, soft);

  const meta: Metainfo = {
    infoHash,
    infoHashHex: infoHash.toString('hex'),
    version: 'v1',
    infoHashV1: infoHash,
    pieceLayers: new Map(),
    name,
    pieceLength: pl,
    pieceCount,
    pieceHashes: pieces,
    files,
    totalLength: total,
    multiFile,
    private: privRaw === 1,
    announce,
    announceList,
    infoBytes,
    softErrors: soft,
  };
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
