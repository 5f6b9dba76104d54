/**
 * File-system storage: a torrent's pieces mapped onto its files under a save folder (BEP 3 layout; BEP 47 padding
 * files are never written and read as zeros).
 *
 * Invariants:
 * - Containment (reliability rule 1 in docs/design/reliability.md): every path comes from `resolveInside(saveDir,
 *   file.path)`; before a file is created or opened, the real path of its parent folder must lie inside the real save
 *   folder; folders are created one component at a time under an already verified real folder; the final component is
 *   opened with O_NOFOLLOW (a planted symlink is refused with BtError('BAD_PATH')) and must be a regular file.
 * - Exception, reads only: with `followLinks` (seeding a folder the user chose, whose torrent `create` made by
 *   following its symlinks) the storage is read-only and opens files through symlinks; nothing is ever written
 *   through a link, and every storage that writes (downloads) keeps O_NOFOLLOW and the containment proof.
 * - Folders and files are created only when a piece inside them is written (zero-length files: when the piece
 *   around their offset is written, or by `prepare` at completion). The storage remembers what it created (files
 *   opened with O_CREAT|O_EXCL, folders its mkdir made) so a failed add can remove exactly that (`removeCreated`).
 * - BEP 47 (at completion, `prepare`): a symlink entry is created as a relative symlink only when its target, resolved
 *   (real path of whatever part of it exists), lies inside the torrent's folder (`save/name` for a multi-file
 *   torrent, the save folder for a single file); otherwise, or when something else is already at its path, it is
 *   skipped and the reason added to `warnings` (never an error, never a replaced file). Its text is relative to the
 *   real folder it is created in (that folder may be reached through an earlier link). No data file is ever opened
 *   through a symlink (O_NOFOLLOW and the parent-folder proof above). An executable (`x`) file gets the execute bit
 *   wherever it has the read bit (chmod through its O_NOFOLLOW descriptor).
 * - At most `maxOpenFiles` descriptors are open (FdPool), and none is closed while an operation uses it.
 * - A caller's buffer is never touched after the returned promise settles (every span settles first).
 * - fs failures surface as BtError('IO', "<op> <path>: <CODE>: <message>") with the original error as `cause`.
 * - Durability: `flush()` resolves only when every write completed before the call is covered by an fdatasync that
 *   began after that write (background write-back sweeps included: write-back.ts); `close()` flushes before it
 *   closes the descriptors. Resume data relies on this (docs/design/persistence.md).
 * - With `pieceWorker` (piece-writer.ts), pieces are written by another thread into descriptors this storage holds
 *   busy in its FdPool until that thread answers; the files are marked dirty before the write is reported done, so
 *   the rule above covers those writes too.
 */
import * as fsp from 'node:fs/promises';
import { constants as C, readSync, realpathSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BtError, diskOp, errnoOf, ioError as fsIoError, isBtError, isMissing, type ErrorOp } from '../util/errors.js';
import { FdPool } from './fd-pool.js';
import { WriteBackPlan, type WriteBackOptions } from './write-back.js';
import { openOnPool, openSyncNow, type OpenRequest, type Opened, type RawFile } from './raw-file.js';
import { pieceSize, pieceSpans, resolveInside, type FileSpan } from '../metainfo/index.js';
import { isInside, rangeSpans } from './spans.js';
import { rmdirContained, unlinkContained, type DeleteReport } from './delete-data.js';
import type { Storage, StorageMeta } from './storage.js';
import { createHash } from 'node:crypto';
import { RING } from './piece-writer-ring.js';
import { sharedPieceWriter, type PieceWriter, type WriteSpan } from './piece-writer.js';

/** Options of `FsStorage.open`. */
export interface FsStorageOptions {
  /** Cap on open file descriptors (default 64). */
  maxOpenFiles?: number;
  /** Never create or write anything; files are opened O_RDONLY. */
  readOnly?: boolean;
  /**
   * Read through symbolic links (implies `readOnly`): for seeding a folder whose torrent was made by following its
   * links (`create`/`share`, as mktorrent). Never used for a torrent that downloads.
   */
  followLinks?: boolean;
  /** Always read and write through the thread pool, never by synchronous calls (see SLOW_CALL_MS). Default false. */
  asyncIo?: boolean;
  /** Background write-back thresholds (write-back.ts); `false` turns it off (flush then syncs everything). */
  writeBack?: WriteBackOptions | false;
  /**
   * Offer `verifyAndWrite`: downloaded pieces are hashed and written on the piece-writer thread (piece-writer.ts)
   * instead of on the caller's thread. `true` uses the process's shared writer; tests may pass their own. Default false.
   */
  pieceWorker?: boolean | PieceWriter;
}

