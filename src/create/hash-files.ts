/**
 * The input files of torrent creation as one byte range (BEP 3: pieces run across file boundaries; in a v2 or hybrid
 * torrent, BEP 47 pad files leave gaps of zeros between them), shared by the main thread and the create workers.
 * Invariant: pure; `files` are sorted by offset, the first at 0, with no empty files.
 */

/** One input file, at `offset` in the torrent's offset space (empty files are left out; pad files are gaps). */
export interface HashFile { abs: string; size: number; offset: number }

/** The index of the file holding byte `pos` of the concatenation (files sorted by offset, the first at 0). */
export function fileIndexAt(files: readonly HashFile[], pos: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (files[mid]!.offset <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
