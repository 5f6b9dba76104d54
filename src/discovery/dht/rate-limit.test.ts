import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { QueryRateLimiter } from './rate-limit.js';
import { RATE_BLOCK_MS, RATE_PER_SECOND, RATE_WINDOW_MS } from './types.js';

test('defaults: 50 queries in a 10 s window pass, the 51st blocks the source for 5 minutes', () => {
  const rl = new QueryRateLimiter();
  const perWindow = (RATE_PER_SECOND * RATE_WINDOW_MS) / 1000;
  for (let i = 0; i < perWindow; i++) assert.ok(rl.allow('1.2.3.4', 1000 + i * 10), `query ${i}`);
  assert.equal(rl.allow('1.2.3.4', 2000), false);
  assert.equal(rl.blocked, 1);
  assert.ok(rl.allow('5.6.7.8', 2000), 'another source is not affected');
  // Blocked: every query is refused until the block ends, even after the window would have reset.
  assert.equal(rl.allow('1.2.3.4', 2000 + RATE_WINDOW_MS * 3), false);
  assert.equal(rl.allow('1.2.3.4', 2000 + RATE_BLOCK_MS - 1), false);
  assert.ok(rl.allow('1.2.3.4', 2000 + RATE_BLOCK_MS));
  assert.equal(rl.blocked, 0);
});

test('a steady rate at the limit is never blocked; windows reset', () => {
  const rl = new QueryRateLimiter({ perSecond: 2, windowMs: 1000, blockMs: 5000 });
  for (let t = 0; t < 60_000; t += 500) assert.ok(rl.allow('a', t), `t=${t}`);
});

test('blocked counts sources blocked now', () => {
  const rl = new QueryRateLimiter({ perSecond: 1, windowMs: 1000, blockMs: 100 });
  assert.ok(rl.allow('a', 0));
  assert.equal(rl.allow('a', 1), false);
  assert.ok(rl.allow('b', 50));
  assert.equal(rl.allow('b', 51), false);
  assert.equal(rl.blocked, 2);
  rl.allow('c', 101); // a's block ended at 101
  assert.equal(rl.blocked, 1);
  rl.allow('d', 151);
  assert.equal(rl.blocked, 0);
});

test('bounded: never more than maxTracked windows or blocks, whatever the keys', () => {
  fc.assert(fc.property(fc.array(fc.record({ key: fc.integer({ min: 0, max: 40 }), dt: fc.integer({ min: 0, max: 300 }) }), { maxLength: 500 }), (ops) => {
    const rl = new QueryRateLimiter({ perSecond: 2, windowMs: 1000, blockMs: 2000, maxTracked: 8 });
    let now = 0;
    for (const op of ops) {
      now += op.dt;
      rl.allow(String(op.key), now);
      assert.ok(rl.tracked <= 8 && rl.blocked <= 8);
    }
  }));
});

test('a flood from one source is refused after the limit (property: at most limit allowed per window)', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 400 }), (gaps) => {
    const rl = new QueryRateLimiter({ perSecond: 3, windowMs: 1000, blockMs: 3000 });
    let now = 0;
    const allowed: number[] = [];
    for (const g of gaps) {
      now += g;
      if (rl.allow('x', now)) allowed.push(now);
    }
    // Any 1000 ms span starting at an allowed query holds at most 2 windows' worth.
    for (let i = 0; i < allowed.length; i++) {
      let n = 0;
      for (let j = i; j < allowed.length && allowed[j]! < allowed[i]! + 1000; j++) n++;
      assert.ok(n <= 6, `${n} queries allowed within 1 s`);
    }
  }));
});
