import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Choker, type ChokePeer, type RechokeResult } from './choker.js';
import { seededRng as rng } from '../util/seeded-rng.js';

function peer(key: string, over: Partial<ChokePeer> = {}): ChokePeer {
  return { key, interested: true, downloadRate: 0, uploadRate: 0, unchoked: false, ...over };
}

/** Applies a result to the peers, as the engine would, checking it only names real changes. */
function apply(peers: ChokePeer[], r: RechokeResult, now: number, trackTime = true): void {
  const byKey = new Map(peers.map((p) => [p.key, p]));
  for (const k of r.unchoke) {
    const p = byKey.get(k)!;
    assert.equal(p.unchoked, false, `unchoke of already unchoked ${k}`);
    p.unchoked = true;
    if (trackTime) p.lastUnchokedAt = now;
  }
  for (const k of r.choke) {
    const p = byKey.get(k)!;
    assert.equal(p.unchoked, true, `choke of already choked ${k}`);
    p.unchoked = false;
  }
}

const unchokedKeys = (peers: ChokePeer[]): string[] => peers.filter((p) => p.unchoked).map((p) => p.key).sort();

test('leech mode: tit-for-tat unchokes the fastest interested peers plus one optimistic', () => {
  const peers = [
    peer('slow', { downloadRate: 10 }),
    peer('f1', { downloadRate: 900 }),
    peer('f2', { downloadRate: 800 }),
    peer('f3', { downloadRate: 700 }),
    peer('f4', { downloadRate: 600 }),
    peer('fast-but-bored', { downloadRate: 5000, interested: false, unchoked: true }),
    peer('seed', { downloadRate: 9000, isSeed: true }),
    peer('snub', { downloadRate: 10_000, snubbed: true }),
    peer('mid', { downloadRate: 500 }),
  ];
  const choker = new Choker({ rng: rng(1) });
  const r = choker.rechoke(peers, 'leech', 0);
  assert.deepEqual(r.choke, ['fast-but-bored']);
  assert.ok(r.optimistic !== null && ['slow', 'snub', 'mid'].includes(r.optimistic), `optimistic ${r.optimistic}`);
  assert.deepEqual([...r.unchoke].sort(), ['f1', 'f2', 'f3', 'f4', r.optimistic].sort());
  apply(peers, r, 0);
  assert.equal(unchokedKeys(peers).length, 5);
});

test('leech mode: a faster peer takes a regular slot from a slower one', () => {
  const peers = ['a', 'b', 'c'].map((k, i) => peer(k, { downloadRate: 100 * (i + 1) }));
  const choker = new Choker({ uploadSlots: 2, rng: rng(2) });
  apply(peers, choker.rechoke(peers, 'leech', 0), 0);
  assert.deepEqual(unchokedKeys(peers), ['a', 'b', 'c']); // b, c regular; a optimistic
  peers.push(peer('d', { downloadRate: 1000 }));
  peers[0]!.downloadRate = 1;
  const r = choker.rechoke(peers, 'leech', 10_000);
  // d is the fastest: regular slot; b (slowest regular) becomes choked unless it is the optimistic one.
  assert.ok(r.unchoke.includes('d'));
  apply(peers, r, 10_000);
  assert.ok(peers.find((p) => p.key === 'd')!.unchoked);
  assert.ok(unchokedKeys(peers).length <= 3);
});

test('leech mode: equal rates keep the currently unchoked peers (no flapping)', () => {
  const peers = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => peer(k));
  const choker = new Choker({ uploadSlots: 2, optimisticEveryRounds: 100, rng: rng(3) });
  apply(peers, choker.rechoke(peers, 'leech', 0), 0);
  const first = unchokedKeys(peers);
  for (let round = 1; round < 10; round++) {
    const r = choker.rechoke(peers, 'leech', round * 10_000);
    assert.deepEqual(r, { unchoke: [], choke: [], optimistic: r.optimistic });
  }
  assert.deepEqual(unchokedKeys(peers), first);
});

test('leech mode: the optimistic unchoke rotates every 3 rounds', () => {
  const peers = ['r1', 'r2', 'o1', 'o2', 'o3', 'o4'].map((k) => peer(k, { downloadRate: k.startsWith('r') ? 1000 : 0 }));
  const choker = new Choker({ uploadSlots: 2, optimisticEveryRounds: 3, rng: rng(4) });
  const holders: Array<string | null> = [];
  for (let round = 0; round < 12; round++) {
    const r = choker.rechoke(peers, 'leech', round * 10_000);
    apply(peers, r, round * 10_000);
    holders.push(r.optimistic);
    assert.deepEqual(unchokedKeys(peers), ['r1', 'r2', r.optimistic!].sort());
  }
  for (let round = 0; round < 12; round++) {
    if (round % 3 === 0) {
      if (round > 0) assert.notEqual(holders[round], holders[round - 1], `no rotation at round ${round}`);
    } else {
      assert.equal(holders[round], holders[round - 1], `rotated early at round ${round}`);
    }
  }
});

test('leech mode: the optimistic slot is refilled at once when its holder loses interest or leaves', () => {
  const peers = ['a', 'b', 'c'].map((k) => peer(k));
  const choker = new Choker({ uploadSlots: 0, optimisticEveryRounds: 3, rng: rng(5) });
  const r1 = choker.rechoke(peers, 'leech', 0);
  apply(peers, r1, 0);
  const holder = peers.find((p) => p.key === r1.optimistic)!;
  holder.interested = false;
  const r2 = choker.rechoke(peers, 'leech', 1);
  assert.notEqual(r2.optimistic, holder.key);
  assert.deepEqual(r2.choke, [holder.key]);
  apply(peers, r2, 1);
  const rest = peers.filter((p) => p.key !== r2.optimistic && p !== holder);
  const r3 = choker.rechoke(rest, 'leech', 2);
  assert.equal(r3.optimistic, rest[0]!.key);
});

