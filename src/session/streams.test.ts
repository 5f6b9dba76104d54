// The streams engine (streams.ts) on a real PiecePicker and stub peers / request scheduler: critical pieces follow
// the windows, waits resolve only on a verified piece and reject on abort, close and unwanted pieces, queues are
// capped while streams are open (and a while after), and a late block of a slow peer is taken back by a fast one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiecePicker } from '../picker/piece-picker.js';
import { Bitfield } from '../util/bitfield.js';
import { isBtError } from '../util/errors.js';
import { seededRng } from '../util/seeded-rng.js';
import { blockKey, type Peer } from './peer.js';
import type { RequestScheduler } from './requests.js';
import { TorrentStreams } from './streams.js';

const BLOCK = 16384;
const PL = 4 * BLOCK;
const N = 100;

interface StubPeer { key: string; down: { rate: number }; requests: Map<number, { block: { piece: number; begin: number; length: number }; sentAt: number }>;
  peerChoking: boolean; conn: { closed: boolean }; queueDepth: number; has: Bitfield }

function setup() {
  let now = 1_000_000;
  const picker = new PiecePicker({ pieceCount: N, pieceLength: PL, totalLength: N * PL, rng: seededRng(3) });
  const peers: StubPeer[] = [];
  const sent: Array<{ peer: string; piece: number; begin: number }> = [];
  let fills = 0;
  const requests = {
    fillAll: () => { fills++; },
    sendExtra: (p: Peer, b: { piece: number; begin: number }, at: number) => {
      sent.push({ peer: p.key, piece: b.piece, begin: b.begin });
      (p as unknown as StubPeer).requests.set(blockKey(PL, b.piece, b.begin), { block: { ...b, length: BLOCK }, sentAt: at });
    },
  } as unknown as RequestScheduler;
  const streams = new TorrentStreams({
    pieceCount: N, pieceLength: PL, picker: () => picker, requests: () => requests,
    peers: () => peers as unknown as Peer[], peerByKey: (k) => peers.find((p) => p.key === k) as unknown as Peer | undefined,
    now: () => now,
  });
  const addPeer = (key: string, rate: number): StubPeer => {
    const p: StubPeer = { key, down: { rate }, requests: new Map(), peerChoking: false, conn: { closed: false }, queueDepth: 64, has: Bitfield.full(N) };
    peers.push(p);
    picker.addPeer(key, 'all');
    return p;
  };
  return { picker, streams, peers, sent, addPeer, fills: () => fills, advance: (ms: number) => { now += ms; }, now: () => now };
}

test('critical pieces are the windows of the open streams, nearest deadline first; closing drops them', () => {
  const s = setup();
  s.addPeer('a', 0);
  const id = s.streams.open(40, 99);
  assert.deepEqual(s.streams.window(id).slice(0, 3), [40, 41, 42]);
  // The picker serves the window first.
  assert.deepEqual(s.picker.pick('a', 6).map((b) => b.piece), [40, 40, 40, 40, 41, 41]);
  s.streams.aim(id, 90);
  assert.deepEqual(s.streams.window(id), Array.from({ length: 10 }, (_, k) => 90 + k));
  assert.deepEqual(s.picker.pick('a', 2).map((b) => b.piece), [90, 90]);
  assert.ok(s.fills() > 0, 'queues are topped up when the window moves');
  s.streams.close(id);
  assert.equal(s.streams.count, 0);
  const next = s.picker.pick('a', 8).map((b) => b.piece);
  assert.ok(!next.includes(92), 'no window: normal picking (partial pieces first, then rarest/random)');
  s.picker._checkInvariants();
});

test('waitPiece: resolves only when the piece is verified; rejects on abort, on close and for an unwanted piece', async () => {
  const s = setup();
  s.streams.open(0, 10);
  let done = false;
  const w = s.streams.waitPiece(3).then(() => { done = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  s.picker.markHave(3);
  s.streams.onPieceVerified(3);
  await w;
  assert.equal(done, true);
  await s.streams.waitPiece(3); // had: at once

  const ac = new AbortController();
  const aborted = s.streams.waitPiece(4, ac.signal);
  ac.abort(new Error('client gone'));
  await assert.rejects(aborted, (e) => isBtError(e, 'ABORTED'));

  s.picker.setPiecePriority(7, 0);
  await assert.rejects(s.streams.waitPiece(7), (e) => isBtError(e, 'USAGE'));

  const pending = s.streams.waitPiece(5);
  s.streams.closeAll(new Error('stopped'));
  await assert.rejects(pending, /stopped/);
  await assert.rejects(s.streams.waitPiece(6), /stopped/);
});

test('queue cap: none without streams, half a second of data while one is open and for 15 s after', () => {
  const s = setup();
  const p = s.addPeer('a', 4 * 1024 * 1024) as unknown as Peer;
  assert.equal(s.streams.queueCap(p), Infinity);
  const id = s.streams.open(0, 10);
  assert.equal(s.streams.queueCap(p), 128);
  s.streams.close(id);
  s.advance(14_000);
  assert.equal(s.streams.queueCap(p), 128);
  s.advance(2000);
  assert.equal(s.streams.queueCap(p), Infinity);
});

test('take-back: a slow peer sitting on a block of the critical piece loses it to the fast one; slow peers skip critical pieces', () => {
  const s = setup();
  const slow = s.addPeer('slow', 20 * 1024);
  const fast = s.addPeer('fast', 2 * 1024 * 1024);
  s.addPeer('fast2', 1024 * 1024); // the best two peers are always fast: a third makes the slow one slow
  const id = s.streams.open(10, 50);
  // Before the tick nothing is measured: the slow peer may take critical blocks (as with no peer known to be faster).
  const got = s.picker.pick('slow', 2);
  assert.deepEqual(got.map((b) => b.piece), [10, 10]);
  for (const b of got) slow.requests.set(blockKey(PL, b.piece, b.begin), { block: b, sentAt: s.now() });
  s.streams.tick(s.now());
  assert.equal(s.streams.isFast(slow as unknown as Peer), false);
  assert.equal(s.streams.isFast(fast as unknown as Peer), true);
  assert.equal(s.sent.length, 0, 'not late yet');
  assert.ok(!s.picker.pick('slow', 4, { critical: false }).some((b) => b.piece >= 10 && b.piece <= 19), 'slow peers skip the window');
  s.advance(2000);
  s.streams.tick(s.now());
  assert.deepEqual(s.sent.map((x) => [x.peer, x.piece, x.begin]), [['fast', 10, 0], ['fast', 10, BLOCK]]);
  // The fast copy arrives first: the slow peer's request is cancelled by the picker.
  const r = s.picker.blockReceived('fast', { piece: 10, begin: 0, length: BLOCK });
  assert.deepEqual(r.cancels.map((c) => c.peer), ['slow']);
  s.picker._checkInvariants();
  s.streams.close(id);
});
