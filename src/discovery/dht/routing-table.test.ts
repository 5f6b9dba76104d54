// Routing table: BEP 5 splitting, exact closest (property test against a brute-force sort), same-IP refusal,
// failures -> bad -> replaced or removed, pings of questionable nodes, stale bucket ids in range, re-keying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { REMOVE_AFTER_FAILURES, RoutingTable } from './routing-table.js';
import { BUCKET_REFRESH_MS, ID_LENGTH, K, NODE_GOOD_MS } from './types.js';
import type { NodeContact } from './types.js';

/** Deterministic bytes (mulberry32). */
function seededBytes(seed: number): (n: number) => Buffer {
  let s = seed >>> 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
    }
    return out;
  };
}

function commonBits(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length * 8; i++) {
    const m = 0x80 >> (i & 7);
    if (((a[i >> 3] ?? 0) & m) !== ((b[i >> 3] ?? 0) & m)) return i;
  }
  return a.length * 8;
}

let hostSeq = 0;
/** A node with a distinct IP. */
function node(id: Buffer, host?: string, port = 6881): NodeContact {
  hostSeq++;
  return { id, host: host ?? `10.${(hostSeq >> 16) & 255}.${(hostSeq >> 8) & 255}.${hostSeq & 255}`, port };
}

/** An id whose first bit is `top` (0 or 1) and whose other bits come from `rnd`. */
function idWithTopBit(top: number, rnd: (n: number) => Buffer): Buffer {
  const id = rnd(ID_LENGTH);
  id[0] = ((id[0] ?? 0) & 0x7f) | (top << 7);
  return id;
}

const ZERO = Buffer.alloc(ID_LENGTH);

test('only the bucket holding our own id splits; far buckets stay at k and overflow to the replacement cache', () => {
  const rnd = seededBytes(1);
  const t = new RoutingTable(ZERO);
  // Far nodes (top bit 1): share 0 bits with our own id.
  for (let i = 0; i < K; i++) assert.equal(t.heard(node(idWithTopBit(1, rnd)), 0).status, 'added');
  assert.equal(t.bucketCount, 1);
  const ninth = t.heard(node(idWithTopBit(1, rnd)), 0);
  assert.equal(ninth.status, 'full', 'the 9th far node: the bucket split, but bucket 0 is not ours and stays at k');
  assert.equal(t.bucketCount, 2);
  for (let i = 0; i < 50; i++) t.heard(node(idWithTopBit(1, rnd)), 0);
  assert.equal(t.bucketRange(0)?.size, K);
  assert.equal(t.replacementCount, K, 'the replacement cache is bounded (default k)');
  // Near nodes keep coming in: the own-id bucket splits again and again.
  for (let i = 0; i < 200; i++) t.heard(node(rnd(ID_LENGTH)), 0);
  assert.ok(t.bucketCount >= 5, `buckets ${t.bucketCount}`);
  assert.ok(t.size > 3 * K, `size ${t.size}`);
  // Every bucket holds at most k; bucket 0 still holds only far nodes.
  assert.equal(t.all().filter((n) => ((n.id[0] ?? 0) & 0x80) !== 0).length, K);
  for (let i = 0; i < t.bucketCount; i++) assert.ok((t.bucketRange(i)?.size ?? 99) <= K);
  assert.equal(t.size, t.all().length);
});

test('bucket invariants hold for any own id and any set of nodes (property)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
    fc.array(fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }), { maxLength: 300 }),
    fc.integer({ min: 1, max: 8 }),
    (own, ids, k) => {
      const ownId = Buffer.from(own);
      const t = new RoutingTable(ownId, { k, allowSameIp: true });
      ids.forEach((id, i) => t.heard({ id: Buffer.from(id), host: '10.0.0.1', port: 1000 + i }, i));
      const last = t.bucketCount - 1;
      const perBucket = new Map<number, number>();
      for (const n of t.all()) {
        assert.ok(!n.id.equals(ownId), 'our own id is never in');
        const b = Math.min(commonBits(ownId, n.id), last);
        perBucket.set(b, (perBucket.get(b) ?? 0) + 1);
      }
      for (let i = 0; i <= last; i++) {
        assert.equal(t.bucketRange(i)?.size ?? 0, perBucket.get(i) ?? 0, `bucket ${i}`);
        assert.ok((perBucket.get(i) ?? 0) <= k);
      }
      assert.ok(t.bucketCount <= 160);
      // A far bucket (not the last) is full whenever it has replacements waiting: they only wait for a full one.
      const distinct = new Set(ids.map((x) => Buffer.from(x).toString('hex')));
      distinct.delete(ownId.toString('hex'));
      assert.ok(t.size <= distinct.size);
    },
  ), { numRuns: 150 });
});

