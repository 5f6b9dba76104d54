/**
 * The pure half of torrent creation (BEP 3 single/multi-file; BEP 12 announce-list; BEP 27 private; BEP 47 pad files
 * and attributes; BEP 52 v2 and hybrid torrents): piece-length choice and checks, name checks, the v2 file order and
 * pad layout, and the bencoded torrent built from a file list and its hashes. The I/O half (folder walking, reading
 * and hashing) is src/create/create-torrent.ts.
 *
 * Invariant: a v1 info dict has exactly the keys mktorrent 1.1 writes (`files`|`length`, `name`, `piece length`,
 * `pieces`, and `private` only when set: never `private: 0`), so for the same input, name, piece length and
 * private flag the info-hash equals mktorrent's (test/interop/mktorrent.test.ts checks it). A v2 or hybrid info
 * dict is byte for byte what libtorrent 2.0.8's create_torrent writes for the same files (see `layoutV2` and
 * `buildTorrentV2`; test/interop/create-v2.test.ts checks it). Everything built here is re-checked by the pure
 * `parseTorrent`, so a torrent we create is always one we accept.
 */
import { encode } from '../bencode/encode.js';
import type { Encodable } from '../bencode/types.js';
import { BtError, errorMessage } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import { MAX_TORRENT_SIZE, parseTorrent } from './metainfo.js';
import { sanitizeComponent } from './paths.js';
import { fileRootFromLayer } from './merkle.js';
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

/** The bencoded torrent around `info` (the top-level keys bitpeer writes), size-checked and re-parsed. */
function finish(info: Encodable, fields: TorrentFields, pieceLayers?: ReadonlyMap<string, Buffer>): { torrent: Buffer; meta: Metainfo } {
  const announce = (fields.announce ?? []).filter((u) => u !== '');
  const top: Record<string, Encodable | undefined> = {
    info,
    announce: announce[0],
    'announce-list': announce.length > 1 ? announce.map((u) => [u]) : undefined,
    comment: fields.comment,
    'created by': fields.createdBy ?? 'bitpeer',
    'creation date': fields.creationDate,
    'piece layers': pieceLayers,
  };
  const torrent = encode(top);
  if (torrent.length > MAX_TORRENT_SIZE) {
    throw new BtError('USAGE', `the torrent would be ${torrent.length} bytes, over the ${MAX_TORRENT_SIZE}-byte limit; use a larger piece length or fewer files`);
  }
  return { torrent, meta: parseTorrent(torrent) };
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
  return finish(info, fields);
}

// ---- BitTorrent v2 and hybrid (BEP 52), laid out as libtorrent 2.0.8's create_torrent lays them out ----

/** One input file of a v2 or hybrid torrent: its path inside the torrent's folder (`[]` for a single-file torrent). */
export interface V2InputFile {
  path: string[];
  length: number;
  /** BEP 47 `x`: libtorrent sets it from the owner-execute bit of lstat() (so a followed symlink always has it). */
  executable: boolean;
}

/** A file or a pad file of a v2/hybrid layout, at `offset` in the torrent's offset space (data plus pad files). */
export interface V2LayoutEntry extends V2InputFile {
  offset: number;
  /** A BEP 47 pad file: path `.pad/<length>`, attr `p`, zeros; only in the v1 `files` list of a hybrid torrent. */
  pad: boolean;
}

/**
 * libtorrent's file order for v2 and hybrid torrents (file_storage::canonicalize, path_compare): paths compared
 * component by component, each component by its UTF-8 bytes, so `a/x` < `a-b` < `a.c` (unlike mktorrent's v1 order,
 * which compares the '/'-joined strings: `a-b` < `a.c` < `a/x`).
 */
