/**
 * The metadata fetch takes its time and timers from the injected clock: its deadline and tick run on a virtual
 * clock (no real waiting), and every timer is cleared when it settles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { metadataMatches, startMetadataFetch } from './metadata-fetch.js';
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

test('metadataMatches: SHA-1 for btih, SHA-256 for btmh, both for a hybrid link (BEP 52)', () => {
  const info = Buffer.from('d4:name1:ae');
  const v1 = createHash('sha1').update(info).digest();
  const v2 = createHash('sha256').update(info).digest();
  const other = Buffer.from('d4:name1:be');
  assert.ok(metadataMatches(info, { infoHash: v1 }));
  assert.ok(!metadataMatches(other, { infoHash: v1 }));
  // btmh only: the wire hash is the truncated v2 hash; SHA-1 is not checked, SHA-256 is.
  assert.ok(metadataMatches(info, { infoHash: v2.subarray(0, 20), infoHashV2: v2 }));
  assert.ok(!metadataMatches(other, { infoHash: v2.subarray(0, 20), infoHashV2: v2 }));
  // A forged dict matching only the truncated hash would not do: the full 32 bytes are compared.
  const wrongTail = Buffer.concat([v2.subarray(0, 20), Buffer.alloc(12)]);
  assert.ok(!metadataMatches(info, { infoHash: v2.subarray(0, 20), infoHashV2: wrongTail }));
  // Hybrid: both must match.
  assert.ok(metadataMatches(info, { infoHash: v1, infoHashV1: v1, infoHashV2: v2 }));
  assert.ok(!metadataMatches(info, { infoHash: v1, infoHashV1: v1, infoHashV2: wrongTail }));
  assert.ok(!metadataMatches(info, { infoHash: v1, infoHashV1: Buffer.alloc(20), infoHashV2: v2 }));
});
