/**
 * Throttled, coalesced resume-data writes, one queue per torrent (reliability rule 9 in docs/design/reliability.md:
 * writes are throttled and always done on a clean stop; no BEP).
 *
 * Invariants:
 * - Never two writes of one torrent at once: a write starts only when the previous one of that torrent has settled.
 * - Throttle: a write caused by `markDirty` starts no sooner than `intervalMs` after the previous write of that
 *   torrent started; any number of `markDirty` calls in between coalesce into that one write.
 * - The data is taken by calling `snapshot(hex)` when the write starts, so a write never carries state older than
 *   its start; a change after that start (a new `markDirty`) leads to another write.
 * - `flush(hex)` resolves only after a write that STARTED after the call has finished (rejects if it failed).
 * - A failed background write is reported to `onError` and retried after `intervalMs`.
 * - Timers are unref'd: a pending write does not keep the process alive (call `close` on a clean stop).
 * - At most `maxConcurrent` writes (all torrents together) run at once; the others wait their turn in FIFO order, so
 *   a thousand torrents changing state together do not fill the I/O thread pool with fsyncs.
 */
import type { ResumeData } from './resume-codec.js';
import { BtError } from '../util/errors.js';

/** Timer functions (injectable for tests). */
export interface WriterTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

/** Options of {@link ResumeWriter}. */
export interface ResumeWriterOptions {
  /** Persist one torrent's data, e.g. `(hex, d) => store.saveResume(hex, d)`. */
  save: (hex: string, data: ResumeData) => Promise<void>;
  /**
   * The torrent's current resume data, taken at write time; null when the torrent is gone (nothing is written).
   * It must only list pieces that are verified AND durable (flush storage first, or track what was flushed).
   */
  snapshot: (hex: string) => ResumeData | null | Promise<ResumeData | null>;
  /** Minimum time between the starts of two throttled writes of one torrent (default 5000 ms). */
  intervalMs?: number;
  /** A background write failed (it is retried after `intervalMs`). Failures of a `flush` reject it instead. */
  onError?: (hex: string, error: unknown) => void;
  /** Default: the global timers (unref'd) and Date.now. */
  timers?: WriterTimers;
  /** Writes running at once across all torrents (default unlimited). */
  maxConcurrent?: number;
}

/** Default throttle interval. */
export const DEFAULT_RESUME_INTERVAL_MS = 5000;

const realTimers: WriterTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) { clearTimeout(handle as ReturnType<typeof setTimeout>); },
  now: () => Date.now(),
};

interface Waiter { gen: number; resolve: () => void; reject: (e: unknown) => void }

interface Entry {
  /** Changed since the last write started. */
  dirty: boolean;
  timer: unknown;
  hasTimer: boolean;
  running: Promise<void> | null;
  lastStart: number;
  /** Generation counter of flush requests; a write covers every request made before it started. */
  requested: number;
  waiters: Waiter[];
  forgotten: boolean;
}

/** True when the entry has a write pending or running. */
function busy(e: Entry): boolean {
  return e.dirty || e.hasTimer || e.running !== null;
}

/** Writes each torrent's resume data at most every `intervalMs`, and at once on `flush`. */
export class ResumeWriter {
  private readonly entries = new Map<string, Entry>();
  private readonly intervalMs: number;
  private readonly timers: WriterTimers;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private readonly maxConcurrent: number;
  private active = 0;
  private readonly turns: Array<() => void> = [];

  constructor(private readonly opts: ResumeWriterOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_RESUME_INTERVAL_MS;
    if (!(this.intervalMs >= 0)) throw new RangeError(`bad intervalMs ${opts.intervalMs}`);
    this.timers = opts.timers ?? realTimers;
    this.maxConcurrent = opts.maxConcurrent ?? Infinity;
    if (!(this.maxConcurrent >= 1)) throw new RangeError(`bad maxConcurrent ${opts.maxConcurrent}`);
  }

  /** Torrents with a write pending or running (for tests and stats). */
  get pending(): number {
    let n = 0;
    for (const e of this.entries.values()) if (busy(e)) n++;
    return n;
  }

  /** The torrent's state changed: write it within `intervalMs` of its previous write. Ignored once closing. */
  markDirty(hex: string): void {
    if (this.closing) return;
    const e = this.entry(hex);
    e.dirty = true;
    if (!e.running) this.schedule(hex, e);
  }

