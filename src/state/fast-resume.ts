/**
 * Fast resume: decide at start-up which pieces the resume data may be trusted for and which must be hashed
 * (reliability rule 9 in docs/design/reliability.md; BEP 3 piece/file layout, BEP 47 padding files).
 *
 * The rule — never re-download data that verifies, never trust what is not proven:
 * - A file is UNCHANGED when it exists now as a regular file with exactly the size and mtime recorded when the
 *   resume bitfield was last saved (padding files are always unchanged: they are never on disk). Anything else —
 *   missing, resized, touched, replaced by a symlink or folder — is CHANGED. Without usable resume data (none, or
 *   recorded for another save path) every file counts as changed.
 * - A piece is POSSIBLE when every file it touches exists and is long enough to hold its bytes; only possible
 *   pieces are ever hashed (the others cannot verify, so they are downloaded).
 * - trusted = had ∩ possible ∩ (every file it touches is unchanged). Those bytes were verified and durable when the
 *   bitfield was recorded, and nothing has written to their files since.
 * - recheck = possible ∩ (touches a changed file ∪ no usable resume), whether had or not: a had piece in a changed
 *   file must be proven again; a not-had piece in a changed file may have been written after the last save (the
 *   write that changed the mtime may be its own), so hashing it may spare a download.
 * - Not-had pieces whose files are all unchanged are not hashed: nothing was written to those files after the
 *   bitfield was recorded, and the bitfield holds every piece durably written before that.
 * - `spotCheck` is a few random trusted pieces the caller should hash; if any of them fails, the caller must
 *   distrust the resume data and hash every trusted piece too (it catches data changed behind an unchanged mtime).
 *
 * Known limit: file timestamps have a granularity (a few ms on ext4/xfs/btrfs/APFS/NTFS, 1–2 s on ext3/HFS+/FAT).
 * A piece written within that granularity AFTER the files were observed, into a file that then saw no other write
 * before a crash, leaves the mtime unchanged and is downloaded again (under-reporting, never over-reporting).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Bitfield } from '../util/bitfield.js';
import { filePieceRange, resolveInside, type Metainfo } from '../metainfo/index.js';
import { ioError, isMissing } from './atomic.js';
import type { FileStamp, ResumeData } from './resume-codec.js';

/** The torrent fields used here (a parsed Metainfo or a StorageMeta fits). */
export type ResumeMeta = Pick<Metainfo, 'pieceLength' | 'pieceCount' | 'totalLength' | 'files'>;

/** What {@link planStartupCheck} decides. */
export interface StartupPlan {
  /** Pieces taken from the resume data without hashing. */
  trusted: Bitfield;
  /** Pieces to hash, ascending. */
  recheck: number[];
  /** Indexes of files that differ from the resume data (all non-padding files when it is unusable), ascending. */
  changedFiles: number[];
  /** A few trusted pieces to hash as a spot check (see the module comment), ascending. */
  spotCheck: number[];
  /** Why the resume data was not used at all, when it was not. */
  ignoredReason?: string;
}

/** Options of {@link planStartupCheck}. */
export interface PlanOptions {
  /** The files as observed now; default: `observeFiles(meta, savePath)`. */
  observed?: Array<FileStamp | null>;
  /** How many trusted pieces to put in `spotCheck` (default 4). */
  spotChecks?: number;
  /** Randomness in [0, 1) for the spot check (default Math.random). */
  random?: () => number;
}

/** Parallel stats when observing files. */
const STAT_PARALLELISM = 16;

/**
 * The size and mtime of every file of the torrent under `savePath` (null: missing, or not a regular file — a
 * symlink is never followed). Padding files are reported as present with their declared length and mtime 0.
 * `mtimeMs` has microsecond resolution and is computed the same way every time (from the nanosecond time), so
 * equal timestamps compare equal.
 * @throws BtError('BAD_PATH') for an unsafe path; BtError('IO') when a stat fails for another reason than absence.
 */
export async function observeFiles(meta: Pick<Metainfo, 'files'>, savePath: string): Promise<Array<FileStamp | null>> {
  const base = path.resolve(savePath);
  const out = new Array<FileStamp | null>(meta.files.length).fill(null);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < meta.files.length) {
      const i = next++;
      const f = meta.files[i]!;
      if (f.padding) { out[i] = { size: f.length, mtimeMs: 0 }; continue; }
      const file = resolveInside(base, f.path);
      try {
        const st = await fsp.lstat(file, { bigint: true });
        if (st.isFile()) out[i] = { size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1000n) / 1000 };
      } catch (e) {
        if (!isMissing(e)) throw ioError('stat', file, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_PARALLELISM, meta.files.length) }, lane));
  return out;
}

/** `observeFiles`, synchronously (start-up of many small torrents: one system call per file). Same results. */
export function observeFilesSync(meta: Pick<Metainfo, 'files'>, savePath: string): Array<FileStamp | null> {
  const base = path.resolve(savePath);
  return meta.files.map((f) => {
    if (f.padding) return { size: f.length, mtimeMs: 0 };
    const file = resolveInside(base, f.path);
    try {
      const st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
      return st?.isFile() ? { size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1000n) / 1000 } : null;
    } catch (e) {
      if (isMissing(e)) return null;
      throw ioError('stat', file, e);
    }
  });
}

