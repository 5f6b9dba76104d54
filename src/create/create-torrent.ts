/**
 * Create a .torrent from a file or a folder (BEP 3 single/multi-file; BEP 12 announce-list; BEP 27 private; BEP 52
 * v2-only and hybrid, with BEP 47 pad files and attributes): the I/O shell of creation. It walks the input, reads and
 * hashes it (here and in src/create/create-worker.ts), and hands the file list and hashes to the pure `buildTorrent`
 * / `buildTorrentV2` (src/metainfo/build.ts), which write exactly mktorrent 1.1's (v1) or libtorrent 2.0.8's (v2,
 * hybrid) info dict and re-check the result with `parseTorrent`, so a torrent we create is always one we accept.
 *
 * Invariant: reads only; never writes a file. For the same input, name, piece length and private flag the info-hash
 * equals mktorrent's (v1, test/interop/mktorrent.test.ts), and both info-hashes equal libtorrent's create_torrent
 * (v2 and hybrid, test/interop/create-v2.test.ts).
 *
 * Folder rules (checked against mktorrent 1.1 by experiment; docs/design/metainfo.md):
 * - Recursive walk; files sorted by the byte order of their '/'-joined relative path (C strcmp, as mktorrent:
 *   `a-b` < `a.c` < `a/x` < `b`). A folder is always a multi-file torrent, even with a single file inside.
 * - Hidden files (dot files) are included, as mktorrent does: skipping them would silently drop data.
 * - Symlinks are followed (to files and to folders), as mktorrent and libtorrent do by default; a dangling symlink
 *   is an 'IO' error, and a symlink that leads back into one of its own ancestors is an 'IO' error (mktorrent fails
 *   with ELOOP there). `followSymlinks: false` skips symlinks instead.
 * - Empty files are included (they still get created on download); empty folders are not representable in v1.
 * - FIFOs, sockets and devices are skipped (mktorrent too).
 * - Names we would reject or rewrite when parsing (`\`, control characters, …) are refused up front ('BAD_PATH').
 * Errors: missing input → 'NOT_FOUND'; empty folder, no data, bad options → 'USAGE'; read errors → 'IO';
 * abort → 'ABORTED' (cause: `signal.reason`).
 *
 * v2 and hybrid: the same walk, then libtorrent's order and pad layout (`layoutV2`: files sorted component by
 * component; a pad after each non-empty file not ending on a piece boundary when there is more than one file), and
 * BEP 47 `x` from the owner-execute bit of lstat() (a followed symlink counts as executable, as in libtorrent).
 *
 * Hashing (measured against mktorrent; docs/design/scale.md): the main thread and, above 128 MiB, cores − 1 worker
 * threads (at most 3, create-worker.ts) claim groups of whole pieces through a shared atomic counter; each reads its
 * pieces itself with synchronous 128 KiB preads and hashes every read while it is still in the CPU cache
 * (group-hash.ts), and writes the digests into a shared table: no chunk is handed between threads, and the main thread
 * is already hashing while the workers boot. Each piece is read once and gets its SHA-1 (v1, hybrid: over data + pad
 * zeros) and its SHA-256 leaves and piece root (v2, hybrid) in the same pass (src/create/piece-digest.ts).
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BtError, errorMessage } from '../util/errors.js';
import { autoPieceLength, buildTorrent, buildTorrentV2, checkCreateName, checkPieceLength, compareTreePaths, layoutV2, type TorrentFields } from '../metainfo/build.js';
import { MAX_PATH_DEPTH } from '../metainfo/paths.js';
import type { Metainfo } from '../metainfo/types.js';
import type { CreateWorkerData, CreateWorkerMessage } from './create-worker.js';
import type { HashFile } from './hash-files.js';
import { GroupHasher } from './group-hash.js';
import { pieceCountOf, type PieceGeometry } from './piece-digest.js';

/** Options for {@link createTorrent}. */
export interface CreateOptions {
  /**
   * 'v1' (default; mktorrent-identical), 'v2' (BEP 52 only) or 'hybrid' (v1 + v2, with BEP 47 pad files): v2 and
   * hybrid are laid out exactly as libtorrent 2.0.8's create_torrent lays them out (src/metainfo/build.ts).
   */
  version?: 'v1' | 'v2' | 'hybrid';
  /** Bytes; a power of two from 16 KiB to 256 MiB. Default: {@link autoPieceLength}. */
  pieceLength?: number;
  /** Tracker URLs: the first becomes `announce`; if there are more, each is its own tier in `announce-list`. */
  announce?: string[];
  comment?: string;
  /** Default "bitpeer". */
  createdBy?: string;
  /** Seconds since the epoch; `null` omits it; default now. */
  creationDate?: number | null;
  /** BEP 27 private flag (`private: 1`); never written as 0. */
  private?: boolean;
  /** Torrent name; default the base name of `inputPath`. */
  name?: string;
  /** Follow symlinks (default true, as mktorrent); false skips them. */
  followSymlinks?: boolean;
  /** Hashing worker threads besides the main thread. Default: cores − 1 (at most 3) for inputs over 128 MiB, else 0. */
  threads?: number;
  signal?: AbortSignal;
  /** Called as hashing progresses with the bytes hashed so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Worker threads claim this many bytes of whole pieces at a time (at least one piece). */
const GROUP_BYTES = 4 * 1024 * 1024;
/**
 * Up to this much data, worker threads cost more than they save: a worker takes ~60 ms of CPU to boot before it hashes
 * anything, while the main thread hashes ~100 MiB in that time (measured on 2 cores, docs/design/metainfo.md).
 */
const SINGLE_THREAD_MAX_BYTES = 128 * 1024 * 1024;
const MAX_WORKERS = 3;
/** The typed worker module, next to this one in dist/. */
const WORKER_URL = new URL('./create-worker.js', import.meta.url);

interface Entry {
  components: string[];
  abs: string;
  size: number;
  sortKey: Buffer;
  /** Owner-execute bit of lstat() (BEP 47 `x` in v2/hybrid torrents, as libtorrent sets it). */
  executable: boolean;
}

/**
 * libtorrent's executable attribute: the owner-execute bit of lstat(), so a symlink (mode 0777 on Linux) that is
 * followed counts as executable whatever its target's mode.
 */
async function executableBit(abs: string, st: Stats): Promise<boolean> {
  let mode = st.mode;
  try {
    const l = await lstat(abs);
    mode = l.mode;
  } catch (e) {
    throw ioError(`cannot stat ${abs}`, e);
  }
  return (mode & 0o100) !== 0;
}

function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === code;
}

