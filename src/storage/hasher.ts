/**
 * HashPool: SHA-1 of pieces (BEP 3) on worker threads, so hashing never blocks the event loop for long. With
 * `workers: 0` it hashes on the calling thread instead (no thread, no timer: the simulation tier's deterministic
 * sessions). Jobs of at most `inlineMaxBytes` (default 64 KiB, ~40 µs of SHA-1) are hashed on the calling thread too:
 * a worker round trip costs the main thread about as much as hashing them (postMessage, the reply, the promise), and
 * a session checking a thousand small torrents at start-up then starts no hash thread at all (~10 MB each;
 * docs/design/scale.md).
 *
 * Invariants: every job settles exactly once (digest, worker failure → BtError('IO'), or close → BtError('ABORTED'));
 * a worker holds at most PER_WORKER jobs and the rest wait in a FIFO queue; a worker is ref'd exactly while it has
 * jobs, so an idle pool never keeps the process alive; a crashed worker's jobs are rejected and a new worker is
 * started on demand; a worker idle for IDLE_WORKER_MS exits (a seeding-only session keeps no hash threads, each
 * is ~10 MB of memory) and is started again on demand. Bytes in a SharedArrayBuffer are hashed in place (no copy); other bytes are copied once, when the
 * job is handed to a worker, into a reused SharedArrayBuffer scratch, so the caller's buffer is never detached or
 * modified. Callers must not modify `data` until the promise settles.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import { BtError } from '../util/errors.js';
import type { HashRequest, HashResponse } from './hash-worker.js';

/** Jobs handed to one worker at a time (one running, one ready), the rest queue in the pool. */
const PER_WORKER = 2;
/** A worker with no job for this long is stopped. */
const IDLE_WORKER_MS = 3000;
/** Idle scratch buffers (for copying non-shared input) kept for reuse, in bytes. */
const SCRATCH_KEEP = 64 * 1024 * 1024;

/** A Buffer backed by a SharedArrayBuffer: HashPool hashes it without copying. */
export function allocShared(length: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(length));
}

/** True if `data` lives in a SharedArrayBuffer. */
export function isShared(data: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer;
}

/** SHA-1 of `data` (chunk 0) or of each `chunk`-byte piece of it, concatenated: the workers' answer, inline. */
function digestChunks(data: Uint8Array, chunk: number): Buffer {
  if (chunk <= 0) return createHash('sha1').update(data).digest();
  const n = Math.max(1, Math.ceil(data.byteLength / chunk));
  const out = Buffer.alloc(20 * n);
  for (let k = 0; k < n; k++) {
    createHash('sha1').update(data.subarray(k * chunk, Math.min(data.byteLength, (k + 1) * chunk))).digest().copy(out, 20 * k);
  }
  return out;
}

interface Job {
  id: number;
  data: Uint8Array;
  chunk: number;
  /** Shared copy of `data` while the job is with a worker (non-shared input only). */
  scratch: Buffer | null;
  resolve: (digests: Buffer) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  dead: boolean;
  /** Stops the worker when it stays idle (set while it has no job). */
  idleTimer?: NodeJS.Timeout | undefined;
}

/** Options of HashPool. */
export interface HashPoolOptions {
  /**
   * Worker threads (default `max(1, min(4, os.availableParallelism()))`). 0: hash on the calling thread, each job
   * settled in a microtask (no thread, no timer: what a deterministic simulation on a virtual clock needs).
   */
  workers?: number;
  /** Jobs of at most this many bytes are hashed on the calling thread (default 64 KiB; 0: every job goes to a worker). */
  inlineMaxBytes?: number;
}

/** Jobs up to this size are hashed on the calling thread (see the header). */
const INLINE_MAX_BYTES = 64 * 1024;

/** A pool of SHA-1 worker threads with a job queue and least-busy dispatch. */
export class HashPool {
  /** Configured number of workers. */
  readonly size: number;
  private readonly inlineMax: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly url = new URL('./hash-worker.js', import.meta.url);
  private scratchFree: Buffer[] = [];
  private scratchBytes = 0;

