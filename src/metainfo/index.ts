/**
 * Metainfo (BEP 3, 9, 12, 27, 47, 52): the pure part — parse/validate .torrent files, sanitise paths, piece/file
 * arithmetic, magnet URIs, and build.ts, the pure half of torrent creation (its I/O half, `createTorrent`, is
 * src/create/create-torrent.ts).
 */
export type { Metainfo, TorrentFile, FileSpan } from './types.js';
export { parseTorrent, parseInfo, torrentFromInfo, MAX_TORRENT_SIZE, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TOTAL_LENGTH } from './metainfo.js';
export type { ParseOptions } from './metainfo.js';
export { pieceSize, pieceHash, pieceSpans, filePieceRange } from './geometry.js';
export * as merkle from './merkle.js';
export { sanitizeComponent, sanitizeElement, isSafeComponent, resolveDuplicatePaths, resolveInside, PathSet, MAX_PATH_DEPTH } from './paths.js';
export { parseMagnet, buildMagnet, parseInfoHash, parseBtmh, infoHashToBase32, MAX_MAGNET_LENGTH, MAX_MAGNET_ITEMS } from './magnet.js';
export type { MagnetInfo, MagnetInput } from './magnet.js';
