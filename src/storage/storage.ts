/**
 * The Storage interface: piece-addressed reads and writes, whatever the backend (files, memory).
 *
 * Invariant: a backend only ever receives whole, already verified pieces through `writePiece`; it never decides
 * what is "had". `readPiece` answers `null` (not an error) when the bytes are simply not there yet, so a start-up
 * check can tell "missing" from "broken disk". BEP 3 defines the piece/file layout the backends implement.
 */

import type { Metainfo, TorrentFile } from '../metainfo/index.js';
import type { DeleteReport } from './delete-data.js';

/** One file of a torrent, as storage sees it (src/metainfo's TorrentFile). */
export type StorageFile = TorrentFile;

/**
 * The part of a Metainfo that storage uses. A parsed `Metainfo` is one; tests can build the few fields by hand
 * (see test/support/test-meta.ts).
 */
export type StorageMeta = Pick<Metainfo, 'name' | 'pieceLength' | 'pieceCount' | 'pieceHashes' | 'files' | 'totalLength'>;

/** Piece-addressed storage for one torrent. */
export interface Storage {
  /**
   * Read `length` bytes at `begin` inside `piece` (for uploads; typically ≤ 16 KiB).
   * Throws BtError('IO') if the data is not there (missing file, short file) or the disk fails.
   */
  read(piece: number, begin: number, length: number): Promise<Buffer>;
  /**
   * Read a whole piece, or `null` when its data is missing or short (for checks). Other failures throw
   * BtError('IO'). If `into` is given (at least the piece's size), the bytes land there and a view of it is returned;
   * a SharedArrayBuffer-backed `into` lets the hash pool take the piece without a copy.
   */
  readPiece(piece: number, into?: Buffer): Promise<Buffer | null>;
  /**
   * Optional fast path for checks: read `count` consecutive pieces starting at `first` back to back into `into`
   * (which must hold them all) with as few reads as possible; `present[k]` tells whether piece `first + k` was fully
   * there. Failures other than missing data throw BtError('IO').
   */
  readPieces?(first: number, count: number, into: Buffer): Promise<boolean[]>;
  /** Store a verified piece. `data.length` must equal the piece's size. */
  writePiece(piece: number, data: Buffer): Promise<void>;
  /**
   * Optional (FsStorage with its `pieceWorker` option): check that the SHA-1 of `data` equals `expected` (BEP 3, v1
   * pieces) and only then store it; resolves true when stored, false when the digest differs (nothing is written).
   * A backend that offers it may hash and write on another thread: the caller must not modify `data` until it settles.
   * When present, a v1 download hands it whole pieces in SharedArrayBuffer-backed buffers instead of hashing them.
   */
  verifyAndWrite?(piece: number, data: Buffer, expected: Uint8Array): Promise<boolean>;
  /** With `verifyAndWrite`: pieces handed to the writer thread that it has not finished (how far behind it is). */
  writerQueue?(): number;
  /**
   * Create the zero-length files that are not there yet (and their folders). Called when the torrent is complete:
   * folders and files otherwise appear only when their first piece is written. Optional.
   */
  prepare?(): Promise<void>;
  /**
   * Before downloading: check, creating nothing, that the save folder is (or can be made) a writable folder, so an
   * unwritable download folder fails at once rather than at the first piece. BtError('IO') otherwise. Optional.
   */
  checkWritable?(): Promise<void>;
  /**
   * After a failed add: remove the files this storage created (they did not exist before it opened them) and then
   * the folders it made, if empty. Never a file that existed before. Optional.
   */
  removeCreated?(): Promise<DeleteReport>;
  /** Make everything written so far durable (fdatasync). Optional. */
  flush?(): Promise<void>;
  /** Wait for operations in flight, release every resource. Later calls fail with BtError('ABORTED'). */
  close(): Promise<void>;
}
