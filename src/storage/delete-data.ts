/**
 * Deleting a torrent's data: only what the torrent itself lists (BEP 3 file list; BEP 47 pad files are never on disk
 * and never touched), then the folders its paths name, deepest first, and only when they are empty.
 *
 * Invariants (reliability rule 1 in docs/design/reliability.md, "never lose a user's data"):
 * - A file is unlinked only if the real path of its parent folder lies inside the real save folder (the proof
 *   FsStorage makes before it opens anything). The final component is never followed: a symlink is unlinked as a
 *   link, never its target; a folder at a file's path is left alone.
 * - A folder is removed with `rmdir` (never recursively), only if it is one of the torrent's own folders (a parent of
 *   one of its files), only if it is empty, and never the save folder itself. So a user's file inside the torrent's
 *   folder, or another torrent's files there, keep that folder and themselves.
 * - A file that `isShared(absPath)` says another torrent still lists is skipped.
 * - Nothing throws for one file: every skip is reported with its reason, so the caller can log it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { resolveInside } from '../metainfo/index.js';
import { errnoOf, errorMessage, isMissing } from '../util/errors.js';
import { isInside } from './spans.js';
import type { StorageMeta } from './storage.js';

/** What a deletion did. Paths are absolute (lexical, under the save folder). */
export interface DeleteReport {
  /** Files unlinked. */
  deleted: string[];
  /** Folders removed (they were empty). */
  removedDirs: string[];
  /** Files and folders left in place, with why (absent ones are not listed). */
  kept: Array<{ path: string; reason: string }>;
}

export interface DeleteOptions {
  /** For an absolute file path that another torrent still in the session lists: that torrent (the file is kept). */
  isShared?: (absPath: string) => string | undefined;
}

/** Every folder the torrent's (non-pad) file paths name, as component lists, deepest first. */
export function torrentFolders(meta: Pick<StorageMeta, 'files'>): string[][] {
  const seen = new Map<string, string[]>();
  for (const f of meta.files) {
    if (f.padding) continue;
    for (let depth = 1; depth < f.path.length; depth++) {
      const comps = f.path.slice(0, depth);
      seen.set(comps.join('/'), comps);
    }
  }
  return [...seen.values()].sort((a, b) => b.length - a.length);
}

/**
 * Delete `meta`'s files under `saveDir`, then its folders that became empty. Never throws for a single path; a
 * missing save folder means there is nothing to delete.
 */
export async function deleteTorrentData(meta: Pick<StorageMeta, 'files'>, saveDir: string, opts: DeleteOptions = {}): Promise<DeleteReport> {
  const report: DeleteReport = { deleted: [], removedDirs: [], kept: [] };
  let root: string;
  try {
    root = await fsp.realpath(path.resolve(saveDir));
  } catch (e) {
    if (!isMissing(e)) report.kept.push({ path: path.resolve(saveDir), reason: `save folder unreadable: ${errorMessage(e)}` });
    return report;
  }
  for (const f of meta.files) {
    if (f.padding) continue;
    let abs: string;
    try { abs = resolveInside(saveDir, f.path); } catch (e) { report.kept.push({ path: f.path.join('/'), reason: errorMessage(e) }); continue; }
    const other = opts.isShared?.(abs);
    if (other !== undefined) { report.kept.push({ path: abs, reason: `also listed by torrent ${other}` }); continue; }
    await unlinkContained(root, abs, report, f.symlinkTarget !== undefined);
  }
  await removeEmptyFolders(meta, saveDir, root, report);
  return report;
}

/** Remove `meta`'s folders under `saveDir` (whose real path is `root`) that are empty, deepest first. */
export async function removeEmptyFolders(meta: Pick<StorageMeta, 'files'>, saveDir: string, root: string,
  report: Pick<DeleteReport, 'removedDirs' | 'kept'>): Promise<void> {
  for (const comps of torrentFolders(meta)) {
    let abs: string;
    try { abs = resolveInside(saveDir, comps); } catch { continue; }
    await rmdirContained(root, abs, report);
  }
}

/** The real path the last component of `abs` would have: its parent's real path, proven inside `root`. */
async function containedTarget(root: string, abs: string, report: Pick<DeleteReport, 'kept'>): Promise<string | null> {
  let parent: string;
  try {
    parent = await fsp.realpath(path.dirname(abs));
  } catch (e) {
    if (!isMissing(e)) report.kept.push({ path: abs, reason: `cannot resolve its folder: ${errorMessage(e)}` });
    return null;
  }
  if (!isInside(root, parent)) {
    report.kept.push({ path: abs, reason: `its folder resolves outside the save folder (${parent})` });
    return null;
  }
  return path.join(parent, path.basename(abs));
}

/** Unlink one file (a symlink as itself) once its folder is proven inside `root`; `linkOnly`: only if it is a symlink. */
export async function unlinkContained(root: string, abs: string, report: DeleteReport, linkOnly = false): Promise<void> {
  const target = await containedTarget(root, abs, report);
  if (target === null) return;
  try {
    const st = await fsp.lstat(target);
    if (st.isDirectory()) { report.kept.push({ path: abs, reason: 'a folder is there, not the torrent\'s file' }); return; }
    // A BEP 47 symlink entry: only a link is ours (storage never replaces what it found there instead).
    if (linkOnly && !st.isSymbolicLink()) { report.kept.push({ path: abs, reason: 'not a symbolic link, not the torrent\'s link' }); return; }
    await fsp.unlink(target);
    report.deleted.push(abs);
  } catch (e) {
    if (!isMissing(e)) report.kept.push({ path: abs, reason: errorMessage(e) });
  }
}

/** Remove one folder if it is empty, a real folder (not a link) and proven inside `root` (never `root` itself). */
export async function rmdirContained(root: string, abs: string, report: Pick<DeleteReport, 'removedDirs' | 'kept'>): Promise<void> {
  const target = await containedTarget(root, abs, report);
  if (target === null || target === root) return;
  try {
    const st = await fsp.lstat(target);
    if (!st.isDirectory()) return; // a symlink or a file: not a folder of ours
    await fsp.rmdir(target);
    report.removedDirs.push(abs);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOTEMPTY' || code === 'EEXIST') report.kept.push({ path: abs, reason: 'folder not empty' });
    else if (!isMissing(e)) report.kept.push({ path: abs, reason: errorMessage(e) });
  }
}

/** One line for a log: counts, then each kept path with its reason (at most `max`). */
export function describeDeletion(r: DeleteReport, max = 20): string {
  const head = `deleted ${r.deleted.length} file(s) and ${r.removedDirs.length} empty folder(s)`;
  if (r.kept.length === 0) return head;
  const list = r.kept.slice(0, max).map((k) => `${k.path} (${k.reason})`).join('; ');
  return `${head}; kept ${r.kept.length}: ${list}${r.kept.length > max ? '; ...' : ''}`;
}
