/**
 * The real clock: its timers are Node's (they fire, clear, repeat), its time is wall time, and clockWithNow swaps
 * only the time source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockWithNow, systemClock, systemRng } from './clock.js';

test('systemClock: setTimeout fires, clearTimeout cancels, setInterval repeats until cleared', { timeout: 5_000 }, async () => {
  const { now, setTimeout: later, clearTimeout: cancel, setInterval: every, clearInterval: stop } = systemClock; // detached
  const t0 = now();
  assert.ok(Math.abs(t0 - Date.now()) < 1000, 'wall time in ms');
  let cancelledRan = false;
  const c = later(() => { cancelledRan = true; }, 5);
  cancel(c);
  cancel(undefined);
  let ticks = 0;
  await new Promise<void>((resolve) => {
    const i = every(() => { if (++ticks === 3) { stop(i); resolve(); } }, 5);
  });
  await new Promise<void>((resolve) => { later(resolve, 30); });
  const u = later(() => undefined, 60_000);
  assert.equal(u.unref(), u, 'unref is Node\'s');
  cancel(u);
  assert.equal(ticks, 3, 'a cleared interval stops');
  assert.equal(cancelledRan, false, 'a cleared timeout never runs');
  assert.ok(now() - t0 >= 29, 'time moved with the timers');
});

test('clockWithNow replaces only the time source; systemRng is in [0, 1)', () => {
  const c = clockWithNow(systemClock, () => 42);
  assert.equal(c.now(), 42);
  assert.equal(c.setTimeout, systemClock.setTimeout);
  assert.equal(clockWithNow(systemClock, undefined), systemClock);
  for (let k = 0; k < 100; k++) { const x = systemRng(); assert.ok(x >= 0 && x < 1); }
});
