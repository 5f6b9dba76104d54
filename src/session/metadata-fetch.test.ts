/**
 * The metadata fetch takes its time and timers from the injected clock: its deadline and tick run on a virtual
 * clock (no real waiting), and every timer is cleared when it settles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMetadataFetch } from './metadata-fetch.js';
import { ManualClock } from '../util/clock.js';
import { isBtError } from '../util/errors.js';

test('the deadline and the tick run on the injected clock, and settle clears them', { timeout: 5_000 }, async () => {
  const clock = new ManualClock(1_000_000);
  const f = startMetadataFetch({
    infoHash: Buffer.alloc(20, 1), peers: [], peerId: Buffer.alloc(20, 2), reserved: Buffer.alloc(8), listenPort: 0,
    persistent: true, timeoutMs: 5_000, clock,
  });
  let settled: unknown;
  f.promise.then(() => { settled = 'resolved'; }, (e: unknown) => { settled = e; });
  assert.equal(clock.pending, 2, 'a deadline and a tick interval, both on the injected clock');
  clock.advance(4_999);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, undefined, 'not before the deadline of the virtual clock');
  clock.advance(1);
  await new Promise((r) => setImmediate(r));
  assert.ok(isBtError(settled, 'TIMEOUT'), `TIMEOUT, got ${String(settled)}`);
  assert.match((settled as Error).message, /within 5000 ms/);
  assert.equal(clock.pending, 0, 'every timer cleared');
});