/** Creating reads the files only: every I/O failure here is a disk-read. */
function ioError(what: string, e: unknown): BtError {
  return new BtError('IO', `${what}: ${errorMessage(e)}`, { cause: e, op: 'disk-read' });
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BtError('ABORTED', 'torrent creation aborted', { cause: signal.reason });
}

async function walk(dir: string, rel: string[], ancestors: Set<string>, out: Entry[], opts: CreateOptions): Promise<void> {
  checkAbort(opts.signal);
  if (rel.length >= MAX_PATH_DEPTH - 1) throw new BtError('USAGE', `folder nesting is deeper than ${MAX_PATH_DEPTH - 2} levels at ${dir}`);
  let names;
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw ioError(`cannot read folder ${dir}`, e);
  }
  for (const d of names) {
    const abs = path.join(dir, d.name);
    if (d.isSymbolicLink() && opts.followSymlinks === false) continue;
    if (!d.isSymbolicLink() && !d.isFile() && !d.isDirectory()) continue; // fifo, socket, device
    let st: Stats;
    try {
      st = await stat(abs);
    } catch (e) {
      if (d.isSymbolicLink() && isErrno(e, 'ENOENT')) throw new BtError('IO', `dangling symlink: ${abs}`, { cause: e });
      if (isErrno(e, 'ELOOP')) throw new BtError('IO', `symlink loop at ${abs}`, { cause: e });
      throw ioError(`cannot stat ${abs}`, e);
    }
    const components = [...rel, d.name];
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      if (ancestors.has(id)) throw new BtError('IO', `symlink loop at ${abs} (it leads back to a parent folder)`);
      checkCreateName(d.name, abs);
      ancestors.add(id);
      await walk(abs, components, ancestors, out, opts);
      ancestors.delete(id);
    } else if (st.isFile()) {
      checkCreateName(d.name, abs);
      const executable = d.isSymbolicLink() ? await executableBit(abs, st) : (st.mode & 0o100) !== 0;
      out.push({ components, abs, size: st.size, sortKey: Buffer.from(components.join('/'), 'utf8'), executable });
    }
  }
}

