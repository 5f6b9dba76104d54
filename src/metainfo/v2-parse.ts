/**
 * BEP 52 (BitTorrent v2) parts of a .torrent: the `file tree` of the info dict, the synthetic pad files that align
 * every file to a piece boundary, the hybrid v1/v2 consistency check, and the top-level `piece layers`.
 *
 * Pure: no I/O. Follows libtorrent 2.0.8 (torrent_info.cpp `extract_files2`, `extract_single_file2`,
 * `parse_piece_layers`; file_storage.cpp `add_file_borrow`, `remove_tail_padding`, `files_compatible`), so that
 * bitpeer opens exactly the v2 and hybrid torrents libtorrent opens, with the same files at the same offsets.
 *
 * Invariants of {@link layoutV2}'s output: files are in file-tree order (the order of the keys in the .torrent, which
 * for a valid v2 torrent is byte order), offsets are exact, and after every file whose end is not on a piece boundary
 * there is a synthetic pad file (`.pad/<size>`, `padding: true`) that fills up to the boundary — also after the
 * last file, as libtorrent's file_storage does (so a v2-only torrent's total length is a whole number of pieces).
 * Empty files and symlinks take no space and never get a pad.
 */
import { createHash } from 'node:crypto';
import type { BDict, BValue } from '../bencode/types.js';
import { BtError } from '../util/errors.js';
import { BLOCK_SIZE } from '../util/geometry.js';
import { sanitizeElement } from './paths.js';
import type { TorrentFile } from './types.js';

/** Deepest file tree libtorrent accepts (`depth > 100` fails). */
export const MAX_TREE_DEPTH = 100;
/** libtorrent's `max_file_size` and `max_file_offset`: 2^48 − 1. */
const MAX_OFFSET = 2 ** 48 - 1;

function badTorrent(msg: string): never {
  throw new BtError('BAD_TORRENT', `invalid torrent: ${msg}`);
}

/** BEP 47 attribute flags of a file dict (`attr` string; unknown letters ignored, as libtorrent does). */
export interface FileAttrs {
  padding: boolean;
  executable: boolean;
  hidden: boolean;
  symlink: boolean;
}

/** Reads `attr` as libtorrent's get_file_attributes does. */
export function fileAttrs(d: BDict): FileAttrs {
  const a = d.get('attr');
  const s = Buffer.isBuffer(a) ? a.toString('latin1') : '';
  return { padding: s.includes('p'), executable: s.includes('x'), hidden: s.includes('h'), symlink: s.includes('l') };
}

/**
 * Sanitised components of a `symlink path` list (relative to the torrent's root folder), or undefined when the
 * list is absent or sanitises to nothing. A non-string element makes the torrent invalid (libtorrent `path_length`).
 */
export function symlinkComponents(d: BDict, field: string): string[] | undefined {
  const sp = d.get('symlink path');
  if (!Array.isArray(sp)) return undefined;
  const out: string[] = [];
  sp.forEach((e, i) => {
    if (!Buffer.isBuffer(e)) badTorrent(`${field}.symlink path[${i}] must be a string`);
    const c = sanitizeElement(e);
    if (c !== undefined) out.push(c);
  });
  return out.length > 0 ? out : undefined;
}

/** A file read from the file tree, before layout. `path` includes the torrent name unless `single`. */
export interface TreeFile {
  path: string[];
  length: number;
  piecesRoot?: Buffer;
  executable?: boolean;
  hidden?: boolean;
  symlinkTarget?: string[];
}

/** The result of walking a file tree. */
export interface FileTree {
  files: TreeFile[];
  /** True for the single-file form (one file directly under the tree, no `files` list): its path is `[key]`. */
  single: boolean;
}

/** Reads one leaf (the dict under the key "") as libtorrent's extract_single_file2 does. */
function leafFile(v: BValue, path: string[], field: string): TreeFile {
  if (!(v instanceof Map)) badTorrent(`${field} must be a dictionary`);
  const attrs = fileAttrs(v);
  if (attrs.padding) badTorrent(`${field}: a pad file (attr "p") is not allowed in a v2 file tree`);
  const lenRaw = v.get('length');
  const length = attrs.symlink ? 0 : typeof lenRaw === 'number' ? lenRaw : -1;
  if (length < 0) badTorrent(`${field}.length must be a non-negative integer`);
  if (length > MAX_OFFSET || Math.floor(length / BLOCK_SIZE) >= Math.floor(0x7fffffff / 2)) {
    badTorrent(`${field}.length is too large (${length})`);
  }
  const file: TreeFile = { path, length };
  const target = attrs.symlink ? symlinkComponents(v, field) : undefined;
  if (target !== undefined) file.symlinkTarget = target;
  if (target === undefined && length > 0) {
    const root = v.get('pieces root');
    if (!Buffer.isBuffer(root) || root.length !== 32) badTorrent(`${field}.pieces root must be a 32-byte string`);
    if (root.every((b) => b === 0)) badTorrent(`${field}.pieces root is all zeros`);
    file.piecesRoot = root;
  }
  if (attrs.executable) file.executable = true;
  if (attrs.hidden) file.hidden = true;
  return file;
}

