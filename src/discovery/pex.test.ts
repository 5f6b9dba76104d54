import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeUtPex, PexFlag, type DecodedPex } from '../wire/ext/ut-pex.js';
import { PexState } from './pex.js';

const MIN = 60_000;

function decoded(b: Buffer | null): DecodedPex {
  assert.ok(b !== null, 'expected a message');
  const r = decodeUtPex(b);
  if (!r.ok) assert.fail(r.message);
  return r.value;
}

const hosts = (ps: { host: string; port: number }[]): string[] => ps.map((p) => `${p.host}:${p.port}`).sort();

test('first message right after peerReady, then at most once a minute; added then dropped', () => {
  const s = new PexState();
  s.addConnected('10.0.0.1:6881', { host: '10.0.0.1', port: 6881, connectable: true });
  s.addConnected('10.0.0.2:6881', { host: '10.0.0.2', port: 6881, seed: true });
  s.addConnected('R', { host: '10.0.0.9', port: 7000 }); // the remote itself
  assert.equal(s.buildMessage('R', 0), null, 'not ready yet');
  s.peerReady('R');
  const m1 = decoded(s.buildMessage('R', 1000));
  assert.deepEqual(m1.added, [
    { host: '10.0.0.1', port: 6881, flags: PexFlag.REACHABLE },
    { host: '10.0.0.2', port: 6881, flags: PexFlag.SEED },
  ]);
  assert.deepEqual(m1.dropped, []);

  s.removeConnected('10.0.0.1:6881');
  s.addConnected('[2001:db8::5]:1', { host: '2001:db8::5', port: 1 });
  assert.equal(s.buildMessage('R', 1000 + MIN - 1), null, 'less than a minute later');
  const m2 = decoded(s.buildMessage('R', 1000 + MIN));
  assert.deepEqual(hosts(m2.added), ['2001:db8::5:1']);
  assert.deepEqual(hosts(m2.dropped), ['10.0.0.1:6881']);

  // Nothing changed: no message, and the clock is not reset by a null.
  assert.equal(s.buildMessage('R', 1000 + 2 * MIN), null);
  s.addConnected('x', { host: '10.0.0.3', port: 1 });
  assert.deepEqual(hosts(decoded(s.buildMessage('R', 1000 + 2 * MIN + 1)).added), ['10.0.0.3:1']);
});

test('the first message waits for something to say, then goes at once', () => {
  const s = new PexState();
  s.peerReady('R');
  assert.equal(s.buildMessage('R', 0), null);
  s.addConnected('a', { host: '1.1.1.1', port: 1 });
  assert.deepEqual(hosts(decoded(s.buildMessage('R', 5)).added), ['1.1.1.1:1']);
});

test('never tells a peer its own address, even under another key or spelling', () => {
  const s = new PexState();
  s.addConnected('R', { host: '::ffff:10.0.0.9', port: 7000 });
  s.addConnected('R-dup', { host: '10.0.0.9', port: 7000 }); // same listen address, another connection
  s.addConnected('o', { host: '10.0.0.8', port: 7000 });
  s.peerReady('R');
  const m = decoded(s.buildMessage('R', 0));
  assert.deepEqual(hosts(m.added), ['10.0.0.8:7000']);
  assert.equal(s.connectedCount, 2);
});

test('a peer that learns its listen port later (incoming + p) and was told before as someone else', () => {
  const s = new PexState();
  s.addConnected('a', { host: '10.0.0.1', port: 1 });
  s.peerReady('R');
  assert.deepEqual(hosts(decoded(s.buildMessage('R', 0)).added), ['10.0.0.1:1']);
  // R turns out to listen at 10.0.0.1:1 (e.g. a re-keyed connection): it is dropped from R's view.
  s.addConnected('R', { host: '10.0.0.1', port: 1 });
  const m = decoded(s.buildMessage('R', MIN));
  assert.deepEqual(hosts(m.dropped), ['10.0.0.1:1']);
  assert.deepEqual(m.added, []);
});

test('50 cap: the rest follows in later messages', () => {
  const s = new PexState();
  for (let i = 0; i < 120; i++) s.addConnected(`k${i}`, { host: `10.0.${i >> 8}.${i & 0xff}`, port: 6881 });
  s.peerReady('R');
  const sizes: number[] = [];
  let now = 0;
  for (let m = s.buildMessage('R', now); m !== null; m = s.buildMessage('R', (now += MIN))) sizes.push(decoded(m).added.length);
  assert.deepEqual(sizes, [50, 50, 20]);
  for (let i = 0; i < 120; i++) s.removeConnected(`k${i}`);
  const dropped: number[] = [];
  for (let m = s.buildMessage('R', (now += MIN)); m !== null; m = s.buildMessage('R', (now += MIN))) dropped.push(decoded(m).dropped.length);
  assert.deepEqual(dropped, [50, 50, 20]);
});

