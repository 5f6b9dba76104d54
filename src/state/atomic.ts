/**
 * Atomic, durable file replacement and bounded reads for the state directory (reliability rule 9 in
 * docs/design/reliability.md; no BEP).
 *
 * Invariant: after `writeFileAtomic(path, data)` resolves, `path` holds exactly `data` and survives a crash or power
 * loss; if the process dies at any point before that, `path` holds either its old bytes or the new ones, never a mix.
 * This comes from: write a uniquely named temp file in the same folder, fsync it, rename it over the target (atomic
 * within one file system), then fsync the folder so the rename itself is durable. A temp file left by a crash has a
 * recognisable name (`.<base>.<pid>.<12 hex>.tmp`) and is removed by `removeStaleTempFiles` when the state directory
 * is opened under its lock.
 *
 * Errors are BtError('IO', "<op> <path>: <CODE>: <message>") with the original error as `cause`.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BtError, errnoOf, ioError, isMissing } from '../util/errors.js';

export { errnoOf, ioError, isMissing };


/** Names of temp files made by `writeFileAtomic`: `.<base>.<pid>.<12 hex>.tmp`. */
const TEMP_RE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/** True when `name` (a bare file name) is a temp file of `writeFileAtomic`. */
export function isTempFileName(name: string): boolean {
  return TEMP_RE.test(name);
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of a newly created file (default 0o600: state files may hold secrets). */
  mode?: number;
}

/** Codes with which some platforms/file systems refuse to fsync a directory; that step is then skipped. */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF', 'EACCES']);

/**
 * fsync the folder `dir`, so that a rename or unlink inside it is durable. Platforms that cannot fsync a folder
 * (see DIR_SYNC_UNSUPPORTED) are tolerated; other failures throw BtError('IO').
 */
export async function syncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await fsp.open(dir, 'r');
    await h.sync();
  } catch (e) {
    const code = errnoOf(e);
    if (code === undefined || !DIR_SYNC_UNSUPPORTED.has(code)) throw ioError('sync', dir, e);
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * Replace `file` with `data` atomically and durably: temp file in the same folder, write, fsync, rename over the
 * target, fsync the folder. On failure the temp file is removed and the target is left as it was (unless the
 * failure came after the rename, in which case the target already holds `data` but its durability is not proven).
 * @throws BtError('IO') naming the failed step (`create`, `write`, `sync`, `rename`) and the path.
 */
export async function writeFileAtomic(file: string, data: Buffer | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let h: FileHandle | undefined;
  let op = 'create';
  let renamed = false;
  try {
    h = await fsp.open(tmp, 'wx', opts.mode ?? 0o600);
    op = 'write';
    await h.writeFile(data);
    op = 'sync';
    await h.sync();
    op = 'close';
    const handle = h;
    h = undefined;
    await handle.close();
    op = 'rename';
    await fsp.rename(tmp, target);
    renamed = true;
  } catch (e) {
    await h?.close().catch(() => undefined);
    if (!renamed) await fsp.unlink(tmp).catch(() => undefined);
    throw ioError(op, op === 'rename' ? target : tmp, e);
  }
  await syncDir(dir);
}

/**
 * Read a whole file of at most `maxBytes` bytes. Resolves to null when the file (or a folder on its path) does not
 * exist.
 * @throws BtError('IO') on other failures, or when the file is larger than `maxBytes` (checked before reading it,
 *   and again while reading, in case it grows).
 */
export async function readFileCapped(file: string, maxBytes: number): Promise<Buffer | null> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`bad maxBytes ${maxBytes}`);
  let h: FileHandle;
  try {
    h = await fsp.open(file, 'r');
  } catch (e) {
    if (isMissing(e)) return null;
    throw ioError('open', file, e);
  }
  try {
    const r = new CappedRead(file, await h.stat(), maxBytes);
    for (;;) {
      const chunk = r.nextChunk();
      const done = r.took(chunk, (await h.read(chunk, 0, chunk.length, r.total)).bytesRead);
      if (done) return done;
    }
  } catch (e) {
    throw ioError('read', file, e);
  } finally {
    await h.close().catch(() => undefined);
  }
}

/**
 * The bookkeeping of a capped read, shared by the async and sync versions: read until end of file, never holding more
 * than maxBytes + 1 bytes (the file may grow after the stat). Usually one read of size + 1 bytes, no second call.
 */
class CappedRead {
  total = 0;
  private readonly parts: Buffer[] = [];
  private want: number;

  constructor(private readonly file: string, st: fs.Stats, private readonly maxBytes: number) {
    if (!st.isFile()) throw new BtError('IO', `read ${file}: not a regular file`);
    if (st.size > maxBytes) throw new BtError('IO', `read ${file}: ${st.size} bytes, more than the limit of ${maxBytes}`);
    this.want = Math.min(st.size + 1, maxBytes + 1);
  }

  nextChunk(): Buffer { return Buffer.allocUnsafe(this.want); }

  /** Takes one read's result; returns the file's bytes once it has ended, else null (read again at `total`). */
  took(chunk: Buffer, bytesRead: number): Buffer | null {
    if (bytesRead === 0) return Buffer.concat(this.parts, this.total);
    this.parts.push(chunk.subarray(0, bytesRead));
    this.total += bytesRead;
    if (this.total > this.maxBytes) throw new BtError('IO', `read ${this.file}: more than the limit of ${this.maxBytes} bytes`);
    // A short read of a regular file is its end.
    if (bytesRead < chunk.length) return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.total);
    this.want = Math.min(64 * 1024, this.maxBytes + 1 - this.total);
    return null;
  }
}

/**
 * `readFileCapped`, synchronously: for start-up, where a daemon reads a thousand small state files (one system call
 * each instead of four thread-pool round trips). Same results and errors.
 */
export function readFileCappedSync(file: string, maxBytes: number): Buffer | null {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`bad maxBytes ${maxBytes}`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if (isMissing(e)) return null;
    throw ioError('open', file, e);
  }
  try {
    const r = new CappedRead(file, fs.fstatSync(fd), maxBytes);
    for (;;) {
      const chunk = r.nextChunk();
      const done = r.took(chunk, fs.readSync(fd, chunk, 0, chunk.length, r.total));
      if (done) return done;
    }
  } catch (e) {
    throw ioError('read', file, e);
  } finally {
    try { fs.closeSync(fd); } catch { /* nothing to do */ }
  }
}

/** The names in folder `dir` (a missing folder has none). @throws BtError('IO') on other failures. */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw ioError('list', dir, e);
  }
}

/**
 * Delete the temp files that a crashed `writeFileAtomic` left in `dir` (only names matching its pattern). Call it
 * only while holding the state directory's lock, so no live writer's temp file is removed. Resolves to the number
 * removed; a missing folder counts as empty.
 */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await listNames(dir)) {
    if (!isTempFileName(name)) continue;
    try {
      await fsp.unlink(path.join(dir, name));
      removed++;
    } catch (e) {
      if (!isMissing(e)) throw ioError('unlink', path.join(dir, name), e);
    }
  }
  if (removed > 0) await syncDir(dir);
  return removed;
}
