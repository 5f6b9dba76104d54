/**
 * The input files of torrent creation as one concatenated byte range (BEP 3: pieces run across file boundaries),
 * shared by the main thread and the create workers.
 * Invariant: pure; `files` are sorted by offset, the first at 0, with no empty files.
 */

/** One input file, at `offset` in the concatenation of all files (empty files are left out). */
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
