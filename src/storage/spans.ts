/**
 * Piece ↔ file arithmetic for storage (BEP 3 layout: the files are concatenated, pieces cut that stream).
 *
 * Invariant: spans returned for a range cover it exactly, in ascending file order, and never name a zero-length
 * file. These helpers mirror src/metainfo's `pieceSize` / `pieceSpans` so storage accepts any `StorageMeta`.
 */
import * as path from 'node:path';
import { BtError } from '../util/errors.js';
import type { StorageMeta } from './storage.js';

/** A run of bytes of one file inside a piece. `pieceOffset` is relative to the piece start. */
export interface FileSpan { fileIndex: number; fileOffset: number; pieceOffset: number; length: number }

/** Size in bytes of piece `index` (the last piece may be short). */
export function pieceSize(meta: StorageMeta, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= meta.pieceCount) {
    throw new RangeError(`piece ${index} out of range 0..${meta.pieceCount - 1}`);
  }
  if (index < meta.pieceCount - 1) return meta.pieceLength;
  return meta.totalLength - meta.pieceLength * (meta.pieceCount - 1);
}

/** Expected SHA-1 of piece `index` (a view into `meta.pieceHashes`). */
export function pieceHash(meta: StorageMeta, index: number): Buffer {
  pieceSize(meta, index);
  return meta.pieceHashes.subarray(index * 20, index * 20 + 20);
}

/** The file spans covering `[begin, begin + length)` of `piece`. Zero-length files never appear. */
export function pieceSpans(meta: StorageMeta, piece: number, begin = 0, length?: number): FileSpan[] {
  const size = pieceSize(meta, piece);
  const len = length ?? size - begin;
  if (begin < 0 || len < 0 || begin + len > size) {
    throw new RangeError(`range ${begin}+${len} outside piece ${piece} of ${size} bytes`);
  }
  const pieceStart = piece * meta.pieceLength;
  const start = pieceStart + begin;
  const end = start + len;
  const files = meta.files;
  // First file whose end lies beyond `start` (file ends are non-decreasing).
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const f = files[mid]!;
    if (f.offset + f.length <= start) lo = mid + 1;
    else hi = mid;
  }
  const spans: FileSpan[] = [];
  for (let i = lo; i < files.length; i++) {
    const f = files[i]!;
    if (f.offset >= end) break;
    if (f.length === 0) continue;
    const s = Math.max(start, f.offset);
    const e = Math.min(end, f.offset + f.length);
    if (e > s) spans.push({ fileIndex: i, fileOffset: s - f.offset, pieceOffset: s - pieceStart, length: e - s });
  }
  return spans;
}

/** True if `candidate` is `root` or lies below it (both absolute, normalised). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

/**
 * Join sanitised components under `saveDir` and prove the result stays inside it (RELIABILITY rule 1, first half;
 * the realpath/O_NOFOLLOW half is done at open time). Throws BtError('BAD_PATH').
 */
export function resolveInside(saveDir: string, components: string[]): string {
  const root = path.resolve(saveDir);
  if (components.length === 0) throw new BtError('BAD_PATH', 'empty path');
  for (const c of components) {
    // eslint-disable-next-line no-control-regex
    if (c === '' || c === '.' || c === '..' || /[/\\\x00]/.test(c)) {
      throw new BtError('BAD_PATH', `unsafe path component ${JSON.stringify(c)}`);
    }
  }
  const full = path.resolve(root, ...components);
  if (!isInside(root, full) || full === root) throw new BtError('BAD_PATH', `path escapes the save folder: ${full}`);
  return full;
}
