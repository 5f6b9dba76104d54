/**
 * When fs-storage starts a background write-back sweep (an fdatasync of every dirty file, on the thread pool) while a
 * download runs, so the flush after the last piece only has to sync what was written since the last sweep.
 *
 * Pure: no timers, no files; the clock is injected. A sweep is due once `bytes` have been written since the last one
 * began, or once the oldest write not yet covered by a sweep is `ageMs` old (checked at the next write); at most one
 * sweep runs at a time. Durability is not decided here: fs-storage's flush still waits for every sync in flight and
 * syncs what is dirty, so resume data never lists a piece that no completed fdatasync covers
 * (docs/design/persistence.md). No BEP.
 */

export interface WriteBackOptions {
  /** Bytes written since the last sweep began that make the next one due (default 8 MiB). */
  readonly bytes?: number;
  /** Age of the oldest uncovered write that makes a sweep due (default 500 ms). */
  readonly ageMs?: number;
  readonly now?: () => number;
}

export const WRITE_BACK_BYTES = 8 * 1024 * 1024;
export const WRITE_BACK_AGE_MS = 500;

/** The write-back schedule of one storage. */
export class WriteBackPlan {
  private pending = 0;
  private since = -1;
  private running = false;
  private readonly bytes: number;
  private readonly ageMs: number;
  private readonly now: () => number;

  constructor(opts: WriteBackOptions = {}) {
    this.bytes = opts.bytes ?? WRITE_BACK_BYTES;
    this.ageMs = opts.ageMs ?? WRITE_BACK_AGE_MS;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.bytes > 0) || !(this.ageMs >= 0)) throw new RangeError('write-back thresholds must be positive');
  }

  /** Bytes written and not covered by a sweep that began after them. */
  get pendingBytes(): number { return this.pending; }
  get sweeping(): boolean { return this.running; }

  /** Record a write of `n` bytes; true when a sweep should begin now (then call `begin`). */
  note(n: number): boolean {
    if (n <= 0) return false;
    const t = this.now();
    if (this.pending === 0) this.since = t;
    this.pending += n;
    return this.due(t);
  }

  /** A sweep begins: it covers everything noted so far. */
  begin(): void {
    this.running = true;
    this.pending = 0;
    this.since = -1;
  }

  /** The sweep ended; true when the next one is due at once (enough was written meanwhile). */
  end(): boolean {
    this.running = false;
    return this.due(this.now());
  }

  private due(t: number): boolean {
    if (this.running || this.pending === 0) return false;
    return this.pending >= this.bytes || t - this.since >= this.ageMs;
  }
}
