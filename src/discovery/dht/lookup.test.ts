// Iterative lookup: convergence on a synthetic network (each node answers from its own routing table), done,
// closestResponded, hops and depths, the in-flight bound, failures, maxQueries, duplicates, own id and the address filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRng } from '../../util/seeded-rng.js';
import { Lookup } from './lookup.js';
import { RoutingTable } from './routing-table.js';
import { ALPHA, ID_LENGTH, K } from './types.js';
import type { NodeAddress, NodeContact } from './types.js';

const prng = seededRng;
const bytesFrom = (rng: () => number) => (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));

const key = (a: NodeAddress): string => `${a.host}:${a.port}`;
const hex = (b: Buffer): string => b.toString('hex');
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x ^ (b[i] ?? 0)));

function bruteClosest(target: Buffer, nodes: readonly NodeContact[], n: number): NodeContact[] {
  return [...nodes].sort((a, b) => Buffer.compare(xor(a.id, target), xor(b.id, target))).slice(0, n);
}

interface SynthNet {
  nodes: NodeContact[];
  /** What node `at` answers to find_node(target): the k closest of its own routing table. */
  answer(at: NodeAddress, target: Buffer): NodeContact[];
}

/** `count` nodes with random ids, each with a full routing table of all the others (k-buckets keep only some). */
function synthNet(count: number, seed: number): SynthNet {
  const rnd = bytesFrom(prng(seed));
  const nodes: NodeContact[] = [];
  for (let i = 0; i < count; i++) nodes.push({ id: rnd(ID_LENGTH), host: `10.0.${i >> 8}.${i & 255}`, port: 6881 });
  const tables = new Map<string, RoutingTable>();
  for (const n of nodes) {
    const t = new RoutingTable(n.id);
    for (const m of nodes) t.heard(m, 0);
    tables.set(key(n), t);
  }
  return {
    nodes,
    answer: (at, target) => (tables.get(key(at))?.closest(target, K) ?? []).map((r) => ({ id: r.id, host: r.host, port: r.port })),
  };
}

/** Drive a lookup to the end, answering queries one at a time in a random order; `dead` nodes fail. */
function drive(l: Lookup, net: SynthNet, rng: () => number, dead: ReadonlySet<string> = new Set(), alpha = ALPHA): number {
  const inFlight: NodeContact[] = [];
  let steps = 0;
  for (;;) {
    const batch = l.next();
    inFlight.push(...batch);
    assert.ok(inFlight.length <= alpha, `in flight ${inFlight.length} > alpha`);
    assert.equal(l.inFlightCount, inFlight.length);
    if (inFlight.length === 0) break;
    assert.equal(l.done, false, 'not done while queries are in flight');
    const [q] = inFlight.splice(Math.floor(rng() * inFlight.length), 1);
    if (!q) break;
    if (dead.has(key(q))) l.onFailure(q);
    else l.onResponse(q, net.answer(q, l.target), Buffer.from(`tok-${key(q)}`));
    steps++;
    assert.ok(steps < 10_000);
  }
  assert.equal(l.queried, l.responded + l.failed);
  return steps;
}

const NET = synthNet(400, 42);

test('converges: the k closest that answered are the true k closest of the network; hops and queries are sane', () => {
  const rng = prng(7);
  const rnd = bytesFrom(rng);
  let totalHops = 0;
  let totalQueries = 0;
  const runs = 40;
  for (let r = 0; r < runs; r++) {
    const target = rnd(ID_LENGTH);
    const me = NET.nodes[Math.floor(rng() * NET.nodes.length)] as NodeContact;
    const seeds = NET.answer(me, target);
    const l = new Lookup(target, seeds, { ownId: me.id });
    drive(l, NET, rng);
    assert.ok(l.done);
    const want = bruteClosest(target, NET.nodes.filter((n) => !n.id.equals(me.id)), K).map((n) => hex(n.id));
    const got = l.closestResponded();
    assert.deepEqual(got.map((c) => hex(c.node.id)), want);
    for (const c of got) assert.equal(c.token?.toString(), `tok-${key(c.node)}`, 'each with its own token');
    assert.ok(l.hops <= 6, `hops ${l.hops}`);
    totalHops += l.hops;
    totalQueries += l.queried;
  }
  // 400 nodes, seeds from our own table: Kademlia expects about log2(400) / b with b = 1, i.e. under 9 hops at worst.
  assert.ok(totalHops / runs < 4, `mean hops ${totalHops / runs}`);
  assert.ok(totalQueries / runs < 40, `mean queries ${totalQueries / runs}`);
});

