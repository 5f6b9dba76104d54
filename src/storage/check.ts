/**
 * The start-up check: hash what is on disk and report which pieces are really there (BEP 3 piece hashes, BEP 52
 * merkle hashes).
 *
 * Invariants: a piece is reported as had only if its full bytes were read and their SHA-1 equals the metainfo's
 * (v1), their v2 merkle hash equals the known piece hash or file root (v2-only), or both (hybrid); a v2 piece whose
 * piece-layer hash is not known is had only if its whole file is on disk and the piece hashes computed from it hash
 * up to the file's pieces root (the layer is then learned); v1 torrents compute no SHA-256;
 * missing or short data just leaves the piece out; memory stays bounded (a few lanes, each with one reusable
 * SharedArrayBuffer of at most max(pieceLength, BATCH_BYTES)); pieces are visited in ascending order, so reads are
 * sequential. Small pieces are read and hashed in batches (one worker message per batch). A lane's buffer is no
 * bigger than the largest batch it can get, and idle buffers are kept (up to SPARE_KEEP bytes) for the next check:
 * a session checking a thousand small torrents reuses a few buffers instead of allocating (and zero-filling) one
 * batch-sized SharedArrayBuffer per torrent.
 */
import { Bitfield } from '../util/bitfield.js';
import { BtError } from '../util/errors.js';
import { allocShared, type HashPool } from './hasher.js';
import { pieceSize } from '../metainfo/index.js';
import type { Storage, StorageMeta } from './storage.js';
import type { MerkleState, PieceCheck } from '../session/v2-hashes.js';

/** Consecutive small pieces are grouped up to this many bytes per read/hash batch. */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Target cap on the buffers of one check (lanes × batch), never fewer than 2 lanes. */
const MEMORY_BUDGET = 64 * 1024 * 1024;

/** Idle lane buffers kept for later checks, in bytes. */
const SPARE_KEEP = 8 * 1024 * 1024;
const spare: Buffer[] = [];
let spareBytes = 0;

/** A shared buffer of at least `size` bytes: a spare one that is not much bigger, else a new one. */
function takeBuffer(size: number): Buffer {
  let best = -1;
  for (let k = 0; k < spare.length; k++) {
    const len = spare[k]!.length;
    if (len >= size && len <= 2 * size && (best < 0 || len < spare[best]!.length)) best = k;
  }
  if (best < 0) return allocShared(size);
  const buf = spare.splice(best, 1)[0]!;
  spareBytes -= buf.length;
  return buf;
}

function giveBack(buf: Buffer): void {
  if (spareBytes + buf.length > SPARE_KEEP) return;
  spare.push(buf);
  spareBytes += buf.length;
}

/** Options of checkPieces. */
export interface CheckOptions {
  /** Abort: the promise rejects with BtError('ABORTED'). */
  signal?: AbortSignal;
  /** Called after each batch with the number of pieces checked so far and the number to check. */
  onProgress?: (checked: number, total: number) => void;
  /** Only check these pieces (others stay unset). */
  only?: Iterable<number>;
  /**
   * v2 and hybrid torrents: the merkle state to verify pieces with (computed on this thread, only for these
   * torrents), and whether the torrent also has SHA-1 piece hashes (hybrid) that must match too.
   */
  v2?: { state: MerkleState; sha1: boolean };
}

/** A run of consecutive pieces. */
interface Batch { first: number; count: number }

function* batches(pieces: readonly number[] | null, pieceCount: number, maxCount: number): Generator<Batch> {
  if (!pieces) {
    for (let first = 0; first < pieceCount; first += maxCount) yield { first, count: Math.min(maxCount, pieceCount - first) };
    return;
  }
  let i = 0;
  while (i < pieces.length) {
    const first = pieces[i]!;
    let count = 1;
    while (count < maxCount && i + count < pieces.length && pieces[i + count] === first + count) count++;
    yield { first, count };
    i += count;
  }
}

/**
 * Check pieces of `meta` in `storage`, hashing in `hasher`; resolves to the set of verified pieces.
 * Storage failures other than missing data reject (BtError('IO')); abort rejects with BtError('ABORTED').
 */