  constructor(opts: HashPoolOptions = {}) {
    const n = opts.workers ?? Math.max(1, Math.min(4, os.availableParallelism()));
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`workers must be a non-negative integer, got ${n}`);
    this.size = n;
    this.inlineMax = opts.inlineMaxBytes ?? INLINE_MAX_BYTES;
  }

  /** Workers running now (they start on demand, up to `size`). */
  get liveWorkers(): number { return this.slots.length; }
  /** Jobs queued or running. */
  get pending(): number {
    let n = this.queue.length;
    for (const s of this.slots) n += s.jobs.size;
    return n;
  }

  /** SHA-1 digest (20 bytes) of `data`. */
  async sha1(data: Uint8Array): Promise<Buffer> {
    return this.submit(data, 0);
  }

  /**
   * SHA-1 of each consecutive `chunkLength`-byte chunk of `data` (the last may be short), concatenated
   * (20 bytes per chunk). One message for many small pieces.
   */
  async sha1Chunks(data: Uint8Array, chunkLength: number): Promise<Buffer> {
    if (!Number.isInteger(chunkLength) || chunkLength < 1) throw new RangeError(`bad chunk length ${chunkLength}`);
    return this.submit(data, chunkLength);
  }

  /** True if SHA-1(`data`) equals `expected`. */
  async verify(data: Uint8Array, expected: Uint8Array): Promise<boolean> {
    const d = await this.sha1(data);
    return d.equals(expected);
  }

  /** Terminate the workers. Queued and running jobs reject with BtError('ABORTED'). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = (): BtError => new BtError('ABORTED', 'hash pool closed');
    for (const j of this.queue.splice(0)) j.reject(err());
    const slots = this.slots.splice(0);
    for (const s of slots) {
      s.dead = true;
      if (s.idleTimer) { clearTimeout(s.idleTimer); s.idleTimer = undefined; }
      for (const j of s.jobs.values()) j.reject(err());
      s.jobs.clear();
    }
    this.scratchFree = [];
    this.scratchBytes = 0;
    await Promise.allSettled(slots.map((s) => s.worker.terminate()));
  }

  private submit(data: Uint8Array, chunk: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new BtError('ABORTED', 'hash pool closed'));
    if (this.size === 0 || data.byteLength <= this.inlineMax) return Promise.resolve(digestChunks(data, chunk));
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, data, chunk, scratch: null, resolve, reject });
      this.pump();
    });
  }

  /** The request for `job`: shared input is posted as is; other input is copied into a reused shared scratch. */
  private request(job: Job): HashRequest {
    const { data } = job;
    if (isShared(data)) return { id: job.id, buf: data.buffer, offset: data.byteOffset, length: data.byteLength, chunk: job.chunk };
    let i = -1;
    for (let k = 0; k < this.scratchFree.length; k++) {
      const b = this.scratchFree[k]!;
      if (b.length >= data.byteLength && (i < 0 || b.length < this.scratchFree[i]!.length)) i = k;
    }
    let scratch: Buffer;
    if (i >= 0) {
      scratch = this.scratchFree.splice(i, 1)[0]!;
      this.scratchBytes -= scratch.length;
    } else {
      scratch = allocShared(Math.max(64 * 1024, data.byteLength));
    }
    scratch.set(data);
    job.scratch = scratch;
    return { id: job.id, buf: scratch.buffer, offset: scratch.byteOffset, length: data.byteLength, chunk: job.chunk };
  }

  private releaseScratch(job: Job): void {
    const s = job.scratch;
    job.scratch = null;
    if (!s || this.closed) return;
    if (this.scratchBytes + s.length <= SCRATCH_KEEP) {
      this.scratchFree.push(s);
      this.scratchBytes += s.length;
    }
  }

  /** Settle a job that left a worker. */
  private finish(job: Job, outcome: { digests: Buffer } | { error: Error }): void {
    this.releaseScratch(job);
    if ('digests' in outcome) job.resolve(outcome.digests);
    else job.reject(outcome.error);
  }

  /** Hand queued jobs to the least busy workers, starting workers as needed. */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let best: Slot | undefined;
      for (const s of this.slots) if (s.jobs.size < PER_WORKER && (!best || s.jobs.size < best.jobs.size)) best = s;
      if (!best || (best.jobs.size > 0 && this.slots.length < this.size)) best = this.spawn() ?? best;
      if (!best) return;
      const job = this.queue.shift()!;
      best.jobs.set(job.id, job);
      if (best.jobs.size === 1) this.updateRef(best);
      try {
        const req = this.request(job);
        best.worker.postMessage(req);
      } catch (e) {
        best.jobs.delete(job.id);
        this.updateRef(best);
        this.finish(job, { error: new BtError('IO', `hash worker: cannot post job: ${e instanceof Error ? e.message : String(e)}`, { cause: e }) });
      }
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.size) return undefined;
    // execArgv: [] so flags meant for the main script (e.g. --input-type, --eval) are not inherited.
    const worker = new Worker(this.url, { execArgv: [] });
    const slot: Slot = { worker, jobs: new Map(), dead: false };
    worker.unref();
    worker.on('message', (res: HashResponse) => this.onMessage(slot, res));
    worker.on('error', (e: Error) => this.onFailure(slot, e));
    worker.on('exit', (code: number) => this.onFailure(slot, new Error(`hash worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private onMessage(slot: Slot, res: HashResponse): void {
    const job = slot.jobs.get(res.id);
    if (!job) return;
    slot.jobs.delete(res.id);
    this.updateRef(slot);
    if ('digests' in res) {
      const digests = Buffer.from(res.digests.buffer, res.digests.byteOffset, res.digests.byteLength);
      this.finish(job, { digests });
    }
    else this.finish(job, { error: new BtError('IO', `hash worker: ${res.error}`) });
    this.pump();
  }

  /** A worker died: reject its jobs, drop it; the next pump starts a replacement. */
  private onFailure(slot: Slot, e: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const j of slot.jobs.values()) this.finish(j, { error: new BtError('IO', `hash worker failed: ${e.message}`, { cause: e }) });
    slot.jobs.clear();
    void slot.worker.terminate().catch(() => undefined);
    this.pump();
  }

  private updateRef(slot: Slot): void {
    if (slot.idleTimer) { clearTimeout(slot.idleTimer); slot.idleTimer = undefined; }
    if (slot.jobs.size > 0) { slot.worker.ref(); return; }
    slot.worker.unref();
    if (slot.dead || this.closed) return;
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.dead || slot.jobs.size > 0) return;
      slot.dead = true; // its 'exit' is expected: not a failure
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      void slot.worker.terminate().catch(() => undefined);
    }, IDLE_WORKER_MS);
    slot.idleTimer.unref();
  }
}
