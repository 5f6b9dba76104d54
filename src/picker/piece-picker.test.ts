// Scenario tests for the piece picker, in the style of libtorrent's test_piece_picker.cpp: the swarm is built from
// strings such as availability "2223333" and have "* * *  " (a '*' is a piece we have).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield } from '../util/bitfield.js';
import { BtError } from '../util/errors.js';
import { PiecePicker, type BlockRef, type PickerOptions } from './piece-picker.js';
import { seededRng as rng } from '../util/seeded-rng.js';

interface Setup {
  picker: PiecePicker;
  /** peers[k] has piece i iff k < availability[i]; peers[0] therefore has every piece with availability > 0. */
  peers: string[];
}

/**
 * Builds a picker from strings: `availability` has one digit per piece; `have` marks our pieces with '*';
 * `priorities` (optional) one digit per piece. Pieces are `blocksPerPiece` blocks of 16 KiB.
 */
function setup(availability: string, have = '', priorities = '', extra: Partial<PickerOptions> = {},
  blocksPerPiece = 1, seed = 1): Setup {
  const n = availability.length;
  const pieceLength = 16384 * blocksPerPiece;
  const picker = new PiecePicker({
    pieceCount: n, pieceLength, totalLength: n * pieceLength, randomFirstPieces: 0, rng: rng(seed), ...extra,
  });
  const max = Math.max(0, ...[...availability].map(Number));
  const peers: string[] = [];
  for (let k = 0; k < max; k++) {
    const bf = new Bitfield(n);
    for (let i = 0; i < n; i++) if (Number(availability[i]) > k) bf.set(i);
    peers.push(`peer${k}`);
    picker.addPeer(`peer${k}`, bf);
  }
  for (let i = 0; i < have.length; i++) if (have[i] === '*') picker.markHave(i);
  for (let i = 0; i < priorities.length; i++) picker.setPiecePriority(i, Number(priorities[i]));
  picker._checkInvariants();
  return { picker, peers };
}

const pieces = (blocks: BlockRef[]): number[] => blocks.map((b) => b.piece);

test('geometry: block sizes, the short last piece and its short last block', () => {
  const p = new PiecePicker({ pieceCount: 3, pieceLength: 32768, totalLength: 2 * 32768 + 20000, rng: rng(1) });
  assert.equal(p.blocksInPiece(0), 2);
  assert.equal(p.blocksInPiece(2), 2);
  assert.equal(p.pieceSize(2), 20000);
  p.addPeer('a', 'all');
  p.setPiecePriority(0, 0);
  p.setPiecePriority(1, 0);
  assert.deepEqual(p.pick('a', 10), [
    { piece: 2, begin: 0, length: 16384 }, { piece: 2, begin: 16384, length: 20000 - 16384 },
  ]);
  p._checkInvariants();
});

test('constructor rejects geometry that does not add up', () => {
  const bad: Array<Partial<PickerOptions>> = [
    { pieceCount: 2, pieceLength: 10, totalLength: 10 },
    { pieceCount: 2, pieceLength: 10, totalLength: 21 },
    { pieceCount: -1, pieceLength: 10, totalLength: 0 },
    { pieceCount: 1, pieceLength: 0, totalLength: 0 },
    { pieceCount: 1, pieceLength: 10, totalLength: 10, blockSize: 0 },
  ];
  for (const b of bad) {
    assert.throws(() => new PiecePicker({ pieceCount: 1, pieceLength: 1, totalLength: 1, rng: rng(1), ...b }),
      (e: unknown) => e instanceof BtError && e.code === 'BAD_TORRENT');
  }
  const empty = new PiecePicker({ pieceCount: 0, pieceLength: 16384, totalLength: 0, rng: rng(1) });
  assert.equal(empty.complete, true);
});

test('rarest first: "2223333" with "* * *  " picks piece 1 first, then the 3s', () => {
  const { picker, peers } = setup('2223333', '* * *  ');
  const got = pieces(picker.pick(peers[0]!, 10));
  assert.deepEqual(got.slice(0, 1), [1]);
  assert.deepEqual([...got.slice(1)].sort(), [3, 5, 6]);
  picker._checkInvariants();
});