/**
 * Walk `info['file tree']` (libtorrent extract_files2): keys are path elements, sanitised with libtorrent's rules
 * (an element that sanitises to nothing, like `..`, adds no level); a dict whose only key is "" is a file.
 * @param name the sanitised torrent name (root folder of every path, except in the single-file form)
 * @param hasFilesList whether the info dict also has a v1 `files` list (then the single-file form does not apply)
 * @throws BtError('BAD_TORRENT') for a malformed tree, like libtorrent's torrent_file_parse_failed
 */
export function parseFileTree(tree: BValue, name: string, hasFilesList: boolean): FileTree {
  const files: TreeFile[] = [];
  let single = false;
  const walk = (node: BValue, root: string[], hasFiles: boolean, depth: number, field: string): void => {
    if (!(node instanceof Map)) badTorrent(`${field} must be a dictionary`);
    if (depth > MAX_TREE_DEPTH) badTorrent(`${field}: file tree deeper than ${MAX_TREE_DEPTH}`);
    for (const [key, value] of node) {
      const f = `${field}[${JSON.stringify(key)}]`;
      if (!(value instanceof Map) || key === '') badTorrent(`${f}: a file tree entry must be a dictionary under a non-empty key`);
      const leaf = value.size === 1 && value.has('');
      const isSingle = leaf && !hasFiles && node.size === 1;
      const elem = sanitizeElement(Buffer.from(key, 'latin1'));
      const path = isSingle ? [] : [...root];
      if (elem !== undefined) path.push(elem);
      if (leaf) {
        if (isSingle) single = true;
        // libtorrent would name a file whose path sanitised away entirely after its folder; never leave it empty.
        if (path.length === 0) path.push('_');
        files.push(leafFile(value.get('')!, path, `${f}[""]`));
      } else {
        walk(value, path, true, depth + 1, f);
      }
    }
  };
  walk(tree, [name], hasFilesList, 0, 'info.file tree');
  return { files, single };
}

/** A `.pad/<size>` pad file under the torrent's root folder. */
function padFile(root: string | undefined, size: number, offset: number): TorrentFile {
  const path = root === undefined ? ['.pad', String(size)] : [root, '.pad', String(size)];
  return { path, relPath: path.join('/'), length: size, offset, padding: true };
}

/**
 * Lay out v2 files as libtorrent's file_storage does: each file at the running offset, then a pad up to the next
 * piece boundary whenever the running total is not on one (after the last file too).
 * @param padRoot the folder pads go in (the torrent name), or undefined for the single-file form
 * @throws BtError('BAD_TORRENT') when the total would exceed 2^48 − 1
 */
export function layoutV2(tree: readonly TreeFile[], pieceLength: number, padRoot: string | undefined): TorrentFile[] {
  const out: TorrentFile[] = [];
  let total = 0;
  for (const t of tree) {
    if (MAX_OFFSET - total < t.length) badTorrent('total length exceeds 2^48 - 1');
    const file: TorrentFile = { path: t.path, relPath: t.path.join('/'), length: t.length, offset: total };
    if (t.piecesRoot !== undefined) file.piecesRoot = t.piecesRoot;
    if (t.executable === true) file.executable = true;
    if (t.hidden === true) file.hidden = true;
    if (t.symlinkTarget !== undefined) file.symlinkTarget = t.symlinkTarget;
    out.push(file);
    total += t.length;
    const rem = total % pieceLength;
    if (rem !== 0) {
      const pad = pieceLength - rem;
      if (total > MAX_OFFSET - pad) badTorrent('total length exceeds 2^48 - 1');
      out.push(padFile(padRoot, pad, total));
      total += pad;
    }
  }
  return out;
}

/**
 * Drop a tail pad file (libtorrent remove_tail_padding): hybrid torrents made by libtorrent 2.0.0–2.0.7 have no pad
 * after their last file in the v1 list, so the v2 layout is trimmed to match when it has exactly one file more.
 */
export function removeTailPadding(files: TorrentFile[]): TorrentFile[] {
  for (let i = files.length - 1; i >= 0; i--) {
    const f = files[i]!;
    if (f.length === 0) continue;
    if (f.padding !== true) return files;
    const out = files.slice(0, i);
    for (const g of files.slice(i + 1)) out.push({ ...g, offset: f.offset });
    return out;
  }
  return files;
}

/**
 * libtorrent `files_compatible`: the v1 and v2 lists of a hybrid torrent describe the same data. Same number of
 * entries, same total; every non-empty non-pad entry has the same index, path, length and offset on both sides.
 * @returns undefined when compatible, else what differs
 */