test('leech mode: recently connected peers are about 3x as likely to get the optimistic unchoke', () => {
  let newWins = 0;
  const trials = 600;
  for (let seed = 0; seed < trials; seed++) {
    const peers = [
      peer('old1', { connectedAt: 0 }), peer('old2', { connectedAt: 0 }), peer('old3'),
      peer('new', { connectedAt: 95_000 }),
    ];
    const r = new Choker({ uploadSlots: 0, rng: rng(seed) }).rechoke(peers, 'leech', 100_000);
    if (r.optimistic === 'new') newWins++;
  }
  // Expected 3/6 = 0.5 with the weight, 0.25 without.
  assert.ok(newWins / trials > 0.42 && newWins / trials < 0.58, `new peer won ${newWins}/${trials}`);
});

for (const trackTime of [true, false]) {
  test(`seed mode: rotation serves every interested peer within ceil(n/slots) periods (engine times: ${trackTime})`, () => {
    const n = 10;
    const peers = Array.from({ length: n }, (_, i) => peer(`p${i}`, { uploadRate: (i + 1) * 100 }));
    peers.push(peer('bored', { interested: false }), peer('other-seed', { isSeed: true, interested: true }));
    const choker = new Choker({ uploadSlots: 4, optimisticEveryRounds: 3, rng: rng(6) });
    const served = new Set<string>();
    const rounds = 3 * Math.ceil(n / 4);
    for (let round = 0; round < rounds; round++) {
      const r = choker.rechoke(peers, 'seed', round * 10_000);
      assert.equal(r.optimistic, null);
      apply(peers, r, round * 10_000, trackTime);
      const on = unchokedKeys(peers);
      assert.equal(on.length, 4);
      for (const k of on) served.add(k);
    }
    assert.equal(served.size, n, `served only ${[...served].join(',')}`);
    assert.ok(!served.has('bored') && !served.has('other-seed'));
  });
}

test('seed mode: with few peers, nobody is choked for rotation', () => {
  const peers = ['a', 'b', 'c'].map((k) => peer(k));
  const choker = new Choker({ uploadSlots: 4, rng: rng(7) });
  apply(peers, choker.rechoke(peers, 'seed', 0), 0);
  for (let round = 1; round < 10; round++) {
    const r = choker.rechoke(peers, 'seed', round);
    assert.deepEqual(r.choke, []);
    assert.deepEqual(r.unchoke, []);
  }
  assert.deepEqual(unchokedKeys(peers), ['a', 'b', 'c']);
});

test('seed mode: the longest-waiting peer is unchoked first, fastest uploads keep their slot', () => {
  const peers = [
    peer('w-old', { lastUnchokedAt: 5 }), peer('w-never'), peer('w-new', { lastUnchokedAt: 50 }),
    peer('on-fast', { unchoked: true, uploadRate: 900 }), peer('on-slow', { unchoked: true, uploadRate: 10 }),
  ];
  const choker = new Choker({ uploadSlots: 2, rng: rng(8) });
  // Both current holders are new to this choker (held 0 rounds): they keep their slots.
  assert.deepEqual(choker.rechoke(peers, 'seed', 100), { unchoke: [], choke: [], optimistic: null });
  const one = new Choker({ uploadSlots: 1, rng: rng(8) }).rechoke(peers, 'seed', 100);
  assert.deepEqual(one, { unchoke: [], choke: ['on-slow'], optimistic: null });
  const three = new Choker({ uploadSlots: 3, rng: rng(8) }).rechoke(peers, 'seed', 100);
  assert.deepEqual(three.unchoke, ['w-never']);
});

test('property: never more than slots+1 unchoked, only interested non-seeds, only real changes', () => {
  const peerArb = fc.record({
    interested: fc.boolean(), downloadRate: fc.nat(1000), uploadRate: fc.nat(1000),
    snubbed: fc.boolean(), isSeed: fc.boolean(), present: fc.boolean(),
  });
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer(),
    fc.array(fc.tuple(fc.constantFrom('leech' as const, 'seed' as const), fc.array(peerArb, { minLength: 8, maxLength: 8 })),
      { minLength: 1, maxLength: 25 }),
    (slots, every, seed, rounds) => {
      const choker = new Choker({ uploadSlots: slots, optimisticEveryRounds: every, rng: rng(seed) });
      const state = Array.from({ length: 8 }, (_, i) => peer(`k${i}`));
      let t = 0;
      for (const [mode, snap] of rounds) {
        t += 10_000;
        const live: ChokePeer[] = [];
        snap.forEach((s, i) => {
          const p = state[i]!;
          if (!s.present) { p.unchoked = false; return; } // disconnected: the engine forgets it
          Object.assign(p, { interested: s.interested, downloadRate: s.downloadRate, uploadRate: s.uploadRate,
            snubbed: s.snubbed, isSeed: s.isSeed });
          live.push(p);
        });
        const r = choker.rechoke(live, mode, t);
        apply(live, r, t);
        const on = live.filter((p) => p.unchoked);
        assert.ok(on.length <= slots + (mode === 'leech' ? 1 : 0), `${on.length} unchoked with ${slots} slots`);
        for (const p of on) assert.ok(p.interested && !p.isSeed, `${p.key} unchoked but not eligible`);
        if (r.optimistic !== null) assert.ok(on.some((p) => p.key === r.optimistic));
        const eligible = live.filter((p) => p.interested && !p.isSeed).length;
        if (mode === 'seed') assert.equal(on.length, Math.min(slots, eligible), 'seed slots left idle');
      }
    }), { numRuns: 200, interruptAfterTimeLimit: 3000 });
});