test('rarest first: order follows availability "4132" -> 1, 3, 2, 0', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { picker, peers } = setup('4132', '', '', {}, 1, seed);
    assert.deepEqual(pieces(picker.pick(peers[0]!, 4)), [1, 3, 2, 0]);
  }
});

test('rarest first: ties are broken randomly, not by index', () => {
  const firsts = new Set<number>();
  for (let seed = 1; seed <= 200; seed++) {
    const { picker, peers } = setup('2111111112', '', '', {}, 1, seed);
    const first = picker.pick(peers[0]!, 1)[0]!.piece;
    assert.ok(first >= 1 && first <= 8, `picked ${first}, which is not among the rarest`);
    firsts.add(first);
  }
  assert.equal(firsts.size, 8, 'every tied piece should come first for some seed');
});

test('availability follows have messages and departures', () => {
  const { picker, peers } = setup('1100');
  assert.equal(picker.availability(0), 1);
  picker.peerHave(peers[0]!, 3);
  assert.equal(picker.availability(3), 1);
  picker.peerHave(peers[0]!, 3); // repeated have: no change
  assert.equal(picker.availability(3), 1);
  picker.addPeer('s', 'all');
  assert.deepEqual([0, 1, 2, 3].map((i) => picker.availability(i)), [2, 2, 1, 2]);
  picker.removePeer('s');
  picker.removePeer(peers[0]!);
  assert.deepEqual([0, 1, 2, 3].map((i) => picker.availability(i)), [0, 0, 0, 0]);
  picker._checkInvariants();
});

test('a bitfield peer that completes its bitfield is folded into the seed count', () => {
  const { picker, peers } = setup('1110');
  picker.peerHave(peers[0]!, 3);
  picker._checkInvariants();
  picker.removePeer(peers[0]!);
  assert.equal(picker.availability(0), 0);
  picker._checkInvariants();
});

test('BEP 6 have-all / have-none, and a bad bitfield or have index is a protocol error', () => {
  const { picker } = setup('0000');
  picker.addPeer('none', 'none');
  assert.equal(picker.isInteresting('none'), false);
  assert.deepEqual(picker.pick('none', 5), []);
  picker.addPeer('all', 'all');
  assert.equal(picker.isInteresting('all'), true);
  assert.throws(() => picker.addPeer('bad', new Bitfield(5)), (e: unknown) => e instanceof BtError && e.code === 'PROTOCOL');
  assert.throws(() => picker.peerHave('all', 4), (e: unknown) => e instanceof BtError && e.code === 'PROTOCOL');
  assert.throws(() => picker.peerHave('all', -1), (e: unknown) => e instanceof BtError && e.code === 'PROTOCOL');
  picker._checkInvariants();
});

test('random first: until randomFirstPieces pieces are had, pieces are picked at random, not rarest', () => {
  const firsts = new Set<number>();
  for (let seed = 1; seed <= 100; seed++) {
    const { picker, peers } = setup('1333333333', '', '', { randomFirstPieces: 2 }, 1, seed);
    firsts.add(picker.pick(peers[0]!, 1)[0]!.piece);
  }
  assert.ok(firsts.size >= 8, `random phase picked only ${[...firsts].join(',')}`);
  // Once we have 2 pieces, the rarest (piece 0) comes first every time.
  for (let seed = 1; seed <= 20; seed++) {
    const { picker, peers } = setup('1333333333', '   **', '', { randomFirstPieces: 2 }, 1, seed);
    assert.equal(picker.pick(peers[0]!, 1)[0]!.piece, 0);
  }
});

test('random first respects priority: only top-priority pieces are picked at random', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const { picker, peers } = setup('33333333', '', '11711711', { randomFirstPieces: 4 }, 1, seed);
    assert.deepEqual(pieces(picker.pick(peers[0]!, 2)).sort(), [2, 5]);
  }
});

test('partial first: a second peer continues the piece the first one started', () => {
  // 3 pieces of 4 blocks; piece 2 is the rarest but piece 0 is already started.
  const { picker } = setup('221', '', '', {}, 4);
  picker.addPeer('a', 'all');
  picker.addPeer('b', 'all');
  const a = picker.pick('a', 2);
  assert.deepEqual(a.map((b) => [b.piece, b.begin]), [[2, 0], [2, 16384]]);
  const b = picker.pick('b', 3);
  assert.deepEqual(b.map((x) => [x.piece, x.begin]), [[2, 32768], [2, 49152], [b[2]!.piece, 0]]);
  assert.notEqual(b[2]!.piece, 2);
  picker._checkInvariants();
});

