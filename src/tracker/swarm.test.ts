// Swarm behaviour: numwant caps, expiry with an injected clock, stopped, completed counts, never-return-self,
// same IP with different ports, open vs closed, the session's own entry, and a property test of the invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FAILURE_NOT_TRACKED, FAILURE_TOO_MANY_SWARMS, TrackerSwarms, type AnnounceRequest, type AnnounceResult,
  type TrackerOptions,
} from './swarm.js';
import { seededRng as seeded } from '../util/seeded-rng.js';

const IH = Buffer.alloc(20, 0xab);
const IH_HEX = IH.toString('hex');
const pid = (n: number): Buffer => Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`, 'latin1');

function req(over: Partial<AnnounceRequest> & { n?: number } = {}): AnnounceRequest {
  const n = over.n ?? 1;
  const r: AnnounceRequest = {
    infoHash: IH, peerId: pid(n), ip: '127.0.0.1', port: 6000 + n, uploaded: 0, downloaded: 0, left: 100,
    event: 'started', numwant: undefined, compact: true, noPeerId: false,
  };
  const { n: _n, ...rest } = over;
  return { ...r, ...rest };
}

function make(over: Partial<TrackerOptions> = {}): { s: TrackerSwarms; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const s = new TrackerSwarms({ now: () => clock.t, rng: seeded(7), isKnown: (h) => h === IH_HEX, ...over });
  return { s, clock };
}

function ok(r: AnnounceResult | { failure: string }): AnnounceResult {
  if ('failure' in r) assert.fail(`unexpected failure: ${r.failure}`);
  return r;
}

test('closed tracker refuses unknown info-hashes, serves known ones', () => {
  const { s } = make();
  assert.deepEqual(s.announce(req({ infoHash: Buffer.alloc(20, 1) })), { failure: FAILURE_NOT_TRACKED });
  const r = ok(s.announce(req()));
  assert.equal(r.interval, 120);
  assert.equal(r.minInterval, 30);
  assert.equal(r.incomplete, 1);
  assert.deepEqual(s.scrape([Buffer.alloc(20, 1)])[0], { infoHash: Buffer.alloc(20, 1), complete: 0, downloaded: 0, incomplete: 0 });
});

test('open tracker tracks any info-hash up to maxSwarms; known ones bypass the cap', () => {
  const { s } = make({ open: true, maxSwarms: 2 });
  ok(s.announce(req({ infoHash: Buffer.alloc(20, 1) })));
  ok(s.announce(req({ infoHash: Buffer.alloc(20, 2) })));
  assert.deepEqual(s.announce(req({ infoHash: Buffer.alloc(20, 3) })), { failure: FAILURE_TOO_MANY_SWARMS });
  ok(s.announce(req())); // known
  ok(s.announce(req({ infoHash: Buffer.alloc(20, 1), n: 2 }))); // existing swarm still served
  assert.deepEqual(s.stats(), { swarms: 3, peers: 4, unknownSwarms: 2 });
});

test('numwant: default 50, capped at 74, 0 gives none, negative-as-undefined handled by codecs', () => {
  const { s } = make();
  for (let i = 1; i <= 100; i++) ok(s.announce(req({ n: i })));
  const me = { n: 200 };
  assert.equal(ok(s.announce(req(me))).peers.length, 50);
  assert.equal(ok(s.announce(req({ ...me, numwant: 1000 }))).peers.length, 74);
  assert.equal(ok(s.announce(req({ ...me, numwant: 10 }))).peers.length, 10);
  assert.equal(ok(s.announce(req({ ...me, numwant: 0 }))).peers.length, 0);
  const r = ok(s.announce(req({ ...me, numwant: 74 })));
  assert.equal(new Set(r.peers.map((p) => `${p.ip}|${p.port}`)).size, 74, 'no duplicates');
});

test('eight peers on one IP are distinct and never get themselves back', () => {
  const { s } = make();
  for (let i = 1; i <= 8; i++) ok(s.announce(req({ n: i })));
  assert.equal(s.peerCount(IH_HEX), 8);
  for (let i = 1; i <= 8; i++) {
    const r = ok(s.announce(req({ n: i, event: '' })));
    assert.equal(r.peers.length, 7);
    assert.ok(r.peers.every((p) => p.port !== 6000 + i));
    assert.equal(r.incomplete, 8);
  }
  // A lone peer gets nobody.
  const { s: s2 } = make();
  assert.equal(ok(s2.announce(req())).peers.length, 0);
});

test('a peer carrying the requester\'s peer id is not returned either', () => {
  const { s } = make();
  ok(s.announce(req({ n: 1 })));
  const r = ok(s.announce(req({ n: 2, peerId: pid(1) })));
  assert.equal(r.peers.length, 0);
});

test('re-announce from the same (ip, port) with a new peer id replaces the entry', () => {
  const { s } = make();
  ok(s.announce(req({ n: 1, event: 'completed', left: 0 })));
  ok(s.announce(req({ n: 1, peerId: pid(99) })));
  assert.equal(s.peerCount(IH_HEX), 1);
  const r = ok(s.announce(req({ n: 2 })));
  assert.deepEqual(r.peers.map((p) => p.peerId), [pid(99)]);
  assert.equal(r.complete, 0, 'the replaced seed is gone; the new one is a leecher');
  assert.equal(r.incomplete, 2);
});

test('stopped removes the peer; seeds and leechers are counted; a leecher becoming a seed moves', () => {
  const { s } = make();
  ok(s.announce(req({ n: 1 })));
  ok(s.announce(req({ n: 2, left: 0 })));
  let r = ok(s.announce(req({ n: 3 })));
  assert.deepEqual([r.complete, r.incomplete], [1, 2]);
  r = ok(s.announce(req({ n: 1, left: 0, event: 'completed' })));
  assert.deepEqual([r.complete, r.incomplete], [2, 1]);
  r = ok(s.announce(req({ n: 2, event: 'stopped' })));
  assert.deepEqual([r.complete, r.incomplete, r.peers.length], [1, 1, 0]);
  assert.equal(s.peerCount(IH_HEX), 2);
  // Stopping an unknown peer is harmless.
  ok(s.announce(req({ n: 42, event: 'stopped' })));
  assert.equal(s.peerCount(IH_HEX), 2);
});

test('completed is counted once per peer and shows in scrape', () => {
  const { s } = make();
  ok(s.announce(req({ n: 1 })));
  ok(s.announce(req({ n: 1, left: 0, event: 'completed' })));
  ok(s.announce(req({ n: 1, left: 0, event: 'completed' })));
  ok(s.announce(req({ n: 2, left: 0, event: 'completed' })));
  assert.deepEqual(s.scrape([IH]), [{ infoHash: IH, complete: 2, downloaded: 2, incomplete: 0 }]);
});

test('expiry: a peer silent for 2x interval is dropped (by expire() and lazily by announce)', () => {
  const { s, clock } = make({ intervalSec: 100 });
  ok(s.announce(req({ n: 1 })));
  clock.t += 100_000;
  ok(s.announce(req({ n: 2 })));
  clock.t += 99_999; // peer 1 last seen 199.999 s ago
  s.expire();
  assert.equal(s.peerCount(IH_HEX), 2);
  clock.t += 1; // exactly 200 s: gone
  s.expire();
  assert.equal(s.peerCount(IH_HEX), 1);
  // Lazily: peer 2 is 200 s old at the next announce of peer 3 and must not be handed out.
  clock.t += 100_000;
  const r = ok(s.announce(req({ n: 3 })));
  assert.deepEqual(r.peers, []);
  assert.equal(r.incomplete, 1);
  // Re-announcing keeps a peer alive.
  for (let i = 0; i < 5; i++) { clock.t += 150_000; ok(s.announce(req({ n: 3 }))); }
  assert.equal(s.peerCount(IH_HEX), 1);
});

test('empty swarms of unknown info-hashes disappear; known ones keep their downloaded count', () => {
  const known = new Set([IH_HEX]);
  const { s, clock } = make({ open: true, isKnown: (h) => known.has(h) });
  const other = Buffer.alloc(20, 5);
  ok(s.announce(req({ infoHash: other })));
  ok(s.announce(req({ left: 0, event: 'completed' })));
  clock.t += 240_000;
  s.expire();
  assert.equal(s.stats().swarms, 1);
  assert.equal(s.scrape([IH])[0]!.downloaded, 1);
  known.clear();
  s.expire();
  assert.equal(s.stats().swarms, 0);
});

test('maxPeersPerSwarm: a newcomer beyond the cap still gets peers but is not stored', () => {
  const { s } = make({ maxPeersPerSwarm: 3 });
  for (let i = 1; i <= 3; i++) ok(s.announce(req({ n: i })));
  const r = ok(s.announce(req({ n: 4 })));
  assert.equal(r.peers.length, 3);
  assert.equal(s.peerCount(IH_HEX), 3);
  // A stored peer still re-announces fine.
  assert.equal(ok(s.announce(req({ n: 2 }))).peers.length, 2);
});

test('peers come in random order, every peer gets a fair share', () => {
  const { s } = make({ rng: seeded(12345) });
  for (let i = 1; i <= 20; i++) ok(s.announce(req({ n: i })));
  const counts = new Map<number, number>();
  const firsts = new Map<number, number>();
  for (let k = 0; k < 2000; k++) {
    const r = ok(s.announce(req({ n: 100, numwant: 5, event: '' })));
    for (const p of r.peers) counts.set(p.port, (counts.get(p.port) ?? 0) + 1);
    firsts.set(r.peers[0]!.port, (firsts.get(r.peers[0]!.port) ?? 0) + 1);
  }
  // Requester 100 is stored too, so 20 others: expected 2000 * 5 / 20 = 500 each.
  assert.equal(counts.size, 20);
  for (const c of counts.values()) assert.ok(c > 380 && c < 620, `count ${c}`);
  assert.ok(firsts.size >= 18, 'order varies');
});

test('setSelf: a leecher learns the session even though it never announced; counted as a seed', () => {
  const { s } = make();
  s.setSelf(IH_HEX, { port: 7000, peerId: pid(0), seed: true });
  // No ip configured: the request's local address is used.
  let r = ok(s.announce(req({ n: 1, localIp: '::ffff:127.0.0.1' })));
  assert.deepEqual(r.peers, [{ ip: '127.0.0.1', port: 7000, peerId: pid(0) }]);
  assert.deepEqual([r.complete, r.incomplete], [1, 1]);
  // Without a local address and no configured ip, no self entry can be given.
  r = ok(s.announce(req({ n: 1 })));
  assert.deepEqual(r.peers, []);
  // A configured ip wins; wildcard means "use the local address".
  s.setSelf(IH_HEX, { port: 7000, ip: '192.168.1.5', peerId: pid(0), seed: false });
  r = ok(s.announce(req({ n: 1, localIp: '127.0.0.1' })));
  assert.deepEqual(r.peers.map((p) => p.ip), ['192.168.1.5']);
  assert.deepEqual([r.complete, r.incomplete], [0, 2]);
  s.setSelf(IH_HEX, { port: 7000, ip: '0.0.0.0', peerId: pid(0), seed: true });
  r = ok(s.announce(req({ n: 1, localIp: '10.0.0.1' })));
  assert.deepEqual(r.peers.map((p) => p.ip), ['10.0.0.1']);
  // Self is always included even when many peers compete for numwant.
  for (let i = 2; i <= 60; i++) ok(s.announce(req({ n: i })));
  r = ok(s.announce(req({ n: 1, numwant: 3, localIp: '10.0.0.1' })));
  assert.equal(r.peers.length, 3);
  assert.ok(r.peers.some((p) => p.port === 7000));
  // Never to the session itself (same address, or same peer id).
  r = ok(s.announce(req({ n: 0, ip: '10.0.0.1', port: 7000, localIp: '10.0.0.1', numwant: 74 })));
  assert.ok(r.peers.every((p) => p.port !== 7000));
  // The session announcing to itself is not stored: it is listed (and counted) once, through setSelf.
  r = ok(s.announce(req({ n: 1, localIp: '10.0.0.1', numwant: 74 })));
  assert.equal(r.peers.filter((p) => p.port === 7000).length, 1);
  assert.equal(r.complete + r.incomplete, 61);
  r = ok(s.announce(req({ n: 77, peerId: pid(0), localIp: '10.0.0.1', numwant: 74 })));
  assert.ok(r.peers.every((p) => p.port !== 7000));
  s.setSelf(IH_HEX, null);
  r = ok(s.announce(req({ n: 1, localIp: '10.0.0.1', numwant: 74 })));
  assert.ok(r.peers.every((p) => p.port !== 7000));
  assert.equal(r.complete + r.incomplete, 60);
});

test('family filter: UDP IPv4 requests get IPv4 peers only, IPv6 ones IPv6 only', () => {
  const { s } = make();
  ok(s.announce(req({ n: 1, ip: '10.0.0.1' })));
  ok(s.announce(req({ n: 2, ip: '::ffff:10.0.0.2' }))); // normalised to IPv4
  ok(s.announce(req({ n: 3, ip: '2001:db8::3' })));
  const v4 = ok(s.announce(req({ n: 4, ip: '10.0.0.4', family: 4 })));
  assert.deepEqual(v4.peers.map((p) => p.ip).sort(), ['10.0.0.1', '10.0.0.2']);
  const v6 = ok(s.announce(req({ n: 5, ip: '2001:db8::5', family: 6 })));
  assert.deepEqual(v6.peers.map((p) => p.ip), ['2001:db8::3']);
  const both = ok(s.announce(req({ n: 6, ip: '10.0.0.6' })));
  assert.equal(both.peers.length, 5);
});

test('property: random announce sequences keep counts consistent and never hand out the requester', () => {
  const op = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    ipi: fc.integer({ min: 0, max: 2 }),
    pidv: fc.integer({ min: 0, max: 1 }),
    left: fc.constantFrom(0, 5),
    event: fc.constantFrom('started', 'completed', 'stopped', '') as fc.Arbitrary<AnnounceRequest['event']>,
    numwant: fc.option(fc.integer({ min: -1, max: 100 }), { nil: undefined }),
    dt: fc.integer({ min: 0, max: 150_000 }),
    self: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const { s, clock } = make({ maxPeersPerSwarm: 10 });
    const seen = new Map<string, { seed: boolean; at: number }>();
    let selfOn = false;
    for (const o of ops) {
      clock.t += o.dt;
      if (o.self !== selfOn && o.n === 1) {
        selfOn = o.self;
        s.setSelf(IH_HEX, selfOn ? { port: 9999, ip: '127.0.0.9', peerId: pid(999), seed: true } : null);
      }
      const ip = ['127.0.0.1', '127.0.0.2', '::1'][o.ipi]!;
      const r = ok(s.announce(req({ n: o.n, ip, peerId: pid(o.n * 10 + o.pidv), left: o.left, event: o.event,
        numwant: o.numwant === undefined || o.numwant < 0 ? undefined : o.numwant })));
      const key = `${ip}|${6000 + o.n}`;
      for (const [k, v] of seen) if (v.at <= clock.t - 240_000) seen.delete(k);
      if (o.event === 'stopped') seen.delete(key);
      else if (seen.has(key) || seen.size < 10) seen.set(key, { seed: o.left === 0, at: clock.t });
      assert.ok(r.peers.length <= Math.min(o.numwant === undefined || o.numwant < 0 ? 50 : o.numwant, 74));
      assert.ok(r.peers.every((p) => !(p.ip === ip && p.port === 6000 + o.n)));
      assert.equal(new Set(r.peers.map((p) => `${p.ip}|${p.port}`)).size, r.peers.length);
      const seeds: number = [...seen.values()].filter((v) => v.seed).length + (selfOn ? 1 : 0);
      assert.equal(r.complete, seeds);
      assert.equal(r.incomplete, seen.size - (seeds - (selfOn ? 1 : 0)));
      assert.equal(s.peerCount(IH_HEX), seen.size);
    }
  }), { numRuns: 200 });
});

test('a hybrid torrent\'s two names are one swarm: an announce for either gets peers of both (BEP 52)', () => {
  const V2 = Buffer.alloc(20, 0xcd); // the truncated v2 info-hash of the hybrid whose v1 hash is IH
  const { s } = make();
  // Before the alias the second name is unknown to a closed tracker.
  assert.deepEqual(s.announce(req({ infoHash: V2, n: 9 })), { failure: FAILURE_NOT_TRACKED });
  s.setAlias(V2.toString('hex'), IH_HEX);
  ok(s.announce(req({ n: 1 })));
  const r2 = ok(s.announce(req({ infoHash: V2, n: 2 })));
  assert.deepEqual(r2.peers.map((p) => p.port), [6001]);
  const r1 = ok(s.announce(req({ n: 1, event: '' })));
  assert.deepEqual(r1.peers.map((p) => p.port), [6002]);
  assert.equal(r1.incomplete, 2);
  // The same peer announcing under both names is one entry.
  ok(s.announce(req({ infoHash: V2, n: 1, event: '' })));
  assert.equal(s.peerCount(IH_HEX), 2);
  assert.equal(s.peerCount(V2.toString('hex')), 2);
  const [a, b] = s.scrape([IH, V2]);
  assert.equal(a!.incomplete, 2);
  assert.equal(b!.incomplete, 2);
  assert.deepEqual(b!.infoHash, V2);
  // The session's own entry registered under the v1 name is handed to v2 announcers.
  s.setSelf(IH_HEX, { ip: '10.0.0.1', port: 7000, peerId: pid(99), seed: true });
  assert.ok(ok(s.announce(req({ infoHash: V2, n: 3, numwant: 10 }))).peers.some((p) => p.port === 7000));
  // Removing the torrent removes its alias too.
  s.remove(IH_HEX);
  assert.equal(s.canonical(V2.toString('hex')), V2.toString('hex'));
  assert.deepEqual(s.announce(req({ infoHash: V2, n: 2 })), { failure: FAILURE_NOT_TRACKED });
});