/** The digest tables of a creation: SHA-1s for v1 and hybrid, piece roots (BEP 52 piece-layer hashes) for v2 and hybrid. */
interface Digests { pieces: Buffer | undefined; roots: Buffer | undefined }

/**
 * Piece-group hashing on the main thread and `threads` workers (0: the main thread alone), each piece read once and
 * digested by a {@link PieceDigester}: the v1 path above 128 MiB, and every v2 and hybrid creation.
 */
async function hashParallel(g: PieceGeometry, dataTotal: number, threads: number, opts: CreateOptions): Promise<Digests> {
  checkAbort(opts.signal);
  const { pl, total, files } = g;
  const pieceCount = pieceCountOf(g);
  const piecesBuf = g.mode === 'v2' ? undefined : new SharedArrayBuffer(pieceCount * 20);
  const rootsBuf = g.mode === 'v1' ? undefined : new SharedArrayBuffer(pieceCount * 32);
  const digests: Digests = { pieces: piecesBuf && Buffer.from(piecesBuf), roots: rootsBuf && Buffer.from(rootsBuf) };
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const groupPieces = Math.max(1, Math.floor(GROUP_BYTES / pl));
  const groups = Math.ceil(pieceCount / groupPieces);
  const workerData: CreateWorkerData = {
    mode: g.mode, files: [...files], total, pl, groupPieces, counter: counter.buffer, stop: stop.buffer,
    pieces: piecesBuf, roots: rootsBuf,
  };
  const workers: Worker[] = [];
  const finished: Promise<void>[] = [];
  let failure: unknown;
  let done = 0;
  const fail = (e: unknown): void => {
    failure ??= e;
    Atomics.store(stop, 0, 1);
  };
  const progress = (bytes: number): void => {
    done += bytes;
    try { opts.onProgress?.(done, dataTotal); } catch (e) { fail(e); }
  };
  const onAbort = (): void => fail(new BtError('ABORTED', 'torrent creation aborted', { cause: opts.signal?.reason }));
  opts.signal?.addEventListener('abort', onAbort);

  // The main thread takes its share with the same synchronous reads as the workers, one group (≤ 4 MiB, a few ms
  // from the page cache) per turn of the event loop, so it is hashing while the workers boot (tens of ms) and a
  // session running beside it (`bitpeer share`) keeps serving its sockets between groups.
  const mainShare = async (): Promise<void> => {
    const hasher = new GroupHasher(g, digests.pieces, digests.roots, groupPieces);
    try {
      for (let grp = Atomics.add(counter, 0, 1); grp < groups && Atomics.load(stop, 0) === 0; grp = Atomics.add(counter, 0, 1)) {
        let bytes: number;
        try {
          bytes = hasher.hash(grp);
        } catch (e) {
          throw e instanceof RangeError ? e : ioError('cannot read the input', e);
        }
        progress(bytes);
        checkAbort(opts.signal);
        await yieldToLoop();
      }
    } catch (e) {
      fail(e);
    } finally {
      hasher.close();
    }
  };

  try {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_URL, { workerData, execArgv: [] });
      workers.push(w);
      finished.push(new Promise<void>((resolve) => {
        w.on('message', (m: CreateWorkerMessage) => {
          if (m.type === 'progress') progress(m.bytes);
          else {
            if (m.type === 'error') fail(new BtError('IO', m.message));
            resolve();
          }
        });
        w.on('error', (e) => { fail(ioError('hash worker failed', e)); resolve(); });
        w.on('exit', () => resolve());
      }));
    }
    // Everyone stops claiming groups on the first failure; wait for all so that files are closed.
    await Promise.all([mainShare(), ...finished]);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    Atomics.store(stop, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure !== undefined) throw failure;
  checkAbort(opts.signal);
  if (done !== dataTotal) throw new BtError('IO', `hashed ${done} of ${dataTotal} bytes`);
  return digests;
}

function defaultThreads(total: number): number {
  if (total <= SINGLE_THREAD_MAX_BYTES) return 0;
  return Math.max(0, Math.min(availableParallelism() - 1, MAX_WORKERS));
}

