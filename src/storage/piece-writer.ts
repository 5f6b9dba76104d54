/**
 * PieceWriter: SHA-1 (BEP 3) and pwrite of whole downloaded pieces on one worker thread, so that the downloading
 * main thread only receives, assembles and bookkeeps (docs/design/performance.md, "Download").
 *
 * Hand-off: the piece lives in a SharedArrayBuffer (no copy); each buffer is announced to the worker once (a message
 * it reads synchronously) and forgotten when the main thread's buffer is garbage-collected. A job (buffer, range,
 * expected digest, up to RING.MAX_SPANS spans of (descriptor, offset in the piece, length, file offset)) is written
 * into a slot of a ring in shared memory and published with Atomics; the worker wakes from Atomics.wait, hashes, writes
 * only on a match, and publishes the result the same way; the main thread learns of it through Atomics.waitAsync.
 * No postMessage, no structured clone, no promise per block: one futex wake each way per piece (the earlier
 * postMessage round trip cost ~250 µs of main-thread time per piece).
 *
 * Invariants:
 * - every job settles exactly once, in submission order: OK (hashed, matched, every span written), BAD (digest
 *   differs: nothing written), ERROR (a write failed: the span, the bytes of it written, errno code and message), or
 *   rejected with BtError('IO') when the worker dies;
 * - the caller keeps the descriptors open and the buffer unmodified until its job settles;
 * - at most RING.SLOTS jobs are in the ring; more wait in a FIFO backlog (the downloader's own back-pressure bounds
 *   how many pieces are in flight);
 * - the worker is ref'd exactly while jobs are unanswered, so it never keeps the process alive on its own, and it
 *   stops after IDLE_MS without a job (it is started again on demand).
 */
import { Worker } from 'node:worker_threads';
import { BtError } from '../util/errors.js';
import { allocRing, RING, slotBytes, slotFloats, slotInts, ST_BAD, ST_OK, type RingBuffers, type WriterMessage } from './piece-writer-ring.js';

/** Atomics.waitAsync (Node ≥ 16; ES2024, newer than this project's TypeScript lib). */
type WaitAsync = (a: Int32Array, index: number, value: number) =>
  { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

/** A worker with no job for this long is stopped (~10 MB of memory each). */
const IDLE_MS = 3000;

/** One span of a piece: bytes [at, at + length) of the piece go to descriptor `fd` at `position`. */
export interface WriteSpan { fd: number; at: number; length: number; position: number }

export type PieceWriteResult =
  /** `digest` is null when the job was not hashed here (no `expected` given: the caller had verified the piece). */
  | { status: 'ok'; digest: Buffer | null }
  | { status: 'bad'; digest: Buffer }
  /** A write failed: spans before `span` were written whole, `written` bytes of `span` were. `error` carries `code`. */
  | { status: 'error'; span: number; written: number; error: Error & { code?: string } };

interface Job {
  data: Buffer;
  spans: readonly WriteSpan[];
  expected: Uint8Array | null;
  resolve: (r: PieceWriteResult) => void;
  reject: (e: Error) => void;
}

/** One worker and its ring. */
class Lane {
  readonly worker: Worker;
  readonly ring: RingBuffers = allocRing();
  readonly ctrl = new Int32Array(this.ring.ctrl);
  readonly ints = new Int32Array(this.ring.ints);
  readonly floats = new Float64Array(this.ring.floats);
  readonly bytes = new Uint8Array(this.ring.bytes);
  readonly ids = new WeakMap<SharedArrayBuffer, number>();
  nextId = 1;
  submitted = 0;
  consumed = 0;
  /** Jobs in the ring, in order (their slots are consumed % SLOTS onwards). */
  readonly inRing: Job[] = [];
  readonly backlog: Job[] = [];
  armed = false;
  dead = false;
  readonly forgetter = new FinalizationRegistry<number>((id) => {
    if (!this.dead) this.worker.postMessage({ kind: 'forget', id } satisfies WriterMessage);
  });

  constructor(url: URL) {
    this.worker = new Worker(url, { workerData: this.ring, execArgv: [] });
    this.worker.unref();
  }

  get busy(): boolean { return this.inRing.length + this.backlog.length > 0; }

  idOf(sab: SharedArrayBuffer): number {
    let id = this.ids.get(sab);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(sab, id);
      this.forgetter.register(sab, id);
      this.worker.postMessage({ kind: 'register', id, sab } satisfies WriterMessage);
    }
    return id;
  }
}