/**
 * How many files a background write-back sweep, and a flush, sync at once. An fdatasync of a small new file waits for
 * a journal commit (~2.7 ms each one at a time on the benchmark machine, 0.3 ms each 16 at a time: the commits are
 * shared); the download itself no longer uses the thread pool (synchronous pwrite/open), so the sweeps may fill it.
 */
const SWEEP_PARALLELISM = 8;
const FLUSH_PARALLELISM = 16;

/** How many spans of one piece are read or written at once. */
const SPAN_PARALLELISM = 8;

/**
 * Piece writes, and the piece and block reads of the upload path, are done with synchronous pread/pwrite while those
 * stay fast (the page cache). Measured on a 2-core machine (1 GiB download, 256 KiB pieces), a write handed to
 * libuv's thread pool cost the process ~1.4 CPU-s/GiB more than the same write done in place (a thread wake-up and a
 * cross-core hand-off per piece) and 20 MB more RSS; reads behave alike. A synchronous call blocks the event loop,
 * though, when the kernel has to wait for a disk (a cold read, dirty-page throttling, a network file system):
 * SLOW_CALLS_TO_SWITCH calls slower than SLOW_CALL_MS within SLOW_WINDOW_MS switch that kind of call to the thread
 * pool for SYNC_RETRY_MS. (A slow call alone is usually the scheduler, not the disk: with 9 busy processes on 2
 * cores, 10-20 ms preemptions of a page-cache write are common, so the threshold sits well above a time slice.) Start-up checks always read
 * through the thread pool: they read large batches while hashing on other threads.
 */
const SLOW_CALL_MS = 40;
const SLOW_CALLS_TO_SWITCH = 3;
const SLOW_WINDOW_MS = 2_000;
const SYNC_RETRY_MS = 10_000;

/** Decides whether the next call of one kind (reads or writes) may be synchronous; see SLOW_CALL_MS. */
export class SyncPolicy {
  private asyncUntil = 0;
  private slow: number[] = [];
  constructor(
    private readonly now: () => number = () => performance.now(),
    /** Never allow synchronous calls (the `asyncIo` option): always the thread pool. */
    private readonly never = false,
  ) {}

  get allowed(): boolean { return !this.never && this.now() >= this.asyncUntil; }

  /** Record a synchronous call that ran from `t0` to `t1` (performance.now() ms). */
  note(t0: number, t1: number): void {
    if (t1 - t0 <= SLOW_CALL_MS) return;
    this.slow = this.slow.filter((t) => t1 - t <= SLOW_WINDOW_MS);
    this.slow.push(t1);
    if (this.slow.length >= SLOW_CALLS_TO_SWITCH) {
      this.asyncUntil = t1 + SYNC_RETRY_MS;
      this.slow = [];
    }
  }
}


/** Wrap an fs error as BtError('IO') naming the operation, the path and the errno code; a refused symlink
 * (ELOOP from O_NOFOLLOW) is BtError('BAD_PATH'). Its `op` is disk-read or disk-write (`diskOp`, or `errOp`).
 * BtErrors pass through. */
export function ioError(op: string, p: string, e: unknown, errOp: ErrorOp = diskOp(op)): BtError {
  if (!isBtError(e) && errnoOf(e) === 'ELOOP') {
    const msg = e instanceof Error ? e.message : String(e);
    return new BtError('BAD_PATH', `${op} ${p}: refusing a symbolic link (${msg})`, { cause: e, op: errOp });
  }
  return fsIoError(op, p, e, errOp);
}

/**
 * Run `fn` over `items` with at most `limit` in flight and wait for all to settle (the caller's buffer is then free
 * again). Rejects with the first failure that is not "missing data", else the first failure.
 */
async function settleAll<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try { out[i] = await fn(items[i]!); } catch (e) { errors.push(e); }
    }
  };
  const lanes: Promise<void>[] = [];
  for (let k = 0; k < Math.min(limit, items.length); k++) lanes.push(lane());
  await Promise.all(lanes);
  if (errors.length > 0) throw errors.find((e) => !isMissing(e)) ?? errors[0];
  return out;
}