test('closest is exact: the same as a brute-force sort by XOR distance, bad nodes left out (property)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
    fc.array(fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }), { minLength: 1, maxLength: 250 }),
    fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }),
    fc.integer({ min: 1, max: 40 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    (own, ids, target, n, badPicks) => {
      const t = new RoutingTable(Buffer.from(own), { allowSameIp: true });
      ids.forEach((id, i) => t.heard({ id: Buffer.from(id), host: '10.0.0.1', port: 1000 + i }, 0));
      const inTable = t.all();
      for (const p of badPicks) {
        const victim = inTable[p % inTable.length];
        if (victim) { t.failed(victim, 1); t.failed(victim, 2); }
      }
      const tgt = Buffer.from(target);
      const xor = (id: Buffer): Buffer => Buffer.from(id.map((b, i) => b ^ (tgt[i] ?? 0)));
      const expected = t.all().filter((x) => x.failures < 2)
        .sort((a, b) => Buffer.compare(xor(a.id), xor(b.id))).slice(0, n).map((x) => x.id.toString('hex'));
      assert.deepEqual(t.closest(tgt, n).map((x) => x.id.toString('hex')), expected);
    },
  ), { numRuns: 200 });
});

test('same IP: a second node on an IP in the table is refused unless allowSameIp', () => {
  const rnd = seededBytes(2);
  const strict = new RoutingTable(rnd(ID_LENGTH));
  assert.equal(strict.heard({ id: rnd(ID_LENGTH), host: '1.2.3.4', port: 1 }, 0).status, 'added');
  assert.equal(strict.heard({ id: rnd(ID_LENGTH), host: '1.2.3.4', port: 2 }, 0).status, 'refused');
  assert.equal(strict.size, 1);
  const loose = new RoutingTable(rnd(ID_LENGTH), { allowSameIp: true });
  assert.equal(loose.heard({ id: rnd(ID_LENGTH), host: '127.0.0.1', port: 1 }, 0).status, 'added');
  assert.equal(loose.heard({ id: rnd(ID_LENGTH), host: '127.0.0.1', port: 2 }, 0).status, 'added');
  assert.equal(loose.size, 2);
});

test('own id refused; a known node is updated; a new id at a known address replaces it; a known id elsewhere is refused', () => {
  const rnd = seededBytes(3);
  const own = rnd(ID_LENGTH);
  const t = new RoutingTable(own);
  assert.equal(t.heard({ id: own, host: '1.1.1.1', port: 1 }, 0).status, 'refused');
  const a = { id: rnd(ID_LENGTH), host: '1.1.1.2', port: 1 };
  assert.equal(t.heard(a, 0).status, 'added');
  t.failed(a, 10);
  assert.equal(t.get(a)?.failures, 1);
  assert.equal(t.heard(a, 20).status, 'updated');
  assert.equal(t.get(a)?.failures, 0);
  assert.equal(t.get(a)?.lastResponse, 20);
  assert.equal(t.heard({ id: a.id, host: '1.1.1.3', port: 1 }, 30).status, 'refused');
  const rekeyed = { id: rnd(ID_LENGTH), host: a.host, port: a.port };
  assert.equal(t.heard(rekeyed, 40).status, 'added');
  assert.equal(t.size, 1);
  assert.ok(t.get(a)?.id.equals(rekeyed.id));
});