test('partial first: a peer prefers the partial piece it works on, others the one closest to done', () => {
  // Two identical runs (same seed) up to the point where either a or b picks.
  const build = (): { picker: PiecePicker; y: number; z: number } => {
    const { picker } = setup('1111', '', '', {}, 4);
    for (const k of ['a', 'b', 'c']) picker.addPeer(k, 'all');
    const a = picker.pick('a', 6); // X[0..3], Y[0..1]: whole pieces, contiguous blocks
    const [x, y] = [a[0]!.piece, a[4]!.piece];
    assert.deepEqual(a.map((q) => q.begin / 16384), [0, 1, 2, 3, 0, 1]);
    assert.deepEqual(pieces(a), [x, x, x, x, y, y]);
    const c = picker.pick('c', 4); // Y[2..3] (partial first), then Z[0..1]
    const z = c[2]!.piece;
    assert.deepEqual(pieces(c), [y, y, z, z]);
    picker.release('c', c[0]!);
    picker.release('c', c[1]!); // Y: 2 missing, a works on it; Z: 2 missing, c works on it
    assert.deepEqual(pieces(picker.pick('c', 1)), [z]); // c sticks to Z (Y comes first otherwise); Z: 1 missing
    return { picker, y, z };
  };
  const one = build();
  assert.deepEqual(one.picker.pick('a', 1).map((q) => [q.piece, q.begin]), [[one.y, 32768]], 'a sticks to Y');
  one.picker._checkInvariants();
  const two = build();
  assert.deepEqual(two.picker.pick('b', 1).map((q) => [q.piece, q.begin]), [[two.z, 49152]], 'b: closest to done');
  two.picker._checkInvariants();
});

test('partial first only for pieces the peer has', () => {
  const { picker, peers } = setup('21', '', '', {}, 2);
  picker.pick(peers[0]!, 1); // starts piece 1 (rarest)
  assert.equal(picker.pick(peers[1]!, 1)[0]!.piece, 0); // peer1 lacks piece 1
  picker._checkInvariants();
});

test('priority dominates rarity and partial pieces; priority 0 is never picked', () => {
  const { picker, peers } = setup('1444', '', '1270', {}, 2);
  // piece 2 (priority 7) first though common, then piece 1 (priority 2), then piece 0; piece 3 never.
  picker.pick(peers[0]!, 1); // starts piece 2
  picker.setPiecePriority(2, 1); // now partial but priority 1
  assert.deepEqual(pieces(picker.pick(peers[1]!, 3)), [1, 1, 2]);
  // then piece 0; after that every wanted block is requested, so end game duplicates peer1's blocks.
  assert.deepEqual(pieces(picker.pick(peers[0]!, 10)), [0, 0, 1, 1, 2]);
  assert.equal(picker.inEndgame, true);
  picker._checkInvariants();
  assert.deepEqual(pieces(picker.pick('nobody', 10)), []);
});

test('a partial piece set to priority 0 is not continued; its outstanding blocks are still accepted', () => {
  const { picker } = setup('11', '', '', {}, 4);
  picker.addPeer('a', 'all');
  const a = picker.pick('a', 2);
  const x = a[0]!.piece;
  picker.setPiecePriority(x, 0);
  picker._checkInvariants();
  assert.deepEqual(pieces(picker.pick('a', 8)), [1 - x, 1 - x, 1 - x, 1 - x]);
  assert.equal(picker.blockReceived('a', a[0]!).wanted, true);
  picker.setPiecePriority(x, 1);
  assert.deepEqual(picker.pick('a', 8).map((q) => [q.piece, q.begin / 16384]), [[x, 2], [x, 3]]);
  picker._checkInvariants();
});