export function hybridMismatch(v2: readonly TorrentFile[], v1: readonly TorrentFile[]): string | undefined {
  if (v2.length !== v1.length) return `the v1 file list has ${v1.length} entries, the v2 file tree ${v2.length} (pads included)`;
  const total = (l: readonly TorrentFile[]): number => (l.length === 0 ? 0 : l[l.length - 1]!.offset + l[l.length - 1]!.length);
  if (total(v2) !== total(v1)) return `the v1 files total ${total(v1)} bytes, the v2 files ${total(v2)}`;
  for (let i = 0; i < v2.length; i++) {
    const a = v2[i]!;
    const b = v1[i]!;
    const ra = a.padding !== true && a.length > 0;
    const rb = b.padding !== true && b.length > 0;
    if (ra !== rb) return `file #${i} is data in one part and padding or empty in the other`;
    if (!ra) continue;
    if (a.length !== b.length || a.relPath !== b.relPath || a.offset !== b.offset) {
      return `file #${i} differs: v2 ${JSON.stringify(a.relPath)} (${a.length} B at ${a.offset}), v1 ${JSON.stringify(b.relPath)} (${b.length} B at ${b.offset})`;
    }
  }
  return undefined;
}

// --- piece layers -------------------------------------------------------------------------------------------------

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/**
 * Root of a file's merkle tree from its piece layer (BEP 52): the layer is padded up to a power of two with the
 * hash of an all-zero piece subtree, then hashed pairwise up to the root. The one swappable check (merkle.ts's
 * `fileRootFromLayer` computes the same thing).
 */
export function rootFromLayer(layer: Buffer, pieceLength: number): Buffer {
  let pad: Buffer = Buffer.alloc(32);
  for (let n = BLOCK_SIZE; n < pieceLength; n *= 2) pad = sha256(Buffer.concat([pad, pad]));
  let level: Buffer[] = [];
  for (let i = 0; i < layer.length; i += 32) level.push(layer.subarray(i, i + 32));
  let width = 1;
  while (width < level.length) width *= 2;
  while (level.length < width) level.push(pad);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha256(Buffer.concat([level[i]!, level[i + 1]!])));
    level = next;
  }
  return level[0]!;
}

/**
 * Read the top-level `piece layers` (libtorrent parse_piece_layers, plus the root check libtorrent does when the
 * torrent is added): a malformed dict (a key not 32 bytes, a value not a string of whole 32-byte hashes), or a layer
 * of the wrong length for its file, makes the torrent invalid; a layer whose hashes do not lead to its file's pieces
 * root also refuses the torrent (libtorrent's torrent_info accepts it, but adding it fails with "invalid piece
 * layer"). Layers for unknown roots and for files of at most one piece are ignored; a missing layer is allowed (it
 * is fetched from peers, as for a magnet). A `piece layers` that is not a dictionary is ignored.
 * @returns pieces root (hex) → layer, for files longer than one piece
 */
export function parsePieceLayers(raw: BValue | undefined, files: readonly TorrentFile[], pieceLength: number,
  softErrors: string[], check: (layer: Buffer, pieceLength: number) => Buffer = rootFromLayer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (raw === undefined) return out;
  if (!(raw instanceof Map)) { softErrors.push('piece layers is not a dictionary; ignored'); return out; }
  const byRoot = new Map<string, Buffer>();
  for (const [k, v] of raw) {
    const key = Buffer.from(k, 'latin1');
    if (key.length !== 32 || !Buffer.isBuffer(v) || v.length % 32 !== 0) {
      badTorrent(`piece layers: entry ${key.toString('hex').slice(0, 16)}… is not a 32-byte root with a string of 32-byte hashes`);
    }
    byRoot.set(key.toString('hex'), v);
  }
  for (const f of files) {
    if (f.padding === true || f.piecesRoot === undefined || f.length <= pieceLength) continue;
    const hex = f.piecesRoot.toString('hex');
    const layer = byRoot.get(hex);
    if (layer === undefined) continue;
    const pieces = Math.ceil(f.length / pieceLength);
    if (layer.length !== pieces * 32) {
      badTorrent(`piece layers: the layer of ${JSON.stringify(f.relPath)} has ${layer.length} bytes, not ${pieces * 32}`);
    }
    if (!check(layer, pieceLength).equals(f.piecesRoot)) {
      badTorrent(`piece layers: the layer of ${JSON.stringify(f.relPath)} does not match its pieces root`);
    }
    out.set(hex, layer);
  }
  if (byRoot.size > out.size) {
    const unused = [...byRoot.keys()].filter((k) => !out.has(k)).length;
    softErrors.push(`piece layers: ${unused} entr${unused === 1 ? 'y' : 'ies'} for no file longer than one piece; ignored`);
  }
  return out;
}
