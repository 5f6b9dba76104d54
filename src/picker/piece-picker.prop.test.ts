// Property test: random operation sequences against the picker, checked after every step against its own
// invariants (`_checkInvariants`) and against a small model of what the engine would know (each peer's outstanding
// requests, the blocks received per piece). Then a seed joins and the torrent must complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitfield } from '../util/bitfield.js';
import { PiecePicker, type BlockRef } from './piece-picker.js';
import { seededRng as rng } from '../util/seeded-rng.js';

const PEERS = ['p0', 'p1', 'p2', 'p3'];
const peerArb = fc.constantFrom(...PEERS);
const opArb = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('add' as const), peer: peerArb,
    kind: fc.constantFrom('all' as const, 'none' as const, 'bits' as const), bits: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('have' as const), peer: peerArb, piece: fc.nat(11) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('pick' as const), peer: peerArb, max: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('recv' as const), peer: peerArb, nth: fc.nat(), good: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('recvAny' as const), peer: peerArb, piece: fc.nat(11), block: fc.nat(3), good: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), peer: peerArb, nth: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('releaseAll' as const), peer: peerArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), peer: peerArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('prio' as const), piece: fc.nat(11), prio: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('markHave' as const), piece: fc.nat(11) }) },
  // Streaming (issue 15): sequential mode, critical pieces, slow peers' picks, take-back.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('seq' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crit' as const), pieces: fc.array(fc.nat(11), { maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('pickSlow' as const), peer: peerArb, max: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('also' as const), peer: peerArb, from: peerArb, nth: fc.nat() }) },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

const geometryArb = fc.record({
  pieceCount: fc.integer({ min: 1, max: 12 }),
  blocksPerPiece: fc.integer({ min: 1, max: 3 }),
  lastBytes: fc.integer({ min: 1, max: 12 }),
  randomFirstPieces: fc.nat(3),
  maxRequestersPerBlock: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer(),
});

const key = (b: BlockRef): string => `${b.piece}:${b.begin}`;

class Model {
  readonly out = new Map<string, Map<string, BlockRef>>();
  readonly has = new Map<string, Set<number> | 'all'>();
  readonly received = new Map<number, Set<number>>();

  outOf(peer: string): Map<string, BlockRef> {
    let m = this.out.get(peer);
    if (!m) this.out.set(peer, m = new Map());
    return m;
  }
  holders(b: BlockRef): string[] {
    return [...this.out].filter(([, m]) => m.has(key(b))).map(([p]) => p).sort();
  }
  dropPiece(piece: number): void {
    for (const m of this.out.values()) for (const [k, b] of m) if (b.piece === piece) m.delete(k);
    this.received.delete(piece);
  }
  peerHas(peer: string, piece: number): boolean {
    const h = this.has.get(peer);
    return h === 'all' || (h !== undefined && h.has(piece));
  }
}

type Geometry = typeof geometryArb extends fc.Arbitrary<infer T> ? T : never;