test('isInteresting: only pieces we lack with priority > 0 count', () => {
  const { picker, peers } = setup('2100', '', '');
  assert.equal(picker.isInteresting(peers[1]!), true);
  picker.setPiecePriority(0, 0);
  assert.equal(picker.isInteresting(peers[1]!), false);
  assert.deepEqual(picker.pick(peers[1]!, 5), []);
  picker.setPiecePriority(0, 3);
  assert.equal(picker.isInteresting(peers[1]!), true);
  picker.markHave(0);
  assert.equal(picker.isInteresting(peers[1]!), false);
  assert.equal(picker.isInteresting(peers[0]!), true);
  picker.peerHave(peers[1]!, 3);
  assert.equal(picker.isInteresting(peers[1]!), true);
  assert.equal(picker.isInteresting('unknown'), false);
  assert.throws(() => picker.setPiecePriority(1, 8), RangeError);
  picker._checkInvariants();
});

test('block flow: received blocks complete the piece, verification makes it had', () => {
  const { picker } = setup('1', '', '', {}, 2);
  picker.addPeer('a', 'all');
  const bs = picker.pick('a', 5);
  assert.equal(bs.length, 2);
  assert.equal(picker.outstanding('a'), 2);
  const r1 = picker.blockReceived('a', bs[0]!);
  assert.deepEqual(r1, { wanted: true, pieceComplete: false, cancels: [] });
  assert.equal(picker.blockReceived('a', bs[0]!).wanted, false, 'a duplicate is not wanted');
  const r2 = picker.blockReceived('a', bs[1]!);
  assert.equal(r2.pieceComplete, true);
  assert.equal(picker.outstanding('a'), 0);
  assert.deepEqual(picker.pick('a', 5), [], 'nothing left while the piece is hashed');
  assert.deepEqual(picker.contributors(0), ['a']);
  picker.pieceVerified(0);
  assert.equal(picker.have(0), true);
  assert.equal(picker.complete, true);
  assert.equal(picker.haveCount, 1);
  assert.equal(picker.haveBitfield().has(0), true);
  assert.equal(picker.blockReceived('a', bs[0]!).wanted, false, 'a block of a piece we have is not wanted');
  picker._checkInvariants();
});

test('unrequested, misaligned and out-of-range blocks are not wanted', () => {
  const { picker } = setup('11', '', '', {}, 2);
  picker.addPeer('a', 'all');
  const [b] = picker.pick('a', 1);
  assert.equal(picker.blockReceived('a', { piece: b!.piece, begin: 16384, length: 16384 }).wanted, false);
  assert.equal(picker.blockReceived('a', { piece: 1 - b!.piece, begin: 0, length: 16384 }).wanted, false);
  assert.equal(picker.blockReceived('a', { piece: b!.piece, begin: 1, length: 16384 }).wanted, false);
  assert.equal(picker.blockReceived('a', { piece: b!.piece, begin: 0, length: 100 }).wanted, false);
  assert.equal(picker.blockReceived('a', { piece: 7, begin: 0, length: 16384 }).wanted, false);
  assert.equal(picker.blockReceived('a', { piece: b!.piece, begin: 32768, length: 16384 }).wanted, false);
  // Accepted from any peer while requested (e.g. a peer that sent it anyway); the requester gets a cancel.
  const r = picker.blockReceived('z', b!);
  assert.deepEqual(r.cancels, [{ peer: 'a', block: b }]);
  picker._checkInvariants();
});

test('release (reject / timeout) returns a block to the pool; a late block is then dropped', () => {
  const { picker } = setup('1', '', '', {}, 3);
  picker.addPeer('a', 'all');
  picker.addPeer('b', 'all');
  const bs = picker.pick('a', 3);
  picker.release('a', bs[1]!);
  picker.release('a', bs[1]!); // twice: no-op
  picker.release('b', bs[0]!); // not b's: no-op
  assert.equal(picker.outstanding('a'), 2);
  picker._checkInvariants();
  assert.equal(picker.blockReceived('a', bs[1]!).wanted, false, 'released, not requested from anyone');
  assert.deepEqual(picker.pick('b', 1), [bs[1]]);
  assert.deepEqual(picker.releaseAll('a'), [bs[0], bs[2]]);
  assert.equal(picker.outstanding('a'), 0);
  assert.deepEqual(picker.pick('b', 3), [bs[0], bs[2]]);
  picker._checkInvariants();
});

test('releasing every block of a fresh piece makes it fresh again (no phantom partial)', () => {
  const { picker } = setup('12', '', '', {}, 2);
  picker.addPeer('a', 'all');
  const bs = picker.pick('a', 2);
  assert.deepEqual(pieces(bs), [0, 0]);
  picker.releaseAll('a');
  picker._checkInvariants();
  assert.deepEqual(picker.contributors(0), []);
});