export class PieceWriter {
  private lane: Lane | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly url: URL;

  constructor(url?: URL) {
    this.url = url ?? new URL('./piece-writer-worker.js', import.meta.url);
  }

  /**
   * Hash `data` (which must live in a SharedArrayBuffer) and, only if its SHA-1 equals `expected`, write `spans` of
   * it; with `expected` null (the caller verified the piece itself), just write them. Resolves with the outcome;
   * rejects only when the worker fails.
   */
  run(data: Buffer, expected: Uint8Array | null, spans: readonly WriteSpan[]): Promise<PieceWriteResult> {
    if (!(data.buffer instanceof SharedArrayBuffer)) throw new TypeError('PieceWriter needs a SharedArrayBuffer-backed piece');
    if (spans.length > RING.MAX_SPANS) throw new RangeError(`a piece of ${spans.length} spans (at most ${RING.MAX_SPANS})`);
    if (expected !== null && expected.length !== 20) throw new RangeError('expected digest must be 20 bytes');
    return new Promise<PieceWriteResult>((resolve, reject) => {
      const lane = this.ensureLane();
      if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = null; }
      if (!lane.busy) lane.worker.ref();
      const job: Job = { data, spans, expected, resolve, reject };
      if (lane.inRing.length < RING.SLOTS && lane.backlog.length === 0) this.publish(lane, job);
      else lane.backlog.push(job);
      this.arm(lane);
    });
  }

  /** Jobs the worker thread has not finished yet (its queue: a measure of how far behind it is). */
  get queued(): number {
    const lane = this.lane;
    if (!lane || lane.dead) return 0;
    return ((lane.submitted - Atomics.load(lane.ctrl, RING.DONE)) | 0) + lane.backlog.length;
  }

  /** Stop the worker now (tests); jobs in flight are rejected. */
  async close(): Promise<void> {
    const lane = this.lane;
    if (!lane) return;
    this.fail(lane, new BtError('ABORTED', 'piece writer closed'));
    await lane.worker.terminate();
  }

  private ensureLane(): Lane {
    if (this.lane && !this.lane.dead) return this.lane;
    const lane = new Lane(this.url);
    lane.worker.on('error', (e) => this.fail(lane, new BtError('IO', `piece writer thread failed: ${e.message}`, { cause: e })));
    lane.worker.on('exit', (code) => this.fail(lane, new BtError('IO', `piece writer thread exited (code ${code})`)));
    this.lane = lane;
    return lane;
  }

  private publish(lane: Lane, job: Job): void {
    const slot = lane.submitted & (RING.SLOTS - 1);
    const I = slotInts(slot);
    const F = slotFloats(slot);
    const B = slotBytes(slot);
    const { ints, floats, bytes } = lane;
    ints[I + RING.I_BUF] = lane.idOf(job.data.buffer as SharedArrayBuffer);
    ints[I + RING.I_OFFSET] = job.data.byteOffset;
    ints[I + RING.I_LENGTH] = job.data.byteLength;
    ints[I + RING.I_SPANS] = job.spans.length;
    for (let k = 0; k < job.spans.length; k++) {
      const s = job.spans[k]!;
      const S = I + RING.I_SPAN0 + 3 * k;
      ints[S] = s.fd;
      ints[S + 1] = s.at;
      ints[S + 2] = s.length;
      floats[F + k] = s.position;
    }
    ints[I + RING.I_VERIFIED] = job.expected === null ? 1 : 0;
    if (job.expected !== null) bytes.set(job.expected, B + RING.B_EXPECTED);
    lane.inRing.push(job);
    lane.submitted = (lane.submitted + 1) | 0;
    Atomics.store(lane.ctrl, RING.SUBMITTED, lane.submitted);
    Atomics.notify(lane.ctrl, RING.SUBMITTED);
  }

  /** Wait (asynchronously) for the worker to answer more jobs. */
  private arm(lane: Lane): void {
    if (lane.armed || lane.dead || lane.inRing.length === 0) return;
    lane.armed = true;
    // Wait for DONE to move past what has been collected (not past its current value: answers that arrived since the
    // last collect must wake us at once, or they would wait for a later answer that may never come).
    const w = waitAsync(lane.ctrl, RING.DONE, lane.consumed);
    const wake = (): void => { lane.armed = false; this.collect(lane); };
    if (w.async) void w.value.then(wake);
    else queueMicrotask(wake);
  }

  /** Settle every answered job, refill the ring from the backlog, and wait again or go idle. */
  private collect(lane: Lane): void {
    if (lane.dead) return;
    const done = Atomics.load(lane.ctrl, RING.DONE);
    while (lane.consumed !== done && lane.inRing.length > 0) {
      const slot = lane.consumed & (RING.SLOTS - 1);
      const job = lane.inRing.shift()!;
      lane.consumed = (lane.consumed + 1) | 0;
      job.resolve(this.result(lane, slot));
    }
    while (lane.backlog.length > 0 && lane.inRing.length < RING.SLOTS) this.publish(lane, lane.backlog.shift()!);
    if (lane.busy) { this.arm(lane); return; }
    lane.worker.unref();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (lane.busy || lane.dead) return;
      lane.dead = true;
      if (this.lane === lane) this.lane = null;
      Atomics.store(lane.ctrl, RING.STOP, 1);
      Atomics.notify(lane.ctrl, RING.SUBMITTED);
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private result(lane: Lane, slot: number): PieceWriteResult {
    const I = slotInts(slot);
    const B = slotBytes(slot);
    const status = lane.ints[I + RING.I_STATUS]!;
    const hashed = lane.ints[I + RING.I_VERIFIED] !== 1;
    const digest = Buffer.from(lane.bytes.slice(B + RING.B_DIGEST, B + RING.B_DIGEST + 20));
    if (status === ST_OK) return { status: 'ok', digest: hashed ? digest : null };
    if (status === ST_BAD) return { status: 'bad', digest };
    const text = Buffer.from(lane.bytes.subarray(B + RING.B_ERR, B + RING.B_ERR + lane.ints[I + RING.I_ERR_LEN]!)).toString('utf8');
    const cut = text.indexOf('\0');
    const code = cut >= 0 ? text.slice(0, cut) : '';
    const error: Error & { code?: string } = new Error(cut >= 0 ? text.slice(cut + 1) : text);
    if (code !== '') error.code = code;
    return { status: 'error', span: lane.ints[I + RING.I_FAIL_SPAN]!, written: lane.ints[I + RING.I_FAIL_WRITTEN]!, error };
  }

  /** The lane's worker is gone: reject what it held. */
  private fail(lane: Lane, err: Error): void {
    const wasDead = lane.dead;
    lane.dead = true;
    if (this.lane === lane) this.lane = null;
    const jobs = [...lane.inRing.splice(0), ...lane.backlog.splice(0)];
    for (const j of jobs) j.reject(err);
    if (!wasDead && jobs.length > 0) lane.worker.unref();
  }
}

let shared: PieceWriter | null = null;

/** The process's PieceWriter (one worker thread for every storage that uses it). */
export function sharedPieceWriter(): PieceWriter {
  shared ??= new PieceWriter();
  return shared;
}
