/**
 * Where the CLI writes: checks made BEFORE any slow work (hashing, opening the port), and a .torrent write that
 * never truncates a file the user already has.
 *
 * Invariant: without `force`, an existing file is never touched (the write uses O_EXCL, so a file that appears
 * between the check and the write is refused too); with `force`, the new bytes go to a temporary file in the same
 * folder that is then renamed over the old one, so a failed write leaves the old file whole.
 * BEP: none (CLI file handling).
 */
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { BtError, errnoOf } from '../util/errors.js';
import type { OptionValue } from './args.js';

/** Where `create` and `share` write the .torrent for `input`: -o FILE, else <name>.torrent in the current folder. */
export function torrentOutPath(output: OptionValue, input: string): string {
  return resolve(typeof output === 'string' ? output : `${basename(resolve(input))}.torrent`);
}

/** The errno of a failed check as a few plain words. */
function why(err: unknown): string {
  switch (errnoOf(err)) {
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'ENOENT': return 'no such folder';
    default: return errnoOf(err) ?? String(err);
  }
}

/** The nearest existing ancestor of `abs` (itself included), with its stat; throws when a file blocks the path. */
async function nearestExisting(abs: string): Promise<{ path: string; isDir: boolean }> {
  let cur = abs;
  for (;;) {
    try {
      const st = await stat(cur);
      return { path: cur, isDir: st.isDirectory() };
    } catch (err) {
      const code = errnoOf(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err; // ENOTDIR: a file further up; found there
      const up = dirname(cur);
      if (up === cur) throw err;
      cur = up;
    }
  }
}

/**
 * A .torrent can be written at `out` (an absolute path): its folder exists and is writable, and, unless `force`,
 * no file is there yet. Throws BtError USAGE (exists) or IO (cannot write) with one clear line.
 */
export async function checkTorrentDestination(out: string, force: boolean): Promise<void> {
  const st = await stat(out).catch((err: unknown) => (errnoOf(err) === 'ENOENT' ? null : err as Error));
  if (st instanceof Error) throw new BtError('IO', `cannot write ${out}: ${why(st)}`);
  if (st && st.isDirectory()) throw new BtError('USAGE', `${out} is a folder (give a file name for the .torrent)`);
  if (st && !force) throw new BtError('USAGE', `${out} already exists (use --force to overwrite)`);
  try {
    const dir = dirname(out);
    const dst = await stat(dir);
    if (!dst.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new BtError('IO', `cannot write ${out}: ${why(err)}`);
  }
}

/**
 * `dir` (absolute) is, or can become, a writable download folder: it is a folder, or the nearest part of it that
 * exists is a writable folder. Creates nothing.
 */
export async function checkDownloadFolder(dir: string): Promise<void> {
  let found: { path: string; isDir: boolean };
  try {
    found = await nearestExisting(dir);
  } catch (err) {
    throw new BtError('IO', `cannot write to ${dir}: ${why(err)}`);
  }
  if (!found.isDir) {
    throw new BtError('IO', `cannot write to ${dir}: ${found.path === dir ? 'it is a file, not a folder' : `${found.path} is a file, not a folder`}`);
  }
  try {
    await access(found.path, constants.W_OK);
  } catch (err) {
    throw new BtError('IO', `cannot write to ${dir}: ${why(err)}`);
  }
}

/** Writes `data` to `out` without ever truncating an existing file (see the module comment). */
export async function writeTorrentFile(out: string, data: Uint8Array, force: boolean): Promise<void> {
  if (!force) {
    try {
      await writeFile(out, data, { flag: 'wx' });
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') throw new BtError('USAGE', `${out} already exists (use --force to overwrite)`);
      throw new BtError('IO', `cannot write ${out}: ${why(err)}`);
    }
    return;
  }
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new BtError('IO', `cannot write ${out}: ${why(err)}`);
  }
}
