/**
 * The state directory: settings, the torrents a session holds, and their resume data (reliability rule 9 in
 * docs/design/reliability.md; stores BEP 3 metainfo files as they were given).
 *
 * Layout:
 * ```
 * <dir>/lock                        "<pid>\n<token>\n" of the process that holds the directory
 * <dir>/settings.json               session settings (JSON object)
 * <dir>/torrents/<infohash>.torrent metainfo, byte for byte
 * <dir>/resume/<infohash>.resume    bencoded resume data (resume-codec.ts)
 * <dir>/magnets/<infohash>.json     pending magnet links (kept by magnet-store.ts, not by this class)
 * ```
 *
 * Invariants:
 * - One process at a time: `open` takes the `lock` file; a live holder makes it fail with BtError('USAGE'); a lock
 *   whose process is dead is taken over. Every later operation needs the lock (after `close`, BtError('ABORTED')).
 * - Every write is atomic and durable (writeFileAtomic); reads are size-capped.
 * - The only untrusted string that ever becomes part of a path is an info-hash, and only after it matched
 *   /^[0-9a-f]{40}$/i (it is lower-cased). Nothing else from a torrent or a caller is used in a path.
 * - Corrupt or unreadable resume data is never fatal: `loadResume` reports it through `onWarning` and answers null,
 *   and the torrent is rechecked.
 * - A resume file is not rewritten with the bytes it already holds: the store remembers a digest of what it last
 *   read or wrote for each torrent (it holds the lock, so nobody else writes there). A daemon restarting with a
 *   thousand unchanged torrents then writes nothing.
 */
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BtError, errorMessage } from '../util/errors.js';
import { MAX_TORRENT_SIZE } from '../metainfo/index.js';
import { errnoOf, ioError, isMissing, listNames, readFileCapped, readFileCappedSync, removeStaleTempFiles, syncDir, writeFileAtomic } from './atomic.js';
import { decodeResume, encodeResume, maxResumeSize, type ResumeData, type ResumeExpectation } from './resume.js';
import { createHash } from 'node:crypto';

/** A short fingerprint of a resume file's bytes (compared, never stored on disk). */
function resumeDigest(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('base64');
}

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions {
  /** Told about recoverable problems (corrupt resume data, stale lock taken over…). Default: ignored. */
  onWarning?: (message: string) => void;
}

/** Largest settings.json read. */
export const MAX_SETTINGS_SIZE = 1024 * 1024;

const HEX_RE = /^[0-9a-fA-F]{40}$/;
const TORRENT_FILE_RE = /^[0-9a-f]{40}\.torrent$/;
/** Helper files of the lock protocol: `lock.<pid>.<token>` and `lock.takeover.<pid>.<token>` (being created). */
const LOCK_AUX_RE = /^lock\.(?:takeover\.)?(\d{1,10})\.[0-9a-f]{16}$/;
/** Errors with which `link` says "not supported here"; the lock then falls back to O_EXCL creation. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/** Directories this process holds (or is acquiring) a lock on: a second `open` in the same process is refused. */
const heldLocks = new Set<string>();

/** The validated, lower-cased info-hash hex. @throws BtError('USAGE') */
function checkHex(hex: string): string {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new BtError('USAGE', `not an info-hash: ${JSON.stringify(String(hex).slice(0, 64))}`);
  }
  return hex.toLowerCase();
}

/** The PID on the first line of a lock file, or null if there is none that could be a process. */
function parsePid(content: string): number | null {
  const first = content.split('\n', 1)[0] ?? '';
  if (!/^\d{1,10}$/.test(first)) return null;
  const pid = Number(first);
  return pid >= 1 && pid <= 0x7fffffff ? pid : null;
}

/** True when a process with this PID exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

/** A small file's text, or null when it does not exist. Unreadable files throw (never guessed to be stale). */
async function readText(file: string): Promise<string | null> {
  const buf = await readFileCapped(file, 4096);
  return buf === null ? null : buf.toString('utf8');
}

