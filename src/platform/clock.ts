/**
 * The real clock: wall time (`Date.now()`, ms since the epoch) and Node's timers, behind the `Clock` interface of
 * src/util/clock.ts, and the real rng. The one place the session, discovery and magnet modules' time comes from unless a test injects
 * another clock.
 *
 * Invariant: each method is a plain function (safe to call detached) that forwards to the Node global of its name.
 */
import type { Clock } from '../util/clock.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => { if (t !== undefined) clearTimeout(t as NodeJS.Timeout); },
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => { if (t !== undefined) clearInterval(t as NodeJS.Timeout); },
};

/** The real randomness in [0, 1) (`Math.random`), the default of modules that take an injected `rng`. */
export const systemRng = (): number => Math.random();

/** `base` with its time read from `now` (a session given only `now` keeps real timers). */
export function clockWithNow(base: Clock, now: (() => number) | undefined): Clock {
  return now === undefined ? base : { ...base, now };
}

/** Monotonic milliseconds with sub-millisecond fractions (`performance.now()`): uTP's microsecond timestamps. */
export const monotonicMs = (): number => performance.now();
