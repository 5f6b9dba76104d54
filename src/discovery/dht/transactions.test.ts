// Transactions: ids unique while pending, the bound, answers only from the queried address, timeouts on the clock,
// waiters in FIFO order with their slot needs, closeAll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../util/clock.js';
import { seededRng } from '../../util/seeded-rng.js';
import { Transactions, type QueryOutcome } from './transactions.js';

const bytes = (seed: number): ((n: number) => Buffer) => {
  const rng = seededRng(seed);
  return (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
};
const to = { host: '127.0.0.1', port: 6881 };
const response = { kind: 'response', msg: { y: 'r', t: Buffer.alloc(2), id: Buffer.alloc(20) } } as const;

test('ids are 2 bytes and never reused while pending, even with a randomBytes that repeats itself', () => {
  const clock = new ManualClock();
  const tx = new Transactions({ clock, randomBytes: () => Buffer.from([0, 7]), timeoutMs: 5_000, max: 512 });
  const ids = new Set<string>();
  for (let i = 0; i < 512; i++) {
    const t = tx.open(to, 'ping', () => {});
    assert.ok(t && t.length === 2);
    ids.add(t.toString('hex'));
  }
  assert.equal(ids.size, 512);
  assert.equal(tx.open(to, 'ping', () => {}), undefined, 'bounded');
  assert.equal(tx.free, 0);
});

test('an answer settles only from the queried address; a timeout settles through the clock', () => {
  const clock = new ManualClock();
  const tx = new Transactions({ clock, randomBytes: bytes(1), timeoutMs: 5_000, max: 8 });
  const outcomes: string[] = [];
  const t = tx.open(to, 'find_node', (o: QueryOutcome) => outcomes.push(o.kind))!;
  assert.ok(tx.pendingTo(to));
  assert.equal(tx.methodOf(t, to), 'find_node');
  assert.equal(tx.settle(t, { host: '127.0.0.2', port: 6881 }, response), 'wrong-source');
  assert.equal(tx.settle(t, { host: '127.0.0.1', port: 6882 }, response), 'wrong-source');
  assert.equal(tx.settle(Buffer.from('abc'), to, response), 'unknown-transaction');
  assert.equal(outcomes.length, 0);
  assert.equal(tx.settle(t, to, response), 'settled');
  assert.equal(tx.settle(t, to, response), 'unknown-transaction', 'a duplicate');
  assert.deepEqual(outcomes, ['response']);
  assert.ok(!tx.pendingTo(to));
  assert.equal(clock.pending, 0, 'its timer is cleared');

  tx.open(to, 'ping', (o) => outcomes.push(o.kind));
  clock.advance(4_999);
  assert.equal(outcomes.length, 1);
  clock.advance(1);
  assert.deepEqual(outcomes, ['response', 'timeout']);
  assert.equal(tx.size, 0);
});

test('waiters run in FIFO order when their slots are free; closeAll settles everything and runs the waiters', () => {
  const clock = new ManualClock();
  const tx = new Transactions({ clock, randomBytes: bytes(2), timeoutMs: 1_000, max: 3 });
  const ids = [tx.open(to, 'ping', () => {})!, tx.open(to, 'ping', () => {})!];
  const ran: string[] = [];
  tx.whenFree(() => { ran.push('needs 3'); }, 3);
  tx.whenFree(() => { ran.push('needs 1'); });
  assert.equal(ran.length, 0, 'the first waiter needs 3 slots and the queue is FIFO');
  tx.settle(ids[0]!, to, response);
  assert.equal(ran.length, 0);
  tx.settle(ids[1]!, to, response);
  assert.deepEqual(ran, ['needs 3', 'needs 1']);

  const closed: string[] = [];
  for (let i = 0; i < 3; i++) tx.open(to, 'ping', (o) => closed.push(o.kind));
  tx.whenFree(() => closed.push('waiter'));
  tx.closeAll();
  assert.deepEqual(closed, ['closed', 'closed', 'closed', 'waiter']);
  assert.equal(clock.pending, 0);
  assert.equal(tx.open(to, 'ping', () => {}), undefined, 'no query after close');
  let late = false;
  tx.whenFree(() => { late = true; });
  assert.ok(late, 'a waiter after close runs at once');
});

test('a callback or waiter that throws never escapes the timeout timer; the next waiter still runs', () => {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const tx = new Transactions({ clock, randomBytes: bytes(3), timeoutMs: 1_000, max: 1, onError: (e) => errors.push(e) });
  tx.open(to, 'ping', () => { throw new Error('done threw'); });
  const ran: string[] = [];
  tx.whenFree(() => { ran.push('first'); throw new Error('waiter threw'); });
  tx.whenFree(() => { ran.push('second'); });
  assert.deepEqual(ran, []);
  assert.doesNotThrow(() => clock.advance(1_000));
  assert.deepEqual(ran, ['first', 'second']);
  assert.deepEqual(errors.map((e) => (e as Error).message), ['done threw', 'waiter threw']);
});
