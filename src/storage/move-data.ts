/**
 * Moving a torrent's data to another save folder (RPC `torrent-set-location` with `move: true`, as Transmission).
 *
 * Only the torrent's own (non-pad, BEP 47) files move; then the source folders its paths name are removed if they
 * became empty (the rules of delete-data.ts). A user's file in the torrent's folder stays where it is.
 *
 * Invariants (reliability rule 1 in docs/design/reliability.md):
 * - Nothing at the destination is ever overwritten: every destination path is checked first (one existing path
 *   refuses the whole move before anything moves), and each file is placed with link(2) (fails if the name exists)
 *   or, across file systems, copied with COPYFILE_EXCL, its size verified, and only then the source unlinked.
 * - Containment on both sides: a source file's folder must resolve inside the real source save folder, and every
 *   destination folder is created one component at a time, each proven inside the real destination save folder.
 * - A symbolic link is never moved or followed (a download never makes one): it is left and reported.
 * - If a file fails mid-way, the files already moved are moved back (best effort) and the error is thrown.
 */
import { constants as C } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { resolveInside } from '../metainfo/index.js';
import { BtError, errnoOf, errorMessage, ioError, isMissing } from '../util/errors.js';
import { removeEmptyFolders } from './delete-data.js';
import { isInside } from './spans.js';
import type { StorageMeta } from './storage.js';

export interface MoveReport {
  /** Files moved (source absolute paths). */
  moved: string[];
  /** Source folders removed because they became empty. */
  removedDirs: string[];
  /** What was left behind, and why. */
  kept: Array<{ path: string; reason: string }>;
}

interface Step { from: string; to: string; comps: readonly string[]; size: number }

/** Move `meta`'s files from `fromDir` to `toDir` (both save folders: the torrent's name is inside them). */
export async function moveTorrentData(meta: Pick<StorageMeta, 'files'>, fromDir: string, toDir: string): Promise<MoveReport> {
  const report: MoveReport = { moved: [], removedDirs: [], kept: [] };
  const from = path.resolve(fromDir);
  const to = path.resolve(toDir);
  let fromRoot: string;
  try {
    fromRoot = await fsp.realpath(from);
  } catch (e) {
    if (isMissing(e)) return report; // nothing was downloaded yet
    throw ioError('realpath', from, e);
  }
  // The destination save folder is the user's choice: created as a whole if needed.
  try { await fsp.mkdir(to, { recursive: true }); } catch (e) { throw ioError('mkdir', to, e); }
  let toRoot: string;
  try { toRoot = await fsp.realpath(to); } catch (e) { throw ioError('realpath', to, e); }
  if (fromRoot === toRoot) return report;

  // 1. Plan, and refuse before moving anything if a destination path is taken.
  const steps: Step[] = [];
  for (const f of meta.files) {
    if (f.padding) continue;
    const src = resolveInside(from, f.path);
    let parent: string;
    try { parent = await fsp.realpath(path.dirname(src)); } catch (e) { if (isMissing(e)) continue; throw ioError('realpath', path.dirname(src), e); }
    if (!isInside(fromRoot, parent)) { report.kept.push({ path: src, reason: `its folder resolves outside ${from} (${parent})` }); continue; }
    const real = path.join(parent, path.basename(src));
    let st;
    try { st = await fsp.lstat(real); } catch (e) { if (isMissing(e)) continue; throw ioError('lstat', src, e); }
    if (st.isSymbolicLink()) { report.kept.push({ path: src, reason: 'a symbolic link: not moved' }); continue; }
    if (!st.isFile()) { report.kept.push({ path: src, reason: 'not a regular file' }); continue; }
    const dst = resolveInside(to, f.path);
    const taken = await fsp.lstat(dst).then(() => true, (e: unknown) => {
      if (isMissing(e)) return false;
      throw ioError('lstat', dst, e);
    });
    if (taken) throw new BtError('IO', `cannot move to ${to}: ${dst} already exists (bitpeer never overwrites a file; move or remove it first)`);
    steps.push({ from: real, to: dst, comps: f.path, size: st.size });
  }

  // 2. Move, file by file; on a failure, move back what moved.
  const done: Step[] = [];
  try {
    for (const s of steps) {
      const target = await destination(toRoot, to, s.comps);
      await placeOnce(s.from, target, s.size);
      done.push({ ...s, to: target });
      report.moved.push(resolveInside(from, s.comps));
    }
  } catch (err) {
    for (const s of done.reverse()) {
      await placeOnce(s.to, s.from, s.size).catch(() => undefined);
    }
    await removeEmptyFolders(meta, to, toRoot, { removedDirs: [], kept: [] });
    throw err instanceof BtError ? err : new BtError('IO', `moving the data to ${to} failed: ${errorMessage(err)}`, { cause: err });
  }

  // 3. The source folders that became empty.
  await removeEmptyFolders(meta, from, fromRoot, report);
  return report;
}

/** Create the folders of a destination file one component at a time, each proven inside `root`; its real path. */
async function destination(root: string, saveDir: string, comps: readonly string[]): Promise<string> {
  let real = root;
  for (const c of comps.slice(0, -1)) {
    const next = path.join(real, c);
    try { await fsp.mkdir(next); } catch (e) { if (errnoOf(e) !== 'EEXIST') throw ioError('mkdir', next, e); }
    try { real = await fsp.realpath(next); } catch (e) { throw ioError('realpath', next, e); }
    if (!isInside(root, real)) throw new BtError('BAD_PATH', `folder ${next} resolves outside ${saveDir} (${real})`);
  }
  return path.join(real, comps[comps.length - 1]!);
}

/** Put `from` at `to` without ever replacing an existing `to`: a hard link, or a copy (size verified); then unlink. */
async function placeOnce(from: string, to: string, size: number): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'EEXIST') throw new BtError('IO', `cannot move ${from}: ${to} already exists (never overwritten)`);
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw ioError('link', to, e);
    try {
      await fsp.copyFile(from, to, C.COPYFILE_EXCL);
    } catch (e2) {
      if (errnoOf(e2) !== 'EEXIST') await fsp.unlink(to).catch(() => undefined);
      throw ioError('copy', to, e2);
    }
    const copied = await fsp.lstat(to);
    if (copied.size !== size) {
      await fsp.unlink(to).catch(() => undefined);
      throw new BtError('IO', `copy of ${from} to ${to} has ${copied.size} bytes, expected ${size}; the source is kept`);
    }
  }
  try {
    await fsp.unlink(from);
  } catch (e) {
    await fsp.unlink(to).catch(() => undefined); // the source stays whole; the new name goes
    throw ioError('unlink', from, e);
  }
}
