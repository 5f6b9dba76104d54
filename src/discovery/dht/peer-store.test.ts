import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededRng } from '../../util/seeded-rng.js';
import { PeerStore } from './peer-store.js';
import { MAX_VALUES_PER_REPLY, PEER_TTL_MS } from './types.js';
import type { NodeAddress } from './types.js';

const hash = (n: number): Buffer => Buffer.alloc(20, n);
const peer = (n: number): NodeAddress => ({ host: `10.0.${(n >> 8) & 255}.${n & 255}`, port: 6881 });

const rngOf = seededRng;

test('add and get; a second announce refreshes instead of duplicating', () => {
  const s = new PeerStore();
  s.add(hash(1), peer(1), 0);
  s.add(hash(1), peer(2), 0);
  s.add(hash(1), peer(1), 10);
  s.add(hash(2), peer(3), 0);
  assert.equal(s.torrentCount, 2);
  assert.equal(s.peerCount, 3);
  assert.deepEqual(s.get(hash(1), 20), [peer(2), peer(1)]);
  assert.deepEqual(s.get(hash(9), 20), []);
  s.add(hash(1), { host: '10.0.0.9', port: 0 }, 0);
  assert.equal(s.peerCount, 3, 'port 0 is not stored');
});

test('peers expire after the TTL; expire() drops them and empty torrents', () => {
  const s = new PeerStore();
  s.add(hash(1), peer(1), 0);
  s.add(hash(1), peer(2), 1000);
  assert.deepEqual(s.get(hash(1), PEER_TTL_MS - 1), [peer(1), peer(2)]);
  assert.deepEqual(s.get(hash(1), PEER_TTL_MS), [peer(2)]);
  s.expire(PEER_TTL_MS);
  assert.equal(s.peerCount, 1);
  s.expire(PEER_TTL_MS + 1000);
  assert.equal(s.peerCount, 0);
  assert.equal(s.torrentCount, 0);
});

test('a full torrent replaces its oldest peer', () => {
  const s = new PeerStore({ maxPeersPerTorrent: 3 });
  for (let i = 1; i <= 3; i++) s.add(hash(1), peer(i), i);
  s.add(hash(1), peer(1), 10); // peer 1 refreshed: peer 2 is now the oldest
  s.add(hash(1), peer(4), 11);
  assert.deepEqual(s.get(hash(1), 12), [peer(3), peer(1), peer(4)]);
  assert.equal(s.peerCount, 3);
});

test('a full store evicts the info-hash announced least recently', () => {
  const s = new PeerStore({ maxTorrents: 2 });
  s.add(hash(1), peer(1), 0);
  s.add(hash(1), peer(5), 0);
  s.add(hash(2), peer(2), 1);
  s.add(hash(1), peer(1), 2); // hash 1 announced again: hash 2 is the least recent
  s.add(hash(3), peer(3), 3);
  assert.equal(s.torrentCount, 2);
  assert.deepEqual(s.get(hash(2), 4), []);
  assert.equal(s.get(hash(1), 4).length, 2);
  assert.equal(s.peerCount, 3);
});

test('get returns at most max: a random subset with rng, the freshest without', () => {
  const s = new PeerStore();
  for (let i = 0; i < 300; i++) s.add(hash(1), peer(i), i);
  assert.equal(s.get(hash(1), 400).length, MAX_VALUES_PER_REPLY);
  assert.deepEqual(s.get(hash(1), 400, 3), [peer(297), peer(298), peer(299)]);
  const a = s.get(hash(1), 400, 50, rngOf(1));
  const b = s.get(hash(1), 400, 50, rngOf(2));
  assert.equal(a.length, 50);
  assert.equal(new Set(a.map((p) => p.host)).size, 50, 'no duplicates');
  assert.notDeepEqual(a, b);
  assert.deepEqual(s.get(hash(1), 400, 0), []);
  // rng returning 1 - epsilon or exactly 0 stays in range
  assert.equal(s.get(hash(1), 400, 10, () => 0.9999999999).length, 10);
  assert.equal(s.get(hash(1), 400, 10, () => 0).length, 10);
});

test('returned addresses are copies', () => {
  const s = new PeerStore();
  const p = { host: '10.0.0.1', port: 1 };
  s.add(hash(1), p, 0);
  p.port = 2;
  const got = s.get(hash(1), 0);
  assert.deepEqual(got, [{ host: '10.0.0.1', port: 1 }]);
});

test('property: bounded everywhere and counts agree', () => {
  const op = fc.record({ h: fc.integer({ min: 0, max: 9 }), p: fc.integer({ min: 0, max: 30 }), dt: fc.integer({ min: 0, max: 500 }), expire: fc.boolean() });
  fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
    const s = new PeerStore({ maxTorrents: 4, maxPeersPerTorrent: 5, ttlMs: 2000 });
    let now = 0;
    for (const o of ops) {
      now += o.dt;
      if (o.expire) s.expire(now); else s.add(hash(o.h), peer(o.p), now);
      assert.ok(s.torrentCount <= 4);
      let total = 0;
      for (let h = 0; h < 10; h++) {
        const n = s.get(hash(h), -Infinity, 1000).length; // -Infinity: every stored peer counts as live
        assert.ok(n <= 5);
        total += n;
      }
      assert.equal(total, s.peerCount);
    }
  }));
});