/** Non-empty entries at their offsets in the offset space, for the readers. */
function hashFiles(entries: readonly Entry[], offsets: readonly number[]): HashFile[] {
  const files: HashFile[] = [];
  entries.forEach((e, i) => { if (e.size > 0) files.push({ abs: e.abs, size: e.size, offset: offsets[i]! }); });
  return files;
}

/** v1: the concatenated files, hashed on the main thread (small inputs) or with workers. */
async function hashV1(entries: readonly Entry[], total: number, pl: number, opts: CreateOptions): Promise<Buffer> {
  const threads = Math.max(0, Math.floor(opts.threads ?? defaultThreads(total)));
  let off = 0;
  const offsets = entries.map((e) => (off += e.size) - e.size);
  const g: PieceGeometry = { mode: 'v1', files: hashFiles(entries, offsets), total, pl };
  return (await hashParallel(g, total, threads, opts)).pieces!;
}

/**
 * Create a torrent from a file or folder and return its bytes and its parsed metainfo.
 * @throws BtError 'NOT_FOUND' | 'USAGE' | 'BAD_PATH' | 'IO' | 'ABORTED'
 */
export async function createTorrent(inputPath: string, opts: CreateOptions = {}): Promise<{ torrent: Buffer; meta: Metainfo }> {
  checkAbort(opts.signal);
  const version = opts.version ?? 'v1';
  const abs = path.resolve(inputPath);
  let st: Stats;
  try {
    st = await stat(abs);
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw new BtError('NOT_FOUND', `no such file or folder: ${inputPath}`, { cause: e });
    throw ioError(`cannot stat ${inputPath}`, e);
  }
  const name = opts.name ?? path.basename(abs);
  if (name === '') throw new BtError('USAGE', `cannot make a torrent of ${inputPath}: it has no name (pass a name)`);
  checkCreateName(name, opts.name === undefined ? abs : `name ${name}`);

  let entries: Entry[];
  let multiFile: boolean;
  if (st.isDirectory()) {
    entries = [];
    await walk(abs, [], new Set([`${st.dev}:${st.ino}`]), entries, opts);
    if (entries.length === 0) throw new BtError('USAGE', `folder ${inputPath} contains no files`);
    if (version === 'v1') entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    else entries.sort((a, b) => compareTreePaths(a.components, b.components));
    multiFile = true;
  } else if (st.isFile()) {
    entries = [{ components: [], abs, size: st.size, sortKey: Buffer.alloc(0), executable: await executableBit(abs, st) }];
    multiFile = false;
  } else {
    throw new BtError('USAGE', `${inputPath} is neither a regular file nor a folder`);
  }
  const total = entries.reduce((s, e) => s + e.size, 0);
  if (total === 0) throw new BtError('USAGE', `nothing to share: ${inputPath} holds no data (all files are empty)`);

  const pl = opts.pieceLength ?? autoPieceLength(total);
  const fields: TorrentFields = {
    ...(opts.announce !== undefined ? { announce: opts.announce } : {}),
    ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
    ...(opts.createdBy !== undefined ? { createdBy: opts.createdBy } : {}),
    ...(opts.private !== undefined ? { private: opts.private } : {}),
    ...(opts.creationDate !== null ? { creationDate: opts.creationDate ?? Math.floor(Date.now() / 1000) } : {}),
  };

  if (version === 'v1') {
    checkPieceLength(pl, total);
    const pieces = await hashV1(entries, total, pl, opts);
    return buildTorrent(name, pl, multiFile ? entries.map((e) => ({ path: e.components, length: e.size })) : undefined, total, pieces, fields);
  }

  // v2 / hybrid: libtorrent's order (sorted above) and pad layout; every non-empty file starts a piece.
  const layout = layoutV2(entries.map((e) => ({ path: e.components, length: e.size, executable: e.executable })), pl);
  checkPieceLength(pl, layout.total);
  const offsets = layout.entries.filter((e) => !e.pad).map((e) => e.offset);
  const g: PieceGeometry = { mode: version, files: hashFiles(entries, offsets), total: layout.total, pl };
  const threads = Math.max(0, Math.floor(opts.threads ?? defaultThreads(total)));
  const { pieces, roots } = await hashParallel(g, total, threads, opts);
  return buildTorrentV2({ name, pieceLength: pl, version, multiFile, entries: layout.entries, pieceRoots: roots!, ...(pieces ? { pieces } : {}) }, fields);
}
