/**
 * Worker thread body of torrent creation's parallel hashing (BEP 3 SHA-1 piece hashes; BEP 52 SHA-256 leaves and
 * piece roots for v2 and hybrid torrents, see piece-digest.ts), started by src/create/create-torrent.ts for inputs
 * over 128 MiB.
 *
 * Each worker claims groups of consecutive pieces through a shared atomic counter, reads them itself (group-hash.ts:
 * 128 KiB preads, each hashed while it is still in the CPU cache; a hybrid piece is read once for both digests) and
 * writes the digests into shared tables.
 * Invariant: it stops between groups when the shared stop flag is set, closes its file, and always ends with exactly
 * one 'done' or 'error' message; it writes only the digest slots of the pieces it claimed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { HashFile } from './hash-files.js';
import { GroupHasher } from './group-hash.js';
import type { CreateMode } from './piece-digest.js';

/** The `workerData` of a create worker. */
export interface CreateWorkerData {
  mode: CreateMode;
  /** Non-empty files at their offsets in the torrent's offset space (data plus pad files). */
  files: HashFile[];
  /** Bytes of the offset space. */
  total: number;
  /** Piece length. */
  pl: number;
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
  const hasher = new GroupHasher({ mode: w.mode, files: w.files, total: w.total, pl: w.pl },
    w.pieces && new Uint8Array(w.pieces), w.roots && new Uint8Array(w.roots), w.groupPieces);
  const groups = hasher.groups;
  try {
    for (let g = Atomics.add(next, 0, 1); g < groups && Atomics.load(stop, 0) === 0; g = Atomics.add(next, 0, 1)) {
      post({ type: 'progress', bytes: hasher.hash(g) });
    }
    post({ type: 'done' });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  } finally {
    hasher.close();
  }
}

if (parentPort) {
  const port = parentPort;
  run(workerData as CreateWorkerData, (m) => port.postMessage(m));
}
