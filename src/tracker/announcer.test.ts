// The announce schedule as a state machine: injected clock, fake HTTP and UDP transports settled by hand.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BtError } from '../util/errors.js';
import { Announcer } from './announcer.js';
import type { AnnouncerEvent, AnnouncerOptions } from './announcer.js';
import type { AnnounceParams, AnnounceResponse, TrackerPeer } from './client-common.js';

interface Call {
  url: string;
  params: AnnounceParams;
  signal: AbortSignal | undefined;
  resolve: (r: AnnounceResponse) => void;
  reject: (e: unknown) => void;
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function harness(extra: Partial<AnnouncerOptions> = {}) {
  let clock = 1_000_000;
  const calls: Call[] = [];
  const events: AnnouncerEvent[] = [];
  const peers: Array<{ peers: TrackerPeer[]; url: string }> = [];
  const record = (url: string, params: AnnounceParams, signal: AbortSignal | undefined): Promise<AnnounceResponse> =>
    new Promise((resolve, reject) => calls.push({ url, params, signal, resolve, reject }));
  const a = new Announcer({
    tiers: [['http://a/announce', 'udp://b:6969'], ['http://c/announce']],
    infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2), port: 6881, key: 42,
    stats: () => ({ uploaded: 10, downloaded: 20, left: 30 }),
    onPeers: (p, url) => peers.push({ peers: p, url }),
    onEvent: (e) => events.push(e),
    http: (url, params, opts) => record(url, params, opts?.signal),
    udp: { announce: (url, params, signal) => record(url, params, signal) },
    now: () => clock,
    rng: () => 0.99, // no shuffle: tiers stay in the given order
    ...extra,
  });
  return {
    a, calls, events, peers,
    get clock() { return clock; },
    /** Advances the clock and ticks. */
    advance(ms: number) { clock += ms; a.tick(clock); },
    last(): Call { return calls[calls.length - 1]!; },
    async ok(r: Partial<AnnounceResponse> = {}) { this.last().resolve({ interval: 900, peers: [], ...r }); await flush(); },
    async fail(msg = 'boom') { this.last().reject(new BtError('TRACKER', msg)); await flush(); },
  };
}

