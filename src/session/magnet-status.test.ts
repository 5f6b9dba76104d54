import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MagnetStatus, trackerRetryDelay, trackerSuccessDelay, TRACKER_RETRY_CAP_MS, TRACKER_SUCCESS_MIN_MS,
} from './magnet-status.js';

test('tracker retry schedule: 15 s, 30 s, 60 s, 120 s, 240 s, then 300 s for ever', () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 50, 10_000].map(trackerRetryDelay);
  assert.deepEqual(s, [15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000, 300_000]);
  assert.equal(trackerRetryDelay(0), 15_000, 'a bad count is treated as the first failure');
  assert.equal(trackerRetryDelay(Number.NaN), 15_000);
});

test('after a successful announce: the interval, held to 30 s..300 s while the metadata is missing', () => {
  assert.equal(trackerSuccessDelay(1800), TRACKER_RETRY_CAP_MS);
  assert.equal(trackerSuccessDelay(5), TRACKER_SUCCESS_MIN_MS);
  assert.equal(trackerSuccessDelay(120), 120_000);
  assert.equal(trackerSuccessDelay(0), TRACKER_RETRY_CAP_MS, 'no interval: the longest wait');
});

test('MagnetStatus with an injected clock: failures back off, a success resets them, never gives up', () => {
  let now = 1_000_000;
  const url = 'http://192.168.1.11:6881/announce';
  const s = new MagnetStatus('ab'.repeat(20), [url, url], () => now);
  let snap = s.snapshot();
  assert.equal(snap.trackers.length, 1, 'duplicate URLs are one tracker');
  assert.equal(snap.trackers[0]!.lastAt, 0);
  assert.equal(snap.trackers[0]!.retryInSeconds, 0, 'asked at once');
  assert.match(s.describe(), /^no peers yet; tracker http:\/\/192\.168\.1\.11:6881\/announce: announcing$/);

  const waits: number[] = [];
  for (let i = 0; i < 8; i++) { waits.push(s.trackerFailed(url, 'connection refused')); now += waits[i]!; }
  assert.deepEqual(waits, [15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);

  now += 10_000; // 10 s after the last failure (whose retry is due 300 s after it)
  s.trackerFailed(url, 'connection refused');
  now += 10_000;
  snap = s.snapshot();
  assert.equal(snap.trackers[0]!.failures, 9);
  assert.equal(snap.trackers[0]!.ok, false);
  assert.equal(snap.trackers[0]!.retryInSeconds, 290);
  assert.equal(s.describe(), `no peers yet; tracker ${url}: connection refused; retry in 290 s`);

  assert.equal(s.trackerSucceeded(url, 3, 60), 60_000);
  s.peers = { known: 3, tried: 2, connected: 1 };
  snap = s.snapshot();
  assert.equal(snap.trackers[0]!.failures, 0);
  assert.equal(snap.trackers[0]!.message, 'Success');
  assert.deepEqual([snap.peersKnown, snap.peersTried, snap.peersConnected], [3, 2, 1]);
  assert.equal(s.describe(), `3 peer(s) known, 2 tried, 1 connected; tracker ${url}: 3 peer(s), again in 60 s`);
  // The next failure starts the schedule over.
  assert.equal(s.trackerFailed(url, 'timed out'), 15_000);
  assert.equal(snap.since, 1_000_000);
});