/** A table whose far bucket (bucket 0, top bit 1 for own id 0) is full: returns the table and its 8 nodes. */
function fullFarBucket(rnd: (n: number) => Buffer, now: number): { t: RoutingTable; far: NodeContact[] } {
  const t = new RoutingTable(ZERO);
  const far: NodeContact[] = [];
  for (let i = 0; i < K; i++) {
    const n = node(idWithTopBit(1, rnd));
    far.push(n);
    t.heard(n, now);
  }
  t.heard(node(idWithTopBit(0, rnd)), now); // splits: bucket 0 = far nodes, bucket 1 = ours
  assert.equal(t.bucketCount, 2);
  return { t, far };
}

test('full bucket: the questionable node silent longest is named for a ping; none when all are good', () => {
  const rnd = seededBytes(4);
  const { t, far } = fullFarBucket(rnd, 0);
  const r1 = t.heard(node(idWithTopBit(1, rnd)), 1000);
  assert.deepEqual(r1, { status: 'full' }, 'every node answered within NODE_GOOD_MS: nothing to ping');
  const later = NODE_GOOD_MS + 5000;
  for (const [i, n] of far.entries()) if (i !== 3) t.heard(n, later - 100 + i);
  const r2 = t.heard(node(idWithTopBit(1, rnd)), later);
  assert.equal(r2.status, 'full');
  assert.ok(r2.status === 'full' && r2.ping?.host === far[3]?.host);
  assert.equal(t.stateOf(t.get(far[3] as NodeContact) as never, later), 'questionable');
});

test('failures: good node survives one timeout, is replaced by the freshest replacement when bad', () => {
  const rnd = seededBytes(5);
  const { t, far } = fullFarBucket(rnd, 0);
  const older = node(idWithTopBit(1, rnd));
  const fresher = node(idWithTopBit(1, rnd));
  t.heard(older, 100);
  t.heard(fresher, 200);
  assert.equal(t.replacementCount, 2);
  const victim = far[0] as NodeContact;
  t.failed(victim, 300);
  assert.ok(t.get(victim), 'one timeout of a good node: kept');
  assert.equal(t.stateOf(t.get(victim) as never, 300), 'questionable');
  t.failed(victim, 400);
  assert.equal(t.get(victim), undefined, 'bad: replaced');
  assert.ok(t.get(fresher), 'by the freshest replacement');
  assert.equal(t.get(older), undefined);
  assert.equal(t.replacementCount, 1);
  assert.equal(t.bucketRange(0)?.size, K);
});

test('failures: a questionable node (the ping the table asked for) is replaced at its first failure', () => {
  const rnd = seededBytes(6);
  const { t, far } = fullFarBucket(rnd, 0);
  const now = NODE_GOOD_MS + 1;
  const newcomer = node(idWithTopBit(1, rnd));
  const r = t.heard(newcomer, now);
  assert.ok(r.status === 'full' && r.ping);
  const ping = r.status === 'full' ? r.ping : undefined;
  assert.ok(ping && far.some((f) => f.host === ping.host));
  t.failed(ping, now + 5000);
  assert.equal(t.get(ping), undefined);
  assert.ok(t.get(newcomer), 'the newcomer took its place');
});

test('failures without a replacement: bad node excluded from closest, its slot goes to the next newcomer, removed after REMOVE_AFTER_FAILURES', () => {
  const rnd = seededBytes(7);
  const { t, far } = fullFarBucket(rnd, 0);
  const [a, b] = far as [NodeContact, NodeContact];
  t.failed(a, 10);
  t.failed(a, 20);
  assert.equal(t.stateOf(t.get(a) as never, 20), 'bad');
  assert.ok(!t.closest(a.id, 100).some((n) => n.host === a.host), 'bad: never returned by closest');
  assert.deepEqual(t.counts(20), { good: K, questionable: 0, bad: 1 });
  const newcomer = node(idWithTopBit(1, rnd));
  assert.equal(t.heard(newcomer, 30).status, 'added', 'takes the bad node\'s slot');
  assert.equal(t.get(a), undefined);
  for (let i = 0; i < REMOVE_AFTER_FAILURES - 1; i++) t.failed(b, 40 + i);
  assert.ok(t.get(b), 'kept while no replacement waits');
  t.failed(b, 100);
  assert.equal(t.get(b), undefined, 'removed at last');
  assert.equal(t.bucketRange(0)?.size, K - 1);
});

