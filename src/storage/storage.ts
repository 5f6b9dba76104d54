/**
 * The Storage interface: piece-addressed reads and writes, whatever the backend (files, memory).
 *
 * Invariant: a backend only ever receives whole, already verified pieces through `writePiece`; it never decides
 * what is "had". `readPiece` answers `null` (not an error) when the bytes are simply not there yet, so a start-up
 * check can tell "missing" from "broken disk". BEP 3 defines the piece/file layout the backends implement.
 */

/** One file of a torrent, as storage needs it. `Metainfo['files'][number]` from src/metainfo satisfies it. */
export interface StorageFile {
  /** Sanitised path components; the first is the torrent name (single-file torrent: `[name]`). */
  path: string[];
  length: number;
  /** Byte offset of the file in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 padding file: never written to disk, reads as zeros. */
  padding?: boolean;
}

/** The geometry storage needs. `Metainfo` from src/metainfo satisfies it structurally. */
export interface StorageMeta {
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** 20 bytes per piece, concatenated. */
  pieceHashes: Buffer;
  files: StorageFile[];
  totalLength: number;
}

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
  /** Store a verified piece. `data.length` must equal the piece's size. */
  writePiece(piece: number, data: Buffer): Promise<void>;
  /** Create the folders and the zero-length files up front (download side). Optional. */
  prepare?(): Promise<void>;
  /** Make everything written so far durable (fdatasync). Optional. */
  flush?(): Promise<void>;
  /** Wait for operations in flight, release every resource. Later calls fail with BtError('ABORTED'). */
  close(): Promise<void>;
}
