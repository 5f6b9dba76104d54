import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MIN_DEFAULT_BURST, TokenBucket } from './token-bucket.js';

/** A hand-driven clock. */
function clock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

interface Taken { readonly t: number; readonly n: number }

/** Asserts: for every window [a, b] between two recorded instants, the bytes taken ≤ rate·(b−a)/1000 + burst. */
function assertWindowBound(taken: readonly Taken[], instants: readonly number[], rate: number, burst: number, what: string): void {
  const times = [...new Set(instants)].sort((x, y) => x - y);
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const a = times[i]!;
      const b = times[j]!;
      let sum = 0;
      for (const x of taken) if (x.t >= a && x.t <= b) sum += x.n;
      const limit = (rate * (b - a)) / 1000 + burst;
      assert.ok(sum <= limit + 1e-3, `${what}: ${sum} bytes in [${a}, ${b}] > ${limit}`);
    }
  }
}

const opArb = fc.record({ advance: fc.integer({ min: 0, max: 1500 }), n: fc.integer({ min: 1, max: 120_000 }) });

test('over any window, bytes taken ≤ rate·window + burst; delayUntil is exact', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200_000 }),
      fc.option(fc.integer({ min: 1, max: 150_000 }), { nil: undefined }),
      fc.array(opArb, { maxLength: 60 }),
      (rate, burstOpt, ops) => {
        const c = clock();
        const b = new TokenBucket({ rate, now: c.now, ...(burstOpt !== undefined ? { burst: burstOpt } : {}) });
        const burst = burstOpt ?? Math.max(rate, MIN_DEFAULT_BURST);
        assert.equal(b.burst, burst);
        const taken: Taken[] = [];
        const instants: number[] = [c.now()];
        for (const op of ops) {
          c.advance(op.advance);
          instants.push(c.now());
          const avail = b.available();
          const delay = b.delayUntil(op.n);
          const ok = b.take(op.n);
          assert.equal(ok, op.n <= avail + 1e-6, 'take succeeds exactly when available');
          assert.equal(ok, delay === 0, `delayUntil(${op.n}) = ${delay} but take returned ${ok}`);
          if (ok) taken.push({ t: c.now(), n: op.n });
          else if (delay === Infinity) assert.ok(op.n > burst, 'Infinity only above the burst');
          else {
            // Waiting exactly the announced delay is enough, and one ms less is not (when the delay is > 1 ms).
            if (delay > 1) {
              c.advance(delay - 1);
              instants.push(c.now());
              assert.equal(b.take(op.n), false, 'one ms early is too early');
              c.advance(1);
            } else c.advance(delay);
            instants.push(c.now());
            assert.equal(b.take(op.n), true, 'after delayUntil the take succeeds');
            taken.push({ t: c.now(), n: op.n });
          }
          assert.ok(b.available() <= burst + 1e-6, 'never more than burst');
        }
        assertWindowBound(taken, instants, rate, burst, 'single bucket');
      },
    ),
    { numRuns: 200 },
  );
});

test('an unlimited bucket never blocks', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 50 }), (ops) => {
      const c = clock();
      const b = new TokenBucket({ rate: 0, now: c.now });
      assert.equal(b.unlimited, true);
      for (const op of ops) {
        c.advance(op.advance);
        assert.equal(b.available(), Infinity);
        assert.equal(b.delayUntil(op.n * 1000), 0);
        assert.equal(b.take(op.n * 1000), true);
      }
    }),
    { numRuns: 50 },
  );
});

test('a parent limits its children together; a failed take costs nothing anywhere', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1000, max: 100_000 }),
      fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.record({ child: fc.nat(), advance: fc.integer({ min: 0, max: 800 }), n: fc.integer({ min: 1, max: 60_000 }) }), { maxLength: 80 }),
      (parentRate, childRates, ops) => {
        const c = clock();
        const parent = new TokenBucket({ rate: parentRate, now: c.now });
        const children = childRates.map((rate) => new TokenBucket({ rate, now: c.now, parent }));
        const takenAll: Taken[] = [];
        const takenBy: Taken[][] = children.map(() => []);
        const instants: number[] = [c.now()];
        for (const op of ops) {
          c.advance(op.advance);
          instants.push(c.now());
          const i = op.child % children.length;
          const child = children[i]!;
          const before = { parent: parent.available(), child: child.available() };
          assert.ok(before.child <= before.parent, 'a child never offers more than its parent');
          if (child.take(op.n)) {
            takenAll.push({ t: c.now(), n: op.n });
            takenBy[i]!.push({ t: c.now(), n: op.n });
          } else {
            assert.equal(parent.available(), before.parent, 'a failed take leaves the parent alone');
            assert.equal(child.available(), before.child, 'a failed take leaves the child alone');
          }
        }
        assertWindowBound(takenAll, instants, parentRate, parent.burst, 'parent');
        children.forEach((ch, i) => {
          if (ch.rate > 0) assertWindowBound(takenBy[i]!, instants, ch.rate, ch.burst, `child ${i}`);
        });
      },
    ),
    { numRuns: 150 },
  );
});

