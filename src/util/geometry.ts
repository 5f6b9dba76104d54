/**
 * The units of a torrent's data (BEP 3): the block (the 16 KiB unit of requests and of BEP 9 metadata pieces) and
 * the piece geometry (`pieceCount` pieces of `pieceLength` bytes, the last one shorter, `totalLength` in all).
 * The one copy of this arithmetic, shared by the wire decoder, the picker, the torrent and src/metainfo/geometry.ts.
 *
 * Invariant: a geometry is valid when every field is a safe integer, `pieceLength > 0`, and either there are no
 * pieces and no bytes, or the last piece holds 1..pieceLength bytes. The size functions assume a valid geometry and
 * an index in range (callers that take untrusted indices check them first).
 */

/** Block size in bytes: what we request, the largest block we accept, and a BEP 9 metadata piece. */
export const BLOCK_SIZE = 16 * 1024;

/** How a torrent's bytes are cut into pieces. */
export interface PieceGeometry {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
}

/** True when the three numbers describe a torrent (see the module invariant). */
export function isValidGeometry(g: PieceGeometry): boolean {
  const { pieceCount, pieceLength, totalLength } = g;
  return Number.isSafeInteger(pieceCount) && pieceCount >= 0
    && Number.isSafeInteger(pieceLength) && pieceLength > 0
    && Number.isSafeInteger(totalLength) && totalLength >= 0
    && (pieceCount === 0
      ? totalLength === 0
      : (pieceCount - 1) * pieceLength < totalLength && totalLength <= pieceCount * pieceLength);
}

/** Size in bytes of the last piece (0 when there are no pieces). */
export function lastPieceSize(g: PieceGeometry): number {
  return g.pieceCount === 0 ? 0 : g.totalLength - (g.pieceCount - 1) * g.pieceLength;
}

/** Size in bytes of piece `index` (the last one may be shorter); `index` must be in range. */
export function pieceSizeAt(g: PieceGeometry, index: number): number {
  return index === g.pieceCount - 1 ? g.totalLength - index * g.pieceLength : g.pieceLength;
}

/** Number of blocks of `blockSize` bytes in `bytes` bytes (the last block may be shorter). */
export function blockCount(bytes: number, blockSize = BLOCK_SIZE): number {
  return Math.ceil(bytes / blockSize);
}