export function compareTreePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    const c = Buffer.compare(Buffer.from(a[i]!, 'utf8'), Buffer.from(b[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * libtorrent 2.0.8's layout (file_storage::canonicalize_impl, called by the create_torrent constructor for v2 and
 * hybrid): files sorted by {@link compareTreePaths}; when there is more than one file (empty ones count), a pad file
 * follows every non-empty file that does not end on a piece boundary, the last one included (tail padding), so every
 * non-empty file starts on a piece boundary. A single file is never padded. Empty files get no pad and are kept in
 * place. Pad files are named by their length.
 */
export function layoutV2(files: readonly V2InputFile[], pieceLength: number): { entries: V2LayoutEntry[]; total: number } {
  const sorted = [...files].sort((x, y) => compareTreePaths(x.path, y.path));
  const entries: V2LayoutEntry[] = [];
  let off = 0;
  for (const f of sorted) {
    entries.push({ ...f, offset: off, pad: false });
    off += f.length;
    if (files.length > 1 && f.length > 0 && off % pieceLength !== 0) {
      const len = pieceLength - (off % pieceLength);
      entries.push({ path: ['.pad', String(len)], length: len, executable: false, offset: off, pad: true });
      off += len;
    }
  }
  return { entries, total: off };
}

/** What {@link buildTorrentV2} needs: the layout, its hashes, and the shape of the torrent. */
export interface V2Build {
  name: string;
  pieceLength: number;
  version: 'v2' | 'hybrid';
  /** A `files` list (a folder, even of one file) rather than a single `length`. */
  multiFile: boolean;
  /** From {@link layoutV2}. */
  entries: readonly V2LayoutEntry[];
  /** The piece-layer hash (32 bytes) of every piece of the offset space, in piece order; pad-only slots unused. */
  pieceRoots: Buffer;
  /** Hybrid: the SHA-1 of every piece, data plus pad zeros. */
  pieces?: Buffer;
}

/** BEP 47 `attr` as libtorrent writes it (p, h, x, l in that order; we never set h or l). */
function attrOf(e: V2LayoutEntry): string | undefined {
  const a = (e.pad ? 'p' : '') + (e.executable ? 'x' : '');
  return a === '' ? undefined : a;
}

const rawKey = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/**
 * The pieces root and piece layer of the file at `e` from the piece roots of the offset space: one piece → its root
 * is the file's root and it has no layer; more → the root of the layer padded with all-zero piece subtrees.
 */
export function fileRootAndLayer(e: V2LayoutEntry, pieceLength: number, pieceRoots: Buffer): { root: Buffer; layer?: Buffer } {
  const first = e.offset / pieceLength;
  const count = Math.ceil(e.length / pieceLength);
  const layer = pieceRoots.subarray(first * 32, (first + count) * 32);
  if (count === 1) return { root: Buffer.from(layer) };
  return { root: fileRootFromLayer(layer, pieceLength, e.length), layer: Buffer.from(layer) };
}

/**
 * A v2-only or hybrid torrent with exactly the info dict libtorrent 2.0.8 generates for the same files (name,
 * piece length, private, then: hybrid `files` with pad entries or `length` and `attr`; `file tree` with `attr`,
 * `length`, `pieces root` (none for empty files); `meta version` 2; hybrid `pieces`), and top-level `piece layers`
 * for every file of more than one piece.
 * @throws BtError 'USAGE' when the torrent would exceed MAX_TORRENT_SIZE
 */
export function buildTorrentV2(b: V2Build, fields: TorrentFields): { torrent: Buffer; meta: Metainfo } {
  const info: Record<string, Encodable> = { name: b.name, 'piece length': b.pieceLength, 'meta version': 2 };
  if (fields.private === true) info['private'] = 1;
  const tree = new Map<string, Encodable>();
  const layers = new Map<string, Buffer>();
  for (const e of b.entries) {
    if (e.pad) continue;
    const leaf: Record<string, Encodable | undefined> = { attr: attrOf(e), length: e.length };
    if (e.length > 0) {
      const { root, layer } = fileRootAndLayer(e, b.pieceLength, b.pieceRoots);
      leaf['pieces root'] = root;
      if (layer !== undefined) layers.set(root.toString('latin1'), layer);
    }
    let dir = tree;
    const comps = b.multiFile ? e.path : [b.name];
    for (const c of comps) {
      const k = rawKey(c);
      let sub = dir.get(k);
      if (!(sub instanceof Map)) {
        sub = new Map<string, Encodable>();
        dir.set(k, sub);
      }
      dir = sub as Map<string, Encodable>;
    }
    dir.set('', leaf);
  }
  info['file tree'] = tree;
  if (b.version === 'hybrid') {
    if (b.pieces === undefined) throw new RangeError('a hybrid torrent needs its v1 piece hashes');
    info['pieces'] = b.pieces;
    if (b.multiFile) {
      info['files'] = b.entries.map((e) => ({ attr: attrOf(e), length: e.length, path: e.path }));
    } else {
      const only = b.entries[0]!;
      info['length'] = only.length;
      const attr = attrOf(only);
      if (attr !== undefined) info['attr'] = attr;
    }
  }
  return finish(info, fields, layers);
}
