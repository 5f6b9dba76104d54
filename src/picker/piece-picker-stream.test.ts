// The picker's streaming modes: sequential order (issue 15) and critical pieces with take-back (requestAlso).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield } from '../util/bitfield.js';
import { PiecePicker } from './piece-picker.js';
import { seededRng } from '../util/seeded-rng.js';

const BLOCK = 16384;

function picker(pieces: number, blocksPerPiece = 1, seed = 1): PiecePicker {
  const pl = BLOCK * blocksPerPiece;
  return new PiecePicker({ pieceCount: pieces, pieceLength: pl, totalLength: pieces * pl, rng: seededRng(seed) });
}

function bits(n: number, has: (i: number) => boolean): Bitfield {
  const b = new Bitfield(n);
  for (let i = 0; i < n; i++) if (has(i)) b.set(i);
  return b;
}

test('sequential: fresh pieces in index order, random-first and rarest-first are off', () => {
  for (const seed of [1, 2, 3]) {
    const p = picker(40, 1, seed);
    p.setSequential(true);
    p.addPeer('seed', 'all');
    // Piece 30 is rarer: rarest first would take it early; sequential must not.
    p.addPeer('a', bits(40, (i) => i !== 30));
    const got = p.pick('seed', 40).map((b) => b.piece);
    assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
    p._checkInvariants();
  }
});

test('sequential: without it the order is not the index order (the control)', () => {
  const p = picker(40);
  p.addPeer('seed', 'all');
  const got = p.pick('seed', 40).map((b) => b.piece);
  assert.notDeepEqual(got, Array.from({ length: 40 }, (_, i) => i));
});

test('sequential: priorities still dominate, unwanted pieces are skipped, partial pieces are finished first', () => {
  const p = picker(10, 2);
  p.setSequential(true);
  p.addPeer('x', 'all');
  p.addPeer('y', 'all');
  p.setPiecePriority(7, 7); // high
  p.setPiecePriority(2, 0); // not wanted
  // y starts piece 7 (highest), then piece 0; it takes one block of each.
  assert.deepEqual(p.pick('y', 3).map((b) => [b.piece, b.begin]), [[7, 0], [7, BLOCK], [0, 0]]);
  // x: the partial piece 0 first (its second block), then 1, 3, 4 … in order; never 2.
  const got = p.pick('x', 9).map((b) => [b.piece, b.begin]);
  assert.deepEqual(got, [[0, BLOCK], [1, 0], [1, BLOCK], [3, 0], [3, BLOCK], [4, 0], [4, BLOCK], [5, 0], [5, BLOCK]]);
  p._checkInvariants();
});

test('sequential: a sparse peer is served its own pieces in index order; the mode can be turned off again', () => {
  const p = picker(200);
  p.setSequential(true);
  p.addPeer('sparse', bits(200, (i) => i % 20 === 3));
  assert.deepEqual(p.pick('sparse', 5).map((b) => b.piece), [3, 23, 43, 63, 83]);
  for (const i of [3, 23]) p.markHave(i); // pieces below the cursor come back if wanted again: cursor resets
  p.setSequential(false);
  assert.equal(p.sequential, false);
  p._checkInvariants();
});

test('sequential: a piece wanted again below the cursor is picked first', () => {
  const p = picker(10);
  p.setSequential(true);
  p.addPeer('s', 'all');
  p.setPiecePriority(1, 0);
  assert.deepEqual(p.pick('s', 2).map((b) => b.piece), [0, 2]);
  p.setPiecePriority(1, 1);
  assert.deepEqual(p.pick('s', 2).map((b) => b.piece), [1, 3]);
});

test('critical pieces come first, in the given order, even before higher priorities; slow peers skip them', () => {
  const p = picker(20, 2);
  p.addPeer('fast', 'all');
  p.addPeer('slow', 'all');
  p.setPiecePriority(0, 7);
  p.setCritical([12, 5, 17]);
  const fast = p.pick('fast', 4).map((b) => [b.piece, b.begin]);
  assert.deepEqual(fast, [[12, 0], [12, BLOCK], [5, 0], [5, BLOCK]]);
  const slow = p.pick('slow', 6, { critical: false }).map((b) => b.piece);
  assert.ok(!slow.includes(17) && !slow.includes(12) && !slow.includes(5), `slow got ${slow.join(',')}`);
  assert.equal(slow[0], 0, 'the highest priority comes first for the slow peer');
  p._checkInvariants();
  // Critical pieces the fast peer lacks, or had ones, are skipped.
  p.setCritical([17, 99, -1]);
  assert.deepEqual(p.pick('fast', 2).map((b) => b.piece), [17, 17]);
  p._checkInvariants();
});

test('requestAlso: a second requester for a block of a slow peer; the first copy in cancels the other', () => {
  const p = picker(4, 2);
  p.addPeer('slow', 'all');
  p.addPeer('fast', bits(4, (i) => i !== 3));
  p.setCritical([1]);
  const [b0] = p.pick('slow', 1);
  assert.deepEqual(b0, { piece: 1, begin: 0, length: BLOCK });
  assert.equal(p.requestAlso('fast', b0!), true);
  assert.equal(p.requestAlso('fast', b0!), false, 'never twice from one peer');
  assert.equal(p.requestAlso('fast', { piece: 1, begin: BLOCK, length: BLOCK }), false, 'not requested yet');
  p._checkInvariants();
  const r = p.blockReceived('fast', b0!);
  assert.equal(r.wanted, true);
  assert.deepEqual(r.cancels, [{ peer: 'slow', block: b0 }]);
  assert.equal(p.outstanding('slow'), 0);
  // A peer without the piece cannot take it back.
  const [b3] = p.pick('slow', 8).filter((b) => b.piece === 3);
  assert.ok(b3);
  assert.equal(p.requestAlso('fast', b3), false);
  p._checkInvariants();
});
