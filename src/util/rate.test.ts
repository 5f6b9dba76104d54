import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateMeter } from './rate.js';

/** A hand-driven clock. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/** Feed `bytesPerSecond` in 100 ms steps for `ms` milliseconds. */
function feed(m: RateMeter, c: ReturnType<typeof clock>, bytesPerSecond: number, ms: number): void {
  for (let t = 0; t < ms; t += 100) { m.add(bytesPerSecond / 10); c.advance(100); }
}

test('a steady flow reads close to its rate', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  feed(m, c, 100_000, 5000);
  assert.ok(Math.abs(m.rate - 100_000) <= 10_000, `rate ${m.rate}`);
  assert.equal(m.total, 500_000);
});

test('no bytes for 3 s: the rate is exactly 0', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  feed(m, c, 50_000, 4000);
  assert.ok(m.rate > 0);
  c.advance(3000);
  assert.equal(m.rate, 0);
  assert.equal(m.total, 200_000, 'the total is kept');
});

test('nobody ticks the meter for a minute: it reads 0 at read time', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  m.add(839);
  assert.ok(m.rate > 0);
  c.advance(60_000);
  assert.equal(m.rate, 0);
});

test('the rate reaches 0 within the window after the last byte, not before', () => {
  const c = clock();
  const m = new RateMeter(c.now, 2000);
  feed(m, c, 10_000, 3000);
  c.advance(1500);
  assert.ok(m.rate > 0, 'still inside the window');
  c.advance(500);
  assert.equal(m.rate, 0);
});

test('a flow that stops then resumes is measured again', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  feed(m, c, 20_000, 3000);
  c.advance(10_000);
  assert.equal(m.rate, 0);
  feed(m, c, 40_000, 3000);
  assert.ok(Math.abs(m.rate - 40_000) <= 5000, `rate ${m.rate}`);
});

test('a young meter is not underestimated by the unused part of its window', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  feed(m, c, 80_000, 500);
  assert.ok(Math.abs(m.rate - 80_000) <= 20_000, `rate ${m.rate}`);
});

test('reset() reads 0 at once and keeps the total; non-positive adds are ignored', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  feed(m, c, 30_000, 2000);
  m.add(0); m.add(-5); m.add(Number.NaN);
  m.reset();
  assert.equal(m.rate, 0);
  assert.equal(m.total, 60_000);
});

test('the rate is never negative, even if the clock steps back', () => {
  const c = clock(5000);
  const m = new RateMeter(c.now);
  m.add(1000);
  c.advance(-4000);
  assert.ok(m.rate >= 0);
  m.add(1000);
  c.advance(100);
  assert.ok(m.rate >= 0);
});
