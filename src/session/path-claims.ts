/**
 * Which torrent of a session owns which absolute file path: the session's guard against two torrents sharing data.
 *
 * Policy (docs/design/storage.md, "Two torrents, one folder"): a torrent is refused (BtError 'PATH_CONFLICT') when one
 * of its non-pad files would be at the same absolute path as a file of a torrent already in the session, or when one
 * torrent's file is a folder of the other's (`doc/a` vs `doc/a/b`). Torrents that share folders but not files (two
 * torrents named `doc` with `doc/a.txt` and `doc/b.txt`) are allowed. Paths are compared lexically (as resolved by
 * `resolveInside`), so a folder reached through a symlink is not recognised as the same folder.
 *
 * Invariant: pure bookkeeping, no I/O; `claim` either registers every path of a torrent or none.
 */
import { resolveInside } from '../metainfo/index.js';
import { torrentFolders } from '../storage/delete-data.js';
import type { StorageMeta } from '../storage/storage.js';
import { BtError } from '../util/errors.js';

/** Who a torrent is, for messages. */
export interface ClaimOwner { key: string; label: string }

interface Paths { files: string[]; dirs: string[] }
interface Conflict { path: string; other: ClaimOwner; kind: 'same' | 'folder' }

export class PathClaims {
  private readonly files = new Map<string, ClaimOwner>();
  private readonly dirs = new Map<string, Map<string, ClaimOwner>>();
  private readonly byKey = new Map<string, Paths>();

  /** The absolute file paths and folder paths of `meta` under `saveDir` (non-pad files only). */
  private static pathsOf(meta: Pick<StorageMeta, 'files'>, saveDir: string): Paths {
    return {
      files: meta.files.filter((f) => !f.padding).map((f) => resolveInside(saveDir, f.path)),
      dirs: torrentFolders(meta).map((comps) => resolveInside(saveDir, comps)),
    };
  }

  /** The first conflict of these paths with a torrent other than `ignoreKey`, or undefined. */
  private conflictOf({ files, dirs }: Paths, ignoreKey?: string): Conflict | undefined {
    for (const p of files) {
      const owner = this.files.get(p);
      if (owner && owner.key !== ignoreKey) return { path: p, other: owner, kind: 'same' };
      for (const o of this.dirs.get(p)?.values() ?? []) if (o.key !== ignoreKey) return { path: p, other: o, kind: 'folder' };
    }
    for (const d of dirs) {
      const owner = this.files.get(d);
      if (owner && owner.key !== ignoreKey) return { path: d, other: owner, kind: 'folder' };
    }
    return undefined;
  }

  /** Throw BtError('PATH_CONFLICT') naming the other torrent when `meta` at `saveDir` would share its files. */
  check(meta: Pick<StorageMeta, 'files'> & { name: string }, saveDir: string, ignoreKey?: string): void {
    PathClaims.refuse(meta, this.conflictOf(PathClaims.pathsOf(meta, saveDir), ignoreKey));
  }

  private static refuse(meta: { name: string }, c: Conflict | undefined): void {
    if (!c) return;
    const what = c.kind === 'same' ? `${c.path} is also a file of torrent ${c.other.label}`
      : `${c.path} is a file in one torrent and a folder in the other (torrent ${c.other.label})`;
    throw new BtError('PATH_CONFLICT',
      `torrent ${JSON.stringify(meta.name)} would share data with another torrent: ${what}; add it with another download folder`);
  }

  /** Check, then register every path of `owner`'s torrent. */
  claim(owner: ClaimOwner, meta: Pick<StorageMeta, 'files'> & { name: string }, saveDir: string): void {
    const paths = PathClaims.pathsOf(meta, saveDir);
    PathClaims.refuse(meta, this.conflictOf(paths, owner.key));
    this.release(owner.key);
    for (const p of paths.files) this.files.set(p, owner);
    for (const d of paths.dirs) {
      let m = this.dirs.get(d);
      if (!m) { m = new Map(); this.dirs.set(d, m); }
      m.set(owner.key, owner);
    }
    this.byKey.set(owner.key, paths);
  }

  /** Forget every path of torrent `key`. */
  release(key: string): void {
    const paths = this.byKey.get(key);
    if (!paths) return;
    this.byKey.delete(key);
    for (const p of paths.files) if (this.files.get(p)?.key === key) this.files.delete(p);
    for (const d of paths.dirs) {
      const m = this.dirs.get(d);
      m?.delete(key);
      if (m && m.size === 0) this.dirs.delete(d);
    }
  }

  /** The torrent (other than `ignoreKey`) that lists file `absPath`, if any. */
  fileOwner(absPath: string, ignoreKey?: string): ClaimOwner | undefined {
    const o = this.files.get(absPath);
    return o && o.key !== ignoreKey ? o : undefined;
  }
}
