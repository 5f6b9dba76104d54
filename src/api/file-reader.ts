/**
 * The facade's `readFile`: a byte range of one file of a torrent as an async iterable of Buffers, while the torrent
 * downloads. It opens a stream on the torrent (src/session/streams.ts: a read-ahead window of critical pieces with
 * deadlines), and for each piece of the range in order: re-aims the window at it, waits until the piece is verified
 * and written, reads the bytes from storage and yields them. The window moves as the reader goes; ending the
 * iteration (done, `break`, an error) or aborting `signal` closes the stream and drops its deadlines.
 *
 * Invariants: never yields a byte of a piece that is not verified; yields exactly the bytes [start, end) of the file,
 * in order, in chunks of at most CHUNK bytes; the stream is closed on every way out.
 * File indices are the API's (`TorrentInfo.files`, BEP 47 pad files included); the RPC and HTTP layers map theirs.
 * BEP: none (reads BEP 3 pieces).
 */
import type { Torrent } from '../session/torrent.js';
import { BtError } from '../util/errors.js';

/** Largest Buffer yielded (a piece is read in chunks of this size). */
export const CHUNK = 1024 * 1024;

/** Checks the range now (so a caller can answer before the first byte) and returns the reader. */
export function readTorrentFile(t: Torrent, fileIndex: number, opts: { start?: number; end?: number; signal?: AbortSignal } = {}): AsyncIterable<Buffer> {
  const files = t.meta.files;
  if (!Number.isInteger(fileIndex) || fileIndex < 0 || fileIndex >= files.length) {
    throw new BtError('NOT_FOUND', `file index ${fileIndex} out of range (0..${files.length - 1})`);
  }
  const f = files[fileIndex]!;
  const start = opts.start ?? 0;
  const end = opts.end ?? f.length;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > f.length || start > end) {
    throw new BtError('USAGE', `range ${start}..${end} is not inside file ${fileIndex} (${f.length} bytes)`);
  }
  return read(t, f.offset + start, f.offset + end, opts.signal);
}

async function* read(t: Torrent, from: number, to: number, signal: AbortSignal | undefined): AsyncGenerator<Buffer, void, undefined> {
  if (from === to) return;
  const pl = t.meta.pieceLength;
  const streams = t.streaming;
  const id = streams.open(Math.floor(from / pl), Math.floor((to - 1) / pl));
  try {
    let pos = from;
    while (pos < to) {
      const piece = Math.floor(pos / pl);
      streams.aim(id, piece);
      await streams.waitPiece(piece, signal);
      const pieceEnd = Math.min(to, (piece + 1) * pl);
      while (pos < pieceEnd) {
        if (signal?.aborted) throw new BtError('ABORTED', 'read aborted', { cause: signal.reason });
        const n = Math.min(CHUNK, pieceEnd - pos);
        const buf = await t.readData(piece, pos - piece * pl, n);
        pos += n;
        yield buf;
      }
    }
  } finally {
    streams.close(id);
  }
}
