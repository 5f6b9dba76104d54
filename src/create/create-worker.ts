/**
 * Worker thread body of torrent creation's parallel hashing (BEP 3 SHA-1 piece hashes; BEP 52 SHA-256 leaves and
 * piece roots for v2 and hybrid torrents, see piece-digest.ts), started by src/create/create-torrent.ts for inputs
 * over 128 MiB.
 *
 * Each worker claims groups of consecutive pieces through a shared atomic counter, reads them itself (pread, so the
 * bytes are still in the CPU cache when they are hashed; a hybrid piece is read once for both digests) and writes the
 * digests into shared tables.
 * Invariant: it stops between groups when the shared stop flag is set, closes its file, and always ends with exactly
 * one 'done' or 'error' message; it writes only the digest slots of the pieces it claimed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { closeSync, openSync, readSync } from 'node:fs';
import { fileIndexAt, type HashFile } from './hash-files.js';
import { PieceDigester, type CreateMode } from './piece-digest.js';

/** The `workerData` of a create worker. */
export interface CreateWorkerData {
  mode: CreateMode;
  /** Non-empty files at their offsets in the torrent's offset space (data plus pad files). */
  files: HashFile[];
  /** Bytes of the offset space. */
  total: number;
  /** Piece length. */
  pl: number;
  /** Read size. */
  block: number;
  /** Pieces per claimed group. */
  groupPieces: number;
  /** Int32 next-group counter. */
  counter: SharedArrayBuffer;
  /** Int32 stop flag (non-zero: stop claiming). */
  stop: SharedArrayBuffer;
  /** 20 bytes per piece (v1, hybrid). */
  pieces: SharedArrayBuffer | undefined;
  /** 32 bytes per piece: the piece-layer hash (v2, hybrid). */
  roots: SharedArrayBuffer | undefined;
}

/** Messages from a create worker. */
export type CreateWorkerMessage = { type: 'progress'; bytes: number } | { type: 'done' } | { type: 'error'; message: string };

function run(w: CreateWorkerData, post: (m: CreateWorkerMessage) => void): void {
  const next = new Int32Array(w.counter);
  const stop = new Int32Array(w.stop);
  const digester = new PieceDigester({ mode: w.mode, files: w.files, total: w.total, pl: w.pl },
    w.pieces && new Uint8Array(w.pieces), w.roots && new Uint8Array(w.roots));
  const buf = Buffer.allocUnsafe(Math.min(w.pl, w.block));
  const pieceCount = Math.ceil(w.total / w.pl);
  const groups = Math.ceil(pieceCount / w.groupPieces);
  let fd = -1;
  let open = -1;
  const readAt = (pos: number, len: number): void => {
    for (let got = 0; got < len;) {
      const p = pos + got;
      const i = fileIndexAt(w.files, p);
      const f = w.files[i]!;
      if (open !== i) {
        if (fd >= 0) closeSync(fd);
        fd = -1;
        fd = openSync(f.abs, 'r');
        open = i;
      }
      const n = readSync(fd, buf, got, Math.min(len - got, f.offset + f.size - p), p - f.offset);
      if (n === 0) throw new Error(`${f.abs} shrank while it was being hashed (expected ${f.size} bytes)`);
      got += n;
    }
  };
  try {
    for (let g = Atomics.add(next, 0, 1); g < groups && Atomics.load(stop, 0) === 0; g = Atomics.add(next, 0, 1)) {
      let bytes = 0;
      for (let i = g * w.groupPieces; i < Math.min((g + 1) * w.groupPieces, pieceCount); i++) {
        const r = digester.begin(i);
        const end = r.start + r.len;
        for (let pos = r.start; pos < end; pos += buf.length) {
          const len = Math.min(buf.length, end - pos);
          readAt(pos, len);
          digester.update(buf.subarray(0, len));
        }
        digester.end();
        bytes += r.len;
      }
      post({ type: 'progress', bytes });
    }
    post({ type: 'done' });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

if (parentPort) {
  const port = parentPort;
  run(workerData as CreateWorkerData, (m) => port.postMessage(m));
}
