/**
 * Time, timers and their injection: the `Clock` interface the session, discovery and magnet modules take their
 * time and timers from (issue 10, item 5), and `ManualClock`, a virtual clock for tests that moves only when told.
 * The real clock (wall time, Node timers) is src/platform/clock.ts; this module stays pure.
 *
 * Invariant (ManualClock): a timer fires only inside `advance`, in due-time order (ties in creation order), with
 * `now()` equal to its due time; a cleared timer never fires.
 */

/** A pending timer. `unref()` lets the process exit while it is pending (a no-op on a virtual clock). */
export interface ClockTimer {
  unref(): unknown;
}

/** Time in ms (wall-clock epoch for the real clock) and timers. Methods may be called detached (`const { now } = c`). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(t: ClockTimer | undefined): void;
  setInterval(fn: () => void, ms: number): ClockTimer;
  clearInterval(t: ClockTimer | undefined): void;
}

interface ManualTimer extends ClockTimer {
  due: number;
  readonly seq: number;
  readonly fn: () => void;
  /** Repeat period (intervals), 0 for a timeout. */
  readonly every: number;
}

/** A virtual clock: `now()` starts at `start` and moves only by `advance(ms)`, which runs the timers that come due. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start = 0) { this.t = start; }

  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): ClockTimer => this.add(fn, ms, 0);
  readonly setInterval = (fn: () => void, ms: number): ClockTimer => this.add(fn, ms, Math.max(1, ms));
  readonly clearTimeout = (t: ClockTimer | undefined): void => { this.timers.delete(t as ManualTimer); };
  readonly clearInterval = (t: ClockTimer | undefined): void => { this.timers.delete(t as ManualTimer); };

  /** Timers pending. */
  get pending(): number { return this.timers.size; }

  /** Move time forward by `ms`, firing every timer that comes due on the way. */
  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    for (;;) {
      let next: ManualTimer | undefined;
      for (const x of this.timers) if (x.due <= end && (!next || x.due < next.due || (x.due === next.due && x.seq < next.seq))) next = x;
      if (!next) break;
      this.t = Math.max(this.t, next.due);
      if (next.every > 0) next.due += next.every; else this.timers.delete(next);
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number): ManualTimer {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn, every, unref: () => timer };
    this.timers.add(timer);
    return timer;
  }
}
