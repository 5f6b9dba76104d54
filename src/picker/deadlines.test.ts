// The streaming policies (src/picker/deadlines.ts): windows and deadlines, fast peers, take-back. Pure: time is passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fastPeers, streamQueueDepth, StreamWindows, takeBack, type CriticalRequest, type TakeBackPeer } from './deadlines.js';

const MiB = 1024 * 1024;

test('window size: read-ahead bytes over the piece length, clamped', () => {
  assert.equal(new StreamWindows({ pieceCount: 1000, pieceLength: MiB, readAheadBytes: 8 * MiB }).size, 8);
  assert.equal(new StreamWindows({ pieceCount: 1000, pieceLength: 16 * 1024, readAheadBytes: 8 * MiB, maxPieces: 64 }).size, 64);
  assert.equal(new StreamWindows({ pieceCount: 1000, pieceLength: 16 * MiB, readAheadBytes: 8 * MiB, minPieces: 4 }).size, 4);
});

test('a window starts at the read position, ends at the range, and is re-aimed by a seek with fresh deadlines', () => {
  const w = new StreamWindows({ pieceCount: 100, pieceLength: MiB, readAheadBytes: 4 * MiB, pieceMs: 100 });
  const id = w.open(10, 50, 1000);
  assert.deepEqual(w.window(id), [10, 11, 12, 13]);
  assert.deepEqual(w.critical(() => false), [
    { piece: 10, deadline: 1000 }, { piece: 11, deadline: 1100 }, { piece: 12, deadline: 1200 }, { piece: 13, deadline: 1300 }]);
  w.aim(id, 48, 5000); // seek near the end of the range
  assert.deepEqual(w.window(id), [48, 49, 50]);
  assert.deepEqual(w.critical((i) => i === 49).map((c) => [c.piece, c.deadline]), [[48, 5000], [50, 5200]]);
  w.aim(id, 3, 6000); // before the range: clamped to its start
  assert.deepEqual(w.window(id), [10, 11, 12, 13]);
  w.aim(id, 51, 6000); // past it: empty (the reader is done)
  assert.deepEqual(w.window(id), []);
  w.close(id);
  assert.equal(w.count, 0);
  assert.deepEqual(w.critical(() => false), []);
  assert.deepEqual(w.window(id), []);
});

test('several streams: the union, each piece once with its nearest deadline, nearest first', () => {
  const w = new StreamWindows({ pieceCount: 100, pieceLength: MiB, readAheadBytes: 3 * MiB, minPieces: 1, pieceMs: 1000 });
  const a = w.open(0, 99, 0);
  w.aim(a, 20, 0); // 20@0 21@1000 22@2000
  const b = w.open(0, 99, 500);
  w.aim(b, 21, 500); // 21@500 22@1500 23@2500
  assert.deepEqual(w.critical(() => false).map((c) => [c.piece, c.deadline]),
    [[20, 0], [21, 500], [22, 1500], [23, 2500]]);
  w.close(a);
  assert.deepEqual(w.critical(() => false).map((c) => c.piece), [21, 22, 23]);
});

test('fast peers: all while nothing is measured; else the best two and those within a quarter of the best', () => {
  const peers = [{ key: 'a', rate: 1000 }, { key: 'b', rate: 0 }];
  assert.deepEqual([...fastPeers(peers)].sort(), ['a', 'b']);
  const measured = [{ key: 'a', rate: 4 * MiB }, { key: 'b', rate: 100 }, { key: 'c', rate: MiB }, { key: 'd', rate: 50 }, { key: 'e', rate: 0.9 * MiB }];
  assert.deepEqual([...fastPeers(measured)].sort(), ['a', 'c']);
  assert.deepEqual([...fastPeers(measured, { fraction: 0.2 })].sort(), ['a', 'c', 'e']);
  assert.deepEqual([...fastPeers(measured, { minFast: 4 })].sort(), ['a', 'b', 'c', 'e']);
  assert.equal(fastPeers([]).size, 0);
});

function peer(key: string, rate: number, fast: boolean, room = 10, has: (i: number) => boolean = () => true, outstanding = 0): TakeBackPeer {
  return { key, rate, fast, room, has, outstanding };
}

