/**
 * Byte-range ↔ file arithmetic that src/metainfo's geometry does not offer: spans of a run of several pieces (one
 * read per file span when checking), and the containment predicate used after realpath(). BEP 3 layout.
 *
 * Invariant: spans returned for a range cover it exactly, in ascending file order, and never name a zero-length
 * file (the same contract as `pieceSpans` in src/metainfo/geometry.ts).
 */
import * as path from 'node:path';
import type { FileSpan } from '../metainfo/index.js';
import type { StorageMeta } from './storage.js';

/**
 * The file spans covering the torrent bytes `[start, start + length)`; here `pieceOffset` is relative to `start`.
 * Zero-length files never appear.
 */
export function rangeSpans(meta: StorageMeta, start: number, length: number): FileSpan[] {
  if (start < 0 || length < 0 || start + length > meta.totalLength) {
    throw new RangeError(`range ${start}+${length} outside the torrent's ${meta.totalLength} bytes`);
  }
  const end = start + length;
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
    if (e > s) spans.push({ fileIndex: i, fileOffset: s - f.offset, pieceOffset: s - start, length: e - s });
  }
  return spans;
}

/** True if `candidate` is `root` or lies below it (both absolute, normalised). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}