test('remove frees the slot for the freshest replacement; failures of replacements drop them', () => {
  const rnd = seededBytes(8);
  const { t, far } = fullFarBucket(rnd, 0);
  const r1 = node(idWithTopBit(1, rnd));
  const r2 = node(idWithTopBit(1, rnd));
  t.heard(r1, 1);
  t.heard(r2, 2);
  t.failed(r2, 3);
  t.failed(r2, 4);
  assert.equal(t.replacementCount, 1);
  t.remove(far[0] as NodeContact);
  assert.ok(t.get(r1));
  assert.equal(t.replacementCount, 0);
  assert.equal(t.bucketRange(0)?.size, K);
});

test('stale buckets: one random id in each stale bucket\'s range, then not again until BUCKET_REFRESH_MS', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH }), fc.integer({ min: 1, max: 1000 }), (own, seed) => {
    const ownId = Buffer.from(own);
    const rnd = seededBytes(seed);
    const t = new RoutingTable(ownId, { allowSameIp: true });
    for (let i = 0; i < 120; i++) t.heard({ id: rnd(ID_LENGTH), host: '10.0.0.1', port: 1 + i }, 0);
    // Closer nodes so that there are several buckets.
    for (let bits = 1; bits < 12; bits++) {
      const id = rnd(ID_LENGTH);
      for (let b = 0; b < bits; b++) {
        const m = 0x80 >> (b & 7);
        id[b >> 3] = ((id[b >> 3] ?? 0) & ~m) | ((ownId[b >> 3] ?? 0) & m);
      }
      t.heard({ id, host: '10.0.0.2', port: bits }, 0);
    }
    assert.deepEqual(t.staleBuckets(BUCKET_REFRESH_MS - 1, rnd), []);
    const ids = t.staleBuckets(BUCKET_REFRESH_MS, rnd);
    assert.equal(ids.length, t.bucketCount);
    const last = t.bucketCount - 1;
    ids.forEach((id, i) => {
      const cb = commonBits(ownId, id);
      if (i < last) assert.equal(cb, i, `bucket ${i}`);
      else assert.ok(cb >= last, `last bucket ${i}: ${cb}`);
    });
    assert.deepEqual(t.staleBuckets(BUCKET_REFRESH_MS + 1, rnd), [], 'counted as refreshed');
  }), { numRuns: 50 });
});

test('a fresh answer in a bucket keeps it from being stale', () => {
  const rnd = seededBytes(9);
  const t = new RoutingTable(ZERO);
  const a = node(idWithTopBit(1, rnd));
  t.heard(a, 0);
  t.heard(a, BUCKET_REFRESH_MS);
  assert.deepEqual(t.staleBuckets(BUCKET_REFRESH_MS + 10, rnd), []);
  assert.equal(t.staleBuckets(2 * BUCKET_REFRESH_MS, rnd).length, 1);
});

test('setOwnId re-buckets every node; all() lists good ones first, most recent first', () => {
  const rnd = seededBytes(10);
  const t = new RoutingTable(ZERO, { allowSameIp: true });
  const nodes: NodeContact[] = [];
  for (let i = 0; i < 60; i++) {
    const n = { id: rnd(ID_LENGTH), host: '10.0.0.1', port: 100 + i };
    nodes.push(n);
    t.heard(n, i);
  }
  const before = t.size + t.replacementCount;
  const newOwn = rnd(ID_LENGTH);
  t.setOwnId(newOwn);
  assert.ok(t.ownId.equals(newOwn));
  assert.ok(t.size + t.replacementCount <= before);
  assert.ok(t.size >= Math.min(before, 16), `size ${t.size}`);
  const last = t.bucketCount - 1;
  for (let i = 0; i <= last; i++) assert.ok((t.bucketRange(i)?.size ?? 99) <= K);
  const first = t.all()[0];
  assert.ok(first);
  t.failed(first, 100);
  const all = t.all();
  assert.equal(all[all.length - 1]?.host === first.host && all[all.length - 1]?.port === first.port, true, 'a failing node goes last');
  for (let i = 1; i < all.length - 1; i++) assert.ok((all[i - 1]?.lastResponse ?? 0) >= (all[i]?.lastResponse ?? 0));
});