test('converges around dead nodes: the k closest live ones answered (property over seeds)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
    const rng = prng(seed);
    const rnd = bytesFrom(rng);
    const dead = new Set(NET.nodes.filter(() => rng() < 0.15).map(key));
    const target = rnd(ID_LENGTH);
    const me = NET.nodes[Math.floor(rng() * NET.nodes.length)] as NodeContact;
    dead.delete(key(me));
    const l = new Lookup(target, NET.answer(me, target), { ownId: me.id });
    drive(l, NET, rng, dead);
    assert.ok(l.done);
    const live = NET.nodes.filter((n) => !dead.has(key(n)) && !n.id.equals(me.id));
    const got = l.closestResponded().map((c) => hex(c.node.id));
    const want = bruteClosest(target, live, K).map((n) => hex(n.id));
    // Dead nodes hide what only they knew (a region whose only other knowers are dead is out of reach), so allow
    // misses; but the lookup may never stop early: no live node that some answering node named, and that is closer
    // than the k-th node that answered, is left unqueried.
    const found = want.filter((w) => got.includes(w)).length;
    assert.ok(found >= K - 3, `found ${found}/${K}`);
    const answered = l.closestResponded();
    const kth = answered[answered.length - 1]?.node.id;
    if (kth && answered.length === K) {
      const named = new Set(answered.flatMap((c) => NET.answer(c.node, target)).filter((n) => !dead.has(key(n)) && !n.id.equals(me.id)).map((n) => hex(n.id)));
      for (const h of named) {
        const closer = Buffer.compare(xor(Buffer.from(h, 'hex'), target), xor(kth, target)) < 0;
        if (closer) assert.ok(got.includes(h), `live node ${h} closer than the k-th answer was named but not queried`);
      }
    }
    assert.ok(got.every((g) => !dead.has(key(NET.nodes.find((n) => hex(n.id) === g) as NodeContact))));
  }), { numRuns: 40, seed: 20261202 });
});

test('done: no seeds means done at once; a lone seed that answers with nothing ends it', () => {
  const rnd = bytesFrom(prng(1));
  const empty = new Lookup(rnd(ID_LENGTH), []);
  assert.equal(empty.done, true);
  assert.deepEqual(empty.next(), []);
  const seed = { id: rnd(ID_LENGTH), host: '10.0.0.1', port: 1 };
  const l = new Lookup(rnd(ID_LENGTH), [seed]);
  assert.equal(l.done, false);
  assert.deepEqual(l.next().map(key), [key(seed)]);
  assert.deepEqual(l.next(), [], 'already in flight');
  assert.equal(l.done, false);
  l.onResponse(seed, []);
  assert.equal(l.done, true);
  assert.equal(l.hops, 0);
  assert.deepEqual(l.closestResponded().map((c) => key(c.node)), [key(seed)]);
  assert.equal(l.closestResponded()[0]?.token, undefined);
});

test('in flight never exceeds alpha; the closest unqueried go first', () => {
  const rnd = bytesFrom(prng(2));
  const target = Buffer.alloc(ID_LENGTH);
  const seeds: NodeContact[] = [];
  for (let i = 0; i < 10; i++) {
    const id = rnd(ID_LENGTH);
    id[0] = i * 16; // distance grows with i
    seeds.push({ id, host: `10.0.0.${i + 1}`, port: 1 });
  }
  const l = new Lookup(target, [...seeds].reverse(), { alpha: 2 });
  assert.deepEqual(l.next().map(key), [key(seeds[0] as NodeContact), key(seeds[1] as NodeContact)]);
  assert.deepEqual(l.next(), []);
  l.onFailure(seeds[0] as NodeContact);
  assert.deepEqual(l.next().map(key), [key(seeds[2] as NodeContact)]);
  l.onResponse(seeds[1] as NodeContact, []);
  l.onResponse(seeds[2] as NodeContact, []);
  // Window: the k = 8 closest that did not fail = seeds 1..8; 3..8 are still to ask, 2 at a time.
  let asked = 0;
  while (!l.done) {
    const b = l.next();
    assert.ok(b.length <= 2);
    for (const n of b) { l.onResponse(n, []); asked++; }
  }
  assert.equal(asked, 6, 'seed 9 is outside the window and never asked');
  assert.equal(l.depthOf(seeds[9] as NodeContact), 0);
  assert.equal(l.queried, 9);
  assert.equal(l.failed, 1);
  assert.equal(l.responded, 8);
  assert.equal(l.closestResponded().length, K);
});