/** Piece storage on the local file system. Create with `FsStorage.open`. */
export class FsStorage implements Storage {
  private readonly pool: FdPool<RawFile>;
  private readonly paths: (string | null)[]; // null for padding files
  private rootReal: string | null = null;
  /** Folders made (or found) and proven inside, by their components joined with '/': their real paths. */
  private readonly dirsMade = new Map<string, Promise<string>>();
  /** Files written since the fdatasync that covers them began (or with none). */
  private readonly dirty = new Set<number>();
  /** The fdatasync in flight of each file (at most one per file). */
  private readonly syncing = new Map<number, Promise<void>>();
  private readonly writeBack: WriteBackPlan | null;
  private readonly emptyMade = new Set<number>();
  /** Zero-length files to create when a piece around their offset is written. */
  private readonly emptyByPiece = new Map<number, number[]>();
  private active = 0;
  private closing = false;
  private closed: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly syncWrites: SyncPolicy;
  private readonly syncReads: SyncPolicy;
  /** Files this storage created (O_CREAT of a file that did not exist), by index. */
  private readonly createdFiles = new Set<number>();
  /** Files opened for writing at least once (whether this storage created them is known: `createdFiles`). */
  private readonly openedForWrite = new Set<number>();
  /** Folders this storage's mkdir made (absolute, lexical), in creation order. */
  private readonly createdDirs: string[] = [];
  /** The piece-writer thread, when the `pieceWorker` option asked for it (then `verifyAndWrite` is offered). */
  private readonly writer: PieceWriter | null = null;
  /** Serialises the acquisition of several files' handles for one piece (no two pieces each holding part of the pool). */
  private acquiring: Promise<void> = Promise.resolve();
  /**
   * Hash `data` and, only if its SHA-1 equals `expected`, write it as piece `piece`; resolves true when written, false
   * when the digest differs (nothing written). The hash and the pwrite run on the piece-writer thread when `data`
   * lives in a SharedArrayBuffer and the piece has at most RING.MAX_SPANS file spans; otherwise on this thread.
   * Present only with the `pieceWorker` option (see Storage.verifyAndWrite).
   */
  readonly verifyAndWrite?: (piece: number, data: Buffer, expected: Uint8Array) => Promise<boolean>;
  /** Pieces the writer thread has not finished (of every storage sharing it); present with `verifyAndWrite`. */
  readonly writerQueue?: () => number;

  private constructor(
    private readonly meta: StorageMeta,
    /** Absolute save folder (the folder that holds the torrent's name). */
    readonly saveDir: string,
    private readonly readOnly: boolean,
    maxOpenFiles: number,
    private readonly followLinks = false,
    asyncIo = false,
    writeBack: WriteBackOptions | false = {},
    pieceWorker: boolean | PieceWriter = false,
  ) {
    if (pieceWorker !== false && !readOnly) {
      this.writer = pieceWorker === true ? sharedPieceWriter() : pieceWorker;
      this.verifyAndWrite = (piece, data, expected) => this.track(() => this.doVerifyAndWrite(piece, data, expected));
      const writer = this.writer;
      this.writerQueue = () => writer.queued;
    }
    this.writeBack = readOnly || writeBack === false ? null : new WriteBackPlan(writeBack);
    this.syncWrites = new SyncPolicy(undefined, asyncIo);
    this.syncReads = new SyncPolicy(undefined, asyncIo);
    this.paths = meta.files.map((f) => (f.padding ? null : resolveInside(saveDir, f.path)));
    meta.files.forEach((f, i) => {
      if (f.length !== 0 || f.padding || f.symlinkTarget !== undefined) return;
      const piece = Math.max(0, Math.min(meta.pieceCount - 1, Math.floor(f.offset / meta.pieceLength)));
      const list = this.emptyByPiece.get(piece) ?? [];
      list.push(i);
      this.emptyByPiece.set(piece, list);
    });
    this.pool = new FdPool(maxOpenFiles, (i, w) => this.openFile(i, w));
  }

  /**
   * Open storage for `meta` under `saveDir`. Validates every path (BtError('BAD_PATH')); does not create anything.
   */
  static async open(meta: StorageMeta, saveDir: string, opts: FsStorageOptions = {}): Promise<FsStorage> {
    const follow = opts.followLinks ?? false;
    const s = new FsStorage(meta, path.resolve(saveDir), follow || (opts.readOnly ?? false), opts.maxOpenFiles ?? 64, follow,
      opts.asyncIo ?? false, opts.writeBack ?? {}, opts.pieceWorker ?? false);
    await s.root(false).catch((e: unknown) => { if (!isMissing(e)) throw e; });
    return s;
  }

  /** Absolute path of file `index` (lexical; containment is enforced at open time). */
  filePath(index: number): string | null { return this.paths[index] ?? null; }

  /** Descriptors open right now / at most so far (stats and tests). */
  get openFiles(): number { return this.pool.openCount; }
  get peakOpenFiles(): number { return this.pool.peakOpen; }

