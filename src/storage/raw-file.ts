/**
 * Raw file descriptors for fs-storage: opening one data file (the O_EXCL / read-only fallbacks, the regular-file check)
 * either with synchronous calls or on libuv's thread pool, and positional I/O on the descriptor.
 *
 * Why synchronous: a torrent of 5,000 small files opens, stats and closes 5,000 descriptors; as promises on the thread
 * pool that cost the downloader ~4 thread hand-offs per file and piled up waiters in the FdPool (profiled in
 * docs/design/storage.md). Callers decide which way through their SyncPolicy (fs-storage.ts), exactly as for
 * pread/pwrite: metadata calls are page-cache work too, and a slow disk switches them to the thread pool.
 *
 * Invariants: a RawFile's descriptor is closed at most once; `open*` never leaks a descriptor (one that is not a
 * regular file is closed before the error is thrown); a refused symlink (ELOOP from O_NOFOLLOW) surfaces as
 * BtError('BAD_PATH') through `ioError`. No BEP: plain file-system plumbing.
 */
import { close, closeSync, constants as C, fstat, fstatSync, open, openSync, read, write, fdatasync, fchmod } from 'node:fs';
import type { Stats } from 'node:fs';
import { promisify } from 'node:util';
import { errnoOf, ioError as fsIoError, isBtError, type ErrorOp } from '../util/errors.js';
import { BtError } from '../util/errors.js';

const openP = promisify(open);
const closeP = promisify(close);
const fstatP = promisify(fstat);
const readP = promisify(read);
const writeP = promisify(write);
const fdatasyncP = promisify(fdatasync);
const fchmodP = promisify(fchmod);

/** An open descriptor. `close` uses a synchronous call when `syncClose()` says so, else the thread pool. */
export class RawFile {
  private closed = false;
  constructor(readonly fd: number, private readonly syncClose: () => boolean) {}

  close(): Promise<void> | void {
    if (this.closed) return undefined;
    this.closed = true;
    if (this.syncClose()) {
      try { closeSync(this.fd); } catch { /* nothing to do: the descriptor is gone either way */ }
      return undefined;
    }
    return closeP(this.fd).catch(() => undefined);
  }

  async read(buf: Buffer, at: number, length: number, position: number): Promise<number> {
    return (await readP(this.fd, buf, at, length, position)).bytesRead;
  }

  async write(buf: Buffer, at: number, length: number, position: number): Promise<number> {
    return (await writeP(this.fd, buf, at, length, position)).bytesWritten;
  }

  datasync(): Promise<void> { return fdatasyncP(this.fd); }
  stat(): Promise<Stats> { return fstatP(this.fd); }
  chmod(mode: number): Promise<void> { return fchmodP(this.fd, mode); }
}

/** What to open: `target` (the real parent folder + the final component), and how. */
export interface OpenRequest {
  /** The path to open (its folder already proven inside the save folder, unless `follow`). */
  readonly target: string;
  /** The lexical path, for error messages. */
  readonly label: string;
  /** Writable (and created if missing). */
  readonly write: boolean;
  /** The storage never writes: O_RDONLY. */
  readonly readOnly: boolean;
  /** First writable open of this file: O_EXCL first, to learn whether this open created it. */
  readonly firstWrite: boolean;
  /** Read through symbolic links (seeding a folder the user chose); otherwise O_NOFOLLOW. */
  readonly follow: boolean;
}

export interface Opened { readonly file: RawFile; readonly writable: boolean; readonly created: boolean }

/** The sequence of open(2) attempts for `req`: [flags, what a success means]. */
function attempts(req: OpenRequest): Array<{ flags: number; writable: boolean; created: boolean; onlyIf?: (code: string | undefined) => boolean }> {
  const base = (req.follow ? 0 : C.O_NOFOLLOW) | C.O_NONBLOCK;
  if (req.follow) return [{ flags: C.O_RDONLY | C.O_NONBLOCK, writable: false, created: false }];
  if (req.write) {
    const plain = { flags: base | C.O_RDWR | C.O_CREAT, writable: true, created: false };
    if (!req.firstWrite) return [plain];
    return [{ flags: base | C.O_RDWR | C.O_CREAT | C.O_EXCL, writable: true, created: true }, { ...plain, onlyIf: (c) => c === 'EEXIST' }];
  }
  if (req.readOnly) return [{ flags: base | C.O_RDONLY, writable: false, created: false }];
  return [
    { flags: base | C.O_RDWR, writable: true, created: false },
    { flags: base | C.O_RDONLY, writable: false, created: false, onlyIf: (c) => c === 'EACCES' || c === 'EPERM' || c === 'EROFS' },
  ];
}

function openFailed(req: OpenRequest, e: unknown): BtError {
  const op: ErrorOp = req.write ? 'disk-write' : 'disk-read';
  if (!isBtError(e) && errnoOf(e) === 'ELOOP') {
    const msg = e instanceof Error ? e.message : String(e);
    return new BtError('BAD_PATH', `open ${req.label}: refusing a symbolic link (${msg})`, { cause: e, op });
  }
  return fsIoError('open', req.label, e, op);
}

function notRegular(req: OpenRequest): BtError {
  return new BtError('BAD_PATH', `open ${req.label}: not a regular file`);
}

/** Open `req` with synchronous calls (open, fstat). */
export function openSyncNow(req: OpenRequest, syncClose: () => boolean): Opened {
  let fd = -1;
  let chosen: ReturnType<typeof attempts>[number] | undefined;
  let last: unknown;
  for (const a of attempts(req)) {
    if (a.onlyIf && !a.onlyIf(errnoOf(last))) break;
    try { fd = openSync(req.target, a.flags, 0o666); chosen = a; break; } catch (e) { last = e; }
  }
  if (!chosen) throw openFailed(req, last);
  let regular: boolean;
  try {
    regular = fstatSync(fd).isFile();
  } catch (e) {
    try { closeSync(fd); } catch { /* closing what we opened */ }
    throw fsIoError('stat', req.label, e);
  }
  if (!regular) {
    try { closeSync(fd); } catch { /* closing what we opened */ }
    throw notRegular(req);
  }
  return { file: new RawFile(fd, syncClose), writable: chosen.writable, created: chosen.created };
}

/** Open `req` on the thread pool. */
export async function openOnPool(req: OpenRequest, syncClose: () => boolean): Promise<Opened> {
  let fd = -1;
  let chosen: ReturnType<typeof attempts>[number] | undefined;
  let last: unknown;
  for (const a of attempts(req)) {
    if (a.onlyIf && !a.onlyIf(errnoOf(last))) break;
    try { fd = await openP(req.target, a.flags, 0o666); chosen = a; break; } catch (e) { last = e; }
  }
  if (!chosen) throw openFailed(req, last);
  let regular: boolean;
  try {
    regular = (await fstatP(fd)).isFile();
  } catch (e) {
    await closeP(fd).catch(() => undefined);
    throw fsIoError('stat', req.label, e);
  }
  if (!regular) {
    await closeP(fd).catch(() => undefined);
    throw notRegular(req);
  }
  return { file: new RawFile(fd, syncClose), writable: chosen.writable, created: chosen.created };
}
