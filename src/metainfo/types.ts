/**
 * Metainfo types (BEP 3 single- and multi-file torrents, BEP 12 announce-list, BEP 27 private, BEP 47 pad files).
 *
 * Invariant (established by `parseTorrent` and `createTorrent`): `files` are in torrent order, `files[i].offset` is
 * the sum of the lengths before it, `totalLength` is their sum, and `pieceCount === ceil(totalLength / pieceLength)`.
 */

/** One file of a torrent. */
export interface TorrentFile {
  /** Sanitised path components; the FIRST is the torrent name. A single-file torrent has `[name]`. */
  path: string[];
  /** `path.join('/')`. */
  relPath: string;
  /** Length in bytes (may be 0). */
  length: number;
  /** Byte offset of this file in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 pad file (`attr` contains 'p'): its bytes are zeros, and it is never created on disk. */
  padding?: boolean;
}

/** A parsed, validated torrent. */
export interface Metainfo {
  /** SHA-1 of the raw bytes of the info dictionary, exactly as they appear in the file. */
  infoHash: Buffer;
  infoHashHex: string;
  /** Sanitised torrent name (the first path component of every file). */
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** The concatenated 20-byte SHA-1 piece hashes (`20 * pieceCount` bytes). */
  pieceHashes: Buffer;
  files: TorrentFile[];
  totalLength: number;
  /** True when the info dict has a `files` list (even a list of one file). */
  multiFile: boolean;
  /** BEP 27: `private` is 1 in the info dict. */
  private: boolean;
  /** The top-level `announce` URL, if any. */
  announce: string | undefined;
  /** BEP 12 tiers (empty when absent); URLs are de-duplicated across tiers. */
  announceList: string[][];
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  /** Raw bytes of the info dictionary (what the info-hash is taken over; what ut_metadata serves). */
  infoBytes: Buffer;
  /** Irregularities that were tolerated (leading zeros, unsorted keys, non-UTF-8 names, neutralised characters…). */
  softErrors: string[];
}

/** A piece of a piece (or of a block) that lies in one file. */
export interface FileSpan {
  /** Index into `files`. */
  fileIndex: number;
  /** Offset inside that file. */
  fileOffset: number;
  /** Offset inside the piece. */
  pieceOffset: number;
  /** Bytes (always > 0). */
  length: number;
}