test('removePeer releases its requests and returns them', () => {
  const { picker } = setup('11', '', '', {}, 2);
  picker.addPeer('a', 'all');
  picker.addPeer('b', 'all');
  const bs = picker.pick('a', 3);
  const gone = picker.removePeer('a');
  const byPos = (p: BlockRef, q: BlockRef): number => (p.piece - q.piece) || (p.begin - q.begin);
  assert.deepEqual(gone, [...bs].sort(byPos));
  assert.equal(picker.outstanding('a'), 0);
  assert.equal(picker.availability(0), 2);
  assert.deepEqual(picker.removePeer('a'), []);
  assert.equal(picker.pick('b', 4).length, 4);
  picker._checkInvariants();
});

test('hash failure: blocks go back to missing, contributors stay known, the piece is downloaded again', () => {
  const { picker } = setup('1', '', '', {}, 2);
  picker.addPeer('a', 'all');
  picker.addPeer('b', 'all');
  const [x] = picker.pick('a', 1);
  const [y] = picker.pick('b', 1);
  picker.blockReceived('a', x!);
  assert.equal(picker.blockReceived('b', y!).pieceComplete, true);
  assert.deepEqual(picker.contributors(0).sort(), ['a', 'b']);
  picker.pieceFailed(0);
  picker._checkInvariants();
  assert.equal(picker.have(0), false);
  assert.deepEqual(picker.contributors(0).sort(), ['a', 'b'], 'still readable after the failure');
  const again = picker.pick('b', 5);
  assert.equal(again.length, 2);
  assert.deepEqual(picker.contributors(0).sort(), ['a', 'b'], 'until a new block arrives');
  picker.blockReceived('b', again[0]!);
  assert.deepEqual(picker.contributors(0), ['b']);
  picker.blockReceived('b', again[1]!);
  picker.pieceVerified(0);
  assert.deepEqual(picker.contributors(0), []);
  assert.equal(picker.complete, true);
  picker.pieceFailed(0); // on a piece we have: no-op
  picker._checkInvariants();
});

test('end game: duplicates go to other peers only, capped, and the first arrival cancels the rest', () => {
  const { picker } = setup('1', '', '', { maxRequestersPerBlock: 2 }, 2);
  for (const k of ['a', 'b', 'c']) picker.addPeer(k, 'all');
  assert.equal(picker.inEndgame, false);
  const a = picker.pick('a', 2);
  assert.equal(picker.inEndgame, true);
  assert.deepEqual(picker.pick('a', 5), [], 'never the same block twice to one peer');
  const b = picker.pick('b', 5);
  assert.deepEqual(b, a);
  assert.deepEqual(picker.pick('c', 5), [], 'capped at 2 requesters per block');
  picker._checkInvariants();
  const r = picker.blockReceived('b', a[0]!);
  assert.deepEqual(r, { wanted: true, pieceComplete: false, cancels: [{ peer: 'a', block: a[0] }] });
  assert.equal(picker.outstanding('a'), 1);
  assert.equal(picker.outstanding('b'), 1);
  // c may now take the remaining block (2 requesters, cap 2): no. After a releases it, yes.
  assert.deepEqual(picker.pick('c', 5), []);
  picker.release('a', a[1]!);
  assert.deepEqual(picker.pick('c', 5), [a[1]]);
  picker._checkInvariants();
  const done = picker.blockReceived('c', a[1]!);
  assert.equal(done.pieceComplete, true);
  assert.deepEqual(done.cancels, [{ peer: 'b', block: a[1] }]);
  picker._checkInvariants();
});

test('end game prefers the least-requested blocks', () => {
  const { picker } = setup('1', '', '', { maxRequestersPerBlock: 3 }, 3);
  for (const k of ['a', 'b', 'c']) picker.addPeer(k, 'all');
  const a = picker.pick('a', 3);
  assert.deepEqual(picker.pick('b', 1), [a[0]]);
  assert.deepEqual(picker.pick('c', 2), [a[1], a[2]]);
});

test('end game waits while a missing block is still available from someone', () => {
  const { picker, peers } = setup('11', '', '', {}, 1);
  picker.pick(peers[0]!, 1);
  assert.equal(picker.inEndgame, false);
  picker.pick(peers[0]!, 1);
  assert.equal(picker.inEndgame, true);
});

