/**
 * The torrent of the wire captures (test/support/wire-capture.ts) and their replay (src/session/wire-fixtures.test.ts):
 * deterministic content and metainfo, so a replayed handshake names the same info-hash the client saw.
 * Invariant: a pure function of the constants below. BEP: 3.
 */
import { createHash } from 'node:crypto';
import { buildTorrent } from '../../src/metainfo/build.js';
import type { Metainfo } from '../../src/metainfo/index.js';
import { ByteStream } from '../helpers/content.js';

/** The capture torrent: 8 pieces of 32 KiB minus 1000 bytes (a short last piece), one file. */
export const CAPTURE_PIECE_LENGTH = 32 * 1024;
export const CAPTURE_PIECES = 8;
export const CAPTURE_LENGTH = CAPTURE_PIECES * CAPTURE_PIECE_LENGTH - 1000;
export const CAPTURE_NAME = 'capture.bin';
/** Pieces a `partial` client starts with. */
export const PARTIAL_PIECES = 4;

/** The capture content and torrent: a pure function of the constants above (the replay test rebuilds them). */
export function captureTorrent(): { data: Buffer; torrent: Buffer; meta: Metainfo } {
  const data = new ByteStream('bitpeer wire capture').next(CAPTURE_LENGTH);
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += CAPTURE_PIECE_LENGTH) {
    hashes.push(createSha1(data.subarray(off, off + CAPTURE_PIECE_LENGTH)));
  }
  const { torrent, meta } = buildTorrent(CAPTURE_NAME, CAPTURE_PIECE_LENGTH, undefined, data.length, Buffer.concat(hashes), {});
  return { data, torrent, meta };
}

function createSha1(b: Buffer): Buffer { return createHash('sha1').update(b).digest(); }