export async function checkPieces(meta: StorageMeta, storage: Storage, hasher: HashPool, opts: CheckOptions = {}): Promise<Bitfield> {
  const have = new Bitfield(meta.pieceCount);
  const { signal, onProgress } = opts;
  let pieces: number[] | null = null;
  if (opts.only) {
    const set = new Set<number>();
    for (const p of opts.only) {
      if (!Number.isInteger(p) || p < 0 || p >= meta.pieceCount) throw new RangeError(`piece ${p} out of range`);
      set.add(p);
    }
    pieces = [...set].sort((a, b) => a - b);
  }
  const total = pieces ? pieces.length : meta.pieceCount;
  const abortError = (): BtError => new BtError('ABORTED', 'piece check aborted');
  if (signal?.aborted) throw abortError();
  if (total === 0) return have;

  const v2 = opts.v2;
  /** v2 hashes of pieces whose layer is not known yet, by file: learned from the data if the whole file is here. */
  const pending = new Map<number, Map<number, Buffer>>();
  const checkV2 = (p: number, data: Buffer): PieceCheck => {
    const state = v2!.state;
    const check = state.verifyPiece(p, data);
    if (check !== 'unknown') return check;
    const f = state.fileOfPiece(p)!;
    let m = pending.get(f.fileIndex);
    if (!m) pending.set(f.fileIndex, m = new Map());
    m.set(p - f.firstPiece, state.computePieceHash(p, data)!);
    return check;
  };

  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / meta.pieceLength));
  // The biggest batch this check can have (a small torrent needs far less than BATCH_BYTES).
  const batchBytes = Math.min(perBatch, total) * meta.pieceLength;
  const lanes = Math.max(2, Math.min(hasher.size + 2, Math.floor(MEMORY_BUDGET / batchBytes)));
  const work = batches(pieces, meta.pieceCount, perBatch);
  let checked = 0;
  let failed = false; // set by the first lane that fails, so the others stop after their current batch

  const lane = async (): Promise<void> => {
    try {
      await runLane();
    } catch (e) {
      failed = true;
      throw e;
    }
  };
  const runLane = async (): Promise<void> => {
    const held: { buf: Buffer | null } = { buf: null };
    try {
      await lanePass((size) => (held.buf ??= takeBuffer(size)));
    } finally {
      // Only now is nobody reading into it or hashing it.
      if (held.buf) giveBack(held.buf);
    }
  };
  const lanePass = async (getBuf: (size: number) => Buffer): Promise<void> => {
    for (;;) {
      if (signal?.aborted || failed) return;
      const next = work.next();
      if (next.done) return;
      const { first, count } = next.value;
      const buf = getBuf(batchBytes);
      // Read the batch's pieces back to back into one buffer (one read per file span when the storage can).
      let len = 0;
      for (let k = 0; k < count; k++) len += pieceSize(meta, first + k);
      let present: boolean[];
      if (storage.readPieces) {
        present = await storage.readPieces(first, count, buf);
      } else {
        present = [];
        let at = 0;
        for (let k = 0; k < count; k++) {
          const size = pieceSize(meta, first + k);
          present.push((await storage.readPiece(first + k, buf.subarray(at, at + size))) !== null);
          at += size;
        }
      }
      if (signal?.aborted || failed) return;
      if (present.some(Boolean)) {
        const digests = v2 && !v2.sha1 ? null : count === 1
          ? await hasher.sha1(buf.subarray(0, len))
          : await hasher.sha1Chunks(buf.subarray(0, len), meta.pieceLength);
        for (let k = 0; k < count; k++) {
          const p = first + k;
          if (!present[k]) continue;
          if (digests && !digests.subarray(20 * k, 20 * k + 20).equals(meta.pieceHashes.subarray(20 * p, 20 * p + 20))) continue;
          // Hybrid: a piece whose v2 hash is not known yet stands on its SHA-1 alone; a v2 mismatch is never had.
          const v2check = v2 ? checkV2(p, buf.subarray(k * meta.pieceLength, k * meta.pieceLength + pieceSize(meta, p))) : 'none';
          if (v2check === 'bad' || (v2check === 'unknown' && !digests)) continue;
          have.set(p);
        }
      }
      checked += count;
      onProgress?.(checked, total);
    }
  };

  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    // No more lanes than batches: a 64 KiB torrent is one batch, and idle lanes are only promises to settle.
    const laneCount = Math.min(lanes, pieces ? total : Math.ceil(total / perBatch));
    const all = Promise.all(Array.from({ length: laneCount }, lane));
    await Promise.race([all, aborted]);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw abortError();
  if (v2) {
    // A file whose layer was unknown and which is wholly here: its computed piece hashes prove themselves if they
    // hash up to the pieces root (and become the known layer).
    for (const f of v2.state.files) {
      const m = pending.get(f.fileIndex);
      if (!m || m.size !== f.pieces) continue;
      const layer = Buffer.concat(Array.from({ length: f.pieces }, (_, j) => m.get(j)!));
      if (v2.state.addLayer(f, layer)) for (let j = 0; j < f.pieces; j++) have.set(f.firstPiece + j);
    }
  }
  return have;
}