test('maxQueries bounds the lookup; it is done once the last ones are back', () => {
  const rng = prng(3);
  const target = bytesFrom(rng)(ID_LENGTH);
  const me = NET.nodes[0] as NodeContact;
  const l = new Lookup(target, NET.answer(me, target), { ownId: me.id, maxQueries: 5 });
  drive(l, NET, rng);
  assert.equal(l.queried, 5);
  assert.equal(l.done, true);
  assert.deepEqual(l.next(), []);
});

test('duplicates, our own id, port 0 and addresses refused by accept are never queried; depths and hops', () => {
  const rnd = bytesFrom(prng(4));
  const own = rnd(ID_LENGTH);
  const target = rnd(ID_LENGTH);
  const seed = { id: rnd(ID_LENGTH), host: '10.0.0.1', port: 1 };
  const seenAddrs: string[] = [];
  const l = new Lookup(target, [seed, seed, { id: own, host: '10.0.0.9', port: 9 }, { id: rnd(ID_LENGTH), host: '192.168.1.1', port: 1 }], {
    ownId: own,
    accept: (n) => !n.host.startsWith('192.168.'),
  });
  const first = l.next();
  assert.deepEqual(first.map(key), ['10.0.0.1:1'], 'one seed: the duplicate, our own id and the refused one are out');
  const a = { id: rnd(ID_LENGTH), host: '10.0.0.2', port: 2 };
  l.onResponse(seed, [
    a,
    { id: rnd(ID_LENGTH), host: a.host, port: a.port }, // same address, other id
    { id: a.id, host: '10.0.0.3', port: 3 }, // same id, other address
    { id: own, host: '10.0.0.4', port: 4 },
    { id: rnd(ID_LENGTH), host: '10.0.0.5', port: 0 },
    { id: rnd(ID_LENGTH), host: '192.168.0.7', port: 7 },
    seed,
  ]);
  assert.equal(l.depthOf(a), 1);
  const second = l.next();
  seenAddrs.push(...second.map(key));
  assert.deepEqual(seenAddrs, ['10.0.0.2:2']);
  const b = { id: rnd(ID_LENGTH), host: '10.0.0.6', port: 6 };
  l.onResponse(a, [b]);
  assert.equal(l.depthOf(b), 2);
  assert.deepEqual(l.next().map(key), ['10.0.0.6:6']);
  assert.equal(l.hops, 1, 'the deepest node that answered is a (depth 1)');
  l.onResponse(b, []);
  assert.equal(l.hops, 2);
  assert.equal(l.done, true);
  assert.equal(l.depthOf({ host: '192.168.0.7', port: 7 }), undefined);
});

test('late and unsolicited answers are ignored', () => {
  const rnd = bytesFrom(prng(5));
  const seed = { id: rnd(ID_LENGTH), host: '10.0.0.1', port: 1 };
  const l = new Lookup(rnd(ID_LENGTH), [seed]);
  l.onResponse({ host: '10.9.9.9', port: 1 }, [{ id: rnd(ID_LENGTH), host: '10.0.0.2', port: 2 }]);
  l.onResponse(seed, [{ id: rnd(ID_LENGTH), host: '10.0.0.3', port: 3 }]); // not queried yet
  assert.equal(l.responded, 0);
  l.next();
  l.onFailure(seed);
  l.onResponse(seed, [{ id: rnd(ID_LENGTH), host: '10.0.0.4', port: 4 }]); // after its timeout
  assert.equal(l.responded, 0);
  assert.equal(l.failed, 1);
  assert.equal(l.done, true);
  assert.deepEqual(l.closestResponded(), []);
});

test('memory stays bounded when answers bring many far nodes', () => {
  const rnd = bytesFrom(prng(6));
  const target = Buffer.alloc(ID_LENGTH);
  const seed = { id: rnd(ID_LENGTH), host: '10.0.0.1', port: 1 };
  const l = new Lookup(target, [seed], { maxQueries: 1000 });
  let port = 10;
  let inFlight = l.next();
  for (let round = 0; round < 30 && inFlight.length > 0; round++) {
    const nextRound: NodeContact[] = [];
    for (const q of inFlight) {
      const nodes = Array.from({ length: 50 }, () => ({ id: rnd(ID_LENGTH), host: '10.1.0.1', port: port++ }));
      l.onResponse(q, nodes);
      nextRound.push(...l.next());
    }
    inFlight = nextRound;
  }
  let known = 0;
  for (let p = 10; p < port; p++) if (l.depthOf({ host: '10.1.0.1', port: p }) !== undefined) known++;
  assert.ok(known <= 64 + l.queried, `kept ${known}`);
});