/**
 * The `pieces` and `files` of a resume snapshot, taken in the order that makes them safe to trust later:
 * 1. observe the files (before the bitfield: a piece written after this point changes its file's stamp, so after a
 *    crash that file is "changed" and the piece is rechecked rather than lost);
 * 2. copy the set of pieces whose writes have completed (`written()`: verified AND written, never more);
 * 3. `flush()` the storage (fdatasync), so every piece in that set is durable before the resume file names it.
 * @throws whatever `observeFiles` or `flush` throw (then nothing should be saved).
 */
export async function snapshotDiskState(meta: Pick<Metainfo, 'files'>, savePath: string, written: () => Bitfield,
  flush: () => Promise<void>): Promise<{ pieces: Bitfield; files: Array<FileStamp | null> }> {
  const files = await observeFiles(meta, savePath);
  const pieces = written().clone();
  await flush();
  return { pieces, files };
}

/** True when two observations of a file are the same (both missing counts as the same). */
export function sameStamp(a: FileStamp | null | undefined, b: FileStamp | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Decide which pieces to trust and which to hash at start-up (the rule is in the module comment).
 * `resume` must already be validated for this torrent (StateStore.loadResume does that); if its lengths still do
 * not fit `meta`, or it was recorded for another save path, it is not used.
 */
export async function planStartupCheck(meta: ResumeMeta, savePath: string, resume: ResumeData | null,
  opts: PlanOptions = {}): Promise<StartupPlan> {
  const observed = opts.observed ?? await observeFiles(meta, savePath);
  const nFiles = meta.files.length;
  if (observed.length !== nFiles) throw new RangeError(`observed ${observed.length} files, torrent has ${nFiles}`);

  let base: ResumeData | null = resume;
  let ignoredReason: string | undefined;
  if (resume) {
    if (resume.pieces.length !== meta.pieceCount || resume.files.length !== nFiles) {
      ignoredReason = 'resume data does not match the torrent geometry';
    } else if (path.resolve(resume.savePath) !== path.resolve(savePath)) {
      ignoredReason = `resume data was recorded for another save path (${resume.savePath})`;
    }
    if (ignoredReason) base = null;
  }

  const changed = new Uint8Array(nFiles);
  const changedFiles: number[] = [];
  meta.files.forEach((f, i) => {
    if (f.padding) return;
    if (base === null || !sameStamp(observed[i], base.files[i])) {
      changed[i] = 1;
      changedFiles.push(i);
    }
  });

  // Per piece: does it touch a changed file; is it possible (all its bytes could be on disk).
  const touchesChanged = new Uint8Array(meta.pieceCount);
  const impossible = new Uint8Array(meta.pieceCount);
  for (let i = 0; i < nFiles; i++) {
    const f = meta.files[i]!;
    const range = filePieceRange(meta, i);
    if (range === null) continue; // zero-length files hold no piece bytes
    const o = observed[i];
    const size = f.padding ? f.length : o ? o.size : -1;
    for (let p = range.first; p <= range.last; p++) {
      if (changed[i]) touchesChanged[p] = 1;
      if (size >= f.length) continue;
      // Bytes of piece p inside file i end at:
      const end = Math.min(f.offset + f.length, (p + 1) * meta.pieceLength) - f.offset;
      if (size < end) impossible[p] = 1;
    }
  }

  const trusted = new Bitfield(meta.pieceCount);
  const recheck: number[] = [];
  for (let p = 0; p < meta.pieceCount; p++) {
    if (impossible[p]) continue;
    const had = base !== null && base.pieces.has(p);
    if (had && !touchesChanged[p]) trusted.set(p);
    else if (had || touchesChanged[p] || base === null) recheck.push(p);
  }

  const plan: StartupPlan = { trusted, recheck, changedFiles, spotCheck: pickSpotChecks(trusted, opts) };
  if (ignoredReason !== undefined) plan.ignoredReason = ignoredReason;
  return plan;
}

/** Up to `opts.spotChecks` distinct trusted pieces, chosen at random, ascending. */
function pickSpotChecks(trusted: Bitfield, opts: PlanOptions): number[] {
  const want = Math.min(opts.spotChecks ?? 4, trusted.count);
  if (want <= 0) return [];
  const random = opts.random ?? Math.random;
  // A partial Fisher–Yates shuffle: bounded whatever `random` returns.
  const all = [...trusted.indexes()];
  const picked: number[] = [];
  for (let j = 0; j < want; j++) {
    const r = Math.floor(random() * (all.length - j));
    const k = j + (Number.isFinite(r) ? Math.min(all.length - 1 - j, Math.max(0, r)) : 0);
    const t = all[k]!;
    all[k] = all[j]!;
    all[j] = t;
    picked.push(t);
  }
  return picked.sort((a, b) => a - b);
}