describe('Announcer', () => {
  it('announces started at once, then honours the interval with regular announces', async () => {
    const h = harness();
    h.a.start();
    assert.equal(h.calls.length, 1);
    assert.equal(h.last().url, 'http://a/announce');
    assert.equal(h.last().params.event, 'started');
    assert.deepEqual([h.last().params.uploaded, h.last().params.downloaded, h.last().params.left], [10, 20, 30]);
    assert.equal(h.last().params.numwant, 50);
    await h.ok({ interval: 900, peers: [{ host: '1.2.3.4', port: 5 }], complete: 3, incomplete: 4 });
    assert.deepEqual(h.peers, [{ peers: [{ host: '1.2.3.4', port: 5 }], url: 'http://a/announce' }]);
    assert.deepEqual(h.events, [{ type: 'announce', url: 'http://a/announce', event: 'started', peers: 1, interval: 900,
      complete: 3, incomplete: 4 }]);
    h.advance(899_000);
    assert.equal(h.calls.length, 1);
    h.advance(1_000);
    assert.equal(h.calls.length, 2);
    assert.equal(h.last().params.event, '');
  });

  it('clamps intervals to [minIntervalSec, maxIntervalSec]', async () => {
    const h = harness({ minIntervalSec: 30, maxIntervalSec: 3600 });
    h.a.start();
    await h.ok({ interval: 0 });
    assert.equal((h.events[0] as { interval: number }).interval, 30);
    h.advance(29_000);
    assert.equal(h.calls.length, 1);
    h.advance(1_000);
    assert.equal(h.calls.length, 2);
    await h.ok({ interval: 10_000_000 });
    h.advance(3_599_000);
    assert.equal(h.calls.length, 2);
    h.advance(1_000);
    assert.equal(h.calls.length, 3);
  });

  it('falls through to the next tracker at once, then the next tier, then backs off and repeats started', async () => {
    const h = harness();
    h.a.start();
    await h.fail('a is down');
    assert.equal(h.calls.length, 2);
    assert.equal(h.last().url, 'udp://b:6969');
    assert.equal(h.last().params.event, 'started');
    await h.fail('b is down');
    assert.equal(h.last().url, 'http://c/announce');
    await h.fail('c is down');
    assert.equal(h.calls.length, 3);
    assert.deepEqual(h.events.map((e) => e.type === 'error' ? e.message : ''), ['a is down', 'b is down', 'c is down']);
    // Round failed: 15 s, then 30 s.
    h.advance(14_000);
    assert.equal(h.calls.length, 3);
    h.advance(1_000);
    assert.equal(h.calls.length, 4);
    assert.equal(h.last().url, 'http://a/announce');
    assert.equal(h.last().params.event, 'started');
    await h.fail();
    await h.fail();
    await h.fail();
    h.advance(29_000);
    assert.equal(h.calls.length, 6);
    h.advance(1_000);
    assert.equal(h.calls.length, 7);
    assert.equal(h.a.status().failedRounds, 2);
    // b answers this time: started accepted, b moves to the front of its tier.
    await h.fail();
    await h.ok();
    assert.equal(h.a.trackers.tiers[0]![0], 'udp://b:6969');
    assert.equal(h.a.status().failedRounds, 0);
    h.advance(900_000);
    assert.equal(h.last().url, 'udp://b:6969');
    assert.equal(h.last().params.event, '');
  });

  it('tells each failure when the next try comes (retryInSec: 0 for the next tracker, else the backoff)', async () => {
    const h = harness({ tiers: [['http://a/announce'], ['http://c/announce']] });
    h.a.start();
    await h.fail('a is down');
    await h.fail('c is down');
    assert.deepEqual(h.events.map((e) => e.type === 'error' ? [e.url, e.retryInSec] : []),
      [['http://a/announce', 0], ['http://c/announce', 15]]);
    h.advance(15_000);
    await h.fail();
    await h.fail();
    assert.equal(h.events.length, 4);
    assert.deepEqual(h.events[3], { type: 'error', url: 'http://c/announce', message: 'boom', retryInSec: 30 });
  });

  it('caps the failure backoff', async () => {
    const h = harness({ tiers: [['http://a/announce']], retryBaseSec: 15, retryMaxSec: 60 });
    h.a.start();
    for (const wait of [15_000, 30_000, 60_000, 60_000]) {
      await h.fail();
      const n = h.calls.length;
      h.advance(wait - 1000);
      assert.equal(h.calls.length, n, `nothing before ${wait} ms`);
      h.advance(1000);
      assert.equal(h.calls.length, n + 1, `a retry at ${wait} ms`);
    }
  });

  it('sends started to a fall-back tracker that has not seen us', async () => {
    const h = harness({ tiers: [['http://a/announce', 'http://b/announce']] });
    h.a.start();
    await h.ok();
    h.advance(900_000);
    assert.equal(h.last().params.event, '');
    await h.fail();
    assert.equal(h.last().url, 'http://b/announce');
    assert.equal(h.last().params.event, 'started');
  });

  it('keeps one request in flight, and aborts one that runs past requestTimeoutMs', async () => {
    const h = harness({ requestTimeoutMs: 5000 });
    h.a.start();
    h.a.announceNow();
    h.a.completed();
    h.advance(1000);
    assert.equal(h.calls.length, 1);
    h.advance(4000);
    assert.equal(h.calls[0]!.signal?.aborted, true);
    h.calls[0]!.reject(h.calls[0]!.signal?.reason); // what a transport does when aborted
    await flush();
    assert.equal(h.calls.length, 2, 'moved on to the next tracker');
    assert.equal(h.last().url, 'udp://b:6969');
    assert.match((h.events[0] as { message: string }).message, /within 5000 ms/);
  });

  it('honours min interval for announceNow, but not for completed; completed is sent once', async () => {
    const h = harness();
    h.a.start();
    await h.ok({ interval: 1800, minInterval: 120 });
    h.advance(10_000);
    h.a.announceNow();
    assert.equal(h.calls.length, 1);
    h.advance(109_000);
    assert.equal(h.calls.length, 1);
    h.advance(1_000);
    assert.equal(h.calls.length, 2);
    await h.ok({ interval: 1800, minInterval: 120 });
    h.a.completed();
    assert.equal(h.calls.length, 3);
    assert.equal(h.last().params.event, 'completed');
    await h.ok();
    h.a.completed();
    h.advance(1000);
    assert.equal(h.calls.length, 3);
    h.advance(900_000);
    assert.equal(h.last().params.event, '');
  });

  it('sends completed after a started that was in flight when the download finished', async () => {
    const h = harness();
    h.a.start();
    h.a.completed();
    assert.equal(h.calls.length, 1);
    await h.ok();
    h.advance(1000);
    assert.equal(h.calls.length, 2);
    assert.equal(h.last().params.event, 'completed');
    await h.fail('oops');
    // The fall-back tracker has not seen us: started first, then completed.
    assert.equal(h.last().params.event, 'started');
    await h.ok();
    h.advance(1000);
    assert.equal(h.last().params.event, 'completed');
  });

  it('routes udp:// to the UDP client, reports warnings, and sends the tracker id back', async () => {
    const udpCalls: string[] = [];
    const h = harness();
    const h2 = harness({
      tiers: [['udp://b:6969']],
      udp: { announce: (url) => { udpCalls.push(url); return Promise.resolve({ interval: 60, peers: [], warning: 'slow down', trackerId: 'T1' }); } },
      http: () => Promise.reject(new Error('must not be called')),
    });
    h2.a.start();
    await flush();
    assert.deepEqual(udpCalls, ['udp://b:6969']);
    assert.deepEqual(h2.events.map((e) => e.type), ['announce', 'warning']);
    assert.equal((h2.events[1] as { message: string }).message, 'slow down');
    h.a.start();
    await h.ok({ trackerId: 'abc' });
    h.advance(900_000);
    assert.equal(h.last().params.trackerId, 'abc');
  });

  it('stops: aborts the request in flight, sends stopped to trackers that accepted us, and waits boundedly', async () => {
    const h = harness();
    h.a.start();
    await h.ok();
    h.advance(900_000); // a regular announce is in flight
    const inflight = h.last();
    const t0 = Date.now();
    const stopped = h.a.stop(50);
    assert.equal(inflight.signal?.aborted, true);
    assert.equal(h.calls.length, 3);
    assert.equal(h.last().url, 'http://a/announce');
    assert.equal(h.last().params.event, 'stopped');
    assert.equal(h.last().params.numwant, 0);
    const stopCall = h.last();
    await stopped; // the fake never answers
    assert.ok(Date.now() - t0 >= 40);
    assert.equal(stopCall.signal?.aborted, true);
    assert.equal(h.a.status().state, 'stopped');
    h.advance(10_000_000);
    assert.equal(h.calls.length, 3, 'nothing after stop');
    await h.a.stop(); // idempotent
  });

  it('stop resolves early when the trackers answer, and sends nothing if none accepted us', async () => {
    const h = harness();
    h.a.start();
    await h.ok();
    const p = h.a.stop(10_000);
    h.last().resolve({ interval: 900, peers: [] });
    const t0 = Date.now();
    await p;
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(h.events[h.events.length - 1]!.type, 'announce');
    const h2 = harness();
    h2.a.start();
    await h2.fail();
    await h2.a.stop(10_000);
    assert.equal(h2.calls.length, 2, 'no stopped to a tracker that never accepted us');
  });

  it('reports left-out URLs at start and survives throwing callbacks', async () => {
    const h = harness({
      tiers: [['ws://x/announce', 'http://a/announce']],
      onEvent: () => { throw new Error('ui bug'); },
      onPeers: () => { throw new Error('session bug'); },
    });
    assert.equal(h.a.trackers.rejected.length, 1);
    h.a.start();
    await h.ok({ peers: [{ host: '1.1.1.1', port: 1 }] });
    h.advance(900_000);
    assert.equal(h.calls.length, 2);
    const seen: AnnouncerEvent[] = [];
    const h2 = harness({ tiers: [['ws://x/announce']], announce: 'http://a/announce', onEvent: (e) => seen.push(e) });
    h2.a.start();
    assert.deepEqual(seen[0], { type: 'warning', url: 'ws://x/announce', message: 'tracker ignored: unsupported scheme ws:' });
    assert.equal(h2.last().url, 'http://a/announce');
  });

  it('does nothing without a usable tracker', () => {
    const h = harness({ tiers: [], announce: undefined });
    h.a.start();
    h.advance(1_000_000);
    assert.equal(h.calls.length, 0);
    assert.equal(h.a.status().nextAnnounceAt, Infinity);
  });

  it('a hybrid announces both names to each tracker, merges the answers, and fails only when both fail', async () => {
    const v2 = Buffer.alloc(20, 7);
    const h = harness({ infoHashV2: v2 });
    h.a.start();
    await flush();
    assert.equal(h.calls.length, 2);
    const [c1, c2] = h.calls;
    assert.equal(c1!.url, 'http://a/announce');
    assert.equal(c2!.url, 'http://a/announce');
    assert.deepEqual(c1!.params.infoHash, Buffer.alloc(20, 1));
    assert.deepEqual(c2!.params.infoHash, v2);
    assert.equal(c2!.params.event, 'started');
    assert.deepEqual([c2!.params.uploaded, c2!.params.downloaded, c2!.params.left], [10, 20, 30]);
    c1!.resolve({ interval: 900, peers: [{ host: '1.2.3.4', port: 5 }], complete: 1, incomplete: 2 });
    await flush();
    assert.equal(h.events.length, 0); // the pair is one request: it waits for both
    c2!.resolve({ interval: 600, peers: [{ host: '1.2.3.4', port: 5 }, { host: '5.6.7.8', port: 9 }], complete: 3, incomplete: 1 });
    await flush();
    await flush();
    assert.deepEqual(h.peers, [{ peers: [{ host: '1.2.3.4', port: 5 }, { host: '5.6.7.8', port: 9 }], url: 'http://a/announce' }]);
    assert.deepEqual(h.events, [{ type: 'announce', url: 'http://a/announce', event: 'started', peers: 2, interval: 600, complete: 3, incomplete: 2 }]);
    // Next round: the v2 announce fails, the v1 one succeeds: a success with a warning.
    h.advance(600_000);
    await flush();
    assert.equal(h.calls.length, 4);
    h.calls[2]!.resolve({ interval: 900, peers: [] });
    h.calls[3]!.reject(new BtError('TRACKER', 'unregistered torrent'));
    await flush();
    await flush();
    assert.deepEqual(h.events.slice(1), [{ type: 'announce', url: 'http://a/announce', event: '', peers: 0, interval: 900 },
      { type: 'warning', url: 'http://a/announce', message: 'v2 announce failed: unregistered torrent' }]);
    // Both fail: the next tracker is tried, as for any failure.
    h.advance(900_000);
    await flush();
    h.calls[4]!.reject(new BtError('TRACKER', 'x'));
    h.calls[5]!.reject(new BtError('TRACKER', 'y'));
    await flush();
    await flush();
    assert.equal(h.events[3]!.type, 'error');
    assert.equal(h.calls.length, 8);
    assert.equal(h.calls[6]!.url, 'udp://b:6969');
    assert.deepEqual(h.calls[7]!.params.infoHash, v2);
  });
});
