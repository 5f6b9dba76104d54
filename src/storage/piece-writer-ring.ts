/**
 * The shared-memory ring between PieceWriter (piece-writer.ts, main thread) and its worker (piece-writer-worker.ts).
 *
 * Layout: `ctrl` holds three Int32 counters/flags: SUBMITTED (jobs the main thread has published), DONE (jobs the
 * worker has answered) and STOP. Job n lives in slot n & (SLOTS - 1) (SLOTS is a power of two; the counters are int32 and wrap); its fields are in `ints` (INTS_PER_SLOT per slot),
 * its spans' file offsets in `floats` (MAX_SPANS per slot, as float64: files beyond 2 GiB), and its expected digest,
 * computed digest and error text in `bytes` (BYTES_PER_SLOT per slot).
 *
 * Invariants: only the main thread writes a slot's inputs and SUBMITTED, and only while that slot is free (fewer than
 * SLOTS jobs unanswered or unread); only the worker writes a slot's outputs and DONE. Every counter is published with
 * Atomics.store after the slot's plain writes, and read with Atomics.load before them (sequentially consistent
 * atomics order the plain accesses around them). No BEP: thread plumbing.
 */

export const RING = {
  SUBMITTED: 0,
  DONE: 1,
  STOP: 2,
  CTRL_INTS: 4,
  SLOTS: 32,
  MAX_SPANS: 8,
  // ints of one slot
  I_BUF: 0,
  I_OFFSET: 1,
  I_LENGTH: 2,
  I_SPANS: 3,
  I_STATUS: 4,
  I_FAIL_SPAN: 5,
  I_FAIL_WRITTEN: 6,
  I_ERR_LEN: 7,
  /** 1: the caller has verified the piece already: write it without hashing. */
  I_VERIFIED: 8,
  /** Then MAX_SPANS × (fd, offset in the piece, length). */
  I_SPAN0: 9,
  INTS_PER_SLOT: 9 + 3 * 8,
  // bytes of one slot
  B_EXPECTED: 0,
  B_DIGEST: 20,
  B_ERR: 40,
  ERR_BYTES: 216,
  BYTES_PER_SLOT: 256,
} as const;

export const ST_OK = 1;
export const ST_BAD = 2;
export const ST_ERROR = 3;

/** The ring's shared memory, handed to the worker as its workerData. */
export interface RingBuffers {
  ctrl: SharedArrayBuffer;
  ints: SharedArrayBuffer;
  floats: SharedArrayBuffer;
  bytes: SharedArrayBuffer;
}

/** Messages on the worker's port (read with receiveMessageOnPort: the worker never returns to its event loop). */
export type WriterMessage = { kind: 'register'; id: number; sab: SharedArrayBuffer } | { kind: 'forget'; id: number };

export function allocRing(): RingBuffers {
  return {
    ctrl: new SharedArrayBuffer(4 * RING.CTRL_INTS),
    ints: new SharedArrayBuffer(4 * RING.INTS_PER_SLOT * RING.SLOTS),
    floats: new SharedArrayBuffer(8 * RING.MAX_SPANS * RING.SLOTS),
    bytes: new SharedArrayBuffer(RING.BYTES_PER_SLOT * RING.SLOTS),
  };
}

export const slotInts = (slot: number): number => slot * RING.INTS_PER_SLOT;
export const slotFloats = (slot: number): number => slot * RING.MAX_SPANS;
export const slotBytes = (slot: number): number => slot * RING.BYTES_PER_SLOT;