function req(p: string, piece: number, begin: number, sentAt: number, requesters = 1): CriticalRequest {
  return { peer: p, piece, begin, length: 16384, sentAt, requesters };
}

test('take-back: a slow peer sitting on a critical block past the threshold loses it to the fastest peer', () => {
  const deadlines = new Map([[5, 1000], [6, 2000]]);
  const peers = [peer('slow', 1000, false), peer('fast1', 2 * MiB, true), peer('fast2', 4 * MiB, true)];
  const reqs = [req('slow', 6, 0, 0), req('slow', 5, 16384, 0), req('slow', 5, 0, 900), req('slow', 7, 0, 0)];
  // At 1000 ms nothing is late yet (threshold 1500 ms).
  assert.deepEqual(takeBack(reqs, deadlines, peers, 1000), []);
  // At 2000 ms the two old requests of critical pieces are; piece 7 is not critical; nearest deadline first.
  assert.deepEqual(takeBack(reqs, deadlines, peers, 2000), [
    { piece: 5, begin: 16384, length: 16384, from: 'slow', to: 'fast2' },
    { piece: 6, begin: 0, length: 16384, from: 'slow', to: 'fast2' },
  ]);
  // With fast2 full, fast1 helps; a helper without the piece is skipped; an already doubled block is left alone.
  const peers2 = [peer('slow', 1000, false), peer('fast1', 2 * MiB, true, 10, (i) => i !== 6), peer('fast2', 4 * MiB, true, 1)];
  const reqs2 = [req('slow', 5, 16384, 0), req('slow', 6, 0, 0), req('slow', 5, 0, 0, 2)];
  // fast2 (room 1) takes the nearest deadline; fast1 lacks piece 6, so the second late block stays where it is.
  assert.deepEqual(takeBack(reqs2, deadlines, peers2, 2000).map((t) => [t.piece, t.begin, t.to]), [[5, 16384, 'fast2']]);
  const peers3 = [peer('slow', 1000, false), peer('fast1', 2 * MiB, true), peer('fast2', 4 * MiB, true, 1)];
  assert.deepEqual(takeBack(reqs2, deadlines, peers3, 2000).map((t) => [t.piece, t.begin, t.to]), [[5, 16384, 'fast2'], [6, 0, 'fast1']]);
});

test('take-back: a fast peer is late only past twice its queue drain time (and at least twice the slow threshold)', () => {
  const deadlines = new Map([[1, 0]]);
  // 'busy' is fast with 200 blocks queued at 1 MiB/s: 3.1 s to drain, so late after 6.25 s.
  const peers = [peer('busy', MiB, true, 0, () => true, 200), peer('idle', MiB, true, 10)];
  const reqs = [req('busy', 1, 0, 0)];
  assert.deepEqual(takeBack(reqs, deadlines, peers, 6000), []);
  assert.deepEqual(takeBack(reqs, deadlines, peers, 6300).map((t) => t.to), ['idle']);
  // A lightly loaded fast peer: late after 2 × 1500 ms.
  const light = [peer('busy', MiB, true, 0, () => true, 1), peer('idle', MiB, true, 10)];
  assert.deepEqual(takeBack(reqs, deadlines, light, 2900), []);
  assert.deepEqual(takeBack(reqs, deadlines, light, 3100).map((t) => t.to), ['idle']);
  // Nobody else: nothing to do.
  assert.deepEqual(takeBack(reqs, deadlines, [peer('busy', MiB, true, 0)], 10_000), []);
});

test('stream queue depth: half a second of data at the rate, at least 16 blocks', () => {
  assert.equal(streamQueueDepth(0), 16);
  assert.equal(streamQueueDepth(Number.NaN), 16);
  assert.equal(streamQueueDepth(4 * MiB), 128);
  assert.equal(streamQueueDepth(4 * MiB, { queueMs: 1000 }), 256);
  assert.equal(streamQueueDepth(100 * 1024), 16);
  assert.equal(streamQueueDepth(MiB, { minBlocks: 40 }), 40);
});
