/**
 * Time, timers and their injection: the `Clock` interface the session, discovery and magnet modules take their
 * time and timers from (issue 10, item 5), and `ManualClock`, a virtual clock for tests that moves only when told.
 * The real clock (wall time, Node timers) is src/platform/clock.ts; this module stays pure.
 *
 * Invariant (ManualClock): a timer fires only inside `advance`/`advanceTo`, in due-time order (ties in creation order), with
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
  /** Creation order: ties in due time fire in this order (an interval keeps its own across repeats). */
  readonly seq: number;
  readonly fn: () => void;
  /** Repeat period (intervals), 0 for a timeout. */
  readonly every: number;
  /** Cleared (it stays in the heap until it reaches the top, then is dropped unfired). */
  cleared: boolean;
}

const before = (a: ManualTimer, b: ManualTimer): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

/**
 * A virtual clock: `now()` starts at `start` and moves only by `advance(ms)` (or `advanceTo`), which runs the timers
 * that come due. Timers sit in a binary heap ordered by (due, seq), so a simulation with thousands of pending timers
 * pays O(log n) per timer, and `nextDue()` tells a discrete-event driver where the next event is.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private live = 0;
  private readonly heap: ManualTimer[] = [];

  constructor(start = 0) { this.t = start; }

  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): ClockTimer => this.add(fn, ms, 0);
  readonly setInterval = (fn: () => void, ms: number): ClockTimer => this.add(fn, ms, Math.max(1, ms));
  readonly clearTimeout = (t: ClockTimer | undefined): void => { this.clear(t); };
  readonly clearInterval = (t: ClockTimer | undefined): void => { this.clear(t); };

  /** Timers pending. */
  get pending(): number { return this.live; }

  /** Due time of the earliest pending timer, or undefined when none is pending. */
  nextDue(): number | undefined {
    this.dropCleared();
    return this.heap[0]?.due;
  }

  /** Move time forward by `ms`, firing every timer that comes due on the way. */
  advance(ms: number): void {
    this.advanceTo(this.t + Math.max(0, ms));
  }

  /** Move time forward to `end` (never back), firing every timer due at or before it, in (due, creation) order. */
  advanceTo(end: number): void {
    end = Math.max(this.t, end);
    for (;;) {
      this.dropCleared();
      const next = this.heap[0];
      if (!next || next.due > end) break;
      this.t = Math.max(this.t, next.due);
      if (next.every > 0) {
        next.due += next.every;
        this.siftDown(0);
      } else {
        this.pop();
        next.cleared = true;
        this.live--;
      }
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number): ManualTimer {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn, every, cleared: false, unref: () => timer };
    this.heap.push(timer);
    this.siftUp(this.heap.length - 1);
    this.live++;
    return timer;
  }

  private clear(t: ClockTimer | undefined): void {
    const timer = t as ManualTimer | undefined;
    if (!timer || timer.cleared || typeof timer.due !== 'number') return;
    timer.cleared = true;
    this.live--;
  }

  private dropCleared(): void {
    while (this.heap.length > 0 && this.heap[0]!.cleared) this.pop();
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const x = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(x, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = x;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, x)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = x;
  }
}
