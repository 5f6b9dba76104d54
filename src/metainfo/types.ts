/**
 * Metainfo types (BEP 3 single- and multi-file torrents, BEP 12 announce-list, BEP 27 private, BEP 47 pad files and
 * file attributes, BEP 52 BitTorrent v2 and hybrid torrents).
 *
 * Invariant (established by `parseTorrent` and `createTorrent`): `files` are in torrent order, `files[i].offset` is
 * the sum of the lengths before it, `totalLength` is their sum, and `pieceCount === ceil(totalLength / pieceLength)`.
 * For a v2 or hybrid torrent every non-empty, non-pad file starts on a piece boundary: a hybrid torrent's own pad
 * files do this; for a v2-only torrent the parser inserts synthetic pad files (`padding: true`) after each file that
 * does not end on one, exactly where libtorrent's file_storage puts them, so the global piece index space is the same
 * as libtorrent's and the storage and picker need no v2 special case.
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
  /**
   * BEP 47 pad file (`attr` contains 'p', a legacy `_____padding_file` name, or a synthetic v2 alignment pad): its
   * bytes are zeros, it is never created on disk, never counted in sizes a user sees, hidden from listings.
   */
  padding?: boolean;
  /** BEP 47 `attr` 'x': set the executable mode bits when the file is complete. */
  executable?: boolean;
  /** BEP 47 `attr` 'h': hidden (recorded only; POSIX has no hidden bit). */
  hidden?: boolean;
  /**
   * BEP 47 `attr` 'l': a symlink, created only when its target stays inside the torrent's folder. Sanitised
   * components of the target, relative to the torrent's root folder (the folder `path[0]` names). Its `length` is 0.
   */
  symlinkTarget?: string[];
  /** BEP 47 `sha1` of the file (kept, never required). */
  sha1?: Buffer;
  /**
   * BEP 52 `pieces root`: the 32-byte root of the file's merkle tree over 16 KiB SHA-256 leaves. Present on every
   * non-empty, non-pad file of a v2 or hybrid torrent; absent otherwise.
   */
  piecesRoot?: Buffer;
}

/** Which BitTorrent versions a torrent carries. */
export type MetaVersion = 'v1' | 'v2' | 'hybrid';

/** A parsed, validated torrent. */
export interface Metainfo {
  /**
   * The 20-byte hash that names the torrent on the wire, to trackers and in ids: the SHA-1 of the raw info-dict bytes
   * for v1 and hybrid torrents, the SHA-256 truncated to 20 bytes for v2-only torrents.
   */
  infoHash: Buffer;
  infoHashHex: string;
  /** 'v1' (pieces only), 'v2' (meta version 2, no pieces), 'hybrid' (both, and they agree). */
  version: MetaVersion;
  /** SHA-1 of the raw info-dict bytes when the torrent has v1 parts (v1 and hybrid). */
  infoHashV1?: Buffer;
  /** SHA-256 (32 bytes) of the raw info-dict bytes when it has `meta version` 2 (v2 and hybrid). */
  infoHashV2?: Buffer;
  /**
   * BEP 52 `piece layers` from the .torrent (outside the info dict, so never in a magnet's metadata): pieces root
   * (hex) → the file's piece-layer hashes, 32 bytes each, one per piece of the file, already checked against the
   * root. Only files larger than one piece have an entry. Empty for v1 torrents and for metadata from a magnet.
   */
  pieceLayers: Map<string, Buffer>;
  /** Sanitised torrent name (the first path component of every file). */
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** The concatenated 20-byte SHA-1 piece hashes (`20 * pieceCount` bytes); empty for a v2-only torrent. */
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