test('peerGone forgets what the peer was told; unknown addresses are refused', () => {
  const s = new PexState();
  s.addConnected('a', { host: '1.1.1.1', port: 1 });
  s.peerReady('R');
  assert.ok(s.buildMessage('R', 0));
  s.peerGone('R');
  assert.equal(s.buildMessage('R', MIN), null);
  s.peerReady('R');
  assert.deepEqual(hosts(decoded(s.buildMessage('R', 1)).added), ['1.1.1.1:1'], 'a fresh connection starts from scratch');
  assert.equal(s.addConnected('b', { host: 'peer.example', port: 1 }), false);
  assert.equal(s.addConnected('c', { host: '1.2.3.4', port: 0 }), false);
  assert.equal(s.connectedCount, 1);
});

test('inbound rate limit: 6 per minute per peer, the rest counted', () => {
  const s = new PexState();
  const got: boolean[] = [];
  for (let i = 0; i < 10; i++) got.push(s.acceptInbound('R', i * 1000));
  assert.deepEqual(got, [true, true, true, true, true, true, false, false, false, false]);
  assert.equal(s.inboundIgnored('R'), 4);
  assert.equal(s.acceptInbound('other', 0), true, 'per peer');
  assert.equal(s.acceptInbound('R', MIN - 1), false, 'the first one is still inside the window');
  assert.equal(s.acceptInbound('R', MIN), true, 'the first one left the window');
  assert.equal(s.inboundIgnored(), 5);
  s.peerGone('R');
  assert.equal(s.inboundIgnored('R'), 0);
});

test('property: after random changes, each remote converges to the connected set minus itself', () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant('add' as const), k: fc.nat(30), port: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ t: fc.constant('remove' as const), k: fc.nat(30) }),
    fc.record({ t: fc.constant('ready' as const), r: fc.nat(3) }),
    fc.record({ t: fc.constant('gone' as const), r: fc.nat(3) }),
    fc.record({ t: fc.constant('send' as const), r: fc.nat(3), dt: fc.integer({ min: 0, max: 2 * MIN }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
    const s = new PexState({ maxPerMessage: 5 });
    const connected = new Map<string, string>(); // key → addr
    const views = new Map<string, Set<string>>(); // remote → what it believes
    const remoteKey = (r: number): string => `k${r}`; // remotes are also connected peers k0..k3
    let now = 0;
    const send = (rk: string): void => {
      const m = s.buildMessage(rk, now);
      if (m === null) return;
      const d = decoded(m);
      const v = views.get(rk)!;
      assert.ok(d.added.length <= 5 && d.dropped.length <= 5);
      for (const p of d.dropped) assert.ok(v.delete(`${p.host}:${p.port}`), 'dropped only what was added');
      for (const p of d.added) {
        const a = `${p.host}:${p.port}`;
        assert.ok(!v.has(a), 'no repeat');
        assert.notEqual(a, connected.get(rk), 'never self');
        v.add(a);
      }
    };
    for (const o of ops) {
      if (o.t === 'add') {
        const host = `10.0.0.${o.k}`;
        s.addConnected(`k${o.k}`, { host, port: o.port });
        connected.set(`k${o.k}`, `${host}:${o.port}`);
      } else if (o.t === 'remove') {
        s.removeConnected(`k${o.k}`);
        connected.delete(`k${o.k}`);
      } else if (o.t === 'ready') {
        s.peerReady(remoteKey(o.r));
        if (!views.has(remoteKey(o.r))) views.set(remoteKey(o.r), new Set());
      } else if (o.t === 'gone') {
        s.peerGone(remoteKey(o.r));
        views.delete(remoteKey(o.r));
      } else {
        now += o.dt;
        if (views.has(remoteKey(o.r))) send(remoteKey(o.r));
      }
    }
    for (const [rk, v] of views) {
      for (let i = 0; i < 20; i++) { now += MIN; send(rk); }
      const want = new Set([...connected].filter(([k, a]) => k !== rk && a !== connected.get(rk)).map(([, a]) => a));
      assert.deepEqual([...v].sort(), [...want].sort(), `view of ${rk}`);
    }
  }), { numRuns: 200 });
});