test('a child with an unlimited parent is limited by itself; delayUntil takes the max over the chain', () => {
  const c = clock();
  const parent = new TokenBucket({ rate: 0, now: c.now });
  const child = new TokenBucket({ rate: 10_000, burst: 20_000, now: c.now, parent });
  assert.equal(child.unlimited, false);
  assert.equal(child.take(20_000), true);
  assert.equal(child.take(1), false);
  assert.equal(child.delayUntil(5_000), 500);

  const slowParent = new TokenBucket({ rate: 1_000, burst: 20_000, now: c.now });
  const fastChild = new TokenBucket({ rate: 100_000, burst: 20_000, now: c.now, parent: slowParent });
  assert.equal(fastChild.take(20_000), true);
  assert.equal(fastChild.delayUntil(5_000), 5_000, 'the slow parent decides');
  assert.equal(fastChild.delayUntil(30_000), Infinity, 'above a burst: never');
});

test('a greedy taker gets rate·T + burst over a long run, not less (no lost tokens)', () => {
  const c = clock();
  const rate = 4 * 1024 * 1024;
  const b = new TokenBucket({ rate, now: c.now });
  let got = 0;
  const block = 16 * 1024;
  const end = c.now() + 100_000;
  while (c.now() <= end) {
    while (b.take(block)) got += block;
    const d = b.delayUntil(block);
    assert.ok(d > 0 && d < Infinity);
    c.advance(d);
  }
  const ideal = (rate * 100_000) / 1000 + b.burst;
  assert.ok(got <= ideal, `${got} > ${ideal}`);
  assert.ok(got >= ideal - 2 * block - rate / 1000, `${got} well below ${ideal}`);
});

test('setRate: unlimited → limited starts full; lowering caps the tokens; default burst follows the rate', () => {
  const c = clock();
  const b = new TokenBucket({ rate: 0, now: c.now });
  assert.equal(b.take(10 ** 9), true);
  b.setRate(100_000);
  assert.equal(b.burst, 100_000);
  assert.equal(b.available(), 100_000);
  assert.equal(b.take(100_000), true);
  c.advance(500);
  assert.equal(Math.round(b.available()), 50_000, 'tokens earned at the old rate are kept');
  b.setRate(20_000);
  assert.equal(b.burst, MIN_DEFAULT_BURST > 20_000 ? MIN_DEFAULT_BURST : 20_000);
  assert.ok(b.available() <= b.burst, 'capped at the new burst');
  c.advance(10_000);
  assert.equal(b.available(), b.burst);
  b.setRate(0);
  assert.equal(b.available(), Infinity);
  assert.equal(b.take(10 ** 12), true);

  const fixed = new TokenBucket({ rate: 1000, burst: 5000, now: c.now });
  fixed.setRate(1_000_000);
  assert.equal(fixed.burst, 5000, 'an explicit burst is kept');
});

test('a clock that goes backwards earns nothing', () => {
  let t = 10_000;
  const b = new TokenBucket({ rate: 1000, burst: 2000, now: () => t });
  assert.equal(b.take(2000), true);
  t = 5_000;
  assert.equal(b.available(), 0);
  t = 10_500;
  assert.equal(Math.round(b.available()), 500, 'only time past the latest reading counts');
});

test('bad arguments throw', () => {
  const now = (): number => 0;
  assert.throws(() => new TokenBucket({ rate: -1, now }), RangeError);
  assert.throws(() => new TokenBucket({ rate: NaN, now }), RangeError);
  assert.throws(() => new TokenBucket({ rate: 10, burst: 0, now }), RangeError);
  assert.throws(() => new TokenBucket({ rate: 0, now }).setRate(Infinity), RangeError);
  const b = new TokenBucket({ rate: 10, burst: 10, now });
  assert.equal(b.take(0), true);
  assert.equal(b.take(-5), true);
  assert.equal(b.delayUntil(0), 0);
});