  /**
   * Write now (one torrent, or every torrent with anything pending) and wait for it. A write already in progress is
   * waited for and followed by a new one, so the result reflects the state at the time of the call.
   * @throws whatever `save` or `snapshot` threw; BtError('ABORTED') after `close`.
   */
  async flush(hex?: string): Promise<void> {
    if (this.closed) throw new BtError('ABORTED', 'resume writer closed');
    if (hex === undefined) {
      const busyOnes = [...this.entries].filter(([, e]) => busy(e)).map(([h]) => h);
      const results = await Promise.allSettled(busyOnes.map((h) => this.flushOne(h)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return;
    }
    return this.flushOne(hex);
  }

  /**
   * Stop tracking a torrent (it is being removed): cancel its pending write and wait for a running one, so that
   * nothing recreates its resume file afterwards. Pending `flush` calls for it resolve.
   */
  async forget(hex: string): Promise<void> {
    const e = this.entries.get(hex);
    if (!e) return;
    e.forgotten = true;
    e.dirty = false;
    this.cancelTimer(e);
    this.entries.delete(hex);
    if (e.running) await e.running;
    for (const w of e.waiters.splice(0)) w.resolve();
  }

  /** Flush everything, then refuse further work (`markDirty` is ignored, `flush` rejects). Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    try {
      await this.flush();
    } finally {
      for (const e of this.entries.values()) this.cancelTimer(e);
      // Writes still running (a retry after a failed flush) are waited for, not abandoned.
      await Promise.all([...this.entries.values()].map((e) => e.running));
      this.entries.clear();
      this.closed = true;
    }
  }

  private entry(hex: string): Entry {
    let e = this.entries.get(hex);
    if (!e) {
      e = { dirty: false, timer: undefined, hasTimer: false, running: null, lastStart: -Infinity, requested: 0,
        waiters: [], forgotten: false };
      this.entries.set(hex, e);
    }
    return e;
  }

  private flushOne(hex: string): Promise<void> {
    const e = this.entry(hex);
    e.dirty = true;
    const gen = ++e.requested;
    const done = new Promise<void>((resolve, reject) => { e.waiters.push({ gen, resolve, reject }); });
    if (!e.running) this.start(hex, e);
    return done;
  }

  private schedule(hex: string, e: Entry): void {
    if (e.hasTimer || this.closed) return;
    const delay = Math.max(0, e.lastStart + this.intervalMs - this.timers.now());
    e.hasTimer = true;
    e.timer = this.timers.setTimeout(() => {
      e.hasTimer = false;
      e.timer = undefined;
      if (!e.running && !e.forgotten) this.start(hex, e);
    }, delay);
  }

  private cancelTimer(e: Entry): void {
    if (!e.hasTimer) return;
    this.timers.clearTimeout(e.timer);
    e.hasTimer = false;
    e.timer = undefined;
  }

  private start(hex: string, e: Entry): void {
    this.cancelTimer(e);
    e.dirty = false;
    const gen = e.requested;
    e.lastStart = this.timers.now();
    e.running = this.write(hex).then(
      () => this.finished(hex, e, gen, false, undefined),
      (err: unknown) => this.finished(hex, e, gen, true, err),
    );
  }

  private async write(hex: string): Promise<void> {
    if (this.active >= this.maxConcurrent) await new Promise<void>((resolve) => this.turns.push(resolve));
    else this.active++;
    try {
      const data = await this.opts.snapshot(hex);
      if (data !== null) await this.opts.save(hex, data);
    } finally {
      // Hand the slot to the next waiting write (the count stays), or free it.
      const next = this.turns.shift();
      if (next) next(); else this.active--;
    }
  }

  private finished(hex: string, e: Entry, gen: number, failed: boolean, err: unknown): void {
    e.running = null;
    const mine = e.waiters.filter((w) => w.gen <= gen);
    e.waiters = e.waiters.filter((w) => w.gen > gen);
    if (failed) {
      if (mine.length > 0) for (const w of mine) w.reject(err);
      else this.reportError(hex, err);
      if (!e.forgotten && !this.closed) e.dirty = true; // retry later: what is on disk is out of date
    } else {
      for (const w of mine) w.resolve();
    }
    if (e.forgotten) return;
    if (e.waiters.length > 0) this.start(hex, e);
    else if (e.dirty && !this.closing) this.schedule(hex, e);
    // An idle entry is kept (it remembers when the last write started, for the throttle) until `forget`.
  }

  private reportError(hex: string, err: unknown): void {
    try {
      this.opts.onError?.(hex, err);
    } catch {
      // an error callback must not break the writer
    }
  }
}
