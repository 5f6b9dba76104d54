/**
 * ManualClock: time moves only by advance(); timers fire in due order with now() at their due time; intervals
 * repeat; cleared timers never fire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.js';

test('ManualClock fires timeouts and intervals in due order, at their due time, and never a cleared one', () => {
  const c = new ManualClock(1000);
  const fired: string[] = [];
  c.setTimeout(() => fired.push(`b@${c.now()}`), 200);
  c.setTimeout(() => fired.push(`a@${c.now()}`), 100);
  const cleared = c.setTimeout(() => fired.push('cleared'), 150);
  const every = c.setInterval(() => fired.push(`i@${c.now()}`), 120);
  c.clearTimeout(cleared);
  assert.equal(c.now(), 1000);
  assert.deepEqual(fired, [], 'nothing fires before advance()');
  c.advance(250);
  assert.equal(c.now(), 1250);
  assert.deepEqual(fired, ['a@1100', 'i@1120', 'b@1200', 'i@1240']);
  c.clearInterval(every);
  c.advance(1000);
  assert.equal(fired.length, 4, 'a cleared interval stops');
  assert.equal(c.pending, 0);
});

test('ManualClock: a timer set from a timer callback fires within the same advance when due', () => {
  const c = new ManualClock();
  const fired: number[] = [];
  c.setTimeout(() => { fired.push(c.now()); c.setTimeout(() => fired.push(c.now()), 10); }, 10);
  const t = c.setTimeout(() => fired.push(-1), 0);
  assert.equal(t.unref(), t, 'unref is a no-op returning the timer');
  c.clearTimeout(t);
  c.advance(25);
  assert.deepEqual(fired, [10, 20]);
  const { now } = c;
  assert.equal(now(), 25, 'methods work detached');
});

test('ManualClock.nextDue and advanceTo: the next event of a discrete-event driver, many timers in order', () => {
  const c = new ManualClock(0);
  assert.equal(c.nextDue(), undefined, 'nothing pending');
  const fired: number[] = [];
  // 2000 timers set in a scrambled order; they must fire sorted by due time, ties in creation order.
  for (let i = 0; i < 2000; i++) { const due = (i * 7919) % 1000; c.setTimeout(() => fired.push(due * 10_000 + i), due); }
  const dropped = c.setTimeout(() => fired.push(-1), 0);
  c.clearTimeout(dropped);
  c.clearTimeout(dropped);
  assert.equal(c.pending, 2000, 'clearing twice counts once');
  assert.equal(c.nextDue(), 0);
  c.advanceTo(499);
  assert.equal(c.now(), 499);
  assert.equal(c.nextDue(), 500);
  c.advanceTo(10); // never back
  assert.equal(c.now(), 499);
  c.advanceTo(c.nextDue()!);
  c.advance(1000);
  assert.equal(fired.length, 2000);
  assert.deepEqual(fired, [...fired].sort((a, b) => a - b), 'due order, ties in creation order');
  assert.equal(c.pending, 0);
  assert.equal(c.nextDue(), undefined);
});