async function writeNew(file: string, content: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await fsp.open(file, 'wx', 0o644);
    await h.writeFile(content);
    await h.sync();
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * Create `lockPath` holding `content`, only if it does not exist. The content is written to a private file first
 * and hard-linked into place, so a reader never sees a half-written lock; where links are not supported, O_EXCL
 * creation is used instead. Resolves to false when the lock already exists.
 */
async function tryCreateLock(lockPath: string, content: string, token: string): Promise<boolean> {
  const tmp = `${lockPath}.${process.pid}.${token}`;
  try {
    await writeNew(tmp, content);
    try {
      await fsp.link(tmp, lockPath);
      return true;
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'EEXIST') return false;
      if (code === undefined || !LINK_UNSUPPORTED.has(code)) throw e;
    }
    try {
      await writeNew(lockPath, content);
      return true;
    } catch (e) {
      if (errnoOf(e) === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw ioError('lock', lockPath, e);
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

/**
 * Remove the lock if it still holds exactly `stale`, under the takeover mutex `lock.takeover` (created the same
 * way as the lock). Removal is the only dangerous step (two processes could each remove the other's fresh lock);
 * under the mutex, "read, compare, unlink" is safe because nobody can create a lock while the stale one exists,
 * and nobody else removes one. Resolves to false when another process holds the mutex (try again shortly).
 */
async function removeStaleLock(lockPath: string, stale: string, token: string): Promise<boolean> {
  const mutex = path.join(path.dirname(lockPath), 'lock.takeover');
  if (!(await tryCreateLock(mutex, `${process.pid}\n${token}\n`, token))) {
    // Someone else is taking over. A mutex left by a process that died in that (tiny) window is removed.
    const content = await readText(mutex);
    const pid = content === null ? null : parsePid(content);
    if (content !== null && (pid === null || (pid !== process.pid && !isAlive(pid)))) {
      await fsp.unlink(mutex).catch(() => undefined);
    }
    return false;
  }
  try {
    if ((await readText(lockPath)) === stale) {
      await fsp.unlink(lockPath).catch((e: unknown) => { if (!isMissing(e)) throw ioError('unlink', lockPath, e); });
    }
  } finally {
    await fsp.unlink(mutex).catch(() => undefined);
  }
  return true;
}

/** The persistent state of a session. Create with {@link StateStore.open}; call `close` when done. */
export class StateStore {
  private closed = false;
  /** SHA-1 of each resume file's bytes as last read or written by this store (absent: unknown). */
  private readonly resumeDigest = new Map<string, string>();

  private constructor(
    /** Absolute path of the state directory. */
    readonly dir: string,
    private readonly token: string,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Open (creating if needed) the state directory `dir` with `torrents/` and `resume/` in it, take its lock, and
   * remove temp files that a crash left behind (there and in `magnets/`, magnet-store.ts's folder).
   * @throws BtError('USAGE', "state directory <dir> is in use by pid N") when a live process holds the lock;
   *   BtError('IO') when the folders cannot be created or the lock written.
   */
  static async open(dir: string, opts: StateStoreOptions = {}): Promise<StateStore> {
    const root = path.resolve(dir);
    const warn = opts.onWarning ?? (() => undefined);
    for (const d of [root, path.join(root, 'torrents'), path.join(root, 'resume')]) {
      await fsp.mkdir(d, { recursive: true, mode: 0o700 }).catch((e: unknown) => { throw ioError('mkdir', d, e); });
    }
    const token = await StateStore.lock(root, warn);
    const store = new StateStore(root, token, warn);
    try {
      let n = 0;
      for (const d of [root, path.join(root, 'torrents'), path.join(root, 'resume'), path.join(root, 'magnets')]) {
        n += await removeStaleTempFiles(d);
      }
      if (n > 0) warn(`removed ${n} temp file(s) left in ${root} by an interrupted write`);
      await store.removeLockLeftovers();
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    return store;
  }

  private static async lock(root: string, warn: (message: string) => void): Promise<string> {
    const lockPath = path.join(root, 'lock');
    if (heldLocks.has(root)) throw new BtError('USAGE', `state directory ${root} is in use by pid ${process.pid}`);
    heldLocks.add(root);
    try {
      const token = randomBytes(8).toString('hex');
      const content = `${process.pid}\n${token}\n`;
      for (let attempt = 0; attempt < 50; attempt++) {
        if (await tryCreateLock(lockPath, content, token)) {
          await syncDir(root);
          // Paranoia against a racing stale-lock takeover: the lock must be ours now.
          if ((await readText(lockPath)) === content) return token;
          continue;
        }
        const existing = await readText(lockPath);
        if (existing === null) continue; // vanished meanwhile: try again
        const pid = parsePid(existing);
        // Our own PID in a lock we do not hold (see heldLocks) is a leftover of a previous process with that PID.
        if (pid !== null && pid !== process.pid && isAlive(pid)) {
          throw new BtError('USAGE', `state directory ${root} is in use by pid ${pid}`);
        }
        if (await removeStaleLock(lockPath, existing, token)) {
          warn(`took over the stale lock of ${root} (${pid === null ? 'unreadable lock file' : `pid ${pid} no longer holds it`})`);
        } else {
          await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 40)));
        }
      }
      throw new BtError('USAGE', `state directory ${root}: could not take its lock (contended)`);
    } catch (e) {
      heldLocks.delete(root);
      throw e;
    }
  }

  /** Remove helper files of the lock protocol left by processes that are gone. */
  private async removeLockLeftovers(): Promise<void> {
    for (const name of await fsp.readdir(this.dir)) {
      const m = LOCK_AUX_RE.exec(name);
      if (!m || isAlive(Number(m[1]))) continue;
      await fsp.unlink(path.join(this.dir, name)).catch(() => undefined);
    }
  }

  private check(): void {
    if (this.closed) throw new BtError('ABORTED', `state directory ${this.dir} is closed`);
  }

  private get settingsPath(): string { return path.join(this.dir, 'settings.json'); }
  private torrentPath(hex: string): string { return path.join(this.dir, 'torrents', `${checkHex(hex)}.torrent`); }
  private resumePath(hex: string): string { return path.join(this.dir, 'resume', `${checkHex(hex)}.resume`); }

  /**
   * The saved settings, or null when there are none.
   * @throws BtError('USAGE') when settings.json is not a JSON object (a hand edit gone wrong: the user must fix it);
   *   BtError('IO') when it cannot be read or is over MAX_SETTINGS_SIZE.
   */
  async loadSettings(): Promise<Record<string, unknown> | null> {
    this.check();
    const file = this.settingsPath;
    const buf = await readFileCapped(file, MAX_SETTINGS_SIZE);
    if (buf === null) return null;
    let value: unknown;
    try {
      // Keys that could reach a prototype if a caller later merges the object with Object.assign are dropped.
      value = JSON.parse(buf.toString('utf8'), (k, v: unknown) =>
        (k === '__proto__' || k === 'constructor' || k === 'prototype' ? undefined : v));
    } catch (e) {
      throw new BtError('USAGE', `settings file ${file} is not valid JSON: ${errorMessage(e)}`, { cause: e });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BtError('USAGE', `settings file ${file} does not hold a JSON object`);
    }
    return value as Record<string, unknown>;
  }

  /** Replace settings.json (atomically) with `obj` as JSON. @throws BtError('IO') */
  async saveSettings(obj: Record<string, unknown>): Promise<void> {
    this.check();
    await writeFileAtomic(this.settingsPath, `${JSON.stringify(obj, null, 2)}\n`);
  }

  /** Info-hashes (lower-case hex, sorted) of the torrents whose metainfo is stored. */
  async listTorrents(): Promise<string[]> {
    this.check();
    const names = await listNames(path.join(this.dir, 'torrents'));
    return names.filter((n) => TORRENT_FILE_RE.test(n)).map((n) => n.slice(0, 40)).sort();
  }

  /**
   * Store a torrent's metainfo (the .torrent bytes, unchanged). The caller has parsed it and knows its info-hash.
   * @throws BtError('USAGE') for a bad info-hash or bytes over MAX_TORRENT_SIZE; BtError('IO')
   */
  async saveMetainfo(infoHashHex: string, torrentBytes: Uint8Array): Promise<void> {
    this.check();
    const file = this.torrentPath(infoHashHex);
    if (torrentBytes.length > MAX_TORRENT_SIZE) {
      throw new BtError('USAGE', `metainfo of ${torrentBytes.length} bytes is over the limit of ${MAX_TORRENT_SIZE}`);
    }
    await writeFileAtomic(file, Buffer.from(torrentBytes.buffer, torrentBytes.byteOffset, torrentBytes.length));
  }

  /**
   * The stored metainfo bytes, or null. Not parsed here: the caller parses them and must check that the parsed
   * info-hash equals `hex`. @throws BtError('IO')
   */
  async loadMetainfo(hex: string): Promise<Buffer | null> {
    this.check();
    return readFileCapped(this.torrentPath(hex), MAX_TORRENT_SIZE);
  }

  /**
   * `loadMetainfo`, synchronously: for start-up, where a thousand small files are read far faster this way (the
   * caller reads a few at a time and lets the event loop run in between).
   */
  loadMetainfoSync(hex: string): Buffer | null {
    this.check();
    return readFileCappedSync(this.torrentPath(hex), MAX_TORRENT_SIZE);
  }

  /**
   * Replace a torrent's resume data (atomically, durably). `data.infoHash` must be the torrent `hex`.
   * @throws RangeError when they differ or `data` is inconsistent; BtError('IO')
   */
  async saveResume(hex: string, data: ResumeData): Promise<void> {
    this.check();
    const file = this.resumePath(hex);
    const key = hex.toLowerCase();
    if (data.infoHash.toString('hex') !== key) throw new RangeError(`resume data of another torrent for ${hex}`);
    const bytes = encodeResume(data);
    const digest = resumeDigest(bytes);
    if (this.resumeDigest.get(key) === digest) return;
    this.resumeDigest.delete(key); // unknown until the write is done
    await writeFileAtomic(file, bytes);
    this.resumeDigest.set(key, digest);
  }

  /**
   * A torrent's validated resume data, or null when it is missing, unreadable or does not match `expected` (the
   * reason of the last two goes to `onWarning`). The info-hash is checked against `hex`.
   */
  async loadResume(hex: string, expected: Pick<ResumeExpectation, 'pieceCount' | 'fileCount'>): Promise<ResumeData | null> {
    this.check();
    const file = this.resumePath(hex);
    this.resumeDigest.delete(hex.toLowerCase());
    let buf: Buffer | null;
    try {
      buf = await readFileCapped(file, maxResumeSize(expected.pieceCount, expected.fileCount));
    } catch (e) {
      this.warn(`resume data ${file} ignored, the torrent will be rechecked: ${errorMessage(e)}`);
      return null;
    }
    return this.decodeResumeFile(hex, file, buf, expected);
  }

  /** `loadResume`, synchronously (see `loadMetainfoSync`). */
  loadResumeSync(hex: string, expected: Pick<ResumeExpectation, 'pieceCount' | 'fileCount'>): ResumeData | null {
    this.check();
    const file = this.resumePath(hex);
    this.resumeDigest.delete(hex.toLowerCase());
    let buf: Buffer | null;
    try {
      buf = readFileCappedSync(file, maxResumeSize(expected.pieceCount, expected.fileCount));
    } catch (e) {
      this.warn(`resume data ${file} ignored, the torrent will be rechecked: ${errorMessage(e)}`);
      return null;
    }
    return this.decodeResumeFile(hex, file, buf, expected);
  }

  private decodeResumeFile(hex: string, file: string, buf: Buffer | null, expected: Pick<ResumeExpectation, 'pieceCount' | 'fileCount'>): ResumeData | null {
    if (buf === null) return null;
    try {
      const data = decodeResume(buf, { pieceCount: expected.pieceCount, fileCount: expected.fileCount,
        infoHash: Buffer.from(hex, 'hex') });
      this.resumeDigest.set(hex.toLowerCase(), resumeDigest(buf));
      return data;
    } catch (e) {
      this.warn(`resume data ${file} ignored, the torrent will be rechecked: ${errorMessage(e)}`);
      return null;
    }
  }

  /** Forget a torrent: delete its metainfo and resume data (missing files are fine). @throws BtError('IO') */
  async removeTorrent(hex: string): Promise<void> {
    this.check();
    this.resumeDigest.delete(checkHex(hex));
    for (const file of [this.torrentPath(hex), this.resumePath(hex)]) {
      try {
        await fsp.unlink(file);
      } catch (e) {
        if (!isMissing(e)) throw ioError('unlink', file, e);
      }
      await syncDir(path.dirname(file));
    }
  }

  /** Release the lock (if it is still ours). Further calls fail with BtError('ABORTED'). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lockPath = path.join(this.dir, 'lock');
    try {
      if ((await readText(lockPath)) === `${process.pid}\n${this.token}\n`) {
        await fsp.unlink(lockPath).catch((e: unknown) => { if (!isMissing(e)) throw ioError('unlink', lockPath, e); });
        await syncDir(this.dir);
      }
    } finally {
      heldLocks.delete(this.dir);
    }
  }
}
