/**
 * Piece / file arithmetic (BEP 3): the torrent's data is the concatenation of its files, cut into pieces of
 * `pieceLength` bytes; only the last piece may be shorter.
 *
 * Invariant: for every piece, `pieceSpans` returns spans in increasing file order whose lengths sum to the requested
 * length, each lying inside one file with `length > 0`; zero-length files never appear. Bad arguments are programming
 * errors (the wire layer validates peer input against the geometry first) and throw `RangeError`.
 */
import { pieceSizeAt } from '../util/geometry.js';
import type { FileSpan, Metainfo } from './types.js';

type Geometry = Pick<Metainfo, 'pieceLength' | 'pieceCount' | 'totalLength'>;
type FileGeometry = Geometry & Pick<Metainfo, 'files'>;

function checkPiece(meta: Geometry, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= meta.pieceCount) {
    throw new RangeError(`piece index ${index} out of range [0, ${meta.pieceCount})`);
  }
}

/** Size in bytes of piece `index` (the last piece may be short). */
export function pieceSize(meta: Geometry, index: number): number {
  checkPiece(meta, index);
  return pieceSizeAt(meta, index);
}

/** The 20-byte SHA-1 of piece `index`, as a view of `pieceHashes`. */
export function pieceHash(meta: Pick<Metainfo, 'pieceCount' | 'pieceHashes'>, index: number): Buffer {
  if (!Number.isInteger(index) || index < 0 || index >= meta.pieceCount) {
    throw new RangeError(`piece index ${index} out of range [0, ${meta.pieceCount})`);
  }
  return meta.pieceHashes.subarray(index * 20, index * 20 + 20);
}

/** Index of the first file whose data extends past `offset` (files.length if none). */
function fileAt(files: Metainfo['files'], offset: number): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const f = files[mid]!;
    if (f.offset + f.length > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The file spans covering bytes `[begin, begin + length)` of piece `piece`.
 * @param begin offset inside the piece (default 0)
 * @param length bytes (default: to the end of the piece)
 */
export function pieceSpans(meta: FileGeometry, piece: number, begin = 0, length?: number): FileSpan[] {
  const size = pieceSize(meta, piece);
  const len = length ?? size - begin;
  if (!Number.isInteger(begin) || !Number.isInteger(len) || begin < 0 || len < 0 || begin + len > size) {
    throw new RangeError(`range [${begin}, +${len}) does not fit piece ${piece} of ${size} bytes`);
  }
  const spans: FileSpan[] = [];
  let pos = piece * meta.pieceLength + begin;
  let left = len;
  let pieceOffset = begin;
  for (let i = fileAt(meta.files, pos); left > 0 && i < meta.files.length; i++) {
    const f = meta.files[i]!;
    if (f.length === 0) continue;
    const fileOffset = pos - f.offset;
    const n = Math.min(f.length - fileOffset, left);
    spans.push({ fileIndex: i, fileOffset, pieceOffset, length: n });
    pos += n;
    left -= n;
    pieceOffset += n;
  }
  if (left > 0) throw new RangeError(`files end before piece ${piece} does (inconsistent metainfo)`);
  return spans;
}

/** First and last piece that hold bytes of file `fileIndex`, or null for an empty file. */
export function filePieceRange(meta: FileGeometry, fileIndex: number): { first: number; last: number } | null {
  const f = meta.files[fileIndex];
  if (f === undefined || !Number.isInteger(fileIndex)) {
    throw new RangeError(`file index ${fileIndex} out of range [0, ${meta.files.length})`);
  }
  if (f.length === 0) return null;
  return {
    first: Math.floor(f.offset / meta.pieceLength),
    last: Math.floor((f.offset + f.length - 1) / meta.pieceLength),
  };
}