function run(g: Geometry, ops: Op[]): void {
  const bs = 4;
  const pieceLength = bs * g.blocksPerPiece;
  const n = g.pieceCount;
  const totalLength = (n - 1) * pieceLength + Math.min(pieceLength, g.lastBytes);
  const picker = new PiecePicker({ pieceCount: n, pieceLength, totalLength, blockSize: bs,
    randomFirstPieces: g.randomFirstPieces, maxRequestersPerBlock: g.maxRequestersPerBlock, rng: rng(g.seed) });
  const model = new Model();
  const sorted = (list: BlockRef[]): string[] => list.map(key).sort();

  const deliver = (peer: string, b: BlockRef, good: boolean): void => {
    const holders = model.holders(b);
    const res = picker.blockReceived(peer, b);
    assert.equal(res.wanted, holders.length > 0, `wanted for ${key(b)} from ${peer}`);
    if (!res.wanted) return;
    assert.deepEqual(res.cancels.map((c) => c.peer).sort(), holders.filter((h) => h !== peer));
    for (const c of res.cancels) assert.equal(key(c.block), key(b));
    for (const h of holders) model.outOf(h).delete(key(b));
    let got = model.received.get(b.piece);
    if (!got) model.received.set(b.piece, got = new Set());
    got.add(b.begin);
    const complete = got.size === picker.blocksInPiece(b.piece);
    assert.equal(res.pieceComplete, complete);
    assert.ok(picker.contributors(b.piece).includes(peer));
    if (complete) {
      for (const m of model.out.values()) for (const o of m.values()) assert.notEqual(o.piece, b.piece);
      if (good) {
        picker.pieceVerified(b.piece);
        model.dropPiece(b.piece);
      } else {
        picker.pieceFailed(b.piece);
        model.received.delete(b.piece);
        assert.ok(picker.contributors(b.piece).includes(peer));
      }
    }
  };

  let critical = new Set<number>();
  const doPick = (peer: string, max: number, mayCritical = true): void => {
    const got = picker.pick(peer, max, { critical: mayCritical });
    assert.ok(got.length <= max);
    const mine = model.outOf(peer);
    let dup = false;
    for (const b of got) {
      assert.ok(model.peerHas(peer, b.piece), `${peer} does not have ${b.piece}`);
      assert.equal(picker.have(b.piece), false);
      assert.ok(picker.piecePriority(b.piece) > 0);
      assert.ok(!mine.has(key(b)), `block ${key(b)} given twice to ${peer}`);
      assert.ok(!model.received.get(b.piece)?.has(b.begin), 'received block picked again');
      if (model.holders(b).length > 0) dup = true;
      else if (!mayCritical) assert.ok(!critical.has(b.piece), `slow peer ${peer} got critical piece ${b.piece}`);
      mine.set(key(b), b);
    }
    if (dup) assert.equal(picker.inEndgame, true, 'duplicate request outside end game');
  };

  for (const op of ops) {
    switch (op.t) {
      case 'add': {
        if (op.kind === 'bits') {
          const bf = new Bitfield(n);
          const set = new Set<number>();
          for (let i = 0; i < n; i++) if (op.bits[i]) { bf.set(i); set.add(i); }
          picker.addPeer(op.peer, bf);
          model.has.set(op.peer, set.size === n ? 'all' : set);
        } else {
          picker.addPeer(op.peer, op.kind);
          model.has.set(op.peer, op.kind === 'all' ? 'all' : new Set());
        }
        break;
      }
      case 'have': {
        const i = op.piece % n;
        picker.peerHave(op.peer, i);
        let h = model.has.get(op.peer);
        if (!h) model.has.set(op.peer, h = new Set());
        if (h !== 'all') { h.add(i); if (h.size === n) model.has.set(op.peer, 'all'); }
        break;
      }
      case 'pick': doPick(op.peer, op.max); break;
      case 'recv': {
        const list = [...model.outOf(op.peer).values()];
        if (list.length > 0) deliver(op.peer, list[op.nth % list.length]!, op.good);
        break;
      }
      case 'recvAny': {
        const piece = op.piece % n;
        const blocks = picker.blocksInPiece(piece);
        const begin = (op.block % blocks) * bs;
        const length = Math.min(bs, picker.pieceSize(piece) - begin);
        if (picker.have(piece) || model.received.get(piece)?.has(begin)) {
          assert.equal(picker.blockReceived(op.peer, { piece, begin, length }).wanted, false);
        } else {
          deliver(op.peer, { piece, begin, length }, op.good);
        }
        break;
      }
      case 'release': {
        const list = [...model.outOf(op.peer).values()];
        if (list.length === 0) break;
        const b = list[op.nth % list.length]!;
        picker.release(op.peer, b);
        model.outOf(op.peer).delete(key(b));
        break;
      }
      case 'releaseAll':
        assert.deepEqual(sorted(picker.releaseAll(op.peer)), sorted([...model.outOf(op.peer).values()]));
        model.out.delete(op.peer);
        break;
      case 'remove':
        assert.deepEqual(sorted(picker.removePeer(op.peer)), sorted([...model.outOf(op.peer).values()]));
        model.out.delete(op.peer);
        model.has.delete(op.peer);
        break;
      case 'prio': picker.setPiecePriority(op.piece % n, op.prio); break;
      case 'markHave': picker.markHave(op.piece % n); model.dropPiece(op.piece % n); break;
      case 'seq': picker.setSequential(op.on); assert.equal(picker.sequential, op.on); break;
      case 'crit': critical = new Set(op.pieces.map((i) => i % n)); picker.setCritical(op.pieces.map((i) => i % n)); break;
      case 'pickSlow': doPick(op.peer, op.max, false); break;
      case 'also': {
        const list = [...model.outOf(op.from).values()];
        if (list.length === 0) break;
        const b = list[op.nth % list.length]!;
        const expect = op.peer !== op.from && model.peerHas(op.peer, b.piece) && !model.outOf(op.peer).has(key(b)) &&
          model.holders(b).length < g.maxRequestersPerBlock;
        assert.equal(picker.requestAlso(op.peer, b), expect, `requestAlso(${op.peer}, ${key(b)})`);
        if (expect) model.outOf(op.peer).set(key(b), b);
        break;
      }
    }
    picker._checkInvariants();
    for (const p of PEERS) assert.equal(picker.outstanding(p), model.outOf(p).size, `outstanding(${p})`);
  }

  // Phase 2: everything wanted, a seed joins, peers keep picking and every request is answered.
  for (let i = 0; i < n; i++) picker.setPiecePriority(i, 1 + (i % 3));
  picker.addPeer('seed', 'all');
  model.has.set('seed', 'all');
  const everyone = [...PEERS.filter((p) => model.has.has(p)), 'seed'];
  for (let round = 0; round < n * 3 + 5 && !picker.complete; round++) {
    for (const p of everyone) doPick(p, 4);
    for (const p of everyone) {
      for (const b of [...model.outOf(p).values()]) if (model.outOf(p).has(key(b))) deliver(p, b, true);
    }
    picker._checkInvariants();
  }
  assert.equal(picker.complete, true, 'torrent did not complete');
  assert.equal(picker.inEndgame, false);
  for (const p of everyone) assert.equal(picker.outstanding(p), 0);
}

test('random operation sequences keep the invariants and the torrent completes', () => {
  fc.assert(fc.property(geometryArb, fc.array(opArb, { minLength: 20, maxLength: 150, size: 'max' }), run),
    { numRuns: 300, interruptAfterTimeLimit: 4000 });
});

test('scenario: a failed piece and a departed peer, then a seed completes the torrent', () => {
  run({ pieceCount: 5, blocksPerPiece: 2, lastBytes: 3, randomFirstPieces: 1, maxRequestersPerBlock: 2, seed: 3 }, [
    { t: 'add', peer: 'p0', kind: 'bits', bits: [true, false, true, false, true, false, false, false, false, false, false, false] },
    { t: 'pick', peer: 'p0', max: 3 },
    { t: 'recv', peer: 'p0', nth: 0, good: false },
    { t: 'remove', peer: 'p0' },
  ]);
});