test('end game counts only pieces someone has', () => {
  const { picker, peers } = setup('10', '', '', {}, 1);
  picker.pick(peers[0]!, 5);
  assert.equal(picker.inEndgame, true, 'piece 1 is missing but nobody has it');
  picker.addPeer('late', 'all');
  assert.equal(picker.inEndgame, false);
  picker.removePeer('late');
  assert.equal(picker.inEndgame, true);
  picker._checkInvariants();
});

test('markHave forgets outstanding requests for that piece (late arrivals are dropped)', () => {
  const { picker } = setup('1', '', '', {}, 2);
  picker.addPeer('a', 'all');
  const bs = picker.pick('a', 2);
  picker.markHave(0);
  assert.equal(picker.outstanding('a'), 0);
  assert.equal(picker.blockReceived('a', bs[0]!).wanted, false);
  assert.equal(picker.isInteresting('a'), false);
  assert.deepEqual(picker.pick('a', 2), []);
  picker._checkInvariants();
});

test('a peer with few pieces is served from its own bitfield, rarest first', () => {
  const n = 400;
  const avail = '3'.repeat(n).split('');
  avail[17] = '1';
  const { picker, peers } = setup(avail.join(''), '', '', {}, 1);
  const small = new Bitfield(n);
  for (const i of [5, 17, 300]) small.set(i);
  picker.addPeer('small', small);
  assert.deepEqual(pieces(picker.pick('small', 1)), [17]);
  assert.deepEqual(pieces(picker.pick('small', 5)).sort((x, y) => x - y), [5, 300]);
  assert.equal(picker.pick(peers[0]!, 1).length, 1);
  picker._checkInvariants();
});

test('scale: 100k pieces and 50 peers, picks stay cheap', () => {
  const n = 100_000;
  const r = rng(7);
  const picker = new PiecePicker({ pieceCount: n, pieceLength: 262144, totalLength: n * 262144, rng: r });
  const keys: string[] = [];
  for (let k = 0; k < 50; k++) {
    const key = `p${k}`;
    keys.push(key);
    if (k % 5 === 0) { picker.addPeer(key, 'all'); continue; }
    const bf = new Bitfield(n);
    const density = k < 10 ? 0.01 : 0.6;
    for (let i = 0; i < n; i++) if (r() < density) bf.set(i);
    picker.addPeer(key, bf);
  }
  for (let i = 0; i < 10; i++) picker.markHave(i * 7);
  const t0 = performance.now();
  let blocks = 0;
  for (let round = 0; round < 40; round++) {
    for (const k of keys) {
      const got = picker.pick(k, 32);
      blocks += got.length;
      for (const b of got) {
        const res = picker.blockReceived(k, b);
        if (res.pieceComplete) picker.pieceVerified(b.piece);
      }
      picker.peerHave(k, Math.floor(r() * n));
    }
  }
  const ms = performance.now() - t0;
  assert.ok(blocks > 40 * 50 * 16, `only ${blocks} blocks picked`);
  assert.ok(ms < 5000, `2000 picks took ${ms.toFixed(0)} ms`);
});

test('endgame: a peer takes duplicates only while it has fewer than 8 requests outstanding', () => {
  // 2 pieces of 16 blocks, both peers have everything. Peer a takes all 32 blocks: endgame from then on.
  const { picker } = setup('00', '', '', {}, 16);
  picker.addPeer('a', 'all');
  picker.addPeer('b', 'all');
  assert.equal(picker.pick('a', 100).length, 32);
  assert.equal(picker.inEndgame, true);
  // b has nothing outstanding: it may duplicate up to 8 blocks, not all 32.
  const dup = picker.pick('b', 100);
  assert.equal(dup.length, 8);
  assert.equal(picker.pick('b', 100).length, 0, 'b already has 8 outstanding');
  // Once one of b's blocks arrives (a's copy is cancelled), b may take one more duplicate.
  assert.equal(picker.blockReceived('b', dup[0]!).cancels.length, 1);
  assert.equal(picker.pick('b', 100).length, 1);
  assert.equal(picker.pick('a', 100).length, 0, 'a cannot duplicate its own requests');
  picker._checkInvariants();
});