  read(piece: number, begin: number, length: number): Promise<Buffer> {
    return this.track(() => this.doRead(piece, begin, length));
  }

  private async doRead(piece: number, begin: number, length: number): Promise<Buffer> {
    const spans = pieceSpans(this.meta, piece, begin, length);
    const buf = Buffer.allocUnsafe(length);
    const got = await settleAll(spans, SPAN_PARALLELISM, (s) => this.readSpan(s, buf, s.pieceOffset - begin, true));
    const short = spans.findIndex((s, k) => got[k]! < s.length);
    if (short >= 0) {
      const f = spans[short]!.fileIndex;
      throw new BtError('IO', `read ${this.paths[f]}: beyond end of file (piece ${piece}, ${begin}+${length})`);
    }
    return buf;
  }

  readPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    return this.track(() => this.doReadPiece(piece, into));
  }

  private async doReadPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    const size = pieceSize(this.meta, piece);
    if (into && into.length < size) throw new RangeError(`buffer of ${into.length} bytes for piece of ${size}`);
    const buf = into ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    const spans = pieceSpans(this.meta, piece);
    try {
      const got = await settleAll(spans, SPAN_PARALLELISM, (s) => this.readSpan(s, buf, s.pieceOffset, true));
      return spans.every((s, k) => got[k]! >= s.length) ? buf : null;
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  readPieces(first: number, count: number, into: Buffer): Promise<boolean[]> {
    return this.track(() => this.doReadPieces(first, count, into));
  }

  private async doReadPieces(first: number, count: number, into: Buffer): Promise<boolean[]> {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > this.meta.pieceCount) {
      throw new RangeError(`pieces ${first}+${count} out of range 0..${this.meta.pieceCount - 1}`);
    }
    const start = first * this.meta.pieceLength;
    const end = Math.min(this.meta.totalLength, (first + count) * this.meta.pieceLength);
    if (into.length < end - start) throw new RangeError(`buffer of ${into.length} bytes for ${end - start}`);
    const spans = rangeSpans(this.meta, start, end - start);
    const absent = await this.absentFolders(spans);
    const got = await settleAll(spans, SPAN_PARALLELISM, (s) => (absent.has(path.dirname(this.paths[s.fileIndex] ?? '')) ? Promise.resolve(0)
      : this.readSpan(s, into, s.pieceOffset).catch((e: unknown) => { if (isMissing(e)) return 0; throw e; })));
    const present = new Array<boolean>(count).fill(true);
    spans.forEach((s, k) => {
      if (got[k]! >= s.length) return;
      // Bytes [s.pieceOffset + got, s.pieceOffset + s.length) of the range are missing.
      const lo = Math.floor((s.pieceOffset + got[k]!) / this.meta.pieceLength);
      const hi = Math.floor((s.pieceOffset + s.length - 1) / this.meta.pieceLength);
      for (let p = lo; p <= hi; p++) present[p] = false;
    });
    return present;
  }

  /**
   * The folders of `spans`' files that do not exist (ENOENT, one stat per folder): their files are missing, and a
   * start-up check of a fresh download skips them instead of failing one open (and building one error) per file.
   */
  private async absentFolders(spans: readonly FileSpan[]): Promise<Set<string>> {
    const dirs = new Set<string>();
    for (const s of spans) { const p = this.paths[s.fileIndex]; if (p) dirs.add(path.dirname(p)); }
    const absent = new Set<string>();
    if (this.syncReads.allowed) {
      this.timed(this.syncReads, () => {
        for (const d of dirs) {
          try { if (statSync(d, { throwIfNoEntry: false }) === undefined) absent.add(d); } catch { /* not provably absent */ }
        }
      });
    } else {
      await Promise.all([...dirs].map((d) => fsp.stat(d).catch((e: unknown) => { if (errnoOf(e) === 'ENOENT') absent.add(d); })));
    }
    return absent;
  }

  writePiece(piece: number, data: Buffer): Promise<void> {
    // A verified piece in a shared buffer goes to the writer thread too (the downloader hashed it itself).
    if (this.writer && data.buffer instanceof SharedArrayBuffer) {
      return this.track(async () => { await this.doVerifyAndWrite(piece, data, null); });
    }
    return this.track(() => this.doWritePiece(piece, data));
  }

  private async doWritePiece(piece: number, data: Buffer): Promise<void> {
    if (this.readOnly) throw new BtError('IO', `write piece ${piece}: storage is read-only`);
    const size = pieceSize(this.meta, piece);
    if (data.length !== size) throw new RangeError(`piece ${piece} is ${size} bytes, got ${data.length}`);
    const spans = pieceSpans(this.meta, piece).filter((s) => !this.meta.files[s.fileIndex]!.padding);
    const empties = (this.emptyByPiece.get(piece) ?? []).filter((i) => !this.emptyMade.has(i));
    const jobs: Array<() => Promise<void>> = [
      ...spans.map((s) => () => this.writeSpan(s, data)),
      ...empties.map((i) => () => this.touchEmpty(i)),
    ];
    await settleAll(jobs, SPAN_PARALLELISM, (job) => job());
  }

  /** `expected` null: the caller verified the piece (writePiece); write it on the writer thread without hashing. */
  private async doVerifyAndWrite(piece: number, data: Buffer, expected: Uint8Array | null): Promise<boolean> {
    if (this.readOnly) throw new BtError('IO', `write piece ${piece}: storage is read-only`);
    const size = pieceSize(this.meta, piece);
    if (data.length !== size) throw new RangeError(`piece ${piece} is ${size} bytes, got ${data.length}`);
    const spans = pieceSpans(this.meta, piece).filter((s) => !this.meta.files[s.fileIndex]!.padding);
    const writer = this.writer;
    if (!writer || !(data.buffer instanceof SharedArrayBuffer) || spans.length > RING.MAX_SPANS) {
      // Many small files in one piece (or a plain buffer): hashed here, then the ordinary write.
      if (expected !== null && !createHash('sha1').update(data).digest().equals(expected)) return false;
      await this.doWritePiece(piece, data);
      return true;
    }
    const files = [...new Set(spans.map((s) => s.fileIndex))];
    // Each file's handle stays busy (never evicted or closed) from here until the worker has answered.
    const fds = new Map<number, number>();
    let free!: () => void;
    const hold = new Promise<void>((r) => { free = r; });
    const uses: Promise<void>[] = [];
    const acquire = async (): Promise<void> => {
      for (const i of files) {
        let got!: () => void;
        const acquired = new Promise<void>((r) => { got = r; });
        const use = this.pool.use(i, true, async (h) => { fds.set(i, h.fd); got(); await hold; });
        uses.push(use);
        await Promise.race([acquired, use]);
      }
    };
    let result;
    try {
      if (files.length === 1) {
        await acquire();
      } else {
        const turn = this.acquiring.then(acquire);
        this.acquiring = turn.catch(() => undefined);
        await turn;
      }
      const jobSpans: WriteSpan[] = spans.map((s) => ({ fd: fds.get(s.fileIndex)!, at: s.pieceOffset, length: s.length, position: s.fileOffset }));
      result = await writer.run(data, expected, jobSpans);
      if (result.status !== 'bad') {
        // Mark dirty while the handles are still held, before anyone can see the write as done.
        const written = result.status === 'ok' ? spans.length : result.span + (result.written > 0 ? 1 : 0);
        for (let k = 0; k < written; k++) this.dirty.add(spans[k]!.fileIndex);
      }
    } finally {
      free();
      await Promise.allSettled(uses);
    }
    if (result.status === 'bad') return false;
    if (result.status === 'error') throw ioError('write', this.paths[spans[result.span]!.fileIndex]!, result.error);
    if (this.writeBack?.note(size)) this.sweep();
    const empties = (this.emptyByPiece.get(piece) ?? []).filter((i) => !this.emptyMade.has(i));
    if (empties.length > 0) await settleAll(empties, SPAN_PARALLELISM, (i) => this.touchEmpty(i));
    return true;
  }

  prepare(): Promise<void> {
    return this.track(() => this.doPrepare());
  }

  private async doPrepare(): Promise<void> {
    if (this.readOnly) return;
    const jobs: Array<() => Promise<void>> = [];
    this.meta.files.forEach((f, i) => {
      if (f.padding || f.length !== 0 || f.symlinkTarget !== undefined || this.emptyMade.has(i)) return;
      jobs.push(async () => {
        // Already there (a seed on read-only media must not need to open it for writing).
        const st = await fsp.lstat(this.paths[i]!).catch(() => null);
        if (st?.isFile()) this.emptyMade.add(i);
        else await this.touchEmpty(i);
      });
    });
    await settleAll(jobs, SPAN_PARALLELISM, (job) => job());
    // Then the BEP 47 attributes: symlinks (their targets exist by now) and execute bits.
    for (const [i, f] of this.meta.files.entries()) {
      if (f.padding === true) continue;
      if (f.symlinkTarget !== undefined) await this.makeLink(i, f.path, f.symlinkTarget);
      // Only a file that is there (a deselected file is never created just to get its x bit).
      else if (f.executable === true && (await fsp.lstat(this.paths[i]!).catch(() => null))?.isFile() === true) await this.pool.use(i, true, async (h) => {
        const { mode } = await h.stat();
        const exec = (mode & 0o444) >> 2;
        if ((mode & exec) !== exec) await h.chmod((mode & 0o7777) | exec);
      });
    }
  }

  /** What `prepare` skipped (symlinks whose target leaves the torrent's folder, or whose path is taken). */
  readonly warnings: string[] = [];

  /** Create the BEP 47 symlink `components` → `target` (relative to the torrent's folder) if it stays inside. */
  private async makeLink(index: number, components: string[], target: string[]): Promise<void> {
    const link = this.paths[index]!;
    const folder = components.length > 1 ? [components[0]!] : [];
    const skip = (why: string): void => { this.warnings.push(`symlink ${components.join('/')} skipped: ${why}`); };
    let dest: string;
    try {
      dest = resolveInside(this.saveDir, [...folder, ...target]);
    } catch {
      skip(`target ${JSON.stringify(target.join('/'))} is not a safe path`);
      return;
    }
    const lexFolder = folder.length > 0 ? resolveInside(this.saveDir, folder) : this.saveDir;
    if (!isInside(lexFolder, dest)) { skip(`target ${JSON.stringify(target.join('/'))} is the torrent's folder itself`); return; }
    await this.ensureDir(components.slice(0, -1));
    const root = await this.root(true);
    const realFolder = folder.length > 0 ? await fsp.realpath(lexFolder).catch(() => null) : root;
    if (realFolder === null || !isInside(root, realFolder)) { skip('the torrent folder is not inside the save folder'); return; }
    // The real path of the deepest existing part of the target must stay in the torrent's folder. Everything from
    // here on is computed from real paths: the link's folder may itself be reached through a link (one an earlier
    // torrent in this save folder made), and a text made relative to the lexical folder would then climb elsewhere.
    const realDest = path.join(realFolder, ...target);
    let probe = realDest;
    let real: string | null = null;
    for (;;) {
      real = await fsp.realpath(probe).catch(() => null);
      if (real !== null || probe === realFolder) break;
      probe = path.dirname(probe);
    }
    if (real === null || !isInside(realFolder, real)) {
      skip(`target ${JSON.stringify(target.join('/'))} resolves outside the torrent's folder`);
      return;
    }
    const parent = await fsp.realpath(path.dirname(link));
    if (!isInside(root, parent)) { skip('its folder resolves outside the save folder'); return; }
    const text = path.relative(parent, realDest) || '.';
    try {
      await fsp.symlink(text, path.join(parent, path.basename(link)));
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw ioError('symlink', link, e);
      const existing = await fsp.readlink(link).catch(() => null);
      if (existing !== text) skip('something else is already at its path');
    }
  }

  async checkWritable(): Promise<void> {
    if (this.readOnly) return;
    // The nearest folder that exists on the way to the save folder must be a folder we may write into.
    for (let dir = this.saveDir; ;) {
      let st;
      try {
        st = await fsp.stat(dir);
      } catch (e) {
        const parent = path.dirname(dir);
        if (!isMissing(e) || parent === dir) throw ioError('stat', dir, e);
        dir = parent;
        continue;
      }
      if (!st.isDirectory()) throw new BtError('IO', `cannot save into ${this.saveDir}: ${dir} is not a folder`);
      try { await fsp.access(dir, C.W_OK | C.X_OK); } catch (e) { throw ioError('cannot save into', dir, e); }
      return;
    }
  }

  /** Close the storage (if still open), then remove what it created; see Storage.removeCreated. */
  async removeCreated(): Promise<DeleteReport> {
    // Descriptors first (an open file keeps its space), then the files, then the folders, deepest first.
    await this.close();
    const report: DeleteReport = { deleted: [], removedDirs: [], kept: [] };
    if (this.createdFiles.size === 0 && this.createdDirs.length === 0) return report;
    const root = await this.root(false);
    for (const i of [...this.createdFiles].sort((a, b) => a - b)) {
      await unlinkContained(root, this.paths[i]!, report);
      this.createdFiles.delete(i);
    }
    for (const d of this.createdDirs.splice(0).reverse()) await rmdirContained(root, d, report);
    this.dirsMade.clear();
    this.emptyMade.clear();
    return report;
  }

  flush(): Promise<void> {
    return this.track(() => this.doFlush());
  }

  /**
   * Every write that completed before this call is durable when it resolves: a file's sync in flight (a write-back
   * sweep's) is waited for, and a file still dirty (written since that sync began, or never synced) is synced.
   */
  private async doFlush(): Promise<void> {
    const files = new Set([...this.dirty, ...this.syncing.keys()]);
    await settleAll([...files], FLUSH_PARALLELISM, async (i) => {
      const running = this.syncing.get(i);
      if (running) await running.catch(() => undefined); // a failure left it dirty: synced (and reported) below
      if (this.dirty.has(i)) await this.syncFile(i);
    });
  }

  /** fdatasync file `i`, covering every write of it completed so far; joins the sync in flight if there is one. */
  private syncFile(i: number): Promise<void> {
    const running = this.syncing.get(i);
    if (running) return running;
    this.dirty.delete(i);
    const p = this.pool.use(i, true, (h) => h.datasync()).catch((e: unknown) => {
      this.dirty.add(i);
      throw ioError('sync', this.paths[i]!, e);
    }).finally(() => { if (this.syncing.get(i) === p) this.syncing.delete(i); });
    this.syncing.set(i, p);
    return p;
  }

  /** Background write-back: sync the files dirty now, SWEEP_PARALLELISM at a time; failures stay dirty for flush. */
  private sweep(): void {
    const plan = this.writeBack;
    if (!plan || this.closing) return;
    plan.begin();
    const files = [...this.dirty].filter((i) => !this.syncing.has(i));
    void settleAll(files, SWEEP_PARALLELISM, (i) => this.syncFile(i).catch(() => undefined))
      .catch(() => undefined)
      .finally(() => { if (plan.end()) this.sweep(); });
  }

  /**
   * Refuse new operations, wait for the ones already started, make every write durable (the flush: a download that
   * ends, is stopped or exits has its data on disk when this resolves), close every descriptor. A failed sync still
   * closes the descriptors, then rejects.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      while (this.active > 0) await new Promise<void>((r) => { this.idleWaiters.push(r); });
      let failure: unknown;
      if (!this.readOnly) await this.doFlush().catch((e: unknown) => { failure = e; });
      await this.pool.close();
      if (failure !== undefined) throw failure;
    })();
    return this.closed;
  }

  private async track<T>(op: () => Promise<T>): Promise<T> {
    if (this.closing) throw new BtError('ABORTED', 'storage closed');
    this.active++;
    try {
      return await op();
    } finally {
      if (--this.active === 0) for (const f of this.idleWaiters.splice(0)) f();
    }
  }

  // ---- internals ----

  /** Read span `s` into `buf` at `at`; resolves to the bytes read (fewer than `s.length` at end of file). */
  private async readSpan(s: FileSpan, buf: Buffer, at: number, mayBeSync = false): Promise<number> {
    if (this.meta.files[s.fileIndex]!.padding) {
      buf.fill(0, at, at + s.length);
      return s.length;
    }
    const p = this.paths[s.fileIndex]!;
    return this.pool.use(s.fileIndex, false, async (h) => {
      let done = 0;
      try {
        while (done < s.length) {
          let bytesRead: number;
          if (mayBeSync && this.syncReads.allowed) {
            const t0 = performance.now();
            bytesRead = readSync(h.fd, buf, at + done, s.length - done, s.fileOffset + done);
            this.syncReads.note(t0, performance.now());
          } else {
            bytesRead = await h.read(buf, at + done, s.length - done, s.fileOffset + done);
          }
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (e) {
        throw ioError('read', p, e);
      }
      return done;
    });
  }

  private async writeSpan(s: FileSpan, data: Buffer): Promise<void> {
    const p = this.paths[s.fileIndex]!;
    await this.pool.use(s.fileIndex, true, async (h) => {
      let done = 0;
      try {
        while (done < s.length) {
          if (this.syncWrites.allowed) {
            const t0 = performance.now();
            done += writeSync(h.fd, data, s.pieceOffset + done, s.length - done, s.fileOffset + done);
            this.syncWrites.note(t0, performance.now());
          } else {
            done += await h.write(data, s.pieceOffset + done, s.length - done, s.fileOffset + done);
          }
        }
      } catch (e) {
        throw ioError('write', p, e);
      } finally {
        if (done > 0) this.dirty.add(s.fileIndex);
      }
    });
    if (this.writeBack?.note(s.length)) this.sweep();
  }

  private async touchEmpty(i: number): Promise<void> {
    await this.pool.use(i, true, async () => undefined);
    this.emptyMade.add(i);
  }

  /** Real path of the save folder; created (it is the user's choice, so recursively) when `create`. */
  private async root(create: boolean): Promise<string> {
    if (this.rootReal) return this.rootReal;
    try {
      this.rootReal = await fsp.realpath(this.saveDir);
    } catch (e) {
      if (!create || !isMissing(e)) throw ioError('realpath', this.saveDir, e);
      try {
        await fsp.mkdir(this.saveDir, { recursive: true });
        this.rootReal = await fsp.realpath(this.saveDir);
      } catch (e2) {
        throw ioError('mkdir', this.saveDir, e2);
      }
    }
    return this.rootReal;
  }

  /** Create folders `components` (relative to the save folder) one level at a time, each proven inside. */
  private ensureDir(components: string[]): Promise<string> {
    if (components.length === 0) return this.root(true);
    const key = components.join('/');
    let p = this.dirsMade.get(key);
    if (!p) {
      p = this.makeDir(components);
      this.dirsMade.set(key, p);
      p.catch(() => this.dirsMade.delete(key));
    }
    return p;
  }

  /** Forget folder `components` and its ancestors (removed behind our back: they are made again). */
  private forgetDirs(components: string[]): void {
    for (let k = 1; k <= components.length; k++) this.dirsMade.delete(components.slice(0, k).join('/'));
  }

  /** Make the last folder of `components` under its parent's proven real path (made first, once); its real path. */
  private async makeDir(components: string[]): Promise<string> {
    const parent = await this.ensureDir(components.slice(0, -1));
    const root = await this.root(true);
    const next = path.join(parent, components[components.length - 1]!);
    try {
      await fsp.mkdir(next);
      this.createdDirs.push(resolveInside(this.saveDir, components));
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw ioError('mkdir', next, e);
    }
    let real: string;
    try {
      real = await fsp.realpath(next);
    } catch (e) {
      throw ioError('realpath', next, e);
    }
    if (!isInside(root, real)) throw new BtError('BAD_PATH', `folder ${next} resolves outside the save folder (${real})`);
    return real;
  }

  /** The FdPool opener: containment checks, then open with O_NOFOLLOW. */
  private async openFile(index: number, write: boolean): Promise<{ handle: RawFile; writable: boolean }> {
    const p = this.paths[index];
    if (!p) throw new BtError('IO', `file ${index} is a padding file`);
    if (write && this.readOnly) throw new BtError('IO', `open ${p}: storage is read-only`);
    const file = this.meta.files[index]!;
    for (let attempt = 0; ; attempt++) {
      try {
        const opened = await this.openChecked(index, p, file.path, write);
        if (write) {
          if (opened.created) this.createdFiles.add(index);
          this.openedForWrite.add(index);
        }
        return { handle: opened.file, writable: opened.writable };
      } catch (e) {
        // A folder we made earlier may have been removed behind our back: forget it and retry once.
        if (write && attempt === 0 && isMissing(e)) { this.forgetDirs(file.path.slice(0, -1)); continue; }
        throw e;
      }
    }
  }

  /**
   * Prove the parent folder inside the save folder (realpath), then open. The realpath, open and fstat are synchronous
   * calls while the policy of that kind of call (reads or writes) allows it (see SLOW_CALL_MS and raw-file.ts), else
   * they run on the thread pool.
   */
  private async openChecked(index: number, p: string, components: string[], write: boolean): Promise<Opened> {
    const policy = write ? this.syncWrites : this.syncReads;
    const syncClose = (): boolean => policy.allowed;
    const req = (target: string): OpenRequest => ({ target, label: p, write, readOnly: this.readOnly,
      firstWrite: write && !this.openedForWrite.has(index), follow: this.followLinks });
    // Seeding a folder the user chose, read-only: links are read through, as `create` hashed them.
    if (this.followLinks) return policy.allowed ? this.timed(policy, () => openSyncNow(req(p), syncClose)) : openOnPool(req(p), syncClose);
    const root = await this.root(write);
    if (write) await this.ensureDir(components.slice(0, -1));
    const dir = path.dirname(p);
    const inside = (parent: string): string => {
      if (!isInside(root, parent)) throw new BtError('BAD_PATH', `${p}: folder resolves outside the save folder (${parent})`);
      return path.join(parent, path.basename(p));
    };
    if (policy.allowed) {
      return this.timed(policy, () => {
        let parent: string;
        try { parent = realpathSync.native(dir); } catch (e) { throw ioError('realpath', dir, e); }
        return openSyncNow(req(inside(parent)), syncClose);
      });
    }
    let parent: string;
    try { parent = await fsp.realpath(dir); } catch (e) { throw ioError('realpath', dir, e); }
    return openOnPool(req(inside(parent)), syncClose);
  }

  /** Run the synchronous `fn`, noting its duration in `policy`. */
  private timed<T>(policy: SyncPolicy, fn: () => T): T {
    const t0 = performance.now();
    try { return fn(); } finally { policy.note(t0, performance.now()); }
  }
}
