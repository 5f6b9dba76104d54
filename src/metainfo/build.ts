/**
 * The pure half of torrent creation (BEP 3 single/multi-file; BEP 12 announce-list; BEP 27 private): piece-length
 * choice and checks, name checks, and the bencoded torrent built from a file list and its piece hashes. The I/O half
 * (folder walking, reading and hashing) is src/create/create-torrent.ts.
 *
 * Invariant: the info dict has exactly the keys mktorrent 1.1 writes (`files`|`length`, `name`, `piece length`,
 * `pieces`, and `private` only when set: never `private: 0`), so for the same input, name, piece length and
 * private flag the info-hash equals mktorrent's (test/interop/mktorrent.test.ts checks it). Everything built here is
 * re-checked by the pure `parseTorrent`, so a torrent we create is always one we accept.
 */
import { encode } from '../bencode/encode.js';
import type { Encodable } from '../bencode/types.js';
import { BtError, errorMessage } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import { MAX_TORRENT_SIZE, parseTorrent } from './metainfo.js';
import { sanitizeComponent } from './paths.js';
import type { Metainfo } from './types.js';

/** Smallest and largest piece length torrent creation accepts. */
export const MIN_PIECE_LENGTH = BLOCK_SIZE;
export const MAX_CREATE_PIECE_LENGTH = 256 * 1024 * 1024;
const AUTO_MAX_PIECE_LENGTH = 16 * 1024 * 1024;
const TARGET_MAX_PIECES = 2000;
const MAX_CREATE_PIECES = 2 ** 21;

/**
 * A piece length for `totalBytes` of data: the smallest power of two from 16 KiB to 16 MiB that gives at most 2000
 * pieces (so between 1000 and 2000 pieces unless a bound is hit).
 */
export function autoPieceLength(totalBytes: number): number {
  let pl = MIN_PIECE_LENGTH;
  while (pl < AUTO_MAX_PIECE_LENGTH && totalBytes / pl > TARGET_MAX_PIECES) pl *= 2;
  return pl;
}

/**
 * Checks a piece length for `totalBytes` of data.
 * @throws BtError 'USAGE' unless a power of two from 16 KiB to 256 MiB giving at most 2^21 pieces
 */
export function checkPieceLength(pl: number, totalBytes: number): void {
  if (!Number.isInteger(pl) || pl < MIN_PIECE_LENGTH || pl > MAX_CREATE_PIECE_LENGTH || (pl & (pl - 1)) !== 0) {
    throw new BtError('USAGE', `piece length must be a power of two from ${MIN_PIECE_LENGTH} to ${MAX_CREATE_PIECE_LENGTH} bytes (got ${pl})`);
  }
  if (Math.ceil(totalBytes / pl) > MAX_CREATE_PIECES) throw new BtError('USAGE', `too many pieces: use a piece length above ${pl}`);
}

/**
 * Checks that `name` (a file or folder name found at `where`) would survive parsing unchanged.
 * @throws BtError 'BAD_PATH' for names we would reject or rewrite when parsing (`\`, control characters, …)
 */
export function checkCreateName(name: string, where: string): void {
  let clean: string;
  try {
    clean = sanitizeComponent(name, where);
  } catch (e) {
    throw new BtError('BAD_PATH', `cannot put ${JSON.stringify(where)} in a torrent: ${errorMessage(e)}`, { cause: e });
  }
  if (clean !== name) {
    throw new BtError('BAD_PATH', `cannot put ${JSON.stringify(where)} in a torrent: its name has control characters or a drive-letter prefix`);
  }
}

/** What {@link buildTorrent} writes besides the info dict. */
export interface TorrentFields {
  /** Tracker URLs: the first becomes `announce`; if there are more, each is its own tier in `announce-list`. */
  announce?: string[];
  comment?: string;
  /** Default "bitpeer". */
  createdBy?: string;
  /** Seconds since the epoch; undefined omits it. */
  creationDate?: number;
  /** BEP 27 private flag (`private: 1`); never written as 0. */
  private?: boolean;
}

/**
 * The torrent's bytes and parsed metainfo. `files` is the sorted file list of a multi-file torrent (paths relative
 * to the torrent's folder), or undefined for a single file of `totalBytes`; `pieces` the concatenated SHA-1s.
 * @throws BtError 'USAGE' when the torrent would exceed MAX_TORRENT_SIZE
 */
export function buildTorrent(name: string, pieceLength: number, files: readonly { path: string[]; length: number }[] | undefined,
  totalBytes: number, pieces: Buffer, fields: TorrentFields): { torrent: Buffer; meta: Metainfo } {
  const info: Record<string, Encodable> = { name, 'piece length': pieceLength, pieces };
  if (files !== undefined) info['files'] = files.map((f) => ({ length: f.length, path: f.path }));
  else info['length'] = totalBytes;
  if (fields.private === true) info['private'] = 1;

  const announce = (fields.announce ?? []).filter((u) => u !== '');
  const top: Record<string, Encodable | undefined> = {
    info,
    announce: announce[0],
    'announce-list': announce.length > 1 ? announce.map((u) => [u]) : undefined,
    comment: fields.comment,
    'created by': fields.createdBy ?? 'bitpeer',
    'creation date': fields.creationDate,
  };
  const torrent = encode(top);
  if (torrent.length > MAX_TORRENT_SIZE) {
    throw new BtError('USAGE', `the torrent would be ${torrent.length} bytes, over the ${MAX_TORRENT_SIZE}-byte limit; use a larger piece length or fewer files`);
  }
  return { torrent, meta: parseTorrent(torrent) };
}
